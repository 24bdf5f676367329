package bus_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
)

func TestEmbeddedRoundTrip(t *testing.T) { roundTrip(t, testkit.EmbeddedKafka(t)) }

func TestIntegrationRealKafkaRoundTrip(t *testing.T) { roundTrip(t, testkit.RealKafka(t)) }

// roundTrip checks what every component relies on: explicit topic creation (twice: the
// second is "already exists" = success), acks=all writes with headers, a consumer group that
// commits only handled batches and a second member of the same group resuming after them.
func roundTrip(t *testing.T, brokers []string) { roundTripOn(t, testkit.NewBus(t, brokers)) }

func roundTripOn(t *testing.T, b *bus.Bus) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	u := testkit.Unique()
	topic, compact := "t.rt."+u, "t.compact."+u
	specs := []bus.TopicSpec{
		{Name: topic, Partitions: 3, ReplicationFactor: 1, Configs: map[string]string{"retention.ms": "604800000"}},
		{Name: compact, Partitions: 1, ReplicationFactor: 1, Configs: map[string]string{"cleanup.policy": "compact"}},
	}
	for i := 0; i < 2; i++ {
		if err := b.EnsureTopics(ctx, specs...); err != nil {
			t.Fatalf("EnsureTopics #%d: %v", i+1, err)
		}
	}
	const n = 1000
	var msgs []kafka.Message
	for i := 0; i < n; i++ {
		msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(fmt.Sprintf("k%d", i%17)), Value: []byte(fmt.Sprint(i)),
			Headers: []kafka.Header{{Key: "ce_id", Value: []byte(fmt.Sprint(i))}}})
	}
	if err := b.Publish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	group := "g." + u
	seen := map[string]int{}
	var mu sync.Mutex
	consume := func(stopAfter int) {
		cctx, ccancel := context.WithCancel(ctx)
		defer ccancel()
		err := b.Consume(cctx, bus.GroupConfig{GroupID: group, Topics: []string{topic}, MaxBatch: 100}, func(_ context.Context, batch []kafka.Message) error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range batch {
				if bus.Header(m, "ce_id") != string(m.Value) {
					t.Errorf("header ce_id=%q for value %q", bus.Header(m, "ce_id"), m.Value)
				}
				seen[string(m.Value)]++
			}
			if len(seen) >= stopAfter {
				ccancel()
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
	consume(n / 2)
	mu.Lock()
	first := len(seen)
	mu.Unlock()
	if first < n/2 {
		t.Fatalf("first member saw %d messages", first)
	}
	consume(n)
	if len(seen) != n {
		t.Fatalf("saw %d distinct messages, want %d", len(seen), n)
	}
	dups := 0
	for _, c := range seen {
		dups += c - 1
	}
	// A committed batch is never delivered again to the same group.
	if dups != 0 {
		t.Fatalf("%d messages delivered twice after a clean hand-over", dups)
	}
	ends, err := b.PartitionEnds(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range ends {
		total += e
	}
	if total != n {
		t.Fatalf("partition ends sum to %d, want %d", total, n)
	}
}

// A message over the topic's max.message.bytes is a permanent error, returned at once;
// a topic created with a larger max.message.bytes takes (and gives back) a large message.
func TestIntegrationMessageSizeLimits(t *testing.T) {
	brokers := testkit.RealKafka(t)
	ctx, b := testkit.BusWithin(t, brokers, 60*time.Second)
	small := testkit.CreateTopic(t, ctx, b, "t.small.", 1, map[string]string{"max.message.bytes": "1048576"})
	big := testkit.CreateTopic(t, ctx, b, "t.big.", 1, map[string]string{"max.message.bytes": "8388608"})
	// Random bytes: the limit applies to the (compressed) record batch, so the payload
	// must not compress below it.
	payload := make([]byte, 2<<20)
	_, _ = rand.Read(payload)
	start := time.Now()
	err := b.Publish(ctx, kafka.Message{Topic: small, Key: []byte("k"), Value: payload})
	if !errors.Is(err, bus.ErrPermanent) {
		t.Fatalf("2 MiB into a 1 MiB topic: err = %v, want ErrPermanent", err)
	}
	t.Logf("permanent error after %s: %v", time.Since(start), err)
	if err := b.Publish(ctx, kafka.Message{Topic: big, Key: []byte("k"), Value: payload}); err != nil {
		t.Fatalf("2 MiB into an 8 MiB topic: %v", err)
	}
	got := 0
	cctx, ccancel := context.WithCancel(ctx)
	_ = b.Consume(cctx, bus.GroupConfig{GroupID: "g." + testkit.Unique(), Topics: []string{big}}, func(_ context.Context, batch []kafka.Message) error {
		for _, m := range batch {
			got = len(m.Value)
		}
		ccancel()
		return nil
	})
	ccancel()
	if got != len(payload) {
		t.Fatalf("read back %d bytes, want %d", got, len(payload))
	}
}

func TestEmbeddedGroupLag(t *testing.T) { groupLag(t, testkit.EmbeddedKafka(t)) }

func TestIntegrationRealKafkaGroupLag(t *testing.T) { groupLag(t, testkit.RealKafka(t)) }

// groupLag checks that the lag is the sum over partitions of end − committed: 30 messages
// on 3 partitions, a group that handles (and commits) exactly 12 of them, then stops
// handling: the group's lag on the topic is 18, reported through OnLag and GroupLag.
func groupLag(t *testing.T, brokers []string) {
	ctx, b := testkit.BusWithin(t, brokers, 90*time.Second)
	topic, group := testkit.CreateTopic(t, ctx, b, "t.lag.", 3, nil), "g.lag."+testkit.Unique()
	// Before the group commits anything, every message counts.
	testkit.Publish(t, ctx, b, topic, 30, func(i int) (string, string) { return fmt.Sprintf("k%d", i), fmt.Sprint(i) })
	lag, err := b.GroupLag(ctx, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(lag) != 3 || lag[0]+lag[1]+lag[2] != 30 {
		t.Fatalf("lag before any commit = %v, want 3 partitions summing to 30", lag)
	}

	var handled atomic.Int64
	var mu sync.Mutex
	reported := map[string]int64{}
	cctx, ccancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(cctx, bus.GroupConfig{GroupID: group, Topics: []string{topic}, MaxBatch: 1, LagInterval: 100 * time.Millisecond,
			OnLag: func(topic string, partition int, lag int64) {
				if partition != -1 {
					t.Errorf("OnLag partition = %d, want -1 (all partitions)", partition)
				}
				mu.Lock()
				reported[topic] = lag
				mu.Unlock()
			}}, func(ctx context.Context, batch []kafka.Message) error {
			if handled.Load() >= 12 {
				<-ctx.Done() // stop handling: nothing more is committed
				return ctx.Err()
			}
			handled.Add(int64(len(batch)))
			return nil
		})
	}()
	defer func() { ccancel(); <-done }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		got, ok := reported[topic]
		mu.Unlock()
		if ok && got == 18 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reported lag = %d (reported: %v), want 18 = 30 − 12 committed", got, ok)
		}
		time.Sleep(50 * time.Millisecond)
	}
	lag, err = b.GroupLag(ctx, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	if s := lag[0] + lag[1] + lag[2]; s != 18 {
		t.Fatalf("GroupLag = %v (sum %d), want sum 18", lag, s)
	}
}

func TestParseCompression(t *testing.T) {
	for _, name := range config.Compressions {
		if _, err := bus.ParseCompression(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := bus.ParseCompression("brotli"); err == nil {
		t.Fatal("an unknown codec was accepted")
	}
	if _, err := bus.New(bus.Config{Brokers: []string{"127.0.0.1:1"}, Compression: "brotli"}, testkit.Logger(t)); err == nil {
		t.Fatal("bus.New accepted an unknown codec")
	}
}

func TestEveryCodecRoundTripsEmbedded(t *testing.T) { codecsRoundTrip(t, testkit.EmbeddedKafka(t)) }

func TestIntegrationEveryCodecRoundTripsRealKafka(t *testing.T) {
	codecsRoundTrip(t, testkit.RealKafka(t))
}

// codecsRoundTrip writes with each codec and reads every record back unchanged.
func codecsRoundTrip(t *testing.T, brokers []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, codec := range config.Compressions {
		t.Run(codec, func(t *testing.T) {
			b, err := bus.New(bus.Config{Brokers: brokers, ClientID: "auditstream-test", Compression: codec}, testkit.Logger(t))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			topic := testkit.CreateTopic(t, ctx, b, "t.codec."+codec+".", 1, nil)
			const n = 200
			testkit.Publish(t, ctx, b, topic, n, func(i int) (string, string) {
				return "k", fmt.Sprintf(`{"n":%d,"pad":"audit audit audit audit"}`, i)
			})
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond})
			defer r.Close()
			for i := 0; i < n; i++ {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if want := fmt.Sprintf(`{"n":%d,"pad":"audit audit audit audit"}`, i); string(m.Value) != want {
					t.Fatalf("record %d = %s, want %s", i, m.Value, want)
				}
			}
		})
	}
}

// A read that stalls is not the end of the partition: ReadRange must not report a
// compacted tail (its callers would skip the unread records until a restart) while
// records are left before end; it returns an error so that the caller reads again.
func TestIntegrationReadRangeSlowReadIsNotAGap(t *testing.T) {
	ctx, b := testkit.BusWithin(t, testkit.RealKafka(t), 90*time.Second)
	topic := testkit.CreateTopic(t, ctx, b, "t.range.", 1, testkit.Compacted)
	testkit.Publish(t, ctx, b, topic, 5, func(i int) (string, string) { return fmt.Sprint("k", i), "v" })
	ends, err := b.PartitionEnds(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end := ends[0]

	n, gapped, err := b.ReadRange(ctx, topic, 0, 0, end, func(kafka.Message) {})
	if err != nil || gapped || n != 5 {
		t.Fatalf("normal read: n=%d gapped=%v err=%v, want 5 records", n, gapped, err)
	}

	// Every wait for a record times out: the records are there, so this is a stall,
	// not a compacted tail.
	restore := bus.SetReadIdle(100 * time.Millisecond)
	unstall := bus.StallReads()
	n, gapped, err = b.ReadRange(ctx, topic, 0, 0, end, func(kafka.Message) {})
	unstall()
	restore()
	if err == nil || gapped {
		t.Fatalf("stalled read: n=%d gapped=%v err=%v, want an error and no gap", n, gapped, err)
	}

	// An end the partition has not reached cannot be proven compacted either.
	restore = bus.SetReadIdle(300 * time.Millisecond)
	defer restore()
	n, gapped, err = b.ReadRange(ctx, topic, 0, 0, end+3, func(kafka.Message) {})
	if err == nil || gapped || n != 5 {
		t.Fatalf("read past the high watermark: n=%d gapped=%v err=%v, want 5 records then an error", n, gapped, err)
	}
}

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
			topic := testkit.CreateTopic(t, ctx, b, "t.sec."+mech+".", 1, nil)
			testkit.Publish(t, ctx, b, topic, 1, func(int) (string, string) { return "k", mech })
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
	pwFile := testkit.WriteFile(t, t.TempDir(), "pw", wrong+"\n")
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
