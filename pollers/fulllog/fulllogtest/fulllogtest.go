// Package fulllogtest holds the test helpers every full-log provider's tests share
// (Conga Sign, SigningHub, Constellation1 eSign): building the provider as its plug-in
// would, crawling it against its simulator, and the checks its authentication, retry,
// fault and decoder tests make. What a test asserts about its own provider stays in the
// provider's folder.
package fulllogtest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	// The providers' tests read vendor dates in named zones (settings.zone).
	_ "time/tzdata"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/pollers/pollhttp"
	"github.com/auditstream/auditstream/pollers/polltest"
	"github.com/auditstream/auditstream/pollers/simkit/logsim"
)

// Open builds a provider with newProvider (its New) the way its plug-in would: settings
// s defaulted and validated at "settings" (a problem fails the test), an HTTP client
// with quick retries, logging to log (nil: nowhere).
func Open[S any, PS interface {
	*S
	config.Settings
}, P any](t testing.TB, provider string, newProvider func(S, *pollhttp.Client) (P, error), s S, log *slog.Logger) P {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc, err := pollhttp.New(&http.Client{Timeout: 5 * time.Second}, provider,
		pollhttp.Config{MaxRetries: 2, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}, log, metrics.NewUnregistered())
	if err != nil {
		t.Fatal(err)
	}
	testkit.CheckSettings(t, PS(&s), "settings")
	p, err := newProvider(s, hc)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Opener returns a provider's Open against a server at base: fill sets the base URL in
// the settings, and the credentials a test left unset.
func Opener[S any, PS interface {
	*S
	config.Settings
}, P any](provider string, newProvider func(S, *pollhttp.Client) (P, error), fill func(s *S, base string)) func(t testing.TB, base string, s S, log *slog.Logger) P {
	return func(t testing.TB, base string, s S, log *slog.Logger) P {
		t.Helper()
		fill(&s, base)
		return Open[S, PS](t, provider, newProvider, s, log)
	}
}

// Suite is one full-log provider's tests as the shared checks see them, declared once in
// its test files with what differs: how the provider is built against a server (Open, an
// Opener), the simulator's test settings on a clock (SimConfig; nil: the real clock) and
// how the simulator is built from them (NewSim), and the provider settings that hold
// given full-log settings (Settings).
type Suite[SC, C any] struct {
	Open      func(t testing.TB, base string, cfg C, log *slog.Logger) *fulllog.REST
	SimConfig func(c *Clock) SC
	NewSim    func(SC) http.Handler
	Settings  func(s fulllog.Settings) C
}

// DefaultClient sets the API client of OAuth2 provider settings a test left unset (id,
// secret: its fields) to the fixture's (defaultID, defaultSecret), each on its own.
func DefaultClient(id *string, secret *config.Secret, defaultID, defaultSecret string) {
	if *id == "" {
		*id = defaultID
	}
	if *secret == "" {
		*secret = config.Secret(defaultSecret)
	}
}

// CheckListingsEnd runs logsim.CheckListingsEnd against the simulator of the suite's
// settings (with ignore_paging or not; SC must embed logsim.Settings) and the provider
// built against it (its full-log settings: pageSize, the max_list_pages of the check).
func (s Suite[SC, C]) CheckListingsEnd(t *testing.T, pageSize int) {
	t.Helper()
	err := logsim.CheckListingsEnd(t.Context(), func(ignorePaging bool, maxPages int) (pollers.Lister, func()) {
		c := s.SimConfig(nil)
		any(&c).(interface{ SimSettings() *logsim.Settings }).SimSettings().IgnorePaging = ignorePaging
		srv := httptest.NewServer(s.NewSim(c))
		return s.Open(t, srv.URL, s.Settings(fulllog.Settings{PageSize: pageSize, MaxListPages: maxPages}), nil), srv.Close
	})
	if err != nil {
		t.Fatal(err)
	}
}

// CheckAuthFailures runs CheckAuthFailures against fresh simulators of the suite's
// settings (changed by each case) and the provider built against them.
func (s Suite[SC, C]) CheckAuthFailures(t *testing.T, entity string, secrets []string, cases ...AuthCase[SC, C]) {
	t.Helper()
	CheckAuthFailures(t, func() SC { return s.SimConfig(nil) }, s.NewSim, s.Open, entity, secrets, cases...)
}

// OAuthSimSettings are the settings of an OAuth2 simulator for a test: it accepts the
// client id with secret; its history as SimSettings makes it.
func OAuthSimSettings(id, secret string, seed uint64, packages, entries int, c *Clock) logsim.OAuthSettings {
	return logsim.OAuthSettings{Client: logsim.Client{ClientID: id, ClientSecret: config.Secret(secret)}, Settings: SimSettings(seed, packages, entries, c)}
}

// SimSettings are a simulator's history settings for a test: seed, packages of entries
// each, a fifth of them exact repeats, on clock c (nil: the real clock).
func SimSettings(seed uint64, packages, entries int, c *testkit.Clock) logsim.Settings {
	s := logsim.Settings{Seed: seed, Packages: packages, EntriesPerPackage: entries, DuplicateFraction: 0.2}
	if c != nil {
		s.Now = c.Now
	}
	return s
}

// Crawl lists every target of p and fetches each one's log once (logsim.Crawl): the
// fetched keys and the listed targets; an error fails the test.
func Crawl(t testing.TB, p fulllog.Provider) (map[string]bool, map[string]pollers.Target) {
	t.Helper()
	keys, targets, err := logsim.Crawl(context.Background(), p, p)
	if err != nil {
		t.Fatal(err)
	}
	return keys, targets
}

// CheckFetchedServed fails the test unless the fetched keys are exactly the served ones
// (and some); it returns how many of them are exact repeats (occurrence 2 or more).
func CheckFetchedServed(t testing.TB, fetched, served map[string]bool) (repeats int) {
	t.Helper()
	if len(fetched) != len(served) || len(fetched) == 0 {
		t.Fatalf("fetched %d keys, the simulator served %d", len(fetched), len(served))
	}
	for k := range served {
		if !fetched[k] {
			t.Fatalf("served %s not fetched", k)
		}
		if strings.HasSuffix(k, "/2") {
			repeats++
		}
	}
	return repeats
}

// DebugLog returns a logger at debug level writing to the returned buffer.
func DebugLog() (*testkit.LockedBuffer, *slog.Logger) {
	logs := &testkit.LockedBuffer{}
	return logs, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// List reads the whole listing of l, dropping the pages.
func List(l pollers.Lister) error {
	return l.List(context.Background(), func([]pollers.Target) error { return nil })
}

// CheckNoSecret fails the test when any of texts contains any of secrets.
func CheckNoSecret(t testing.TB, texts []string, secrets ...string) {
	t.Helper()
	for _, s := range texts {
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Fatalf("a secret leaked: %s", s)
			}
		}
	}
}

