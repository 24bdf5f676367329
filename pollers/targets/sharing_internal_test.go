package targets

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/checkpoint"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/testkit"
)

// cutoff dials the brokers until cut: then every connection it made fails and no new
// one is made, as for a process that hangs or loses its network. The broker sees a
// member that stops heartbeating without leaving the group.
type cutoff struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func (c *cutoff) dial(ctx context.Context, network, address string) (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return nil, errors.New("cut off")
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, network, address)
	if err == nil {
		c.conns = append(c.conns, conn)
	}
	return conn, err
}

func (c *cutoff) cutNow() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = true
	for _, conn := range c.conns {
		conn.Close()
	}
}

// A member that dies without leaving the group (cut off: no heartbeat, no LeaveGroup)
// loses its partitions to the other member after the session timeout.
func TestIntegrationTakeoverAfterMemberDeath(t *testing.T) {
	brokers := testkit.RealKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := testkit.NewBus(t, brokers)
	tg := compactTopic(t, b, 4)
	cp := compactTopic(t, b, 1)
	group := "t.pollers." + testkit.Unique()
	log := testkit.Logger(t)
	type mem struct {
		s    *Sharing
		gens chan []int
		stop func()
	}
	start := func(dialer *kafka.Dialer) *mem {
		table, err := OpenTable(ctx, b, tg, log)
		if err != nil {
			t.Fatal(err)
		}
		store, err := checkpoint.Open(ctx, b, cp, log, metrics.NewUnregistered())
		if err != nil {
			t.Fatal(err)
		}
		m := &mem{gens: make(chan []int, 16)}
		m.s = NewSharing(SharingConfig{Group: group, Pollers: []PollerID{{"c1", "conga"}}, SessionTimeout: 6 * time.Second,
			RebalanceTimeout: 10 * time.Second, Refresh: 200 * time.Millisecond}, b, table, store, log, metrics.NewUnregistered())
		m.s.dialer = dialer
		m.s.OnGeneration(func() {
			_, parts := m.s.Owned()
			m.gens <- parts
		})
		rctx, rcancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = m.s.Run(rctx) }()
		m.stop = func() { rcancel(); <-done }
		t.Cleanup(m.stop)
		return m
	}
	next := func(m *mem, what string, want int) {
		t.Helper()
		for {
			select {
			case p := <-m.gens:
				if len(p) == want {
					return
				}
				t.Logf("%s: a generation with partitions %v", what, p)
			case <-ctx.Done():
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	cut := &cutoff{}
	a := start(&kafka.Dialer{ClientID: "dying", Timeout: 2 * time.Second, DialFunc: cut.dial})
	next(a, "A alone to own every partition", 4)
	bm := start(nil)
	next(bm, "B to own half", 2)
	next(a, "A to own the other half", 2)
	lease, ok := a.s.Lease(ctx, "c1", "conga")
	if !ok {
		t.Fatal("A has no lease")
	}
	cut.cutNow()
	// A's polls are stopped (its heartbeats fail), and after the session timeout B owns
	// every partition.
	select {
	case <-lease.Ctx.Done():
	case <-ctx.Done():
		t.Fatal("A's lease outlived its membership")
	}
	lease.Release()
	next(bm, "B to take A's partitions over", 4)
}
