package app

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/pollers"
)

// The summary reads the process's own registry: per provider polled, normalized and
// freshness (oldest cursor over its pollers); per sink delivered and its group's lag.
func TestProgressFromRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, "test")
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	m.RecordsPublished.WithLabelValues("ionos-a", "ionos").Add(100)
	m.RecordsPublished.WithLabelValues("ionos-b", "ionos").Add(20)
	m.CursorTimestamp.WithLabelValues("ionos-a", "ionos").Set(float64(now.Add(-3 * time.Second).Unix()))
	m.CursorTimestamp.WithLabelValues("ionos-b", "ionos").Set(float64(now.Add(-90 * time.Second).Unix()))
	m.NormalizedEvents.WithLabelValues("ionos", "ok").Add(118)
	m.NormalizedEvents.WithLabelValues("ionos", "dlq").Add(2)
	m.NormalizedEvents.WithLabelValues("ecgrid", "ok").Add(7)
	m.DLQRecords.WithLabelValues("normalize", "decode").Add(2)
	m.SinkEvents.WithLabelValues("jsonl", "written").Add(110)
	m.SinkEvents.WithLabelValues("jsonl", "duplicate").Add(5)
	m.ConsumerLag.WithLabelValues("auditstream-sink-jsonl", "audit.events.v1").Set(15)
	m.ConsumerLag.WithLabelValues("auditstream-normalizer", "audit.raw.ionos").Set(4)
	groups := map[string]string{"jsonl": "auditstream-sink-jsonl", "idle": "g-idle"}

	p, err := ReadProgress(reg, groups, now)
	if err != nil {
		t.Fatal(err)
	}
	want := "progress | ecgrid: normalized 7 | ionos: polled 120, normalized 118, fresh 1m30s | sink idle: delivered 0 | sink jsonl: delivered 110, lag 15 | dead letters 2"
	if got := p.Line(nil); got != want {
		t.Fatalf("line\n got: %s\nwant: %s", got, want)
	}
	m.RecordsPublished.WithLabelValues("ionos-a", "ionos").Add(30)
	m.SinkEvents.WithLabelValues("jsonl", "written").Add(40)
	p2, err := ReadProgress(reg, groups, now.Add(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want = "progress | ecgrid: normalized 7 (+0) | ionos: polled 150 (+30), normalized 118 (+0), fresh 1m40s | sink idle: delivered 0 (+0) | sink jsonl: delivered 150 (+40), lag 15 | dead letters 2"
	if got := p2.Line(&p); got != want {
		t.Fatalf("line with deltas\n got: %s\nwant: %s", got, want)
	}

	// For machines: one JSON log record with the same numbers.
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("progress", p.Attrs()...)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	ionos, _ := rec["provider_ionos"].(map[string]any)
	sink, _ := rec["sink_jsonl"].(map[string]any)
	if ionos["polled"] != 120.0 || ionos["freshness_seconds"] != 90.0 || sink["delivered"] != 110.0 || sink["lag"] != 15.0 || rec["dead_letters"] != 2.0 {
		t.Fatalf("json record: %s", buf.String())
	}
}

// A failing source stays on the line, with its failures in a row and the setting to
// check, even when it never polled anything; a degraded one says how many targets fail.
func TestProgressShowsFailingSources(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, "test")
	m.InitPoller("ionos-main", "ionos")
	m.InitPoller("ecgrid-main", "ecgrid")
	m.RecordsPublished.WithLabelValues("ecgrid-main", "ecgrid").Add(5)
	p, err := ReadProgress(reg, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p = p.WithSources([]pollers.SourceStatus{
		{Poller: "ecgrid-main", Provider: "ecgrid", State: pollers.StateDegraded, FailingTargets: 1,
			LastError: &pollers.ErrorInfo{Class: "timeout"}},
		{Poller: "ionos-main", Provider: "ionos", State: pollers.StateFailing, ConsecutiveFailures: 3,
			LastError: &pollers.ErrorInfo{Class: "401", Setting: "check settings.token"}},
	})
	want := "progress | ecgrid: degraded (1 target failing, timeout), polled 5 | ionos: failing 3× (401, check settings.token), polled 0 | dead letters 0"
	if got := p.Line(nil); got != want {
		t.Fatalf("line\n got: %s\nwant: %s", got, want)
	}
}
