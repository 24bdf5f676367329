package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
)

func loadDev(t *testing.T, dir string) *config.Root {
	t.Helper()
	b, err := os.ReadFile("../../../configs/dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("./data/", dir+"/", "127.0.0.1:9464", "127.0.0.1:0").Replace(string(b))
	c, err := config.Parse(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// start starts the roles of c, shut down (within 30 s) at the end of the test.
func start(t *testing.T, ctx context.Context, c *config.Root, roles Roles, log *slog.Logger) *App {
	t.Helper()
	a, err := Start(ctx, c, roles, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.ShutdownWithin(30 * time.Second) })
	return a
}

// The dev configuration (what `make run` runs) works end to end in one process, serves
// the admin endpoints, and shuts down cleanly.
func TestRunDevConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	dir := t.TempDir()
	c := loadDev(t, dir)
	var logs testkit.LockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	secrets := secretValues(c)
	if len(secrets) == 0 {
		t.Fatal("dev config has no secrets to check")
	}
	defer func() {
		for _, s := range secrets {
			if strings.Contains(logs.String(), s) {
				t.Errorf("a secret (%d chars) appears in the logs", len(s))
			}
		}
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	a := start(t, context.Background(), c, Roles{Poll: true, Normalize: true, Sink: true, Sims: true}, log)
	waitEvents(t, filepath.Join(dir, "events.jsonl"), 60*time.Second, func(n int) bool { return n >= 100 })
	base := "http://" + a.AdminAddr()
	if code, body := testkit.Get(t, base+"/livez"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("livez %d %q", code, body)
	}
	if code, body := testkit.Get(t, base+"/readyz"); code != 200 || !strings.Contains(body, "kafka: ok") || !strings.Contains(body, "sink:jsonl: ok") {
		t.Fatalf("readyz %d %q", code, body)
	}
	_, metrics := testkit.Get(t, base+"/metrics")
	for _, name := range []string{"auditstream_poll_requests_total", "auditstream_poll_duration_seconds", "auditstream_provider_http_requests_total",
		"auditstream_records_published_total", "auditstream_cursor_timestamp_seconds", "auditstream_event_delay_seconds",
		"auditstream_normalized_events_total", "auditstream_sink_events_total", "auditstream_sink_batch_duration_seconds",
		"auditstream_consumer_lag", "auditstream_build_info", "auditstream_checkpoint_writes_total", "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	for _, s := range secrets {
		if strings.Contains(metrics, s) {
			t.Fatal("a secret is in /metrics")
		}
	}
}

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
	ctx, log := context.Background(), testkit.Logger(t)
	sim := start(t, ctx, load(""), Roles{Sims: true}, log)
	simURL := sim.SimURLs["ionos"]
	poller := fmt.Sprintf(`pollers:
  - name: ionos-roles
    provider: ionos
    schedule: "@every 1s"
    settings: {base_url: %q, token: t, initial_lookback: 2h, lag: 1ms}
`, simURL)
	sink := start(t, ctx, load(poller), Roles{Sink: true}, log)
	norm := start(t, ctx, load(poller), Roles{Normalize: true}, log)
	poll := start(t, ctx, load(poller), Roles{Poll: true}, log)

	waitEvents(t, filepath.Join(dir, "events.jsonl"), 90*time.Second, func(n int) bool { return n == 300 })
	// Each process reports ready on its own admin port.
	for name, a := range map[string]*App{"sink": sink, "normalize": norm, "poll": poll} {
		if code, _ := testkit.Get(t, "http://"+a.AdminAddr()+"/readyz"); code != 200 {
			t.Errorf("%s process /readyz = %d", name, code)
		}
	}
}

// waitEvents waits up to d until the number of lines (events) in the file at path is done.
func waitEvents(t *testing.T, path string, d time.Duration, done func(n int) bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		b, _ := os.ReadFile(path)
		n := strings.Count(string(b), "\n")
		if done(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events in %s after %s", n, path, d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestValidateListsProviderProblems(t *testing.T) {
	c, err := config.Parse(strings.NewReader(`
pollers:
  - name: a
    provider: ionos
    schedule: "not a schedule"
    settings: {base_url: "ftp://x", page_size: 0, typo: 1}
  - name: b
    provider: nosuch
sinks:
  - {name: f, type: file, settings: {}}
  - {name: g, type: nosuch}
simulators:
  - {provider: ionos, listen: "nohost", settings: {rate: -1}}
`))
	if err != nil {
		t.Fatal(err)
	}
	err = Validate(c)
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"pollers[0].settings.typo: unknown key", "pollers[0].schedule:", "pollers[1].provider: unknown provider \"nosuch\"",
		"sinks[0].settings.path: is required", "sinks[1].type: unknown sink type", "simulators[0].listen:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	c2, _ := config.Parse(strings.NewReader(`
pollers:
  - name: a
    provider: ionos
    settings: {base_url: "ftp://x", page_size: -5}
`))
	err = Validate(c2)
	for _, want := range []string{"pollers[0].settings.base_url:", "pollers[0].settings: set token", "pollers[0].settings.page_size:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
}

func TestShippedConfigsAreValid(t *testing.T) {
	files, _ := filepath.Glob("../../../configs/*.yaml")
	if len(files) == 0 {
		t.Fatal("no configs")
	}
	for _, f := range files {
		c, err := config.Load(f)
		if err == nil {
			err = Validate(c)
		}
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// secretValues collects the values of secret-looking keys in every settings block.
func secretValues(c *config.Root) []string {
	var out []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i].Value, n.Content[i+1]
				switch k {
				case "token", "password", "api_key", "client_secret", "secret":
					if v.Kind == yaml.ScalarNode && v.Value != "" {
						out = append(out, v.Value)
					}
				}
				walk(v)
			}
		}
		for _, ch := range n.Content {
			if n.Kind != yaml.MappingNode {
				walk(ch)
			}
		}
	}
	for i := range c.Pollers {
		walk(&c.Pollers[i].Settings)
	}
	for i := range c.Simulators {
		walk(&c.Simulators[i].Settings)
	}
	if p := c.Kafka.SASL.Password.Reveal(); p != "" {
		out = append(out, p)
	}
	return out
}

func TestValidateSinkTypes(t *testing.T) {
	c, err := config.Parse(strings.NewReader(`
sinks:
  - {name: pg, type: postgres, max_batch_bytes: -1, settings: {dsn: "postgres://u:p@db/x", partition: week}}
  - {name: hook, type: webhook, linger: 5ms, settings: {url: "https://r.example/h", secret: "0123456789abcdef0123"}}
  - {name: k, type: kafka, settings: {brokers: ["k:9092"], topic: out, format: xml}}
  - {name: f, type: file, settings: {path: /tmp/x.jsonl, rotate_every: 24h}}
`))
	if err != nil {
		t.Fatal(err)
	}
	err = Validate(c)
	for _, want := range []string{"sinks[0].max_batch_bytes:", "sinks[0].settings.partition:", "sinks[2].settings.format:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	for _, not := range []string{"sinks[1]", "sinks[3]"} {
		if err != nil && strings.Contains(err.Error(), not) {
			t.Errorf("problems mention the valid %s:\n%v", not, err)
		}
	}
}

// The status topic is compacted and deleted after StatusRetention: the reports of a
// process killed before it deleted them do not stay on it for ever.
func TestStatusTopicSpec(t *testing.T) {
	c, err := config.Parse(strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range TopicSpecs(c, nil) {
		if s.Name != StatusTopic(c) {
			continue
		}
		if s.Configs["cleanup.policy"] != "compact,delete" || s.Configs["retention.ms"] != "86400000" || s.Partitions != 1 {
			t.Fatalf("status topic %+v", s)
		}
		return
	}
	t.Fatal("no status topic spec")
}
