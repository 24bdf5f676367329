package file

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/sinks"
)

func ev(id string) sinks.Event {
	return sinks.Event{ID: id, Value: []byte(fmt.Sprintf(`{"metadata":{"uid":%q},"time":1}`, id))}
}

func open(t *testing.T, path string) *Sink {
	t.Helper()
	s, err := Open("t", Config{Path: path}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func lines(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestIdempotentAcrossBatchesAndRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "events.jsonl")
	s := open(t, path)
	res, err := s.Write(context.Background(), []sinks.Event{ev("a"), ev("b"), ev("a")})
	if err != nil || res.Written != 2 || res.Duplicates != 1 {
		t.Fatalf("res=%+v err=%v", res, err)
	}
	_ = s.Close()
	s2 := open(t, path)
	if s2.Count() != 2 {
		t.Fatalf("reopened with %d ids, want 2", s2.Count())
	}
	res, err = s2.Write(context.Background(), []sinks.Event{ev("b"), ev("c")})
	if err != nil || res.Written != 1 || res.Duplicates != 1 {
		t.Fatalf("res=%+v err=%v", res, err)
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
	if _, err := s.Write(context.Background(), []sinks.Event{ev("b")}); err != nil {
		t.Fatal(err)
	}
	got := lines(t, path)
	if len(got) != 2 || got[0] != strings.TrimSpace(good) || !strings.Contains(got[1], `"b"`) {
		t.Fatalf("file = %q", got)
	}
}

func TestPoisonEventIsRejectedOthersWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s := open(t, path)
	bad := sinks.Event{ID: "x", Value: []byte("{\"a\":\n1}")}
	_, err := s.Write(context.Background(), []sinks.Event{ev("a"), bad, ev("b")})
	var rej *sinks.Rejected
	if !errors.As(err, &rej) || len(rej.ByIndex) != 1 || rej.ByIndex[1] == nil || rej.Written != 2 {
		t.Fatalf("err = %#v", err)
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
	_, err := Open("t", Config{Path: filepath.Join(blocker, "events.jsonl")}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "file sink t") {
		t.Fatalf("err = %v", err)
	}
}

func TestSecondWriterIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s := open(t, path)
	_, err := Open("other", Config{Path: path}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "in use by another sink") {
		t.Fatalf("second writer: err = %v", err)
	}
	_ = s.Close()
	// Once the first is closed, the file can be opened again.
	s2 := open(t, path)
	_ = s2
}
