package ecgrid

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/ecgrid/ecgridsim"
	"github.com/auditstream/auditstream/schemas"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	svcLogin    = "svc@example.com"
	svcPassword = "s3cret-Pa55word"
	svcUser     = 9000
)

func simUsers() []ecgridsim.User {
	return []ecgridsim.User{
		{ID: svcUser, Login: svcLogin, Password: svcPassword, NetworkID: 100, MailboxID: 200},
		{ID: 11, NetworkID: 100, MailboxID: 201},
		{ID: 12, NetworkID: 100, MailboxID: 202},
		{ID: 99, NetworkID: 555, MailboxID: 900}, // another network
	}
}

type fixture struct {
	sim *ecgridsim.Sim
	srv *httptest.Server
	m   *metrics.Metrics
	log *testkit.LockedBuffer
}

func newFixture(t *testing.T, cfg ecgridsim.Config) *fixture {
	t.Helper()
	if cfg.Users == nil {
		cfg.Users = simUsers()
	}
	if cfg.Seed == 0 {
		cfg.Seed = 7
	}
	sim := ecgridsim.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &fixture{sim: sim, srv: srv, m: metrics.NewUnregistered(), log: &testkit.LockedBuffer{}}
}

func (f *fixture) source(t *testing.T, mod func(*Config)) *Source {
	t.Helper()
	cfg := Config{Endpoint: f.srv.URL + "/v4.1/prod/ECGridOS.asmx", Login: svcLogin, Password: config.Secret(svcPassword),
		NetworkID: "100", Users: []int{0, 11}, MaxRecords: 50, BackoffMin: config.Duration(5 * time.Millisecond), BackoffMax: config.Duration(20 * time.Millisecond)}
	if mod != nil {
		mod(&cfg)
	}
	cfg.SetDefaults()
	var p config.Problems
	cfg.Validate("settings", &p)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New("ecgrid-test", cfg, Options{Timeout: 2 * time.Second, MaxRetries: 4}, log, f.m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// collector is an Emit that keeps what it is given.
type collector struct {
	recs    []pollers.Record
	cursors []json.RawMessage
}

func (c *collector) emit(_ context.Context, recs []pollers.Record, cursor json.RawMessage) error {
	c.recs = append(c.recs, recs...)
	if cursor != nil {
		c.cursors = append(c.cursors, cursor)
	}
	return nil
}

func (c *collector) last() json.RawMessage {
	if len(c.cursors) == 0 {
		return nil
	}
	return c.cursors[len(c.cursors)-1]
}

func (c *collector) ids() map[string]int {
	out := map[string]int{}
	for _, r := range c.recs {
		out[r.NativeID]++
	}
	return out
}

func poll(t *testing.T, s *Source, tg pollers.Target, c *collector) pollers.Outcome {
	t.Helper()
	out, err := s.Poll(context.Background(), tg, c.last(), c.emit)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPollIncrementalDedupeAndOwnSessions(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := newFixture(t, ecgridsim.Config{Users: []ecgridsim.User{{ID: svcUser, Login: svcLogin, Password: svcPassword, NetworkID: 100}},
		Rate: 2, Backfill: 10, Now: clock})
	s := f.source(t, func(c *Config) { c.Users = []int{0} })
	tg := pollers.Target{Tenant: "100", Entity: "0"}
	c := &collector{}
	poll(t, s, tg, c)
	if want := len(f.sim.Generated()); len(c.recs) != want || want < 10 {
		t.Fatalf("first poll: %d records, want the %d generated sessions", len(c.recs), want)
	}
	for _, r := range c.recs {
		if r.ContentType != schemas.ContentXML || !bytes.HasPrefix(r.Raw, []byte("<SessionIDInfo><SessionID>"+r.NativeID+"</SessionID>")) || r.Time.IsZero() {
			t.Fatalf("bad record %+v", r)
		}
	}
	poll(t, s, tg, c) // nothing new
	if want := len(f.sim.Generated()); len(c.recs) != want {
		t.Fatalf("second poll re-emitted: %d records, want %d", len(c.recs), want)
	}
	mu.Lock()
	now = now.Add(3 * time.Second) // 6 new sessions
	mu.Unlock()
	poll(t, s, tg, c)
	if want := len(f.sim.Generated()); len(c.recs) != want || want < 16 {
		t.Fatalf("after 3s: %d records, want %d", len(c.recs), want)
	}
	for id, n := range c.ids() {
		if n != 1 {
			t.Errorf("%s emitted %d times", id, n)
		}
	}
	// The poller's own login session is in the log but never emitted.
	logins := f.sim.LoginSessions()
	if len(logins) != 1 {
		t.Fatalf("%d logins", len(logins))
	}
	for id := range logins {
		if c.ids()[id] > 0 {
			t.Error("the poller's own login session was published")
		}
		if !strings.Contains(string(c.last()), id) {
			t.Error("own session not remembered in the cursor's seen list")
		}
	}
	var cur Cursor
	if err := json.Unmarshal(c.last(), &cur); err != nil || cur.V != 1 || cur.Watermark.IsZero() || len(cur.Seen) > 2*50 {
		t.Fatalf("cursor %s: %v", c.last(), err)
	}
	if got := testutil.ToFloat64(f.m.PollGaps.WithLabelValues("ecgrid-test", Name)); got != 0 {
		t.Errorf("gap counted without a full page: %v", got)
	}
}

func TestPollFullPageIsAGap(t *testing.T) {
	f := newFixture(t, ecgridsim.Config{Rate: 0.001, Backfill: 0})
	s := f.source(t, func(c *Config) { c.Users = []int{11} })
	tg := pollers.Target{Tenant: "100", Entity: "11"}
	c := &collector{}
	f.sim.Burst(11, 80) // more than max_records (50) on the first poll: not a gap of ours
	if out := poll(t, s, tg, c); out.Again {
		t.Error("first poll asked to be polled again")
	}
	if got := testutil.ToFloat64(f.m.PollGaps.WithLabelValues("ecgrid-test", Name)); got != 0 {
		t.Errorf("first full page counted as a gap: %v", got)
	}
	f.sim.Burst(11, 10) // fewer than a page: no gap
	if out := poll(t, s, tg, c); out.Again || len(c.recs) != 60 {
		t.Fatalf("again=%v records=%d", out.Again, len(c.recs))
	}
	f.sim.Burst(11, 120) // a full page, none seen: sessions may be lost
	out := poll(t, s, tg, c)
	if !out.Again {
		t.Error("a gap did not ask to be polled again")
	}
	if got := testutil.ToFloat64(f.m.PollGaps.WithLabelValues("ecgrid-test", Name)); got != 1 {
		t.Errorf("auditstream_poll_gaps_total = %v, want 1", got)
	}
	if !strings.Contains(f.log.String(), "possible gap") {
		t.Error("gap not logged")
	}
	if out := poll(t, s, tg, c); out.Again {
		t.Error("the next poll (overlapping) is a gap too")
	}
}

func TestSessionExpiryReLoginAndLogout(t *testing.T) {
	f := newFixture(t, ecgridsim.Config{Rate: 0.001, Backfill: 20, MaxSessionsPerUser: 2})
	s := f.source(t, nil)
	c := &collector{}
	tg := pollers.Target{Tenant: "100", Entity: "11"}
	poll(t, s, tg, c)
	f.sim.ExpireAll()
	poll(t, s, tg, c) // session expired fault → login again, transparently
	st := f.sim.Stats()
	if st.Logins != 2 || st.Requests["fault_SessionTimeout"] == 0 {
		t.Fatalf("logins=%d stats=%+v", st.Logins, st)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := f.sim.Stats(); st.Open != 0 || st.Requests["logouts"] != 1 {
		t.Errorf("after Close: %+v", st)
	}
	// The cap on open sessions: logins beyond it fail with a typed, retry-later error.
	s2, s3 := f.source(t, nil), f.source(t, nil)
	poll(t, s2, tg, &collector{})
	poll(t, s3, tg, &collector{})
	_, err := f.source(t, nil).Poll(context.Background(), tg, nil, (&collector{}).emit)
	if !errors.Is(err, ErrSessionLimit) {
		t.Errorf("third concurrent login: %v, want ErrSessionLimit", err)
	}
}

func TestAPIKeyIsTheSession(t *testing.T) {
	f := newFixture(t, ecgridsim.Config{Rate: 0.001, Backfill: 15, APIKey: "K-123-secret", APIKeyUser: svcUser})
	s := f.source(t, func(c *Config) { c.Login, c.Password, c.APIKey = "", "", "K-123-secret" })
	c := &collector{}
	poll(t, s, pollers.Target{Tenant: "100", Entity: "12"}, c)
	if st := f.sim.Stats(); st.Logins != 0 {
		t.Errorf("logged in with an API key: %+v", st)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestOtherNetworkIsDenied(t *testing.T) {
	f := newFixture(t, ecgridsim.Config{Rate: 0.001})
	s := f.source(t, nil)
	_, err := s.Poll(context.Background(), pollers.Target{Tenant: "100", Entity: "99"}, nil, (&collector{}).emit)
	if !errors.Is(err, ErrAuth) {
		t.Errorf("got %v, want ErrAuth", err)
	}
}

func TestFailedLoginNeverShowsThePassword(t *testing.T) {
	for _, v := range []string{"1.1", "1.2"} {
		t.Run(v, func(t *testing.T) {
			f := newFixture(t, ecgridsim.Config{Rate: 0.001})
			s := f.source(t, func(c *Config) { c.Password = "Wr0ng-Secret-Pw"; c.SOAPVersion = v })
			_, err := s.Poll(context.Background(), pollers.Target{Tenant: "100", Entity: "0"}, nil, (&collector{}).emit)
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("got %v, want ErrAuth", err)
			}
			if st := f.sim.Stats(); st.Requests["call_Login"] != 1 {
				t.Errorf("an auth failure was retried: %v", st.Requests)
			}
			if strings.Contains(err.Error(), "Wr0ng-Secret-Pw") || strings.Contains(f.log.String(), "Wr0ng-Secret-Pw") {
				t.Fatalf("password leaked: err=%v log=%s", err, f.log)
			}
			s.log.Info("config", "password", s.cfg.Password)
			if strings.Contains(f.log.String(), "Wr0ng-Secret-Pw") {
				t.Fatal("password leaked through a logged config value")
			}
		})
	}
}

func TestFaultsAreRetriedAndParsedBothVersions(t *testing.T) {
	for _, v := range []string{"1.1", "1.2"} {
		t.Run(v, func(t *testing.T) {
			f := newFixture(t, ecgridsim.Config{Users: simUsers()[:3], Rate: 0.001, Backfill: 30, Seed: 3, Faults: ecgridsim.Faults{ServerFault: 0.1, EmptyError: 0.1,
				Malformed: 0.1, WrongNamespace: 0.1, ExpireSession: 0.05, Slow: 0.05, SlowDelay: 10 * time.Millisecond}})
			s := f.source(t, func(c *Config) { c.SOAPVersion = v; c.Users = []int{0, 11, 12} })
			s.client.maxRetries = 20
			cs := map[string]*collector{}
			for i := 0; i < 15; i++ {
				for _, u := range []string{"0", "11", "12"} {
					if cs[u] == nil {
						cs[u] = &collector{}
					}
					poll(t, s, pollers.Target{Tenant: "100", Entity: u}, cs[u])
				}
			}
			total := 0
			for _, c := range cs {
				total += len(c.recs)
				for id, n := range c.ids() {
					if n != 1 {
						t.Errorf("%s emitted %d times", id, n)
					}
				}
			}
			if want := len(f.sim.Generated()); total != want || want < 30 {
				t.Errorf("%d records, want %d", total, want)
			}
			st := f.sim.Stats()
			for _, k := range []string{"fault_server", "fault_empty_500", "fault_malformed", "fault_wrong_namespace"} {
				if st.Requests[k] == 0 {
					t.Errorf("%s never injected: %v", k, st.Requests)
				}
			}
		})
	}
}

func TestContextCancellationAndTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	for _, v := range []string{"1.1", "1.2"} {
		t.Run(v, func(t *testing.T) {
			ep := Endpoint{URL: srv.URL, Namespace: DefaultNamespace, Timeout: 10 * time.Second, MaxBody: 1 << 20}
			var caller Caller = NewSoap12Caller(ep)
			if v == "1.1" {
				c, err := NewGosoapCaller(ep, []string{"SessionLog"})
				if err != nil {
					t.Fatal(err)
				}
				caller = c
			}
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := caller.Call(ctx, "SessionLog", []Param{{"SessionID", "x"}})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("got %v, want a deadline error", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("cancellation took %s", d)
			}
			// The http.Client timeout applies too.
			ep.Timeout = 100 * time.Millisecond
			caller = NewSoap12Caller(ep)
			if v == "1.1" {
				caller, _ = NewGosoapCaller(ep, []string{"SessionLog"})
			}
			start = time.Now()
			if _, err := caller.Call(context.Background(), "SessionLog", nil); err == nil || time.Since(start) > 2*time.Second {
				t.Errorf("timeout: %v after %s", err, time.Since(start))
			}
		})
	}
}

// The request gosoap sends: ordered parameters, integers as text, the configured namespace
// and SOAPAction, posted to the configured endpoint (not the WSDL's).
func TestGosoapRequestShape(t *testing.T) {
	var got []byte
	var hdr http.Header
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		hdr, path = r.Header, r.URL.Path
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write(readTestdata(t, "seed_response.xml"))
	}))
	defer srv.Close()
	ep := Endpoint{URL: srv.URL + "/svc.asmx", Namespace: "https://os.ecgrid.io/", Timeout: time.Second, MaxBody: 1 << 20}
	c, err := NewGosoapCaller(ep, []string{"SessionLog"})
	if err != nil {
		t.Fatal(err)
	}
	cl := NewClient(c, Methods{SessionLog: "SessionLog"}, 0, time.Millisecond, time.Millisecond, slog.New(slog.DiscardHandler))
	rows, err := cl.SessionLog(context.Background(), "SID-1", 0, 25)
	if err != nil || len(rows) != 2 {
		t.Fatalf("%v %v", rows, err)
	}
	body := strings.Join(strings.Fields(string(got)), "")
	for _, want := range []string{`<SessionLogxmlns="https://os.ecgrid.io/"><SessionID>SID-1</SessionID><UserID>0</UserID><MaxRecords>25</MaxRecords></SessionLog>`,
		`xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"`} {
		if !strings.Contains(body, want) {
			t.Errorf("request lacks %s:\n%s", want, got)
		}
	}
	if hdr.Get("SOAPAction") != "https://os.ecgrid.io/SessionLog" || !strings.HasPrefix(hdr.Get("Content-Type"), "text/xml") || path != "/svc.asmx" {
		t.Errorf("headers %v path %s", hdr, path)
	}
}

func TestOversizedAndUnsafeAnswers(t *testing.T) {
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	for _, v := range []string{"1.1", "1.2"} {
		ep := Endpoint{URL: srv.URL, Namespace: DefaultNamespace, Timeout: time.Second, MaxBody: 4096}
		var caller Caller = NewSoap12Caller(ep)
		if v == "1.1" {
			caller, _ = NewGosoapCaller(ep, []string{"SessionLog"})
		}
		cl := NewClient(caller, Methods{SessionLog: "SessionLog"}, 3, time.Millisecond, time.Millisecond, slog.New(slog.DiscardHandler))
		body = bytes.Repeat([]byte("<a>"), 5000)
		_, err := cl.SessionLog(context.Background(), "s", 0, 10)
		var tl *TooLargeError
		if !errors.As(err, &tl) || !strings.Contains(err.Error(), "4096-byte size cap") {
			t.Errorf("%s oversized: %v", v, err)
		}
		body = readTestdata(t, "bomb.xml")
		if _, err := cl.SessionLog(context.Background(), "s", 0, 10); !errors.Is(err, ErrUnsafeXML) {
			t.Errorf("%s bomb: %v", v, err)
		}
	}
}

func TestSessionLogExWindows(t *testing.T) {
	f := newFixture(t, ecgridsim.Config{Rate: 0.001, Backfill: 200, Users: []ecgridsim.User{{ID: svcUser, Login: svcLogin, Password: svcPassword, NetworkID: 100}}})
	s := f.source(t, func(c *Config) {
		c.SessionLogEx, c.Users, c.MaxRecords = true, []int{0}, 40
		c.Window.Overlap, c.Window.Lag, c.Window.InitialLookback, c.Window.MaxWindow = config.Duration(time.Minute), config.Duration(time.Millisecond), config.Duration(2*time.Hour), config.Duration(time.Hour)
	})
	tg := pollers.Target{Tenant: "100", Entity: "0"}
	c := &collector{}
	poll(t, s, tg, c)
	time.Sleep(5 * time.Millisecond) // past the lag
	poll(t, s, tg, c)
	got := c.ids()
	if want := f.sim.Generated(); len(got) != len(want) || len(want) < 200 {
		t.Errorf("%d distinct sessions, want %d", len(got), len(want))
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("%s emitted %d times", id, n)
		}
	}
	// A SessionLog-mode cursor is carried over.
	lc, _ := json.Marshal(Cursor{V: 1, Watermark: time.Now().Add(-time.Second), Seen: []string{"X"}})
	if _, err := s.Poll(context.Background(), tg, lc, (&collector{}).emit); err != nil {
		t.Errorf("window poll from a SessionLog cursor: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"ok", func(*Config) {}, ""},
		{"no auth", func(c *Config) { c.Password = "" }, "set login and password"},
		{"both", func(c *Config) { c.APIKey = "k" }, "not both"},
		{"version", func(c *Config) { c.SOAPVersion = "2.0" }, "soap_version"},
		{"max records", func(c *Config) { c.MaxRecords = 40000 }, "max_records"},
		{"ex cap", func(c *Config) { c.SessionLogEx = true; c.MaxRecords = 500 }, "at most 100"},
		{"method", func(c *Config) { c.Methods.SessionLog = "Session Log" }, "methods.session_log"},
		{"user", func(c *Config) { c.Users = []int{-1} }, "users[0]"},
		{"dup user", func(c *Config) { c.Users = []int{1, 1} }, "twice"},
		{"network", func(c *Config) { c.NetworkID = "" }, "network_id"},
		{"endpoint", func(c *Config) { c.Endpoint = "ftp://x" }, "endpoint"},
		{"session dir", func(c *Config) { c.SessionDir = "state/ecgrid" }, "session_dir"},
		{"session dir ok", func(c *Config) { c.SessionDir = "/var/lib/auditstream" }, ""},
	}
	for _, tc := range cases {
		c := Config{Login: "a", Password: "b", NetworkID: "1"}
		tc.mod(&c)
		c.SetDefaults()
		var p config.Problems
		c.Validate("s", &p)
		err := p.Err()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// ECGridOS speaks SOAP through its own client: an HTTP error without a fault names
// settings.endpoint (404) or the credentials (401).
func TestFaultsNameTheSetting(t *testing.T) {
	for status, want := range map[int]string{
		http.StatusNotFound:     "check settings.endpoint, expected like https://os.ecgrid.io/v4.1/prod/ECGridOS.asmx",
		http.StatusUnauthorized: "check settings.login and settings.password, or settings.api_key",
	} {
		f := &Fault{HTTPStatus: status, Kind: map[int]Kind{404: KindBadRequest, 401: KindAuth}[status]}
		if !strings.Contains(f.Error(), want) {
			t.Errorf("HTTP %d: %v, want %q", status, f, want)
		}
	}
}
