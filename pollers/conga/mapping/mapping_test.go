package mapping

import (
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/auditstream/auditstream/schemas/mapkit/mapkittest"
)

// The expected files in testdata are written by hand from the mapping rules in
// docs/mapping.md (ids computed independently with Python's uuid5/sha256, times with
// Python's zoneinfo; Conga's zone-less times are read in Europe/Berlin here, as by a
// poller with zone: Europe/Berlin) and checked with the official OCSF checker; the
// entries in testdata/*.refused.json must be refused.
func TestMapping(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	mapkittest.ESign(t, "conga", Mapper, berlin)
}

func FuzzMapping(f *testing.F) { mapkittest.FuzzESign(f, "conga", Mapper) }
