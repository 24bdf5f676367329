package mapping

import (
	"testing"
	"time"

	"github.com/auditstream/auditstream/schemas/mapkit/mapkittest"
)

// The expected files in testdata are written by hand from the mapping rules in
// docs/mapping.md (ids computed independently with Python's uuid5/sha256, times with
// Python's zoneinfo) and checked with the official OCSF checker.
func TestMapping(t *testing.T) {
	mapkittest.ESign(t, "signinghub", Mapper, time.UTC, map[string]string{
		"no action": `{"date_time":"2015-01-12T11:12:13"}`,
		"array":     `[1]`,
	})
}

func FuzzMapping(f *testing.F) { mapkittest.FuzzESign(f, "signinghub", Mapper) }
