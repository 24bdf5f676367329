package mapping

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/mapkit/mapkittest"
)

// envelope wraps an IONOS entry as the poller does (tenant and entity: the contract).
func envelope(t testing.TB, nativeID string, record []byte) []byte {
	return mapkittest.Envelope(t, "ionos", "31721060", "31721060", nativeID, schemas.ContentJSON, record)
}

// The expected files in testdata are written by hand from the mapping rules in
// docs/mapping.md (ids computed independently with Python's uuid5/sha256); raw_data is
// compared with the input bytes.
func TestGolden(t *testing.T) {
	mapkittest.Golden{Mapper: Mapper{}, Envelope: func(t testing.TB, _ string, b []byte) ([]byte, string) {
		var src struct {
			UUID string `json:"@uuid"`
		}
		if err := json.Unmarshal(b, &src); err != nil {
			t.Fatal(err)
		}
		return envelope(t, src.UUID, b), string(bytes.TrimSpace(b))
	}}.Check(t)
}

func TestUnmappable(t *testing.T) {
	cases := map[string][]byte{}
	for name, rec := range map[string]string{
		"no time":                `{"@uuid":"a","event":{"type":"RequestAccepted"}}`,
		"bad time":               `{"@uuid":"a","meta":{"time":"yesterday"},"event":{"type":"X"}}`,
		"no action and no type":  `{"@uuid":"a","meta":{"time":"2026-01-01T00:00:00Z"}}`,
		"record is not an entry": `[1,2]`,
	} {
		cases[name] = envelope(t, "a", []byte(rec))
	}
	mapkittest.Refused(t, Mapper{}, cases)
}

func FuzzMapping(f *testing.F) {
	mapkittest.SeedCorpus(f)
	f.Fuzz(func(t *testing.T, rec []byte) {
		if !json.Valid(rec) || bytes.TrimSpace(rec)[0] != '{' {
			return
		}
		b := mapkittest.Fuzz(t, Mapper{}, envelope(t, "x", rec))
		if b == nil {
			return
		}
		// raw_data is a JSON string, so invalid UTF-8 in an entry can only be kept replaced
		// (the raw topic keeps the original bytes).
		var ev map[string]any
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		rd, _ := ev["raw_data"].(string)
		if utf8.Valid(rec) && rd != string(bytes.TrimSpace(rec)) || !utf8.ValidString(rd) {
			t.Fatalf("raw_data %q for entry %q", rd, rec)
		}
	})
}
