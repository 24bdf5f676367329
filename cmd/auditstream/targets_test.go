package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/cmd/auditstream/ops"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers/targets"
)

func TestTargetsHelp(t *testing.T) {
	for _, sub := range []string{"ls", "add", "retire"} {
		var out, errb bytes.Buffer
		if code := run([]string{"targets", sub, "--help"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "Usage: auditstream targets "+sub) {
			t.Fatalf("targets %s --help: %d %s", sub, code, errb.String())
		}
		if sub != "ls" && !strings.Contains(errb.String(), "-dry-run") {
			t.Fatalf("targets %s has no --dry-run", sub)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"targets", "--help"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "retire") {
		t.Fatalf("targets --help: %d %s", code, errb.String())
	}
	if code := run([]string{"targets", "frob"}, &out, &errb); code != 2 {
		t.Fatalf("unknown subcommand exited %d", code)
	}
}

// add, ls, retire --dry-run, retire, against a real Kafka.
func TestIntegrationTargetsCommand(t *testing.T) {
	brokers := testkit.RealKafka(t)
	dir := t.TempDir()
	topic := "t.targets." + testkit.Unique()
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("kafka:\n  brokers: ["+strings.Join(brokers, ",")+"]\n  topics: {targets: "+topic+", partitions: 2}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	do := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(append(args, "--config", cfg), &out, &errb); code != 0 {
			t.Fatalf("%v exited %d: %s %s", args, code, out.String(), errb.String())
		}
		return out.String()
	}
	do("targets", "add", "--provider", "ionos", "--tenant", "31721060", "--entity", "31721060", "--name", "main contract", "--yes")
	do("targets", "add", "--provider", "ecgrid", "--tenant", "100", "--entity", "12345", "--yes")
	if out := do("targets", "ls"); !strings.Contains(out, "ionos/31721060/31721060  active") || !strings.Contains(out, "main contract") || !strings.Contains(out, "2 targets") {
		t.Fatalf("ls:\n%s", out)
	}
	if out := do("targets", "retire", "--provider", "ionos", "--tenant", "31721060", "--entity", "31721060", "--dry-run"); !strings.Contains(out, `"state":"retired"`) {
		t.Fatalf("dry run:\n%s", out)
	}
	if out := do("targets", "ls", "--provider", "ionos", "--json"); !strings.Contains(out, `"state":"active"`) {
		t.Fatalf("the dry run wrote: %s", out)
	}
	do("targets", "retire", "--provider", "ionos", "--tenant", "31721060", "--entity", "31721060", "--yes")
	out := do("targets", "ls", "--provider", "ionos", "--json")
	var v targets.Value
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &v); err != nil || v.State != targets.StateRetired || v.Name != "main contract" {
		t.Fatalf("after retire: %q (%v)", out, err)
	}
	var o, e bytes.Buffer
	if code := run([]string{"targets", "add", "--provider", "nope", "--entity", "x", "--config", cfg}, &o, &e); code != 2 || !strings.Contains(e.String(), "unknown provider") {
		t.Fatalf("unknown provider: %d %s", code, e.String())
	}
}

// TestTargetsReadsAndDryRunsCreateNoTopic: on a broker without the targets topic, ls and
// add/retire without --yes create nothing and are an error naming the topic; only a
// write (add --yes) creates it.
func TestTargetsReadsAndDryRunsCreateNoTopic(t *testing.T) {
	brokers := testkit.EmbeddedKafka(t) // no topics at all
	b := testkit.NewBus(t, brokers)
	bs := strings.Join(brokers, ",")
	exists := func() bool {
		t.Helper()
		ok, err := ops.TopicExists(testkit.Context(t, 30*time.Second), b, "auditstream.targets")
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	target := []string{"--provider", "ionos", "--tenant", "31721060", "--entity", "31721060", "--brokers", bs}
	for _, args := range [][]string{{"targets", "ls", "--brokers", bs}, append([]string{"targets", "add"}, target...),
		append([]string{"targets", "retire"}, target...), append([]string{"targets", "add", "--dry-run"}, target...)} {
		code, out, errb := cliCode(args...)
		if code != 1 || !strings.Contains(errb, "targets topic auditstream.targets does not exist") {
			t.Errorf("%v on a broker without the targets topic: %d %s %s", args[:2], code, out, errb)
		}
		if exists() {
			t.Fatalf("%v created the targets topic", args[:2])
		}
	}
	if code, out, errb := cliCode(append([]string{"targets", "add", "--yes"}, target...)...); code != 0 || !strings.Contains(out, "active") {
		t.Fatalf("add --yes: %d %s %s", code, out, errb)
	}
	if !exists() {
		t.Fatal("add --yes did not create the targets topic")
	}
	if code, out, errb := cliCode("targets", "ls", "--brokers", bs); code != 0 || !strings.Contains(out, "1 targets") {
		t.Fatalf("ls after add --yes: %d %s %s", code, out, errb)
	}
}
