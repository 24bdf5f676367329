package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
)

// A process whose SASL credentials the brokers refuse stops at start with an error naming
// kafka.sasl (it does not wait two minutes for a broker that will never take them), and
// logs no password; with the right ones it starts.
func TestIntegrationStartOnSecuredKafka(t *testing.T) {
	sk := testkit.SecureKafka(t)
	real := sk.Password(t)
	const wrong = "wrong-app-password-1b7"
	u := testkit.Unique()
	for _, tc := range []struct {
		name, password string
		ok             bool
	}{{"wrong password", wrong, false}, {"right password", real, true}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse(strings.NewReader(fmt.Sprintf(`log: {level: debug}
admin: {listen: "off"}
kafka:
  brokers: [%s]
  topics: {raw_prefix: "t.app.%[2]s.raw.", events: "t.app.%[2]s.events", dlq: "t.app.%[2]s.dlq", checkpoints: "t.app.%[2]s.cp", targets: "t.app.%[2]s.targets", partitions: 1}
  tls: {ca_file: %[3]q}
  sasl: {mechanism: scram-sha-512, username: %[4]s, password: %[5]q}
normalizer: {providers: [ionos], group: "g.app.%[2]s"}
`, strings.Join(sk.Brokers, ","), u, sk.CAFile, sk.Username, tc.password)))
			if err != nil {
				t.Fatal(err)
			}
			var logs testkit.LockedBuffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			start := time.Now()
			a, err := Start(ctx, c, Roles{Normalize: true}, log)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				a.ShutdownWithin(30 * time.Second)
			} else {
				if err == nil {
					a.Shutdown(ctx)
					t.Fatal("Start with a wrong password succeeded")
				}
				if !strings.Contains(err.Error(), `kafka.sasl: the brokers refused user "`+sk.Username+`"`) || time.Since(start) > 20*time.Second {
					t.Fatalf("after %s: %v", time.Since(start), err)
				}
				if strings.Contains(err.Error(), wrong) {
					t.Fatal("the password is in the error")
				}
			}
			for _, s := range secretValues(c) {
				if strings.Contains(logs.String(), s) {
					t.Errorf("the password appears in the logs")
				}
			}
		})
	}
}
