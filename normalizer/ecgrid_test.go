package normalizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/schemas"
)

// The expected files in testdata/ecgrid are written by hand from the mapping rules (3002
// Authentication/Logon, session.uid = SessionID, user.uid = UserID, tenant = the poller's
// NetworkID, Created → time, Expires → session.expiration_time); the ids were computed
// independently with Python's uuid5/sha256. raw_data is compared with the input bytes.
func TestECGridGolden(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/ecgrid/*.input.xml")
	if len(inputs) < 3 {
		t.Fatalf("only %d golden inputs", len(inputs))
	}
	n := testNormalizer(t)
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".input.xml")
		t.Run(name, func(t *testing.T) {
			env, raw, expected := goldenEnvelope(t, "ecgrid", in)
			c, _, reason, err := n.Normalize(env)
			if err != nil {
				t.Fatalf("%s: %v", reason, err)
			}
			assertGolden(t, c.JSON, raw, expected)
		})
	}
}

func TestECGridUnmappable(t *testing.T) {
	n := testNormalizer(t)
	cases := map[string]struct{ record, ct string }{
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
	}
	for name, tc := range cases {
		_, _, reason, err := n.Normalize(envelopeFor(t, "ecgrid", "100", "1", "a", tc.ct, []byte(tc.record)))
		if err == nil || reason != ReasonMap {
			t.Errorf("%s: reason %q err %v, want %q", name, reason, err, ReasonMap)
		}
	}
}

func FuzzECGridMapping(f *testing.F) {
	for _, p := range []string{"testdata/ecgrid/seed.input.xml", "testdata/ecgrid/other_network.input.xml"} {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		if !json.Valid(mustJSONString(rec)) || len(rec) == 0 {
			return
		}
		b := fuzzMap(t, ECGridMapper{}, envelopeFor(t, "ecgrid", "1", "1", "x", schemas.ContentXML, rec))
		if b == nil {
			return
		}
		var ev map[string]any
		if err := json.Unmarshal(b, &ev); err != nil || ev["class_uid"] != float64(3002) {
			t.Fatalf("bad event for %q", rec)
		}
	})
}

func mustJSONString(b []byte) []byte {
	s, _ := json.Marshal(string(b))
	return s
}
