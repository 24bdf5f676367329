package syslog

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/projection/cef/ceftest"
	"github.com/auditstream/auditstream/sinks/projection/projectiontest"
)

// rsyslogEnv returns the variables scripts/services/rsyslog.sh prints.
func rsyslogEnv(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, k := range []string{"TCP", "TLS", "UDP", "OUT", "CA"} {
		v := os.Getenv("AUDITSTREAM_RSYSLOG_" + k)
		if v == "" {
			testkit.Require(t, "a real rsyslogd (AUDITSTREAM_RSYSLOG_"+k+" unset; run `eval \"$(scripts/services/rsyslog.sh start)\"`)")
		}
		env[k] = v
	}
	return env
}

// TestIntegrationRsyslog sends CEF over TCP (octet counting) and TLS and ECS over UDP to
// a real rsyslogd, then reads what rsyslog stored and parses it back: every event arrives,
// with its id in the structured data and in the CEF externalId, its values unescaped
// intact.
func TestIntegrationRsyslog(t *testing.T) {
	env := rsyslogEnv(t)
	run := testkit.Unique()
	cases := []struct{ name, yml string }{
		{"tcp", "address: " + env["TCP"] + "\ntransport: tcp\nformat: cef\n"},
		{"tcp-lf", "address: " + env["TCP"] + "\ntransport: tcp\nframing: lf\nformat: cef\n"},
		{"tls", "address: " + env["TLS"] + "\ntransport: tls\nformat: cef\ntls: {ca_file: " + env["CA"] + "}\n"},
		{"udp", "address: " + env["UDP"] + "\ntransport: udp\nformat: ecs\n"},
	}
	want := map[string]sinks.Event{} // event id → event
	kind := map[string]string{}
	for _, tc := range cases {
		s := open(t, tc.yml)
		var batch []sinks.Event
		for i, name := range projectiontest.Names {
			ev := projectiontest.Event(name)
			ev.ID = run + "-" + tc.name + "-" + name
			if tc.name == "udp" && i > 1 {
				break
			}
			batch = append(batch, ev)
			want[ev.ID] = ev
			kind[ev.ID] = tc.name
		}
		for i, r := range write(t, s, batch) {
			if r.Status != sinks.Written {
				t.Fatalf("%s: event %d: %+v", tc.name, i, r)
			}
		}
	}
	got := map[string]message{}
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < len(want) {
		if time.Now().After(deadline) {
			t.Fatalf("rsyslog stored %d of %d events after 30s (file %s)", len(got), len(want), env["OUT"])
		}
		time.Sleep(100 * time.Millisecond)
		f, err := os.Open(env["OUT"])
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if !strings.Contains(sc.Text(), run) {
				continue
			}
			m, err := parse5424(sc.Text())
			if err != nil {
				t.Fatalf("rsyslog stored a line that is not RFC 5424: %v: %q", err, sc.Text())
			}
			if _, dup := got[m.SD["event_id"]]; dup {
				t.Fatalf("event %s stored twice", m.SD["event_id"])
			}
			got[m.SD["event_id"]] = m
		}
		f.Close()
		if len(got) < len(want) {
			got = map[string]message{}
		}
	}
	for id, ev := range want {
		m, ok := got[id]
		if !ok {
			t.Errorf("%s missing", id)
			continue
		}
		if kind[id] == "udp" {
			if !strings.Contains(m.Msg, `"id":"`+id+`"`) {
				t.Errorf("%s: ECS body without event.id: %q", id, m.Msg)
			}
			continue
		}
		r, err := ceftest.Parse(m.Msg)
		if err != nil {
			t.Errorf("%s: rsyslog's copy is not CEF: %v: %q", id, err, m.Msg)
			continue
		}
		if r.Ext["externalId"] != id || r.Header[2] != ev.Provider {
			t.Errorf("%s: CEF externalId %q product %q", id, r.Ext["externalId"], r.Header[2])
		}
		if strings.HasSuffix(id, "-escapes") {
			if r.Ext["msg"] != "a=b | c\\d\nsecond line\r" || r.Ext["suser"] != "o'brien=admin" || r.Header[5] != `API Activity: Delete | purge\all` {
				t.Errorf("%s: escaped values did not survive rsyslog: %+v", id, r)
			}
		}
	}
}
