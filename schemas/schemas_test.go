package schemas

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func validEnvelope() Envelope {
	return Envelope{V: 1, ID: RecordID("ionos", "1", "1", "u-1", 1), Provider: "ionos", Tenant: "1", Entity: "1",
		Poller: "p", FetchedAt: time.Date(2026, 11, 21, 10, 0, 0, 123e6, time.UTC), Occurrence: 1,
		ContentType: ContentJSON, Record: json.RawMessage(`{"@uuid":"u-1"}`)}
}

func TestRecordIDIsDeterministicAndDistinct(t *testing.T) {
	a := RecordID("ionos", "1", "1", "u-1", 1)
	if a != RecordID("ionos", "1", "1", "u-1", 1) {
		t.Fatal("same inputs, different ids")
	}
	// Every part of the tuple matters; the JSON array framing keeps "a/b"+"c" apart from "a"+"b/c".
	for _, other := range []string{
		RecordID("ionos", "1", "1", "u-1", 2), RecordID("ionos", "1", "2", "u-1", 1),
		RecordID("ionos", "2", "1", "u-1", 1), RecordID("conga", "1", "1", "u-1", 1),
		RecordID("ionos", "1", "1u-", "1", 1), RecordID("ionos", "11", "", "u-1", 1),
	} {
		if other == a {
			t.Fatal("different inputs share an id")
		}
	}
	if len(a) != 64 {
		t.Fatalf("id %q is not 64 hex chars", a)
	}
	// The id is SHA-256 over ["v1",provider,tenant,entity,native,occurrence] (the documented contract);
	// the expected value was computed outside this code:
	// printf '%s' '["v1","ionos","1","1","u-1",1]' | sha256sum
	if want := "d38f45e50aac2341ad6c71b6fc5744127b27fd6f7fd3d14542b8f21577da063f"; a != want {
		t.Fatalf("RecordID = %s, want %s", a, want)
	}
}

func TestEventIDIsUUIDv5OfRecordID(t *testing.T) {
	id := EventID(RecordID("ionos", "1", "1", "u-1", 1))
	if len(id) != 36 || id[14] != '5' {
		t.Fatalf("event id %q is not a UUIDv5", id)
	}
	if id != EventID(RecordID("ionos", "1", "1", "u-1", 1)) {
		t.Fatal("not deterministic")
	}
}

