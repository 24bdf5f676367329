package syslog

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/internal/plugintest"
	"github.com/auditstream/auditstream/sinks/projection/cef/ceftest"
	"github.com/auditstream/auditstream/sinks/projection/projectiontest"
	"github.com/auditstream/auditstream/sinks/sinktest"
)

func open(t *testing.T, yml string) *Sink {
	t.Helper()
	return plugintest.Start(t, Plugin, "test-syslog", yml, testkit.Logger(t)).(*Sink)
}

func write(t *testing.T, s sinks.Sink, batch []sinks.Event) []sinks.ItemResult {
	t.Helper()
	res, err := plugintest.Write(s, batch)
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	return res
}

// readOctetCounted reads RFC 6587 "LEN SP MSG" frames.
func readOctetCounted(r *bufio.Reader) (string, error) {
	l, err := r.ReadString(' ')
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(strings.TrimSuffix(l, " "))
	if err != nil {
		return "", err
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return string(b), err
}

// tcpReceiver accepts connections and sends every frame read to the returned channel.
func tcpReceiver(t *testing.T, lf bool) (string, <-chan string, func()) {
	t.Helper()
	msgs := make(chan string, 100)
	conns := make(chan net.Conn, 10)
	closeConns := func() {
		for {
			select {
			case c := <-conns:
				c.Close()
			default:
				return
			}
		}
	}
	t.Cleanup(closeConns) // after the listener is closed (cleanups run last first)
	addr := sinktest.ServeTCP(t, func(c net.Conn) {
		conns <- c
		go func() {
			r := bufio.NewReader(c)
			for {
				var m string
				var err error
				if lf {
					m, err = r.ReadString('\n')
					m = strings.TrimSuffix(m, "\n")
				} else {
					m, err = readOctetCounted(r)
				}
				if err != nil {
					c.Close() // as a receiver does at the end of the stream
					return
				}
				msgs <- m
			}
		}()
	})
	return addr, msgs, closeConns
}

func recv(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message received")
	}
	return ""
}

func TestMessageFormatOctetCounting(t *testing.T) {
	addr, msgs, _ := tcpReceiver(t, false)
	s := open(t, "address: "+addr+"\nhostname: host-1\n")
	names := []string{"api_create", "auth_logon", "escapes"}
	var batch []sinks.Event
	for _, n := range names {
		batch = append(batch, projectiontest.Event(n))
	}
	for i, r := range write(t, s, batch) {
		if r.Status != sinks.Written {
			t.Fatalf("event %d: %v %v", i, r.Status, r.Err)
		}
	}
	for i := range names {
		raw := recv(t, msgs)
		m, err := parse5424(raw)
		if err != nil {
			t.Fatalf("%v: %q", err, raw)
		}
		ev := batch[i]
		wantPri := 13*8 + 6
		if names[i] == "escapes" {
			wantPri = 13*8 + 4 // OCSF Medium → warning
		}
		if m.Pri != wantPri || m.Host != "host-1" || m.App != "auditstream" || m.ProcID != "-" || m.MsgID != strconv.Itoa(ev.ClassUID) {
			t.Errorf("header of %s: %+v", names[i], m)
		}
		if m.Timestamp != ev.Time.UTC().Format("2006-01-02T15:04:05.000Z") {
			t.Errorf("timestamp %q, want the event time %s", m.Timestamp, ev.Time)
		}
		if m.SDID != "auditstream@32473" || m.SD["event_id"] != ev.ID || m.SD["provider"] != ev.Provider ||
			m.SD["tenant"] != ev.Tenant || m.SD["class_uid"] != strconv.Itoa(ev.ClassUID) {
			t.Errorf("structured data of %s: %s %v", names[i], m.SDID, m.SD)
		}
		c, err := ceftest.Parse(m.Msg)
		if err != nil {
			t.Fatalf("CEF of %s: %v: %q", names[i], err, m.Msg)
		}
		if c.Ext["externalId"] != ev.ID {
			t.Errorf("externalId %q", c.Ext["externalId"])
		}
	}
}

