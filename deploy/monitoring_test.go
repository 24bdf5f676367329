// Tests of the monitoring files under deploy/: the alert rules (promtool), the metrics a
// running pipeline exposes (promtool check metrics), and the dashboard and alerts
// against a real Prometheus scraping a running pipeline.
package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/cmd/auditstream/app"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
)

func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		testkit.Require(t, name+" (Debian package prometheus)")
	}
	return p
}

func runTool(t *testing.T, stdin io.Reader, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool(t, name), args...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The alert rules are valid, and every alert has a unit test file that fires it and one
// that keeps it quiet, all passing.
func TestIntegrationPromtoolRules(t *testing.T) {
	runTool(t, nil, "promtool", "check", "rules", "prometheus/alerts.yml")
	tests, err := filepath.Glob("prometheus/tests/*.test.yml")
	if err != nil || len(tests) == 0 {
		t.Fatalf("no rule tests: %v", err)
	}
	runTool(t, nil, "promtool", append([]string{"test", "rules"}, tests...)...)
	rules, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	all := string(bytes.Join(readAll(t, tests), []byte("\n")))
	for _, line := range strings.Split(string(rules), "\n") {
		name, ok := strings.CutPrefix(strings.TrimSpace(line), "- alert: ")
		if !ok {
			continue
		}
		if !strings.Contains(all, "alertname: "+name+"\n        exp_alerts:\n          - exp_labels") {
			t.Errorf("alert %s: no test expects it to fire", name)
		}
		if !strings.Contains(all, "alertname: "+name+"\n        exp_alerts: []") {
			t.Errorf("alert %s: no test expects it to stay quiet", name)
		}
	}
}

func readAll(t *testing.T, paths []string) [][]byte {
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// pipeline is a running auditstream (pollers, normalizer, file sink on the embedded
// broker) whose simulators run in a separate App, so a test can stop them.
type pipeline struct {
	app, sims *app.App
	cfg       *config.Root
	dir       string
}

// pipelineProviders are the providers of configs/dev.yaml the monitoring test runs (the
// others would only add load).
var pipelineProviders = map[string]bool{"ionos": true, "ecgrid": true}

// startPipeline starts the pipeline of configs/dev.yaml; edits are old, new pairs of
// text replaced in the file first (each must occur).
func startPipeline(t *testing.T, edits ...string) *pipeline {
	t.Helper()
	raw, err := os.ReadFile("../configs/dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(string(raw), edits[i]) {
			t.Fatalf("configs/dev.yaml has no %q", edits[i])
		}
	}
	raw = []byte(strings.NewReplacer(edits...).Replace(string(raw)))
	dir := t.TempDir()
	dev := strings.NewReplacer("./data/", dir+"/", `"@every 5s"`, `"@every 1s"`, `"@every 10s"`, `"@every 1s"`).Replace(string(raw))
	orig, err := config.Parse(strings.NewReader(dev))
	if err != nil {
		t.Fatal(err)
	}
	// Simulators on free ports (never the fixed ones: other tests and `make run` use them).
	var toFree []string
	for _, sc := range orig.Simulators {
		toFree = append(toFree, sc.Listen, "127.0.0.1:0")
	}
	simCfg, err := config.Parse(strings.NewReader(strings.NewReplacer(append(toFree, "127.0.0.1:9464", "off")...).Replace(dev)))
	if err != nil {
		t.Fatal(err)
	}
	simCfg.Simulators = keep(simCfg.Simulators, func(sc config.SimConfig) string { return sc.Provider })
	log := testkit.Logger(t)
	ctx := context.Background()
	sims, err := app.Start(ctx, simCfg, app.Roles{Sims: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{sims: sims, dir: dir}
	t.Cleanup(func() { shutdown(p.sims) })
	// The pollers reach the simulators where they listen now.
	toSim := []string{"127.0.0.1:9464", "127.0.0.1:0"}
	for _, sc := range orig.Simulators {
		if u, ok := sims.SimURLs[sc.Provider]; ok {
			pu, err := url.Parse(u)
			if err != nil {
				t.Fatal(err)
			}
			toSim = append(toSim, sc.Listen, pu.Host)
		}
	}
	c, err := config.Parse(strings.NewReader(strings.NewReplacer(toSim...).Replace(dev)))
	if err != nil {
		t.Fatal(err)
	}
	c.Simulators = nil
	c.Pollers = keep(c.Pollers, func(pc config.PollerConfig) string { return pc.Provider })
	p.cfg = c
	a, err := app.Start(ctx, c, app.Roles{Poll: true, Normalize: true, Sink: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	p.app = a
	t.Cleanup(func() { shutdown(p.app) })
	return p
}

func keep[T any](in []T, provider func(T) string) []T {
	var out []T
	for _, v := range in {
		if pipelineProviders[provider(v)] {
			out = append(out, v)
		}
	}
	return out
}

func shutdown(a *app.App) {
	if a == nil {
		return
	}
	a.ShutdownWithin(30 * time.Second)
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	_, body := testkit.Get(t, "http://"+addr+"/metrics")
	return body
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		done, last := ok()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last: %s)", d, what, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// prometheus runs the Debian prometheus binary on a free loopback port, scraping target
// every second and evaluating rulesFile every second; extra is appended to its
// configuration (an alerting section).
type prometheusServer struct{ addr string }

func startPrometheus(t *testing.T, target, rulesFile string, extra ...string) *prometheusServer {
	t.Helper()
	bin := tool(t, "prometheus")
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: auditstream-test
    static_configs:
      - targets: [%q]
`, rulesFile, target) + strings.Join(extra, "")
	cfgPath := testkit.WriteFile(t, dir, "prometheus.yml", cfg)
	addr := freePort(t)
	startDaemon(t, "prometheus", addr, bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	return &prometheusServer{addr: addr}
}

type series struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
}

// query runs an instant PromQL query through the HTTP API.
func (s *prometheusServer) query(q string) ([]series, error) {
	resp, err := http.Get("http://" + s.addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string   `json:"resultType"`
			Result     []series `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", q, r.Error)
	}
	return r.Data.Result, nil
}

// testRules writes the real alert rules plus a stale threshold of 15 s for ionos (the
// rules take per-provider thresholds as auditstream:source_stale_threshold_seconds
// records; see alerts.yml), so a stopped simulator makes the alert pending in seconds.
func testRules(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	extra := `
  - name: test-thresholds
    rules:
      - record: auditstream:source_stale_threshold_seconds
        expr: vector(15)
        labels:
          provider: ionos
`
	p := testkit.WriteFile(t, t.TempDir(), "alerts.yml", string(b)+extra)
	runTool(t, nil, "promtool", "check", "rules", p)
	return p
}

type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// The Must-show: a real Prometheus scrapes a running pipeline with the real alert rules;
// promtool check metrics is clean on the scrape; per-provider freshness comes back
// through the HTTP API; every dashboard query returns series; stopping the simulators
// makes AuditstreamSourceStale go pending for ionos.
func TestIntegrationPrometheusScrapesPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	tool(t, "prometheus")
	tool(t, "promtool")
	p := startPipeline(t)
	admin := p.app.AdminAddr()

	// Some traffic through every stage, and one dead letter (the DLQ panel needs it).
	waitFor(t, "events written by the sink", 60*time.Second, func() (bool, string) {
		s := scrape(t, admin)
		return strings.Contains(s, `auditstream_sink_events_total{outcome="written",sink="jsonl"}`) &&
			!strings.Contains(s, `auditstream_sink_events_total{outcome="written",sink="jsonl"} 0`), "no sink writes yet"
	})
	b := testkit.NewBus(t, p.app.Brokers)
	testkit.Publish(t, context.Background(), b, p.cfg.RawTopic("ionos"), 1, func(int) (string, string) { return "ionos/x/y", "not an envelope" })
	waitFor(t, "the dead letter counted", 30*time.Second, func() (bool, string) {
		return strings.Contains(scrape(t, admin), `auditstream_dlq_records_total{reason="decode",stage="normalize"} 1`), "not yet"
	})
	if out := runTool(t, strings.NewReader(scrape(t, admin)), "promtool", "check", "metrics"); strings.TrimSpace(out) != "" {
		t.Fatalf("promtool check metrics: %s", out)
	}

	prom := startPrometheus(t, admin, testRules(t))
	var fresh []series
	waitFor(t, "per-provider freshness through the Prometheus API", 60*time.Second, func() (bool, string) {
		var err error
		fresh, err = prom.query("auditstream:source_freshness_seconds")
		if err != nil {
			return false, err.Error()
		}
		got := map[string]bool{}
		for _, s := range fresh {
			got[s.Metric["provider"]] = true
		}
		return got["ionos"] && got["ecgrid"], fmt.Sprint(fresh)
	})
	t.Logf("freshness: %v", fresh)

	// Every dashboard expression returns series ($__rate_interval is Grafana's: 15 s
	// covers several 1 s scrapes; the label variables take their "All" value, .*).
	raw, err := os.ReadFile("grafana/auditstream.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Panels) < 6 {
		t.Fatalf("dashboard has %d panels", len(d.Panels))
	}
	for _, panel := range d.Panels {
		for _, target := range panel.Targets {
			q := strings.NewReplacer("$__rate_interval", "15s", "$instance", ".*", "$provider", ".*", "$poller", ".*", "$sink", ".*").Replace(target.Expr)
			waitFor(t, fmt.Sprintf("panel %q query %s to return series", panel.Title, q), 60*time.Second, func() (bool, string) {
				r, err := prom.query(q)
				if err != nil {
					return false, err.Error()
				}
				return len(r) > 0, "no series"
			})
		}
	}

	const stale = `ALERTS{alertname="AuditstreamSourceStale",provider="ionos"}`
	const pending = `ALERTS{alertname="AuditstreamSourceStale",provider="ionos",alertstate="pending"}`
	if r, err := prom.query(stale); err != nil || len(r) != 0 {
		t.Fatalf("stale alert before the simulator stopped: %v %v", r, err)
	}
	shutdown(p.sims)
	p.sims = nil
	waitFor(t, "AuditstreamSourceStale pending for ionos", 90*time.Second, func() (bool, string) {
		r, err := prom.query(pending)
		if err != nil {
			return false, err.Error()
		}
		f, _ := prom.query(`auditstream:source_freshness_seconds{provider="ionos"}`)
		return len(r) == 1, fmt.Sprint("freshness ", f)
	})
}

// The configuration files of the compose services pass `auditstream validate`.
func TestDeployConfigsValidate(t *testing.T) {
	files, err := filepath.Glob("config/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no deploy/config/*.yaml: %v", err)
	}
	for _, f := range files {
		c, err := config.Load(f)
		if err == nil {
			err = app.Validate(c)
		}
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// The Must-show of per-source status: the IONOS poller's token is refused by its
// simulator (a revoked token) while ECGridOS works. /status and `auditstream status`
// show IONOS failing with the setting to check, /readyz says degraded (one source of
// two) and stays 200, the progress line names it, auditstream_source_up is 0 for it
// and 1 for ECGridOS, and AuditstreamSourceDown goes pending for it in a real
// Prometheus scraping the pipeline with the shipped rules.
func TestIntegrationSourceDownWhenCredentialsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	tool(t, "prometheus")
	tool(t, "promtool")
	// The poller's token (not the simulator's) is wrong: the simulator answers 401.
	p := startPipeline(t, "      token: ${IONOS_SIM_TOKEN:-dev-token}\n      overlap:", "      token: revoked-token\n      overlap:")
	admin := p.app.AdminAddr()

	// /status of the process.
	var st app.ProcessStatus
	waitFor(t, "/status to show ionos failing and ecgrid ok", 60*time.Second, func() (bool, string) {
		code, body := testkit.Get(t, "http://"+admin+"/status")
		if code != 200 {
			return false, fmt.Sprint(code, body)
		}
		st = app.ProcessStatus{}
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			return false, err.Error()
		}
		by := map[string]pollers.SourceStatus{}
		for _, s := range st.Sources {
			by[s.Provider] = s
		}
		io, ec := by["ionos"], by["ecgrid"]
		return io.State == pollers.StateFailing && io.ConsecutiveFailures >= 2 && io.LastError != nil &&
			io.LastError.Class == "401" && io.LastError.Setting == "check settings.token" &&
			ec.State == pollers.StateOK && !ec.LastSuccess.IsZero(), body
	})
	raw, _ := json.Marshal(st)
	if strings.Contains(string(raw), "dev-token") || strings.Contains(string(raw), "revoked-token") {
		t.Fatalf("/status shows a token: %s", raw)
	}

	// /readyz: one failing source among several is degraded, not unready.
	if code, body := testkit.Get(t, "http://"+admin+"/readyz"); code != 200 || !strings.Contains(body, "pollers: degraded: ionos-dev: failing") ||
		!strings.Contains(body, "check settings.token") {
		t.Fatalf("readyz %d %q", code, body)
	}

	// The metrics.
	waitFor(t, "auditstream_source_up 0 for ionos, 1 for ecgrid", 30*time.Second, func() (bool, string) {
		s := scrape(t, admin)
		return strings.Contains(s, `auditstream_source_up{poller="ionos-dev",provider="ionos"} 0`) &&
			strings.Contains(s, `auditstream_source_up{poller="ecgrid-dev",provider="ecgrid"} 1`), "not yet"
	})

	// The progress line, as the process prints it.
	ctx, cancel := context.WithCancel(context.Background())
	lines := make(chan string, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.app.ReportProgress(ctx, 200*time.Millisecond, func(pr app.Progress, prev *app.Progress) {
			select {
			case lines <- pr.Line(prev):
			default:
			}
		})
	}()
	var line string
	waitFor(t, "the progress line to show ionos failing", 30*time.Second, func() (bool, string) {
		select {
		case line = <-lines:
		case <-time.After(time.Second):
		}
		return strings.Contains(line, "ionos: failing ") && strings.Contains(line, "× (401, check settings.token)") &&
			strings.Contains(line, "ecgrid: polled"), line
	})
	cancel()
	<-done
	t.Logf("progress: %s", line)

	// `auditstream status`, the real binary, over Kafka.
	bin := filepath.Join(t.TempDir(), "auditstream")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/auditstream").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var table string
	waitFor(t, "auditstream status to show ionos failing", 60*time.Second, func() (bool, string) {
		out, err := exec.Command(bin, "status", "--brokers", strings.Join(p.app.Brokers, ",")).CombinedOutput()
		table = string(out)
		var ee *exec.ExitError
		failed := err != nil && errors.As(err, &ee) && ee.ExitCode() == 3
		ionos, ecgrid := rowOf(table, "ionos-dev"), rowOf(table, "ecgrid-dev")
		return failed && strings.Contains(ionos, "failing") && strings.Contains(ionos, "check settings.token") &&
			strings.Contains(ionos, "401") && strings.Contains(ecgrid, " ok "), table
	})
	t.Logf("auditstream status:\n%s", table)

	// The alert, in a real Prometheus.
	prom := startPrometheus(t, admin, testRules(t))
	const pending = `ALERTS{alertname="AuditstreamSourceDown",alertstate="pending"}`
	waitFor(t, "AuditstreamSourceDown pending for ionos only", 60*time.Second, func() (bool, string) {
		r, err := prom.query(pending)
		if err != nil {
			return false, err.Error()
		}
		return len(r) == 1 && r[0].Metric["provider"] == "ionos" && r[0].Metric["poller"] == "ionos-dev", fmt.Sprint(r)
	})
}

func rowOf(table, poller string) string {
	for _, l := range strings.Split(table, "\n") {
		if strings.Contains(l, " "+poller+" ") {
			return l
		}
	}
	return ""
}
