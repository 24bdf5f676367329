package normalizer

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/auditstream/auditstream/schemas"
)

// fuzzMap maps one envelope the way the normalizer does (with normalizer.observables on)
// but without its recover (a mapper panic fails the fuzz run) and checks what comes out: the event passes the invariants,
// the full OCSF JSON Schema, and AppendJSON writes what encoding/json would. It returns the
// event's JSON, or nil when the mapper refused the entry with an error.
func fuzzMap(t *testing.T, mp Mapper, value []byte) []byte {
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
	if _, err := finish(ev, env, schemas.EventID(env.ID), goldenProcessed, true); err != nil {
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
