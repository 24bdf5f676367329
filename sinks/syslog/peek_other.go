//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package syslog

import "net"

// peerClosed cannot peek at a socket on this platform (ok false): the sink falls back to
// a short read after an idle second.
func peerClosed(net.Conn) (closed, pending, ok bool) { return false, false, false }
