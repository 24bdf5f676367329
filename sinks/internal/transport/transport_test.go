package transport

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/sinks"
)

// The client answers a redirect as it came: the POST is not turned into a GET to the new
// location, and the token header never reaches it.
func TestHTTPClientDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/moved" {
			followed.Add(1)
			return
		}
		http.Redirect(w, req, "/moved", http.StatusFound)
	}))
	defer srv.Close()
	hc, err := HTTPClient(0, config.TLS{})
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		req, _ := http.NewRequest(method, srv.URL+"/push", strings.NewReader("body"))
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("%s: status %d, want the 302 itself", method, resp.StatusCode)
		}
	}
	if n := followed.Load(); n != 0 {
		t.Fatalf("the client followed the redirect %d times", n)
	}
}

func TestRedirect(t *testing.T) {
	for _, code := range []int{200, 204, 299, 400, 500} {
		if err := Redirect(code, "x", "https://h"); err != nil {
			t.Errorf("%d: %v", code, err)
		}
	}
	for _, code := range []int{300, 301, 302, 303, 307, 308} {
		err := Redirect(code, "loki sink l: push", "https://user:pw-secret@loki.example:3100/path/tok-secret?k=q-secret")
		if !sinks.IsFatal(err) {
			t.Fatalf("%d: %v is not fatal", code, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "https://loki.example:3100") || strings.Contains(msg, "secret") {
			t.Fatalf("%d: %s: want the host and no credential", code, msg)
		}
	}
}
