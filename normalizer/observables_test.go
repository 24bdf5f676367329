package normalizer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/schemas"
)

// goldenEnvelope wraps a golden input as the provider's golden test does; it returns the
// envelope, the raw_data the event must carry and the path of the hand-written expected
// event.
func goldenEnvelope(t *testing.T, provider, in string) (env []byte, raw, expected string) {
	t.Helper()
	b, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(in), ".json"), ".xml")
	name = strings.TrimSuffix(name, ".input")
	expected = filepath.Join(filepath.Dir(in), name+".expected.json")
	switch provider {
	case "ionos":
		var src struct {
			UUID string `json:"@uuid"`
		}
		if err := json.Unmarshal(b, &src); err != nil {
			t.Fatal(err)
		}
		return envelopeFor(t, "ionos", "31721060", "31721060", src.UUID, schemas.ContentJSON, b), string(bytes.TrimSpace(b)), expected
	case "ecgrid":
		sid := regexp.MustCompile(`<SessionID>([^<]*)</SessionID>`).FindSubmatch(b)[1]
		return envelopeFor(t, "ecgrid", "100", "12345", string(sid), schemas.ContentXML, b), string(b), expected
	default:
		return esignEnvelope(t, provider, name, b), string(bytes.TrimSpace(b)), expected
	}
}

// With normalizer.observables on, every golden input of every provider maps to its
// hand-written expected event plus observables (checked against the hand-written
// <name>.observables.expected.json where one exists, at least one per provider), and
// every event passes the full OCSF JSON Schema (the test normalizer validates all).
// With the switch off the provider golden tests show the events carry none.
func TestObservablesGolden(t *testing.T) {
	n := testNormalizer(t)
	n.cfg.Observables = true
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	n.zones = map[string]*time.Location{"conga": berlin}
	for _, provider := range []string{"ionos", "ecgrid", "conga", "signinghub", "constellation1"} {
		inputs, _ := filepath.Glob("testdata/" + provider + "/*.input.*")
		obsFiles, _ := filepath.Glob("testdata/" + provider + "/*.observables.expected.json")
		if len(inputs) < 3 || len(obsFiles) < 1 {
			t.Fatalf("%s: %d golden inputs, %d observables files", provider, len(inputs), len(obsFiles))
		}
		for _, in := range inputs {
			t.Run(provider+"/"+filepath.Base(in), func(t *testing.T) {
				env, raw, expected := goldenEnvelope(t, provider, in)
				c, _, reason, err := n.Normalize(env)
				if err != nil {
					t.Fatalf("%s: %v", reason, err)
				}
				var ev map[string]any
				if err := json.Unmarshal(c.JSON, &ev); err != nil {
					t.Fatal(err)
				}
				got := ev["observables"]
				if got == nil {
					got = []any{}
				}
				delete(ev, "observables")
				rest, err := json.Marshal(ev)
				if err != nil {
					t.Fatal(err)
				}
				assertGolden(t, rest, raw, expected) // only observables were added
				obsPath := strings.Replace(expected, ".expected.json", ".observables.expected.json", 1)
				wantB, err := os.ReadFile(obsPath)
				if os.IsNotExist(err) {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				var want any
				if err := json.Unmarshal(wantB, &want); err != nil {
					t.Fatalf("%s: %v", obsPath, err)
				}
				if !reflect.DeepEqual(got, want) {
					g, _ := json.MarshalIndent(got, "", "  ")
					t.Errorf("observables differ from %s:\n got: %s", obsPath, g)
				}
			})
		}
	}
}
