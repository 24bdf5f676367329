package ecs_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/projection/ecs"
	"github.com/auditstream/auditstream/sinks/projection/projectiontest"
)

// The goldens in testdata/ were written by hand from the mapping table in the package doc.
func TestGoldens(t *testing.T) {
	projectiontest.Goldens(t, projectiontest.Names, ".ecs.json", func(dst []byte, ev sinks.Event) ([]byte, error) {
		return ecs.Append(dst, ev, ecs.Options{})
	}, nil)
}

func TestKeepsOCSFWhenConfigured(t *testing.T) {
	ev := projectiontest.Event("api_create")
	got, err := ecs.Append([]byte("prefix "), ev, ecs.Options{OCSFField: "ocsf"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, []byte("prefix ")) {
		t.Fatalf("Append must append to dst: %q", got)
	}
	var doc struct {
		Event struct{ ID string } `json:"event"`
		OCSF  json.RawMessage     `json:"ocsf"`
	}
	if err := json.Unmarshal(got[len("prefix "):], &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	projectiontest.JSONEqual(t, "ocsf", doc.OCSF, ev.Value)
	if doc.Event.ID != ev.ID {
		t.Errorf("event.id = %q", doc.Event.ID)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, f := range []string{"", "ocsf", "raw_event"} {
		if err := (ecs.Options{OCSFField: f}).Validate(); err != nil {
			t.Errorf("%q: %v", f, err)
		}
	}
	for _, f := range []string{"@x", "a\"b", "Ocsf", "a.b"} {
		if err := (ecs.Options{OCSFField: f}).Validate(); err == nil {
			t.Errorf("%q accepted", f)
		}
	}
}

func TestNotJSONIsAnError(t *testing.T) {
	ev := projectiontest.Event("api_create")
	ev.Value = []byte("{not json")
	if _, err := ecs.Append(nil, ev, ecs.Options{}); err == nil {
		t.Fatal("no error")
	}
}

func BenchmarkProjectionECS(b *testing.B) {
	projectiontest.BenchEncode(b, func(dst []byte, ev sinks.Event) ([]byte, error) { return ecs.Append(dst, ev, ecs.Options{}) })
}
