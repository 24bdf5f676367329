// Package retryafter reads an HTTP Retry-After header (RFC 9110 §10.2.3): how long a server
// asks its client to wait before the next request. Both the pollers' HTTP client and the
// HTTP sinks use it.
package retryafter

import (
	"net/http"
	"strings"
	"time"
)

// Header reads Retry-After from h as a wait from now, at most limit (see Parse).
func Header(h http.Header, limit time.Duration) time.Duration {
	return Parse(h.Get("Retry-After"), time.Now(), limit)
}

// Parse reads a Retry-After value, a number of seconds ("120") or an HTTP date ("Wed, 21
// Oct 2026 07:28:00 GMT", taken relative to now), as a wait. An empty or unreadable value
// and a date in the past are 0 (the caller then uses its own backoff); a wait longer than
// limit is limit (a limit of 0 or less caps nothing).
func Parse(v string, now time.Time, limit time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if digits(v) {
		d = seconds(v, limit)
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d < 0 {
		return 0
	}
	if limit > 0 && d > limit {
		return limit
	}
	return d
}

func digits(v string) bool {
	for _, c := range []byte(v) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// seconds converts a run of decimal digits to a duration without overflowing: a number
// beyond any limit (or beyond what a Duration holds) stops growing there.
func seconds(v string, limit time.Duration) time.Duration {
	ceiling := time.Duration(1<<63 - 1)
	if limit > 0 {
		ceiling = limit
	}
	var n time.Duration
	for _, c := range []byte(v) {
		n = n*10 + time.Duration(c-'0')
		if n > ceiling/time.Second {
			return ceiling
		}
	}
	return n * time.Second
}