func TestLFFramingOCSF(t *testing.T) {
	addr, msgs, _ := tcpReceiver(t, true)
	s := open(t, "address: "+addr+"\nframing: lf\nformat: ocsf\n")
	ev := projectiontest.Event("api_denied")
	write(t, s, []sinks.Event{ev})
	m, err := parse5424(recv(t, msgs))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Metadata struct{ UID string } `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(m.Msg), &doc); err != nil || doc.Metadata.UID != ev.ID {
		t.Fatalf("body is not the OCSF event: %v %q", err, m.Msg)
	}
}

func TestUDPECS(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s := open(t, "address: "+pc.LocalAddr().String()+"\ntransport: udp\nformat: ecs\n")
	ev := projectiontest.Event("auth_logon")
	write(t, s, []sinks.Event{ev})
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65536)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	m, err := parse5424(string(buf[:n]))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Event struct{ ID, Dataset string } `json:"event"`
	}
	if err := json.Unmarshal([]byte(m.Msg), &doc); err != nil || doc.Event.ID != ev.ID || doc.Event.Dataset != "auditstream.ecgrid" {
		t.Fatalf("body is not the ECS document: %v %q", err, m.Msg)
	}
}

// A receiver that closed the connection between batches must not make the next batch
// vanish into a dead socket: the sink notices and reconnects.
func TestReconnectsAfterReceiverClosed(t *testing.T) {
	addr, msgs, closeConns := tcpReceiver(t, false)
	s := open(t, "address: "+addr+"\n")
	a, b := projectiontest.Event("api_create"), projectiontest.Event("api_denied")
	write(t, s, []sinks.Event{a})
	recv(t, msgs)
	closeConns()
	// Wait until the sink's connection sees the close, as a later batch would.
	for deadline := time.Now().Add(10 * time.Second); ; {
		s.mu.Lock()
		dead := !alive(s.conn)
		s.mu.Unlock()
		if dead {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("closed connection still looks alive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	write(t, s, []sinks.Event{b})
	m, err := parse5424(recv(t, msgs))
	if err != nil || m.SD["event_id"] != b.ID {
		t.Fatalf("second batch: %v %+v", err, m)
	}
}

func TestTooLargeAndBadEventsAreRejected(t *testing.T) {
	addr, msgs, _ := tcpReceiver(t, false)
	s := open(t, "address: "+addr+"\nmax_message_bytes: 600\n")
	small := projectiontest.Event("auth_logon")
	big := projectiontest.Event("api_create")
	big.ID = strings.Repeat("x", 700)
	bad := projectiontest.Event("api_denied")
	bad.Value = []byte("{not json")
	res := write(t, s, []sinks.Event{big, small, bad})
	if res[0].Status != sinks.Reject || res[0].Reason != "too_large" {
		t.Errorf("big: %+v", res[0])
	}
	if res[1].Status != sinks.Written {
		t.Errorf("small: %+v", res[1])
	}
	if res[2].Status != sinks.Reject || res[2].Reason != "projection" {
		t.Errorf("bad: %+v", res[2])
	}
	m, err := parse5424(recv(t, msgs))
	if err != nil || m.SD["event_id"] != small.ID {
		t.Fatalf("%v %+v", err, m)
	}
}

func TestUnreachableIsRetryable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := open(t, "address: "+addr+"\n")
	err = s.Write(context.Background(), []sinks.Event{projectiontest.Event("api_create")}, make([]sinks.ItemResult, 1))
	if err == nil || sinks.IsFatal(err) {
		t.Fatalf("want a retryable error, got %v", err)
	}
}

func TestUntrustedCertificateIsFatal(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	s := open(t, "address: "+srv.Listener.Addr().String()+"\ntransport: tls\n")
	err := s.Write(context.Background(), []sinks.Event{projectiontest.Event("api_create")}, make([]sinks.ItemResult, 1))
	if !sinks.IsFatal(err) {
		t.Fatalf("want a fatal error, got %v", err)
	}
}

func TestSettings(t *testing.T) {
	plugintest.CheckSettings(t, Plugin, map[string]string{
		"address: a:1":                  "",
		"address: a":                    "address",
		"address: a:1\ntransport: sctp": "transport",
		"address: a:1\nframing: nul":    "framing",
		"address: a:1\nformat: xml":     "format",
		"address: a:1\nfacility: 24":    "facility",
		"address: a:1\ntransport: udp\nmax_message_bytes: 70000": "max_message_bytes",
		"address: a:1\ntls: {ca_file: x}":                        "tls",
		"address: a:1\ntransport: tls\ntls: {cert_file: x}":      "tls",
		"address: a:1\necs_ocsf_field: \"a b\"":                  "ecs_ocsf_field",
		"address: a:1\nbogus: 1":                                 "bogus",
	})
}

// Syslog acknowledges nothing: on every transport the sink declares best-effort.
func TestGuaranteeIsBestEffort(t *testing.T) {
	for _, tr := range []string{"tcp", "tls", "udp"} {
		s := open(t, "address: 127.0.0.1:1\ntransport: "+tr+"\n")
		if g := s.Guarantee(); g != sinks.BestEffort {
			t.Errorf("%s: guarantee %s, want best-effort", tr, g)
		}
	}
}

// peerClosed tells an open connection (idle, or with bytes waiting) from one the peer
// closed, without waiting and without consuming anything.
func TestPeerClosedPeeks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	closed, pending, ok := peerClosed(c)
	if !ok {
		t.Skip("no socket peek on this platform")
	}
	if closed || pending {
		t.Fatalf("idle open connection: closed=%v pending=%v", closed, pending)
	}
	_, _ = peer.Write([]byte("x"))
	waitFor(t, "the byte to arrive", func() bool { _, p, _ := peerClosed(c); return p })
	if closed, _, _ := peerClosed(c); closed {
		t.Fatal("a connection with a byte waiting looks closed")
	}
	var b [1]byte
	if n, _ := c.Read(b[:]); n != 1 || b[0] != 'x' {
		t.Fatal("the peek consumed the byte")
	}
	peer.Close()
	waitFor(t, "the close to arrive", func() bool { cl, _, _ := peerClosed(c); return cl })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
