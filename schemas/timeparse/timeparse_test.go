package timeparse

import (
	"testing"
	"time"
	_ "time/tzdata" // the zone database, so the test never depends on the machine's
)

func TestParse(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		loc  *time.Location
		want string
	}{
		{"2016-09-23T12:02:52.394Z", nil, "2016-09-23T12:02:52.394Z"},
		{"2016-09-23T12:02:52+02:00", nil, "2016-09-23T10:02:52Z"},
		{"2016-04-20 14:14:51", nil, "2016-04-20T14:14:51Z"},
		{"2016-04-20 14:14:51", ny, "2016-04-20T18:14:51Z"},
		{"2016-04-20T14:14:51.5", nil, "2016-04-20T14:14:51.5Z"},
		{"2026-05-07", nil, "2026-05-07T00:00:00Z"},
		{"/Date(1458000000000-0500)/", ny, "2016-03-15T00:00:00Z"},
		{"/Date(1458000000000)/", nil, "2016-03-15T00:00:00Z"},
		{" 2026-05-07T08:00:00Z ", nil, "2026-05-07T08:00:00Z"},
		{"2015-01-12T11:12:13", nil, "2015-01-12T11:12:13Z"},
		{"2015-01-12T11:12:13", ny, "2015-01-12T16:12:13Z"},
		{"2016-04-20 14:14:51.123", ny, "2016-04-20T18:14:51.123Z"},
		{"/Date(1421061133000+0100)/", ny, "2015-01-12T11:12:13Z"},
		{"/Date(-1000)/", nil, "1969-12-31T23:59:59Z"},
	}
	for _, tc := range tests {
		got, err := Parse(tc.in, tc.loc)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if s := got.Format(time.RFC3339Nano); s != tc.want {
			t.Errorf("Parse(%q) = %s, want %s", tc.in, s, tc.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "/Date(abc)/", "2026-13-45T00:00:00Z"} {
		if _, err := Parse(bad, nil); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"2016-09-23T12:02:52.394Z", "/Date(1458000000000-0500)/", "2016-04-20 14:14:51", "2015-01-12T11:12:13", "/Date(-62135596800000)/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ny, _ := time.LoadLocation("America/New_York")
		for _, loc := range []*time.Location{nil, ny} {
			got, err := Parse(s, loc)
			if err == nil && got.Location() != time.UTC {
				t.Fatalf("Parse(%q) not UTC", s)
			}
		}
	})
}
