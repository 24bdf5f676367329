package jsonbench

import (
	"testing"

	gojson "github.com/goccy/go-json"

	"github.com/auditstream/auditstream/normalizer/ocsf"
)

// BenchmarkGoccy: github.com/goccy/go-json.
func BenchmarkGoccy(b *testing.B) {
	run(b, lib{
		decode: func(in []byte) error {
			var e envelopeV1
			if err := gojson.Unmarshal(in, &e); err != nil {
				return err
			}
			var v any
			return gojson.Unmarshal(e.Record, &v)
		},
		encode: func(ev ocsf.Event) ([]byte, error) { return gojson.Marshal(ev) },
	})
}
