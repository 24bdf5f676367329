package mapkit

import (
	"fmt"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/timeparse"
)

// ParseTime's fast paths read every timestamp as the shared parser does.
func FuzzParseTimeAgreesWithTimeparse(f *testing.F) {
	for _, s := range []string{"2016-04-20 14:14:51", "2016-04-20T14:14:51", "2026-11-21T10:00:00.5Z", "2026-11-21T10:00:00+02:00",
		"2016-04-20 24:14:51", "/Date(1458000000000-0500)/", "2016-02-30T00:00:00Z", " 2016-04-20 14:14:51", "2016-04-20T14:14:51.123"} {
		f.Add(s)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, gerr := ParseTime(s, berlin)
		want, werr := timeparse.Parse(s, berlin)
		if (gerr == nil) != (werr == nil) || !got.Equal(want) {
			t.Fatalf("%q: ParseTime %v %v, timeparse %v %v", s, got, gerr, want, werr)
		}
	})
}

// Entry.Open refuses what each e-signature mapping refused before it was shared, with the
// same words, in the provider's order.
func TestEntryOpen(t *testing.T) {
	conga := Entry{Noun: "conga audit event", Word: "type", WordName: "type", Time: "datetime", TimeName: "date-time"}
	c1 := Entry{Noun: "constellation1 action log", Word: "description", WordName: "Description", Time: "date", TimeName: "Date", TimeFirst: true, Trim: true}
	for _, tc := range []struct {
		d      Entry
		record string
		err    string
		word   string
		ms     int64
	}{
		{conga, `{"type":"View","date-time":"2016-04-20 14:14:51"}`, "", "View", 1461161691000},
		{conga, `{"date-time":"soon"}`, "conga audit event has no type: entry cannot be mapped", "", 0},
		{conga, `{"Type":"View","DateTime":"soon"}`, `conga audit event date-time: timestamp "soon" is not in a known format`, "", 0},
		{conga, `[1]`, "conga audit event: entry is a JSON array, not an object: entry cannot be mapped", "", 0},
		{c1, `{"Date":"soon","Description":""}`, `constellation1 action log Date: timestamp "soon" is not in a known format`, "", 0},
		{c1, `{"Date":"/Date(1458000000000)/","Description":"  "}`, "constellation1 action log has no Description: entry cannot be mapped", "", 0},
		{c1, `{"Date":"/Date(1458000000000)/","Description":" Viewed "}`, "", "Viewed", 1458000000000},
	} {
		env := &schemas.Envelope{Record: []byte(tc.record), ContentType: schemas.ContentJSON}
		_, word, _, ms, err := tc.d.Open(env, time.UTC)
		if got := fmt.Sprint(err); tc.err != "" && got != tc.err || tc.err == "" && err != nil {
			t.Errorf("%s: error %q, want %q", tc.record, got, tc.err)
		}
		if word != tc.word || ms != tc.ms {
			t.Errorf("%s: word %q time %d, want %q %d", tc.record, word, ms, tc.word, tc.ms)
		}
	}
}

// Keys never writes into the caller's slice, even one with room to spare.
func TestKeysLeaveTheCallersSliceAlone(t *testing.T) {
	extra := make([]string, 1, 8)
	extra[0] = "enterprisename"
	got := Entry{Word: "type", Time: "datetime"}.Keys(extra...)
	if len(got) != 3 || got[0] != "enterprisename" || got[1] != "type" || got[2] != "datetime" {
		t.Fatalf("keys %v", got)
	}
	if spare := extra[:2]; spare[1] != "" {
		t.Fatalf("Keys wrote %q past the caller's slice", spare[1])
	}
}
