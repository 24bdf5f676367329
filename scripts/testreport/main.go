// Command testreport reads `go test -json` on stdin and prints what `go test` prints (a
// line per package, the output of the tests that failed, build errors), then which
// integration tests (TestIntegration…) ran and which were skipped, with the reason: the
// list `make test` ends with, so that a run shows whether the servers' tests ran.
// It ends with one line counting the tests ("tests: N passed, N failed, N skipped") and
// exits 1 when a test or a build failed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// event is one line of test2json.
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	Elapsed    float64
	ImportPath string
}

type integration struct {
	pkg, test, result, reason string
	elapsed                   float64
}

func main() {
	os.Exit(report(os.Stdin, os.Stdout))
}

func report(in io.Reader, out io.Writer) int {
	output := map[[2]string][]string{} // package, test -> its output lines
	var its []integration
	var counts [3]int // top-level tests passed, failed, skipped
	failed := false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintln(out, sc.Text()) // not test2json: pass it on
			continue
		}
		top, _, sub := strings.Cut(e.Test, "/")
		k := [2]string{e.Package, top} // a subtest's output goes with its test's
		switch e.Action {
		case "build-output":
			fmt.Fprint(out, e.Output)
		case "build-fail":
			failed = true
		case "output":
			output[k] = append(output[k], e.Output)
		case "pass", "fail", "skip":
			if sub {
				continue // its test's result says it
			}
			if e.Test == "" {
				if e.Action == "fail" {
					failed = true
					printLines(out, output[k])
				} else {
					printResult(out, output[k])
				}
			} else {
				counts[slices.Index([]string{"pass", "fail", "skip"}, e.Action)]++
				if e.Action == "fail" {
					printLines(out, output[k])
				}
				if strings.HasPrefix(e.Test, "TestIntegration") {
					its = append(its, integration{pkg: e.Package, test: e.Test, result: e.Action, reason: skipReason(output[k]), elapsed: e.Elapsed})
				}
			}
			delete(output, k)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(out, "testreport:", err)
		failed = true
	}
	summary(out, its)
	// The closing line: every top-level test (subtests count with their test).
	fmt.Fprintf(out, "\ntests: %d passed, %d failed, %d skipped\n", counts[0], counts[1], counts[2])
	if failed {
		return 1
	}
	return 0
}

// printResult prints the package's result line ("ok  \tpkg\t1.2s", "?   \tpkg\t[no test files]").
func printResult(out io.Writer, lines []string) {
	for _, l := range lines {
		if strings.HasPrefix(l, "ok  ") || strings.HasPrefix(l, "?   ") || strings.HasPrefix(l, "FAIL") {
			fmt.Fprint(out, l)
		}
	}
}

func printLines(out io.Writer, lines []string) {
	for _, l := range lines {
		fmt.Fprint(out, l)
	}
}

// skipReason is the message of a skipped test (t.Skip's line), trimmed.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "---") || strings.HasPrefix(l, "===") {
			continue
		}
		return l
	}
	return ""
}

func summary(out io.Writer, its []integration) {
	slices.SortFunc(its, func(a, b integration) int {
		return strings.Compare(a.pkg+" "+a.test, b.pkg+" "+b.test)
	})
	ran, skipped := 0, 0
	for _, it := range its {
		if it.result == "skip" {
			skipped++
		} else {
			ran++
		}
	}
	fmt.Fprintf(out, "\nintegration tests: %d ran, %d skipped\n", ran, skipped)
	for _, it := range its {
		d := time.Duration(it.elapsed * float64(time.Second)).Round(10 * time.Millisecond)
		switch it.result {
		case "skip":
			fmt.Fprintf(out, "  SKIP %s %s: %s\n", it.pkg, it.test, it.reason)
		case "fail":
			fmt.Fprintf(out, "  FAIL %s %s (%s)\n", it.pkg, it.test, d)
		default:
			fmt.Fprintf(out, "  ran  %s %s (%s)\n", it.pkg, it.test, d)
		}
	}
}
