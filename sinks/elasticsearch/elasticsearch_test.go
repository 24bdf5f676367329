package elasticsearch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/internal/plugintest"
	"github.com/auditstream/auditstream/sinks/projection/projectiontest"
)

func open(t testing.TB, yml string, logs *testkit.LockedBuffer) *Sink {
	return plugintest.Start(t, Plugin, "test-es", yml, plugintest.Logger(t, logs)).(*Sink)
}

// openOn opens a sink on c, served for the test, with the settings lines more.
func openOn(t *testing.T, c *cannedBulk, more string, logs *testkit.LockedBuffer) *Sink {
	t.Helper()
	return open(t, "urls: ["+plugintest.Serve(t, c)+"]\n"+more, logs)
}

// write is plugintest.Write (the integration tests use it too).
var write = plugintest.Write

// cannedBulk answers each _bulk action with the status statusFor(id) and records requests.
type cannedBulk struct {
	mu        sync.Mutex
	statusFor func(id string) (int, string)
	whole     int    // non-zero: answer the whole request with this status
	retry     string // non-empty: the Retry-After header of every answer
	actions   []map[string]map[string]string
	auth      []string
}

func (c *cannedBulk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.auth = append(c.auth, r.Header.Get("Authorization"))
	if c.retry != "" {
		w.Header().Set("Retry-After", c.retry)
	}
	if c.whole != 0 {
		w.WriteHeader(c.whole)
		fmt.Fprint(w, `{"error":{"type":"security_exception","reason":"no"}}`)
		return
	}
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var items []string
	for sc.Scan() {
		var a map[string]map[string]string
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			http.Error(w, "bad action", 400)
			return
		}
		c.actions = append(c.actions, a)
		id := a["create"]["_id"]
		sc.Scan() // the document
		st, typ := c.statusFor(id)
		if typ == "" {
			items = append(items, fmt.Sprintf(`{"create":{"status":%d}}`, st))
		} else {
			items = append(items, fmt.Sprintf(`{"create":{"status":%d,"error":{"type":%q,"reason":"r"}}}`, st, typ))
		}
	}
	fmt.Fprintf(w, `{"errors":true,"items":[%s]}`, strings.Join(items, ","))
}

func TestPerItemOutcomes(t *testing.T) {
	c := &cannedBulk{statusFor: func(id string) (int, string) {
		switch {
		case strings.HasSuffix(id, "0"):
			return 201, ""
		case strings.HasSuffix(id, "1"):
			return 409, "version_conflict_engine_exception"
		case strings.HasSuffix(id, "2"):
			return 429, "es_rejected_execution_exception"
		case strings.HasSuffix(id, "3"):
			return 400, "mapper_parsing_exception"
		case strings.HasSuffix(id, "4"):
			return 503, "unavailable_shards_exception"
		}
		return 400, "illegal_argument_exception"
	}}
	s := openOn(t, c, "api_key: a2V5\n", nil)
	batch := projectiontest.Batch(6, "item")
	res, err := write(s, batch)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		st     sinks.Status
		reason string
	}{{sinks.Written, ""}, {sinks.Duplicate, ""}, {sinks.Retry, "rate_limited"}, {sinks.Reject, "mapping"}, {sinks.Retry, "unavailable"}, {sinks.Reject, "rejected"}}
	for i, w := range want {
		if res[i].Status != w.st || res[i].Reason != w.reason {
			t.Errorf("%d: %+v, want %v %q", i, res[i], w.st, w.reason)
		}
	}
	if c.auth[0] != "ApiKey a2V5" {
		t.Errorf("auth header %q", c.auth[0])
	}
	if got := c.actions[0]["create"]["_index"]; got != s.IndexFor(batch[0]) || !strings.HasPrefix(got, "auditstream-") {
		t.Errorf("index %q", got)
	}
}

func TestFatalAnswers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		c     *cannedBulk
		fatal bool
	}{
		{"401", &cannedBulk{whole: 401}, true},
		{"403", &cannedBulk{whole: 403}, true},
		{"item 403 (no index permission)", &cannedBulk{statusFor: func(string) (int, string) { return 403, "security_exception" }}, true},
		{"item 404 (no index, auto-create off)", &cannedBulk{statusFor: func(string) (int, string) { return 404, "index_not_found_exception" }}, true},
		{"301 whole (redirect)", &cannedBulk{whole: 301}, true},
		{"307 whole (redirect)", &cannedBulk{whole: 307}, true},
		{"429 whole", &cannedBulk{whole: 429}, false},
		{"503 whole", &cannedBulk{whole: 503}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openOn(t, tc.c, "", nil)
			_, err := write(s, projectiontest.Batch(2, "f"))
			if err == nil || sinks.IsFatal(err) != tc.fatal {
				t.Fatalf("err %v, want fatal=%v", err, tc.fatal)
			}
		})
	}
}

