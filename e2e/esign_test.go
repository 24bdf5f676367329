package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/cmd/auditstream/app"
	"github.com/auditstream/auditstream/internal/bus"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers/simkit/logsim"
	"github.com/auditstream/auditstream/schemas"
)

var esignProviders = []string{"constellation1", "conga", "signinghub"}

// The Must show of the full-log providers, on real Apache Kafka: the three e-signature
// simulators (140 packages/sessions each, 65 entries each: 420 entities and 27,300
// entries, with exact duplicates, 429/5xx/truncated/slow answers, expiring tokens, and
// SigningHub logs cleared on completion) polled by two `auditstream poll` processes built
// from the repository that share the targets through the pollers' consumer group. One of
// them is killed with SIGKILL mid-run; the other takes its targets over and finishes.
// Every entry the simulators served must be on audit.events.v1 (and on the raw topics),
// counted as distinct event ids against the served set, and nothing else — with one
// exception the test accounts for precisely: SigningHub entries served to A in the
// instant before the kill, on A's partitions, of a log SigningHub then cleared before B
// took the package over; no one can read those again (at most A's in-flight logs).
func TestIntegrationESignSharedPollersSurviveSIGKILL(t *testing.T) {
	brokers := testkit.RealKafka(t)
	bin := buildBinary(t)
	p := New(t, brokers, esignProviders...)
	targetsTopic := "e2e." + p.suffix + ".targets"
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	if err := p.Bus.EnsureTopics(ctx, bus.TopicSpec{Name: targetsTopic, Partitions: 6, ReplicationFactor: 1,
		Configs: map[string]string{"cleanup.policy": "compact"}}); err != nil {
		t.Fatal(err)
	}

	// The simulators run in the test process (their control endpoints give the served set).
	const history = `seed: 20261122
      packages: 140
      entries_per_package: 65
      after_complete: 4
      concurrent: 36
      rate: 160
      backfill: 1500
      duplicate_fraction: 0.12
      token_ttl: 20s
      faults: {too_many_requests: 0.03, server_error: 0.03, unavailable: 0.02, truncated: 0.03, slow: 0.005, slow_delay: 300ms, retry_after: 1}`
	simDoc := `admin: {listen: "off"}
simulators:
  - provider: constellation1
    listen: 127.0.0.1:0
    settings:
      api_key: e2e-api-key
      username: agent@example.com
      ` + history + `
  - provider: conga
    listen: 127.0.0.1:0
    settings:
      client_id: e2e-client
      client_secret: e2e-secret
      ` + history + `
  - provider: signinghub
    listen: 127.0.0.1:0
    settings:
      client_id: e2e-app
      client_secret: e2e-secret
      username: admin@example.com
      password: e2e-password
      clear_log_on_complete: true
      ` + history + "\n"
	simCfg, err := config.Parse(strings.NewReader(simDoc))
	if err != nil {
		t.Fatal(err)
	}
	sims, err := app.Start(ctx, simCfg, app.Roles{Sims: true}, p.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer sims.ShutdownWithin(10 * time.Second)
	urls := sims.SimURLs

	dir := t.TempDir()
	doc := fmt.Sprintf(`log: {level: info}
admin: {listen: "127.0.0.1:0"}
kafka:
  brokers: [%s]
  topics: {raw_prefix: %q, events: %q, dlq: %q, checkpoints: %q, targets: %q, partitions: 6}
targets: {group: "e2e-pollers-%s", session_timeout: 6s, rebalance_timeout: 20s, refresh: 1s}
pollers:
  - name: c1
    provider: constellation1
    schedule: "@every 1s"
    discovery_schedule: "@every 2s"
    parallel: 6
    http: {timeout: 10s, max_retries: 8, max_retry_after: 2s}
    settings: {base_url: %q, api_key: e2e-api-key, username: agent@example.com, settle: 2s}
  - name: conga
    provider: conga
    schedule: "@every 1s"
    discovery_schedule: "@every 2s"
    parallel: 6
    http: {timeout: 10s, max_retries: 8, max_retry_after: 2s}
    settings: {base_url: %q, token_url: %q, client_id: e2e-client, client_secret: e2e-secret, settle: 2s}
  - name: shub
    provider: signinghub
    schedule: "@every 1s"
    discovery_schedule: "@every 2s"
    parallel: 6
    http: {timeout: 10s, max_retries: 8, max_retry_after: 2s}
    settings: {base_url: %q, client_id: e2e-app, client_secret: e2e-secret, username: admin@example.com, password: e2e-password, settle: 2s}
`, strings.Join(brokers, ","), p.RawPrefix, p.Events, p.DLQ, p.Checkpoints, targetsTopic, p.suffix,
		urls["constellation1"], urls["conga"], urls["conga"]+"/api/v1/auth/connect/token", urls["signinghub"])
	pollCfg := testkit.WriteFile(t, dir, "poll.yaml", doc)

	p.StartNormalizer(esignProviders...)
	events := collectIDs(t, p, p.Events, func(m kafka.Message) string { return bus.Header(m, "ce_id") })
	var rawTopics []string
	for _, pr := range esignProviders {
		rawTopics = append(rawTopics, p.RawPrefix+pr)
	}
	raws := collectIDs(t, p, "", func(m kafka.Message) string {
		var env struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(m.Value, &env)
		return env.ID
	}, rawTopics...)

	a := startPoll(t, bin, pollCfg, filepath.Join(dir, "a.log"))
	b := startPoll(t, bin, pollCfg, filepath.Join(dir, "b.log"))

	// Both processes own targets, events flow: kill A mid-run.
	WaitFor(t, 2*time.Minute, "both poll processes to own partitions and events to flow", func() (bool, string) {
		pa, pb := a.lastOwned(), b.lastOwned()
		n := raws.count()
		return len(pa) > 0 && len(pb) > 0 && len(pa)+len(pb) == 6 && n >= 6000, fmt.Sprintf("A owns %v, B owns %v, %d raw records", pa, pb, n)
	})
	owned := a.lastOwned()
	if err := a.cmd.Process.Kill(); err != nil { // SIGKILL: no shutdown, no LeaveGroup
		t.Fatal(err)
	}
	killedAt := time.Now()
	_ = a.cmd.Wait()
	// What SigningHub served to A: A may have received an answer and died before
	// publishing it; if SigningHub then clears that log (on completion) before B takes the
	// package over, those entries are gone for everyone. Such entries are the only ones
	// allowed to be missing, and only on the partitions A owned. The simulator records
	// each served entry with the arrival time of its request, so A's requests still being
	// answered at the kill count too (an answer to a client already gone is not served);
	// B asks for packages of A's partitions only once it owns them, after the kill.
	servedToA := func() map[string]bool {
		var sv struct {
			Served []string `json:"served"`
		}
		getJSON(t, simBase(t, urls["signinghub"])+"/_sim/served?arrived_before="+url.QueryEscape(killedAt.Format(time.RFC3339Nano)), &sv)
		out := make(map[string]bool, len(sv.Served))
		for _, k := range sv.Served {
			out[k] = true
		}
		return out
	}
	t.Logf("killed poll process A (owning partitions %v) with %d raw records published", owned, raws.count())

	// B takes every partition over by itself, after the session timeout.
	WaitFor(t, time.Minute, "B to own every partition", func() (bool, string) {
		pb := b.lastOwned()
		return len(pb) == 6, fmt.Sprintf("B owns %v", pb)
	})
	t.Logf("B owns every partition %s after the kill", time.Since(killedAt).Round(100*time.Millisecond))

	checkEvents := true
	for _, pr := range esignProviders {
		if _, ok := app.Mappers()[pr]; !ok {
			checkEvents = false
			t.Logf("the normalizer has no mapper for %s yet: counting on the raw topics only", pr)
		}
	}
	ownedByA := map[int]bool{}
	for _, part := range owned {
		var n int
		if _, err := fmt.Sscan(part, &n); err != nil {
			t.Fatal(err)
		}
		ownedByA[n] = true
	}
	// lostWithA: a SigningHub entry served to A, of a package on A's partitions.
	lostWithA := func(e served, toA map[string]bool) bool {
		if e.provider != "signinghub" || !toA[e.key] {
			return false
		}
		parts := []int{0, 1, 2, 3, 4, 5}
		return ownedByA[(&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: []byte(schemas.Key(e.provider, e.tenant, e.entity))}, parts...)]
	}
	// check compares the served set with the topics: missing entries, and how many of
	// them may have been lost with A.
	check := func(expected map[string]served) (missing, withA int, status []string) {
		toA := servedToA()
		for id, e := range expected {
			if raws.has(id) && (!checkEvents || events.has(schemas.EventID(id))) {
				continue
			}
			if lostWithA(e, toA) {
				withA++
				continue
			}
			missing++
			if missing <= 20 {
				status = append(status, "missing "+e.provider+"/"+e.key)
			}
		}
		return missing, withA, status
	}

	// Until the histories are done and B has published everything served.
	WaitFor(t, 3*time.Minute, "every served entry on the topics", func() (bool, string) {
		var status []string
		done := true
		for _, pr := range esignProviders {
			st, _ := simState(t, urls[pr])
			// Without log clearing, every entry of the history is served in the end; and
			// no entity's log changed after its last whole answer (Pending 0), so what B
			// fetches from now on repeats served entries: the served set is final.
			done = done && st.Done && st.Pending == 0 && (pr == "signinghub" || st.Served == st.Total)
			status = append(status, fmt.Sprintf("%s: done=%v served=%d/%d pending=%d", pr, st.Done, st.Served, st.Total, st.Pending))
		}
		missing, withA, more := check(servedSet(t, urls))
		status = append(status, fmt.Sprintf("missing %d (+%d SigningHub entries served to A before the kill)", missing, withA))
		return done && missing == 0, strings.Join(append(status, more...), "; ")
	})

	// B drains; then the served set is final and the topics must hold exactly it.
	b.stop(t)
	expected := servedSet(t, urls)
	var withA int
	WaitFor(t, time.Minute, "the collectors to read the served set", func() (bool, string) {
		missing, wa, more := check(expected)
		withA = wa
		return missing == 0, fmt.Sprintf("%d missing: %s", missing, strings.Join(more, "; "))
	})
	// At most what A could have held in flight: `parallel` whole logs.
	if withA > 6*65 {
		t.Fatalf("%d SigningHub entries served before the kill are missing: more than A could hold in flight", withA)
	}
	t.Logf("%d SigningHub entries were served to A right before the kill and erased by SigningHub before B could read them", withA)
	total := 0
	for _, pr := range esignProviders {
		st, _ := simState(t, urls[pr])
		total += st.Total
		if pr != "signinghub" && st.Served != st.Total {
			// Without log clearing every entry of the history must have been served.
			t.Errorf("%s: %d of %d entries served (an entry never fetched)", pr, st.Served, st.Total)
		}
		if st.Duplicates == 0 || st.Requests["fault_429"] == 0 || st.Requests["fault_500"] == 0 || st.Requests["fault_truncated"] == 0 {
			t.Errorf("%s: the run lacked duplicates or faults: %+v", pr, st)
		}
		t.Logf("%s: %d entities, %d entries (%d exact duplicates), %d served, requests %v", pr, st.Listed, st.Total, st.Duplicates, st.Served, st.Requests)
	}
	// SigningHub clears a log on completion: entries that arrived after its last fetch are
	// gone before anyone could read them (never served, so not expected).
	if total < 20000 || len(expected) < 20000 {
		t.Fatalf("too small a run: %d entries, %d served", total, len(expected))
	}
	want := map[string]bool{}
	for id := range expected {
		want[id] = true
	}
	if extra := raws.extra(want); extra > 0 {
		t.Fatalf("%d raw record ids on the raw topics were never served", extra)
	}
	if checkEvents {
		wantEv := map[string]bool{}
		for id := range expected {
			wantEv[schemas.EventID(id)] = true
		}
		if extra := events.extra(wantEv); extra > 0 {
			t.Fatalf("%d event ids on %s were never served", extra, p.Events)
		}
		t.Logf("%d distinct event ids on %s = the %d served entries less the %d erased ones; %d events in all (duplicates of an id: re-publication after the kill)",
			events.count(), p.Events, len(expected), withA, events.total())
	}
	t.Logf("%d distinct record ids on the raw topics (%d records)", raws.count(), raws.total())
}

