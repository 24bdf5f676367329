package mapping

import (
	"testing"
	"time"

	"github.com/auditstream/auditstream/schemas/mapkit"
	"github.com/auditstream/auditstream/schemas/mapkit/mapkittest"
)

// The expected files in testdata are written by hand from the mapping rules in
// docs/mapping.md (ids computed independently with Python's uuid5/sha256, times with
// Python's zoneinfo) and checked with the official OCSF checker; the entries in
// testdata/*.refused.json must be refused.
func TestMapping(t *testing.T) { mapkittest.ESign(t, "constellation1", Mapper, time.UTC) }

func FuzzMapping(f *testing.F) { mapkittest.FuzzESign(f, "constellation1", Mapper) }

func TestVerbs(t *testing.T) {
	for desc, want := range map[string]struct {
		verb mapkit.Verb
		word string
	}{
		"Document viewed by Jane Doe (jane@x.com)":  {mapkit.VerbRead, "viewed"},
		"Document opened":                           {mapkit.VerbRead, "opened"},
		"Document Downloaded by Bob":                {mapkit.VerbExport, "downloaded"},
		"Document emailed to jane@x.com":            {mapkit.VerbShare, "emailed"},
		"Session sent to signer":                    {mapkit.VerbShare, "sent"},
		"Document signed by Jane Doe":               {mapkit.VerbOther, "signed"},
		"Jane Doe signed in":                        {mapkit.VerbLogon, "signed in"},
		"User logged out":                           {mapkit.VerbLogoff, "logged out"},
		"Signer declined: wrong amount":             {mapkit.VerbOther, "declined"},
		"Envelope finalized":                        {mapkit.VerbOther, "finalized"},
		"Something happened? no":                    {mapkit.VerbOther, "happened"},
		"":                                          {mapkit.VerbOther, ""},
		"Session completed; signed in person by Al": {mapkit.VerbOther, "completed"},
	} {
		v, w, _ := constellation1Verb(desc)
		if v != want.verb || w != want.word {
			t.Errorf("%q: %v %q, want %v %q", desc, v, w, want.verb, want.word)
		}
	}
}
