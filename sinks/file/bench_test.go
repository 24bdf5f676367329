package file

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/sinks"
)

func benchWrite(b *testing.B, fsync bool) {
	s, err := Open("b", Settings{Path: filepath.Join(b.TempDir(), "e.jsonl"), NoFsync: !fsync}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	pad := strings.Repeat("x", 900) // ~1 KiB events, like the IONOS ones
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		batch := make([]sinks.Event, 500)
		for j := range batch {
			id := fmt.Sprintf("id-%d", i)
			i++
			batch[j] = sinks.Event{ID: id, Value: []byte(fmt.Sprintf(`{"metadata":{"uid":%q},"p":%q}`, id, pad))}
		}
		if err := s.Write(context.Background(), batch, make([]sinks.ItemResult, len(batch))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkWriteBatch500Fsync: a 500-event batch appended and fsynced.
func BenchmarkWriteBatch500Fsync(b *testing.B) { benchWrite(b, true) }

// BenchmarkWriteBatch500NoFsync: the same without fsync.
func BenchmarkWriteBatch500NoFsync(b *testing.B) { benchWrite(b, false) }
