package bus_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
)

// secureBus is a Bus on the secured test broker with the given settings blocks.
func secureBus(t *testing.T, brokers []string, tc config.KafkaTLS, sc config.SASL, logs *testkit.LockedBuffer) (*bus.Bus, error) {
	t.Helper()
	cfg := bus.Config{Brokers: brokers, ClientID: "auditstream-test-secure"}
	if err := cfg.Secure("kafka", tc, sc); err != nil {
		return nil, err
	}
	log := testkit.Logger(t)
	if logs != nil {
		log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b, err := bus.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, nil
}

// The whole round trip (topic creation, acks=all writes, two consumer-group members with
// their commits, offsets) through TLS and SCRAM-SHA-512; PLAIN and SCRAM-SHA-256 publish
// and read back too.
func TestIntegrationSecureKafkaRoundTrip(t *testing.T) {
	sk := testkit.SecureKafka(t)
	tc := config.KafkaTLS{TLS: config.TLS{CAFile: sk.CAFile}}
	b, err := secureBus(t, sk.Brokers, tc, config.SASL{Mechanism: "scram-sha-512", Username: sk.Username, PasswordFile: sk.PasswordFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	roundTripOn(t, b)

	t.Setenv("AS_TEST_KAFKA_PASSWORD", sk.Password(t))
	for _, mech := range []string{"plain", "scram-sha-256"} {
		t.Run(mech, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			b, err := secureBus(t, sk.Brokers, tc, config.SASL{Mechanism: mech, Username: sk.Username, PasswordEnv: "AS_TEST_KAFKA_PASSWORD"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			topic := "t.sec." + mech + "." + testkit.Unique()
			if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: topic, Partitions: 1, ReplicationFactor: 1}); err != nil {
				t.Fatal(err)
			}
			if err := b.Publish(ctx, kafka.Message{Topic: topic, Key: []byte("k"), Value: []byte(mech)}); err != nil {
				t.Fatal(err)
			}
			// A partition reader: the Dialer carries TLS and SASL too.
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.Brokers(), Topic: topic, Partition: 0, Dialer: b.Dialer(), MaxWait: 200 * time.Millisecond})
			defer r.Close()
			m, err := r.ReadMessage(ctx)
			if err != nil || string(m.Value) != mech {
				t.Fatalf("read back %q, %v", m.Value, err)
			}
		})
	}
}

// Refused credentials and an unverifiable certificate are clear errors naming the setting
// to fix, returned at once (no hang, no retry loop), that never hold the password.
func TestIntegrationSecureKafkaMisconfigured(t *testing.T) {
	sk := testkit.SecureKafka(t)
	const wrong = "not-the-password-7f3a"
	real := sk.Password(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(wrong+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := config.KafkaTLS{TLS: config.TLS{CAFile: sk.CAFile}}
	for _, tc := range []struct {
		name     string
		tls      config.KafkaTLS
		sasl     config.SASL
		want     string
		security bool
	}{
		{"wrong scram password", ca, config.SASL{Mechanism: "scram-sha-512", Username: sk.Username, PasswordFile: pwFile},
			`kafka.sasl: the brokers refused user "` + sk.Username + `" with SCRAM-SHA-512: check username and password`, true},
		{"wrong plain password", ca, config.SASL{Mechanism: "plain", Username: sk.Username, Password: wrong},
			`kafka.sasl: the brokers refused user "` + sk.Username + `" with PLAIN`, true},
		{"unknown user", ca, config.SASL{Mechanism: "scram-sha-256", Username: "nobody", Password: config.Secret(real)},
			`kafka.sasl: the brokers refused user "nobody"`, true},
		{"CA not given", config.KafkaTLS{Enabled: true}, config.SASL{Mechanism: "plain", Username: sk.Username, Password: config.Secret(real)},
			"kafka.tls.ca_file: the broker's certificate did not verify", true},
		{"no TLS", config.KafkaTLS{}, config.SASL{Mechanism: "plain", Username: sk.Username, Password: config.Secret(real)},
			"set kafka.tls / kafka.sasl", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs testkit.LockedBuffer
			b, err := secureBus(t, sk.Brokers, tc.tls, tc.sasl, &logs)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = b.Ping(ctx)
			if err == nil || ctx.Err() != nil {
				t.Fatalf("Ping: %v (context: %v), want an error before the deadline", err, ctx.Err())
			}
			if !strings.Contains(err.Error(), tc.want) || errors.Is(err, bus.ErrSecurity) != tc.security {
				t.Fatalf("Ping: %v\nwant it to contain %q (ErrSecurity: %v)", err, tc.want, tc.security)
			}
			outs := []string{err.Error(), fmt.Sprintf("%+v %v", tc.sasl, tc.sasl)}
			if tc.security {
				// Publishing fails the same way at once (the retries of a plaintext
				// client against a TLS listener take seconds: Ping's hint is enough there).
				perr := b.Publish(ctx, kafka.Message{Topic: "t.sec.never", Value: []byte("x")})
				if !errors.Is(perr, bus.ErrSecurity) || !strings.Contains(perr.Error(), tc.want) {
					t.Fatalf("Publish: %v", perr)
				}
				outs = append(outs, perr.Error())
			}
			for _, out := range append(outs, logs.String()) {
				if strings.Contains(out, wrong) || strings.Contains(out, real) {
					t.Fatalf("a password was printed: %s", out)
				}
			}
			t.Logf("%v", err)
		})
	}
}

// SCRAM needs SASLprep'd credentials, and the library's error when it refuses them quotes
// the password: Secure names the setting and never the value.
func TestSecureSASLprepRefusalNamesNoPassword(t *testing.T) {
	for _, pw := range []string{"s3cret-PASS\x01", "abc\u05d0\u05d1"} {
		var c bus.Config
		err := c.Secure("kafka", config.KafkaTLS{}, config.SASL{Mechanism: "scram-sha-512", Username: "svc", Password: config.Secret(pw)})
		if err == nil || !strings.Contains(err.Error(), "kafka.sasl: scram-sha-512 credentials of user \"svc\" are refused by SASLprep") {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "abc") {
			t.Fatalf("the error quotes the password: %v", err)
		}
	}
}
