package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKafkaSecurityBlocks(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("file-password-9c1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AS_KAFKA_PW", "env-password-4d2")
	// SASLprep refuses a control character (a tab or \x01 inside a password file, say).
	t.Setenv("AS_KAFKA_PW_CTRL", "env-password-4d2\x01")
	for _, tc := range []struct {
		name, kafka string
		want        []string // problems (none: valid)
	}{
		{"tls and scram from a file", `{brokers: ["b:9093"], tls: {ca_file: /ca.pem}, sasl: {mechanism: scram-sha-512, username: u, password_file: ` + pw + `}}`, nil},
		{"tls enabled alone", `{brokers: ["b:9093"], tls: {enabled: true}, sasl: {mechanism: plain, username: u, password_env: AS_KAFKA_PW}}`, nil},
		{"inline password", `{brokers: ["b:9093"], sasl: {mechanism: scram-sha-256, username: u, password: "${AS_KAFKA_PW}"}}`, nil},
		{"unknown mechanism", `{brokers: ["b:9093"], sasl: {mechanism: md5, username: u, password_env: AS_KAFKA_PW}}`,
			[]string{`kafka.sasl.mechanism: must be one of plain, scram-sha-256, scram-sha-512, got "md5"`}},
		{"no username, two passwords", `{brokers: ["b:9093"], sasl: {mechanism: plain, password_env: AS_KAFKA_PW, password_file: ` + pw + `}}`,
			[]string{"kafka.sasl.username: is required", "kafka.sasl: set exactly one of password_file, password_env or password (2 set)"}},
		{"no password", `{brokers: ["b:9093"], sasl: {mechanism: plain, username: u}}`,
			[]string{"kafka.sasl: set exactly one of password_file, password_env or password (0 set)"}},
		{"unset variable", `{brokers: ["b:9093"], sasl: {mechanism: plain, username: u, password_env: AS_KAFKA_PW_UNSET}}`,
			[]string{"kafka.sasl: password_env: environment variable AS_KAFKA_PW_UNSET is not set"}},
		{"missing file", `{brokers: ["b:9093"], sasl: {mechanism: plain, username: u, password_file: /nonexistent/pw}}`,
			[]string{"kafka.sasl: password_file: open /nonexistent/pw"}},
		{"empty file", `{brokers: ["b:9093"], sasl: {mechanism: plain, username: u, password_file: ` + empty + `}}`,
			[]string{"kafka.sasl: password_file: " + empty + " is empty"}},
		{"scram password SASLprep refuses", `{brokers: ["b:9093"], sasl: {mechanism: scram-sha-512, username: u, password_env: AS_KAFKA_PW_CTRL}}`,
			[]string{"kafka.sasl: the password is refused by SASLprep, which SCRAM requires"}},
		{"plain takes it as it is", `{brokers: ["b:9093"], sasl: {mechanism: plain, username: u, password_env: AS_KAFKA_PW_CTRL}}`, nil},
		{"half a client certificate", `{brokers: ["b:9093"], tls: {cert_file: /c.pem}}`,
			[]string{"kafka.tls: cert_file and key_file go together"}},
		{"embedded broker", `{tls: {enabled: true}}`,
			[]string{"kafka: tls and sasl need kafka.brokers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader("kafka: " + tc.kafka + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			var p Problems
			c.Validate(&p)
			got := strings.Join(p.List(), "\n")
			if len(tc.want) == 0 && got != "" {
				t.Fatalf("problems:\n%s", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems lack %q:\n%s", w, got)
				}
			}
			// Whatever the block holds, printing the configuration never shows a password.
			for _, out := range []string{fmt.Sprintf("%v %+v %#v", c.Kafka, c.Kafka, c.Kafka), got} {
				for _, secret := range []string{"file-password-9c1", "env-password-4d2"} {
					if strings.Contains(out, secret) {
						t.Fatalf("password printed: %s", out)
					}
				}
			}
		})
	}
}

func TestSASLSecretSources(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("p@ss: word\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AS_KAFKA_PW", "from-env")
	for _, tc := range []struct {
		s    SASL
		want string
	}{
		{SASL{PasswordFile: pw}, "p@ss: word"},
		{SASL{PasswordEnv: "AS_KAFKA_PW"}, "from-env"},
		{SASL{Password: "inline"}, "inline"},
	} {
		got, err := tc.s.Secret()
		if err != nil || got.Reveal() != tc.want {
			t.Errorf("%+v: %q, %v; want %q", tc.s, got.Reveal(), err, tc.want)
		}
	}
	k, err := Parse(strings.NewReader("kafka: {tls: {enabled: true, ca_file: /ca.pem, server_name: kafka.internal}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tl := k.Kafka.TLS; !tl.On() || tl.CAFile != "/ca.pem" || tl.ServerName != "kafka.internal" {
		t.Fatalf("tls block decoded as %+v", tl)
	}
	if (KafkaTLS{}).On() {
		t.Fatal("an empty tls block turns TLS on")
	}
}
