// Package testkit holds test helpers shared by the packages' tests: brokers, loggers.
package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/bus"
)

// EnvBrokers is the variable the Makefile sets after `make kafka-up`.
const EnvBrokers = "AUDITSTREAM_KAFKA_BROKERS"

// RealKafka returns the brokers of a real Apache Kafka for an integration test. Without
// AUDITSTREAM_KAFKA_BROKERS the test is skipped with a clear message locally and fails in CI.
func RealKafka(t testing.TB) []string {
	t.Helper()
	brokers := KafkaBrokers()
	if brokers == nil {
		Require(t, "a real Apache Kafka broker ("+EnvBrokers+" unset; run `make kafka-up` or `make test`)")
	}
	return brokers
}

// Require skips (locally) or fails (CI=true) a test that needs a server that is absent.
func Require(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("integration test needs %s, and CI=true: a missing server is a failure", what)
	}
	t.Skipf("skipping: needs %s", what)
}

// EmbeddedKafka starts an in-process broker for the test and returns its address.
func EmbeddedKafka(t testing.TB) []string {
	t.Helper()
	e, err := bus.StartEmbedded(Logger(t), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e.Addrs()
}

// NewBus returns a Bus on brokers, closed at the end of the test.
func NewBus(t testing.TB, brokers []string) *bus.Bus {
	t.Helper()
	b, err := bus.New(bus.Config{Brokers: brokers, ClientID: "auditstream-test"}, Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("kafka at %v not reachable: %v", brokers, err)
	}
	return b
}

// Unique returns a short random suffix for topic and group names, so that tests sharing
// one real broker never see each other's data.
func Unique() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Logger returns a slog logger that writes into the test log (only shown on failure or -v),
// or discards when AUDITSTREAM_TEST_QUIET is set.
func Logger(t testing.TB) *slog.Logger {
	if os.Getenv("AUDITSTREAM_TEST_QUIET") != "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// The variables scripts/test.sh sets for the secured broker (scripts/kafka.sh with
// KAFKA_SECURITY=sasl_ssl): a SASL_SSL listener taking PLAIN, SCRAM-SHA-256 and
// SCRAM-SHA-512 for one user, with a certificate of a throwaway CA.
const (
	EnvSecureBrokers      = "AUDITSTREAM_KAFKA_SECURE_BROKERS"
	EnvSecureCAFile       = "AUDITSTREAM_KAFKA_SECURE_CA_FILE"
	EnvSecureUsername     = "AUDITSTREAM_KAFKA_SECURE_USERNAME"
	EnvSecurePasswordFile = "AUDITSTREAM_KAFKA_SECURE_PASSWORD_FILE"
)

// SecureBroker is how to reach the secured test broker.
type SecureBroker struct {
	Brokers      []string
	CAFile       string
	Username     string
	PasswordFile string
}

// Password reads the password (for tests that must check it is never printed).
func (s SecureBroker) Password(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(s.PasswordFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(string(b), "\r\n")
}

// SecureKafka returns the secured broker for an integration test; like RealKafka it
// skips locally and fails under CI=true when the variables are unset.
func SecureKafka(t testing.TB) SecureBroker {
	t.Helper()
	s := SecureBroker{
		CAFile:       os.Getenv(EnvSecureCAFile),
		Username:     os.Getenv(EnvSecureUsername),
		PasswordFile: os.Getenv(EnvSecurePasswordFile),
	}
	v := strings.TrimSpace(os.Getenv(EnvSecureBrokers))
	if v == "" || s.CAFile == "" || s.Username == "" || s.PasswordFile == "" {
		Require(t, "a real Kafka broker with a SASL_SSL listener ("+EnvSecureBrokers+", "+EnvSecureCAFile+", "+
			EnvSecureUsername+" and "+EnvSecurePasswordFile+"; `make test` starts one with `KAFKA_SECURITY=sasl_ssl scripts/kafka.sh up`)")
	}
	s.Brokers = strings.Split(v, ",")
	return s
}

// KafkaBrokers returns the brokers AUDITSTREAM_KAFKA_BROKERS names, or nil when it is unset.
func KafkaBrokers() []string {
	v := strings.TrimSpace(os.Getenv(EnvBrokers))
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}
