// Package fulllog turns a full-log provider (one that returns the whole audit log of one
// entity at a time: Conga Sign, SigningHub, Constellation1 eSign) into a pollers.Source.
//
// The provider implements only pollers.LogFetcher (fetch and decode one entity's log) and,
// when it can discover its entities, pollers.Lister. This package does the rest:
//
//   - Targets: the static targets of the settings plus every page of the listing.
//   - Poll: fetch the log, diff it against the cursor (pollers/logdiff), emit the new
//     entries and the new cursor in one Emit, so the cursor moves only with the records
//     it covers.
//   - When the listing's UpdatedAt of a target has not moved since its last successful
//     poll, and that poll started more than `settle` (1 min) after it, the log is not
//     fetched at all (zero requests); the target then counts as fresh up to the start of
//     this process's last successful listing (what proves it unchanged), never later: a
//     listing that keeps failing makes the targets go stale instead of looking fresh.
//   - A terminal target (completed, declined, expired...) gets one final poll once it
//     has been terminal for retire_after (default 24 h), then asks the runner to retire
//     it (Outcome.Retire: marked retired in the target set, checkpoint tombstoned, no
//     longer counted for freshness).
//
// The cursor is JSON: {"v":1, "watermark": poll start (the log is complete up to it),
// "updated_at": the listing's UpdatedAt at that poll, "terminal_since": when it was first
// seen terminal, "missing": the occurrences missing from the log at that poll (a shrink is
// counted once, when this grows), "log": the logdiff state}. Its size is bounded by the logdiff bound.
package fulllog

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/lenient"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/logdiff"
	"github.com/auditstream/auditstream/pollers/pollhttp"
	"github.com/auditstream/auditstream/schemas/timeparse"
)

// Defaults of Settings.
const (
	// DefaultRetireAfter is the grace period of a terminal target before its final poll.
	DefaultRetireAfter = 24 * time.Hour
	// DefaultSettle is how long after its updated-at a target is still fetched.
	DefaultSettle = time.Minute
	// DefaultMaxListPages bounds one pass over a listing.
	DefaultMaxListPages = 10_000
)

// Settings are the full-log settings a provider embeds inline in its own settings block
// (`yaml:",inline"`), so that every full-log provider spells them the same way.
type Settings struct {
	// Tenant names the account in keys and events; the provider sets its default (from
	// its credentials) before SetDefaults, which gives it to the static targets without
	// a tenant.
	Tenant string `yaml:"tenant"`
	// Discover reads the provider's listing (default true); off, only Targets are polled.
	Discover *bool `yaml:"discover"`
	// PageSize is the number of entities per listing request (default 50; each provider
	// validates it against its API's maximum, ValidateProvider).
	PageSize int `yaml:"page_size"`
	// Zone is the time zone of the vendor's zone-less dates (default UTC).
	Zone config.Zone `yaml:"zone"`
	// Targets are entities polled whether or not the listing shows them.
	Targets []TargetConfig `yaml:"targets"`
	// RetireAfter is how long a terminal entity is still watched before its final poll
	// and retirement (default 24h).
	RetireAfter config.Duration `yaml:"retire_after"`
	// Settle: a target's log is fetched again, even when the listing's updated-at did not
	// move, until the last fetch started this long after that updated-at (default 1m).
	// Listings give updated-at to the second (an entry written later in the same second
	// leaves it unchanged) and the vendor's clock is not ours.
	Settle config.Duration `yaml:"settle"`
	// MaxListPages is the most pages one pass over a listing reads (default 10000): an
	// API that ignores the paging parameters and sends no total would otherwise be
	// listed forever. Reaching it is an error (raise it for a larger account).
	MaxListPages int `yaml:"max_list_pages"`
}

// TargetConfig is one static target.
type TargetConfig struct {
	Tenant string `yaml:"tenant"`
	Entity string `yaml:"entity"`
	Name   string `yaml:"name"`
}

// DefaultPageSize is the default page_size of every full-log provider's listing.
const DefaultPageSize = 50