// CheckAuthFailure lists p and fetches entity's log with authentication failing: the
// listing must fail naming want, the fetch must fail too, and neither error nor the
// logs written to logs may hold any of secrets. It returns the listing's error.
func CheckAuthFailure(t testing.TB, p fulllog.Provider, logs *testkit.LockedBuffer, entity, want string, secrets ...string) error {
	t.Helper()
	err := List(p)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want one containing %q", err, want)
	}
	_, ferr := p.FetchLog(context.Background(), pollers.Target{Tenant: "t", Entity: entity})
	if ferr == nil {
		t.Fatal("the fetch succeeded without authentication")
	}
	CheckNoSecret(t, []string{err.Error(), ferr.Error(), logs.String()}, secrets...)
	return err
}

// CheckRetriedQuietly lists l against a server whose credential call answers 500 once,
// echoing what it was sent: the listing must succeed, the call must have been retried
// (tries() at least 2, a "retrying" line in the logs) and the logs hold none of secrets.
func CheckRetriedQuietly(t testing.TB, l pollers.Lister, logs *testkit.LockedBuffer, tries func() int, secrets ...string) {
	t.Helper()
	if err := List(l); err != nil {
		t.Fatal(err)
	}
	if n := tries(); n < 2 || !strings.Contains(logs.String(), "retrying") {
		t.Fatalf("want the 500 retried (%d calls), logs: %s", n, logs.String())
	}
	CheckNoSecret(t, []string{logs.String()}, secrets...)
}

