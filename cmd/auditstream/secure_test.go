package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/cmd/auditstream/app"
	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/testkit"
)

// The repair tools reach a cluster that wants TLS and SASL with the kafka.tls and
// kafka.sasl of the configuration: the checkpoint store (a compacted-topic reader) and
// topic creation run through them too. A wrong password ends the tool at once with an
// error naming kafka.sasl.
func TestIntegrationRepairToolsOverTLSAndSASL(t *testing.T) {
	sk := testkit.SecureKafka(t)
	dir := t.TempDir()
	u := testkit.Unique()
	write := func(name, sasl string) string {
		return testkit.WriteFile(t, dir, name, fmt.Sprintf(`log: {level: warn}
admin: {listen: "off"}
kafka:
  brokers: [%s]
  topics: {raw_prefix: "t.sec.%[2]s.raw.", events: "t.sec.%[2]s.events", dlq: "t.sec.%[2]s.dlq", checkpoints: "t.sec.%[2]s.cp", targets: "t.sec.%[2]s.targets", partitions: 1}
  tls: {ca_file: %[3]q}
  sasl: %[4]s
normalizer: {providers: [ionos]}
sinks:
  - {name: jsonl, type: file, settings: {path: %[5]q}}
`, strings.Join(sk.Brokers, ","), u, sk.CAFile, sasl, filepath.Join(dir, "events.jsonl")))
	}
	path := write("good.yaml", fmt.Sprintf("{mechanism: scram-sha-512, username: %s, password_file: %q}", sk.Username, sk.PasswordFile))
	c := loadConfig(t, path)
	bc, err := app.BusConfig(c, c.Kafka.Brokers, "auditstream-test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.New(bc, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	createTopics(t, b, c)
	ctx := testkit.Context(t, time.Minute)
	if err := openStore(t, ctx, b, c).Save(ctx, "ionos-a/ionos/1/1", json.RawMessage(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	out, _ := cli(t, "cursors", "ls", "--config", path)
	if !strings.Contains(out, "1 cursors") || !strings.Contains(out, "ionos-a/ionos/1/1\t{\"v\":1}") {
		t.Fatalf("cursors ls over SASL_SSL:\n%s", out)
	}

	const wrong = "wrong-cli-password-5e0"
	t.Setenv("AS_TEST_CLI_KAFKA_PW", wrong)
	bad := write("bad.yaml", fmt.Sprintf("{mechanism: scram-sha-256, username: %s, password_env: AS_TEST_CLI_KAFKA_PW}", sk.Username))
	var stdout, stderr bytes.Buffer
	start := time.Now()
	if code := run([]string{"cursors", "ls", "--config", bad}, &stdout, &stderr); code == 0 {
		t.Fatalf("cursors ls with a wrong password exited 0:\n%s", stdout.String())
	}
	msg := stderr.String()
	if !strings.Contains(msg, `kafka.sasl: the brokers refused user "`+sk.Username+`" with SCRAM-SHA-256`) {
		t.Fatalf("stderr does not name kafka.sasl:\n%s", msg)
	}
	if strings.Contains(msg+stdout.String(), wrong) || strings.Contains(msg+stdout.String(), sk.Password(t)) {
		t.Fatal("a password was printed")
	}
	t.Logf("after %s: %s", time.Since(start).Round(time.Millisecond), msg)
}
