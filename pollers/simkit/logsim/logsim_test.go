package logsim

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/simkit"
	"github.com/auditstream/auditstream/schemas"
)

func TestHistoryShape(t *testing.T) {
	start := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	now := start
	h := New(Config{Seed: 3, Entities: 50, EntriesPerEntity: 40, AfterTerminal: 5, Concurrent: 7, Rate: 100, Backfill: 500,
		DuplicateFraction: 0.2, Now: func() time.Time { return now }})
	if h.Total() != 2000 {
		t.Fatalf("total %d", h.Total())
	}
	if n := h.Arrived(now); n != 500 {
		t.Fatalf("%d entries visible at start, want the 500 backfilled", n)
	}
	inFlight := 0
	for _, e := range h.Entities() {
		if st := h.StateAt(e, now); st.Listed && !st.Terminal {
			inFlight++
		}
	}
	if inFlight == 0 || inFlight > 7 {
		t.Fatalf("%d entities in flight at start, want 1..7", inFlight)
	}
	dups, sameSecond := 0, 0
	for _, e := range h.Entities() {
		if len(e.Entries) != 40 {
			t.Fatalf("entity %d has %d entries", e.Index, len(e.Entries))
		}
		terminal := 0
		for i, x := range e.Entries {
			if x.Seq != i {
				t.Fatalf("entity %d entry %d has seq %d", e.Index, i, x.Seq)
			}
			if x.Terminal {
				terminal++
				if i != 34 {
					t.Fatalf("terminal entry at %d, want 34 (5 after it)", i)
				}
			}
			if x.AfterTerminal != (i > 34) {
				t.Fatalf("entry %d: AfterTerminal %v", i, x.AfterTerminal)
			}
			if i > 0 && x.Arrival.Before(e.Entries[i-1].Arrival) {
				t.Fatal("entries of one entity arrive out of order")
			}
			if x.Duplicate {
				dups++
				if p := e.Entries[i-1]; p.R != x.R || !p.Time.Equal(x.Time) {
					t.Fatal("a duplicate differs from the entry before it")
				}
			} else if i > 0 && x.Time.Equal(e.Entries[i-1].Time) {
				sameSecond++
			}
		}
		if terminal != 1 {
			t.Fatalf("entity %d has %d terminal entries", e.Index, terminal)
		}
	}
	if dups < 200 || dups > 500 || sameSecond == 0 {
		t.Fatalf("%d duplicates (want about 20%% of 2000), %d same-second distinct entries", dups, sameSecond)
	}
	now = start.Add(time.Minute)
	if !h.Done() || h.Arrived(now) != 2000 {
		t.Fatalf("after a minute at 100/s: done=%v arrived=%d", h.Done(), h.Arrived(now))
	}
	// Deterministic.
	g := New(Config{Seed: 3, Entities: 50, EntriesPerEntity: 40, AfterTerminal: 5, Concurrent: 7, Rate: 100, Backfill: 500,
		DuplicateFraction: 0.2, Now: func() time.Time { return start }})
	for i, e := range g.Entities() {
		for j, x := range e.Entries {
			y := h.Entities()[i].Entries[j]
			if x.R != y.R || !x.Time.Equal(y.Time) || x.Duplicate != y.Duplicate {
				t.Fatal("same seed, different history")
			}
		}
	}
}

func TestServedKeys(t *testing.T) {
	s := NewServed()
	t1 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s.Mark("acme", "p1", []string{"aa", "bb", "aa"}, t1.Add(time.Second))
	s.Mark("acme", "p1", []string{"aa"}, t1) // aa/1 was first served by the earlier request
	s.Mark("acme", "p2", []string{"cc"}, t1.Add(2*time.Second))
	keys := s.Keys()
	if len(keys) != 4 || !keys["acme/p1/aa/2"] || !keys["acme/p1/bb/1"] {
		t.Fatalf("keys %v", keys)
	}
	for _, tc := range []struct {
		before time.Time
		want   string
	}{
		{t1, "map[]"},
		{t1.Add(time.Millisecond), "map[acme/p1/aa/1:true]"},
		{t1.Add(1500 * time.Millisecond), "map[acme/p1/aa/1:true acme/p1/aa/2:true acme/p1/bb/1:true]"},
	} {
		if got := fmt.Sprint(s.KeysBefore(tc.before)); got != tc.want {
			t.Errorf("KeysBefore(%s) = %s, want %s", tc.before.Format(time.TimeOnly), got, tc.want)
		}
	}
	delete(keys, "acme/p2/cc/1")
	tenant, entity, fp, occ, err := ParseServedKey("my/tenant/p1/aa/2")
	if err != nil || tenant != "my/tenant" || entity != "p1" || fp != "aa" || occ != 2 {
		t.Fatalf("parse: %q %q %q %d %v", tenant, entity, fp, occ, err)
	}
	for _, bad := range []string{"x", "a/b/c", "a/b/c/d"} {
		if _, _, _, _, err := ParseServedKey(bad); err == nil {
			t.Errorf("ParseServedKey(%q) accepted", bad)
		}
	}
	ids, err := RecordIDs("conga", keys)
	if err != nil || !ids[schemas.RecordID("conga", "acme", "p1", "aa", 2)] || len(ids) != 3 {
		t.Fatalf("record ids %v %v", ids, err)
	}
	raws, _ := FetchedKeys("acme", "p1", []json.RawMessage{json.RawMessage(`{"a":1}`), json.RawMessage(`{ "a": 1.0 }`)})
	if len(raws) != 2 || !strings.HasSuffix(raws[1], "/2") {
		t.Fatalf("identical entries (after canonical form) are occurrences 1 and 2: %v", raws)
	}
}

