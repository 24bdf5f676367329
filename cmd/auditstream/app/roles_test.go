package app

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
)

// The roles as separate processes (as in docker-compose.yml): a simulator process, a poll
// process, a normalize process and a sink process, sharing only a real Apache Kafka.
func TestIntegrationRolesAsSeparateProcesses(t *testing.T) {
	brokers := testkit.RealKafka(t)
	dir := t.TempDir()
	u := testkit.Unique()
	doc := fmt.Sprintf(`
admin: {listen: "127.0.0.1:0"}
kafka:
  brokers: [%q]
  topics: {raw_prefix: "r%[2]s.audit.raw.", events: "r%[2]s.events", dlq: "r%[2]s.dlq", checkpoints: "r%[2]s.checkpoints", targets: "r%[2]s.targets", partitions: 2}
targets: {group: "r%[2]s-pollers"}
simulators:
  - provider: ionos
    listen: 127.0.0.1:0
    settings: {token: t, contracts: ["1"], seed: 5, backfill: 300, max_events: 300}
normalizer: {group: "r%[2]s-normalizer", providers: [ionos]}
sinks:
  - {name: jsonl, type: file, group: "r%[2]s-sink", settings: {path: %q}}
`, strings.Join(brokers, ","), u, filepath.Join(dir, "events.jsonl"))
	load := func(extra string) *config.Root {
		c, err := config.Parse(strings.NewReader(doc + extra))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	start := func(c *config.Root, roles Roles) *App {
		a, err := Start(ctx, c, roles, testkit.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a.Shutdown(sctx)
		})
		return a
	}
	sim := start(load(""), Roles{Sims: true})
	simURL := sim.SimURLs["ionos"]
	poller := fmt.Sprintf(`pollers:
  - name: ionos-roles
    provider: ionos
    schedule: "@every 1s"
    settings: {base_url: %q, token: t, initial_lookback: 2h, lag: 1ms}
`, simURL)
	sink := start(load(poller), Roles{Sink: true})
	norm := start(load(poller), Roles{Normalize: true})
	poll := start(load(poller), Roles{Poll: true})

	deadline := time.Now().Add(90 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, "events.jsonl"))
		if n := strings.Count(string(b), "\n"); n == 300 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("%d of 300 events after 90s", n)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// Each process reports ready on its own admin port.
	for name, a := range map[string]*App{"sink": sink, "normalize": norm, "poll": poll} {
		resp, err := http.Get("http://" + a.AdminAddr() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s process /readyz = %d", name, resp.StatusCode)
		}
	}
}