// buildBinary builds cmd/auditstream for the test.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "auditstream")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/auditstream")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type pollProc struct {
	cmd     *exec.Cmd
	logPath string
}

func startPoll(t *testing.T, bin, cfg, logPath string) *pollProc {
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "poll", "--config", cfg)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pp := &pollProc{cmd: cmd, logPath: logPath}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			lines := strings.Split(string(b), "\n")
			t.Logf("last lines of %s:\n%s", filepath.Base(logPath), strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	})
	return pp
}

var ownedRE = regexp.MustCompile(`msg="polling the targets of these partitions".* partitions="?\[([0-9 ]*)\]`)
var endedRE = regexp.MustCompile(`msg="generation ended; polls stopped"`)

// lastOwned is the partitions of the process's current generation, from its log.
func (pp *pollProc) lastOwned() []string {
	f, err := os.Open(pp.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var owned []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := ownedRE.FindStringSubmatch(line); m != nil {
			owned = strings.Fields(m[1])
		} else if endedRE.MatchString(line) {
			owned = nil
		}
	}
	return owned
}

// stop ends the process with SIGTERM (a clean drain) and checks its exit.
func (pp *pollProc) stop(t *testing.T) {
	t.Helper()
	_ = pp.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- pp.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("poll process exited with %v", err)
		}
	case <-time.After(40 * time.Second):
		_ = pp.cmd.Process.Kill()
		t.Error("poll process did not drain within 40s")
	}
}

