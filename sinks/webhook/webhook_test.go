package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/sinktest"
)

const secret = "whsec-0123456789abcdef-test"

// receiver is a webhook receiver written the way the README tells receivers to verify:
// it recomputes the signature itself (not with Sign), refuses stale timestamps, and
// stores the events it accepts by metadata.uid.
type receiver struct {
	store  sinktest.Memory // events by metadata.uid
	mu     sync.Mutex
	posts  int
	bad    int             // requests refused for a bad signature
	slowed sinktest.Signal // a request arrived while slow
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodHead {
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	r.mu.Lock()
	r.posts++
	r.mu.Unlock()
	switch r.store.Current() {
	case sinktest.Unavailable:
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	case sinktest.BadCredentials:
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	case sinktest.Forbidden:
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	case sinktest.Slow:
		r.slowed.Fire()
		select {
		case <-req.Context().Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
	if !verify(req.Header, body, []byte(secret), time.Now()) {
		r.mu.Lock()
		r.bad++
		r.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var b struct {
		Events []struct {
			Metadata struct {
				UID string `json:"uid"`
			} `json:"metadata"`
			Poison bool `json:"poison"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	if n, _ := strconv.Atoi(req.Header.Get(HeaderCount)); n != len(b.Events) {
		http.Error(w, "count mismatch", http.StatusBadRequest)
		return
	}
	for _, e := range b.Events {
		if e.Poison {
			http.Error(w, "event refused", http.StatusUnprocessableEntity)
			return
		}
	}
	uids := make([]string, len(b.Events))
	for i, e := range b.Events {
		uids[i] = e.Metadata.UID
	}
	r.store.Keep(false, uids...)
	w.WriteHeader(http.StatusAccepted)
}

// verify is the receiver-side check of the README, written independently of Sign.
func verify(h http.Header, body, key []byte, now time.Time) bool {
	ts := h.Get("X-Auditstream-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ts + "." + string(body)))
	want := "v1=" + hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(h.Get("X-Auditstream-Signature")), []byte(want))
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	r := &receiver{}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func open(t *testing.T, url string, log *slog.Logger) *Sink {
	t.Helper()
	cfg := Settings{URL: url, Secret: secret, Headers: map[string]string{"Authorization": "Bearer hdr-token-123456"}}
	cfg.SetDefaults()
	s, err := Open("hook", cfg, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	r, srv := newReceiver(t)
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T, log *slog.Logger) sinks.Sink {
			return open(t, srv.URL+"/hooks/a1b2c3d4e5f6a7b8c9d0?token=qs-secret-99", log)
		},
		Count: r.store.Count,
		Fault: r.store.Fault,
		Poison: func(e *sinks.Event) {
			e.Value = []byte(fmt.Sprintf(`{"metadata":{"uid":%q},"poison":true}`, e.ID))
		},
		InFlight: r.slowed.InFlight,
		Secrets:  []string{secret, "hdr-token-123456", "qs-secret-99", "a1b2c3d4e5f6a7b8c9d0"},
	})
	if r.bad != 0 {
		t.Fatalf("%d requests had a bad signature", r.bad)
	}
}

func TestRequestShapeAndSignature(t *testing.T) {
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		got = req
		body, _ = io.ReadAll(req.Body)
	}))
	defer srv.Close()
	s := open(t, srv.URL, testkit.Logger(t))
	s.now = func() time.Time { return time.Unix(1767225600, 0) }
	batch := []sinks.Event{{ID: "a", Value: []byte(`{"metadata":{"uid":"a"}}`)}, {ID: "b", Value: []byte(`{"metadata":{"uid":"b"}}`)}}
	res := make([]sinks.ItemResult, 2)
	if err := s.Write(context.Background(), batch, res); err != nil {
		t.Fatal(err)
	}
	if res[0].Status != sinks.Written || res[1].Status != sinks.Written {
		t.Fatalf("results %+v", res)
	}
	if string(body) != `{"events":[{"metadata":{"uid":"a"}},{"metadata":{"uid":"b"}}]}` {
		t.Fatalf("body %s", body)
	}
	// Expected signature computed by hand: printf '1767225600.%s' "$body" |
	//   openssl dgst -sha256 -hmac whsec-0123456789abcdef-test
	if got.Header.Get("X-Auditstream-Timestamp") != "1767225600" || got.Header.Get("Content-Type") != "application/json" ||
		got.Header.Get("X-Auditstream-Event-Count") != "2" || got.Header.Get("Authorization") != "Bearer hdr-token-123456" {
		t.Fatalf("headers %v", got.Header)
	}
	if sig := got.Header.Get("X-Auditstream-Signature"); sig != "v1=3110dacaa316adb7166945f2cfe9d8c60a6b4f4947eb8a3a65faa4f05c0e3c2a" {
		t.Fatalf("signature %s, want the one openssl computed", sig)
	}
	if !verify(got.Header, body, []byte(secret), time.Unix(1767225600, 0)) {
		t.Fatal("the receiver's check refuses the signature")
	}
	// A replay five minutes later is refused by the receiver's check.
	if verify(got.Header, body, []byte(secret), time.Unix(1767225600, 0).Add(6*time.Minute)) {
		t.Fatal("a stale timestamp verified")
	}
	// A changed body does not verify.
	if verify(got.Header, append(body, ' '), []byte(secret), time.Unix(1767225600, 0)) {
		t.Fatal("a changed body verified")
	}
}

func TestStatusMapping(t *testing.T) {
	for _, tc := range []struct {
		code  int
		check func(error) bool
		what  string
	}{
		{200, func(err error) bool { return err == nil }, "written"},
		{204, func(err error) bool { return err == nil }, "written"},
		{429, func(err error) bool { return err != nil && !sinks.IsFatal(err) && !sinks.IsRejectedBatch(err) }, "retry"},
		{500, func(err error) bool { return err != nil && !sinks.IsFatal(err) && !sinks.IsRejectedBatch(err) }, "retry"},
		{503, func(err error) bool { return err != nil && !sinks.IsFatal(err) && !sinks.IsRejectedBatch(err) }, "retry"},
		{401, sinks.IsFatal, "fatal"},
		{403, sinks.IsFatal, "fatal"},
		{404, sinks.IsFatal, "fatal"},
		{405, sinks.IsFatal, "fatal"},
		{410, sinks.IsFatal, "fatal"},
		{301, sinks.IsFatal, "fatal"},
		{307, sinks.IsFatal, "fatal"},
		{400, sinks.IsRejectedBatch, "bisect"},
		{413, sinks.IsRejectedBatch, "bisect"},
		{422, sinks.IsRejectedBatch, "bisect"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(tc.code)
			_, _ = w.Write([]byte("echo " + secret)) // a receiver that echoes the secret
		}))
		s := open(t, srv.URL, slog.New(slog.DiscardHandler))
		err := s.Write(context.Background(), []sinks.Event{{ID: "a", Value: []byte(`{}`)}}, make([]sinks.ItemResult, 1))
		srv.Close()
		if !tc.check(err) {
			t.Errorf("HTTP %d: err %v, want %s", tc.code, err, tc.what)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("HTTP %d: the secret is in the error", tc.code)
		}
	}
}

// A receiver that moved answers 301 to /moved, where a GET would get 200: the sink must
// not follow (Go would resend the POST as a GET without body) and must not count the
// batch as written.
func TestRedirectIsNotWritten(t *testing.T) {
	var moved, withToken int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/moved" {
			mu.Lock()
			moved++
			if req.Header.Get("Authorization") != "" {
				withToken++
			}
			mu.Unlock()
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Redirect(w, req, "/moved", http.StatusMovedPermanently)
	}))
	defer srv.Close()
	s := open(t, srv.URL+"/hook?token=qs-secret-99", slog.New(slog.DiscardHandler))
	res := make([]sinks.ItemResult, 1)
	err := s.Write(context.Background(), []sinks.Event{{ID: "a", Value: []byte(`{}`)}}, res)
	if err == nil || !sinks.IsFatal(err) {
		t.Fatalf("err = %v, res = %+v; want a fatal error", err, res)
	}
	if strings.Contains(err.Error(), "qs-secret-99") || !strings.Contains(err.Error(), srv.Listener.Addr().String()) {
		t.Fatalf("the error must name the host and no credential: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if moved != 0 || withToken != 0 {
		t.Fatalf("the redirect was followed (%d requests to /moved)", moved)
	}
}

func TestUnreachableReceiverErrorHidesTheURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX?sig=abcdefgh12345"
	srv.Close()
	s := open(t, url, slog.New(slog.DiscardHandler))
	err := s.Write(context.Background(), []sinks.Event{{ID: "a", Value: []byte(`{}`)}}, make([]sinks.ItemResult, 1))
	if err == nil || sinks.IsFatal(err) || strings.Contains(err.Error(), "XXXXXXXXXXXXXXXX") || strings.Contains(err.Error(), "abcdefgh12345") {
		t.Fatalf("err = %v", err)
	}
	if perr := s.Ping(context.Background()); perr == nil || strings.Contains(perr.Error(), "XXXXXXXXXXXXXXXX") {
		t.Fatalf("ping = %v", perr)
	}
}

func TestSettings(t *testing.T) {
	var p config.Problems
	s := Settings{URL: "ftp://x/secretpath", Secret: "short", Headers: map[string]string{"Bad Name": "v"}}
	s.SetDefaults()
	s.Validate("sinks[0].settings", &p)
	got := fmt.Sprint(p.Err())
	for _, want := range []string{"settings.url", "settings.secret", "settings.headers"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %s: %s", want, got)
		}
	}
	if strings.Contains(got, "secretpath") || strings.Contains(got, "short") {
		t.Fatalf("problems repeat a secret: %s", got)
	}
}

// A receiver that rate-limits (429 or 503 with Retry-After) is waited for as long as it
// asks, at most sinks.MaxRetryAfter: the sink's error carries the wait for the runner.
func TestRetryAfterIsPassedOn(t *testing.T) {
	for _, tc := range []struct {
		code   int
		header string
		want   time.Duration
	}{
		{429, "2", 2 * time.Second},
		{503, "120", 2 * time.Minute},
		{503, "3600", sinks.MaxRetryAfter},
		{429, "", 0},
		{429, "soon", 0},
		{500, "7", 7 * time.Second},
	} {
		var mu sync.Mutex
		posts := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			mu.Lock()
			posts++
			n := posts
			mu.Unlock()
			if n == 1 {
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(tc.code)
				return
			}
			w.WriteHeader(http.StatusOK)
		}))
		s := open(t, srv.URL, slog.New(slog.DiscardHandler))
		res := make([]sinks.ItemResult, 1)
		batch := []sinks.Event{{ID: "a", Value: []byte(`{}`)}}
		err := s.Write(context.Background(), batch, res)
		if err == nil || sinks.IsFatal(err) || sinks.IsRejectedBatch(err) {
			t.Errorf("HTTP %d: err %v, want a retry", tc.code, err)
		}
		if got := sinks.RetryAfterOf(err); got != tc.want {
			t.Errorf("HTTP %d Retry-After %q: the sink asks to wait %s, want %s", tc.code, tc.header, got, tc.want)
		}
		// The retry that follows is written.
		if err := s.Write(context.Background(), batch, res); err != nil || res[0].Status != sinks.Written {
			t.Errorf("HTTP %d: the retry: err %v, result %v", tc.code, err, res[0].Status)
		}
		srv.Close()
	}
}
