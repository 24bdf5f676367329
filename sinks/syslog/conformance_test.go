package syslog

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/internal/plugintest"
	"github.com/auditstream/auditstream/sinks/sinktest"
)

// tcpProxy forwards connections to the real rsyslog; while "down" it closes every open
// connection and refuses new ones (its listener is closed), as a stopped receiver does.
type tcpProxy struct {
	addr, to string
	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]bool
	wg       sync.WaitGroup
}

func startProxy(t *testing.T, to string) *tcpProxy {
	p := &tcpProxy{to: to, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() { p.down(); p.wg.Wait() })
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.to)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); _, _ = io.Copy(up, c); up.Close() }()
			go func() { defer p.wg.Done(); _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *tcpProxy) up(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy cannot listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// countRsyslog counts the events rsyslog stored, by the event id of their structured data.
func countRsyslog(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), "auditstream@32473") {
			continue
		}
		if m, err := parse5424(sc.Text()); err == nil {
			out[m.SD["event_id"]]++
		}
	}
	return out
}

// TestIntegrationRsyslogConformance runs the conformance suite against the real rsyslog
// (TCP, octet counting, CEF), through a proxy that can take the receiver down.
func TestIntegrationRsyslogConformance(t *testing.T) {
	env := rsyslogEnv(t)
	p := startProxy(t, env["TCP"])
	yml := fmt.Sprintf("address: %s\nformat: cef\nmax_message_bytes: 8192\n", p.addr)
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T, log *slog.Logger) sinks.Sink {
			return plugintest.Open(t, Plugin, "conformance", yml, log)
		},
		Count: func(t *testing.T, ids []string) map[string]int { return countRsyslog(t, env["OUT"]) },
		Fault: func(t *testing.T, f sinktest.Fault) func() {
			if f != sinktest.Unavailable {
				return nil // syslog has no credentials; a slow receiver only fills buffers
			}
			p.down()
			return func() { p.up(t) }
		},
		// Larger than max_message_bytes: rejected rather than truncated by the receiver.
		Poison: func(e *sinks.Event) {
			e.Value = []byte(`{"class_uid":6003,"message":"` + strings.Repeat("x", 9000) + `"}`)
		},
		Unsupported: map[string]string{
			sinktest.CaseBadCredentials: "syslog has no credentials",
			sinktest.CaseForbidden:      "syslog has no permissions",
			sinktest.CaseNoSecretLeaks:  "no secret configured (plain TCP, no credentials)",
			sinktest.CaseCancelMidWrite: "a slow receiver only fills the kernel's socket buffers: a Write of 50 events completes before it can be cancelled midway",
		},
	})
}
