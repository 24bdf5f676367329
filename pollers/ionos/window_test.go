package ionos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/ionos"
	"github.com/auditstream/auditstream/pollers/ionos/ionossim"
	"github.com/auditstream/auditstream/pollers/window"
)

// simRequests reads the entries requests the simulator counted (its control endpoint), so
// the cost is measured where the provider would bill it, not inside the poller.
func simRequests(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/_sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st ionossim.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Requests["entries"]
}

const tenYears = 10 * 365 * 24 * time.Hour

func TestTenYearFirstPollOfAQuietContractCostsAHandfulOfRequests(t *testing.T) {
	sim := ionossim.New(ionossim.Config{Token: "t", Contracts: []string{"1"}, Seed: 21, Backfill: 3, MaxEvents: 3})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	var logs bytes.Buffer
	src := newPoller(t, srv.URL, ionos.Config{Token: "t", Contracts: []string{"1"},
		Window: window.Settings{InitialLookback: config.Duration(tenYears), Lag: config.Duration(time.Millisecond)}},
		slog.New(slog.NewTextHandler(&logs, nil)))
	c := &collector{ids: map[string]int{}, cursors: map[string]json.RawMessage{}}
	tg := pollers.Target{Tenant: "1", Entity: "1"}
	if _, err := src.Poll(context.Background(), tg, nil, c.emitFor("1")); err != nil {
		t.Fatal(err)
	}
	if len(c.ids) != 3 {
		t.Fatalf("emitted %d entries, want the 3 the contract holds", len(c.ids))
	}
	first := simRequests(t, srv.URL)
	if first > 50 {
		t.Fatalf("a 10-year first poll of a quiet contract cost %d requests, want at most 50", first)
	}
	t.Logf("10-year first poll: %d requests", first)
	// Its progress is logged: window bounds and requests so far.
	if !strings.Contains(logs.String(), "catch-up window read") || !strings.Contains(logs.String(), "requests=") || !strings.Contains(logs.String(), "window_end=") {
		t.Fatalf("no progress logged:\n%s", logs.String())
	}
	// Polling the unchanged contract again costs one request.
	if _, err := src.Poll(context.Background(), tg, c.cursors["1"], c.emitFor("1")); err != nil {
		t.Fatal(err)
	}
	if again := simRequests(t, srv.URL) - first; again != 1 {
		t.Fatalf("an idle poll of an unchanged contract cost %d requests, want 1", again)
	}
	for id, n := range c.ids {
		if n != 1 {
			t.Fatalf("%s emitted %d times", id, n)
		}
	}
}

func TestTenYearFirstPollOfABusyContractSplitsWindows(t *testing.T) {
	const n = 3000
	sim := ionossim.New(ionossim.Config{Token: "t", Contracts: []string{"1"}, Seed: 22, Backfill: n, MaxEvents: n, MaxResults: 200})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	src := newPoller(t, srv.URL, ionos.Config{Token: "t", Contracts: []string{"1"}, PageSize: 100, MaxResults: 200,
		Window: window.Settings{InitialLookback: config.Duration(tenYears), Lag: config.Duration(time.Millisecond)}},
		slog.New(slog.DiscardHandler))
	c := &collector{ids: map[string]int{}, cursors: map[string]json.RawMessage{}}
	tg := pollers.Target{Tenant: "1", Entity: "1"}
	if _, err := src.Poll(context.Background(), tg, nil, c.emitFor("1")); err != nil {
		t.Fatal(err)
	}
	gen := sim.Generated()
	if len(c.ids) != len(gen) {
		t.Fatalf("emitted %d distinct entries, the simulator holds %d", len(c.ids), len(gen))
	}
	for id, k := range c.ids {
		if !gen[id] {
			t.Fatalf("%s emitted but never generated", id)
		}
		if k != 1 {
			t.Fatalf("%s emitted %d times", id, k)
		}
	}
	// At most 200 entries per window: at least n/200 windows, each of one or two pages,
	// plus the halvings from ten years down to about an hour / (n/200).
	reqs := simRequests(t, srv.URL)
	if reqs < n/100 {
		t.Fatalf("%d requests for %d entries in windows of at most 200: the cap was not honoured", reqs, n)
	}
	t.Logf("10-year first poll of %d entries (max_results 200): %d requests", n, reqs)
	var cur window.Cursor
	if err := json.Unmarshal(c.cursors["1"], &cur); err != nil {
		t.Fatal(err)
	}
	if lag := time.Since(cur.Watermark); lag > time.Minute {
		t.Fatalf("watermark %s is %s behind now", cur.Watermark, lag)
	}
}
