package hecserver_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/sinks/splunkhec/hecserver"
)

const channel = "0bc1a3d4-5e6f-4a1b-8c2d-3e4f5a6b7c8d"

// The answers the HEC documentation lists, request by request.
func TestContract(t *testing.T) {
	h := hecserver.New(map[string]hecserver.Token{
		"t": {}, "off": {Disabled: true}, "acked": {Ack: true}, "only": {Indexes: []string{"audit"}},
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	ok := `{"event":{"a":1},"time":1795255200.5,"fields":{"event_id":"x"}}`
	for _, tc := range []struct {
		name, path, auth, channel, body string
		status, code, invalid           int
	}{
		{"no token", "/services/collector/event", "", "", ok, 401, 2, -1},
		{"bad scheme", "/services/collector/event", "Bearer t", "", ok, 401, 3, -1},
		{"unknown token", "/services/collector/event", "Splunk nope", "", ok, 403, 4, -1},
		{"disabled token", "/services/collector/event", "Splunk off", "", ok, 403, 1, -1},
		{"no data", "/services/collector/event", "Splunk t", "", "  ", 400, 5, -1},
		{"not json", "/services/collector/event", "Splunk t", "", ok + "{oops", 400, 6, 1},
		{"no event", "/services/collector/event", "Splunk t", "", ok + `{"time":1}`, 400, 12, 1},
		{"blank event", "/services/collector/event", "Splunk t", "", `{"event":""}`, 400, 13, 0},
		{"bad time", "/services/collector/event", "Splunk t", "", `{"event":"x","time":"soon"}`, 400, 6, 0},
		{"bad fields", "/services/collector/event", "Splunk t", "", `{"event":"x","fields":{"n":1}}`, 400, 15, 0},
		{"wrong index", "/services/collector/event", "Splunk only", "", `{"event":"x","index":"main"}`, 400, 7, 0},
		{"channel missing", "/services/collector/event", "Splunk acked", "", ok, 400, 10, -1},
		{"channel not a GUID", "/services/collector/event", "Splunk acked", "abc", ok, 400, 11, -1},
		{"ack disabled", "/services/collector/ack", "Splunk t", channel, `{"acks":[0]}`, 400, 14, -1},
		{"success", "/services/collector/event", "Splunk t", "", ok + ok, 200, 0, -1},
		{"success with ack", "/services/collector/event", "Splunk acked", channel, ok, 200, 0, -1},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+tc.path, strings.NewReader(tc.body))
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		if tc.channel != "" {
			req.Header.Set("X-Splunk-Request-Channel", tc.channel)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var a struct {
			Code    int  `json:"code"`
			Invalid *int `json:"invalid-event-number"`
			AckID   *int `json:"ackId"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if resp.StatusCode != tc.status || a.Code != tc.code {
			t.Errorf("%s: HTTP %d code %d, want %d code %d", tc.name, resp.StatusCode, a.Code, tc.status, tc.code)
		}
		if (a.Invalid == nil) != (tc.invalid < 0) || (a.Invalid != nil && *a.Invalid != tc.invalid) {
			t.Errorf("%s: invalid-event-number %v, want %d", tc.name, a.Invalid, tc.invalid)
		}
		if (a.AckID != nil) != (tc.name == "success with ack") {
			t.Errorf("%s: ackId %v", tc.name, a.AckID)
		}
	}
	// "not json" indexed the event before the bad one; "success" indexed two; "success with
	// ack" one; "no event" one.
	if n := len(h.Events()); n != 5 {
		t.Errorf("%d events indexed, want 5", n)
	}
	h.SetFront(http.StatusForbidden)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/services/collector/event", strings.NewReader(ok))
	req.Header.Set("Authorization", "Splunk t")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var front map[string]any
	if resp.StatusCode != http.StatusForbidden || json.NewDecoder(resp.Body).Decode(&front) == nil {
		t.Errorf("front: HTTP %d, want 403 with a body that is no HEC JSON", resp.StatusCode)
	}
	resp.Body.Close()
	h.SetFront(0)
	h.SetBusy(1)
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/services/collector/event", strings.NewReader(ok))
	req.Header.Set("Authorization", "Splunk t")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("busy: HTTP %d", resp.StatusCode)
	}
}
