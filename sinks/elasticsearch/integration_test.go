package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/projection/projectiontest"
)

// realNode returns the URL of the real OpenSearch node that scripts/services/opensearch.sh
// starts.
func realNode(t testing.TB) string {
	t.Helper()
	u := os.Getenv("AUDITSTREAM_OPENSEARCH_URL")
	if u == "" {
		testkit.Require(t, "a real OpenSearch node (AUDITSTREAM_OPENSEARCH_URL unset; run `eval \"$(scripts/services/opensearch.sh start)\"`)")
	}
	return u
}

func call(t testing.TB, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Close = true // no idle connection outlives the test
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// countByID refreshes target and counts its documents by _id.
func countByID(t testing.TB, node, target string) map[string]int {
	t.Helper()
	if st, b := call(t, http.MethodPost, node+"/"+target+"/_refresh", ""); st != 200 {
		t.Fatalf("refresh %s: %d %s", target, st, b)
	}
	st, b := call(t, http.MethodPost, node+"/"+target+"/_search", `{"size":10000,"_source":false,"query":{"match_all":{}}}`)
	if st != 200 {
		t.Fatalf("search %s: %d %s", target, st, b)
	}
	var r struct {
		Hits struct {
			Hits []struct {
				ID string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, h := range r.Hits.Hits {
		out[h.ID]++
	}
	return out
}

func statuses(res []sinks.ItemResult) map[sinks.Status]int {
	out := map[sinks.Status]int{}
	for _, r := range res {
		out[r.Status]++
	}
	return out
}

// writeTwice writes batch, wanting every event written, then again, wanting every event
// answered as a duplicate (409).
func writeTwice(t *testing.T, s *Sink, batch []sinks.Event) {
	t.Helper()
	res, err := write(s, batch)
	if err != nil {
		t.Fatal(err)
	}
	if st := statuses(res); st[sinks.Written] != len(batch) {
		t.Fatalf("first write: %v (%+v)", st, res[0])
	}
	res, err = write(s, batch)
	if err != nil {
		t.Fatal(err)
	}
	if st := statuses(res); st[sinks.Duplicate] != len(batch) {
		t.Fatalf("redelivery: %v", st)
	}
}

// TestIntegrationOpenSearchEffectivelyOnce writes a batch to date-templated indices of a
// real node, then writes it again: the second time every event is a duplicate (409) and
// the store holds each id exactly once.
func TestIntegrationOpenSearchEffectivelyOnce(t *testing.T) {
	node := realNode(t)
	u := testkit.Unique()
	s := open(t, "urls: ["+node+"]\nindex: \"it-"+u+"-%{provider}-%Y.%m.%d\"\n", nil)
	batch := projectiontest.Batch(60, u)
	writeTwice(t, s, batch)
	got := countByID(t, node, "it-"+u+"-*")
	if len(got) != 60 {
		t.Fatalf("%d distinct ids stored, want 60", len(got))
	}
	for _, ev := range batch {
		if got[ev.ID] != 1 {
			t.Errorf("%s stored %d times", ev.ID, got[ev.ID])
		}
	}
	// The document is the ECS projection.
	ev := batch[0]
	st, b := call(t, http.MethodGet, node+"/"+s.IndexFor(ev)+"/_doc/"+ev.ID, "")
	var doc struct {
		Source struct {
			Event struct{ ID, Dataset string } `json:"event"`
		} `json:"_source"`
	}
	if st != 200 || json.Unmarshal(b, &doc) != nil || doc.Source.Event.ID != ev.ID || doc.Source.Event.Dataset != "auditstream."+ev.Provider {
		t.Fatalf("GET _doc: %d %s", st, b)
	}
}

// A document the index mapping refuses is rejected (dead-lettered), the others written.
func TestIntegrationOpenSearchMappingReject(t *testing.T) {
	node := realNode(t)
	idx := "it-" + testkit.Unique() + "-strict"
	if st, b := call(t, http.MethodPut, node+"/"+idx, `{"mappings":{"properties":{"message":{"type":"integer"}}}}`); st != 200 {
		t.Fatalf("create index: %d %s", st, b)
	}
	s := open(t, "urls: ["+node+"]\nindex: "+idx+"\n", nil)
	good := sinks.Event{ID: "no-message", Time: time.UnixMilli(1795255200000), ClassUID: 6003, Provider: "ionos", Tenant: "1",
		Value: []byte(`{"class_uid":6003,"time":1795255200000,"metadata":{"uid":"no-message"}}`)}
	bad := projectiontest.Event("api_create") // message is text
	res, err := write(s, []sinks.Event{good, bad})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != sinks.Written || res[1].Status != sinks.Reject || res[1].Reason != "mapping" {
		t.Fatalf("%+v", res)
	}
	if got := countByID(t, node, idx); len(got) != 1 || got["no-message"] != 1 {
		t.Fatalf("stored %v", got)
	}
}

// A data stream takes create with _id; the OCSF body gets the @timestamp it needs, and a
// redelivery within the same backing index answers 409.
func TestIntegrationOpenSearchDataStream(t *testing.T) {
	node := realNode(t)
	u := testkit.Unique()
	ds := "logs-auditstream-" + u
	tmpl := fmt.Sprintf(`{"index_patterns":[%q],"data_stream":{},"priority":500,"template":{"settings":{"number_of_replicas":0}}}`, ds+"*")
	if st, b := call(t, http.MethodPut, node+"/_index_template/it-"+u, tmpl); st != 200 {
		t.Fatalf("index template: %d %s", st, b)
	}
	t.Cleanup(func() {
		call(t, http.MethodDelete, node+"/_data_stream/"+ds, "")
		call(t, http.MethodDelete, node+"/_index_template/it-"+u, "")
	})
	s := open(t, "urls: ["+node+"]\nindex: "+ds+"\ndata_stream: true\nbody: ocsf\n", nil)
	batch := projectiontest.Batch(10, u)
	writeTwice(t, s, batch)
	if got := countByID(t, node, ds); len(got) != 10 {
		t.Fatalf("stored %v", got)
	}
}

// BenchmarkElasticsearchWrite writes batches of 500 new events to the real node. A first
// batch, before the loop, creates the index and its mapping (seconds on a small node).
func BenchmarkElasticsearchWrite(b *testing.B) {
	node := realNode(b)
	u := testkit.Unique()
	s := open(b, "urls: ["+node+"]\nindex: bench-"+u+"\n", nil)
	b.Cleanup(func() { call(b, http.MethodDelete, node+"/bench-"+u, "") })
	res := make([]sinks.ItemResult, 500)
	if err := s.Write(context.Background(), projectiontest.Batch(500, u+"-warm"), res); err != nil {
		b.Fatal(err)
	}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		batch := projectiontest.Batch(500, fmt.Sprintf("%s-%d", u, n))
		n++
		if err := s.Write(context.Background(), batch, res); err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Status != sinks.Written {
				b.Fatalf("%+v", r)
			}
		}
	}
	b.ReportMetric(float64(n*500)/b.Elapsed().Seconds(), "events/s")
}
