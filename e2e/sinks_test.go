package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"gopkg.in/yaml.v3"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers/ionos"
	"github.com/auditstream/auditstream/pollers/ionos/ionossim"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/elasticsearch"
	"github.com/auditstream/auditstream/sinks/loki"
	"github.com/auditstream/auditstream/sinks/postgres"
	"github.com/auditstream/auditstream/sinks/syslog"
	"github.com/auditstream/auditstream/sinks/webhook"
)

// pgCluster is a PostgreSQL cluster of the test's own (scripts/services/postgres.sh), so
// that stopping it disturbs no other test.
type pgCluster struct {
	script, dir, port, dsn string
}

func (c *pgCluster) run(t testing.TB, cmd string) string {
	t.Helper()
	x := exec.Command("bash", c.script, cmd)
	x.Env = append(x.Environ(), "AUDITSTREAM_PG_DIR="+c.dir, "AUDITSTREAM_PG_PORT="+c.port)
	out, err := x.CombinedOutput()
	if err != nil {
		t.Fatalf("postgres.sh %s: %v\n%s", cmd, err, out)
	}
	return string(out)
}

func startPostgres(t testing.TB) *pgCluster {
	t.Helper()
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) == 0 {
		if _, err := exec.LookPath("pg_config"); err != nil {
			testkit.Require(t, "the PostgreSQL server binaries (Debian package postgresql)")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	script, err := filepath.Abs("../scripts/services/postgres.sh")
	if err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{script: script, dir: "/tmp/auditstream-e2e-pg-" + testkit.Unique(), port: port}
	out := c.run(t, "start")
	t.Cleanup(func() { c.run(t, "stop") })
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "AUDITSTREAM_POSTGRES_DSN="); ok {
			c.dsn = v
		}
	}
	if c.dsn == "" {
		t.Fatalf("postgres.sh start printed no DSN:\n%s", out)
	}
	return c
}

// hookReceiver counts the events a webhook delivers, by metadata.uid.
type hookReceiver struct {
	mu  sync.Mutex
	ids map[string]int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var b struct {
		Events []struct {
			Metadata struct {
				UID string `json:"uid"`
			} `json:"metadata"`
		} `json:"events"`
	}
	if json.Unmarshal(body, &b) != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	for _, e := range b.Events {
		h.ids[e.Metadata.UID]++
	}
	h.mu.Unlock()
}

func (h *hookReceiver) distinct() map[string]bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]bool{}
	for id := range h.ids {
		out[id] = true
	}
	return out
}

// store is one more sink of the end-to-end test and how to read its store back.
type store struct {
	name  string
	exact bool                  // effectively-once: each event exactly once
	count func() map[string]int // copies per event id
	part  *Part
}

// serverEnv returns the variable that points at a real server, failing under CI=true when
// it is missing (.ci/run starts them all), else "" (the store is left out of this run).
func serverEnv(t *testing.T, name, how string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s unset and CI=true (%s)", name, how)
		}
		t.Logf("%s unset: that store is left out of this run (%s)", name, how)
	}
	return v
}

func openPlugin(t *testing.T, p *Pipeline, pl sinks.Plugin, name, yml string) sinks.Sink {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(yml), &n); err != nil {
		t.Fatal(err)
	}
	s, err := pl.Open(name, n.Content[0], sinks.Deps{Log: p.Log, Metrics: p.Metrics})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func httpJSON(t *testing.T, method, url, body string, v any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: HTTP %d %s", method, url, resp.StatusCode, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
}

// openSearchStore indexes into a fresh index of a real OpenSearch node.
func openSearchStore(t *testing.T, p *Pipeline, node, run string) store {
	index := "e2e-" + run
	s := openPlugin(t, p, elasticsearch.Plugin, "e2e-opensearch", fmt.Sprintf("urls: [%q]\nindex: %s\n", node, index))
	return store{name: "e2e-opensearch", exact: s.Guarantee() == sinks.EffectivelyOnce, part: p.StartSink(s, ""), count: func() map[string]int {
		httpJSON(t, http.MethodPost, node+"/"+index+"/_refresh", "", nil)
		var r struct {
			Hits struct {
				Hits []struct {
					ID string `json:"_id"`
				} `json:"hits"`
			} `json:"hits"`
		}
		httpJSON(t, http.MethodPost, node+"/"+index+"/_search", `{"size":10000,"_source":false,"query":{"match_all":{}}}`, &r)
		out := map[string]int{}
		for _, h := range r.Hits.Hits {
			out[h.ID]++
		}
		return out
	}}
}