func TestFingerprintIgnoresKeyOrderAndSpace(t *testing.T) {
	a, err := Fingerprint([]byte(`{"a":1,"b":{"c":[1,2],"d":"x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Fingerprint([]byte("{ \"b\": {\"d\":\"x\", \"c\":[1, 2]},\n \"a\":1 }"))
	c, _ := Fingerprint([]byte(`{"a":1,"b":{"c":[2,1],"d":"x"}}`))
	if a != b {
		t.Fatal("key order or white space changed the fingerprint")
	}
	if a == c {
		t.Fatal("array order did not change the fingerprint")
	}
	// Large numbers keep their digits (no float rounding).
	x, _ := Fingerprint([]byte(`{"n":12345678901234567890}`))
	y, _ := Fingerprint([]byte(`{"n":12345678901234567891}`))
	if x == y {
		t.Fatal("big numbers collapsed")
	}
}

func TestDecodeEnvelope(t *testing.T) {
	good := validEnvelope()
	b, err := good.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeEnvelope(b); err != nil {
		t.Fatal(err)
	}
	if err := MustLoad(EnvelopeSchema).ValidateJSON(b); err != nil {
		t.Fatalf("a valid envelope fails the JSON Schema: %v", err)
	}
	mut := func(f func(m map[string]any)) []byte {
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		f(m)
		out, _ := json.Marshal(m)
		return out
	}
	cases := map[string][]byte{
		"not json":          []byte(`{`),
		"wrong version":     mut(func(m map[string]any) { m["v"] = 2 }),
		"short id":          mut(func(m map[string]any) { m["id"] = "abc" }),
		"no provider":       mut(func(m map[string]any) { delete(m, "provider") }),
		"occurrence 0":      mut(func(m map[string]any) { m["occurrence"] = 0 }),
		"unknown field":     mut(func(m map[string]any) { m["extra"] = 1 }),
		"bad content type":  mut(func(m map[string]any) { m["content_type"] = "text/plain" }),
		"xml not a string":  mut(func(m map[string]any) { m["content_type"] = ContentXML }),
		"no fetched_at":     mut(func(m map[string]any) { delete(m, "fetched_at") }),
		"trailing data":     append(append([]byte{}, b...), []byte(` {}`)...),
		"record missing":    mut(func(m map[string]any) { delete(m, "record") }),
		"empty object":      []byte(`{}`),
		"array":             []byte(`[]`),
		"oversized garbage": []byte(strings.Repeat(" ", MaxEnvelopeBytes+1)),
	}
	schema := MustLoad(EnvelopeSchema)
	for name, in := range cases {
		if _, err := DecodeEnvelope(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if name != "trailing data" && name != "oversized garbage" && name != "not json" {
			if err := schema.ValidateJSON(in); err == nil {
				t.Errorf("%s: the JSON Schema accepted it", name)
			}
		}
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	e := validEnvelope()
	b, _ := json.Marshal(e)
	f.Add(b)
	e.ContentType, e.Record = ContentXML, json.RawMessage(`"<a/>"`)
	b, _ = json.Marshal(e)
	f.Add(b)
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		env, err := DecodeEnvelope(in)
		if err != nil {
			return
		}
		// Whatever is accepted re-encodes to something accepted again.
		out, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeEnvelope(out); err != nil {
			t.Fatalf("accepted %q but not its re-encoding: %v", in, err)
		}
		// Check (which the poller runs instead of the JSON Schema) never lets through what
		// the schema refuses: what Encode writes of an accepted envelope passes the schema.
		enc, err := env.Encode()
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", in, err)
		}
		if err := MustLoad(EnvelopeSchema).ValidateJSON(enc); err != nil {
			t.Fatalf("accepted %q, its encoding %s fails the schema: %v", in, enc, err)
		}
	})
}

func TestEncodeKeepsTheRecordBytes(t *testing.T) {
	e := validEnvelope()
	e.Record = json.RawMessage("{ \"b\": \"<&>\",\n  \"a\": 1 }")
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Record) != string(e.Record) {
		t.Fatalf("record changed: %q -> %q", e.Record, got.Record)
	}
	e.Record = json.RawMessage(`{bad`)
	if _, err := e.Encode(); err == nil {
		t.Fatal("invalid record encoded")
	}
}

func TestSchemasCompile(t *testing.T) {
	for _, n := range []string{EnvelopeSchema, EventSchema} {
		if _, err := Load(n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Load("nope.json"); err == nil {
		t.Fatal("unknown schema loaded")
	}
}

func TestEventIDMatchesUUIDv5(t *testing.T) {
	for _, rid := range []string{RecordID("ionos", "1", "1", "u-1", 1), "", "x", strings.Repeat("ab", 100)} {
		if got, want := EventID(rid), uuid.NewSHA1(eventNS, []byte(rid)).String(); got != want {
			t.Fatalf("EventID(%q) = %s, want %s", rid, got, want)
		}
	}
}

// What the poller runs per record: Check + Encode (BenchmarkEnvelopeCheckEncode), against
// what it ran before: Encode + the full JSON Schema (BenchmarkEnvelopeSchema).
func benchEnvelope(b *testing.B, schema bool) {
	e := validEnvelope()
	e.Record = json.RawMessage(`{"@uuid":"c1b9b1b0-7b1b-11e6-9a41-000d3a002f99","meta":{"auditVersion":"0.1","time":"2016-09-23T12:02:52.394Z"},"principal":{"sourceIP":"203.0.113.42","identity":{"contractNumber":"31721060","username":"user@example.com"},"sourceService":"ExampleService"},"event":{"param":{},"resources":[{"action":["sec.user.create"],"id":"1466","type":"user"}],"type":"RequestAccepted"}}`)
	v := MustLoad(EnvelopeSchema)
	b.ReportAllocs()
	for b.Loop() {
		if !schema {
			if err := e.Check(); err != nil {
				b.Fatal(err)
			}
		}
		out, err := e.Encode()
		if err != nil {
			b.Fatal(err)
		}
		if schema {
			if err := v.ValidateJSON(out); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkEnvelopeCheckEncode(b *testing.B) { benchEnvelope(b, false) }
func BenchmarkEnvelopeSchema(b *testing.B)      { benchEnvelope(b, true) }
