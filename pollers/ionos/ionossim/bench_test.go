package ionossim

import (
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// BenchmarkEntriesWindow is one poll of a 2-second window of one of 10 contracts after
// 100 s at 2,000 events/s (20,000 events per contract): its cost should follow the
// window, not the history.
func BenchmarkEntriesWindow(b *testing.B) {
	c := &clock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	var contracts []string
	for i := 0; i < 10; i++ {
		contracts = append(contracts, string(rune('0'+i)))
	}
	sim := New(Config{Token: "tok", Contracts: contracts, Seed: 1, Rate: 2000, Now: c.now})
	c.t = c.t.Add(100 * time.Second)
	sim.Stats() // generate the history before timing
	q := url.Values{"dateStart": {c.t.Add(-2200 * time.Millisecond).Format(time.RFC3339Nano)},
		"dateEnd": {c.t.Add(-200 * time.Millisecond).Format(time.RFC3339Nano)}, "limit": {"1000"}}
	u := "/activitylog/v1/contracts/3?" + q.Encode()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer tok")
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
