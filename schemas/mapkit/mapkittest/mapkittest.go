// Package mapkittest is what every provider mapping's tests share: envelopes built as the
// pollers build them, the normalizer's mapping path in one call (map, Finish, encode, the
// full OCSF JSON Schema), the hand-written goldens, and the fuzz check.
package mapkittest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/mapkit"
)

var (
	// Fetched is every golden envelope's fetched_at (metadata.logged_time).
	Fetched = time.Date(2026, 11, 21, 10, 0, 5, 0, time.UTC)
	// Processed is every golden event's metadata.processed_time.
	Processed = time.Date(2026, 11, 21, 10, 0, 6, 0, time.UTC)
)

// Envelope wraps a record as a poller does (an XML record travels as a JSON string).
func Envelope(t testing.TB, provider, tenant, entity, nativeID, contentType string, record []byte) []byte {
	t.Helper()
	rec := json.RawMessage(record)
	if contentType == schemas.ContentXML {
		b, _ := json.Marshal(string(record))
		rec = b
	}
	env := schemas.Envelope{V: 1, ID: schemas.RecordID(provider, tenant, entity, nativeID, 1), Provider: provider, Tenant: tenant,
		Entity: entity, Poller: "golden", FetchedAt: Fetched, Occurrence: 1, ContentType: contentType, Record: rec}
	b, err := env.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ESignEnvelope wraps an e-signature entry as its poller does: tenant = the account,
// entity = the package (or signing session) id, entity_name = its display name.
func ESignEnvelope(t testing.TB, provider, nativeID string, record []byte) []byte {
	t.Helper()
	env := schemas.Envelope{V: 1, ID: schemas.RecordID(provider, "acct-1", "pkg-1", nativeID, 1), Provider: provider,
		Tenant: "acct-1", Entity: "pkg-1", EntityName: "Sales contract 105", Poller: "golden", FetchedAt: Fetched,
		Occurrence: 1, ContentType: schemas.ContentJSON, Record: record}
	b, err := env.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Normalize maps one envelope the way the normalizer does (map, Finish with the golden
// processed time, encode), without its recover (a mapper panic fails the test), and
// checks the event against the full OCSF JSON Schema. A mapping refusal is returned as
// the error; an event that breaks the invariants or the schema fails the test.
func Normalize(t testing.TB, mp mapkit.Mapper, value []byte, zone *time.Location, observables bool) ([]byte, error) {
	t.Helper()
	env, err := schemas.DecodeEnvelope(value)
	if err != nil {
		t.Fatalf("test envelope: %v", err)
	}
	defer env.Release()
	ev, err := mp.Map(env, zone)
	if err != nil {
		return nil, err
	}
	if ev == nil {
		t.Fatal("mapper returned neither an event nor an error")
	}
	defer ev.Release()
	if _, err := mapkit.Finish(ev, env, schemas.EventID(env.ID), Processed, observables); err != nil {
		if ie := (*mapkit.InvariantError)(nil); errors.As(err, &ie) {
			t.Fatalf("mapped event breaks the OCSF invariants: %v", err)
		}
		return nil, err
	}
	b := ev.AppendJSON(nil)
	if err := schemas.MustLoad(schemas.EventSchema).ValidateJSON(b); err != nil {
		t.Fatalf("mapped event does not match the OCSF schema: %v\n%s", err, b)
	}
	return b, nil
}

// Fuzz is Normalize with observables on, plus: AppendJSON writes what encoding/json
// would. It returns the event's JSON, or nil when the mapper refused the entry.
func Fuzz(t *testing.T, mp mapkit.Mapper, value []byte) []byte {
	t.Helper()
	env, err := schemas.DecodeEnvelope(value)
	if err != nil {
		t.Fatalf("test envelope: %v", err)
	}
	ev, err := mp.Map(env, time.UTC)
	if err != nil {
		return nil
	}
	if ev == nil {
		t.Fatal("mapper returned neither an event nor an error")
	}
	if _, err := mapkit.Finish(ev, env, schemas.EventID(env.ID), Processed, true); err != nil {
		t.Fatalf("mapped event breaks the OCSF invariants: %v", err)
	}
	b := ev.AppendJSON(nil)
	if err := schemas.MustLoad(schemas.EventSchema).ValidateJSON(b); err != nil {
		t.Fatalf("mapped event does not match the OCSF schema: %v\n%s", err, b)
	}
	std, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("AppendJSON wrote invalid JSON: %v\n%s", err, b)
	}
	if err := json.Unmarshal(std, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("AppendJSON and encoding/json differ:\n%s\n%s", b, std)
	}
	return b
}

// Golden is one provider's golden set: testdata/<name>.input.{json,xml} with the
// hand-written testdata/<name>.expected.json and, for some, <name>.observables.expected.json.
type Golden struct {
	Mapper mapkit.Mapper
	// Zone reads the provider's zone-less timestamps (nil: UTC).
	Zone *time.Location
	// Envelope wraps an input as the provider's poller does; raw is the raw_data the event
	// must carry.
	Envelope func(t testing.TB, name string, input []byte) (env []byte, raw string)
}

// Check maps every golden input twice: with observables off the event must equal its
// expected file (raw_data compared with the input), with them on the same plus the
// observables of <name>.observables.expected.json where one exists. At least three inputs
// and one observables file are required.
func (g Golden) Check(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/*.input.*")
	obsFiles, _ := filepath.Glob("testdata/*.observables.expected.json")
	if len(inputs) < 3 || len(obsFiles) < 1 {
		t.Fatalf("%d golden inputs, %d observables files", len(inputs), len(obsFiles))
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), filepath.Ext(in))
		name = strings.TrimSuffix(name, ".input")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			env, raw := g.Envelope(t, name, b)
			expected := filepath.Join("testdata", name+".expected.json")
			ev, err := Normalize(t, g.Mapper, env, g.Zone, false)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(ev, []byte(`"observables"`)) {
				t.Error("observables off, yet the event lists some")
			}
			AssertGolden(t, ev, raw, expected)
			ev, err = Normalize(t, g.Mapper, env, g.Zone, true)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(ev, &m); err != nil {
				t.Fatal(err)
			}
			got := m["observables"]
			if got == nil {
				got = []any{}
			}
			delete(m, "observables")
			rest, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			AssertGolden(t, rest, raw, expected) // only observables were added
			obsPath := filepath.Join("testdata", name+".observables.expected.json")
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

// AssertGolden compares a canonical event with a hand-written expected file: raw_data
// must be the entry as received (wantRaw), everything else must equal the file.
func AssertGolden(t *testing.T, event []byte, wantRaw, expectedPath string) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(event, &got); err != nil {
		t.Fatal(err)
	}
	if got["raw_data"] != wantRaw {
		t.Errorf("raw_data is not the entry as received: %v", got["raw_data"])
	}
	delete(got, "raw_data")
	wantB, err := os.ReadFile(expectedPath)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(wantB, &want); err != nil {
		t.Fatalf("%s: %v", expectedPath, err)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("mapping differs from %s:\n got: %s", expectedPath, g)
	}
}

// Refused checks that the mapper refuses each record (an error, not an event).
func Refused(t *testing.T, mp mapkit.Mapper, cases map[string][]byte) {
	t.Helper()
	for name, env := range cases {
		if ev, err := Normalize(t, mp, env, time.UTC, false); err == nil {
			t.Errorf("%s: mapped to %s, want a refusal", name, ev)
		}
	}
}

// RefusedInputs reads testdata/<name>.refused.json: each file one entry the mapping must
// refuse (a dead letter), by name. At least one is required.
func RefusedInputs(t testing.TB) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob("testdata/*.refused.json")
	if len(files) == 0 {
		t.Fatal("no testdata/*.refused.json")
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".refused.json")] = bytes.TrimSpace(b)
	}
	return out
}

// SeedCorpus adds every golden input and every refused entry to a fuzz corpus.
func SeedCorpus(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/*.input.*")
	refused, _ := filepath.Glob("testdata/*.refused.*")
	for _, in := range append(inputs, refused...) {
		b, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// ESign checks an e-signature mapping: its goldens (entries wrapped by ESignEnvelope,
// zone-less times in zone) and that it refuses each testdata/*.refused.json.
func ESign(t *testing.T, provider string, mp mapkit.Mapper, zone *time.Location) {
	t.Run("golden", Golden{Mapper: mp, Zone: zone, Envelope: func(t testing.TB, name string, b []byte) ([]byte, string) {
		return ESignEnvelope(t, provider, name, b), string(bytes.TrimSpace(b))
	}}.Check)
	cases := map[string][]byte{}
	for name, rec := range RefusedInputs(t) {
		cases[name] = ESignEnvelope(t, provider, "x", rec)
	}
	Refused(t, mp, cases)
}

// FuzzESign feeds any JSON value to an e-signature mapping (directly: a panic fails),
// seeded with its golden inputs and refused entries.
func FuzzESign(f *testing.F, provider string, mp mapkit.Mapper) {
	SeedCorpus(f)
	f.Fuzz(func(t *testing.T, rec []byte) {
		if !json.Valid(rec) {
			return
		}
		Fuzz(t, mp, ESignEnvelope(t, provider, "x", rec))
	})
}
