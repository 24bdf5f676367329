package ionossim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func query(t *testing.T, srv *httptest.Server, contract string, q url.Values, auth string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/activitylog/v1/contracts/"+contract+"?"+q.Encode(), nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, resp.Header
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
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/activitylog/v1/contracts/31721060?limit=100", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || json.Valid(b) {
		t.Fatalf("truncated fault: %d valid=%v", resp.StatusCode, json.Valid(b))
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
