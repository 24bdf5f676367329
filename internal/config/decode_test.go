package config_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/config"
)

// block is a provider settings block for the tests: decoded by config.DecodeBlock like
// every plug-in's.
type block struct {
	Tenant   string          `yaml:"tenant"`
	PageSize int             `yaml:"page_size"`
	Token    config.Secret   `yaml:"token"`
	Timeout  config.Duration `yaml:"timeout"`
}

func (b *block) SetDefaults() {
	if b.PageSize == 0 {
		b.PageSize = 100
	}
}

func (b *block) Validate(path string, p *config.Problems) {
	if b.Tenant == "" {
		p.Add(path+".tenant", "is required")
	}
	if b.PageSize < 1 || b.PageSize > 1000 {
		p.Add(path+".page_size", "must be between 1 and 1000")
	}
}

// check decodes doc as the file "f.yaml", validates it and decodes every poller's block,
// all in one pass, and returns the problems as printed.
func check(t *testing.T, doc string) []string {
	t.Helper()
	var p config.Problems
	c := config.Decode("f.yaml", strings.NewReader(doc), &p)
	if c == nil {
		t.Fatalf("not decoded: %v", p.Err())
	}
	c.Validate(&p)
	for i, pc := range c.Pollers {
		config.DecodeBlock[block](&pc.Settings, fmt.Sprintf("pollers[%d].settings", i), &p)
	}
	err := p.Err()
	if err == nil {
		return nil
	}
	return err.(*config.Error).Problems
}

var goTypeName = regexp.MustCompile(`\bconfig\.|\b(u?int(8|16|32|64)?|float(32|64))\b|!!|unmarshal|\[\]|\*|in type|struct`)

// TestBrokenConfigurationsOnePass: every problem of a broken file is reported in one run,
// each at its line and column with its path, sorted by place, with no Go type names.
func TestBrokenConfigurationsOnePass(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		want []string // "f.yaml:line:col: path: message" (message: its beginning)
	}{{
		name: "everything at once",
		doc: `log:
  level: info

kafka:
  topics:
    partitons: 3

    replication_factor: four
pollers:
  - name: a
    provider: ionos
    parallel: many
    jitter: soon
    settings:

      tenant: t
      pagesize: 10
      token: ${AS_TEST_UNSET_TOKEN}
  - {name: b, settings: {tenant: x, page_size: [1]}}
targets: {refresh: 5s, sesion_timeout: 10s}
`,
		want: []string{
			`f.yaml:6:5: kafka.topics.partitons: unknown key (did you mean "partitions"?)`,
			`f.yaml:8:25: kafka.topics.replication_factor: must be a whole number, got "four"`,
			`f.yaml:12:15: pollers[0].parallel: must be a whole number, got "many"`,
			`f.yaml:13:13: pollers[0].jitter: "soon" is not a duration`,
			`f.yaml:17:7: pollers[0].settings.pagesize: unknown key (did you mean "page_size"?)`,
			`f.yaml:18:14: pollers[0].settings.token: environment variable AS_TEST_UNSET_TOKEN is not set`,
			`f.yaml:19:5: pollers[1].provider: is required`,
			`f.yaml:19:48: pollers[1].settings.page_size: must be a whole number, got a list`,
			`f.yaml:20:24: targets.sesion_timeout: unknown key (did you mean "session_timeout"?)`,
		},
	}, {
		name: "unknown key at the top and in a provider block, flow style",
		doc:  "pollerz: []\npollers: [{name: a, provider: ionos, settings: {tenant: t, tenat: u}}]\n",
		want: []string{
			`f.yaml:1:1: pollerz: unknown key (did you mean "pollers"?)`,
			`f.yaml:2:60: pollers[0].settings.tenat: unknown key (did you mean "tenant"?)`,
		},
	}, {
		name: "missing required keys point at their block",
		doc: `
pollers:

  - name: a
    settings:
      page_size: 10
`,
		want: []string{
			`f.yaml:4:5: pollers[0].provider: is required`,
			`f.yaml:5:5: pollers[0].settings.tenant: is required`,
		},
	}, {
		name: "unset variables are problems among the others",
		doc: `kafka:
  brokers: ["${AS_TEST_UNSET_BROKER}"]
  topics: {partitions: "${AS_TEST_UNSET_PARTS}", events: 3, dlq: [x]}
log: {level: loud}
`,
		want: []string{
			`f.yaml:2:13: kafka.brokers[0]: environment variable AS_TEST_UNSET_BROKER is not set`,
			`f.yaml:3:24: kafka.topics.partitions: environment variable AS_TEST_UNSET_PARTS is not set`,
			`f.yaml:3:66: kafka.topics.dlq: must be a string, got a list`,
			`f.yaml:4:14: log.level: "loud" is not one of`,
		},
	}, {
		name: "a value that does not read is one problem, not two",
		doc:  "kafka: {topics: {max_message_bytes: lots}}\npollers: [{name: a, provider: ionos, settings: {tenant: t, page_size: lots, timeout: 3}}]\n",
		want: []string{
			`f.yaml:1:37: kafka.topics.max_message_bytes: must be a whole number, got "lots"`,
			`f.yaml:2:71: pollers[0].settings.page_size: must be a whole number, got "lots"`,
			`f.yaml:2:86: pollers[0].settings.timeout: "3" is not a duration`,
		},
	}, {
		name: "a key given twice, a mapping where a list belongs",
		doc:  "log:\n  level: info\n  level: debug\nsinks: {name: x}\n",
		want: []string{
			`f.yaml:3:3: log.level: key "level" is given twice (first on line 2)`,
			`f.yaml:4:8: sinks: must be a list, got a mapping`,
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := check(t, tc.doc)
			if len(got) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i, w := range tc.want {
				if i >= len(got) || !strings.HasPrefix(got[i], w) {
					t.Errorf("problem %d: want %s\n got:\n%s", i, w, strings.Join(got, "\n"))
				}
			}
			for _, g := range got {
				if goTypeName.MatchString(strings.SplitN(g, ": ", 3)[2]) {
					t.Errorf("a Go type name in %q", g)
				}
			}
		})
	}
}

// TestDecodeKeepsValidConfigurations: anchors, merge keys, nulls and expansion decode as
// before.
func TestDecodeKeepsValidConfigurations(t *testing.T) {
	t.Setenv("AS_TEST_PARTS", "3")
	c := parse(t, `kafka:
  topics:
    partitions: ${AS_TEST_PARTS}
    create: false
    raw_retention: 48h
pollers:
  - name: a
    provider: ionos
    http: &h {timeout: 10s, max_retries: 2}
  - name: b
    provider: ionos
    http:
      <<: *h
      max_retries: 7
    jitter:
`)
	if c.Kafka.Topics.Partitions != 3 || *c.Kafka.Topics.Create || c.Kafka.Topics.RawRetention.D().Hours() != 48 {
		t.Fatalf("kafka: %+v", c.Kafka.Topics)
	}
	if h := c.Pollers[1].HTTP; h.Timeout.D().Seconds() != 10 || h.MaxRetries != 7 || c.Pollers[0].HTTP.MaxRetries != 2 {
		t.Fatalf("http: %+v %+v", c.Pollers[0].HTTP, h)
	}
}

func TestSyntaxErrorHasItsLine(t *testing.T) {
	_, err := config.Parse(strings.NewReader("log:\n  level: info\n bad: [\n"))
	if err == nil || !regexp.MustCompile(`\n  [23]:1: not valid YAML: `).MatchString(err.Error()) {
		t.Fatalf("err = %v", err)
	}
}
