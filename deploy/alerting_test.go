// Tests of the alerting path under deploy/: the generated Grafana dashboard's shape, and
// an alert of the real rules going from a real Prometheus through a real Alertmanager,
// with the project's routing tree, to a webhook receiver.
package deploy_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/testkit"
)

// startDaemon runs bin with args until the test ends (SIGINT, then SIGKILL after 10 s),
// waits until http://addr/-/ready answers 200, and logs its output when the test failed.
func startDaemon(t *testing.T, name, addr, bin string, args ...string) {
	t.Helper()
	var out testkit.LockedBuffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	waitFor(t, name+" ready", 30*time.Second, func() (bool, string) {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
}

// amTool returns the path of a binary of the Debian package prometheus-alertmanager.
func amTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		testkit.Require(t, name+" (Debian package prometheus-alertmanager)")
	}
	return p
}

// The dashboard any Grafana can import: a data source variable that every panel and
// every query uses (no data source uid in the file), the label variables, and a panel
// for every metric an alert of alerts.yml uses, plus the log shrinks.
func TestDashboardImportable(t *testing.T) {
	raw, err := os.ReadFile("grafana/auditstream.json")
	if err != nil {
		t.Fatal(err)
	}
	type ref struct{ Type, UID string }
	var d struct {
		Templating struct {
			List []struct{ Type, Name, Query string }
		}
		Panels []struct {
			Type, Title string
			Datasource  *ref
			Targets     []struct {
				Expr       string
				Datasource *ref
			}
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" {
		t.Errorf("no data source variable $datasource: %v", vars)
	}
	for _, name := range []string{"instance", "provider", "poller", "sink"} {
		if vars[name] != "query" {
			t.Errorf("no query variable $%s: %v", name, vars)
		}
	}
	var exprs strings.Builder
	rows := 0
	for _, p := range d.Panels {
		if p.Type == "row" {
			rows++
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: data source %+v, want uid ${datasource}", p.Title, p.Datasource)
		}
		for _, q := range p.Targets {
			if q.Datasource == nil || q.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: query data source %+v, want uid ${datasource}", p.Title, q.Datasource)
			}
			exprs.WriteString(q.Expr + "\n")
		}
	}
	if rows < 4 {
		t.Errorf("%d rows, want one per stage (overview, pollers, normalizer, sinks)", rows)
	}
	rules, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`\bauditstream_[a-z_]+[a-z]`).FindAllString(string(rules), -1)
	want = append(want, "auditstream_log_shrinks_total", "auditstream_source_up", "auditstream_targets_unowned", "auditstream_poll_gaps_total")
	for _, m := range want {
		if !strings.Contains(exprs.String(), m) {
			t.Errorf("no panel queries %s", m)
		}
	}
}

