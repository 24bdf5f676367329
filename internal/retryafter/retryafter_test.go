package retryafter

import (
	"net/http"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in    string
		limit time.Duration
		want  time.Duration
	}{
		{"", time.Minute, 0},
		{"   ", time.Minute, 0},
		{"3", time.Minute, 3 * time.Second},
		{" 7 ", time.Minute, 7 * time.Second},
		{"0", time.Minute, 0},
		{"-1", time.Minute, 0},
		{"+5", time.Minute, 0},
		{"1.5", time.Minute, 0},
		{"soon", time.Minute, 0},
		{"3s", time.Minute, 0},
		{"0x10", time.Minute, 0},
		{"60", time.Minute, time.Minute},
		{"99999", time.Minute, time.Minute},
		{"99999999999999999999999999999999", time.Minute, time.Minute},
		{"99999999999999999999999999999999", 0, time.Duration(1<<63 - 1)},
		{"120", 0, 2 * time.Minute},
		{"Sun, 22 Nov 2026 10:00:10 GMT", time.Minute, 10 * time.Second},
		{"Sunday, 22-Nov-26 10:00:30 GMT", time.Minute, 30 * time.Second}, // RFC 850
		{"Sun Nov 22 10:00:20 2026", time.Minute, 20 * time.Second},       // asctime
		{"Sun, 22 Nov 2026 11:00:00 GMT", time.Minute, time.Minute},
		{"Sun, 22 Nov 2026 09:59:00 GMT", time.Minute, 0},
		{"Thu, 01 Jan 1970 00:00:00 GMT", time.Minute, 0},
		{"Sun, 22 Nov 2026 10:00:10", time.Minute, 0},
		{"Fri, 31 Dec 9999 23:59:59 GMT", time.Minute, time.Minute},
	} {
		if got := Parse(c.in, now, c.limit); got != c.want {
			t.Errorf("Parse(%q, limit %s) = %s, want %s", c.in, c.limit, got, c.want)
		}
	}
}

func TestHeader(t *testing.T) {
	h := http.Header{}
	if got := Header(h, time.Minute); got != 0 {
		t.Errorf("no header = %s", got)
	}
	h.Set("Retry-After", "4")
	if got := Header(h, time.Minute); got != 4*time.Second {
		t.Errorf("Retry-After: 4 = %s", got)
	}
	h.Set("Retry-After", time.Now().Add(10*time.Second).UTC().Format(http.TimeFormat))
	if got := Header(h, time.Minute); got < 8*time.Second || got > 10*time.Second {
		t.Errorf("HTTP-date Retry-After = %s", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "3", "-1", "99999999999999999999", "Sun, 22 Nov 2026 10:00:10 GMT", "soon"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d := Parse(v, now, 5*time.Minute)
		if d < 0 || d > 5*time.Minute {
			t.Fatalf("Parse(%q) = %s, outside [0, 5m]", v, d)
		}
	})
}
