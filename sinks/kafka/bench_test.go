package kafka

import (
	"fmt"
	"testing"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/sinktest"
)

// BenchmarkSinkKafkaWrite500: one synchronous publish (acks=all, lz4) of 500 events to the
// real broker of AUDITSTREAM_KAFKA_BROKERS.
func BenchmarkSinkKafkaWrite500(b *testing.B) {
	brokers := testkit.RealKafka(b)
	s, err := Open("bench", settings(brokers, "t.sinkkafka.bench."+testkit.Unique()), testkit.Logger(b))
	if err != nil {
		b.Fatal(err)
	}
	batches := make([][]sinks.Event, 8)
	for i := range batches {
		batches[i] = sinktest.Events(fmt.Sprintf("b%d-", i), 500)
	}
	// The first write, untimed, creates the topic.
	sinktest.BenchWrite(b, s, batches[0], func(i int) []sinks.Event { return batches[i%len(batches)] })
}
