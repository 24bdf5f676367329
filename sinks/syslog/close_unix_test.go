//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package syslog

import (
	"bufio"
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/projection/projectiontest"
)

// A receiver that sent something the sink never reads (as a TLS server's session ticket
// is), and reads its socket late: closing at once would make the sink's kernel answer with
// a reset, which discards what is still in the sink's send queue. Close shuts
// down the sending side and waits for the receiver to close: every message arrives.
func TestCloseLetsTheReceiverReadTheTail(t *testing.T) {
	// A small receive buffer: part of the batch is still in the sink's send queue when it
	// closes, where a reset discards it.
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := open(t, "address: "+ln.Addr().String()+"\n")
	closeCalled := make(chan struct{})
	closeDone := make(chan struct{})
	got := make(chan []string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("hello\n")) // never read by the sink
		// Read only once the sink closes: at once when Close returns without waiting,
		// after a while when Close waits for this side to close.
		<-closeCalled
		select {
		case <-closeDone:
		case <-time.After(300 * time.Millisecond):
		}
		var msgs []string
		r := bufio.NewReader(c)
		for {
			m, err := readOctetCounted(r)
			if err != nil {
				break
			}
			msgs = append(msgs, m)
		}
		got <- msgs
	}()
	batch := projectiontest.Batch(50, "tail")
	res := write(t, s, batch)
	for i, r := range res {
		if r.Status != sinks.Written {
			t.Fatalf("event %d: %+v", i, r)
		}
	}
	go func() {
		close(closeCalled)
		_ = s.Close(context.Background())
		close(closeDone)
	}()
	msgs := <-got
	<-closeDone
	if len(msgs) != len(batch) {
		t.Fatalf("the receiver read %d of %d messages", len(msgs), len(batch))
	}
}