// lokiStore pushes to a real Loki under a label of this run and reads back with
// query_range.
func lokiStore(t *testing.T, p *Pipeline, base, run string) store {
	s := openPlugin(t, p, loki.Plugin, "e2e-loki", fmt.Sprintf("url: %q\nlabels: {e2e_run: %q}\n", base, run))
	return store{name: "e2e-loki", exact: s.Guarantee() == sinks.EffectivelyOnce, part: p.StartSink(s, ""), count: func() map[string]int {
		out := map[string]int{}
		// Only the ids come back (the whole lines of 4000 events exceed Loki's default
		// 4 MiB query response).
		q := url.Values{"query": {fmt.Sprintf(`{e2e_run=%q} | json uid="metadata.uid" | line_format "{{.uid}}" | drop uid`, run)},
			"limit": {"5000"}, "direction": {"forward"},
			"start": {strconv.FormatInt(time.Now().Add(-6*time.Hour).UnixNano(), 10)},
			"end":   {strconv.FormatInt(time.Now().Add(time.Minute).UnixNano(), 10)}}
		var r struct {
			Data struct {
				Result []struct {
					Values [][]string `json:"values"`
				} `json:"result"`
			} `json:"data"`
		}
		httpJSON(t, http.MethodGet, base+"/loki/api/v1/query_range?"+q.Encode(), "", &r)
		for _, st := range r.Data.Result {
			for _, v := range st.Values {
				if len(v) < 2 || v[1] == "" {
					t.Fatalf("loki answered an entry without an id: %v", v)
				}
				id := v[1]
				out[id]++
			}
		}
		return out
	}}
}

var syslogEventID = regexp.MustCompile(`event_id="([^"]+)"`)

// syslogStore sends RFC 5424 over TCP to a real rsyslogd and reads its output file, which
// other tests share: only the lines of this run's APP-NAME count.
func syslogStore(t *testing.T, p *Pipeline, addr, out, run string) store {
	app := "e2e-" + run
	s := openPlugin(t, p, syslog.Plugin, "e2e-syslog", fmt.Sprintf("address: %q\ntransport: tcp\napp_name: %s\n", addr, app))
	return store{name: "e2e-syslog", exact: s.Guarantee() == sinks.EffectivelyOnce, part: p.StartSink(s, ""), count: func() map[string]int {
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]int{}
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.Contains(l, " "+app+" ") {
				continue
			}
			if m := syslogEventID.FindStringSubmatch(l); m != nil {
				ids[m[1]]++
			}
		}
		return ids
	}}
}

