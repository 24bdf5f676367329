package loki

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/projection/projectiontest"
)

func realLoki(t *testing.T) string {
	t.Helper()
	u := os.Getenv("AUDITSTREAM_LOKI_URL")
	if u == "" {
		testkit.Require(t, "a real Grafana Loki (AUDITSTREAM_LOKI_URL unset; run `eval \"$(scripts/services/loki.sh start)\"`)")
	}
	return u
}

// queryIDs runs a LogQL query over the last hour and returns the event.id of every line
// (the lines are ECS documents), counting repeats.
func queryIDs(t *testing.T, base, logql string) map[string]int {
	t.Helper()
	q := url.Values{
		"query": {logql}, "limit": {"5000"}, "direction": {"forward"},
		"start": {strconv.FormatInt(time.Now().Add(-6*time.Hour).UnixNano(), 10)},
		"end":   {strconv.FormatInt(time.Now().Add(time.Minute).UnixNano(), 10)},
	}
	req, err := http.NewRequest(http.MethodGet, base+"/loki/api/v1/query_range?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("query_range %s: HTTP %d %s", logql, resp.StatusCode, b)
	}
	var r struct {
		Data struct {
			Result []struct {
				Stream map[string]string `json:"stream"`
				Values [][]any           `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, s := range r.Data.Result {
		for _, v := range s.Values {
			var doc struct {
				Event struct{ ID string } `json:"event"`
			}
			if err := json.Unmarshal([]byte(v[1].(string)), &doc); err != nil {
				t.Fatalf("line is not ECS JSON: %v", v[1])
			}
			out[doc.Event.ID]++
		}
	}
	return out
}

// TestIntegrationLoki pushes a batch whose events come newest first and span two hours to
// a real Loki, which accepts an entry only if it is less than an hour older than its
// stream's newest: the sink sorts each stream, so every event is stored. The events are
// found back by query_range, by stream label and by structured metadata; an event too old
// for its stream is rejected (dead-lettered), not silently lost.
func TestIntegrationLoki(t *testing.T) {
	base := realLoki(t)
	run := testkit.Unique()
	s := open(t, "url: "+base+"\nformat: ecs\nlabels: {run: r"+run+"}\n", nil)
	now := time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond)
	batch := projectiontest.Batch(12, run)
	for i := range batch {
		// Newest first, 11 minutes apart: pushed in this order, Loki would refuse the
		// entries more than an hour older than the first.
		batch[i].Time = now.Add(-time.Duration(i) * 11 * time.Minute)
	}
	res, err := write(s, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Status != sinks.Written {
			t.Fatalf("event %d: %+v", i, r)
		}
	}
	want := map[string]bool{}
	for _, ev := range batch {
		want[ev.ID] = true
	}
	var got map[string]int
	for deadline := time.Now().Add(30 * time.Second); ; {
		got = queryIDs(t, base, fmt.Sprintf(`{run="r%s"}`, run))
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for id := range want {
		if got[id] != 1 {
			t.Errorf("%s found %d times", id, got[id])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("found %d events, pushed %d: %v", len(got), len(want), got)
	}
	// Stream labels: provider and class.
	ionos := queryIDs(t, base, fmt.Sprintf(`{run="r%s", provider="ionos", class_uid="6003"}`, run))
	nIonos := 0
	for _, ev := range batch {
		if ev.Provider == "ionos" {
			nIonos++
		}
	}
	if len(ionos) != nIonos {
		t.Errorf("provider/class stream holds %d events, want %d", len(ionos), nIonos)
	}
	// Structured metadata (Loki 3): the event id is a filterable field of the entry.
	if on, _ := s.metadataOn(t.Context()); on {
		one := queryIDs(t, base, fmt.Sprintf(`{run="r%s"} | event_id="%s"`, run, batch[3].ID))
		if len(one) != 1 || one[batch[3].ID] != 1 {
			t.Errorf("structured metadata filter found %v", one)
		}
	}
	// An event more than an hour older than its stream's newest entry is refused by Loki:
	// rejected (dead-lettered), while a newer one in the same push is written.
	old, fresh := batch[0], batch[0]
	old.ID, old.Time = run+"-old", now.Add(-3*time.Hour)
	fresh.ID, fresh.Time = run+"-fresh", now.Add(time.Second)
	res, err = write(s, []sinks.Event{old, fresh})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != sinks.Reject || res[0].Reason != "too_far_behind" || res[1].Status != sinks.Written {
		t.Fatalf("old/new: %+v", res)
	}
}