// notification is the part of Alertmanager's webhook payload the test reads.
type notification struct {
	path     string
	Receiver string `json:"receiver"`
	Status   string `json:"status"`
	Alerts   []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// webhookReceiver records every notification POSTed to it.
type webhookReceiver struct {
	mu   sync.Mutex
	got  []notification
	errs []string
}

func (w *webhookReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var n notification
	err := json.NewDecoder(r.Body).Decode(&n)
	n.path = r.URL.Path
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.errs = append(w.errs, err.Error())
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	w.got = append(w.got, n)
}

// find returns a notification of receiver at path with a firing alert alertname for
// provider, and a summary of what arrived.
func (w *webhookReceiver) find(path, receiver, alertname, provider string) (bool, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var seen []string
	for _, n := range w.got {
		for _, a := range n.Alerts {
			seen = append(seen, fmt.Sprintf("%s %s %s %s/%s", n.path, n.Receiver, a.Status, a.Labels["alertname"], a.Labels["provider"]))
			if n.path == path && n.Receiver == receiver && a.Status == "firing" &&
				a.Labels["alertname"] == alertname && a.Labels["provider"] == provider {
				return true, ""
			}
		}
	}
	return false, fmt.Sprintf("received %v, bad payloads %v", seen, w.errs)
}

// replaceAll replaces every match of re in s, failing the test when there is none.
func replaceAll(t *testing.T, s, re, with string) string {
	t.Helper()
	r := regexp.MustCompile(re)
	if !r.MatchString(s) {
		t.Fatalf("no %s in the configuration", re)
	}
	return r.ReplaceAllString(s, with)
}

// startAlertmanager runs the Debian Alertmanager with deploy/alertmanager/alertmanager.yml,
// its webhook URLs pointed at webhookURL and its group waits at 1 s, and returns its address.
func startAlertmanager(t *testing.T, webhookURL string) string {
	t.Helper()
	bin := amTool(t, "prometheus-alertmanager")
	raw, err := os.ReadFile("alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := replaceAll(t, string(raw), `http://alert-webhook:8080`, webhookURL)
	cfg = replaceAll(t, cfg, `group_wait: \S+`, "group_wait: 1s")
	dir := t.TempDir()
	path := testkit.WriteFile(t, dir, "alertmanager.yml", cfg)
	if out, err := exec.Command(amTool(t, "amtool"), "check-config", path).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
	addr := freePort(t)
	startDaemon(t, "alertmanager", addr, bin, "--config.file="+path, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	return addr
}

// alertingSection is the alerting section of deploy/prometheus/prometheus.yml, its
// Alertmanager target replaced by addr.
func alertingSection(t *testing.T, addr string) string {
	t.Helper()
	raw, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	section := regexp.MustCompile(`(?m)^alerting:\n(?:[ #].*\n)*`).FindString(string(raw))
	return replaceAll(t, section, `alertmanager:9093`, addr)
}

// The Must-show: a source fails (its simulator stops) under a real Prometheus that
// evaluates the project's rules and sends alerts as deploy/prometheus/prometheus.yml
// says, to a real Alertmanager with the project's routing tree, which delivers the
// critical AuditstreamSourceDown for ionos to the critical webhook receiver. The test
// copy of the rules sets every `for:` to 2 s; the Alertmanager copy waits 1 s before a
// group's first notification.
func TestIntegrationAlertDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	tool(t, "prometheus")
	tool(t, "promtool")
	amTool(t, "prometheus-alertmanager")
	amTool(t, "amtool")

	hook := &webhookReceiver{}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	am := startAlertmanager(t, srv.URL)

	p := startPipeline(t)
	rules, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	short := testkit.WriteFile(t, t.TempDir(), "alerts.yml", replaceAll(t, string(rules), `(?m)^(\s+for: )\S+$`, "${1}2s"))
	runTool(t, nil, "promtool", "check", "rules", short)
	prom := startPrometheus(t, p.app.AdminAddr(), short, alertingSection(t, am))

	// The source works: Prometheus sees ionos up, and no alert says otherwise.
	waitFor(t, "ionos up through the Prometheus API", 60*time.Second, func() (bool, string) {
		r, err := prom.query(`auditstream_source_up{provider="ionos"} == 1`)
		if err != nil {
			return false, err.Error()
		}
		return len(r) == 1, fmt.Sprint(r)
	})
	const alert = `ALERTS{alertname="AuditstreamSourceDown",provider="ionos"}`
	if r, err := prom.query(alert); err != nil || len(r) != 0 {
		t.Fatalf("source down alert before the source failed: %v %v", r, err)
	}

	// The source fails: its simulator stops, every poll of ionos fails.
	shutdown(p.sims)
	p.sims = nil
	waitFor(t, "AuditstreamSourceDown for ionos delivered to the critical webhook", 120*time.Second, func() (bool, string) {
		ok, got := hook.find("/critical", "auditstream-critical", "AuditstreamSourceDown", "ionos")
		if !ok {
			r, _ := prom.query(alert)
			got += fmt.Sprint("; ALERTS ", r)
		}
		return ok, got
	})
	_, got := hook.find("", "", "", "")
	t.Logf("delivered: %s", got)
}

// The e-mail, Slack and PagerDuty examples of docs/operations.md ("Routing alerts") are
// valid Alertmanager configuration (each with a route to its receiver).
func TestIntegrationAlertRoutingExamples(t *testing.T) {
	amtool := amTool(t, "amtool")
	raw, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(raw), "\n## Routing alerts\n")
	section, _, _ = strings.Cut(section, "\n## ")
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(section, -1)
	if len(blocks) != 3 {
		t.Fatalf("%d yaml examples under Routing alerts, want e-mail, Slack and PagerDuty", len(blocks))
	}
	dir := t.TempDir()
	for i, b := range blocks {
		name := regexp.MustCompile(`- name: (\S+)`).FindStringSubmatch(b[1])
		if name == nil {
			t.Fatalf("example %d has no receiver:\n%s", i, b[1])
		}
		path := testkit.WriteFile(t, dir, fmt.Sprintf("example%d.yml", i), b[1]+"route:\n  receiver: "+name[1]+"\n")
		if out, err := exec.Command(amtool, "check-config", path).CombinedOutput(); err != nil {
			t.Errorf("example %d: amtool check-config: %v\n%s\n%s", i, err, out, b[1])
		}
	}
}