func TestTokensExpire(t *testing.T) {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	tk := NewTokens("t-", time.Minute, func() time.Time { return now })
	a := tk.Issue()
	if !tk.Valid(a) || tk.Valid("nope") || a == tk.Issue() {
		t.Fatal("issue/valid")
	}
	now = now.Add(time.Minute)
	if tk.Valid(a) {
		t.Fatal("expired token accepted")
	}
	b := tk.Issue()
	tk.Revoke(b)
	if tk.Valid(b) {
		t.Fatal("revoked token accepted")
	}
}

// A vendor bumps a package's modification time whenever its log grows: an exact
// duplicate arriving later than its original, with the original's older time, must move
// the listed updated-at (a poller skipping unchanged packages would miss it otherwise).
func TestUpdatedMovesWithEveryAppend(t *testing.T) {
	start := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	h := New(Config{Seed: 5, Entities: 20, EntriesPerEntity: 30, Rate: 3, DuplicateFraction: 0.3, Now: func() time.Time { return start }})
	checked := 0
	for _, e := range h.Entities() {
		for i, x := range e.Entries {
			if i == 0 || !x.Duplicate || !x.Arrival.After(x.Time.Add(time.Second)) {
				continue
			}
			before := h.StateAt(e, x.Arrival.Add(-time.Nanosecond))
			after := h.StateAt(e, x.Arrival)
			if after.Visible != before.Visible+1 {
				continue // several entries arrive at once
			}
			if !after.Updated.After(before.Updated) || after.Updated.Before(x.Arrival) {
				t.Fatalf("entity %d: duplicate entry %d arrived at %v; updated-at went from %v to %v", e.Index, x.Seq, x.Arrival, before.Updated, after.Updated)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no late duplicate in the history: the test proves nothing")
	}
}

func TestPendingUntilAWholeAnswerShowsTheLatestLog(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	h := New(Config{Seed: 3, Entities: 4, EntriesPerEntity: 5, Rate: 2, Now: func() time.Time { return now }})
	now = start.Add(3 * time.Second) // a few entries have arrived
	s := NewServed()
	listed := func() int { return h.Stats(s, simkit.NewLedger()).Listed }
	pending := func() int { return h.Stats(s, simkit.NewLedger()).Pending }
	if listed() == 0 || pending() != listed() {
		t.Fatalf("before any answer: %d pending of %d listed, want all", pending(), listed())
	}
	for _, e := range h.Entities() {
		s.Answered(e, now)
	}
	if p := pending(); p != 0 {
		t.Fatalf("every entity answered at now: %d pending, want 0", p)
	}
	// Entries keep arriving: each entity whose log grew is pending again until answered.
	for !h.Done() {
		now = now.Add(time.Second)
	}
	if pending() == 0 {
		t.Fatal("logs grew after the answers, yet nothing is pending")
	}
	for _, e := range h.Entities() {
		s.Answered(e, now.Add(-time.Hour)) // an older answer changes nothing
	}
	if pending() == 0 {
		t.Fatal("an older answer cleared the pending state")
	}
	for _, e := range h.Entities() {
		s.Answered(e, now)
	}
	if p := pending(); p != 0 {
		t.Fatalf("every entity answered after the last arrival: %d pending, want 0", p)
	}
}

func TestPage(t *testing.T) {
	all := []int{1, 2, 3, 4, 5}
	for _, tc := range []struct{ from, size, n int }{{0, 2, 2}, {4, 2, 1}, {5, 2, 0}, {9, 2, 0}, {-1, 2, 0}} {
		p := Page(all, tc.from, tc.size)
		if len(p) != tc.n || p == nil || (tc.n > 0 && p[0] != all[tc.from]) {
			t.Errorf("Page(from %d, size %d) = %v", tc.from, tc.size, p)
		}
	}
}

func TestSettingsDefaults(t *testing.T) {
	s := Settings{}
	s.SetDefaults("acme", time.Minute)
	if s.Tenant != "acme" || s.TokenTTL.D() != time.Minute {
		t.Fatalf("%+v", s)
	}
	s = Settings{Tenant: "set", TokenTTL: config.Duration(time.Second)}
	s.SetDefaults("acme", time.Minute)
	if s.Tenant != "set" || s.TokenTTL.D() != time.Second {
		t.Fatalf("%+v", s)
	}
}
