//go:build goexperiment.jsonv2

package jsonbench

import (
	jsonv2 "encoding/json/v2"
	"testing"

	"github.com/auditstream/auditstream/normalizer/ocsf"
)

// BenchmarkV2: encoding/json/v2 (GOEXPERIMENT=jsonv2).
func BenchmarkV2(b *testing.B) {
	run(b, lib{
		decode: func(in []byte) error {
			var e envelopeV1
			if err := jsonv2.Unmarshal(in, &e); err != nil {
				return err
			}
			var v any
			return jsonv2.Unmarshal(e.Record, &v)
		},
		encode: func(ev ocsf.Event) ([]byte, error) { return jsonv2.Marshal(ev) },
	})
}
