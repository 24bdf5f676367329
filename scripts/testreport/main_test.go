package main

import (
	"bytes"
	"strings"
	"testing"
)

// A run with a passing, a failing and a skipped integration test, a subtest and a
// package line: the report keeps go test's lines, lists the integration tests with the
// skip's reason, counts top-level tests only, and exits 1.
func TestReport(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestA/sub"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestIntegrationDB","Output":"    db_test.go:9: no PostgreSQL: set AUDITSTREAM_POSTGRES_DSN\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestIntegrationDB"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:3: boom\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestB"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t0.1s\n"}`,
		`{"Action":"fail","Package":"p"}`,
		`not json`,
	}, "\n")
	var out bytes.Buffer
	if code := report(strings.NewReader(in), &out); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	got := out.String()
	for _, want := range []string{"not json\n", "b_test.go:3: boom", "FAIL\tp\t0.1s",
		"integration tests: 0 ran, 1 skipped", "SKIP p TestIntegrationDB: db_test.go:9: no PostgreSQL",
		"\ntests: 1 passed, 1 failed, 1 skipped\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasSuffix(got, "tests: 1 passed, 1 failed, 1 skipped\n") {
		t.Errorf("the count is not the last line:\n%s", got)
	}
}