// Fault is one injected fault and what the fetch's error must then contain.
type Fault struct {
	Faults logsim.FaultSettings
	Want   []string
}

// CheckFaults fetches target's log under each fault of a simulator with shared parts
// sim: each fetch must fail with an error naming the fault's Want, and none may count
// as served. Then, faults off, fetching unknown must fail with 404.
func CheckFaults(t testing.TB, sim *logsim.Base, f pollers.LogFetcher, target, unknown pollers.Target, faults ...Fault) {
	t.Helper()
	for _, fl := range faults {
		sim.Faults.Set(fl.Faults)
		_, err := f.FetchLog(context.Background(), target)
		for _, w := range fl.Want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Fatalf("faults %+v: err = %v, want one containing %q", fl.Faults, err, w)
			}
		}
	}
	if sim.Served.Count() != 0 {
		t.Fatal("a faulty answer counted as served")
	}
	sim.Faults.Set(logsim.FaultSettings{})
	if _, err := f.FetchLog(context.Background(), unknown); !pollhttp.IsStatus(err, http.StatusNotFound) {
		t.Fatalf("unknown %s: err = %v, want a 404", unknown.Entity, err)
	}
}

// Swap is an http.Handler whose handler can be replaced while a server runs it: a
// simulator replaced by a fresh one is a restarted server (it knows no token).
type Swap struct {
	mu sync.Mutex
	h  http.Handler
}

// NewSwap returns a Swap serving h.
func NewSwap(h http.Handler) *Swap { return &Swap{h: h} }

// Set replaces the handler.
func (s *Swap) Set(h http.Handler) {
	s.mu.Lock()
	s.h = h
	s.mu.Unlock()
}

func (s *Swap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	h.ServeHTTP(w, r)
}

// CheckEntries fails the test unless every entry a decoder returned is a JSON object
// (fuzz targets call it on whatever decoded; it recovers nothing).
func CheckEntries(t testing.TB, es []fulllog.Entry) {
	t.Helper()
	for _, e := range es {
		if !json.Valid(e.Raw) || e.Raw[0] != '{' {
			t.Fatalf("entry %q is not a JSON object", e.Raw)
		}
	}
}

// CheckGolden compares decoded entries with a golden list written by hand: as many
// entries, entry i's time (RFC 3339) as want[i]["time"] and the string field of its JSON
// object as want[i][field in lower case], and every entry kept byte for byte from body.
func CheckGolden(t testing.TB, body []byte, es []fulllog.Entry, field string, want []map[string]string) {
	t.Helper()
	if len(es) != len(want) {
		t.Fatalf("%d entries, want %d", len(es), len(want))
	}
	for i, e := range es {
		if got := e.Time.Format(time.RFC3339Nano); got != want[i]["time"] {
			t.Errorf("entry %d time %s, want %s", i, got, want[i]["time"])
		}
		var f map[string]any
		if err := json.Unmarshal(e.Raw, &f); err != nil || f[field] != want[i][strings.ToLower(field)] {
			t.Errorf("entry %d %s = %v, want %q (%v)", i, field, f[field], want[i][strings.ToLower(field)], err)
		}
		if !bytes.Contains(body, e.Raw) {
			t.Errorf("entry %d is not kept byte for byte: %s", i, e.Raw)
		}
	}
}

// DecodeFile reads the file at path (testdata) and decodes it with decode in loc: the
// body and what decoded; either failing fails the test.
func DecodeFile[T any](t testing.TB, path string, decode func([]byte, *time.Location) (T, error), loc *time.Location) ([]byte, T) {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := decode(body, loc)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return body, v
}

// Server starts a server answering every request with code and body(r) (a body echoing
// what it was sent stands for a vendor quoting credentials back); it stops when the
// test ends. It returns the server's URL.
func Server(t testing.TB, code int, body func(r *http.Request) string) string {
	t.Helper()
	return Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := body(r)
		w.WriteHeader(code)
		_, _ = w.Write([]byte(b))
	}))
}

