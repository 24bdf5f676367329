package normalizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/schemas"
)

// esignEnvelope wraps an e-signature entry as its poller does: tenant = the account, entity
// = the package (or signing session) id, entity_name = its display name.
func esignEnvelope(t testing.TB, provider, nativeID string, record []byte) []byte {
	t.Helper()
	env := schemas.Envelope{V: 1, ID: schemas.RecordID(provider, "acct-1", "pkg-1", nativeID, 1), Provider: provider,
		Tenant: "acct-1", Entity: "pkg-1", EntityName: "Sales contract 105", Poller: "golden", FetchedAt: goldenFetched,
		Occurrence: 1, ContentType: schemas.ContentJSON, Record: record}
	b, err := env.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The expected files in testdata/{conga,signinghub,constellation1} are written by hand from
// the mapping rules in docs/mapping.md (ids computed independently with Python's
// uuid5/sha256, times with Python's zoneinfo; Conga's zone-less times are read in
// Europe/Berlin here, through normalizer.zones) and checked with the official OCSF checker.
func TestESignGolden(t *testing.T) {
	n := testNormalizer(t)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	n.zones = map[string]*time.Location{"conga": berlin}
	for _, provider := range []string{"conga", "signinghub", "constellation1"} {
		inputs, _ := filepath.Glob("testdata/" + provider + "/*.input.json")
		if len(inputs) < 3 {
			t.Fatalf("%s: only %d golden inputs", provider, len(inputs))
		}
		for _, in := range inputs {
			name := strings.TrimSuffix(filepath.Base(in), ".input.json")
			t.Run(provider+"/"+name, func(t *testing.T) {
				env, raw, expected := goldenEnvelope(t, provider, in)
				c, _, reason, err := n.Normalize(env)
				if err != nil {
					t.Fatalf("%s: %v", reason, err)
				}
				assertGolden(t, c.JSON, raw, expected)
			})
		}
	}
}

func TestESignUnmappable(t *testing.T) {
	n := testNormalizer(t)
	for name, tc := range map[string]struct{ provider, record string }{
		"conga no type":               {"conga", `{"date-time":"2016-04-20 14:14:51"}`},
		"conga bad time":              {"conga", `{"type":"View","date-time":"soon"}`},
		"conga login without user":    {"conga", `{"type":"Login","date-time":"2016-04-20 14:14:51","user-ip":"1.2.3.4"}`},
		"signinghub no action":        {"signinghub", `{"date_time":"2015-01-12T11:12:13"}`},
		"signinghub array":            {"signinghub", `[1]`},
		"constellation1 no text":      {"constellation1", `{"Date":"/Date(1458000000000)/"}`},
		"constellation1 bad date":     {"constellation1", `{"Date":"/Date(x)/","Description":"viewed"}`},
		"constellation1 anonymous in": {"constellation1", `{"Date":"2016-01-01T00:00:00Z","Description":"Someone logged in"}`},
	} {
		if _, _, reason, err := n.Normalize(esignEnvelope(t, tc.provider, "x", []byte(tc.record))); err == nil || reason != ReasonMap {
			t.Errorf("%s: reason %q err %v, want map", name, reason, err)
		}
	}
}

func TestConstellation1Verbs(t *testing.T) {
	for desc, want := range map[string]struct {
		verb esignVerb
		word string
	}{
		"Document viewed by Jane Doe (jane@x.com)":  {verbRead, "viewed"},
		"Document opened":                           {verbRead, "opened"},
		"Document Downloaded by Bob":                {verbExport, "downloaded"},
		"Document emailed to jane@x.com":            {verbShare, "emailed"},
		"Session sent to signer":                    {verbShare, "sent"},
		"Document signed by Jane Doe":               {verbOther, "signed"},
		"Jane Doe signed in":                        {verbLogon, "signed in"},
		"User logged out":                           {verbLogoff, "logged out"},
		"Signer declined: wrong amount":             {verbOther, "declined"},
		"Envelope finalized":                        {verbOther, "finalized"},
		"Something happened? no":                    {verbOther, "happened"},
		"":                                          {verbOther, ""},
		"Session completed; signed in person by Al": {verbOther, "completed"},
	} {
		v, w := constellation1Verb(desc)
		if v != want.verb || w != want.word {
			t.Errorf("%q: %v %q, want %v %q", desc, v, w, want.verb, want.word)
		}
	}
}

// fuzzESign feeds any JSON object to one e-signature mapper (directly: a panic fails).
func fuzzESign(f *testing.F, provider string, mp Mapper) {
	inputs, _ := filepath.Glob("testdata/" + provider + "/*.input.json")
	for _, in := range inputs {
		b, _ := os.ReadFile(in)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		if !json.Valid(rec) {
			return
		}
		fuzzMap(t, mp, esignEnvelope(t, provider, "x", rec))
	})
}

func FuzzCongaMapping(f *testing.F)          { fuzzESign(f, "conga", CongaMapper{}) }
func FuzzSigningHubMapping(f *testing.F)     { fuzzESign(f, "signinghub", SigningHubMapper{}) }
func FuzzConstellation1Mapping(f *testing.F) { fuzzESign(f, "constellation1", Constellation1Mapper{}) }