// The sinks' end-to-end test on real Apache Kafka: the IONOS simulator → poller → Kafka →
// normalizer → Kafka → PostgreSQL, the file sink and a webhook at once. PostgreSQL is
// stopped for 20 s mid-run and started again. Every store must end with exactly the
// served set (PostgreSQL and the file each event once; the webhook, at-least-once, each
// event at least once), and nothing may be dead-lettered.
func TestIntegrationSinksEndToEnd(t *testing.T) {
	brokers := testkit.RealKafka(t)
	pg := startPostgres(t)
	const backfill, live = 1000, 3000
	total := backfill + live
	sim := ionossim.New(ionossim.Config{
		Token: "e2e-token", Contracts: []string{"31721070", "31721071"}, Seed: 20261122,
		Rate: 100, MaxEvents: total, Backfill: backfill, LateFraction: 0.1, MaxLate: time.Second,
		MaxResults: 2000,
		Faults:     ionossim.Faults{TooManyRequests: 0.02, ServerError: 0.02, RetryAfter: 1},
	})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	hook := &hookReceiver{ids: map[string]int{}}
	hsrv := httptest.NewServer(hook)
	defer hsrv.Close()

	p := New(t, brokers, ionos.Name)
	poller := p.StartPoller("ionos-sinks", ionos.Name, ionosSource(t, p, srv.URL, "ionos-sinks"), 200*time.Millisecond)
	norm := p.StartNormalizer(ionos.Name)

	pcfg := postgres.Settings{DSN: pg.dsn, Table: "events_e2e", Partition: "day"}
	pcfg.SetDefaults()
	pcfg.StatementTimeout = config.Duration(10 * time.Second)
	pgSink, err := postgres.Open("e2e-pg", pcfg, p.Log)
	if err != nil {
		t.Fatal(err)
	}
	pgPart := p.StartSink(pgSink, "")
	path := filepath.Join(t.TempDir(), "events.jsonl")
	filePart := p.StartFileSink(path)
	wcfg := webhook.Settings{URL: hsrv.URL + "/hook", Secret: "e2e-webhook-secret-0123456789"}
	wcfg.SetDefaults()
	hookSink, err := webhook.Open("e2e-hook", wcfg, nil, p.Log)
	if err != nil {
		t.Fatal(err)
	}
	hookPart := p.StartSink(hookSink, "")
	run := testkit.Unique()
	var more []store
	if u := serverEnv(t, "AUDITSTREAM_OPENSEARCH_URL", "scripts/services/opensearch.sh start"); u != "" {
		more = append(more, openSearchStore(t, p, u, run))
	}
	if u := serverEnv(t, "AUDITSTREAM_LOKI_URL", "scripts/services/loki.sh start"); u != "" {
		more = append(more, lokiStore(t, p, u, run))
	}
	if a := serverEnv(t, "AUDITSTREAM_RSYSLOG_TCP", "scripts/services/rsyslog.sh start"); a != "" {
		more = append(more, syslogStore(t, p, a, serverEnv(t, "AUDITSTREAM_RSYSLOG_OUT", "scripts/services/rsyslog.sh start"), run))
	}

	admin, err := pgxpool.New(context.Background(), pg.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	rows := func() (n, distinct int) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := admin.QueryRow(ctx, "SELECT count(*), count(DISTINCT event_id) FROM events_e2e").Scan(&n, &distinct); err != nil {
			return -1, -1
		}
		return n, distinct
	}

	WaitFor(t, 3*time.Minute, "a quarter of the events in PostgreSQL", func() (bool, string) {
		n, _ := rows()
		return n >= total/4, fmt.Sprintf("%d rows", n)
	})
	pg.run(t, "pause")
	t.Log("PostgreSQL stopped")
	time.Sleep(20 * time.Second)
	retries := testutil.ToFloat64(p.Metrics.SinkRetries.WithLabelValues("e2e-pg"))
	pg.run(t, "resume")
	t.Log("PostgreSQL started again")
	if retries == 0 {
		t.Error("the postgres sink saw no failed write while PostgreSQL was stopped")
	}

	WaitFor(t, 5*time.Minute, "every event served and in every store", func() (bool, string) {
		st := sim.Stats()
		n, _ := rows()
		ev, _ := ReadFile(t, path)
		h := len(hook.distinct())
		ok := sim.Done() && st.Served == total && n == total && len(ev) == total && h == total
		status := fmt.Sprintf("served=%d postgres=%d file=%d webhook=%d", st.Served, n, len(ev), h)
		for _, m := range more {
			c := len(m.count())
			ok = ok && c == total
			status += fmt.Sprintf(" %s=%d", m.name, c)
		}
		return ok, status
	})
	time.Sleep(2 * time.Second) // let a stray duplicate show up before judging
	poller.Stop(t)
	norm.Stop(t)
	pgPart.Stop(t)
	filePart.Stop(t)
	hookPart.Stop(t)
	for _, m := range more {
		m.part.Stop(t)
	}

	// The file holds exactly the served set (by the IONOS @uuid each event carries).
	events, lines := ReadFile(t, path)
	served := sim.Served()
	fileIDs := map[string]bool{}
	for uid, e := range events {
		if lines[uid] != 1 {
			t.Errorf("event %s is in the file %d times", uid, lines[uid])
		}
		raw, _ := e.Raw["raw_data"].(string)
		var src struct {
			UUID string `json:"@uuid"`
		}
		if err := json.Unmarshal([]byte(raw), &src); err != nil || !served[src.UUID] {
			t.Errorf("event %s: not a served entry (%q, %v)", uid, src.UUID, err)
		}
		fileIDs[uid] = true
	}
	if len(served) != total || len(fileIDs) != total {
		t.Fatalf("served %d, file %d distinct events, want %d", len(served), len(fileIDs), total)
	}
	// PostgreSQL: the same ids, each exactly once.
	n, distinct := rows()
	if n != total || distinct != total {
		t.Fatalf("PostgreSQL holds %d rows, %d distinct ids; want %d each", n, distinct, total)
	}
	q, err := admin.Query(context.Background(), "SELECT event_id FROM events_e2e")
	if err != nil {
		t.Fatal(err)
	}
	for q.Next() {
		var id string
		if err := q.Scan(&id); err != nil {
			t.Fatal(err)
		}
		if !fileIDs[id] {
			t.Errorf("PostgreSQL holds %s, which is not in the served set", id)
		}
	}
	q.Close()
	// The webhook (at-least-once): every event, nothing else.
	for id := range hook.distinct() {
		if !fileIDs[id] {
			t.Errorf("the webhook received %s, which is not in the served set", id)
		}
	}
	// OpenSearch, Loki, syslog: every event (exactly once where the sink claims it), nothing else.
	names := []string{"e2e-pg", "e2e", "e2e-hook"}
	for _, m := range more {
		names = append(names, m.name)
		got := m.count()
		for id, c := range got {
			if !fileIDs[id] {
				t.Errorf("%s holds %s, which is not in the served set", m.name, id)
			}
			if m.exact && c != 1 {
				t.Errorf("%s holds %s %d times (the sink claims effectively-once)", m.name, id, c)
			}
		}
		if len(got) != total {
			t.Errorf("%s holds %d distinct events, want %d", m.name, len(got), total)
		}
	}
	for _, s := range names {
		if v := testutil.ToFloat64(p.Metrics.SinkEvents.WithLabelValues(s, "dlq")); v != 0 {
			t.Errorf("sink %s dead-lettered %v events", s, v)
		}
	}
	if v := testutil.ToFloat64(p.Metrics.SinkFatal.WithLabelValues("e2e-pg")); v != 0 {
		t.Errorf("postgres sink ended fatal")
	}
}
