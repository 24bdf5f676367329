// Package docs_test checks that the operator documentation matches the code: every
// metric name and every log message that docs/operations.md and the READMEs cite exists
// in the code.
package docs_test

import (
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/metrics"
)

// root is the module's root, from this package's directory.
const root = ".."

// citingDocs are the files whose citations are checked: docs/operations.md and every
// README of the module.
func citingDocs(t *testing.T) []string {
	t.Helper()
	files := []string{filepath.Join(root, "docs", "operations.md")}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && p != root || d.Name() == "testdata" || d.Name() == "node_modules" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "README.md" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// metricNames are the names of every metric auditstream registers (with a histogram's
// _bucket, _sum and _count series), read from the metric descriptions.
func metricNames(t *testing.T) map[string]bool {
	t.Helper()
	rec := &recorder{}
	metrics.New(rec, "test")
	names := map[string]bool{}
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for _, c := range rec.cs {
		ch := make(chan *prometheus.Desc, 64)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			if m := fq.FindStringSubmatch(d.String()); m != nil {
				names[m[1]] = true
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					names[m[1]+suffix] = true
				}
			}
		}
	}
	return names
}

type recorder struct{ cs []prometheus.Collector }

func (r *recorder) Register(c prometheus.Collector) error   { r.cs = append(r.cs, c); return nil }
func (r *recorder) MustRegister(cs ...prometheus.Collector) { r.cs = append(r.cs, cs...) }
func (r *recorder) Unregister(prometheus.Collector) bool    { return true }

// codeStrings are the string literals of every non-test Go file of the module.
func codeStrings(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && p != root || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var s scanner.Scanner
		fset := token.NewFileSet()
		s.Init(fset.AddFile(p, -1, len(src)), src, nil, 0)
		for {
			_, tok, lit := s.Scan()
			if tok == token.EOF {
				break
			}
			if tok == token.STRING {
				if v, err := strconv.Unquote(lit); err == nil {
					out = append(out, v)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	// A metric is cited by its full name.
	metricRef = regexp.MustCompile(`\bauditstream_[a-z0-9_]*[a-z0-9]`)
	// The README's Metrics section lists names without the prefix, in backticks.
	shortMetricRef = regexp.MustCompile("`([a-z][a-z0-9_]*)(?:\\{[^`]*\\})?`")
	// A log message is cited as msg="…" or "msg":"…" (a log record), or in backticks or
	// quotes next to the words "log line(s)", "logs (" or "logged (".
	logRefs = []*regexp.Regexp{
		regexp.MustCompile(`msg=\\?"([^"\\]+)`),
		regexp.MustCompile(`"msg":"([^"]+)"`),
		regexp.MustCompile("`([^`]+)` log lines?"),
		regexp.MustCompile(`"([^"]+)" log lines?`),
		regexp.MustCompile("logs? \\(`([^`]+)`"),
		regexp.MustCompile("logged \\(`([^`]+)`"),
	}
)

// The metric names the documentation cites are the code's.
func TestDocsCiteExistingMetrics(t *testing.T) {
	names := metricNames(t)
	if !names["auditstream_poll_requests_total"] || !names["auditstream_source_up"] {
		t.Fatalf("metric names not read: %v", names)
	}
	for _, f := range citingDocs(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, m := range metricRef.FindAllString(text, -1) {
			if !names[m] {
				t.Errorf("%s cites metric %s, which the code does not define (internal/metrics)", f, m)
			}
		}
		if filepath.Clean(f) == filepath.Join(root, "README.md") {
			sec := section(text, "## Metrics")
			if sec == "" {
				t.Fatalf("README.md has no Metrics section")
			}
			for _, m := range shortMetricRef.FindAllStringSubmatch(sec, -1) {
				if !names["auditstream_"+m[1]] && !strings.HasPrefix(m[1], "auditstream_") {
					t.Errorf("README.md's Metrics section cites %s, which the code does not define (auditstream_%s)", m[1], m[1])
				}
			}
		}
	}
}

// The log messages the documentation cites are logged by the code (the part before the
// first ": " of a cited message, which is where the code's variable part begins).
func TestDocsCiteExistingLogMessages(t *testing.T) {
	lits := codeStrings(t)
	found := func(msg string) bool {
		for _, l := range lits {
			if strings.Contains(l, msg) {
				return true
			}
		}
		return false
	}
	n := 0
	for _, f := range citingDocs(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range logRefs {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				msg, _, _ := strings.Cut(m[1], ": ")
				msg = strings.TrimSpace(msg)
				if msg == "" {
					continue
				}
				n++
				if !found(msg) {
					t.Errorf("%s cites the log message %q, which no code logs", f, msg)
				}
			}
		}
	}
	if n < 3 {
		t.Fatalf("only %d log messages cited: the patterns no longer match the docs", n)
	}
}

// section is the text of the markdown section that starts with heading, up to the next
// heading of the same level.
func section(text, heading string) string {
	i := strings.Index(text, "\n"+heading+"\n")
	if i < 0 {
		return ""
	}
	rest := text[i+len(heading)+2:]
	level := heading[:strings.Index(heading, " ")+1]
	if j := strings.Index(rest, "\n"+level); j >= 0 {
		rest = rest[:j]
	}
	return rest
}
