package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
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

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
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
	a, err := Start(context.Background(), c, Roles{Poll: true, Normalize: true, Sink: true, Sims: true}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a.Shutdown(ctx)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, "events.jsonl"))
		if strings.Count(string(b), "\n") >= 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no events after 60s (file has %d bytes)", len(b))
		}
		time.Sleep(200 * time.Millisecond)
	}
	base := "http://" + a.AdminAddr()
	if code, body := get(t, base+"/livez"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("livez %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 200 || !strings.Contains(body, "kafka: ok") || !strings.Contains(body, "sink:jsonl: ok") {
		t.Fatalf("readyz %d %q", code, body)
	}
	_, metrics := get(t, base+"/metrics")
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
	for _, want := range []string{"pollers[0].settings: field typo not found", "pollers[0].schedule:", "pollers[1].provider: unknown provider \"nosuch\"",
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
