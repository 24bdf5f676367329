package fulllog_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/pollers/polltest"
)

type fakeProvider struct {
	logs     map[string][]string
	fetches  int
	listing  []pollers.Target
	listFail error
}

func (f *fakeProvider) FetchLog(_ context.Context, t pollers.Target) ([]pollers.Record, error) {
	f.fetches++
	var out []pollers.Record
	for _, e := range f.logs[t.Entity] {
		out = append(out, pollers.Record{Raw: []byte(e)})
	}
	return out, nil
}

func (f *fakeProvider) List(_ context.Context, page func([]pollers.Target) error) error {
	if f.listFail != nil {
		return f.listFail
	}
	for i := 0; i < len(f.listing); i += 2 {
		if err := page(f.listing[i:min(i+2, len(f.listing))]); err != nil {
			return err
		}
	}
	return nil
}

// recorder is an Emit that keeps what it was given, like the runner would store it.
type recorder struct {
	records []pollers.Record
	cursor  json.RawMessage
	fail    error
}

func (r *recorder) emit(_ context.Context, recs []pollers.Record, cursor json.RawMessage) error {
	if r.fail != nil {
		return r.fail
	}
	r.records = append(r.records, recs...)
	if cursor != nil {
		r.cursor = cursor
	}
	return nil
}

func newSource(t *testing.T, f *fakeProvider, s fulllog.Settings) (*fulllog.Source, *metrics.Metrics, *time.Time) {
	t.Helper()
	m := metrics.NewUnregistered()
	src := fulllog.New("conga", f, f, s, pollers.Deps{Poller: "c1", Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: m})
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	src.SetClock(func() time.Time { return now })
	return src, m, &now
}

func TestPollDiffsAndSkipsUnchangedTargets(t *testing.T) {
	f := &fakeProvider{logs: map[string][]string{"p1": {`{"a":1}`, `{"a":1}`, `{"b":2}`}}}
	src, m, now := newSource(t, f, fulllog.Settings{})
	tg := pollers.Target{Tenant: "acme", Entity: "p1", UpdatedAt: time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)}
	rec := &recorder{}
	ctx := context.Background()

	if _, err := src.Poll(ctx, tg, nil, rec.emit); err != nil {
		t.Fatal(err)
	}
	if len(rec.records) != 3 || rec.records[1].Occurrence != 2 || f.fetches != 1 {
		t.Fatalf("first poll: %d records, fetches %d", len(rec.records), f.fetches)
	}
	var c fulllog.Cursor
	if err := json.Unmarshal(rec.cursor, &c); err != nil || !c.Watermark.Equal(*now) || !c.UpdatedAt.Equal(tg.UpdatedAt) {
		t.Fatalf("cursor %s (%v)", rec.cursor, err)
	}

	// Unchanged in the listing: no request at all, but fresh up to the listing.
	*now = now.Add(time.Minute)
	if _, err := src.Targets(ctx); err != nil {
		t.Fatal(err)
	}
	listed := *now
	*now = now.Add(time.Minute)
	out, err := src.Poll(ctx, tg, rec.cursor, rec.emit)
	if err != nil || f.fetches != 1 || !out.Watermark.Equal(listed) || out.Retire {
		t.Fatalf("unchanged target: fetches %d, outcome %+v, err %v", f.fetches, out, err)
	}

	// Changed: the log grew by one duplicate and one new entry; the log is re-fetched.
	f.logs["p1"] = []string{`{"b":2}`, `{"a":1}`, `{"c":3}`, `{"a":1}`, `{"a":1}`}
	tg.UpdatedAt = tg.UpdatedAt.Add(time.Hour)
	if _, err := src.Poll(ctx, tg, rec.cursor, rec.emit); err != nil {
		t.Fatal(err)
	}
	if len(rec.records) != 5 || string(rec.records[3].Raw) != `{"c":3}` || rec.records[4].Occurrence != 3 {
		t.Fatalf("after growth: %d records", len(rec.records))
	}

	// Cleared (SigningHub on completion): counted, nothing re-emitted.
	f.logs["p1"] = []string{`{"c":3}`}
	tg.UpdatedAt = tg.UpdatedAt.Add(time.Hour)
	if _, err := src.Poll(ctx, tg, rec.cursor, rec.emit); err != nil {
		t.Fatal(err)
	}
	if len(rec.records) != 5 || testutil.ToFloat64(m.LogShrinks.WithLabelValues("c1", "conga")) != 1 {
		t.Fatalf("after shrink: %d records, shrinks %v", len(rec.records), testutil.ToFloat64(m.LogShrinks.WithLabelValues("c1", "conga")))
	}
	// Growth after the shrink is caught.
	f.logs["p1"] = []string{`{"c":3}`, `{"d":4}`}
	tg.UpdatedAt = tg.UpdatedAt.Add(time.Hour)
	if _, err := src.Poll(ctx, tg, rec.cursor, rec.emit); err != nil {
		t.Fatal(err)
	}
	if len(rec.records) != 6 || string(rec.records[5].Raw) != `{"d":4}` {
		t.Fatalf("after growth past the shrink: %d records", len(rec.records))
	}
}

