package config_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
)

func TestExpansion(t *testing.T) {
	dir := t.TempDir()
	secretFile := testkit.WriteFile(t, dir, "token", "from-file: with yaml: chars #\n")
	t.Setenv("AS_BROKER", "127.0.0.1:9092")
	t.Setenv("AS_PARTS", "3")
	doc := `
kafka:
  brokers: ["${AS_BROKER}"]
  topics:
    partitions: ${AS_PARTS}
    events: "${AS_UNSET:-audit.events.v2}"
pollers:
  - name: p
    provider: ionos
    settings:
      token: ${file:` + secretFile + `}
      note: "$${NOT_EXPANDED}"
`
	c := parse(t, doc)
	if c.Kafka.Brokers[0] != "127.0.0.1:9092" || c.Kafka.Topics.Partitions != 3 || c.Kafka.Topics.Events != "audit.events.v2" {
		t.Fatalf("kafka = %+v", c.Kafka)
	}
	var s struct {
		Token config.Secret `yaml:"token"`
		Note  string        `yaml:"note"`
	}
	if err := config.DecodeStrict(&c.Pollers[0].Settings, &s); err != nil {
		t.Fatal(err)
	}
	if s.Token.Reveal() != "from-file: with yaml: chars #" || s.Note != "${NOT_EXPANDED}" {
		t.Fatalf("settings = %q %q", s.Token.Reveal(), s.Note)
	}
}

func TestEveryProblemIsListedWithItsPath(t *testing.T) {
	doc := `
log: {level: loud}
kafka: {brokers: ["nohostport"], topics: {partitions: -1}, compression: brotli}
pollers:
  - {name: "Bad Name", provider: ""}
  - {name: ok, provider: ionos, schedule: "@every 1s", jitter: 1s}
  - {name: ok, provider: ionos}
sinks:
  - {name: s, type: ""}
token: ${AS_DEFINITELY_UNSET}
`
	_, err := config.Parse(strings.NewReader(doc))
	if err == nil || !strings.Contains(err.Error(), "token: environment variable AS_DEFINITELY_UNSET is not set") {
		t.Fatalf("err = %v", err)
	}
	got := problems(parse(t, strings.Replace(doc, "token: ${AS_DEFINITELY_UNSET}", "", 1)))
	wantProblems(t, got, "log.level:", "kafka.brokers[0]:", "kafka.topics.partitions:", "kafka.compression:", "pollers[0].name:", "pollers[0].provider: is required", "pollers[2].name: \"ok\" is used twice", "sinks[0].type: is required")
}

func TestUnknownFieldsAreErrors(t *testing.T) {
	_, err := config.Parse(strings.NewReader("kafka:\n  brokerz: []\n"))
	if err == nil || !strings.Contains(err.Error(), "brokerz") {
		t.Fatalf("err = %v", err)
	}
}

