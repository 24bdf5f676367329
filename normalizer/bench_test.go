package normalizer

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/auditstream/auditstream/schemas"
)

// cpuTime is the process's user+system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchNormalize runs Normalize on one envelope and reports events per CPU-second (user +
// system time of the whole process, so GC work on other threads counts too).
func benchNormalize(b *testing.B, env []byte) {
	n := testNormalizer(b)
	n.cfg.Validate = ValidateSample // the production default (testNormalizer validates all)
	if _, _, reason, err := n.Normalize(env); err != nil {
		b.Fatalf("%s: %v", reason, err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(env)))
	b.ResetTimer()
	start := cpuTime(b)
	for b.Loop() {
		if _, _, _, err := n.Normalize(env); err != nil {
			b.Fatal(err)
		}
	}
	cpu := cpuTime(b) - start
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
}

func benchInput(b *testing.B, path string) []byte {
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkNormalize: decode envelope + map + encode one event, per provider.
func BenchmarkNormalize(b *testing.B) {
	b.Run("ionos", func(b *testing.B) {
		benchNormalize(b, envelopeFor(b, "ionos", "31721060", "31721060", "x", schemas.ContentJSON, benchInput(b, "testdata/ionos/seed.input.json")))
	})
	b.Run("ecgrid", func(b *testing.B) {
		benchNormalize(b, envelopeFor(b, "ecgrid", "100", "12345", "x", schemas.ContentXML, benchInput(b, "testdata/ecgrid/seed.input.xml")))
	})
}
