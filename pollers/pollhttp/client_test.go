package pollhttp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/stopping"
	"github.com/auditstream/auditstream/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newClient(t *testing.T, cfg Config) (*Client, *metrics.Metrics) {
	t.Helper()
	m := metrics.NewUnregistered()
	c, err := New(&http.Client{Timeout: 2 * time.Second}, "test", cfg, slog.New(slog.DiscardHandler), m)
	if err != nil {
		t.Fatal(err)
	}
	return c, m
}

func get(url string) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	}
}

// script answers with the given statuses in turn, then 200.
func script(codes ...int) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		i := int(n.Add(1)) - 1
		if i < len(codes) {
			if codes[i] == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
			}
			w.WriteHeader(codes[i])
			_, _ = w.Write([]byte(`{"error":"x"}`))
			return
		}
		_, _ = w.Write([]byte(`ok`))
	}))
	return srv, &n
}

func TestRetriesTransientStatuses(t *testing.T) {
	srv, n := script(500, 502, 503, 504)
	defer srv.Close()
	c, m := newClient(t, Config{MaxRetries: 5, BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond})
	resp, err := c.Do(context.Background(), get(srv.URL))
	if err != nil || string(resp.Body) != "ok" {
		t.Fatalf("resp=%v err=%v", resp, err)
	}
	if n.Load() != 5 {
		t.Fatalf("%d requests, want 5", n.Load())
	}
	if v := testutil.ToFloat64(m.ProviderHTTPRequests.WithLabelValues("test", "503")); v != 1 {
		t.Fatalf("provider_http_requests_total{code=503} = %v", v)
	}
}

func TestHonoursRetryAfter(t *testing.T) {
	srv, n := script(429)
	defer srv.Close()
	c, _ := newClient(t, Config{BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond})
	start := time.Now()
	if _, err := c.Do(context.Background(), get(srv.URL)); err != nil {
		t.Fatal(err)
	}
	// Behaviour, not speed: the server asked for 1 s; the jittered backoff alone is ≤ 2 ms.
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Fatalf("retried after %s, before the server's Retry-After of 1s", waited)
	}
	if n.Load() != 2 {
		t.Fatalf("%d requests", n.Load())
	}
}

func TestGivesUpAndDoesNotRetryClientErrors(t *testing.T) {
	srv, n := script(500, 500, 500, 500)
	defer srv.Close()
	c, _ := newClient(t, Config{MaxRetries: 2, BackoffMin: time.Millisecond, BackoffMax: time.Millisecond})
	_, err := c.Do(context.Background(), get(srv.URL+"/x?token=secret"))
	if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts") || !IsStatus(err, 500) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("query string leaked into the error: %v", err)
	}
	srv2, n2 := script(404)
	defer srv2.Close()
	_, err = c.Do(context.Background(), get(srv2.URL))
	if !IsStatus(err, 404) || n2.Load() != 1 {
		t.Fatalf("err = %v after %d requests, want one 404", err, n2.Load())
	}
	_ = n
}

func TestBodyCap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("a", 5000)))
	}))
	defer srv.Close()
	c, _ := newClient(t, Config{MaxBodyBytes: 4096})
	_, err := c.Do(context.Background(), get(srv.URL))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func TestCancellationStopsRetries(t *testing.T) {
	srv, _ := script(429, 429, 429)
	defer srv.Close()
	c, _ := newClient(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Do(ctx, get(srv.URL))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's error", err)
	}
}

func TestNeedsATimeout(t *testing.T) {
	if _, err := New(&http.Client{}, "x", Config{}, slog.New(slog.DiscardHandler), metrics.NewUnregistered()); err == nil {
		t.Fatal("client without a timeout accepted")
	}
}

// A redirect to another host is an error (never an empty answer accepted), the other host
// receives nothing; a same-host redirect is followed without a Referer.
func TestRedirects(t *testing.T) {
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		_, _ = w.Write([]byte(`[]`))
	}))
	defer other.Close()
	var referer atomic.Value
	referer.Store("unset")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/log?page=1", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/moved", http.StatusMovedPermanently)
		case "/moved":
			referer.Store(r.Header.Get("Referer"))
			_, _ = w.Write([]byte(`[{"a":1}]`))
		}
	}))
	defer srv.Close()
	c, m := newClient(t, Config{MaxRetries: 3, BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond})

	_, err := c.Do(context.Background(), get(srv.URL+"/away?token=s3cret"))
	if !errors.Is(err, ErrRedirect) {
		t.Fatalf("cross-host redirect: err = %v", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error carries the query: %v", err)
	}
	if otherHits.Load() != 0 {
		t.Fatalf("the other host got %d requests", otherHits.Load())
	}
	if n := testutil.ToFloat64(m.ProviderHTTPRequests.WithLabelValues("test", "302")); n != 1 {
		t.Fatalf("the refused redirect was retried or not counted under its status: %v", n)
	}

	resp, err := c.Do(context.Background(), get(srv.URL+"/here?token=s3cret"))
	if err != nil || string(resp.Body) != `[{"a":1}]` {
		t.Fatalf("same-host redirect: %v", err)
	}
	if got := referer.Load().(string); got != "" {
		t.Fatalf("Referer sent on the redirect: %q", got)
	}
}

