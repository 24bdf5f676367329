package loki

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/internal/plugintest"
	"github.com/auditstream/auditstream/sinks/projection/projectiontest"
)

func open(t *testing.T, yml string, logs *testkit.LockedBuffer) *Sink {
	return plugintest.Start(t, Plugin, "test-loki", yml, plugintest.Logger(t, logs)).(*Sink)
}

// write is plugintest.Write (the integration tests use it too).
var write = plugintest.Write

type push struct {
	Streams []struct {
		Stream map[string]string `json:"stream"`
		Values [][]any           `json:"values"`
	} `json:"streams"`
}

// fakeLoki records pushes and answers with answer(push) (status, body).
type fakeLoki struct {
	mu      sync.Mutex
	pushes  []push
	version string
	answer  func(p push) (int, string)
	auth    []string
	retry   string // non-empty: the Retry-After header of every push answer
}

func (f *fakeLoki) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auth = append(f.auth, r.Header.Get("Authorization")+"|"+r.Header.Get("X-Scope-OrgID"))
	switch r.URL.Path {
	case "/loki/api/v1/status/buildinfo":
		fmt.Fprintf(w, `{"version":%q}`, f.version)
	case "/ready":
		fmt.Fprint(w, "ready")
	case "/loki/api/v1/push":
		var p push
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &p); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.pushes = append(f.pushes, p)
		code, msg := 204, ""
		if f.answer != nil {
			code, msg = f.answer(p)
		}
		if f.retry != "" {
			w.Header().Set("Retry-After", f.retry)
		}
		w.WriteHeader(code)
		fmt.Fprint(w, msg)
	default:
		http.NotFound(w, r)
	}
}

func TestStreamsSortedLabelsAndMetadata(t *testing.T) {
	f := &fakeLoki{version: "3.5.1"}
	s := open(t, "url: "+plugintest.Serve(t, f)+"\nlabels: {job: audit}\ntenant_id: acme\n", nil)
	a, b, c := projectiontest.Event("api_create"), projectiontest.Event("api_denied"), projectiontest.Event("auth_logon")
	b2 := b
	b2.ID, b2.Time = "b2", b.Time.Add(-time.Hour) // older, same stream, after b in the batch
	res, err := write(s, []sinks.Event{b, a, c, b2})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Status != sinks.Written {
			t.Fatalf("%d: %+v", i, r)
		}
	}
	if len(f.pushes) != 2 {
		t.Fatalf("%d pushes, want one per stream (ionos/6003, ecgrid/3002)", len(f.pushes))
	}
	st := f.pushes[0].Streams[0]
	if st.Stream["provider"] != "ionos" || st.Stream["class_uid"] != "6003" || st.Stream["job"] != "audit" || st.Stream["tenant"] != "" {
		t.Errorf("labels %v", st.Stream)
	}
	var ts []int64
	var ids []string
	for _, v := range st.Values {
		n, _ := strconv.ParseInt(v[0].(string), 10, 64)
		ts = append(ts, n)
		ids = append(ids, v[2].(map[string]any)["event_id"].(string))
	}
	for i := 1; i < len(ts); i++ {
		if ts[i] < ts[i-1] {
			t.Fatalf("stream not in time order: %v", ts)
		}
	}
	if strings.Join(ids, ",") != strings.Join([]string{a.ID, "b2", b.ID}, ",") {
		t.Errorf("ids in order %v", ids)
	}
	if actor := st.Values[0][2].(map[string]any)["actor"]; actor != "user@example.com" {
		t.Errorf("actor metadata %v", actor)
	}
	if f.auth[len(f.auth)-1] != "|acme" {
		t.Errorf("headers %v", f.auth)
	}
}

// Structured metadata is sent to Loki 3 and to a Loki without a version (built from
// source without version stamps), not to Loki 2.
func TestStructuredMetadataByLokiVersion(t *testing.T) {
	for _, tc := range []struct {
		version string
		entry   int // elements of an entry: 2 without structured metadata, 3 with it
	}{
		{"2.4.2", 2},
		{"", 3},
	} {
		t.Run("version="+tc.version, func(t *testing.T) {
			f := &fakeLoki{version: tc.version}
			s := open(t, "url: "+plugintest.Serve(t, f)+"\n", nil)
			if _, err := write(s, []sinks.Event{projectiontest.Event("api_create")}); err != nil {
				t.Fatal(err)
			}
			if v := f.pushes[0].Streams[0].Values[0]; len(v) != tc.entry {
				t.Fatalf("Loki %q: entry %v has %d elements, want %d", tc.version, v, len(v), tc.entry)
			}
		})
	}
}