func TestEmitFailureKeepsTheCursor(t *testing.T) {
	f := &fakeProvider{logs: map[string][]string{"p1": {`{"a":1}`}}}
	src, _, _ := newSource(t, f, fulllog.Settings{})
	rec := &recorder{fail: errors.New("kafka down")}
	if _, err := src.Poll(context.Background(), pollers.Target{Entity: "p1"}, nil, rec.emit); err == nil {
		t.Fatal("no error")
	}
	if rec.cursor != nil {
		t.Fatal("cursor stored although the records were not")
	}
}

func TestTerminalTargetsRetireAfterAFinalPoll(t *testing.T) {
	f := &fakeProvider{logs: map[string][]string{"p1": {`{"a":1}`}}}
	src, _, now := newSource(t, f, fulllog.Settings{RetireAfter: config.Duration(time.Hour)})
	ctx := context.Background()
	done := time.Date(2026, 11, 22, 7, 30, 0, 0, time.UTC)
	tg := pollers.Target{Entity: "p1", Status: "COMPLETED", Terminal: true, UpdatedAt: done}
	rec := &recorder{}
	out, err := src.Poll(ctx, tg, nil, rec.emit)
	if err != nil || out.Retire || len(rec.records) != 1 {
		t.Fatalf("first poll: %+v %v", out, err)
	}
	// Within the grace period and unchanged: nothing fetched, not retired.
	*now = done.Add(59 * time.Minute)
	if out, err := src.Poll(ctx, tg, rec.cursor, rec.emit); err != nil || out.Retire || f.fetches != 1 {
		t.Fatalf("within grace: %+v %v fetches %d", out, err, f.fetches)
	}
	// After it: one final fetch (a late entry is still caught), then retire.
	f.logs["p1"] = append(f.logs["p1"], `{"late":true}`)
	*now = done.Add(time.Hour)
	out, err = src.Poll(ctx, tg, rec.cursor, rec.emit)
	if err != nil || !out.Retire || f.fetches != 2 || len(rec.records) != 2 {
		t.Fatalf("final poll: %+v %v fetches %d records %d", out, err, f.fetches, len(rec.records))
	}
}

func TestTargetsMergeStaticAndListing(t *testing.T) {
	f := &fakeProvider{listing: []pollers.Target{{Tenant: "t", Entity: "a", Status: "SENT"}, {Tenant: "t", Entity: "b"}, {Tenant: "t", Entity: "c"}}}
	src, _, _ := newSource(t, f, fulllog.Settings{Targets: []fulllog.TargetConfig{{Tenant: "t", Entity: "a"}, {Tenant: "t", Entity: "z", Name: "static"}}})
	got := polltest.Targets(t, src)
	if len(got) != 4 || got[0].Status != "SENT" || got[1].Name != "static" {
		t.Fatalf("targets %+v", got)
	}
}

func TestCorruptCursorIsAnError(t *testing.T) {
	f := &fakeProvider{}
	src, _, _ := newSource(t, f, fulllog.Settings{})
	for _, c := range []string{`{"v":2}`, `{"v":1,"log":"%%"}`, `[]`} {
		if _, err := src.Poll(context.Background(), pollers.Target{Entity: "p"}, json.RawMessage(c), (&recorder{}).emit); err == nil {
			t.Fatalf("cursor %s accepted", c)
		}
	}
	if f.fetches != 0 {
		t.Fatal("fetched with a corrupt cursor")
	}
}

