package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestValidateReportsEveryProblemInOnePass runs `auditstream validate` over broken
// configurations: every problem is reported in one run, one a line, sorted, as
// file:line:col: path: message, with the line and path where it is (also inside a
// provider's block), and with no Go type names.
func TestValidateReportsEveryProblemInOnePass(t *testing.T) {
	t.Setenv("AS_TEST_SET_TOKEN", "t0ken")
	for _, tc := range []struct {
		name string
		yaml string
		want []string // "line:col: path: message" (the message's beginning); the file name is added
	}{{
		name: "every kind of problem at once, blank lines and comments between",
		yaml: `# a comment

log:
  level: info

kafka:
  topics:
    partitons: 3            # unknown key at the top level

    replication_factor: four   # a type error
pollers:
  - name: ionos-a
    provider: ionos
    schedule: "every five minutes"   # a bad cron


    settings:
      token: ${AS_TEST_UNSET_TOKEN}   # an unset variable
      contracts: ["31721060"]

      page_sise: 100          # unknown key in a provider block
      max_results: lots       # a type error in a provider block
  - name: ionos-b
    settings: {token: "${AS_TEST_SET_TOKEN}"}
sinks:
  - name: out
    type: file
    settings:
      rotate_every: 1h
`,
		want: []string{
			`8:5: kafka.topics.partitons: unknown key (did you mean "partitions"?)`,
			`10:25: kafka.topics.replication_factor: must be a whole number, got "four"`,
			`14:15: pollers[0].schedule: schedule "every five minutes":`,
			`18:14: pollers[0].settings.token: environment variable AS_TEST_UNSET_TOKEN is not set`,
			`21:7: pollers[0].settings.page_sise: unknown key (did you mean "page_size"?)`,
			`22:20: pollers[0].settings.max_results: must be a whole number, got "lots"`,
			`23:5: pollers[1].provider: is required`,
			`28:5: sinks[0].settings.path: is required`,
		},
	}, {
		name: "flow style",
		yaml: `kafka: {topics: {partitions: 3, dlq: [a]}, compresion: zstd}
pollers: [{name: a, provider: ionos, jitter: soon, settings: {token: x, page_size: 10, overlap: [1]}}]
sinks: [{name: s, type: file, settings: {path: /tmp/x.jsonl, max_bytes: 1}}]
`,
		want: []string{
			`1:38: kafka.topics.dlq: must be a string, got a list`,
			`1:44: kafka.compresion: unknown key (did you mean "compression"?)`,
			`2:46: pollers[0].jitter: "soon" is not a duration`,
			`2:97: pollers[0].settings.overlap: must be a duration`,
			`3:62: sinks[0].settings.max_bytes: unknown key`,
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "broken.yaml")
			if err := os.WriteFile(file, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			if code := run([]string{"validate", "--config", file}, &out, &errb); code != 1 {
				t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
			}
			lines := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
			if len(lines) != len(tc.want)+1 || lines[len(lines)-1] != file+": "+strconv.Itoa(len(tc.want))+" problems" {
				t.Fatalf("want %d problems, got:\n%s", len(tc.want), errb.String())
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], file+":"+w) {
					t.Errorf("line %d: want %s:%s\n got:\n%s", i, file, w, errb.String())
				}
			}
			// Start-up reads the file with the same code and says the same.
			var rout, rerr bytes.Buffer
			if code := run([]string{"poll", "--config", file}, &rout, &rerr); code != 1 || rerr.String() != errb.String() {
				t.Errorf("poll: exit %d, said:\n%s\nwant what validate said:\n%s", code, rerr.String(), errb.String())
			}
			goNames := regexp.MustCompile(`\b(u?int(8|16|32|64)?|float(32|64))\b|!!|unmarshal|config\.|\[\]|in type`)
			for _, l := range lines {
				if goNames.MatchString(strings.TrimPrefix(l, file)) {
					t.Errorf("a Go type name: %s", l)
				}
			}
		})
	}
}

// TestValidateSyntaxErrorNamesItsLine: YAML that does not parse is one problem at its
// line; an unquoted ${VAR} in flow style (the usual cause) is named.
func TestValidateSyntaxErrorNamesItsLine(t *testing.T) {
	file := filepath.Join(t.TempDir(), "flow.yaml")
	if err := os.WriteFile(file, []byte("log: {level: info}\n\npollers: [{name: a, provider: ionos, settings: {token: ${X}}}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"validate", "--config", file}, &out, &errb); code != 1 ||
		!strings.HasPrefix(errb.String(), file+":3:1: not valid YAML: ") || !strings.Contains(errb.String(), `must be quoted: "${VAR}"`) {
		t.Fatalf("exit %d:\n%s", code, errb.String())
	}
}
