package sinktest_test

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/auditstream/auditstream/sinks/sinktest"
)

func echoServer(t *testing.T) string {
	return sinktest.ServeTCP(t, func(c net.Conn) {
		go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
	})
}

func roundTrip(addr string) (time.Duration, error) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0, err
	}
	if line != "ping\n" {
		return 0, io.ErrUnexpectedEOF
	}
	return time.Since(start), nil
}

func TestProxyFaults(t *testing.T) {
	p := sinktest.NewProxy(t, echoServer(t))
	if _, err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("healthy proxy: %v", err)
	}
	// An open connection is cut when the store goes down, and new ones fail.
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	heal := p.Fault(sinktest.Unavailable)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("an open connection survived the outage")
	}
	if _, err := roundTrip(p.Addr()); err == nil {
		t.Fatal("a new connection worked during the outage")
	}
	heal()
	if _, err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("after healing: %v", err)
	}
	heal = p.Fault(sinktest.Slow)
	d, err := roundTrip(p.Addr())
	heal()
	if err != nil || d < time.Second {
		t.Fatalf("slow round trip took %v, err %v; want at least 1s", d, err)
	}
	// InFlight signals once the proxy receives bytes from the client, not before.
	inFlight := p.InFlight()
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	select {
	case <-inFlight:
		t.Fatal("InFlight signalled before any byte was sent")
	default:
	}
	if _, err := c2.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inFlight:
	case <-time.After(10 * time.Second):
		t.Fatal("InFlight did not signal the bytes the client sent")
	}
	if p.Fault(sinktest.BadCredentials) != nil {
		t.Fatal("the proxy claims to show bad credentials")
	}
}