// Start serves h (a simulator) until the test ends; it returns the server's URL.
func Start(t testing.TB, h http.Handler) string {
	t.Helper()
	return polltest.Start(t, h)
}

// Form returns the value of the posted form field name of r.
func Form(r *http.Request, name string) string {
	_ = r.ParseForm()
	return r.PostForm.Get(name)
}

// ConfigCase is one settings block and the problems its validation must name (none: it
// must validate).
type ConfigCase[S any] struct {
	Name     string
	Settings S
	Want     []string
}

// CheckConfigs defaults and validates each case's settings at path "s"
// (testkit.CheckSettings) in a subtest, then hands them to check (nil: none) to look at
// the defaults.
func CheckConfigs[S any, PS interface {
	*S
	testkit.Settings
}](t *testing.T, check func(t *testing.T, s *S), cases ...ConfigCase[S]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			s := tc.Settings
			testkit.CheckSettings(t, PS(&s), "s", tc.Want...)
			if check != nil {
				check(t, &s)
			}
		})
	}
}

// CheckListingGolden decodes the listing page at path (testdata) with decode and
// compares it with golden, written by hand: either a bare list of items or an object
// with the total ("count" or "total") and the items ("results" or "sessions"); an item
// has id, name, status, terminal (what terminal says of the status) and its updated time
// in RFC 3339 ("updated" or "modified"). A golden list has no total: the page must have
// none either (-1).
func CheckListingGolden(t testing.TB, path, golden string, decode func([]byte, *time.Location) (*fulllog.Listing, error), terminal func(string) bool) {
	t.Helper()
	_, l := DecodeFile(t, path, decode, time.UTC)
	type item struct {
		ID, Name, Status, Updated, Modified string
		Terminal                            bool
	}
	var want struct {
		Count, Total      *int
		Results, Sessions []item
	}
	raw, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &want.Results); err != nil {
		testkit.ReadJSON(t, golden, &want)
	}
	items, wantTotal := append(want.Results, want.Sessions...), -1
	if n := cmp.Or(want.Count, want.Total); n != nil {
		wantTotal = *n
	}
	if l.Total != wantTotal || len(l.Items) != len(items) {
		t.Fatalf("total %d, %d items; want %d, %d", l.Total, len(l.Items), wantTotal, len(items))
	}
	for i, r := range l.Items {
		w := items[i]
		if r.ID != w.ID || r.Name != w.Name || r.Status != w.Status || terminal(r.Status) != w.Terminal ||
			r.Updated.Format(time.RFC3339Nano) != cmp.Or(w.Updated, w.Modified) {
			t.Errorf("item %d = %+v, want %+v", i, r, w)
		}
	}
}

// FuzzListing fuzzes a listing decoder from the seeds (the testdata listing at path and
// bodies): what decodes has no item without an id. It never panics.
func FuzzListing(f *testing.F, path string, decode func([]byte, *time.Location) (*fulllog.Listing, error), bodies ...string) {
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	for _, b := range bodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := decode(b, time.UTC)
		if err != nil {
			return
		}
		for _, r := range l.Items {
			if r.ID == "" {
				t.Fatal("item without id accepted")
			}
		}
	})
}

// FuzzLog fuzzes a log decoder from the seeds (the testdata log at path and bodies):
// what decodes has only JSON objects as entries (entries returns them). It never panics.
func FuzzLog[L any](f *testing.F, path string, decode func([]byte, *time.Location) (L, error), entries func(L) []fulllog.Entry, bodies ...string) {
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	for _, b := range bodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if l, err := decode(b, time.UTC); err == nil {
			CheckEntries(t, entries(l))
		}
	})
}

// LogCase is one log answer for a decoder and what it must decode to.
type LogCase struct {
	Name, Body string
	// Zone names the zone of zone-less times ("": UTC).
	Zone string
	// N entries, the first one's time Time0 (RFC 3339); or an error containing WantErr.
	N       int
	Time0   string
	WantErr string
}

