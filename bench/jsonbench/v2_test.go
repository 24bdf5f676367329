//go:build goexperiment.jsonv2

package jsonbench

import (
	jsonv2 "encoding/json/v2"
	"testing"
)

// BenchmarkV2: encoding/json/v2 (GOEXPERIMENT=jsonv2).
func BenchmarkV2(b *testing.B) {
	run(b, structLib(func(in []byte, v any) error { return jsonv2.Unmarshal(in, v) },
		func(v any) ([]byte, error) { return jsonv2.Marshal(v) }))
}
