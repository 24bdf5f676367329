package ops

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParsePosition(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      bool
	}{
		{"", "unset", false},
		{"0", "offset 0", false},
		{" 1234 ", "offset 1234", false},
		{"2026-11-21T10:00:00Z", "2026-11-21T10:00:00Z", false},
		{"2026-11-21T11:00:00+01:00", "2026-11-21T10:00:00Z", false},
		{"2026-11-21", "2026-11-21T00:00:00Z", false},
		{"-1", "", true},
		{"yesterday", "", true},
		{"2026-13-01", "", true},
	} {
		p, err := ParsePosition(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParsePosition(%q) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && p.String() != tc.want {
			t.Errorf("ParsePosition(%q) = %s, want %s", tc.in, p, tc.want)
		}
	}
}

func TestPlanCursorReset(t *testing.T) {
	current := []Cursor{{Key: "p/ionos/1/1", Value: json.RawMessage(`{"v":1}`)}, {Key: "p/ionos/2/2", Value: json.RawMessage(`{"v":2}`)}}
	// Deleting: keys that exist change; a key that has no cursor is an error.
	ch, err := PlanCursorReset(current, []string{"p/ionos/1/1"}, nil)
	if err != nil || len(ch) != 1 || ch[0].Key != "p/ionos/1/1" || string(ch[0].Old) != `{"v":1}` || ch[0].New != nil {
		t.Fatalf("delete plan = %+v, %v", ch, err)
	}
	if _, err := PlanCursorReset(current, []string{"p/ionos/1/1", "p/ionos/9/9"}, nil); !errors.Is(err, ErrNoCursor) || !strings.Contains(err.Error(), "p/ionos/9/9") {
		t.Fatalf("deleting a cursor that does not exist: %v", err)
	}
	// Setting: every named key, created when missing.
	ch, err = PlanCursorReset(current, []string{"p/ionos/2/2", "p/ionos/9/9"}, json.RawMessage(`{"watermark":"2026-11-01T00:00:00Z"}`))
	if err != nil || len(ch) != 2 || string(ch[0].Old) != `{"v":2}` || ch[1].Old != nil || string(ch[1].New) != `{"watermark":"2026-11-01T00:00:00Z"}` {
		t.Fatalf("set plan = %+v, %v", ch, err)
	}
	if _, err := PlanCursorReset(current, []string{"p/ionos/1/1"}, json.RawMessage(`{not json`)); err == nil {
		t.Fatal("a new cursor that is not JSON was accepted")
	}
}

func TestDeadLetterFilter(t *testing.T) {
	d := DeadLetter{Partition: 0, Offset: 7, Stage: "normalize", Reason: "decode", Topic: "audit.raw.ionos", Time: time.Now()}
	for _, tc := range []struct {
		f    DLQFilter
		want bool
	}{
		{DLQFilter{}, true},
		{DLQFilter{Stage: "normalize", Reason: "decode"}, true},
		{DLQFilter{Reason: "map"}, false},
		{DLQFilter{Topic: "audit.raw.ecgrid"}, false},
		{DLQFilter{IDs: map[string]bool{"0:7": true}}, true},
		{DLQFilter{IDs: map[string]bool{"0:8": true}}, false},
	} {
		if got := tc.f.match(d); got != tc.want {
			t.Errorf("filter %+v matches = %v, want %v", tc.f, got, tc.want)
		}
	}
}
