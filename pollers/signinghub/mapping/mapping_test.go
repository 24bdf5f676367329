package mapping

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/auditstream/auditstream/schemas/mapkit/mapkittest"
)

// The expected files in testdata are written by hand from the mapping rules in
// docs/mapping.md (ids computed independently with Python's uuid5/sha256, times with
// Python's zoneinfo; times in UTC) and checked with the official OCSF checker.
func TestGolden(t *testing.T) {
	mapkittest.Golden{Mapper: Mapper{}, Envelope: func(t testing.TB, name string, b []byte) ([]byte, string) {
		return mapkittest.ESignEnvelope(t, "signinghub", name, b), string(bytes.TrimSpace(b))
	}}.Check(t)
}

func TestUnmappable(t *testing.T) {
	cases := map[string][]byte{}
	for name, rec := range map[string]string{
		"no action": `{"date_time":"2015-01-12T11:12:13"}`,
		"array":     `[1]`,
	} {
		cases[name] = mapkittest.ESignEnvelope(t, "signinghub", "x", []byte(rec))
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
		mapkittest.Fuzz(t, Mapper{}, mapkittest.ESignEnvelope(t, "signinghub", "x", rec))
	})
}
