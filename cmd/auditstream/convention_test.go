package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/cmd/auditstream/app"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
)

// repairTools are every repair command, with a subcommand where it has them.
var repairTools = [][]string{{"replay"}, {"dlq", "ls"}, {"dlq", "show"}, {"dlq", "retry"}, {"cursors", "ls"},
	{"cursors", "reset"}, {"targets", "ls"}, {"targets", "add"}, {"targets", "retire"}, {"status"}}

// TestRepairToolsShareOneConvention: every repair tool takes --config and --brokers, and
// every one that writes takes --yes.
func TestRepairToolsShareOneConvention(t *testing.T) {
	writes := map[string]bool{"replay": true, "dlq retry": true, "cursors reset": true, "targets add": true, "targets retire": true}
	for _, tool := range repairTools {
		var out, errb bytes.Buffer
		if code := run(append(append([]string{}, tool...), "--help"), &out, &errb); code != 0 {
			t.Fatalf("%v --help: exit %d", tool, code)
		}
		help := errb.String()
		name := strings.Join(tool, " ")
		if !strings.Contains(help, "-config") || !strings.Contains(help, "-brokers") {
			t.Errorf("%s has no --config or no --brokers:\n%s", name, help)
		}
		if strings.Contains(help, "\n  -yes") != writes[name] {
			t.Errorf("%s: --yes in its flags is %v, want %v", name, !writes[name], writes[name])
		}
	}
}

// embeddedWithTopics starts an embedded broker with the default topics (as `run` creates
// them) and returns its address.
func embeddedWithTopics(t *testing.T) []string {
	t.Helper()
	brokers := testkit.EmbeddedKafka(t)
	c, err := config.Parse(strings.NewReader("pollers: [{name: a, provider: ionos}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	createTopics(t, testkit.NewBus(t, brokers), c)
	return brokers
}

// cliCode runs the binary's run and returns its exit status and output.
func cliCode(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestRepairToolsOnABrokerWithoutConfig: with --brokers and no --config (the embedded
// broker of `auditstream run`), the tools work on the default topics; what writes is a
// dry run without --yes; acting on what does not exist is an error.
func TestRepairToolsOnABrokerWithoutConfig(t *testing.T) {
	brokers := strings.Join(embeddedWithTopics(t), ",")
	target := []string{"--provider", "ionos", "--tenant", "31721060", "--entity", "31721060", "--brokers", brokers}

	code, out, errb := cliCode(append([]string{"targets", "add"}, target...)...)
	if code != 0 || !strings.Contains(out, "dry run: would write") || !strings.Contains(out, "--yes") {
		t.Fatalf("add without --yes: %d %s %s", code, out, errb)
	}
	if code, out, _ := cliCode("targets", "ls", "--brokers", brokers); code != 0 || !strings.Contains(out, "0 targets") {
		t.Fatalf("the dry run wrote: %d %s", code, out)
	}
	if code, out, errb := cliCode(append([]string{"targets", "retire"}, target...)...); code != 1 || !strings.Contains(errb, "no target ionos/31721060/31721060") {
		t.Fatalf("retiring a target that does not exist: %d %s %s", code, out, errb)
	}
	if code, out, errb := cliCode(append([]string{"targets", "add", "--yes"}, target...)...); code != 0 || !strings.Contains(out, "active") {
		t.Fatalf("add --yes: %d %s %s", code, out, errb)
	}
	if code, out, _ := cliCode("targets", "ls", "--brokers", brokers); code != 0 || !strings.Contains(out, "1 targets") {
		t.Fatalf("add --yes did not write: %d %s", code, out)
	}
	if code, out, _ := cliCode(append([]string{"targets", "retire"}, target...)...); code != 0 || !strings.Contains(out, "dry run") {
		t.Fatalf("retire without --yes: %d %s", code, out)
	}
	if code, _, errb := cliCode(append([]string{"targets", "retire", "--yes", "--dry-run"}, target...)...); code != 2 || !strings.Contains(errb, "contradict") {
		t.Fatalf("--yes with --dry-run: %d %s", code, errb)
	}
	if code, _, errb := cliCode("dlq", "retry", "--brokers", brokers, "0:7", "--yes"); code != 1 || !strings.Contains(errb, "no dead letter 0:7") {
		t.Fatalf("retrying a dead letter that does not exist: %d %s", code, errb)
	}
	if code, _, errb := cliCode("cursors", "reset", "--brokers", brokers, "p/ionos/1/1", "--yes"); code != 1 || !strings.Contains(errb, "no cursor p/ionos/1/1") {
		t.Fatalf("deleting a cursor that does not exist: %d %s", code, errb)
	}
	if code, _, errb := cliCode("cursors", "reset", "--brokers", brokers, "--poller", "nobody"); code != 1 || !strings.Contains(errb, `no cursor on auditstream.checkpoints starts with "nobody/"`) {
		t.Fatalf("a --poller with no cursors: %d %s", code, errb)
	}
	if code, out, errb := cliCode("replay", "--brokers", brokers, "--provider", "ionos"); code != 0 || !strings.Contains(out, "dry run: nothing written") {
		t.Fatalf("replay without --yes: %d %s %s", code, out, errb)
	}
	// --brokers wins over a configuration's kafka.brokers, and takes its topic names (ls
	// creates no topic: the configuration's, not on this broker, is an error naming it).
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte("kafka:\n  brokers: [\"192.0.2.1:9092\"]\n  topics: {targets: other.targets}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errb := cliCode("targets", "ls", "--config", cfg, "--brokers", brokers); code != 1 || !strings.Contains(errb, "targets topic other.targets does not exist on ["+brokers+"]") {
		t.Fatalf("--brokers over a configuration: %d %s %s", code, out, errb)
	}
	// Without --brokers, nothing says where Kafka is.
	if code, _, errb := cliCode("dlq", "ls"); code != 2 || !strings.Contains(errb, "give --brokers") {
		t.Fatalf("no broker: %d %s", code, errb)
	}
	if code, _, errb := cliCode("dlq", "ls", "--brokers", "nohostport"); code != 2 || !strings.Contains(errb, "not host:port") {
		t.Fatalf("a bad --brokers: %d %s", code, errb)
	}
}

// TestRunPrintsTheRepairCommandLine: on the embedded broker, the banner of `run` prints
// the exact command line that reaches it, and that command line works.
func TestRunPrintsTheRepairCommandLine(t *testing.T) {
	brokers := embeddedWithTopics(t)
	c, err := config.Parse(strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	banner(&out, "configs/my dev.yaml", c, &app.App{Brokers: brokers}, app.Roles{})
	want := prog + " dlq ls --config 'configs/my dev.yaml' --brokers " + strings.Join(brokers, ",")
	if !strings.Contains(out.String(), "repair tools on this broker: "+want+"\n") {
		t.Fatalf("banner:\n%s\nwant %s", out.String(), want)
	}
	// The printed words, without the configuration (this test has none), reach the broker.
	if code, out, errb := cliCode("dlq", "ls", "--brokers", strings.Join(brokers, ",")); code != 0 || !strings.Contains(out, "0 dead letters") {
		t.Fatalf("dlq ls: %d %s %s", code, out, errb)
	}
}
