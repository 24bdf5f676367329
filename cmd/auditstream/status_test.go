package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/cmd/auditstream/app"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/pollhttp"
)

// `auditstream status` reads the latest report of every source of every poller process
// from the status topic: a failing source shows its failures, the setting to check and
// its last error (exit status 3); a process that stopped (tombstones) is gone.
func TestStatusCommand(t *testing.T) {
	brokers := embeddedWithTopics(t)
	addr := strings.Join(brokers, ",")
	if code, out, errb := cliCode("status", "--brokers", addr); code != 0 || !strings.Contains(out, "no poller process reports on auditstream.status") {
		t.Fatalf("empty topic: %d %s %s", code, out, errb)
	}
	c, _ := config.Parse(strings.NewReader("{}"))
	now := time.Now().UTC()
	failing := pollers.SourceStatus{Poller: "ionos-main", Provider: "ionos", State: pollers.StateFailing, ConsecutiveFailures: 3,
		LastError: pollers.ClassifyError(fmt.Errorf("list contracts: %w", &pollhttp.StatusError{Status: 401, Method: "GET", URL: "/contracts",
			Excerpt: "{}", Hint: "the credentials are refused: check settings.token"}), now)}
	fresh := 4.0
	ok := pollers.SourceStatus{Poller: "ecgrid-main", Provider: "ecgrid", State: pollers.StateOK, LastSuccess: now, FreshnessSeconds: &fresh}
	var msgs []kafka.Message
	for _, s := range []pollers.SourceStatus{failing, ok} {
		v, err := json.Marshal(app.SourceReport{Process: "poll-1/7", At: now, EverySeconds: 10, Source: s})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Topic: app.StatusTopic(c), Key: []byte("poll-1/7/" + s.Poller), Value: v})
	}
	b := testkit.NewBus(t, brokers)
	if err := b.Publish(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	code, out, errb := cliCode("status", "--brokers", addr)
	if code != 3 {
		t.Fatalf("a failing source: exit %d, want 3\n%s%s", code, out, errb)
	}
	for _, want := range []string{"PROVIDER", "ionos-main", "failing", "check settings.token", "401: list contracts: GET /contracts: HTTP 401", "ecgrid-main", "4s", "2 sources, 1 failing"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	// The process stops: its reports are deleted.
	if err := b.Publish(context.Background(), kafka.Message{Topic: app.StatusTopic(c), Key: []byte("poll-1/7/ionos-main")}); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := cliCode("status", "--brokers", addr); code != 0 || strings.Contains(out, "ionos-main") || !strings.Contains(out, "1 sources, 0 failing") {
		t.Fatalf("after the tombstone: %d\n%s", code, out)
	}
}