// SetDefaults fills unset fields (Tenant excepted: the provider's default).
func (s *Settings) SetDefaults() {
	if s.Discover == nil {
		t := true
		s.Discover = &t
	}
	if s.PageSize == 0 {
		s.PageSize = DefaultPageSize
	}
	for i := range s.Targets {
		if s.Targets[i].Tenant == "" {
			s.Targets[i].Tenant = s.Tenant
		}
	}
	if s.RetireAfter == 0 {
		s.RetireAfter = config.Duration(DefaultRetireAfter)
	}
	if s.Settle == 0 {
		s.Settle = config.Duration(DefaultSettle)
	}
	if s.MaxListPages == 0 {
		s.MaxListPages = DefaultMaxListPages
	}
}

// Validate records the problems of the settings at path (the provider's block).
func (s *Settings) Validate(path string, p *config.Problems) {
	p.Positive(path+".retire_after", s.RetireAfter)
	if s.Settle < config.Duration(time.Second) {
		p.Add(path+".settle", "must be at least 1s (updated-at has a resolution of one second), got %s", s.Settle.D())
	}
	if s.MaxListPages < 1 || s.MaxListPages > 10_000_000 {
		p.Add(path+".max_list_pages", "must be between 1 and 10000000, got %d", s.MaxListPages)
	}
	for i, t := range s.Targets {
		if t.Entity == "" {
			p.Add(fmt.Sprintf("%s.targets[%d].entity", path, i), "is required")
		}
	}
}

// ValidateProvider records the problems of a provider's whole full-log block at path:
// page_size (1 to maxPageSize, the API's limit), zone, something to poll, then Validate.
func (s *Settings) ValidateProvider(path string, p *config.Problems, maxPageSize int) {
	if s.PageSize < 1 || s.PageSize > maxPageSize {
		p.Add(path+".page_size", "must be between 1 and %d, got %d", maxPageSize, s.PageSize)
	}
	s.Zone.Validate(path+".zone", p)
	if !s.discover() && len(s.Targets) == 0 {
		p.Add(path, "discover is off and no targets are listed: nothing to poll")
	}
	s.Validate(path, p)
}

// discover is Discover, true when unset.
func (s *Settings) discover() bool { return s.Discover == nil || *s.Discover }

// FullLog returns the settings; a provider's settings block that embeds Settings has
// it too, which is how Define reaches them.
func (s *Settings) FullLog() *Settings { return s }

// Provider is what a full-log provider builds: its LogFetcher and its Lister.
type Provider interface {
	pollers.Lister
	pollers.LogFetcher
}

// Define declares a full-log provider whose settings block is S (embedding Settings
// inline): newProvider builds the provider from its validated settings and the HTTP
// client; its Source is New over it, with the listing unless discover is off.
func Define[S any, PS interface {
	*S
	config.Settings
	FullLog() *Settings
}, P Provider](name string, newProvider func(s S, hc *pollhttp.Client) (P, error)) pollers.Plugin {
	return pollers.Define[S, PS](name, func(s *S, d pollers.Deps) (pollers.Source, error) {
		p, err := newProvider(*s, d.HTTP)
		if err != nil {
			return nil, err
		}
		return New(name, p, p, *PS(s).FullLog(), d), nil
	})
}

// ListPages reads one listing page by page, n from 0: fetch returns page n's targets and
// the listing's total (-1 when the answer has none). Every page passes a PageGuard and,
// unless empty, is handed to page; the listing ends with a page shorter than page_size
// or once total targets were read. Errors are wrapped with where(n).
func (s *Settings) ListPages(page func([]pollers.Target) error, where func(n int) string, fetch func(n int) ([]pollers.Target, int, error)) error {
	seen := 0
	guard := s.PageGuard()
	for n := 0; ; n++ {
		ts, total, err := fetch(n)
		if err == nil {
			err = guard.Check(ts)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", where(n), err)
		}
		if len(ts) > 0 {
			if err := page(ts); err != nil {
				return err
			}
		}
		seen += len(ts)
		if len(ts) < s.PageSize || (total >= 0 && seen >= total) {
			return nil
		}
	}
}

// Entry is one log entry exactly as received, with its parsed time (zero when it has no
// readable time): what a full-log provider's decoder returns.
type Entry struct {
	Raw  json.RawMessage
	Time time.Time
}

