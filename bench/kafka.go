package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/pollers/ionos"
	"github.com/auditstream/auditstream/pollers/ionos/ionossim"
	"github.com/auditstream/auditstream/schemas"
)

// corpusIONOS returns n raw envelopes (keyed messages without a topic) built from the
// IONOS simulator's entries exactly as the poller's runner wraps them.
func corpusIONOS(n int) ([]kafka.Message, error) {
	contracts := []string{"31721060", "31721061", "31721062", "31721063", "31721064", "31721065", "31721066", "31721067"}
	sim := ionossim.New(ionossim.Config{Token: "t", Contracts: contracts, Seed: 42, Backfill: n, MaxEvents: n, MaxResults: n + 1})
	now := time.Now().UTC()
	var out []kafka.Message
	for _, c := range contracts {
		q := url.Values{"dateStart": {now.Add(-2 * time.Hour).Format(time.RFC3339)}, "dateEnd": {now.Add(time.Minute).Format(time.RFC3339)},
			"offset": {"0"}, "limit": {strconv.Itoa(n)}}
		req := httptest.NewRequest(http.MethodGet, "/activitylog/v1/contracts/"+c+"?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer t")
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return nil, fmt.Errorf("simulator answered %d: %s", rec.Code, rec.Body.String())
		}
		p, err := ionos.DecodePage(rec.Body.Bytes())
		if err != nil {
			return nil, err
		}
		key := []byte(schemas.Key(ionos.Name, c, c))
		for _, h := range p.Hits {
			env := schemas.Envelope{V: 1, ID: schemas.RecordID(ionos.Name, c, c, h.UUID, 1), Provider: ionos.Name, Tenant: c, Entity: c,
				Poller: "bench", FetchedAt: now, Occurrence: 1, ContentType: schemas.ContentJSON, Record: h.Raw}
			v, err := env.Encode()
			if err != nil {
				return nil, err
			}
			out = append(out, kafka.Message{Key: key, Value: v})
		}
	}
	if len(out) != n {
		return nil, fmt.Errorf("corpus has %d entries, want %d", len(out), n)
	}
	return out, nil
}

// topicCount is the number of messages on a topic (sum of the partitions' ends; the
// bench topics are fresh, so their offsets start at 0).
func topicCount(ctx context.Context, b *bus.Bus, topic string) (int64, error) {
	ends, err := b.PartitionEnds(ctx, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range ends {
		n += e
	}
	return n, nil
}

// cpuWindow measures a process's CPU and the broker's between two moments.
type cpuWindow struct {
	wall, cpu, broker time.Duration
	events            int
}

// perEvent returns events per CPU-second of the process and of the broker.
func (w cpuWindow) rates() (proc, brk float64) {
	if w.cpu > 0 {
		proc = float64(w.events) / w.cpu.Seconds()
	}
	if w.broker > 0 {
		brk = float64(w.events) / w.broker.Seconds()
	}
	return
}

func brokerCPU(br *broker) time.Duration {
	if br == nil {
		return 0
	}
	d, _ := procCPU(br.pid)
	return d
}

// copyCfg is one configuration of the plain consume + produce ceiling.
type copyCfg struct {
	codec        string
	batchSize    int
	batchTimeout time.Duration
	minBytes     int
	maxWait      time.Duration
}

// copyTopic is the raw Kafka ceiling: a plain kafka-go consumer group reads n records of
// src and writes them unchanged to dst (acks=all, the bus's balancer), committing each
// batch after its write, as the normalizer does. CPU is measured from the first record.
func copyTopic(ctx context.Context, brokers []string, br *broker, src, dst string, n int, cc copyCfg, log *slog.Logger) (cpuWindow, error) {
	codec, err := bus.ParseCompression(cc.codec)
	if err != nil {
		return cpuWindow{}, err
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: dst + "-group", GroupTopics: []string{src},
		MinBytes: cc.minBytes, MaxBytes: 16 << 20, MaxWait: cc.maxWait, StartOffset: kafka.FirstOffset,
		HeartbeatInterval: time.Second, SessionTimeout: 10 * time.Second, CommitInterval: 0})
	defer r.Close()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Balancer: &kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll,
		BatchSize: cc.batchSize, BatchTimeout: cc.batchTimeout, BatchBytes: 16 << 20, Compression: codec,
		Transport: &kafka.Transport{ClientID: "auditstream-bench", MetadataTTL: time.Second}}
	defer func() { _ = w.Close(); w.Transport.(*kafka.Transport).CloseIdleConnections() }()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var (
		done       int
		start      time.Time
		cpu0, brk0 time.Duration
		batch      = make([]kafka.Message, 0, 500)
		out        = make([]kafka.Message, 0, 500)
		ended      bool
	)
	for done < n && !ended {
		batch, out = batch[:0], out[:0]
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return cpuWindow{}, fmt.Errorf("copy %s: fetch: %w", src, err)
		}
		if start.IsZero() {
			start, cpu0, brk0 = time.Now(), selfCPU(), brokerCPU(br)
		}
		batch = append(batch, m)
		lctx, lcancel := context.WithTimeout(ctx, 20*time.Millisecond)
		for len(batch) < cap(batch) && done+len(batch) < n {
			m, err := r.FetchMessage(lctx)
			if err != nil {
				break
			}
			batch = append(batch, m)
		}
		lcancel()
		for _, m := range batch {
			out = append(out, kafka.Message{Topic: dst, Key: m.Key, Value: m.Value, Headers: m.Headers})
		}
		if err := w.WriteMessages(ctx, out...); err != nil {
			return cpuWindow{}, fmt.Errorf("copy to %s: %w", dst, err)
		}
		if err := r.CommitMessages(ctx, batch...); err != nil {
			return cpuWindow{}, fmt.Errorf("commit %s: %w", src, err)
		}
		done += len(batch)
	}
	if done < n {
		return cpuWindow{}, errors.New("copy ended early")
	}
	return cpuWindow{wall: time.Since(start), cpu: selfCPU() - cpu0, broker: brokerCPU(br) - brk0, events: done}, nil
}
