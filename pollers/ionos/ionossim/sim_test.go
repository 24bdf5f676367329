package ionossim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/auditstream/auditstream/pollers/simkit/simtest"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func query(t *testing.T, srv *httptest.Server, contract string, q url.Values, auth string) (int, map[string]any, http.Header) {
	t.Helper()
	code, b, h := simtest.Call(t, http.MethodGet, srv.URL+"/activitylog/v1/contracts/"+contract+"?"+q.Encode(), simtest.Auth(auth), "")
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return code, m, h
}

func hits(m map[string]any) []map[string]any {
	h := m["hits"].(map[string]any)["hits"].([]any)
	out := make([]map[string]any, len(h))
	for i, x := range h {
		out[i] = x.(map[string]any)["_source"].(map[string]any)
	}
	return out
}

func TestSimulatorSemantics(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	sim := New(Config{Token: "tok", Contracts: []string{"1"}, Seed: 4, Rate: 10, LateFraction: 0.5, MaxLate: 30 * time.Second, Now: c.now})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c.t = c.t.Add(time.Minute) // 600 events generated over a minute
	all := url.Values{"limit": {"10000"}}

	if code, _, _ := query(t, srv, "1", all, ""); code != http.StatusUnauthorized {
		t.Fatalf("no auth: %d", code)
	}
	if code, _, _ := query(t, srv, "1", all, "Bearer nope"); code != http.StatusUnauthorized {
		t.Fatalf("bad token: %d", code)
	}
	if code, _, _ := query(t, srv, "2", all, "Bearer tok"); code != http.StatusNotFound {
		t.Fatalf("unknown contract: %d", code)
	}
	code, m, _ := query(t, srv, "1", all, "Bearer tok")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	entries := hits(m)
	total := int(m["hits"].(map[string]any)["total"].(float64))
	st := sim.Stats()
	if total != len(entries) || total != st.Visible || st.Visible >= st.Generated {
		t.Fatalf("total %d, hits %d, stats %+v (late events must not be visible yet)", total, len(entries), st)
	}
	// Not sorted by time (sorted by uuid), and stable.
	times := make([]string, len(entries))
	for i, e := range entries {
		times[i] = e["meta"].(map[string]any)["time"].(string)
	}
	if sort.StringsAreSorted(times) {
		t.Fatal("hits are sorted by time; the API gives no order")
	}
	// dateStart inclusive, dateEnd exclusive.
	t0 := times[0]
	code, m, _ = query(t, srv, "1", url.Values{"dateStart": {t0}, "dateEnd": {t0}, "limit": {"100"}}, "Bearer tok")
	if code != 200 || len(hits(m)) != 0 {
		t.Fatalf("[t, t) returned %d hits", len(hits(m)))
	}
	tt, _ := time.Parse(time.RFC3339Nano, t0)
	code, m, _ = query(t, srv, "1", url.Values{"startDate": {t0}, "endDate": {tt.Add(time.Millisecond).Format(time.RFC3339Nano)}, "limit": {"100"}}, "Bearer tok")
	if code != 200 || len(hits(m)) < 1 {
		t.Fatalf("[t, t+1ms) returned %d hits (startDate/endDate accepted too)", len(hits(m)))
	}
	// offset/limit paging and the offset+limit cap.
	_, p1, _ := query(t, srv, "1", url.Values{"offset": {"0"}, "limit": {"7"}}, "Bearer tok")
	_, p2, _ := query(t, srv, "1", url.Values{"offset": {"7"}, "limit": {"7"}}, "Bearer tok")
	if len(hits(p1)) != 7 || hits(p1)[0]["@uuid"] != entries[0]["@uuid"] || hits(p2)[0]["@uuid"] != entries[7]["@uuid"] {
		t.Fatal("paging is not offset/limit over a stable order")
	}
	if _, d, _ := query(t, srv, "1", url.Values{}, "Bearer tok"); len(hits(d)) != 20 {
		t.Fatalf("default limit gave %d hits, want 20", len(hits(d)))
	}
	if code, _, _ := query(t, srv, "1", url.Values{"offset": {"9990"}, "limit": {"20"}}, "Bearer tok"); code != http.StatusBadRequest {
		t.Fatalf("offset+limit > 10000: %d", code)
	}
	if code, _, _ := query(t, srv, "1", url.Values{"dateStart": {"yesterday"}}, "Bearer tok"); code != http.StatusBadRequest {
		t.Fatalf("bad date: %d", code)
	}
	// Late events show up later, with times inside already-read windows.
	c.t = c.t.Add(time.Minute)
	_, m2, _ := query(t, srv, "1", url.Values{"dateEnd": {c.t.Add(-time.Minute).Format(time.RFC3339Nano)}, "limit": {"10000"}}, "Bearer tok")
	if n := len(hits(m2)); n <= total {
		t.Fatalf("the first minute grew from %d to %d entries: no late arrivals", total, n)
	}
	// Deterministic: the same seed and clock give the same history.
	c2 := &clock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	other := New(Config{Token: "tok", Contracts: []string{"1"}, Seed: 4, Rate: 10, LateFraction: 0.5, MaxLate: 30 * time.Second, Now: c2.now})
	c2.t = c.t
	if a, b := sim.Generated(), other.Generated(); len(a) != len(b) {
		t.Fatalf("same seed: %d vs %d events", len(a), len(b))
	} else {
		for id := range a {
			if !b[id] {
				t.Fatal("same seed, different events")
			}
		}
	}
}

