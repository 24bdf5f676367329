package checkpoint_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/checkpoint"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/testkit"
)

// stores creates a compacted checkpoints topic with the given partitions and returns a
// context for the test and a function opening one more Store (one process) on it.
func stores(t *testing.T, brokers []string, partitions int) (context.Context, func() *checkpoint.Store) {
	t.Helper()
	ctx, b := testkit.BusWithin(t, brokers, 60*time.Second)
	topic := testkit.CreateTopic(t, ctx, b, "t.checkpoints.", partitions, testkit.Compacted)
	log, m := testkit.Logger(t), metrics.NewUnregistered()
	return ctx, func() *checkpoint.Store {
		t.Helper()
		s, err := checkpoint.Open(ctx, b, topic, log, m)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestStoreEmbedded(t *testing.T)             { testStore(t, testkit.EmbeddedKafka(t)) }
func TestIntegrationStoreRealKafka(t *testing.T) { testStore(t, testkit.RealKafka(t)) }

// A cursor saved by one process is what the next process loads; the latest value wins.
func testStore(t *testing.T, brokers []string) {
	ctx, open := stores(t, brokers, 1)
	s := open()
	if s.Get("p/a") != nil {
		t.Fatal("empty topic returned a cursor")
	}
	for i := 0; i < 50; i++ {
		if err := s.Save(ctx, fmt.Sprintf("p/%d", i%5), json.RawMessage(fmt.Sprintf(`{"v":1,"n":%d}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Save(ctx, "p/x", json.RawMessage(`not json`)); err == nil {
		t.Fatal("non-JSON cursor accepted")
	}
	s2 := open()
	if s2.Len() != 5 {
		t.Fatalf("reloaded %d keys, want 5", s2.Len())
	}
	for k := 0; k < 5; k++ {
		var c struct{ N int }
		if err := json.Unmarshal(s2.Get(fmt.Sprintf("p/%d", k)), &c); err != nil {
			t.Fatal(err)
		}
		if want := 45 + k; c.N != want {
			t.Fatalf("p/%d reloaded n=%d, want %d (latest)", k, c.N, want)
		}
	}
}

func TestSyncAndDeleteEmbedded(t *testing.T)             { testSyncAndDelete(t, testkit.EmbeddedKafka(t)) }
func TestIntegrationSyncAndDeleteRealKafka(t *testing.T) { testSyncAndDelete(t, testkit.RealKafka(t)) }

// Two processes: what one saves or tombstones, the other sees after Sync (a takeover).
func testSyncAndDelete(t *testing.T, brokers []string) {
	ctx, open := stores(t, brokers, 2)
	a, other := open(), open()
	for i := range 10 {
		if err := a.Save(ctx, fmt.Sprintf("p/%d", i), json.RawMessage(fmt.Sprintf(`{"v":1,"n":%d}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Delete(ctx, "p/3"); err != nil {
		t.Fatal(err)
	}
	if a.Get("p/3") != nil || a.Len() != 9 {
		t.Fatal("delete did not remove the cursor locally")
	}
	if other.Len() != 0 {
		t.Fatal("the other store saw cursors before Sync")
	}
	if err := other.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if other.Len() != 9 || other.Get("p/3") != nil || string(other.Get("p/7")) != `{"v":1,"n":7}` {
		t.Fatalf("after sync: %d keys, p/7 = %s", other.Len(), other.Get("p/7"))
	}
	// A second Sync reads only what is new.
	if err := a.Save(ctx, "p/7", json.RawMessage(`{"v":1,"n":70}`)); err != nil {
		t.Fatal(err)
	}
	if err := other.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if string(other.Get("p/7")) != `{"v":1,"n":70}` {
		t.Fatalf("p/7 = %s", other.Get("p/7"))
	}
}
