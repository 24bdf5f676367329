package sinktest

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy between a sink and its store that can show the Unavailable and
// Slow faults: a fault injector for any sink that talks TCP (PostgreSQL, HTTP, syslog).
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	fault Fault
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
	seen  Signal // bytes from the sink
}

// Signal tells the suite that a Write reached the store (Harness.InFlight): the store's
// test calls Fire where a request arrives.
type Signal struct {
	mu    sync.Mutex
	armed []chan struct{}
}

// InFlight arms the signal: the channel is closed at the next Fire.
func (s *Signal) InFlight() <-chan struct{} {
	ch := make(chan struct{})
	s.mu.Lock()
	s.armed = append(s.armed, ch)
	s.mu.Unlock()
	return ch
}

// Fire closes the channels armed since the last Fire.
func (s *Signal) Fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.armed {
		close(ch)
	}
	s.armed = nil
}

// NewProxy listens on a loopback port and forwards to target until the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// ServeTCP listens on a loopback port until the test ends and hands every connection it
// accepts to handle, in the accepting goroutine (handle must not block: it starts its own
// goroutine to talk). It returns the listener's host:port.
func ServeTCP(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			handle(c)
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().String()
}

// InFlight is a Harness.InFlight: its channel is closed once the proxy receives bytes
// from the sink after the call (while Slow, those bytes are then held).
func (p *Proxy) InFlight() <-chan struct{} { return p.seen.InFlight() }

// Addr is the proxy's host:port: point the sink at it.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Fault shows f (Unavailable: every open connection is cut and new ones are closed at
// once; Slow: every chunk is held for a second) until heal is called. Other faults are
// not the proxy's: it returns nil.
func (p *Proxy) Fault(f Fault) (heal func()) {
	if f != Unavailable && f != Slow {
		return nil
	}
	p.mu.Lock()
	p.fault = f
	if f == Unavailable {
		for c := range p.conns {
			_ = c.Close()
		}
	}
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		p.fault = 0
		p.mu.Unlock()
	}
}

func (p *Proxy) current() Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fault
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.current() == Unavailable || !p.track(c) {
			_ = c.Close()
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer p.untrack(c)
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	if !p.track(up) {
		_ = up.Close()
		return
	}
	defer p.untrack(up)
	done := make(chan struct{}, 2)
	go func() { p.pipe(up, c, true); done <- struct{}{} }()
	go func() { p.pipe(c, up, false); done <- struct{}{} }()
	<-done
	_ = c.Close()
	_ = up.Close()
	<-done
}

func (p *Proxy) pipe(dst, src net.Conn, fromSink bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if fromSink {
				p.seen.Fire()
			}
			if p.current() == Slow {
				time.Sleep(time.Second)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}
