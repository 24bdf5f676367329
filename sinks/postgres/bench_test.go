package postgres

import (
	"fmt"
	"testing"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/sinktest"
)

// BenchmarkSinkPostgresWrite500: one Write of 500 new events (~0.6 KiB each: COPY into
// the temporary table, INSERT … ON CONFLICT DO NOTHING, commit) against the real
// PostgreSQL of AUDITSTREAM_POSTGRES_DSN (a throwaway cluster runs with fsync off).
func BenchmarkSinkPostgresWrite500(b *testing.B) { benchWrite(b, false) }

// BenchmarkSinkPostgresRedeliver500: the same 500 events written again (all duplicates).
func BenchmarkSinkPostgresRedeliver500(b *testing.B) { benchWrite(b, true) }

func benchWrite(b *testing.B, again bool) {
	st := newStore(b)
	s, err := Open("bench", st.settings(), testkit.Logger(b))
	if err != nil {
		b.Fatal(err)
	}
	warm := sinktest.Events("warm-", 500)
	sinktest.BenchWrite(b, s, warm, func(i int) []sinks.Event {
		if again {
			return warm
		}
		b.StopTimer()
		defer b.StartTimer()
		return sinktest.Events(fmt.Sprintf("b%d-", i), 500)
	})
}
