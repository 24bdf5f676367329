// Package projectiontest holds the canonical events the projection goldens start from,
// with the routing fields a sink receives from the record headers.
package projectiontest

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/auditstream/auditstream/sinks"
)

//go:embed testdata/*.ocsf.json
var files embed.FS

// Fixture names, in a stable order.
var Names = []string{"api_create", "api_denied", "auth_logon", "escapes"}

var routing = map[string]sinks.Event{
	"api_create": {ID: "2d3079a5-6c2f-5490-b13b-100a12a10241", Time: time.UnixMilli(1474632172394).UTC(), ClassUID: 6003, Provider: "ionos", Tenant: "31721060"},
	"api_denied": {ID: "0c832ca7-d6df-5194-8dab-5e00af3f5358", Time: time.UnixMilli(1795255200500).UTC(), ClassUID: 6003, Provider: "ionos", Tenant: "31721060"},
	"auth_logon": {ID: "f16bedf9-84dd-5c7b-b4d6-2aac48182f89", Time: time.UnixMilli(1769903999999).UTC(), ClassUID: 3002, Provider: "ecgrid", Tenant: "100"},
	"escapes":    {ID: "9b2f0c4e-0000-5000-8000-000000000001", Time: time.UnixMilli(1795255200000).UTC(), ClassUID: 6003, Provider: "ionos", Tenant: "t|1"},
}

// Event returns the named fixture as a sink receives it.
func Event(name string) sinks.Event {
	ev, ok := routing[name]
	if !ok {
		panic(fmt.Sprintf("projectiontest: no fixture %q", name))
	}
	b, err := files.ReadFile("testdata/" + name + ".ocsf.json")
	if err != nil {
		panic(err)
	}
	ev.Value = b
	ev.Key = []byte(ev.Tenant)
	return ev
}

// Batch returns n events cycling through the fixtures, each with its own id (for
// benchmarks and store tests that count documents by id).
func Batch(n int, idPrefix string) []sinks.Event {
	out := make([]sinks.Event, n)
	for i := range out {
		ev := Event(Names[i%(len(Names)-1)]) // the escapes fixture is for the escapers only
		ev.ID = fmt.Sprintf("%s-%06d", idPrefix, i)
		out[i] = ev
	}
	return out
}

// JSONEqual fails t unless got and want are the same JSON value (key order and spacing
// aside).
func JSONEqual(t testing.TB, name string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: output is not JSON: %v\n%s", name, err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: golden is not JSON: %v", name, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: output differs from golden\n got: %s\nwant: %s", name, got, compact(want))
	}
}

// Goldens runs one subtest per fixture of names: enc projects the fixture and check compares the output with the golden
// testdata/<name><ext> (JSONEqual when check is nil).
func Goldens(t *testing.T, names []string, ext string, enc func(dst []byte, ev sinks.Event) ([]byte, error), check func(t *testing.T, name string, got, want []byte)) {
	t.Helper()
	if check == nil {
		check = func(t *testing.T, name string, got, want []byte) { JSONEqual(t, name, got, want) }
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			got, err := enc(nil, Event(name))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile("testdata/" + name + ext)
			if err != nil {
				t.Fatal(err)
			}
			check(t, name, got, want)
		})
	}
}

func compact(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

// BenchEncode benchmarks enc on batches of 500 fixture events, reporting events/s.
func BenchEncode(b *testing.B, enc func(dst []byte, ev sinks.Event) ([]byte, error)) {
	batch := Batch(500, "bench")
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for _, ev := range batch {
			var err error
			if buf, err = enc(buf, ev); err != nil {
				b.Fatal(err)
			}
			buf = append(buf, '\n')
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}