func TestDefaults(t *testing.T) {
	c := parse(t, "pollers: [{name: a, provider: ionos}]\n")
	if !c.Embedded() || c.Kafka.Topics.Events != "audit.events.v1" || c.Kafka.Topics.RawRetention.D() != 7*24*time.Hour ||
		c.Pollers[0].Schedule != "@every 1m" || c.Kafka.Compression != config.DefaultCompression || c.Normalizer.Providers[0] != "ionos" || c.RawTopic("ionos") != "audit.raw.ionos" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := config.Secret("hunter2")
	for _, out := range []string{s.String(), s.GoString(), string(must(s.MarshalJSON())), must2(s.MarshalYAML())} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret printed: %s", out)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Fatal("Reveal lost the value")
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func must2(v any, err error) string {
	if err != nil {
		panic(err)
	}
	return v.(string)
}

func TestDurationErrors(t *testing.T) {
	_, err := config.Parse(strings.NewReader("kafka: {topics: {raw_retention: forever}}\n"))
	if err == nil || !strings.Contains(err.Error(), "not a duration") {
		t.Fatalf("err = %v", err)
	}
}

func TestSecretsThatLookLikeNumbersStayExact(t *testing.T) {
	for _, v := range []string{"0123", "true", "1e3", "null", "~"} {
		t.Setenv("AS_TOKEN", v)
		c, err := config.Parse(strings.NewReader("pollers:\n  - name: a\n    provider: ionos\n    settings:\n      token: ${AS_TOKEN}\n"))
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		var s struct {
			Token config.Secret `yaml:"token"`
		}
		if err := config.DecodeStrict(&c.Pollers[0].Settings, &s); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if s.Token.Reveal() != v {
			t.Errorf("token %q decoded as %q", v, s.Token.Reveal())
		}
	}
}

func TestNormalizerValidationSettings(t *testing.T) {
	c := parse(t, "pollers: [{name: a, provider: ionos}]\n")
	if c.Normalizer.Validate != "sample" || c.Normalizer.ValidateSample != 0.001 {
		t.Fatalf("defaults: validate %q sample %v", c.Normalizer.Validate, c.Normalizer.ValidateSample)
	}
	got := problems(parse(t, "normalizer: {validate: always, validate_sample: 2, zones: {conga: Mars/Olympus, signinghub: Europe/Berlin}}\n"))
	wantProblems(t, got, `normalizer.validate: "always" is not one of off, sample, all`, "normalizer.validate_sample:", "normalizer.zones.conga:")
	if strings.Contains(got, "signinghub") {
		t.Errorf("a valid zone is a problem:\n%s", got)
	}
}

func TestNormalizerObservablesSetting(t *testing.T) {
	c := parse(t, "pollers: [{name: a, provider: ionos}]\n")
	if c.Normalizer.Observables {
		t.Fatal("normalizer.observables is on by default")
	}
	if c := parse(t, "normalizer: {observables: true}\n"); !c.Normalizer.Observables {
		t.Fatal("observables: true is off")
	}
	_, err := config.Parse(strings.NewReader("normalizer: {observables: sometimes}\n"))
	if err == nil || !strings.Contains(err.Error(), "sometimes") {
		t.Fatalf("a non-boolean observables is accepted: %v", err)
	}
}

func TestTargetsSettings(t *testing.T) {
	c := parse(t, "pollers:\n  - {name: x, provider: ionos}\n")
	if c.Kafka.Topics.Targets != "auditstream.targets" || c.Targets.Group != "" ||
		c.Targets.SessionTimeout.D() != 10*time.Second || c.Pollers[0].DiscoverySchedule != "@every 5m" {
		t.Fatalf("defaults: %+v %+v", c.Kafka.Topics, c.Targets)
	}
	got := problems(parse(t, "targets: {session_timeout: 2s, rebalance_timeout: 20s}\npollers:\n  - {name: x, provider: ionos, http: {timeout: 30s}}\n"))
	wantProblems(t, got, "targets.session_timeout: must be between 6s and 30m", "pollers[0].http.timeout: must be below targets.rebalance_timeout")
}

func TestKafkaSecurityBlocks(t *testing.T) {
	dir := t.TempDir()
	pw, empty := testkit.WriteFile(t, dir, "pw", "file-password-9c1\n"), testkit.WriteFile(t, dir, "empty", "")
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
			c := parse(t, "kafka: "+tc.kafka+"\n")
			got := problems(c)
			if len(tc.want) == 0 && got != "" {
				t.Fatalf("problems:\n%s", got)
			}
			wantProblems(t, got, tc.want...)
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
	pw := testkit.WriteFile(t, dir, "pw", "p@ss: word\r\n")
	t.Setenv("AS_KAFKA_PW", "from-env")
	for _, tc := range []struct {
		s    config.SASL
		want string
	}{
		{config.SASL{PasswordFile: pw}, "p@ss: word"},
		{config.SASL{PasswordEnv: "AS_KAFKA_PW"}, "from-env"},
		{config.SASL{Password: "inline"}, "inline"},
	} {
		got, err := tc.s.Secret()
		if err != nil || got.Reveal() != tc.want {
			t.Errorf("%+v: %q, %v; want %q", tc.s, got.Reveal(), err, tc.want)
		}
	}
	if tl := parse(t, "kafka: {tls: {enabled: true, ca_file: /ca.pem, server_name: kafka.internal}}\n").Kafka.TLS; !tl.On() || tl.CAFile != "/ca.pem" || tl.ServerName != "kafka.internal" {
		t.Fatalf("tls block decoded as %+v", tl)
	}
	if (config.KafkaTLS{}).On() {
		t.Fatal("an empty tls block turns TLS on")
	}
}

// parse parses the configuration doc, failing the test on an error.
func parse(t *testing.T, doc string) *config.Root {
	t.Helper()
	c, err := config.Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// problems validates c and returns its problems, one a line.
func problems(c *config.Root) string {
	var p config.Problems
	c.Validate(&p)
	return strings.Join(p.List(), "\n")
}

// wantProblems fails the test unless the problems got name each of want.
func wantProblems(t *testing.T, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("problems lack %q:\n%s", w, got)
		}
	}
}
