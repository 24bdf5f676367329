package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// The zone travels with a record; an envelope without one (every record written before the
// field existed, and every record of a poller without a zone) keeps its exact bytes, and
// the record id never depends on it.
func TestEnvelopeZone(t *testing.T) {
	plain := validEnvelope()
	before, err := plain.Encode()
	if err != nil {
		t.Fatal(err)
	}
	// The bytes of a zone-less envelope, as written before the field existed.
	const old = `{"v":1,"id":"` + "%s" + `","provider":"ionos","tenant":"1","entity":"1","poller":"p","fetched_at":"2026-11-21T10:00:00.123Z","occurrence":1,"content_type":"application/json","record":{"@uuid":"u-1"}}`
	if want := []byte(fmt.Sprintf(old, plain.ID)); !bytes.Equal(before, want) {
		t.Fatalf("zone-less envelope changed:\n got %s\nwant %s", before, want)
	}
	old1, err := DecodeEnvelope(before)
	if err != nil {
		t.Fatal(err)
	}
	if old1.Zone != "" {
		t.Fatalf("zone-less envelope decoded with zone %q", old1.Zone)
	}

	zoned := validEnvelope()
	zoned.Zone = "America/Argentina/Buenos_Aires"
	b, err := zoned.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"content_type":"application/json","zone":"America/Argentina/Buenos_Aires","record":`)) {
		t.Fatalf("zone not written: %s", b)
	}
	if err := MustLoad(EnvelopeSchema).ValidateJSON(b); err != nil {
		t.Fatalf("zoned envelope fails the JSON Schema: %v", err)
	}
	got, err := DecodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Zone != zoned.Zone || got.ID != plain.ID {
		t.Fatalf("decoded zone %q id %s, want %q %s", got.Zone, got.ID, zoned.Zone, plain.ID)
	}
	// A null zone reads as none (as encoding/json would), like every string field.
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["zone"] = nil
	nb, _ := json.Marshal(m)
	if got, err := DecodeEnvelope(nb); err != nil || got.Zone != "" {
		t.Fatalf("null zone: %v %+v", err, got)
	}

	schema := MustLoad(EnvelopeSchema)
	for _, bad := range []any{"", "Europe/../etc", "Europe Berlin", 5, "/Europe", string(bytes.Repeat([]byte("a"), 65))} {
		m["zone"] = bad
		in, _ := json.Marshal(m)
		if _, err := DecodeEnvelope(in); err == nil && bad != "" {
			t.Errorf("zone %v: accepted", bad)
		}
		if err := schema.ValidateJSON(in); err == nil {
			t.Errorf("zone %v: the JSON Schema accepted it", bad)
		}
	}
	for _, good := range []string{"UTC", "Etc/GMT+5", "America/Port-au-Prince", "Europe/Berlin"} {
		m["zone"] = good
		in, _ := json.Marshal(m)
		if _, err := DecodeEnvelope(in); err != nil {
			t.Errorf("zone %s: %v", good, err)
		}
		if err := schema.ValidateJSON(in); err != nil {
			t.Errorf("zone %s: the JSON Schema refused it: %v", good, err)
		}
	}
}

// Decoding a zoned envelope costs what a zone-less one does (one more string field).
func BenchmarkDecodeEnvelopeZone(b *testing.B) {
	e := validEnvelope()
	e.Zone = "Europe/Berlin"
	in, err := e.Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		env, err := DecodeEnvelope(in)
		if err != nil {
			b.Fatal(err)
		}
		env.Release()
	}
}
