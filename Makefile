# auditstream — the two set-up commands on a fresh machine are `make run` and `make test`.
GO      ?= go
BIN     := bin/auditstream
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/auditstream/auditstream/cmd/auditstream/app.Version=$(VERSION)

.PHONY: help run build test test-unit kafka-up kafka-down bench fuzz lint validate clean generate dashboard

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

run: build ## the whole pipeline against the built-in simulators on an embedded broker (Ctrl-C to stop)
	@mkdir -p data
	./$(BIN) run --config configs/dev.yaml

build: ## build bin/auditstream
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/auditstream

test: ## unit + integration tests; starts (and stops) the servers they need: Kafka, secured Kafka, PostgreSQL, rsyslog, OpenSearch, Loki
	bash scripts/test.sh

test-unit: ## unit tests only (embedded broker, no servers)
	$(GO) test -count=1 -short ./...

kafka-up: ## start a real Kafka 4.x (KRaft) on 127.0.0.1:19092
	bash scripts/kafka.sh up

kafka-down: ## stop it and remove its data
	bash scripts/kafka.sh down

bench: ## measure (normalizer, Kafka ceiling, end to end, pollers) and write docs/benchmarks.md (~10 min)
	bash scripts/bench.sh

fuzz: ## run every fuzz test for FUZZTIME (default 20s) each
	bash scripts/fuzz.sh $${FUZZTIME:-20s}

lint: ## gofmt + go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

generate: ## regenerate the OCSF JSON Schema and Go types from the official OCSF 1.8.0 definitions (OCSF=<dir>)
	@test -n "$(OCSF)" || { echo "set OCSF to the official OCSF 1.8.0 definitions directory (make generate OCSF=...)" >&2; exit 1; }
	python3 schemas/gen/gen_ocsf_schema.py --ocsf "$(OCSF)" --classes 3002,6001,6003 --profiles cloud,host > schemas/ocsf-1.8.0-event.schema.json
	cd schemas/ocsf && OCSF="$(abspath $(OCSF))" go generate .

dashboard: ## regenerate deploy/grafana/auditstream.json from Go (deploy/grafana/gen, its own module: the Grafana Foundation SDK)
	cd deploy/grafana/gen && $(GO) run . > ../auditstream.json.tmp && mv ../auditstream.json.tmp ../auditstream.json

.PHONY: helm
helm: ## lint, render and schema-check the Helm chart deploy/helm/auditstream (deploy/helm/check, its own module: helm.sh/helm/v4)
	cd deploy/helm/check && $(GO) run . ../auditstream && $(GO) test -count=1 .

validate: build ## check configs/*.yaml and deploy/config/*.yaml
	@for f in configs/*.yaml deploy/config/*.yaml; do ./$(BIN) validate --config $$f || exit 1; done

clean: ## remove build output and local data
	rm -rf bin data
