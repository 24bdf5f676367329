//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package syslog

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
)

// peerClosed peeks at c's socket without waiting (MSG_PEEK|MSG_DONTWAIT, one system call):
// closed when the receiver closed or reset the connection, pending when bytes are waiting
// to be read (they stay unread); ok false when c has no socket to peek at.
func peerClosed(c net.Conn) (closed, pending, ok bool) {
	if tc, isTLS := c.(*tls.Conn); isTLS {
		c = tc.NetConn()
	}
	sc, isSC := c.(syscall.Conn)
	if !isSC {
		return false, false, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, false, false
	}
	var n int
	var rerr error
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait for the socket to become readable
	})
	switch {
	case err != nil:
		return true, false, true // the connection is closed on this side
	case errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK) || errors.Is(rerr, syscall.EINTR):
		return false, false, true // nothing to read: the receiver is still there
	case rerr != nil:
		return true, false, true // reset
	case n == 0:
		return true, false, true // end of stream: the receiver closed
	}
	return false, true, true
}