// DecodeEntries reads the items of a log: each must be a JSON object (else an error
// naming `what` and its index) and is kept byte for byte; its time is the first of
// timeFields it has, a zone-less one read in loc. It never panics.
func DecodeEntries(items []json.RawMessage, loc *time.Location, what string, timeFields ...string) ([]Entry, error) {
	out := make([]Entry, 0, len(items))
	for i, raw := range items {
		o, err := lenient.ParseObject(raw)
		if err != nil {
			return nil, fmt.Errorf("%s %d: %w", what, i, err)
		}
		e := Entry{Raw: raw}
		if s, ok := o.String(timeFields...); ok {
			if t, err := timeparse.Parse(s, loc); err == nil {
				e.Time = t
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// Records returns the entries as the records of a FetchLog, in order.
func Records(es []Entry) []pollers.Record {
	out := make([]pollers.Record, len(es))
	for i, e := range es {
		out[i] = pollers.Record{Time: e.Time, Raw: e.Raw}
	}
	return out
}

// Source is the pollers.Source of a full-log provider.
type Source struct {
	fetch    pollers.LogFetcher
	list     pollers.Lister
	settings Settings
	poller   string
	provider string
	log      *slog.Logger
	m        *metrics.Metrics
	now      func() time.Time

	mu sync.Mutex
	// listedAt is when the last successful listing started (zero: none yet).
	listedAt time.Time
}

// New builds the Source of provider. list may be nil (static targets only); it is not
// used when s.Discover is off.
func New(provider string, fetch pollers.LogFetcher, list pollers.Lister, s Settings, d pollers.Deps) *Source {
	s.SetDefaults()
	if !*s.Discover {
		list = nil
	}
	return &Source{fetch: fetch, list: list, settings: s, poller: d.Poller, provider: provider,
		log: d.Log.With("poller", d.Poller, "provider", provider), m: d.Metrics, now: time.Now}
}

// Zone implements pollers.Zoned: the `zone:` setting travels with every record, so the
// normalizer reads the vendor's zone-less dates in it.
func (s *Source) Zone() string { return string(s.settings.Zone) }

// SetClock replaces time.Now (tests).
func (s *Source) SetClock(now func() time.Time) { s.now = now }

// Targets lists the static targets and every page of the listing; a target both static
// and listed takes what the listing says.
func (s *Source) Targets(ctx context.Context) ([]pollers.Target, error) {
	var out []pollers.Target
	index := map[[2]string]int{}
	add := func(t pollers.Target) {
		k := [2]string{t.Tenant, t.Entity}
		if i, ok := index[k]; ok {
			out[i] = t
			return
		}
		index[k] = len(out)
		out = append(out, t)
	}
	for _, t := range s.settings.Targets {
		add(pollers.Target{Tenant: t.Tenant, Entity: t.Entity, Name: t.Name})
	}
	if s.list == nil {
		return out, nil
	}
	begin := s.now().UTC()
	err := s.list.List(ctx, func(page []pollers.Target) error {
		for _, t := range page {
			add(t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s targets: %w", s.provider, err)
	}
	s.mu.Lock()
	if begin.After(s.listedAt) {
		s.listedAt = begin
	}
	s.mu.Unlock()
	return out, nil
}

// Cursor is a full-log target's checkpoint.
type Cursor struct {
	V         int       `json:"v"`
	Watermark time.Time `json:"watermark"`
	// UpdatedAt is the listing's UpdatedAt of the target at the last successful poll.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	// TerminalSince is when the target was first seen terminal (its UpdatedAt then,
	// or the poll time when the listing has none).
	TerminalSince time.Time `json:"terminal_since,omitzero"`
	// Missing is how many occurrences seen before were missing from the log at the last
	// fetch (a shrink is counted and logged only when this grows).
	Missing int `json:"missing,omitempty"`
	// Log is the logdiff state (compact, bounded).
	Log string `json:"log"`
}

// DecodeCursor reads a cursor (nil = the first poll).
func DecodeCursor(b json.RawMessage) (Cursor, logdiff.State, error) {
	var c Cursor
	if b == nil {
		return c, logdiff.State{}, nil
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, logdiff.State{}, fmt.Errorf("cursor is not a full-log cursor: %w", err)
	}
	if c.V != 1 {
		return c, logdiff.State{}, fmt.Errorf("cursor version %d is unknown", c.V)
	}
	st, err := logdiff.Decode(c.Log)
	if err != nil {
		return c, logdiff.State{}, fmt.Errorf("cursor: %w", err)
	}
	return c, st, nil
}

// Poll fetches t's log unless the listing shows it unchanged, and emits what is new.
func (s *Source) Poll(ctx context.Context, t pollers.Target, cursor json.RawMessage, emit pollers.Emit) (pollers.Outcome, error) {
	start := s.now().UTC()
	c, st, err := DecodeCursor(cursor)
	if err != nil {
		return pollers.Outcome{}, fmt.Errorf("target %s: %w", t.Entity, err)
	}
	final := false
	next := c
	next.V = 1
	if t.Terminal {
		if next.TerminalSince.IsZero() {
			next.TerminalSince = t.UpdatedAt
			if next.TerminalSince.IsZero() {
				next.TerminalSince = start
			}
		}
		final = !start.Before(next.TerminalSince.Add(s.settings.RetireAfter.D()))
	} else {
		next.TerminalSince = time.Time{} // reopened (or never closed)
	}
	// Unchanged: the listing's updated-at did not move since the last fetch, and that
	// fetch started well after it (entries of the same second, clock skew).
	unchanged := cursor != nil && !t.UpdatedAt.IsZero() && c.UpdatedAt.Equal(t.UpdatedAt) &&
		c.Watermark.After(t.UpdatedAt.Add(s.settings.Settle.D()))
	if unchanged && !final {
		if !next.TerminalSince.Equal(c.TerminalSince) {
			// Remember when it turned terminal, without fetching.
			if err := emit(ctx, nil, mustJSON(next)); err != nil {
				return pollers.Outcome{}, err
			}
		}
		// Fresh up to the listing that showed it unchanged, not up to now: when the
		// listing fails, nothing proves the log did not grow since.
		s.mu.Lock()
		w := s.listedAt
		s.mu.Unlock()
		if w.After(start) {
			w = start
		}
		return pollers.Outcome{Watermark: w}, nil
	}
	entries, err := s.fetch.FetchLog(ctx, t)
	if err != nil {
		return pollers.Outcome{}, fmt.Errorf("fetch the log of %s: %w", t.Entity, err)
	}
	res, err := logdiff.Diff(st, entries)
	if err != nil {
		return pollers.Outcome{}, fmt.Errorf("log of %s: %w", t.Entity, err)
	}
	if res.Missing > c.Missing {
		s.m.LogShrinks.WithLabelValues(s.poller, s.provider).Inc()
		s.log.Warn("the log is shorter than before; entries seen before are not re-emitted",
			"target", t.Entity, "status", t.Status, "missing_occurrences", res.Missing, "missing_before", c.Missing, "entries_now", len(entries))
	}
	next.Missing = res.Missing
	next.Watermark = start
	next.UpdatedAt = t.UpdatedAt
	next.Log = res.Next.Encode()
	if err := emit(ctx, res.New, mustJSON(next)); err != nil {
		return pollers.Outcome{}, err
	}
	return pollers.Outcome{Retire: final}, nil
}

func mustJSON(c Cursor) json.RawMessage {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // a struct of times and strings always marshals
	}
	return b
}

// PageGuard ends a listing that would never end. A provider's List calls Check with each
// page it read, before handing the page over: Check fails once more than max_list_pages
// pages were read, and when a page lists the same entities as the one before it (an API
// that ignores the page parameter answers its first page again and again; without a
// total in the answer only a short page would end the loop, and it never comes).
type PageGuard struct {
	max, n int
	prev   []string
}

// PageGuard returns a guard for one pass over one listing.
func (s *Settings) PageGuard() *PageGuard {
	return &PageGuard{max: cmp.Or(s.MaxListPages, DefaultMaxListPages)}
}

// Check records page ts of a listing and reports why the listing must stop, if it must.
func (g *PageGuard) Check(ts []pollers.Target) error {
	g.n++
	if g.n > g.max {
		return fmt.Errorf("the listing has more than %d pages (settings.max_list_pages): stopped; does the API ignore the paging parameters?", g.max)
	}
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.Entity
	}
	if len(ids) > 0 && slices.Equal(ids, g.prev) {
		return fmt.Errorf("listing page %d names the same %d entities as the page before: the API ignores the page parameter; stopped", g.n, len(ids))
	}
	g.prev = ids
	return nil
}
