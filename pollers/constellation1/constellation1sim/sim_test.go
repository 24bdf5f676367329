package constellation1sim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/pollers/simkit/simtest"
)

func TestAuthListingsAndRejectedTokens(t *testing.T) {
	cfg := Config{APIKey: "key", Username: "agent"}
	cfg.Seed, cfg.Packages, cfg.EntriesPerPackage = 4, 9, 4
	srv := httptest.NewServer(New(cfg))
	defer srv.Close()
	get := func(path, auth string) (int, string) {
		t.Helper()
		code, b, _ := simtest.Call(t, http.MethodGet, srv.URL+"/rest"+path, simtest.Auth(auth), "")
		return code, string(b)
	}
	value := func(body string) string {
		var r struct{ ReturnValue string }
		_ = json.Unmarshal([]byte(body), &r)
		return r.ReturnValue
	}
	if code, _ := get("/v1/encrypt/wrong/salt1", ""); code != 401 {
		t.Fatalf("wrong key: %d", code)
	}
	_, body := get("/v1/encrypt/key/salt1", "")
	enc := value(body)
	if _, body := get("/v1/gettoken/salt2", enc); value(body) != "" {
		t.Fatalf("a key encrypted with another salt gave a token: %s", body)
	}
	_, body = get("/v1/gettoken/salt1", enc)
	tok := value(body)
	if tok == "" || strings.HasPrefix(tok, "Bearer") {
		t.Fatalf("token %q", tok)
	}
	// Every session is in exactly one listing (the whole history exists: all finished).
	total := 0
	for _, l := range []string{"archived", "expired", "deleted"} {
		code, body := get("/v1/sessions/"+l+"/100/0", tok)
		var r struct {
			Sessions   []map[string]any
			TotalCount int
		}
		if err := json.Unmarshal([]byte(body), &r); code != 200 || err != nil || len(r.Sessions) != r.TotalCount {
			t.Fatalf("%s: %d %s", l, code, body)
		}
		total += r.TotalCount
	}
	if total != 9 {
		t.Fatalf("%d sessions over the finished listings, want 9", total)
	}
	if code, _ := get("/v1/sessions/lite/agent/0/51/0/sortBy?colName=ModifiedDate&sortOrder=asc", tok); code != 400 {
		t.Fatalf("lite page of 51: %d", code)
	}
	if code, body := get("/v1/sessions/lite/agent/0/50/0/sortBy", tok); code != 200 || !strings.Contains(body, `"SessionsLite":[]`) {
		t.Fatalf("lite: %d %s", code, body)
	}
	code, body := get("/v1/sessions/70000/actionlogs", tok)
	if code != 200 || !(strings.Contains(body, `"ActionLog":[`) || strings.Contains(body, `"Actionlog":[`)) || !strings.Contains(body, "Session created by") {
		t.Fatalf("action log: %d %s", code, body)
	}
	// A rejected token is answered in the vendor's three ways, in turn.
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		code, body := get("/v1/sessions/70000/actionlogs", "stale")
		switch {
		case code == 401:
			seen["401"] = true
		case strings.TrimSpace(body) == "null":
			seen["null"] = true
		case strings.Contains(body, "Invalid or expired token"):
			seen["message"] = true
		}
	}
	if len(seen) != 3 {
		t.Fatalf("rejections seen: %v", seen)
	}
}
