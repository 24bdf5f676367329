package signinghubsim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/pollers/simkit/logsim"
	"github.com/auditstream/auditstream/pollers/simkit/simtest"
)

func TestAuthenticateListingAndLog(t *testing.T) {
	cfg := Config{OAuthSettings: logsim.OAuthSettings{Client: logsim.Client{ClientID: "c", ClientSecret: "s"}}, Username: "u", Password: "p", OTP: true}
	cfg.Seed, cfg.Packages, cfg.EntriesPerPackage = 2, 7, 6
	srv := httptest.NewServer(New(cfg))
	defer srv.Close()
	do := func(method, path, auth string, form url.Values) (int, []byte, http.Header) {
		t.Helper()
		h := http.Header{}
		if form != nil {
			h.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if auth != "" {
			h.Set("Authorization", "Bearer "+auth)
		}
		return simtest.Call(t, method, srv.URL+path, h, form.Encode())
	}
	code, body, h := do("POST", "/authenticate", "", url.Values{"grant_type": {"password"}, "client_id": {"c"}, "client_secret": {"s"}, "username": {"u"}, "password": {"p"}})
	if code != 403 || h.Get("x-otp") == "" {
		t.Fatalf("OTP user: %d %s", code, body)
	}
	code, body, _ = do("POST", "/authenticate", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {"s"}})
	var tok struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &tok); code != 200 || err != nil || tok.TokenType != "bearer" || tok.RefreshToken == "" {
		t.Fatalf("client credentials: %d %s", code, body)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "client_id": {"c"}, "client_secret": {"s"}, "refresh_token": {tok.RefreshToken}}
	if code, body, _ := do("POST", "/authenticate", "", refresh); code != 200 {
		t.Fatalf("refresh: %d %s", code, body)
	}
	if code, body, _ := do("POST", "/authenticate", "", refresh); code != 400 || !strings.Contains(string(body), "invalid_grant") {
		t.Fatalf("a refresh token used twice: %d %s", code, body)
	}
	code, body, h = do("GET", "/v3/packages/ALL/2/5", tok.AccessToken, nil)
	var page []map[string]any
	if err := json.Unmarshal(body, &page); code != 200 || err != nil || len(page) != 2 || h.Get("x-total-records") != "7" {
		t.Fatalf("page 2: %d %s total=%q", code, body, h.Get("x-total-records"))
	}
	if code, body, _ := do("GET", "/v3/packages/ALL/0/5", tok.AccessToken, nil); code != 400 || !strings.Contains(string(body), `"Message"`) {
		t.Fatalf("page 0: %d %s", code, body)
	}
	code, body, _ = do("GET", "/v3/packages/1000/log", tok.AccessToken, nil)
	var log struct {
		PackageID int `json:"package_id"`
		Actions   []struct {
			DateTime string `json:"date_time"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(body, &log); code != 200 || err != nil || log.PackageID != 1000 || len(log.Actions) != 6 {
		t.Fatalf("log: %d %s", code, body)
	}
	if a, b := log.Actions[0].DateTime, log.Actions[5].DateTime; a < b || strings.ContainsAny(a, "Z+") {
		t.Fatalf("want newest first and zone-less dates: %s .. %s", a, b)
	}
	if code, body, _ := do("GET", "/v3/packages/1000/log", "expired", nil); code != 401 || string(body) != "{\"Message\":\"Request authorization denied\"}\n" {
		t.Fatalf("bad token: %d %s", code, body)
	}
}

// The served record is what a test compares with delivered events: an answer built for a
// client that is already gone (killed while its request waited) was served to no one,
// and what was served carries its request's arrival time.
func TestServedOnlyToALiveClientWithItsArrival(t *testing.T) {
	cfg := Config{OAuthSettings: logsim.OAuthSettings{Client: logsim.Client{ClientID: "c", ClientSecret: "s"}}}
	cfg.Seed, cfg.Packages, cfg.EntriesPerPackage = 2, 3, 4
	sim := New(cfg)
	tokRec := httptest.NewRecorder()
	tokReq := httptest.NewRequest("POST", "/authenticate", strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {"s"}}.Encode()))
	tokReq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sim.ServeHTTP(tokRec, tokReq)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(tokRec.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %s", tokRec.Code, tokRec.Body)
	}
	get := func(ctx context.Context) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/v3/packages/1000/log", nil).WithContext(ctx)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		sim.ServeHTTP(rec, req)
		return rec.Code
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	get(gone)
	if n := len(sim.Served.Keys()); n != 0 {
		t.Fatalf("%d entries counted as served to a client that was gone", n)
	}
	before := time.Now()
	if code := get(context.Background()); code != http.StatusOK {
		t.Fatalf("log: %d", code)
	}
	if n := len(sim.Served.Keys()); n != 4 {
		t.Fatalf("%d entries served, want 4", n)
	}
	if n := len(sim.Served.KeysBefore(before)); n != 0 {
		t.Fatalf("%d entries served to requests that arrived before the one request", n)
	}
}
