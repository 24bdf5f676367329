package file

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/sinktest"
)

func ev(id string) sinks.Event {
	return sinks.Event{ID: id, Value: []byte(fmt.Sprintf(`{"metadata":{"uid":%q},"time":1}`, id))}
}

func openWith(t *testing.T, cfg Settings) *Sink {
	t.Helper()
	s, err := Open("t", cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func open(t *testing.T, path string) *Sink { return openWith(t, Settings{Path: path}) }

func write(t *testing.T, s *Sink, batch ...sinks.Event) []sinks.ItemResult {
	t.Helper()
	res := make([]sinks.ItemResult, len(batch))
	if err := s.Write(context.Background(), batch, res); err != nil {
		t.Fatal(err)
	}
	return res
}

func statuses(res []sinks.ItemResult) string {
	var b strings.Builder
	for _, r := range res {
		b.WriteString(r.Status.String()[:1])
	}
	return b.String()
}

func lines(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// countIDs reads the current file and every rotated file (plain or gzip) and counts the
// lines of each id.
func countIDs(t *testing.T, path string) map[string]int {
	t.Helper()
	out := map[string]int{}
	files, _ := filepath.Glob(path + ".*")
	files = append(files, path)
	for _, f := range files {
		if strings.HasSuffix(f, ".lock") {
			continue
		}
		fh, err := os.Open(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = fh
		if strings.HasSuffix(f, ".gz") {
			zr, err := gzip.NewReader(fh)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			r = zr
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			if id := lineID(sc.Bytes()); id != "" {
				out[id]++
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		fh.Close()
	}
	return out
}

func TestConformance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T, log *slog.Logger) sinks.Sink {
			// A small rotate_bytes: the suite's events end up spread over rotated files.
			s, err := Open("conformance", Settings{Path: path, RotateBytes: 4096}, log)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Count: func(t *testing.T, ids []string) map[string]int { return countIDs(t, path) },
		Poison: func(e *sinks.Event) {
			e.Value = []byte("{\"not\":\n\"single-line\"}")
		},
		Unsupported: map[string]string{
			sinktest.CaseUnavailable:    "a local file has no outage the test can cause short of a full disk (a rotation that cannot open its new file: TestUnopenableFileAfterRotationIsFatal)",
			sinktest.CaseBadCredentials: "a file has no credentials",
			sinktest.CaseForbidden:      "an open file keeps its access when permissions change, and tests may run as root (an unwritable path at Open: TestUnwritablePathIsAClearError)",
			sinktest.CaseCancelMidWrite: "a local append cannot be slowed down: Write checks its context before it starts, then appends and fsyncs at once",
			sinktest.CaseNoSecretLeaks:  "no secret configured",
		},
	})
}

func TestIdempotentAcrossBatchesAndRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "events.jsonl")
	s := open(t, path)
	if got := statuses(write(t, s, ev("a"), ev("b"), ev("a"))); got != "wwd" {
		t.Fatalf("statuses %s", got)
	}
	_ = s.Close(context.Background())
	s2 := open(t, path)
	if s2.Count() != 2 {
		t.Fatalf("reopened with %d ids, want 2", s2.Count())
	}
	if got := statuses(write(t, s2, ev("b"), ev("c"))); got != "dw" {
		t.Fatalf("statuses %s", got)
	}
	if got := lines(t, path); len(got) != 3 {
		t.Fatalf("file has %d lines: %q", len(got), got)
	}
}

func TestTornLastLineIsDropped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	good := `{"metadata":{"uid":"a"}}` + "\n"
	if err := os.WriteFile(path, []byte(good+`{"metadata":{"uid":"b"`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	if s.Count() != 1 {
		t.Fatalf("%d ids after a torn line, want 1", s.Count())
	}
	// "b" was never fully written: it is written now, on a line of its own.
	write(t, s, ev("b"))
	got := lines(t, path)
	if len(got) != 2 || got[0] != strings.TrimSpace(good) || !strings.Contains(got[1], `"b"`) {
		t.Fatalf("file = %q", got)
	}
}

func TestPoisonEventIsRejectedOthersWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s := open(t, path)
	bad := sinks.Event{ID: "x", Value: []byte("{\"a\":\n1}")}
	res := write(t, s, ev("a"), bad, ev("b"))
	if statuses(res) != "wrw" || res[1].Reason != "not_json" || res[1].Err == nil {
		t.Fatalf("results %+v", res)
	}
	if got := lines(t, path); len(got) != 2 {
		t.Fatalf("file has %d lines", len(got))
	}
}

func TestUnwritablePathIsAClearError(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open("t", Settings{Path: filepath.Join(blocker, "events.jsonl")}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "file sink t") {
		t.Fatalf("err = %v", err)
	}
}

func TestSecondWriterIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s := open(t, path)
	_, err := Open("other", Settings{Path: path}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "in use by another sink") {
		t.Fatalf("second writer: err = %v", err)
	}
	_ = s.Close(context.Background())
	// Once the first is closed, the file can be opened again.
	open(t, path)
}

