package mapping

import (
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/auditstream/auditstream/schemas/mapkit/mapkittest"
)

// The expected files in testdata are written by hand from the mapping rules in
// docs/mapping.md (ids computed independently with Python's uuid5/sha256, times with
// Python's zoneinfo; Conga's zone-less times are read in
// Europe/Berlin here, as by a poller with zone: Europe/Berlin) and checked with the official OCSF checker.
func TestMapping(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	mapkittest.ESign(t, "conga", Mapper, berlin, map[string]string{
		"no type":            `{"date-time":"2016-04-20 14:14:51"}`,
		"bad time":           `{"type":"View","date-time":"soon"}`,
		"login without user": `{"type":"Login","date-time":"2016-04-20 14:14:51","user-ip":"1.2.3.4"}`,
	})
}

func FuzzMapping(f *testing.F) { mapkittest.FuzzESign(f, "conga", Mapper) }
