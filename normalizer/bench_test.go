package normalizer

import (
	"log/slog"
	"maps"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/metrics"
	conga "github.com/auditstream/auditstream/pollers/conga/mapping"
	constellation1 "github.com/auditstream/auditstream/pollers/constellation1/mapping"
	ecgrid "github.com/auditstream/auditstream/pollers/ecgrid/mapping"
	ionos "github.com/auditstream/auditstream/pollers/ionos/mapping"
	signinghub "github.com/auditstream/auditstream/pollers/signinghub/mapping"
	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/mapkit"
	"github.com/auditstream/auditstream/schemas/mapkit/mapkittest"
)

// cpuTime is the process's user+system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchNormalize normalizes one envelope per iteration the way the consumer does (the
// event and its CloudEvents headers written into a worker's slab, reused per batch) and
// reports events per CPU-second (user + system time of the whole process, so GC work on
// other threads counts too). validate_sample is the default.
func benchNormalize(b *testing.B, env []byte, validate string) {
	n, err := New(Config{Validate: validate, Mappers: benchMappers()}, nil, slog.New(slog.DiscardHandler), metrics.NewUnregistered())
	if err != nil {
		b.Fatal(err)
	}
	msg := kafka.Message{Key: []byte("k"), Value: env}
	s := &slab{}
	if _, _, reason, err := n.record(s, msg); err != nil {
		b.Fatalf("%s: %v", reason, err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(env)))
	b.ResetTimer()
	start := cpuTime(b)
	i := 0
	for b.Loop() {
		if i++; i%batchSize == 0 { // the batch is written: the slab is reused
			s.b, s.h = s.b[:0], s.h[:0]
		}
		if _, _, _, err := n.record(s, msg); err != nil {
			b.Fatal(err)
		}
	}
	cpu := cpuTime(b) - start
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
}

// batchSize is the consumer's default batch.
const batchSize = 500

func benchInput(b testing.TB, path string) []byte {
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// benchMappers are the five providers' mappings.
func benchMappers() map[string]mapkit.Mapper {
	return map[string]mapkit.Mapper{"ionos": ionos.Mapper{}, "ecgrid": ecgrid.Mapper{}, "conga": conga.Mapper,
		"signinghub": signinghub.Mapper, "constellation1": constellation1.Mapper}
}

// benchCorpus is one envelope per provider (the golden seed entries).
func benchCorpus(b *testing.B) map[string][]byte {
	return map[string][]byte{
		"ionos":  envelopeFor(b, "ionos", "31721060", "31721060", "x", schemas.ContentJSON, benchInput(b, "../pollers/ionos/mapping/testdata/seed.input.json")),
		"ecgrid": envelopeFor(b, "ecgrid", "100", "12345", "x", schemas.ContentXML, benchInput(b, "../pollers/ecgrid/mapping/testdata/seed.input.xml")),
		// the e-signature entries are shaped like the vendors' published examples
		"conga":          mapkittest.ESignEnvelope(b, "conga", "x", benchInput(b, "../pollers/conga/mapping/testdata/view.input.json")),
		"signinghub":     mapkittest.ESignEnvelope(b, "signinghub", "x", benchInput(b, "../pollers/signinghub/mapping/testdata/shared.input.json")),
		"constellation1": mapkittest.ESignEnvelope(b, "constellation1", "x", benchInput(b, "../pollers/constellation1/mapping/testdata/viewed.input.json")),
	}
}

// BenchmarkNormalize: decode envelope + map + Check + encode one event, per provider, with
// the full JSON Schema off and in the default sample mode.
func BenchmarkNormalize(b *testing.B) {
	corpus := benchCorpus(b)
	for _, p := range slices.Sorted(maps.Keys(corpus)) {
		for _, mode := range []string{ValidateOff, ValidateSample} {
			b.Run(p+"/validate="+mode, func(b *testing.B) { benchNormalize(b, corpus[p], mode) })
		}
	}
}
