package hec_test

import (
	"testing"
	"time"

	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/projection/hec"
	"github.com/auditstream/auditstream/sinks/projection/projectiontest"
)

// The goldens in testdata/ were written by hand: the envelope around the fixture's OCSF
// event, as the HEC documentation describes it.
func TestGoldens(t *testing.T) {
	for name, opt := range map[string]hec.Options{
		"api_create": {Host: "auditstream-1", Source: "auditstream:ionos", Sourcetype: "ocsf:json", Index: "audit"},
		"auth_logon": {},
	} {
		projectiontest.Goldens(t, []string{name}, ".hec.json", func(dst []byte, ev sinks.Event) ([]byte, error) {
			return hec.Append(dst, ev, ev.Value, opt)
		}, nil)
	}
}

func TestTime(t *testing.T) {
	for ms, want := range map[int64]string{
		1795255200500: "1795255200.500", 1795255200000: "1795255200.000", 1795255200007: "1795255200.007",
		0: "0.000", -1500: "-1.500",
	} {
		if got := hec.Time(time.UnixMilli(ms)); got != want {
			t.Errorf("Time(%d ms) = %s, want %s", ms, got, want)
		}
	}
}

func TestBodyMustBeJSON(t *testing.T) {
	ev := projectiontest.Event("api_create")
	if _, err := hec.Append(nil, ev, []byte("{oops"), hec.Options{}); err == nil {
		t.Fatal("no error for a body that is not JSON")
	}
}

func BenchmarkProjectionHEC(b *testing.B) {
	projectiontest.BenchEncode(b, func(dst []byte, ev sinks.Event) ([]byte, error) {
		return hec.Append(dst, ev, ev.Value, hec.Options{Sourcetype: "ocsf:json"})
	})
}
