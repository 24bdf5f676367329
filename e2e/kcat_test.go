package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers/ionos"
	"github.com/auditstream/auditstream/pollers/ionos/ionossim"
	"github.com/auditstream/auditstream/pollers/pollhttp"
	"github.com/auditstream/auditstream/pollers/window"
)

// A client we did not write (kcat, librdkafka) reads audit.events.v1 from the real broker
// and sees valid JSON values and the CloudEvents headers.
func TestIntegrationKcatReadsEvents(t *testing.T) {
	brokers := testkit.RealKafka(t)
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		testkit.Require(t, "kcat (Debian package kcat)")
	}
	sim := ionossim.New(ionossim.Config{Token: "k", Contracts: []string{"555"}, Seed: 9, Backfill: 40, MaxEvents: 40})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	p := New(t, brokers, ionos.Name)
	hc, _ := pollhttp.New(&http.Client{Timeout: 5 * time.Second}, ionos.Name, pollhttp.Config{}, p.Log, p.Metrics)
	cfg := ionos.Config{BaseURL: srv.URL + "/activitylog/v1", Token: config.Secret("k"), Window: window.Settings{InitialLookback: config.Duration(2 * time.Hour)}}
	cfg.SetDefaults()
	poller := p.StartPoller("kcat", ionos.Name, ionos.New("kcat", cfg, hc, p.Log, p.Metrics), time.Second)
	norm := p.StartNormalizer(ionos.Name)
	path := filepath.Join(t.TempDir(), "e.jsonl")
	sink := p.StartFileSink(path)
	WaitFor(t, time.Minute, "40 events", func() (bool, string) {
		ev, _ := ReadFile(t, path)
		return len(ev) == 40, ""
	})
	poller.Stop(t)
	norm.Stop(t)
	sink.Stop(t)

	out, err := exec.Command(kcat, "-b", strings.Join(brokers, ","), "-C", "-t", p.Events, "-e", "-q", "-J").Output()
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 40 {
		t.Fatalf("kcat read %d records, want >= 40", len(lines))
	}
	for _, l := range lines {
		var rec struct {
			Key     string   `json:"key"`
			Payload string   `json:"payload"`
			Headers []string `json:"headers"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("kcat output %q: %v", l, err)
		}
		h := map[string]string{}
		for i := 0; i+1 < len(rec.Headers); i += 2 {
			h[rec.Headers[i]] = rec.Headers[i+1]
		}
		var ev struct {
			ClassUID int `json:"class_uid"`
			Metadata struct {
				UID string `json:"uid"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal([]byte(rec.Payload), &ev); err != nil {
			t.Fatalf("payload is not JSON: %v", err)
		}
		if h["ce_specversion"] != "1.0" || h["ce_id"] != ev.Metadata.UID || h["ce_type"] != "io.auditstream.ocsf.6003" ||
			h["ce_source"] != "/auditstream/ionos/555" || h["content-type"] != "application/json" || h["ce_time"] == "" {
			t.Fatalf("headers %v for event %s", h, ev.Metadata.UID)
		}
		if _, err := time.Parse(time.RFC3339Nano, h["ce_time"]); err != nil {
			t.Fatalf("ce_time %q: %v", h["ce_time"], err)
		}
		if rec.Key != "ionos/555/555" {
			t.Fatalf("key %q", rec.Key)
		}
	}
}
