package jsonbench

import (
	"testing"

	gojson "github.com/goccy/go-json"
)

// BenchmarkGoccy: github.com/goccy/go-json.
func BenchmarkGoccy(b *testing.B) { run(b, structLib(gojson.Unmarshal, gojson.Marshal)) }
