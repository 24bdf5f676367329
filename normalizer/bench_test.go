package normalizer

import (
	"os"
	"testing"

	"github.com/auditstream/auditstream/schemas"
)

// BenchmarkNormalizeIONOS: decode envelope + map + JSON Schema validation of one event.
func BenchmarkNormalizeIONOS(b *testing.B) {
	raw, err := os.ReadFile("testdata/ionos/denied_drift.input.json")
	if err != nil {
		b.Fatal(err)
	}
	env := envelopeFor(b, "ionos", "31721060", "31721060", "x", schemas.ContentJSON, raw)
	n := testNormalizer(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(env)))
	for b.Loop() {
		if _, _, _, err := n.Normalize(env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateEvent: the JSON Schema check alone (OCSF 1.8.0 rules).
func BenchmarkValidateEvent(b *testing.B) {
	raw, _ := os.ReadFile("testdata/ionos/denied_drift.input.json")
	n := testNormalizer(b)
	c, _, _, err := n.Normalize(envelopeFor(b, "ionos", "31721060", "31721060", "x", schemas.ContentJSON, raw))
	if err != nil {
		b.Fatal(err)
	}
	v := schemas.MustLoad(schemas.EventSchema)
	b.ReportAllocs()
	for b.Loop() {
		if err := v.ValidateJSON(c.JSON); err != nil {
			b.Fatal(err)
		}
	}
}
