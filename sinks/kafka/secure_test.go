package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/internal/plugintest"
	"github.com/auditstream/auditstream/sinks/sinktest"
)

// openYAML opens a kafka sink from its settings block as written in the configuration.
func openYAML(t *testing.T, name, settings string, log *slog.Logger) sinks.Sink {
	t.Helper()
	return plugintest.Start(t, Plugin, name, settings, log)
}

func TestSecuritySettings(t *testing.T) {
	t.Setenv("AS_TEST_SINK_KAFKA_PW", "x")
	plugintest.CheckSettings(t, Plugin, map[string]string{
		"{brokers: [b:9093], topic: t, tls: {enabled: true}, sasl: {mechanism: scram-sha-256, username: u, password_env: AS_TEST_SINK_KAFKA_PW}}": "",
		"{brokers: [b:9093], topic: t, sasl: {mechanism: md5, username: u, password: x}}":                                                         `sinks[0].settings.sasl.mechanism: must be one of plain, scram-sha-256, scram-sha-512, got "md5"`,
		"{brokers: [b:9093], topic: t, sasl: {mechanism: plain, password: x}}":                                                                    "sinks[0].settings.sasl.username: is required",
		"{brokers: [b:9093], topic: t, sasl: {mechanism: plain, username: u}}":                                                                    "sinks[0].settings.sasl: set exactly one of password_file, password_env or password",
		"{brokers: [b:9093], topic: t, tls: {key_file: /k.pem}}":                                                                                  "sinks[0].settings.tls: cert_file and key_file go together",
	})
}

// The sink delivers to a cluster that wants TLS and SCRAM-SHA-512 (its own settings.tls
// and settings.sasl), and the records are there.
func TestIntegrationSecuredCluster(t *testing.T) {
	sk := testkit.SecureKafka(t)
	topic := "t.sinkkafka.secure." + testkit.Unique()
	s := openYAML(t, "secure", fmt.Sprintf(`
brokers: [%s]
topic: %s
partitions: 1
tls: {ca_file: %q}
sasl: {mechanism: scram-sha-512, username: %s, password_file: %q}
`, strings.Join(sk.Brokers, ", "), topic, sk.CAFile, sk.Username, sk.PasswordFile), testkit.Logger(t))
	evs := sinktest.Events("sec-", 5)
	if d, err := sinks.Deliver(context.Background(), s, evs); err != nil || d.Written != 5 {
		t.Fatalf("delivery %+v err %v", d, err)
	}
	bc := bus.Config{Brokers: sk.Brokers}
	if err := bc.Secure("kafka", config.KafkaTLS{TLS: config.TLS{CAFile: sk.CAFile}},
		config.SASL{Mechanism: "scram-sha-512", Username: sk.Username, PasswordFile: sk.PasswordFile}); err != nil {
		t.Fatal(err)
	}
	b, err := bus.New(bc, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := readAll(t, b, sk.Brokers, topic)
	if len(got) != len(evs) {
		t.Fatalf("%d records on the secured cluster, want %d", len(got), len(evs))
	}
	for i, m := range got {
		if string(m.Key) != evs[i].ID {
			t.Fatalf("record %d has key %q, want %s", i, m.Key, evs[i].ID)
		}
	}
}

// Refused credentials are fatal, name settings.sasl, and no password (inline, from a
// file or from the environment; the right one or the wrong one) appears in an error, a
// log line or the printed settings.
func TestIntegrationSecretsStayOutOfErrorsAndLogs(t *testing.T) {
	sk := testkit.SecureKafka(t)
	real := sk.Password(t)
	const wrong = "s3cr3t-kafka-wrong-password"
	wrongFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(wrongFile, []byte(wrong), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AS_TEST_SINK_KAFKA_PW", wrong)
	for _, pw := range []string{"password: " + wrong, "password_file: " + wrongFile, "password_env: AS_TEST_SINK_KAFKA_PW"} {
		t.Run(strings.SplitN(pw, ":", 2)[0], func(t *testing.T) {
			var logs testkit.LockedBuffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			// The good sink first: its logs must not show the right password either.
			good := openYAML(t, "good", fmt.Sprintf("brokers: [%s]\ntopic: t.sinkkafka.never\ntls: {ca_file: %q}\nsasl: {mechanism: plain, username: %s, password_file: %q}\n",
				strings.Join(sk.Brokers, ", "), sk.CAFile, sk.Username, sk.PasswordFile), log)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := good.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			s := openYAML(t, "bad", fmt.Sprintf("brokers: [%s]\ntopic: t.sinkkafka.never\ntls: {ca_file: %q}\nsasl: {mechanism: scram-sha-512, username: %s, %s}\n",
				strings.Join(sk.Brokers, ", "), sk.CAFile, sk.Username, pw), log)
			res := make([]sinks.ItemResult, 1)
			err := s.Write(ctx, sinktest.Events("bad-", 1), res)
			if !sinks.IsFatal(err) || !strings.Contains(err.Error(), "settings.sasl: the brokers refused user") {
				t.Fatalf("Write with a wrong password: %v, want a fatal error naming settings.sasl", err)
			}
			perr := s.Ping(ctx)
			if perr == nil {
				t.Fatal("Ping with a wrong password succeeded")
			}
			for _, out := range []string{err.Error(), perr.Error(), logs.String(), fmt.Sprintf("%+v %+v %#v", s.(*Sink).cfg, good.(*Sink).cfg, s.(*Sink).cfg)} {
				for _, sec := range []string{wrong, real} {
					if strings.Contains(out, sec) {
						t.Fatalf("a password appears in %q", strings.ReplaceAll(out, sec, "<SECRET>"))
					}
				}
			}
		})
	}
}
