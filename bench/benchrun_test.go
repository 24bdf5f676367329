package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/testkit"
)

func TestParseStatCPU(t *testing.T) {
	// pid (comm with a space and a paren) state ppid … utime=250 stime=50 (fields 14, 15).
	line := "2535 (java (x) y) S 1 2535 2535 0 -1 4194560 1 2 3 4 250 50 0 0 20 0 60 0 100 0 0"
	got, err := parseStatCPU(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * time.Second; got != want {
		t.Fatalf("cpu = %s, want %s", got, want)
	}
	if _, err := parseStatCPU("no command here"); err == nil {
		t.Fatal("a line without a command was accepted")
	}
	if _, err := parseStatCPU("1 (x) S 1 2"); err == nil {
		t.Fatal("a short line was accepted")
	}
}

func TestOwnProcessCPUAndMemory(t *testing.T) {
	cpu, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cpu < 0 {
		t.Fatalf("cpu %s", cpu)
	}
	rss, hwm, err := procMem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || hwm < rss {
		t.Fatalf("rss %d hwm %d", rss, hwm)
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkNormalize/ionos-2         	    7129	    239009 ns/op	   3.30 MB/s	      5597 events/cpu-s	   62990 B/op	    1127 allocs/op
BenchmarkNormalize/ionos-2         	    7000	    241000 ns/op	   3.30 MB/s	      5500 events/cpu-s	   62990 B/op	    1127 allocs/op
BenchmarkOther    	 100	  10 ns/op
PASS`
	bs := parseGoBench(out)
	if len(bs) != 3 || bs[0].Name != "BenchmarkNormalize/ionos" || bs[0].Metrics["events/cpu-s"] != 5597 || bs[2].Metrics["ns/op"] != 10 {
		t.Fatalf("parsed %+v", bs)
	}
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Fatalf("median %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Fatalf("median %v", m)
	}
	if s := num(1234567.4); s != "1,234,567" {
		t.Fatalf("num = %s", s)
	}
}

func TestJSONSectionIsKept(t *testing.T) {
	doc := "# Benchmarks\n\n## Normalizer alone\n\nold\n\n## JSON handling\n\n| lib | x |\n|---|---|\n\nchoice\n\n## Poller cost\n\nold\n"
	path := testkit.WriteFile(t, t.TempDir(), "b.md", doc)
	got := jsonSection(path)
	if !strings.HasPrefix(got, "## JSON handling\n") || !strings.Contains(got, "choice") || strings.Contains(got, "Poller") {
		t.Fatalf("kept %q", got)
	}
	if jsonSection(filepath.Join(t.TempDir(), "none.md")) != "" {
		t.Fatal("a missing file gave a section")
	}
}

func TestTopLines(t *testing.T) {
	top := "File: x\nType: cpu\nShowing nodes accounting for 1s\n      flat  flat%\n a\n b\n c\n"
	got := topLines(top, 2)
	if got != "Type: cpu\nShowing nodes accounting for 1s\n      flat  flat%\n a\n b\n" {
		t.Fatalf("top = %q", got)
	}
}

func TestChecksUseTheDefaultValidationMode(t *testing.T) {
	gb := parseGoBench(`BenchmarkNormalize/ionos/validate=off-2  10  1 ns/op  250000 events/cpu-s
BenchmarkNormalize/ionos/validate=sample-2  10  1 ns/op  190000 events/cpu-s
BenchmarkNormalize/conga/validate=sample-2  10  1 ns/op  120000 events/cpu-s
`)
	r := &results{Lookback: &lookbackResult{FirstRequests: 20, IdleRequests: 1},
		Pollers: []pollerResult{{Targets: 1000, RSS: 100 << 20}, {Targets: 10000, RSS: 115 << 20, CursorBytes: 1 << 20}}}
	got := map[string]bool{}
	for _, c := range checks(r, gb) {
		got[c.what] = c.ok
	}
	want := map[string]bool{
		"normalizer alone, ionos: ≥ 200,000 events per CPU-second":               false, // the sample mode counts
		"normalizer alone, conga: ≥ 100,000 events per CPU-second":               true,
		"10-year first poll of an idle IONOS contract: ≤ 50 requests":            true,
		"idle poll of an unchanged contract: 1 request":                          true,
		"poller RSS flat ±10 % beyond cursor bytes from 1,000 to 10,000 targets": false, // +14 %
	}
	for k, v := range want {
		if ok, present := got[k]; !present || ok != v {
			t.Errorf("%s: present %v ok %v, want ok %v (all: %v)", k, present, ok, v, got)
		}
	}
}

func TestSinkSection(t *testing.T) {
	out := `goos: linux
pkg: github.com/auditstream/auditstream/sinks/projection/ecs
BenchmarkProjectionECS
BenchmarkProjectionECS-2   	     138	   8312723 ns/op	     60149 events/s	 1488225 B/op	   21189 allocs/op
PASS
pkg: github.com/auditstream/auditstream/sinks/postgres
BenchmarkSinkPostgresWrite500
    bench_test.go:22: skipping: needs a real PostgreSQL (AUDITSTREAM_POSTGRES_DSN unset)
--- SKIP: BenchmarkSinkPostgresWrite500
BenchmarkSinkPostgresRedeliver500
    postgres_test.go:40: level=INFO msg=opened
    postgres_test.go:57: admin: connection refused
--- FAIL: BenchmarkSinkPostgresRedeliver500
FAIL
# sinkbench: PostgreSQL: fsync=off, synchronous_commit=off
`
	res, notes := parseSinkBench(out)
	if r := res["BenchmarkProjectionECS"]; r.NotRun != "" || r.Metrics["events/s"] != 60149 || r.Metrics["allocs/op"] != 21189 {
		t.Fatalf("ECS: %+v", r)
	}
	if r := res["BenchmarkSinkPostgresWrite500"]; r.NotRun != "skipping: needs a real PostgreSQL (AUDITSTREAM_POSTGRES_DSN unset)" {
		t.Fatalf("skipped: %+v", r)
	}
	if r := res["BenchmarkSinkPostgresRedeliver500"]; r.NotRun != "admin: connection refused" {
		t.Fatalf("failed: %+v", r)
	}
	if len(notes) != 1 || notes[0] != "PostgreSQL: fsync=off, synchronous_commit=off" {
		t.Fatalf("notes %q", notes)
	}
	got := sinkSection(out, 2)
	for _, want := range []string{
		"## Sinks\n",
		"runs with **fsync off**",
		"on the same 2 cores",
		"| events/s | ns/op | B/op | allocs/op |",
		"| `BenchmarkProjectionECS` | ECS projection: encode a batch of 500 events (no I/O) | **60,149** | 8,312,723 | 1,488,225 | 21,189 |\n",
		"| `BenchmarkSinkPostgresWrite500` | PostgreSQL: write 500 new events (COPY, INSERT … ON CONFLICT, commit) | not run: skipping: needs a real PostgreSQL (AUDITSTREAM_POSTGRES_DSN unset) | | | |\n",
		"| `BenchmarkSinkPostgresRedeliver500` | PostgreSQL: write the same 500 events again (all duplicates) | not run: admin: connection refused | | | |\n",
		"| `BenchmarkElasticsearchWrite` | OpenSearch: `_bulk` of 500 new events, every item checked | not run: no result in the benchmark output | | | |\n",
		"- PostgreSQL: fsync=off, synchronous_commit=off\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("section lacks %q:\n%s", want, got)
		}
	}
	if sinkSection("  \n", 2) != "" {
		t.Fatal("no sink output gave a section")
	}
}
