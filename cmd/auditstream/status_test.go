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

// A process killed without deleting its reports (SIGKILL) leaves them on the status
// topic: once older than app.ReportsKeptFor they are left out of the table, of --json
// and of the exit status alike, so a failing source of a dead process does not make
// `auditstream status` exit 3 forever.
func TestStatusLeavesOutReportsOfGoneProcesses(t *testing.T) {
	brokers := embeddedWithTopics(t)
	addr := strings.Join(brokers, ",")
	c, _ := config.Parse(strings.NewReader("{}"))
	now := time.Now().UTC()
	long := now.Add(-app.ReportsKeptFor - time.Minute)
	report := func(process string, at time.Time, s pollers.SourceStatus) kafka.Message {
		v, err := json.Marshal(app.SourceReport{Process: process, At: at, EverySeconds: 10, Source: s})
		if err != nil {
			t.Fatal(err)
		}
		return kafka.Message{Topic: app.StatusTopic(c), Key: []byte(process + "/" + s.Poller), Value: v}
	}
	failing := pollers.SourceStatus{Poller: "ionos-main", Provider: "ionos", State: pollers.StateFailing, ConsecutiveFailures: 3,
		LastError: pollers.ClassifyError(fmt.Errorf("list contracts: %w", &pollhttp.StatusError{Status: 401, Method: "GET", URL: "/contracts",
			Excerpt: "{}", Hint: "the credentials are refused: check settings.token"}), long)}
	b := testkit.NewBus(t, brokers)
	// Only the killed process's report: nothing current.
	if err := b.Publish(context.Background(), report("killed/9", long, failing)); err != nil {
		t.Fatal(err)
	}
	if code, out, errb := cliCode("status", "--brokers", addr); code != 0 || !strings.Contains(out, "no poller process reports on auditstream.status (1 older than 1h0m0s left out") {
		t.Fatalf("only a gone process's failing report: exit %d\n%s%s", code, out, errb)
	}
	if code, out, errb := cliCode("status", "--json", "--brokers", addr); code != 0 || out != "" {
		t.Fatalf("--json, only a gone process's failing report: exit %d\n%q%s", code, out, errb)
	}
	// A running process reports the same source ok.
	ok := pollers.SourceStatus{Poller: "ionos-main", Provider: "ionos", State: pollers.StateOK, LastSuccess: now}
	if err := b.Publish(context.Background(), report("poll-2/7", now, ok)); err != nil {
		t.Fatal(err)
	}
	code, out, errb := cliCode("status", "--brokers", addr)
	if code != 0 || strings.Contains(out, "killed/9") || !strings.Contains(out, "poll-2/7") || !strings.Contains(out, "1 sources, 0 failing") {
		t.Fatalf("table: exit %d\n%s%s", code, out, errb)
	}
	code, out, errb = cliCode("status", "--json", "--brokers", addr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 1 || !strings.Contains(lines[0], `"process":"poll-2/7"`) {
		t.Fatalf("--json: exit %d\n%s%s", code, out, errb)
	}
	// A report just short of that age still counts: its process may only be cut off.
	if err := b.Publish(context.Background(), report("cut-off/3", now.Add(-app.ReportsKeptFor+time.Minute), failing)); err != nil {
		t.Fatal(err)
	}
	if code, out, errb := cliCode("status", "--json", "--brokers", addr); code != 3 || !strings.Contains(out, "cut-off/3") || strings.Contains(out, "killed/9") {
		t.Fatalf("a recent failing report: exit %d\n%s%s", code, out, errb)
	}
}