func TestMetadataRefusedTurnsItOff(t *testing.T) {
	f := &fakeLoki{version: "3.0.0"}
	f.answer = func(p push) (int, string) {
		if len(p.Streams[0].Values[0]) > 2 {
			return 400, "stream '{provider=\"ionos\"}' includes structured metadata, but this feature is disallowed. Please see `limits_config.allow_structured_metadata`"
		}
		return 204, ""
	}
	s := open(t, "url: "+plugintest.Serve(t, f)+"\n", nil)
	res, err := write(s, []sinks.Event{projectiontest.Event("api_create")})
	if err != nil || res[0].Status != sinks.Written {
		t.Fatalf("%v %+v", err, res)
	}
	if len(f.pushes) != 2 {
		t.Fatalf("%d pushes, want the refused one and one without metadata", len(f.pushes))
	}
}

func TestIgnoredEntriesAreRejectedOthersWritten(t *testing.T) {
	f := &fakeLoki{version: "2.9.0"}
	a := projectiontest.Event("api_create")
	b := projectiontest.Event("api_denied")
	f.answer = func(p push) (int, string) {
		// What Loki's ingester answers when part of a push is out of order.
		return 400, fmt.Sprintf("entry with timestamp %s ignored, reason: 'entry out of order',\nuser 'fake', total ignored: 1 out of 2 for stream: {class_uid=\"6003\", provider=\"ionos\"}", a.Time.String())
	}
	s := open(t, "url: "+plugintest.Serve(t, f)+"\n", nil)
	res, err := write(s, []sinks.Event{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != sinks.Reject || res[0].Reason != "out_of_order" || res[1].Status != sinks.Written {
		t.Fatalf("%+v", res)
	}
}

// A 400 that names no entry refuses the batch as a whole; the runner's bisection isolates
// the event (sinks.Deliver is the runner's core).
func TestBad400IsIsolated(t *testing.T) {
	f := &fakeLoki{version: "2.9.0"}
	f.answer = func(p push) (int, string) {
		for _, v := range p.Streams[0].Values {
			if strings.Contains(v[1].(string), "RequestDenied") {
				return 400, "max entry size '10' bytes exceeded for stream ... (line too long)"
			}
		}
		return 204, ""
	}
	s := open(t, "url: "+plugintest.Serve(t, f)+"\n", nil)
	batch := []sinks.Event{projectiontest.Event("api_create"), projectiontest.Event("api_denied"), projectiontest.Event("api_create")}
	batch[2].ID, batch[2].Time = "later", batch[2].Time.Add(time.Second)
	_, err := write(s, batch)
	if !sinks.IsRejectedBatch(err) {
		t.Fatalf("want a whole-batch refusal, got %v", err)
	}
	d, err := sinks.Deliver(t.Context(), s, batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Rejected) != 1 || d.Rejected[0].Event.ID != batch[1].ID || d.Rejected[0].Reason != "too_large" || d.Written != 2 {
		t.Fatalf("%+v", d)
	}
}

func TestStatusClasses(t *testing.T) {
	for _, tc := range []struct {
		code  int
		fatal bool
	}{{401, true}, {403, true}, {404, true}, {301, true}, {302, true}, {308, true}, {429, false}, {500, false}, {503, false}} {
		f := &fakeLoki{version: "3.1.0", answer: func(push) (int, string) { return tc.code, "no" }}
		s := open(t, "url: "+plugintest.Serve(t, f)+"\n", nil)
		_, err := write(s, []sinks.Event{projectiontest.Event("api_create")})
		if err == nil || sinks.IsFatal(err) != tc.fatal {
			t.Errorf("HTTP %d: err %v, want fatal=%v", tc.code, err, tc.fatal)
		}
	}
}

func TestSecretsStayOutOfErrorsAndLogs(t *testing.T) {
	const secret = "s3cr3t-loki-password"
	f := &fakeLoki{version: "3.1.0", answer: func(push) (int, string) { return 401, "unauthorized" }}
	var logs testkit.LockedBuffer
	s := open(t, "url: "+plugintest.Serve(t, f)+"\nusername: u\npassword: "+secret+"\n", &logs)
	_, err := write(s, []sinks.Event{projectiontest.Event("api_create")})
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) || strings.Contains(fmt.Sprintf("%+v", s.s), secret) {
		t.Fatalf("secret leaked: %v / %s", err, logs.String())
	}
	if !strings.HasPrefix(f.auth[len(f.auth)-1], "Basic ") {
		t.Errorf("no basic auth sent: %v", f.auth)
	}
}

func TestSettings(t *testing.T) {
	plugintest.CheckSettings(t, Plugin, map[string]string{
		"url: http://l:3100":                        "",
		"url: l:3100":                               "url",
		"url: http://u:p@l:3100":                    "credentials",
		"url: http://l\nlabels: {provider: x}":      "labels.provider",
		"url: http://l\nlabels: {\"a-b\": x}":       "labels.a-b",
		"url: http://l\nstructured_metadata: maybe": "structured_metadata",
		"url: http://l\nformat: xml":                "format",
		"url: http://l\npassword: x":                "username",
	})
}

// Loki names a refused entry by its timestamp only. Three events of one stream share a
// nanosecond and Loki refuses one of them: only that one is rejected; the other two are
// written (each is pushed again alone to find out which one was refused).
func TestRefusalOfOneOfSeveralEntriesWithTheSameTimestamp(t *testing.T) {
	f := &fakeLoki{version: "2.9.0"}
	stored := map[string]bool{} // ts + line Loki holds
	f.answer = func(p push) (int, string) {
		var refused []string
		for _, v := range p.Streams[0].Values {
			ts, line := v[0].(string), v[1].(string)
			if strings.Contains(line, "RequestDenied") {
				ns, _ := strconv.ParseInt(ts, 10, 64)
				refused = append(refused, fmt.Sprintf("entry with timestamp %s ignored, reason: 'entry too far behind, oldest acceptable timestamp is: 2026-01-01T00:00:00Z',\n", time.Unix(0, ns).UTC().String()))
				continue
			}
			stored[ts+line] = true // a second identical entry is dropped silently
		}
		if len(refused) == 0 {
			return 204, ""
		}
		return 400, strings.Join(refused, "") + fmt.Sprintf("user 'fake', total ignored: %d out of %d for stream: {class_uid=\"6003\"}", len(refused), len(p.Streams[0].Values))
	}
	s := open(t, "url: "+plugintest.Serve(t, f)+"\n", nil)
	batch := []sinks.Event{projectiontest.Event("api_create"), projectiontest.Event("api_denied"), projectiontest.Event("api_create")}
	batch[2].ID = "third"
	var third map[string]any
	_ = json.Unmarshal(batch[2].Value, &third)
	third["metadata"].(map[string]any)["uid"] = "third"
	batch[2].Value, _ = json.Marshal(third)
	for i := range batch {
		batch[i].Time = batch[0].Time
		batch[i].ClassUID, batch[i].Provider = batch[0].ClassUID, batch[0].Provider
	}
	res, err := write(s, batch)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != sinks.Written || res[2].Status != sinks.Written || res[1].Status != sinks.Reject || res[1].Reason != "too_far_behind" {
		t.Fatalf("results %+v: want only the refused entry rejected", res)
	}
	if len(stored) != 2 {
		t.Fatalf("Loki holds %d entries, want 2", len(stored))
	}
}

// An event without a routing time gets its OCSF time, the same on every delivery (Loki's
// suppression of identical entries depends on it); one with no time at all is rejected.
func TestEntryTimeIsDeterministic(t *testing.T) {
	f := &fakeLoki{version: "3.1.0"}
	s := open(t, "url: "+plugintest.Serve(t, f)+"\n", nil)
	ev := projectiontest.Event("api_create")
	var ocsf struct {
		Time int64 `json:"time"`
	}
	if err := json.Unmarshal(ev.Value, &ocsf); err != nil || ocsf.Time == 0 {
		t.Fatalf("fixture without OCSF time: %v", err)
	}
	ev.Time = time.Time{}
	for range 2 {
		res, err := write(s, []sinks.Event{ev})
		if err != nil || res[0].Status != sinks.Written {
			t.Fatalf("%+v %v", res, err)
		}
	}
	want := strconv.FormatInt(ocsf.Time*int64(time.Millisecond), 10)
	for i, p := range f.pushes {
		if got := p.Streams[0].Values[0][0]; got != want {
			t.Fatalf("push %d: timestamp %v, want the OCSF time %s", i, got, want)
		}
	}
	noTime := projectiontest.Event("api_create")
	noTime.Time = time.Time{}
	var m map[string]any
	_ = json.Unmarshal(noTime.Value, &m)
	delete(m, "time")
	noTime.Value, _ = json.Marshal(m)
	res, err := write(s, []sinks.Event{noTime})
	if err != nil || res[0].Status != sinks.Reject || res[0].Reason != "no_time" {
		t.Fatalf("event without any time: %+v %v, want rejected (no_time)", res, err)
	}
}

// A 429 with Retry-After (from Loki or a gateway in front of it) is retried no sooner than
// asked: the error carries the wait for the runner.
func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		code  int
		retry string
		want  time.Duration
	}{{429, "2", 2 * time.Second}, {503, "30", 30 * time.Second}, {429, "", 0}, {429, "later", 0}, {429, "86400", sinks.MaxRetryAfter}} {
		f := &fakeLoki{version: "3.1.0", retry: tc.retry, answer: func(push) (int, string) {
			return tc.code, "Ingestion rate limit exceeded"
		}}
		s := open(t, "url: "+plugintest.Serve(t, f)+"\n", nil)
		_, err := write(s, []sinks.Event{projectiontest.Event("api_create")})
		if err == nil || sinks.IsFatal(err) || sinks.IsRejectedBatch(err) || sinks.RetryAfterOf(err) != tc.want {
			t.Errorf("HTTP %d Retry-After %q: err %v, asked wait %s; want a retry in %s", tc.code, tc.retry, err, sinks.RetryAfterOf(err), tc.want)
		}
	}
}
