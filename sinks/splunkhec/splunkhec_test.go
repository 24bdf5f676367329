package splunkhec

import (
	"context"
	"encoding/json"
	"fmt"
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
	"github.com/auditstream/auditstream/sinks/splunkhec/hecserver"
)

const secretToken = "s3cr3t-hec-token-0001"

func hecSrv(t *testing.T) (*hecserver.Server, string) {
	t.Helper()
	h := hecserver.New(map[string]hecserver.Token{
		secretToken: {},
		"acked":     {Ack: true},
		"disabled":  {Disabled: true},
		"restrict":  {Indexes: []string{"audit"}},
	})
	return h, plugintest.Serve(t, h)
}

func open(t *testing.T, yml string, logs *testkit.LockedBuffer) *Sink {
	return plugintest.Start(t, Plugin, "test-hec", yml, plugintest.Logger(t, logs)).(*Sink)
}

func allWritten(t *testing.T, res []sinks.ItemResult, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Status != sinks.Written {
			t.Fatalf("event %d: %v %s %v", i, r.Status, r.Reason, r.Err)
		}
	}
}

func TestWritesEnvelopes(t *testing.T) {
	h, url := hecSrv(t)
	s := open(t, "url: "+url+"\ntoken: "+secretToken+"\nindex: audit\nhost: h1\n", nil)
	batch := projectiontest.Batch(7, "w")
	res, err := plugintest.Write(s, batch)
	allWritten(t, res, err)
	counts := h.CountByID()
	for _, ev := range batch {
		if counts[ev.ID] != 1 {
			t.Errorf("%s indexed %d times", ev.ID, counts[ev.ID])
		}
	}
	e := h.Events()[0]
	if e.Index != "audit" || e.Host != "h1" || e.Sourcetype != "auditstream:ocsf" || e.Source != "auditstream:"+batch[0].Provider ||
		e.Time != float64(batch[0].Time.UnixMilli())/1000 || e.Fields["provider"] != batch[0].Provider {
		t.Errorf("envelope %+v", e)
	}
	var ocsf struct {
		ClassUID int `json:"class_uid"`
	}
	if err := json.Unmarshal(e.Event, &ocsf); err != nil || ocsf.ClassUID != batch[0].ClassUID {
		t.Errorf("event field is not the OCSF event: %s", e.Event)
	}
	if h.Requests() != 1 {
		t.Errorf("%d requests for one small batch", h.Requests())
	}
}

func TestSplitsAtMaxRequestBytesAnd413(t *testing.T) {
	h, url := hecSrv(t)
	h.SetMaxBodySize(4000) // a few events per request; the sink's own limit is larger
	s := open(t, "url: "+url+"\ntoken: "+secretToken+"\nmax_request_bytes: 9000\n", nil)
	batch := projectiontest.Batch(20, "split")
	res, err := plugintest.Write(s, batch)
	allWritten(t, res, err)
	if got := len(h.CountByID()); got != 20 {
		t.Fatalf("%d distinct events indexed, want 20", got)
	}
	for id, n := range h.CountByID() {
		if n != 1 {
			t.Errorf("%s indexed %d times", id, n)
		}
	}
}

func TestIndexerAcknowledgement(t *testing.T) {
	h, url := hecSrv(t)
	h.SetAckAfter(3)
	s := open(t, "url: "+url+"\ntoken: acked\nack: true\nack_poll_interval: 5ms\nmax_request_bytes: 3000\n", nil)
	batch := projectiontest.Batch(6, "ack")
	res, err := plugintest.Write(s, batch)
	allWritten(t, res, err)
	if len(h.CountByID()) != 6 {
		t.Fatalf("indexed %v", h.CountByID())
	}
	for _, e := range h.Events() {
		if e.Channel != s.channel {
			t.Fatalf("event on channel %q, sink channel %q", e.Channel, s.channel)
		}
	}
}

func TestAckTimeoutLeavesEventsForRetry(t *testing.T) {
	h, url := hecSrv(t)
	h.SetAckAfter(1 << 30)
	s := open(t, "url: "+url+"\ntoken: acked\nack: true\nack_poll_interval: 5ms\nack_timeout: 50ms\n", nil)
	res, err := plugintest.Write(s, projectiontest.Batch(3, "late"))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Status != sinks.Retry || r.Reason != "ack_timeout" {
			t.Fatalf("%d: %+v", i, r)
		}
	}
}

// A blank event is refused by HEC with invalid-event-number: the events before it were
// indexed, it is rejected, the events after it are sent again.
func TestPartialFailure(t *testing.T) {
	for _, ack := range []bool{false, true} {
		t.Run(fmt.Sprint("ack=", ack), func(t *testing.T) {
			h, url := hecSrv(t)
			tok := secretToken
			if ack {
				tok = "acked"
			}
			s := open(t, fmt.Sprintf("url: %s\ntoken: %s\nack: %v\nack_poll_interval: 5ms\n", url, tok, ack), nil)
			batch := projectiontest.Batch(4, "part")
			batch[1].Value = []byte(`""`)
			res, err := plugintest.Write(s, batch)
			if err != nil {
				t.Fatal(err)
			}
			first := sinks.Written
			if ack {
				first = sinks.Retry // indexed, but no ack was given for it
			}
			want := []sinks.Status{first, sinks.Reject, sinks.Written, sinks.Written}
			for i := range want {
				if res[i].Status != want[i] {
					t.Fatalf("%d: %+v, want %v", i, res[i], want[i])
				}
			}
			if res[1].Reason != "invalid_event" {
				t.Errorf("reason %q", res[1].Reason)
			}
			c := h.CountByID()
			if c[batch[0].ID] != 1 || c[batch[1].ID] != 0 || c[batch[2].ID] != 1 || c[batch[3].ID] != 1 {
				t.Errorf("indexed %v", c)
			}
		})
	}
}

