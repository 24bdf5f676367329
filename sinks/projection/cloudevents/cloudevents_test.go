package cloudevents_test

import (
	"os"
	"testing"

	"github.com/auditstream/auditstream/sinks/projection/cloudevents"
	"github.com/auditstream/auditstream/sinks/projection/projectiontest"
)

// The goldens in testdata/ were written by hand from the CloudEvents 1.0 JSON format: the
// normalizer's binary-mode attributes, with the fixture's OCSF event as data.
func TestGoldens(t *testing.T) {
	for _, name := range []string{"api_create", "api_denied", "auth_logon"} {
		t.Run(name, func(t *testing.T) {
			got, err := cloudevents.Append(nil, projectiontest.Event(name))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile("testdata/" + name + ".ce.json")
			if err != nil {
				t.Fatal(err)
			}
			projectiontest.JSONEqual(t, name, got, want)
		})
	}
}

func BenchmarkProjectionCloudEvents(b *testing.B) {
	projectiontest.BenchEncode(b, cloudevents.Append)
}
