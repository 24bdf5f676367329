package mapkit

import (
	"testing"
	"time"
	_ "time/tzdata"

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