func TestMovesToNextURL(t *testing.T) {
	deadURL := plugintest.DeadURL(t)
	c := &cannedBulk{statusFor: func(string) (int, string) { return 201, "" }}
	base := plugintest.Serve(t, c)
	s := open(t, "urls: ["+deadURL+", "+base+"]\n", nil)
	res, err := write(s, projectiontest.Batch(2, "n"))
	if err != nil || res[0].Status != sinks.Written {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestSecretsStayOutOfErrorsAndLogs(t *testing.T) {
	const secret = "s3cr3t-es-password"
	c := &cannedBulk{whole: 401}
	var logs testkit.LockedBuffer
	s := openOn(t, c, "username: elastic\npassword: "+secret+"\n", &logs)
	_, err := write(s, projectiontest.Batch(1, "s"))
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) || strings.Contains(fmt.Sprintf("%+v", s.s), secret) {
		t.Fatalf("secret leaked: %v / %s", err, logs.String())
	}
	if !strings.HasPrefix(c.auth[0], "Basic ") {
		t.Errorf("no basic auth: %q", c.auth[0])
	}
}

func TestIndexTemplate(t *testing.T) {
	ev := projectiontest.Event("api_denied") // 2026-11-21T10:00:00.5Z, ionos
	for tmpl, want := range map[string]string{
		"auditstream-%Y.%m.%d":          "auditstream-2026.11.21",
		"audit-%{provider}-%Y.%m.%d-%H": "audit-ionos-2026.11.21-10",
		"logs-auditstream-default":      "logs-auditstream-default",
	} {
		if got := indexName(tmpl, ev); got != want {
			t.Errorf("%s: %s, want %s", tmpl, got, want)
		}
	}
}

func TestDataStreamOCSFGetsTimestamp(t *testing.T) {
	s := open(t, "urls: [http://x:9200]\nindex: logs-audit-default\ndata_stream: true\nbody: ocsf\n", nil)
	b, err := s.encode(projectiontest.Event("api_denied"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	var doc map[string]any
	if err := json.Unmarshal(lines[1], &doc); err != nil {
		t.Fatalf("%v: %s", err, lines[1])
	}
	if doc["@timestamp"] != "2026-11-21T10:00:00.500Z" || doc["class_uid"] != float64(6003) {
		t.Fatalf("doc %v", doc)
	}
	if s.Guarantee() != sinks.AtLeastOnce {
		t.Error("a data stream cannot promise effectively-once across rollovers")
	}
}

func TestSettings(t *testing.T) {
	plugintest.CheckSettings(t, Plugin, map[string]string{
		"urls: [http://e:9200]":                                       "",
		"urls: []":                                                    "urls",
		"urls: [http://u:p@e:9200]":                                   "credentials",
		"urls: [http://e:9200]\nindex: Audit":                         "index",
		"urls: [http://e:9200]\nindex: audit-%{tenant}":               "placeholder",
		"urls: [http://e:9200]\nbody: cef":                            "body",
		"urls: [http://e:9200]\napi_key: k\nusername: u\npassword: p": "api_key",
		"urls: [http://e:9200]\nusername: u":                          "username",
	})
}

// A cluster (or the proxy in front of it) that answers 429 with Retry-After is waited for
// as long as it asks: a whole-request refusal carries the wait in the error, per-item
// refusals in their results.
func TestRetryAfter(t *testing.T) {
	c := &cannedBulk{whole: 429, retry: "2", statusFor: func(id string) (int, string) {
		if strings.HasSuffix(id, "0") {
			return 429, "es_rejected_execution_exception"
		}
		return 201, ""
	}}
	s := openOn(t, c, "", nil)
	batch := projectiontest.Batch(2, "ra")
	_, err := write(s, batch)
	if err == nil || sinks.IsFatal(err) || sinks.IsRejectedBatch(err) || sinks.RetryAfterOf(err) != 2*time.Second {
		t.Fatalf("whole 429 with Retry-After: 2: err %v, asked wait %s; want a retry in 2s", err, sinks.RetryAfterOf(err))
	}
	c.mu.Lock()
	c.whole, c.retry = 0, "4"
	c.mu.Unlock()
	res, err := write(s, batch)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != sinks.Retry || res[0].RetryAfter != 4*time.Second || res[1].Status != sinks.Written || res[1].RetryAfter != 0 {
		t.Errorf("per-item 429 with Retry-After: 4: %+v", res)
	}
}
