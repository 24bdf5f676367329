package config_test

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/auditstream/auditstream/internal/config"
)

// TestAliasCycles: an anchor that contains itself (through a merge key or an alias) is
// one problem at the alias's line, not a stack overflow.
func TestAliasCycles(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"merge into itself", "log: &l\n  level: info\n  <<: *l\n", `f.yaml:3:7: log: anchor l contains itself`},
		{"merge list into itself", "log: &l\n  level: info\n  <<: [*l]\n", `f.yaml:3:8: log: anchor l contains itself`},
		{"nested mapping into itself", "pollers:\n  - &p\n    name: a\n    http:\n      <<: *p\n", "anchor p contains itself"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p config.Problems
			config.Decode("f.yaml", strings.NewReader(tc.doc), &p)
			err := p.Err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	var lists struct {
		L [][]string `yaml:"l"`
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("l: &b [[x], *b]\n"), &doc); err != nil {
		t.Fatal(err)
	}
	if err := config.DecodeStrict(&doc, &lists); err == nil || !strings.Contains(err.Error(), "1:13: l[1]: anchor b contains itself") {
		t.Errorf("a list in itself: %v", err)
	}
}

// billionLaughs is a small file whose anchors, defined in a block the root decode
// skips, expand to 10^levels nodes.
func billionLaughs(levels int) string {
	var b strings.Builder
	b.WriteString("pollers:\n  - name: a\n    provider: ionos\n    settings:\n      a0: &a0 {level: info}\n")
	for i := 1; i <= levels; i++ {
		b.WriteString("      a" + itoa(i) + ": &a" + itoa(i) + " {<<: [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + itoa(i-1))
		}
		b.WriteString("]}\n")
	}
	b.WriteString("log: {<<: *a" + itoa(levels) + "}\n")
	return b.String()
}

func itoa(i int) string { return string(rune('0' + i)) }

// TestExcessiveAliasingIsRefused: exponential aliasing is refused quickly with one
// problem, also when a plug-in decodes the block that holds the anchors.
func TestExcessiveAliasingIsRefused(t *testing.T) {
	for _, levels := range []int{7, 9} {
		doc := billionLaughs(levels)
		start := time.Now()
		var p config.Problems
		c := config.Decode("f.yaml", strings.NewReader(doc), &p)
		if c == nil {
			t.Fatalf("not decoded: %v", p.Err())
		}
		c.Validate(&p)
		config.DecodeBlock[laughs](&c.Pollers[0].Settings, "pollers[0].settings", &p)
		err := p.Err()
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%d levels (%d bytes): %s", levels, len(doc), d)
		}
		if err == nil || strings.Count(err.Error(), "document contains excessive aliasing") != 1 ||
			!strings.Contains(err.Error(), ":11: log: document contains excessive aliasing") {
			t.Errorf("%d levels: err = %v", levels, err)
		}
	}
	// Moderate aliasing still decodes.
	if _, err := config.Parse(strings.NewReader(billionLaughs(3))); err != nil {
		t.Fatalf("3 levels (1000 nodes): %v", err)
	}
	// A fresh Problems (a plug-in decoding its block on its own) has its own budget.
	var p config.Problems
	start := time.Now()
	config.DecodeBlock[laughs](&parseLaughsBlock(t, billionLaughs(7)).Pollers[0].Settings, "s", &p)
	if err := p.Err(); time.Since(start) > 5*time.Second || err == nil || !strings.Contains(err.Error(), "excessive aliasing") {
		t.Errorf("block alone: %v after %s", err, time.Since(start))
	}
}

// laughs is a block that decodes every anchor of billionLaughs.
type laughs map[string]map[string]string

func (*laughs) SetDefaults()                      {}
func (*laughs) Validate(string, *config.Problems) {}

// parseLaughsBlock decodes the settings of billionLaughs without its log: merge.
func parseLaughsBlock(t *testing.T, doc string) *config.Root {
	t.Helper()
	doc = doc[:strings.LastIndex(doc, "log:")]
	return parse(t, doc)
}

// TestLoopback: only localhost and literal loopback addresses are loopback.
func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LocalHost": true, "localhost.": true, "127.0.0.1": true, "127.8.9.10": true,
		"::1": true, "::ffff:127.0.0.1": true, "0:0:0:0:0:0:0:1": true,
		"evil.localhost": false, "a.localhost.": false, "localhost..": false, "localhost.evil": false,
		"127.0.0.1.nip.io": false, "10.0.0.1": false, "::": false, "": false, "127.1": false, "::ffff:10.0.0.1": false,
	} {
		if got := config.Loopback(host); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", host, got, want)
		}
	}
	var p config.Problems
	config.PlainHTTP{}.Check("s", &p, config.Endpoint{Key: "url", URL: "http://evil.localhost/x", Carries: "the token", Form: "https://h/x"})
	if len(p.List()) != 1 {
		t.Errorf("http://evil.localhost accepted: %v", p.List())
	}
}

