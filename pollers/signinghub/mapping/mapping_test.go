package mapping

import (
	"testing"
	"time"

	"github.com/auditstream/auditstream/schemas/mapkit/mapkittest"
)

// The expected files in testdata are written by hand from the mapping rules in
// docs/mapping.md (ids computed independently with Python's uuid5/sha256) and checked with
// the official OCSF checker; the entries in testdata/*.refused.json must be refused.
func TestMapping(t *testing.T) { mapkittest.ESign(t, "signinghub", Mapper, time.UTC) }

func FuzzMapping(f *testing.F) { mapkittest.FuzzESign(f, "signinghub", Mapper) }
