package kafka

import (
	"context"
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
	defer s.Close(context.Background())
	res := make([]sinks.ItemResult, 500)
	batches := make([][]sinks.Event, 8)
	for i := range batches {
		batches[i] = sinktest.Events(fmt.Sprintf("b%d-", i), 500)
	}
	if err := s.Write(context.Background(), batches[0], res); err != nil { // creates the topic
		b.Fatal(err)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(context.Background(), batches[i%len(batches)], res); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "events/s")
}