// served is one entry a simulator served.
type served struct{ provider, key, tenant, entity string }

// servedSet is every entry the simulators served, by raw record id.
func servedSet(t *testing.T, urls map[string]string) map[string]served {
	t.Helper()
	out := map[string]served{}
	for _, pr := range esignProviders {
		_, keys := simState(t, urls[pr])
		for k := range keys {
			tenant, entity, fp, occ, err := logsim.ParseServedKey(k)
			if err != nil {
				t.Fatal(err)
			}
			out[schemas.RecordID(pr, tenant, entity, fp, occ)] = served{provider: pr, key: k, tenant: tenant, entity: entity}
		}
	}
	return out
}

// simState reads a simulator's control endpoints (at the root of its server, whatever
// the prefix of its API).
func simState(t *testing.T, apiURL string) (logsim.Stats, map[string]bool) {
	t.Helper()
	base := simBase(t, apiURL)
	var st logsim.Stats
	getJSON(t, base+"/_sim/stats", &st)
	var served struct {
		Served []string `json:"served"`
	}
	getJSON(t, base+"/_sim/served", &served)
	keys := make(map[string]bool, len(served.Served))
	for _, k := range served.Served {
		keys[k] = true
	}
	return st, keys
}

// simBase is the root of a simulator's server, whatever the prefix of its API.
func simBase(t *testing.T, apiURL string) string {
	t.Helper()
	u, err := url.Parse(apiURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Scheme + "://" + u.Host
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// idSet collects the ids of every record of some topics, read from the start.
type idSet struct {
	mu  sync.Mutex
	ids map[string]int
	n   int
}

func (s *idSet) has(id string) bool { s.mu.Lock(); defer s.mu.Unlock(); return s.ids[id] > 0 }
func (s *idSet) count() int         { s.mu.Lock(); defer s.mu.Unlock(); return len(s.ids) }
func (s *idSet) total() int         { s.mu.Lock(); defer s.mu.Unlock(); return s.n }
func (s *idSet) extra(want map[string]bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id := range s.ids {
		if !want[id] {
			n++
		}
	}
	return n
}

func collectIDs(t *testing.T, p *Pipeline, topic string, id func(kafka.Message) string, more ...string) *idSet {
	t.Helper()
	topics := append([]string{}, more...)
	if topic != "" {
		topics = append(topics, topic)
	}
	s := &idSet{ids: map[string]int{}}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: p.Bus.Brokers(), GroupID: "e2e-count-" + testkit.Unique(), GroupTopics: topics,
		Dialer: p.Bus.Dialer(), StartOffset: kafka.FirstOffset, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 250 * time.Millisecond})
	p.start("id collector "+strings.Join(topics, ","), func(ctx context.Context) {
		defer r.Close()
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				return
			}
			k := id(m)
			s.mu.Lock()
			s.ids[k]++
			s.n++
			s.mu.Unlock()
		}
	})
	return s
}
