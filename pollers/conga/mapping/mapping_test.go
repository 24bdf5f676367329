package mapping

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/auditstream/auditstream/schemas/mapkit/mapkittest"
)

// The expected files in testdata are written by hand from the mapping rules in
// docs/mapping.md (ids computed independently with Python's uuid5/sha256, times with
// Python's zoneinfo; Conga's zone-less times are read in
// Europe/Berlin here, as a poller with zone: Europe/Berlin does) and checked with the official OCSF checker.
func TestGolden(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	mapkittest.Golden{Mapper: Mapper{}, Zone: berlin, Envelope: func(t testing.TB, name string, b []byte) ([]byte, string) {
		return mapkittest.ESignEnvelope(t, "conga", name, b), string(bytes.TrimSpace(b))
	}}.Check(t)
}

func TestUnmappable(t *testing.T) {
	cases := map[string][]byte{}
	for name, rec := range map[string]string{
		"no type":            `{"date-time":"2016-04-20 14:14:51"}`,
		"bad time":           `{"type":"View","date-time":"soon"}`,
		"login without user": `{"type":"Login","date-time":"2016-04-20 14:14:51","user-ip":"1.2.3.4"}`,
	} {
		cases[name] = mapkittest.ESignEnvelope(t, "conga", "x", []byte(rec))
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
		mapkittest.Fuzz(t, Mapper{}, mapkittest.ESignEnvelope(t, "conga", "x", rec))
	})
}