// TestPathEndsKeepsThePathOut: a path of the wrong shape is reported by scheme://host and
// the expected ending, never by the path (which may hold a token).
func TestPathEndsKeepsThePathOut(t *testing.T) {
	var p config.Problems
	config.PlainHTTP{}.Check("s", &p, config.Endpoint{Key: "url", URL: "https://hooks.example.com/T0KEN-SECRET/x?sig=abc",
		Form: "https://hooks.example.com/api", Shape: config.PathEnds("/api")})
	got := strings.Join(p.List(), "\n")
	if !strings.Contains(got, "https://hooks.example.com: the path must end with /api") || strings.Contains(got, "T0KEN") || strings.Contains(got, "sig=") {
		t.Errorf("got %s", got)
	}
	u, _ := url.Parse("https://h/a/api/")
	if why := config.PathEnds("/api")(u); why != "" {
		t.Errorf("a matching path: %s", why)
	}
}

// TestExpandedValuesNeverAppearInProblems: a secret from ${ENV} or ${file:} in a value of
// the wrong type, or one that validation refuses, is named by its reference, never quoted.
func TestExpandedValuesNeverAppearInProblems(t *testing.T) {
	const secret = "hunter2-s3cr3t"
	t.Setenv("SECRETV", secret)
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"int from env", "kafka:\n  topics:\n    partitions: ${SECRETV}\n", `kafka.topics.partitions: must be a whole number, got the value of ${SECRETV}`},
		{"int from file", "kafka: {topics: {partitions: \"${file:" + file + "}\"}}\n", `got the value of ${file:` + file + `}`},
		{"list from env", "kafka:\n  brokers: ${SECRETV}\n", `kafka.brokers: must be a list, got the value of ${SECRETV}`},
		{"bool from env", "kafka: {topics: {create: \"x-${SECRETV}\"}}\n", `got the value of "x-${SECRETV}"`},
		{"duration from env", "targets:\n  refresh: ${SECRETV}\n", `targets.refresh: the value of ${SECRETV} is not a duration`},
		{"duration from file", "targets: {refresh: \"${file:" + file + "}\"}\n", `targets.refresh: the value of ${file:`},
		{"host:port from env", "admin:\n  listen: ${SECRETV}\n", `admin.listen: the value of ${SECRETV} is not host:port`},
		{"host:port from file", "admin: {listen: \"${file:" + file + "}\"}\n", `admin.listen: the value of ${file:`},
		{"log level", "log:\n  level: ${SECRETV}\n", `log.level: the value of ${SECRETV} is not one of`},
		{"broker", "kafka: {brokers: [\"${SECRETV}\"]}\n", `kafka.brokers[0]: the value of ${SECRETV} is not host:port`},
		{"through an alias", "x: &s ${SECRETV}\nkafka: {topics: {partitions: *s}}\n", `got the value of ${SECRETV}`},
		{"zone", "normalizer:\n  zones:\n    ionos: ${SECRETV}\n", `normalizer.zones.ionos: the value of ${SECRETV} is not an IANA`},
		{"sasl mechanism", "kafka:\n  brokers: [\"k:9092\"]\n  sasl:\n    mechanism: ${SECRETV}\n    username: u\n    password: p\n", `got the value of ${SECRETV}`},
		{"in a plug-in block", "pollers: [{name: a, provider: ionos, settings: {tenant: t, page_size: \"${SECRETV}\"}}]\n", `pollers[0].settings.page_size: must be a whole number, got the value of ${SECRETV}`},
		{"plug-in duration", "pollers: [{name: a, provider: ionos, settings: {tenant: t, timeout: \"${file:" + file + "}\"}}]\n", `pollers[0].settings.timeout: the value of ${file:`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(check(t, strings.ReplaceAll(tc.doc, "\t", "")), "\n")
			if strings.Contains(got, "hunter2") {
				t.Errorf("the secret is in the problems:\n%s", got)
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("want %q in:\n%s", tc.want, got)
			}
		})
	}
}

// TestLargeFileIsRefused: a file over 8 MiB is a problem, not silently cut.
func TestLargeFileIsRefused(t *testing.T) {
	doc := "log: {level: info}\n" + "# " + strings.Repeat("x", 8<<20) + "\n"
	var p config.Problems
	if c := config.Decode("f.yaml", strings.NewReader(doc), &p); c != nil {
		t.Errorf("decoded")
	}
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), "file is larger than 8 MiB") {
		t.Errorf("err = %v", err)
	}
	exact := bytes.Repeat([]byte("#"), 8<<20)
	exact[len(exact)-1] = '\n'
	if _, err := config.Parse(bytes.NewReader(exact)); err != nil {
		t.Errorf("exactly 8 MiB: %v", err)
	}
}

// TestOneYAMLDocument: a second document is a problem at its line.
func TestOneYAMLDocument(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"two documents", "log: {level: info}\n---\nlog: {level: debug}\n", "f.yaml:2:1: more than one YAML document (---): auditstream reads one"},
		{"a broken second document", "log: {level: info}\n---\nlog: [\n", "more than one YAML document (---): auditstream reads one"},
		{"after ...", "log: {level: info}\n...\nlog: {level: debug}\n", "more than one YAML document"},
		{"one document with ---", "---\nlog: {level: info}\n", ""},
		{"a trailing --- alone", "log: {level: info}\n---\n", ""},
		{"a trailing ...", "log: {level: info}\n...\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p config.Problems
			config.Decode("f.yaml", strings.NewReader(tc.doc), &p)
			err := p.Err()
			if tc.want == "" {
				if err != nil {
					t.Errorf("err = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
