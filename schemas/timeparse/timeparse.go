// Package timeparse reads the timestamps providers send: RFC 3339 with or without zone,
// a space instead of the T, fractional seconds, bare dates, and WCF "/Date(ms±zzzz)/".
// Values without a zone are read in the provider's configured location.
package timeparse

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var layoutsZoned = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999 -07:00",
	"2006-01-02 15:04:05.999999999 MST",
}

var layoutsLocal = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

var wcf = regexp.MustCompile(`^/Date\((-?\d{1,16})([+-]\d{4})?\)/$`)

// wcfMatch runs the WCF pattern only on what can match it (the normalizer parses every
// timestamp through here).
func wcfMatch(v string) []string {
	if !strings.HasPrefix(v, "/Date(") {
		return nil
	}
	return wcf.FindStringSubmatch(v)
}

// Parse reads s; zone-less values are taken in loc (UTC when nil). The result is UTC.
func Parse(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	v := strings.TrimSpace(s)
	if v == "" {
		return time.Time{}, fmt.Errorf("empty timestamp")
	}
	if m := wcfMatch(v); m != nil {
		ms, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("timestamp %q: %w", s, err)
		}
		// The milliseconds are UTC already; the offset only says where it was displayed.
		return time.UnixMilli(ms).UTC(), nil
	}
	for _, l := range layoutsZoned {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), nil
		}
	}
	for _, l := range layoutsLocal {
		if t, err := time.ParseInLocation(l, v, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not in a known format", excerpt(s))
}

// Location loads a zone name ("" = UTC). "Local" is refused: it would make the meaning
// of a provider's timestamps depend on the machine the poller runs on.
func Location(name string) (*time.Location, error) {
	if name == "" || strings.EqualFold(name, "utc") {
		return time.UTC, nil
	}
	if name == "Local" {
		return nil, fmt.Errorf("zone %q depends on the machine; name the zone (e.g. Europe/Berlin)", name)
	}
	return time.LoadLocation(name)
}

func excerpt(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