func TestRetryFatalTable(t *testing.T) {
	for _, tc := range []struct {
		name, yml string
		busy      int
		fatal     bool
	}{
		{"unknown token", "token: nope", 0, true},
		{"disabled token", "token: disabled", 0, true},
		{"channel missing (token acks, sink does not)", "token: acked", 0, true},
		{"ack on, token without acks", "token: " + secretToken + "\nack: true", 0, true},
		{"index not allowed", "token: restrict\nindex: other", 0, true},
		{"server busy", "token: " + secretToken, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, url := hecSrv(t)
			h.SetBusy(tc.busy)
			s := open(t, "url: "+url+"\n"+tc.yml+"\nack_poll_interval: 5ms\n", nil)
			_, err := plugintest.Write(s, projectiontest.Batch(2, "rf"))
			if err == nil || sinks.IsFatal(err) != tc.fatal {
				t.Fatalf("err %v, want fatal=%v", err, tc.fatal)
			}
			if tc.busy > 0 { // busy passes: the retry goes through
				res, err := plugintest.Write(s, projectiontest.Batch(2, "rf"))
				allWritten(t, res, err)
			}
		})
	}
}

// A proxy or load balancer in front of HEC answers with an HTTP status and no HEC code:
// the sink maps the status (a 401 from a proxy must not be retried forever).
func TestStatusWithoutHECCode(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   string // fatal, reject (bisect), retry
	}{
		{401, "fatal"}, {403, "fatal"}, {404, "fatal"}, {301, "fatal"}, {302, "fatal"},
		{400, "reject"}, {413, "reject"},
		{429, "retry"}, {500, "retry"}, {502, "retry"}, {503, "retry"}, {504, "retry"},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			h, url := hecSrv(t)
			h.SetFront(tc.status)
			s := open(t, "url: "+url+"\ntoken: "+secretToken+"\n", nil)
			res, err := plugintest.Write(s, projectiontest.Batch(1, "front"))
			got := "retry"
			switch {
			case sinks.IsFatal(err):
				got = "fatal"
			case sinks.IsRejectedBatch(err), err == nil && res[0].Status == sinks.Reject:
				got = "reject"
			case err == nil:
				got = res[0].Status.String()
			}
			if got != tc.want {
				t.Fatalf("HTTP %d without HEC code: %s (err %v), want %s", tc.status, got, err, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), secretToken) || len(err.Error()) > 600) {
				t.Fatalf("error leaks the token or repeats the whole page: %v", err)
			}
		})
	}
}

func TestUnreachableIsRetryable(t *testing.T) {
	s := open(t, "url: "+plugintest.DeadURL(t)+"\ntoken: x\n", nil)
	if _, err := plugintest.Write(s, projectiontest.Batch(1, "u")); err == nil || sinks.IsFatal(err) {
		t.Fatalf("err %v", err)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("ping of a closed server succeeded")
	}
}

func TestSecretsStayOutOfErrorsAndLogs(t *testing.T) {
	h, url := hecSrv(t)
	h.SetToken(secretToken, hecserver.Token{Disabled: true})
	var logs testkit.LockedBuffer
	s := open(t, "url: "+url+"\ntoken: "+secretToken+"\n", &logs)
	_, err := plugintest.Write(s, projectiontest.Batch(1, "sec"))
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), secretToken) || strings.Contains(logs.String(), secretToken) ||
		strings.Contains(fmt.Sprintf("%v %+v", s.s, s.s), secretToken) {
		t.Fatalf("token leaked: %v / %s", err, logs.String())
	}
}

func TestSettings(t *testing.T) {
	plugintest.CheckSettings(t, Plugin, map[string]string{
		"url: https://s:8088\ntoken: t":                   "",
		"url: https://s:8088":                             "token",
		"url: https://s:8088?token=x\ntoken: t":           "url",
		"url: https://s:8088\ntoken: t\nformat: cef":      "format",
		"url: https://s:8088\ntoken: t\nchannel: abc":     "channel",
		"url: https://s:8088\ntoken: t\nack_timeout: -1s": "ack_timeout",
	})
}

// HEC does not document a Retry-After on its busy answers, but a load balancer in front
// of it may send one: the sink passes the wait on to the runner, and retries after it.
func TestRetryAfterFromAProxy(t *testing.T) {
	h, _ := hecSrv(t)
	busy := 1
	var mu sync.Mutex
	proxy := plugintest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := busy > 0
		busy--
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"text":"Server is busy","code":9}`)
			return
		}
		h.ServeHTTP(w, r)
	}))
	s := open(t, "url: "+proxy+"\ntoken: "+secretToken+"\n", nil)
	batch := projectiontest.Batch(2, "ra")
	_, err := plugintest.Write(s, batch)
	if err == nil || sinks.IsFatal(err) || sinks.RetryAfterOf(err) != 2*time.Second {
		t.Fatalf("busy with Retry-After: 2: err %v, asked wait %s; want a retry in 2s", err, sinks.RetryAfterOf(err))
	}
	res, err := plugintest.Write(s, batch)
	allWritten(t, res, err)
	// HEC's own busy answer has no Retry-After: plain backoff.
	h.SetBusy(1)
	if _, err := plugintest.Write(s, batch); err == nil || sinks.RetryAfterOf(err) != 0 {
		t.Fatalf("HEC busy: err %v, asked wait %s; want a plain retry", err, sinks.RetryAfterOf(err))
	}
}