func TestRotationBySizeGzipsAndStaysIdempotentAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s := openWith(t, Settings{Path: path, RotateBytes: 100, DedupFiles: 10})
	for i := range 10 {
		write(t, s, ev(fmt.Sprintf("e%d", i)), ev(fmt.Sprintf("f%d", i)))
	}
	gz, _ := filepath.Glob(path + ".*.gz")
	plain, _ := filepath.Glob(path + ".*Z")
	if len(gz) < 4 || len(plain) != 0 {
		t.Fatalf("rotated: %d gzip files, %d plain ones (%v)", len(gz), len(plain), plain)
	}
	_ = s.Close(context.Background())
	s2 := openWith(t, Settings{Path: path, RotateBytes: 100, DedupFiles: 10})
	if s2.Count() != 20 {
		t.Fatalf("reopened knowing %d ids, want 20 (current and rotated files)", s2.Count())
	}
	// Redelivery of events now only in rotated files writes nothing.
	if got := statuses(write(t, s2, ev("e0"), ev("f3"), ev("new"))); got != "ddw" {
		t.Fatalf("statuses %s", got)
	}
	for id, n := range countIDs(t, path) {
		if n != 1 {
			t.Fatalf("%s stored %d times", id, n)
		}
	}
	if n := len(countIDs(t, path)); n != 21 {
		t.Fatalf("%d ids stored, want 21", n)
	}
}

func TestRotationByTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s := openWith(t, Settings{Path: path, RotateEvery: config.Duration(time.Hour)})
	write(t, s, ev("a"))
	s.mu.Lock()
	s.period-- // the current file belongs to the previous hour
	s.mu.Unlock()
	write(t, s, ev("b"))
	gz, _ := filepath.Glob(path + ".*.gz")
	if len(gz) != 1 {
		t.Fatalf("%d rotated files, want 1", len(gz))
	}
	if got := lines(t, path); len(got) != 1 || !strings.Contains(got[0], `"b"`) {
		t.Fatalf("current file %q", got)
	}
}

func TestOpenFinishesAnInterruptedRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	// A crash after the rename, before the compression finished.
	rotated := path + ".20260101T000000.000000000Z"
	if err := os.WriteFile(rotated, []byte(`{"metadata":{"uid":"old"}}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rotated+".gz.tmp", []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	if s.Count() != 1 {
		t.Fatalf("%d ids known, want the rotated one", s.Count())
	}
	if _, err := os.Stat(rotated + ".gz"); err != nil {
		t.Fatalf("rotated file not compressed: %v", err)
	}
	for _, p := range []string{rotated, rotated + ".gz.tmp"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s left behind", p)
		}
	}
	if got := statuses(write(t, s, ev("old"))); got != "d" {
		t.Fatalf("statuses %s", got)
	}
}

func TestSettingsValidate(t *testing.T) {
	var p config.Problems
	s := Settings{RotateBytes: -1, RotateEvery: config.Duration(time.Millisecond), DedupFiles: -1}
	s.Validate("s", &p)
	got := fmt.Sprint(p.Err())
	for _, want := range []string{"s.path", "s.rotate_bytes", "s.rotate_every", "s.dedup_files"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %s: %s", want, got)
		}
	}
}

// The id index covers the current file and the newest dedup_files rotated files only: it
// stays bounded however many files rotate, at run time and after a restart, and a
// redelivery inside that horizon is still answered duplicate.
func TestDedupHorizonIsBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	// Each batch fills a file (two lines of about 30 bytes): the next one rotates it.
	cfg := Settings{Path: path, RotateBytes: 50, DedupFiles: 2}
	s := openWith(t, cfg)
	for i := range 20 {
		write(t, s, ev(fmt.Sprintf("e%02d", i)), ev(fmt.Sprintf("f%02d", i)))
		// The current file and at most two rotated ones, two ids each.
		if n := s.Count(); n > 6 {
			t.Fatalf("after %d batches the sink holds %d ids, want at most 6", i+1, n)
		}
	}
	gz, _ := filepath.Glob(path + ".*.gz")
	if len(gz) != 19 {
		t.Fatalf("%d rotated files, want 19", len(gz))
	}
	// The full current file rotates first: the last two batches are now the two
	// remembered rotated files, and a redelivery of them writes nothing.
	if got := statuses(write(t, s, ev("e19"), ev("f18"))); got != "dd" {
		t.Fatalf("redelivery inside the horizon: statuses %s, want dd", got)
	}
	_ = s.Close(context.Background())

	s2 := openWith(t, cfg)
	if n := s2.Count(); n != 4 {
		t.Fatalf("reopened holding %d ids, want 4 (two rotated files, an empty current one)", n)
	}
	if got := statuses(write(t, s2, ev("f19"), ev("e18"))); got != "dd" {
		t.Fatalf("redelivery inside the horizon after a restart: statuses %s, want dd", got)
	}
	// Beyond the horizon an id is forgotten (documented): written again.
	if got := statuses(write(t, s2, ev("e00"))); got != "w" {
		t.Fatalf("an id beyond the horizon: status %s, want written", got)
	}
}

// A file created at the path between a rotation's rename and the opening of the new file
// is adopted (checked, its ids loaded, appended to): the sink keeps writing instead of
// failing every later Write.
func TestStrayFileDuringRotationIsAdopted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s := openWith(t, Settings{Path: path, RotateBytes: 10})
	write(t, s, ev("a"))
	s.afterRename = func() {
		if err := os.WriteFile(path, []byte(`{"metadata":{"uid":"stray"}}`+"\n"), 0o644); err != nil {
			t.Error(err)
		}
	}
	if got := statuses(write(t, s, ev("b"), ev("stray"))); got != "wd" {
		t.Fatalf("statuses %s, want wd (the stray file's id is known)", got)
	}
	s.afterRename = nil
	if got := statuses(write(t, s, ev("c"), ev("a"))); got != "wd" {
		t.Fatalf("statuses %s, want wd", got)
	}
	n := countIDs(t, path)
	for _, id := range []string{"a", "b", "c", "stray"} {
		if n[id] != 1 {
			t.Fatalf("%s stored %d times: %v", id, n[id], n)
		}
	}
}

// When the new file cannot be opened at all (a directory took the path), Write fails
// fatally naming the path, rather than retrying forever; once the path is fixed, the next
// Write resumes.
func TestUnopenableFileAfterRotationIsFatal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s := openWith(t, Settings{Path: path, RotateBytes: 10})
	write(t, s, ev("a"))
	s.afterRename = func() {
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Error(err)
		}
	}
	for range 2 { // the rotation, then a later Write
		err := s.Write(context.Background(), []sinks.Event{ev("b")}, make([]sinks.ItemResult, 1))
		if !sinks.IsFatal(err) || !strings.Contains(err.Error(), path) {
			t.Fatalf("Write returned %v, want a fatal error naming %s", err, path)
		}
		s.afterRename = nil
	}
	if err := s.Ping(context.Background()); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Ping returned %v, want an error naming %s", err, path)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if got := statuses(write(t, s, ev("b"), ev("a"))); got != "wd" {
		t.Fatalf("after the path was fixed: statuses %s, want wd", got)
	}
}