func TestSettingsValidate(t *testing.T) {
	s := fulllog.Settings{RetireAfter: config.Duration(-time.Second), Targets: []fulllog.TargetConfig{{Tenant: "x"}}}
	var p config.Problems
	s.Validate("pollers[0].settings", &p)
	if len(p.List()) != 4 { // retire_after, settle (below 1s), max_list_pages (0), targets[0].entity
		t.Fatalf("problems %v", p.List())
	}
	s = fulllog.Settings{}
	s.SetDefaults()
	if s.MaxListPages != fulllog.DefaultMaxListPages {
		t.Fatalf("max_list_pages default %d", s.MaxListPages)
	}
	for n, ok := range map[int]bool{-1: false, 0: false, 1: true, 10_000: true} {
		s.MaxListPages = n
		var p config.Problems
		s.Validate("s", &p)
		if (p.Err() == nil) != ok || (!ok && !strings.Contains(p.Err().Error(), "s.max_list_pages")) {
			t.Errorf("max_list_pages %d: %v", n, p.Err())
		}
	}
}

func TestPageGuard(t *testing.T) {
	page := func(ids ...string) []pollers.Target {
		ts := make([]pollers.Target, len(ids))
		for i, id := range ids {
			ts[i] = pollers.Target{Entity: id}
		}
		return ts
	}
	s := fulllog.Settings{MaxListPages: 3}
	g := s.PageGuard()
	for _, p := range [][]pollers.Target{page("a", "b"), page("c", "d"), page("e")} {
		if err := g.Check(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Check(page("f")); err == nil || !strings.Contains(err.Error(), "max_list_pages") {
		t.Fatalf("page 4 of at most 3: %v", err)
	}
	g = s.PageGuard()
	_ = g.Check(page("a", "b"))
	if err := g.Check(page("a", "b")); err == nil || !strings.Contains(err.Error(), "ignores the page parameter") {
		t.Fatalf("a repeated page: %v", err)
	}
	// Two empty pages in a row are not a repetition (the listing ends on them).
	g = s.PageGuard()
	if g.Check(nil) != nil || g.Check(nil) != nil {
		t.Fatal("empty pages refused")
	}
}

// An entry written later in the same second as the listing's updated-at does not move it:
// the log is fetched again until the last fetch started `settle` after that updated-at.
func TestRecentlyUpdatedTargetsAreFetchedUntilSettled(t *testing.T) {
	f := &fakeProvider{logs: map[string][]string{"p1": {`{"a":1}`}}}
	src, _, now := newSource(t, f, fulllog.Settings{Settle: config.Duration(10 * time.Second)})
	ctx := context.Background()
	tg := pollers.Target{Entity: "p1", UpdatedAt: now.Truncate(time.Second)}
	rec := &recorder{}
	if _, err := src.Poll(ctx, tg, nil, rec.emit); err != nil {
		t.Fatal(err)
	}
	f.logs["p1"] = append(f.logs["p1"], `{"same":"second"}`)
	*now = now.Add(5 * time.Second)
	if _, err := src.Poll(ctx, tg, rec.cursor, rec.emit); err != nil || f.fetches != 2 || len(rec.records) != 2 {
		t.Fatalf("within settle: fetches %d, records %d, %v", f.fetches, len(rec.records), err)
	}
	// The first poll that starts after updated-at + settle still fetches (the one
	// before did not), the next ones do not.
	*now = now.Add(10 * time.Second)
	for range 3 {
		if _, err := src.Poll(ctx, tg, rec.cursor, rec.emit); err != nil || f.fetches != 3 {
			t.Fatalf("settled: fetches %d, %v", f.fetches, err)
		}
		*now = now.Add(time.Minute)
	}
}

// A listing that starts failing must not leave the targets looking fresh: an unchanged
// target is fresh only up to the last listing that succeeded.
func TestFreshnessCappedByTheLastSuccessfulListing(t *testing.T) {
	upd := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	tg := pollers.Target{Tenant: "acme", Entity: "p1", UpdatedAt: upd}
	f := &fakeProvider{logs: map[string][]string{"p1": {`{"a":1}`}}, listing: []pollers.Target{tg}}
	src, _, now := newSource(t, f, fulllog.Settings{})
	ctx := context.Background()
	rec := &recorder{}
	if _, err := src.Targets(ctx); err != nil {
		t.Fatal(err)
	}
	listed := *now
	if _, err := src.Poll(ctx, tg, nil, rec.emit); err != nil {
		t.Fatal(err)
	}
	f.listFail = errors.New("listing down")
	for range 3 {
		*now = now.Add(10 * time.Minute)
		if _, err := src.Targets(ctx); err == nil {
			t.Fatal("listing did not fail")
		}
		out, err := src.Poll(ctx, tg, rec.cursor, rec.emit)
		if err != nil || f.fetches != 1 {
			t.Fatalf("poll: %v, fetches %d", err, f.fetches)
		}
		if out.Watermark.After(listed) {
			t.Fatalf("watermark %v after the last successful listing %v while the listing fails", out.Watermark, listed)
		}
	}
	// The listing works again: fresh up to it.
	f.listFail = nil
	if _, err := src.Targets(ctx); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(time.Minute)
	if out, err := src.Poll(ctx, tg, rec.cursor, rec.emit); err != nil || !out.Watermark.Equal(now.Add(-time.Minute)) {
		t.Fatalf("after the listing recovered: %+v %v", out, err)
	}
}

// A log that shrank (SigningHub clears it on completion) is counted once, not at every
// later poll that still sees it short; a further shrink is counted again.
func TestShrinkCountedOnce(t *testing.T) {
	f := &fakeProvider{logs: map[string][]string{"p1": {`{"a":1}`, `{"b":2}`, `{"c":3}`}}}
	src, m, now := newSource(t, f, fulllog.Settings{})
	ctx := context.Background()
	rec := &recorder{}
	tg := pollers.Target{Tenant: "acme", Entity: "p1"} // no updated-at: fetched every poll
	shrinks := func() float64 { return testutil.ToFloat64(m.LogShrinks.WithLabelValues("c1", "conga")) }
	for i, c := range []struct {
		log  []string
		want float64
	}{
		{[]string{`{"a":1}`, `{"b":2}`, `{"c":3}`}, 0},
		{[]string{`{"c":3}`}, 1},
		{[]string{`{"c":3}`}, 1},
		{[]string{`{"c":3}`, `{"d":4}`}, 1},
		{[]string{`{"d":4}`}, 2},
		{[]string{`{"d":4}`}, 2},
	} {
		f.logs["p1"] = c.log
		*now = now.Add(time.Minute)
		if _, err := src.Poll(ctx, tg, rec.cursor, rec.emit); err != nil {
			t.Fatal(err)
		}
		if got := shrinks(); got != c.want {
			t.Fatalf("poll %d: log_shrinks_total = %v, want %v", i+1, got, c.want)
		}
	}
}

// The listing settings every provider shares: defaults, the static targets' tenant, the
// page size against the provider's maximum, the zone, and something to poll.
func TestValidateProvider(t *testing.T) {
	var s fulllog.Settings
	s.Tenant = "acme"
	s.Targets = []fulllog.TargetConfig{{Entity: "a"}, {Tenant: "other", Entity: "b"}}
	s.SetDefaults()
	if !*s.Discover || s.PageSize != fulllog.DefaultPageSize || s.Targets[0].Tenant != "acme" || s.Targets[1].Tenant != "other" {
		t.Fatalf("defaults: %+v", s)
	}
	off := false
	for _, tc := range []struct {
		s    fulllog.Settings
		max  int
		want []string
	}{
		{fulllog.Settings{PageSize: 50}, 50, nil},
		{fulllog.Settings{PageSize: 51, Zone: "Mars/Base"}, 50, []string{"s.page_size: must be between 1 and 50, got 51", `s.zone: "Mars/Base" is not an IANA time zone name`}},
		{fulllog.Settings{PageSize: -1}, 100, []string{"s.page_size: must be between 1 and 100, got -1"}},
		{fulllog.Settings{Discover: &off}, 100, []string{"s: discover is off and no targets are listed: nothing to poll"}},
		{fulllog.Settings{Discover: &off, Targets: []fulllog.TargetConfig{{}}}, 100, []string{"s.targets[0].entity: is required"}},
	} {
		s := tc.s
		s.SetDefaults()
		var p config.Problems
		s.ValidateProvider("s", &p, tc.max)
		got := strings.Join(p.List(), "\n")
		if len(tc.want) != len(p.List()) {
			t.Errorf("%+v: problems %q, want %q", tc.s, got, tc.want)
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%+v: problems %q lack %q", tc.s, got, w)
			}
		}
	}
}

// ListPages hands over every non-empty page and stops at a short page, at the total, or
// with an error naming the page.
func TestListPages(t *testing.T) {
	all := make([]pollers.Target, 7)
	for i := range all {
		all[i] = pollers.Target{Entity: string(rune('a' + i))}
	}
	for _, tc := range []struct {
		name       string
		size       int
		total      int // -1: the answers give none
		fail       int // page that fails (-1: none)
		wantPages  int
		wantCalled int
		wantErr    string
	}{
		{"short last page", 3, -1, -1, 3, 3, ""},
		{"whole last page, then an empty one", 7, -1, -1, 1, 2, ""},
		{"total reached on a whole page", 7, 7, -1, 1, 1, ""},
		{"failing page", 3, -1, 1, 1, 2, "page #1: down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fulllog.Settings{PageSize: tc.size}
			pages, called := 0, 0
			err := s.ListPages(func([]pollers.Target) error { pages++; return nil },
				func(n int) string { return "page #" + string(rune('0'+n)) },
				func(n int) ([]pollers.Target, int, error) {
					called++
					if n == tc.fail {
						return nil, 0, errors.New("down")
					}
					return all[min(n*tc.size, len(all)):min((n+1)*tc.size, len(all))], tc.total, nil
				})
			if (tc.wantErr == "" && err != nil) || (tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if pages != tc.wantPages || called != tc.wantCalled {
				t.Fatalf("%d pages handed over, %d fetched; want %d, %d", pages, called, tc.wantPages, tc.wantCalled)
			}
		})
	}
	s := fulllog.Settings{PageSize: 2}
	err := s.ListPages(func([]pollers.Target) error { return nil }, func(n int) string { return "list" },
		func(int) ([]pollers.Target, int, error) { return all[:2], -1, nil })
	if err == nil || !strings.HasPrefix(err.Error(), "list: ") || !strings.Contains(err.Error(), "ignores the page parameter") {
		t.Fatalf("a listing repeating its first page: %v", err)
	}
}

// With discover off the listing is not read, even when the provider has one.
func TestDiscoverOffReadsNoListing(t *testing.T) {
	off := false
	f := &fakeProvider{listing: []pollers.Target{{Tenant: "t", Entity: "listed"}}}
	src, _, _ := newSource(t, f, fulllog.Settings{Discover: &off, Targets: []fulllog.TargetConfig{{Tenant: "t", Entity: "static"}}})
	ts, err := src.Targets(context.Background())
	if err != nil || len(ts) != 1 || ts[0].Entity != "static" {
		t.Fatalf("targets %+v, %v", ts, err)
	}
}

func TestDecodeEntries(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	items := []json.RawMessage{[]byte(`{"when":"2026-01-02 10:00:00","x":1}`), []byte(`{ "at" : "2026-01-02T10:00:00Z" }`), []byte(`{"when":"soon"}`)}
	es, err := fulllog.DecodeEntries(items, berlin, "event", "when", "at")
	if err != nil || len(es) != 3 {
		t.Fatalf("%+v, %v", es, err)
	}
	for i, want := range []string{"2026-01-02T09:00:00Z", "2026-01-02T10:00:00Z", "0001-01-01T00:00:00Z"} {
		if got := es[i].Time.UTC().Format(time.RFC3339); got != want || string(es[i].Raw) != string(items[i]) {
			t.Errorf("entry %d: %s %s, want %s and the item byte for byte", i, got, es[i].Raw, want)
		}
	}
	recs := fulllog.Records(es)
	if len(recs) != 3 || string(recs[1].Raw) != string(items[1]) || !recs[0].Time.Equal(es[0].Time) {
		t.Fatalf("records %+v", recs)
	}
	if _, err := fulllog.DecodeEntries([]json.RawMessage{[]byte(`{}`), []byte(`[1]`)}, time.UTC, "event"); err == nil || !strings.HasPrefix(err.Error(), "event 1: ") {
		t.Fatalf("an entry that is no object: %v", err)
	}
}

func TestParseTotal(t *testing.T) {
	for h, want := range map[string]int{"12": 12, " 3 ": 3, "": -1, "x": -1, "-2": -1} {
		if got := fulllog.ParseTotal(h); got != want {
			t.Errorf("ParseTotal(%q) = %d, want %d", h, got, want)
		}
	}
}
