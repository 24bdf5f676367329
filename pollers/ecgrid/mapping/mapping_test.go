package mapping

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/mapkit/mapkittest"
)

// The expected files in testdata are written by hand from the mapping rules (3002
// Authentication/Logon, session.uid = SessionID, user.uid = UserID, tenant = the poller's
// NetworkID, Created → time, Expires → session.expiration_time); the ids were computed
// independently with Python's uuid5/sha256. raw_data is compared with the input bytes.
func TestGolden(t *testing.T) {
	sessionID := regexp.MustCompile(`<SessionID>([^<]*)</SessionID>`)
	mapkittest.Golden{Mapper: Mapper{}, Envelope: func(t testing.TB, _ string, b []byte) ([]byte, string) {
		sid := sessionID.FindSubmatch(b)[1]
		return mapkittest.Envelope(t, "ecgrid", "100", "12345", string(sid), schemas.ContentXML, b), string(b)
	}}.Check(t)
}

func TestUnmappable(t *testing.T) {
	cases := map[string][]byte{}
	for name, tc := range map[string]struct{ record, ct string }{
		"no Created":    {`<SessionIDInfo><SessionID>a</SessionID><UserID>1</UserID></SessionIDInfo>`, schemas.ContentXML},
		"no UserID":     {`<SessionIDInfo><SessionID>a</SessionID><Created>2026-01-01T00:00:00Z</Created></SessionIDInfo>`, schemas.ContentXML},
		"nested":        {`<SessionIDInfo><UserID><x>1</x></UserID><Created>2026-01-01T00:00:00Z</Created></SessionIDInfo>`, schemas.ContentXML},
		"comment":       {`<SessionIDInfo><!-- x --><UserID>1</UserID><Created>2026-01-01T00:00:00Z</Created></SessionIDInfo>`, schemas.ContentXML},
		"wrong end tag": {`<SessionIDInfo><UserID>1</User><Created>2026-01-01T00:00:00Z</Created></SessionIDInfo>`, schemas.ContentXML},
		"bad Created":   {`<SessionIDInfo><SessionID>a</SessionID><Created>yesterday</Created></SessionIDInfo>`, schemas.ContentXML},
		"bad Expires":   {`<SessionIDInfo><SessionID>a</SessionID><Created>2026-01-01T00:00:00Z</Created><Expires>soon</Expires></SessionIDInfo>`, schemas.ContentXML},
		"not XML":       {`{"SessionID":"a"}`, schemas.ContentJSON},
		"other element": {`<LoginResult>x</LoginResult>`, schemas.ContentXML},
		"broken XML":    {`<SessionIDInfo><Created>`, schemas.ContentXML},
		"doctype":       {`<!DOCTYPE x [<!ENTITY a "b">]><SessionIDInfo><SessionID>&a;</SessionID><Created>2026-01-01T00:00:00Z</Created></SessionIDInfo>`, schemas.ContentXML},
	} {
		cases[name] = mapkittest.Envelope(t, "ecgrid", "100", "1", "a", tc.ct, []byte(tc.record))
	}
	mapkittest.Refused(t, Mapper{}, cases)
}

func FuzzMapping(f *testing.F) {
	mapkittest.SeedCorpus(f)
	f.Fuzz(func(t *testing.T, rec []byte) {
		if s, _ := json.Marshal(string(rec)); !json.Valid(s) || len(rec) == 0 {
			return
		}
		b := mapkittest.Fuzz(t, Mapper{}, mapkittest.Envelope(t, "ecgrid", "1", "1", "x", schemas.ContentXML, rec))
		if b == nil {
			return
		}
		var ev map[string]any
		if err := json.Unmarshal(b, &ev); err != nil || ev["class_uid"] != float64(3002) {
			t.Fatalf("bad event for %q", rec)
		}
	})
}