func TestFaults(t *testing.T) {
	sim := New(Config{Token: "tok", Seed: 1, Backfill: 10, Faults: Faults{TooManyRequests: 1, RetryAfter: 7}})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	code, _, h := query(t, srv, "31721060", url.Values{}, "Bearer tok")
	if code != http.StatusTooManyRequests || h.Get("Retry-After") != "7" {
		t.Fatalf("429 fault: %d Retry-After=%q", code, h.Get("Retry-After"))
	}
	sim.SetFaults(Faults{Truncated: 1})
	code, b, _ := simtest.Call(t, http.MethodGet, srv.URL+"/activitylog/v1/contracts/31721060?limit=100", simtest.Auth("Bearer tok"), "")
	if code != 200 || json.Valid(b) {
		t.Fatalf("truncated fault: %d valid=%v", code, json.Valid(b))
	}
	if len(sim.Served()) != 0 {
		t.Fatal("a truncated answer counted as served")
	}
	for _, f := range []Faults{{ServerError: 1}, {Unavailable: 1}} {
		sim.SetFaults(f)
		if code, _, _ := query(t, srv, "31721060", url.Values{}, "Bearer tok"); code < 500 {
			t.Fatalf("fault %+v gave %d", f, code)
		}
	}
}

// TestWindowsMatchTheWholeLog: the time index answers every window with exactly the
// entries of the whole log whose time is in [dateStart, dateEnd) and that are visible,
// in @uuid order — checked against the unwindowed answer, late arrivals included.
func TestWindowsMatchTheWholeLog(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	// 3000 events/s: several events per millisecond, times not generated in order.
	sim := New(Config{Token: "tok", Contracts: []string{"1"}, Seed: 9, Rate: 3000, LateFraction: 0.2, MaxLate: 3 * time.Second, Now: c.now})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c.t = c.t.Add(2500 * time.Millisecond)
	_, m, _ := query(t, srv, "1", url.Values{"limit": {"10000"}}, "Bearer tok")
	all := hits(m)
	if len(all) < 6000 {
		t.Fatalf("%d entries in 2.5 s at 3000/s", len(all))
	}
	start := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	windows := [][2]time.Duration{{0, time.Second}, {1500 * time.Microsecond, 1503 * time.Millisecond}, {2 * time.Second, 2 * time.Second}, {3999 * time.Millisecond, 5 * time.Second}, {-time.Hour, 0}}
	for ms := 100; ms < 140; ms++ { // one-millisecond windows: entries a millisecond apart may be generated out of order
		windows = append(windows, [2]time.Duration{time.Duration(ms) * time.Millisecond, time.Duration(ms+1) * time.Millisecond})
	}
	for _, w := range windows {
		from, to := start.Add(w[0]), start.Add(w[1])
		var want []string
		for _, e := range all {
			at, err := time.Parse(time.RFC3339Nano, e["meta"].(map[string]any)["time"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if !at.Before(from) && at.Before(to) {
				want = append(want, e["@uuid"].(string))
			}
		}
		_, m, _ := query(t, srv, "1", url.Values{"dateStart": {from.Format(time.RFC3339Nano)}, "dateEnd": {to.Format(time.RFC3339Nano)}, "limit": {"10000"}}, "Bearer tok")
		var got []string
		for _, e := range hits(m) {
			got = append(got, e["@uuid"].(string))
		}
		if !sort.StringsAreSorted(got) {
			t.Fatalf("window %v: hits not in @uuid order", w)
		}
		if len(got) != len(want) {
			t.Fatalf("window %v: %d hits, the whole log has %d in it", w, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("window %v: hit %d is %s, want %s", w, i, got[i], want[i])
			}
		}
	}
}

// bodyByMap is how entries were rendered before body built them directly: a map through
// encoding/json. It is the reference body must match byte for byte, draw for draw.
func (s *Sim) bodyByMap(id, contract string, t time.Time) []byte {
	r := s.rng
	a := actions[r.IntN(len(actions))]
	var cn any = contract
	if r.IntN(4) == 0 {
		if n, err := strconv.ParseInt(contract, 10, 64); err == nil {
			cn = n // type drift: a number
		}
	}
	var av any = "0.1"
	if r.IntN(5) == 0 {
		av = 1
	}
	src := map[string]any{
		"@uuid": id,
		"meta":  map[string]any{"auditVersion": av, "requestId": fmt.Sprintf("req-%08x", r.Uint32()), "time": t.Format("2006-01-02T15:04:05.000Z")},
		"principal": map[string]any{
			"sourceIP":      fmt.Sprintf("203.0.113.%d", r.IntN(254)+1),
			"identity":      map[string]any{"contractNumber": cn, "username": fmt.Sprintf("user%d@example.com", r.IntN(40))},
			"sourceService": services[r.IntN(len(services))],
		},
		"event": map[string]any{
			"param":     map[string]any{},
			"resources": []any{map[string]any{"action": []string{a.action}, "id": strconv.Itoa(r.IntN(100000)), "type": a.typ}},
			"type":      types[r.IntN(len(types))],
		},
	}
	b, _ := json.Marshal(src)
	return b
}

func TestBodyMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, contract := range []string{"31721060", "abc\"<x>", ""} {
		a := New(Config{Contracts: []string{contract}, Seed: 3})
		b := New(Config{Contracts: []string{contract}, Seed: 3})
		for i := 0; i < 300; i++ {
			at = at.Add(1234567 * time.Microsecond)
			got, want := a.body("id-1", contract, at), b.bodyByMap("id-1", contract, at)
			if string(got) != string(want) {
				t.Fatalf("contract %q, entry %d:\n got %s\nwant %s", contract, i, got, want)
			}
		}
	}
}
