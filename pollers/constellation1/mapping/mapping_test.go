package mapping

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/auditstream/auditstream/schemas/mapkit"
	"github.com/auditstream/auditstream/schemas/mapkit/mapkittest"
)

// The expected files in testdata are written by hand from the mapping rules in
// docs/mapping.md (ids computed independently with Python's uuid5/sha256, times with
// Python's zoneinfo; times in UTC) and checked with the official OCSF checker.
func TestGolden(t *testing.T) {
	mapkittest.Golden{Mapper: Mapper{}, Envelope: func(t testing.TB, name string, b []byte) ([]byte, string) {
		return mapkittest.ESignEnvelope(t, "constellation1", name, b), string(bytes.TrimSpace(b))
	}}.Check(t)
}

func TestUnmappable(t *testing.T) {
	cases := map[string][]byte{}
	for name, rec := range map[string]string{
		"no text":      `{"Date":"/Date(1458000000000)/"}`,
		"bad date":     `{"Date":"/Date(x)/","Description":"viewed"}`,
		"anonymous in": `{"Date":"2016-01-01T00:00:00Z","Description":"Someone logged in"}`,
	} {
		cases[name] = mapkittest.ESignEnvelope(t, "constellation1", "x", []byte(rec))
	}
	mapkittest.Refused(t, Mapper{}, cases)
}

// FuzzMapping feeds any JSON object to the mapper (directly: a panic fails).
func FuzzMapping(f *testing.F) {
	mapkittest.SeedCorpus(f)
	f.Fuzz(func(t *testing.T, rec []byte) {
		if !json.Valid(rec) {
			return
		}
		mapkittest.Fuzz(t, Mapper{}, mapkittest.ESignEnvelope(t, "constellation1", "x", rec))
	})
}

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
		v, w := constellation1Verb(desc)
		if v != want.verb || w != want.word {
			t.Errorf("%q: %v %q, want %v %q", desc, v, w, want.verb, want.word)
		}
	}
}
