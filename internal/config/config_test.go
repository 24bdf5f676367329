package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExpansion(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "token")
	if err := os.WriteFile(secretFile, []byte("from-file: with yaml: chars #\n"), 0o600); err != nil {
		t.Fatal(err)
	}
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
	c, err := Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.Brokers[0] != "127.0.0.1:9092" || c.Kafka.Topics.Partitions != 3 || c.Kafka.Topics.Events != "audit.events.v2" {
		t.Fatalf("kafka = %+v", c.Kafka)
	}
	var s struct {
		Token Secret `yaml:"token"`
		Note  string `yaml:"note"`
	}
	if err := DecodeStrict(&c.Pollers[0].Settings, &s); err != nil {
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
	_, err := Parse(strings.NewReader(doc))
	if err == nil || !strings.Contains(err.Error(), "token: environment variable AS_DEFINITELY_UNSET is not set") {
		t.Fatalf("err = %v", err)
	}
	c, err := Parse(strings.NewReader(strings.Replace(doc, "token: ${AS_DEFINITELY_UNSET}", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	var p Problems
	c.Validate(&p)
	got := strings.Join(p.List(), "\n")
	for _, want := range []string{"log.level:", "kafka.brokers[0]:", "kafka.topics.partitions:", "kafka.compression:", "pollers[0].name:", "pollers[0].provider: is required", "pollers[2].name: \"ok\" is used twice", "sinks[0].type: is required"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
}

func TestUnknownFieldsAreErrors(t *testing.T) {
	_, err := Parse(strings.NewReader("kafka:\n  brokerz: []\n"))
	if err == nil || !strings.Contains(err.Error(), "brokerz") {
		t.Fatalf("err = %v", err)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse(strings.NewReader("pollers: [{name: a, provider: ionos}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Embedded() || c.Kafka.Topics.Events != "audit.events.v1" || c.Kafka.Topics.RawRetention.D() != 7*24*time.Hour ||
		c.Pollers[0].Schedule != "@every 1m" || c.Kafka.Compression != DefaultCompression || c.Normalizer.Providers[0] != "ionos" || c.RawTopic("ionos") != "audit.raw.ionos" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2")
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
	_, err := Parse(strings.NewReader("kafka: {topics: {raw_retention: forever}}\n"))
	if err == nil || !strings.Contains(err.Error(), "not a duration") {
		t.Fatalf("err = %v", err)
	}
}

func TestSecretsThatLookLikeNumbersStayExact(t *testing.T) {
	for _, v := range []string{"0123", "true", "1e3", "null", "~"} {
		t.Setenv("AS_TOKEN", v)
		c, err := Parse(strings.NewReader("pollers:\n  - name: a\n    provider: ionos\n    settings:\n      token: ${AS_TOKEN}\n"))
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		var s struct {
			Token Secret `yaml:"token"`
		}
		if err := DecodeStrict(&c.Pollers[0].Settings, &s); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if s.Token.Reveal() != v {
			t.Errorf("token %q decoded as %q", v, s.Token.Reveal())
		}
	}
}

func TestNormalizerValidationSettings(t *testing.T) {
	c, err := Parse(strings.NewReader("pollers: [{name: a, provider: ionos}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Normalizer.Validate != "sample" || c.Normalizer.ValidateSample != 0.001 {
		t.Fatalf("defaults: validate %q sample %v", c.Normalizer.Validate, c.Normalizer.ValidateSample)
	}
	c, err = Parse(strings.NewReader("normalizer: {validate: always, validate_sample: 2, zones: {conga: Mars/Olympus, signinghub: Europe/Berlin}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var p Problems
	c.Validate(&p)
	got := strings.Join(p.List(), "\n")
	for _, want := range []string{`normalizer.validate: "always" is not one of off, sample, all`, "normalizer.validate_sample:", "normalizer.zones.conga:"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "signinghub") {
		t.Errorf("a valid zone is a problem:\n%s", got)
	}
}

func TestNormalizerObservablesSetting(t *testing.T) {
	c, err := Parse(strings.NewReader("pollers: [{name: a, provider: ionos}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Normalizer.Observables {
		t.Fatal("normalizer.observables is on by default")
	}
	if c, err = Parse(strings.NewReader("normalizer: {observables: true}\n")); err != nil || !c.Normalizer.Observables {
		t.Fatalf("observables: true: %v %v", c.Normalizer.Observables, err)
	}
	_, err = Parse(strings.NewReader("normalizer: {observables: sometimes}\n"))
	if err == nil || !strings.Contains(err.Error(), "sometimes") {
		t.Fatalf("a non-boolean observables is accepted: %v", err)
	}
}

func TestTargetsSettings(t *testing.T) {
	c, err := Parse(strings.NewReader("pollers:\n  - {name: x, provider: ionos}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.Topics.Targets != "auditstream.targets" || c.Targets.Group != "" ||
		c.Targets.SessionTimeout.D() != 10*time.Second || c.Pollers[0].DiscoverySchedule != "@every 5m" {
		t.Fatalf("defaults: %+v %+v", c.Kafka.Topics, c.Targets)
	}
	c, err = Parse(strings.NewReader("targets: {session_timeout: 2s, rebalance_timeout: 20s}\npollers:\n  - {name: x, provider: ionos, http: {timeout: 30s}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var p Problems
	c.Validate(&p)
	got := strings.Join(p.List(), "\n")
	for _, want := range []string{"targets.session_timeout: must be between 6s and 30m", "pollers[0].http.timeout: must be below targets.rebalance_timeout"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
}
