package jsonbench

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	conga "github.com/auditstream/auditstream/pollers/conga/mapping"
	constellation1 "github.com/auditstream/auditstream/pollers/constellation1/mapping"
	ecgrid "github.com/auditstream/auditstream/pollers/ecgrid/mapping"
	ionos "github.com/auditstream/auditstream/pollers/ionos/mapping"
	signinghub "github.com/auditstream/auditstream/pollers/signinghub/mapping"
	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/mapkit"
	"github.com/auditstream/auditstream/schemas/ocsf"
)

// sample is one provider's raw envelope and the canonical event it maps to.
type sample struct {
	provider string
	envelope []byte
	event    ocsf.Event
}

// corpus: one golden entry per provider (the e-signature ones shaped like the vendors'
// published examples).
var corpusFiles = []struct{ provider, path, contentType string }{
	{"ionos", "../../pollers/ionos/mapping/testdata/seed.input.json", schemas.ContentJSON},
	{"ecgrid", "../../pollers/ecgrid/mapping/testdata/seed.input.xml", schemas.ContentXML},
	{"conga", "../../pollers/conga/mapping/testdata/view.input.json", schemas.ContentJSON},
	{"signinghub", "../../pollers/signinghub/mapping/testdata/shared.input.json", schemas.ContentJSON},
	{"constellation1", "../../pollers/constellation1/mapping/testdata/viewed.input.json", schemas.ContentJSON},
}

// mappers are the five providers' mappings.
var mappers = map[string]mapkit.Mapper{"ionos": ionos.Mapper{}, "ecgrid": ecgrid.Mapper{}, "conga": conga.Mapper,
	"signinghub": signinghub.Mapper, "constellation1": constellation1.Mapper}

func corpus(b *testing.B) []sample {
	var out []sample
	for _, f := range corpusFiles {
		raw, err := os.ReadFile(f.path)
		if err != nil {
			b.Fatal(err)
		}
		rec := json.RawMessage(raw)
		if f.contentType == schemas.ContentXML {
			rec, _ = json.Marshal(string(raw))
		}
		env := schemas.Envelope{V: 1, ID: schemas.RecordID(f.provider, "t", "e", "n", 1), Provider: f.provider, Tenant: "t",
			Entity: "e", EntityName: "Sales contract", Poller: "bench", FetchedAt: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC),
			Occurrence: 1, ContentType: f.contentType, Record: rec}
		b1, err := env.Encode()
		if err != nil {
			b.Fatal(err)
		}
		dec, err := schemas.DecodeEnvelope(b1)
		if err != nil {
			b.Fatal(err)
		}
		ev, err := mappers[f.provider].Map(dec, time.UTC)
		if err != nil {
			b.Fatal(err)
		}
		ev.EventBase().RawData = string(raw)
		ev.Derive()
		out = append(out, sample{f.provider, b1, ev})
	}
	return out
}

// envelopeV1 is the envelope as the struct-decoding libraries read it.
type envelopeV1 struct {
	V           int             `json:"v"`
	ID          string          `json:"id"`
	Provider    string          `json:"provider"`
	Tenant      string          `json:"tenant"`
	Entity      string          `json:"entity"`
	EntityName  string          `json:"entity_name"`
	Poller      string          `json:"poller"`
	FetchedAt   time.Time       `json:"fetched_at"`
	Occurrence  int             `json:"occurrence"`
	ContentType string          `json:"content_type"`
	Record      json.RawMessage `json:"record"`
}

// lib is one library's decode (envelope, then the entry into a generic value) and
// encode (the canonical event).
type lib struct {
	decode func(env []byte) error
	encode func(ev ocsf.Event) ([]byte, error)
}

func run(b *testing.B, l lib) {
	for _, s := range corpus(b) {
		b.Run(s.provider, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s.envelope)))
			for b.Loop() {
				if err := l.decode(s.envelope); err != nil {
					b.Fatal(err)
				}
				if _, err := l.encode(s.event); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// structLib is a library that decodes into Go values: the envelope into envelopeV1, the
// entry into a generic value; the event is marshalled.
func structLib(unmarshal func([]byte, any) error, marshal func(any) ([]byte, error)) lib {
	return lib{
		decode: func(in []byte) error {
			var e envelopeV1
			if err := unmarshal(in, &e); err != nil {
				return err
			}
			var v any
			return unmarshal(e.Record, &v)
		},
		encode: func(ev ocsf.Event) ([]byte, error) { return marshal(ev) },
	}
}

// BenchmarkStd: encoding/json (v1).
func BenchmarkStd(b *testing.B) { run(b, structLib(json.Unmarshal, json.Marshal)) }

// BenchmarkJSONX: what the normalizer does — one jsonx pass over envelope and entry
// (fields read from the index by the mappers), the generated reflection-free encoder into
// a reused buffer.
func BenchmarkJSONX(b *testing.B) {
	var buf []byte
	run(b, lib{
		decode: func(in []byte) error {
			e, err := schemas.DecodeEnvelope(in)
			if err != nil {
				return err
			}
			e.Release()
			return nil
		},
		encode: func(ev ocsf.Event) ([]byte, error) { buf = ev.AppendJSON(buf[:0]); return buf, nil },
	})
}