// A token endpoint that answers 500 with a body echoing the posted form (client secret,
// password), then 200: a request marked NoBodyExcerpt never puts the body in a retry
// warning or an error, while an unmarked request still quotes it.
func TestNoBodyExcerptKeepsEchoedSecretsOutOfLogsAndErrors(t *testing.T) {
	const form = "grant_type=password&client_secret=cl-s3cr3t&password=pw-s3cr3t"
	echo := func(fails int) *httptest.Server {
		var n atomic.Int32
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			if int(n.Add(1)) <= fails {
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"error":"internal","request":"` + string(b) + `"}`))
				return
			}
			_, _ = w.Write([]byte(`{"access_token":"t"}`))
		}))
	}
	post := func(url string) func(ctx context.Context) (*http.Request, error) {
		return func(ctx context.Context) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(form))
		}
	}
	newLogged := func() (*Client, *testkit.LockedBuffer) {
		var buf testkit.LockedBuffer
		c, err := New(&http.Client{Timeout: 2 * time.Second}, "test",
			Config{MaxRetries: 2, BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond},
			slog.New(slog.NewTextHandler(&buf, nil)), metrics.NewUnregistered())
		if err != nil {
			t.Fatal(err)
		}
		return c, &buf
	}
	leaks := func(s string) bool { return strings.Contains(s, "cl-s3cr3t") || strings.Contains(s, "pw-s3cr3t") }

	// 500 then 200: one retry warning, no secret in it.
	srv := echo(1)
	c, logs := newLogged()
	if _, err := c.Do(NoBodyExcerpt(context.Background()), post(srv.URL)); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if !strings.Contains(logs.String(), "retrying") || leaks(logs.String()) {
		t.Fatalf("want a retry warning without the secrets, logs: %s", logs.String())
	}
	// 500 until giving up: the error holds no secret either.
	srv = echo(10)
	c, logs = newLogged()
	_, err := c.Do(NoBodyExcerpt(context.Background()), post(srv.URL))
	srv.Close()
	if err == nil || !IsStatus(err, 500) || leaks(err.Error()) || leaks(logs.String()) {
		t.Fatalf("err %v, logs %s: want a 500 error, no secret anywhere", err, logs.String())
	}
	// The unmarked request still quotes the body (the excerpt helps with other endpoints).
	srv = echo(10)
	c, _ = newLogged()
	_, err = c.Do(context.Background(), post(srv.URL))
	srv.Close()
	if err == nil || !strings.Contains(err.Error(), "internal") {
		t.Fatalf("err %v: an unmarked request should quote the body", err)
	}
}

// A retry wait ends when the poll run is asked to stop (shutdown, rebalance), although
// the poll's context lives on for its drain: the wait holds nothing worth draining.
func TestStopRequestEndsARetryWait(t *testing.T) {
	stop, requestStop := context.WithCancel(context.Background())
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
		requestStop() // the run is asked to stop while the client waits to retry
	}))
	defer srv.Close()
	c, _ := newClient(t, Config{MaxRetryAfter: time.Hour})
	work, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := c.Do(stopping.With(work, stop), get(srv.URL))
	if err == nil || !strings.Contains(err.Error(), "retry abandoned, the poll run is stopping") || !strings.Contains(err.Error(), "429") {
		t.Fatalf("err = %v", err)
	}
	if n.Load() != 1 || work.Err() != nil {
		t.Fatalf("%d requests, work context %v", n.Load(), work.Err())
	}
}

// A 401 drops the token and repeats the request once with a new one; a second 401 is
// the answer.
func TestGetBearerRenewsTheTokenOnce(t *testing.T) {
	var valid atomic.Value
	valid.Store("t1")
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") != "Bearer "+valid.Load().(string) || r.Header.Get("Accept") != "application/json" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`ok`))
	}))
	defer srv.Close()
	c, _ := newClient(t, Config{MaxRetries: 1, BackoffMin: time.Millisecond, BackoffMax: time.Millisecond})
	n, cached := 0, ""
	token := func(context.Context) (string, error) {
		if cached == "" {
			n++
			cached = "t" + string(rune('0'+n))
		}
		return cached, nil
	}
	var dropped []string
	drop := func(tok string) { dropped = append(dropped, tok); cached = "" }
	for _, next := range []string{"t1", "t2"} { // the second time, the server forgot t1
		valid.Store(next)
		if resp, err := c.GetBearer(context.Background(), srv.URL, token, drop); err != nil || string(resp.Body) != "ok" {
			t.Fatalf("token %s: %v %v", next, resp, err)
		}
	}
	valid.Store("none")
	if _, err := c.GetBearer(context.Background(), srv.URL, token, drop); !IsStatus(err, http.StatusUnauthorized) {
		t.Fatalf("err = %v, want the second 401", err)
	}
	if strings.Join(seen, ",") != "Bearer t1,Bearer t1,Bearer t2,Bearer t2,Bearer t3" || strings.Join(dropped, ",") != "t1,t2" {
		t.Fatalf("sent %v, dropped %v", seen, dropped)
	}
	if _, err := c.GetBearer(context.Background(), srv.URL, func(context.Context) (string, error) { return "", errors.New("no token") }, drop); err == nil || err.Error() != "no token" {
		t.Fatalf("token error: %v", err)
	}
}

// A redirect from https to http is refused, even to the same host, with an error that
// names the base URL setting; the plain-HTTP address receives nothing and the answer is
// counted under its status (302), not as a transport error.
func TestDowngradeRedirectIsRefused(t *testing.T) {
	var plainHits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { plainHits.Add(1) }))
	defer plain.Close()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/contracts", http.StatusFound) // same host (127.0.0.1), plain http
	}))
	defer srv.Close()
	hc := srv.Client()
	hc.Timeout = 2 * time.Second
	m := metrics.NewUnregistered()
	c, err := New(hc, "test", Config{}, slog.New(slog.DiscardHandler), m)
	if err != nil {
		t.Fatal(err)
	}
	c = c.WithHints(Hints{BaseURL: "settings.base_url (expected like https://api.example.com/v1)"})
	_, err = c.Do(context.Background(), get(srv.URL+"/contracts?token=s3cret"))
	if !errors.Is(err, ErrDowngrade) || !errors.Is(err, ErrRedirect) || !strings.Contains(err.Error(), "settings.base_url") ||
		strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v, want ErrDowngrade naming settings.base_url", err)
	}
	if plainHits.Load() != 0 {
		t.Fatalf("the plain-HTTP address got %d requests", plainHits.Load())
	}
	if n := testutil.ToFloat64(m.ProviderHTTPRequests.WithLabelValues("test", "302")); n != 1 {
		t.Fatalf("provider_http_requests_total{code=302} = %v", n)
	}
	if n := testutil.ToFloat64(m.ProviderHTTPRequests.WithLabelValues("test", "error")); n != 0 {
		t.Fatalf("the refused redirect counted as a transport error: %v", n)
	}
}

// The hints of the errors: a 404 that is not the API's own answer (or of an
// authentication request) names the base URL (the token URL for a token request); a
// web page instead of JSON says what arrived, quoting it only when the request carries
// no credential; a 401 names the credentials; an API's own 404 (an unknown entity) has no
// hint.
func TestErrorsNameTheSetting(t *testing.T) {
	c, _ := newClient(t, Config{MaxRetries: 1, BackoffMin: time.Millisecond, BackoffMax: time.Millisecond})
	c = c.WithHints(Hints{BaseURL: "settings.base_url", TokenURL: "settings.token_url", Credentials: "settings.client_secret"})
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		auth              bool
		says, never       []string
	}{
		{"web server 404", "text/plain", "404 page not found", 404, false, []string{"HTTP 404", "no such path: check settings.base_url"}, nil},
		{"token 404", "application/json", `{"error":"x"}`, 404, true, []string{"check settings.token_url"}, nil},
		{"API's own 404", "application/json", `{"message":"package not found"}`, 404, false, []string{"package not found"}, []string{"check"}},
		{"HTML page", "text/html", "<html><title>Login</title></html>", 200, false,
			[]string{"HTTP 200 answered text/html, not the API's JSON", "<title>Login", "check settings.base_url"}, nil},
		{"markup without a type", "", "<html>portal</html>", 200, false, []string{"answered no content type", "portal"}, nil},
		{"HTML to a token request", "text/html", "<html>echo pw-s3cret</html>", 200, true,
			[]string{"text/html", "body not shown", "check settings.token_url"}, []string{"s3cret"}},
		{"401", "application/json", `{}`, 401, false, []string{"the credentials are refused: check settings.client_secret"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header()["Content-Type"] = []string{tc.ctype}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			ctx := context.Background()
			if tc.auth {
				ctx = NoBodyExcerpt(ctx)
			}
			_, err := c.Do(ctx, func(ctx context.Context) (*http.Request, error) {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/x", nil)
				req.Header.Set("Accept", "application/json")
				return req, err
			})
			for _, s := range tc.says {
				if err == nil || !strings.Contains(err.Error(), s) {
					t.Fatalf("err = %v, want %q", err, s)
				}
			}
			for _, s := range tc.never {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("err = %v, must not hold %q", err, s)
				}
			}
		})
	}
	// A 401 that a new token does not cure says so and names the credentials.
	err := c.Unauthorized(&StatusError{Status: http.StatusForbidden, Method: "GET", URL: "/x", Excerpt: "{}"})
	if !IsStatus(err, http.StatusForbidden) || !strings.Contains(err.Error(), "refused again with a new token") ||
		!strings.Contains(err.Error(), "check settings.client_secret") {
		t.Fatalf("Unauthorized: %v", err)
	}
}
