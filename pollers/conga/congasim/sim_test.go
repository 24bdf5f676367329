package congasim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/simkit/logsim"
	"github.com/auditstream/auditstream/pollers/simkit/simtest"
)

func call(t *testing.T, method, url string, h http.Header, body string) (int, map[string]any, http.Header) {
	t.Helper()
	code, b, header := simtest.Call(t, method, url, h, body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return code, m, header
}

func TestTokenListingAndErrors(t *testing.T) {
	cfg := Config{OAuthSettings: logsim.OAuthSettings{Client: logsim.Client{ClientID: "c", ClientSecret: "s"}}}
	cfg.Seed, cfg.Packages, cfg.EntriesPerPackage = 9, 12, 5
	sim := New(cfg)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	token := func(form url.Values) (int, map[string]any) {
		code, m, _ := call(t, http.MethodPost, srv.URL+"/api/v1/auth/connect/token",
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, form.Encode())
		return code, m
	}
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {"s"}, "scope": {"sign"}}
	code, m := token(good)
	if code != 200 || m["token_type"] != "Bearer" || m["expires_in"] != 3600.0 || m["access_token"] == "" {
		t.Fatalf("token: %d %v", code, m)
	}
	bearer := "Bearer " + m["access_token"].(string)
	bad := url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {"x"}, "scope": {"sign"}}
	if code, m := token(bad); code != 400 || m["error"] != "ERROR_AUTHENTICATION_NOT_VALID" {
		t.Fatalf("wrong secret: %d %v", code, m)
	}
	get := func(path, auth string) (int, map[string]any) {
		code, m, _ := call(t, http.MethodGet, srv.URL+path, simtest.Auth(auth), "")
		return code, m
	}
	if code, m := get("/api/sign/v1/cs-packages", "Bearer nope"); code != 401 || m["messageKey"] == nil || m["code"] != 401.0 {
		t.Fatalf("bad token: %d %v (want the vendor's error shape)", code, m)
	}
	code, m = get("/api/sign/v1/cs-packages?from=11&to=20", bearer)
	if code != 200 || m["count"] != 12.0 || len(m["results"].([]any)) != 2 {
		t.Fatalf("last page: %d %v", code, m)
	}
	if code, _ := get("/api/sign/v1/cs-packages?from=1&to=101", bearer); code != 400 {
		t.Fatalf("101 per page: %d", code)
	}
	if code, m := get("/api/sign/v1/cs-packages/nope/audit", bearer); code != 404 || m["messageKey"] != "error.notFound" {
		t.Fatalf("unknown package: %d %v", code, m)
	}
	// Same seed, same package ids.
	other := New(cfg)
	for i := range sim.ids {
		if sim.ids[i] != other.ids[i] {
			t.Fatal("same seed, different package ids")
		}
	}
	var p config.Problems
	(&Config{}).Validate("s", &p)
	if len(p.List()) == 0 {
		t.Fatal("a simulator without credentials validated")
	}
}