// CheckLogCases decodes each case's body with decode in a subtest and checks the error,
// the number of entries and the first one's time; check (nil: none) looks at the rest
// of what decoded.
func CheckLogCases[L interface{ Answer() *fulllog.Log }](t *testing.T, decode func([]byte, *time.Location) (L, error), check func(t *testing.T, tc LogCase, l L), cases ...LogCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			loc, err := time.LoadLocation(tc.Zone)
			if err != nil {
				t.Fatal(err)
			}
			l, err := decode([]byte(tc.Body), loc)
			if polltest.Err(t, err, tc.WantErr) {
				return
			}
			es := l.Answer().Entries
			if len(es) != tc.N {
				t.Fatalf("%d entries, want %d", len(es), tc.N)
			}
			if tc.N > 0 && es[0].Time.Format(time.RFC3339Nano) != tc.Time0 {
				t.Fatalf("time %s, want %s", es[0].Time.Format(time.RFC3339Nano), tc.Time0)
			}
			if check != nil {
				check(t, tc, l)
			}
		})
	}
}

// AuthCase is one way authentication fails: the simulator's settings changed by Sim
// (nil: none), the poller's settings, the server the poller talks to instead of the
// simulator (Base, "": the simulator), what the error must contain and, if set, an error
// it must be (errors.Is).
type AuthCase[SC, C any] struct {
	Name   string
	Sim    func(*SC)
	Config C
	Base   string
	Want   string
	Is     error
	// Logged, if set, must be in the logs (the retry log showing a redacted path...).
	Logged string
}

// CheckAuthFailures runs each case in a subtest against a fresh simulator (newSim over
// simConfig, changed by the case): the provider open builds, logging at debug level, must
// fail to list and fetch entity, naming tc.Want and quoting none of the secrets
// (CheckAuthFailure).
func CheckAuthFailures[SC, C any](t *testing.T, simConfig func() SC, newSim func(SC) http.Handler, open func(t testing.TB, base string, cfg C, log *slog.Logger) *fulllog.REST,
	entity string, secrets []string, cases ...AuthCase[SC, C]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			sc := simConfig()
			if tc.Sim != nil {
				tc.Sim(&sc)
			}
			base := cmp.Or(tc.Base, Start(t, newSim(sc)))
			logs, log := DebugLog()
			err := CheckAuthFailure(t, open(t, base, tc.Config, log), logs, entity, tc.Want, secrets...)
			if tc.Is != nil && !errors.Is(err, tc.Is) {
				t.Fatalf("err = %v, want one that is %v", err, tc.Is)
			}
			if tc.Logged != "" && !strings.Contains(logs.String(), tc.Logged) {
				t.Fatalf("the logs do not show %q: %s", tc.Logged, logs.String())
			}
		})
	}
}

// CheckLogGolden decodes the log answer at path (testdata, in UTC) with decode and
// compares it with golden, written by hand: "package_id" is the entity the answer names
// and the list under entries holds the entries as CheckGolden reads them (field: the
// entry field compared). It returns what decoded and the golden's other fields.
func CheckLogGolden[L interface{ Answer() *fulllog.Log }](t testing.TB, path, golden string, decode func([]byte, *time.Location) (L, error), entries, field string) (L, map[string]json.RawMessage) {
	t.Helper()
	body, l := DecodeFile(t, path, decode, time.UTC)
	var want map[string]json.RawMessage
	testkit.ReadJSON(t, golden, &want)
	var id string
	var es []map[string]string
	if err := json.Unmarshal(want["package_id"], &id); err != nil {
		t.Fatalf("%s: package_id: %v", golden, err)
	}
	if err := json.Unmarshal(want[entries], &es); err != nil {
		t.Fatalf("%s: %s: %v", golden, entries, err)
	}
	if got := l.Answer().Entity; got != id {
		t.Fatalf("package %q, want %q", got, id)
	}
	CheckGolden(t, body, l.Answer().Entries, field, es)
	return l, want
}

// Clock is the simulated clock the tests move by hand.
type Clock = testkit.Clock

// NewClock returns a Clock at the tests' fixed start (2026-11-22 08:00 UTC).
func NewClock() *Clock { return testkit.NewClock(time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)) }
