package cloudevents_test

import (
	"testing"

	"github.com/auditstream/auditstream/sinks/projection/cloudevents"
	"github.com/auditstream/auditstream/sinks/projection/projectiontest"
)

// The goldens in testdata/ were written by hand from the CloudEvents 1.0 JSON format: the
// normalizer's binary-mode attributes, with the fixture's OCSF event as data.
func TestGoldens(t *testing.T) {
	projectiontest.Goldens(t, []string{"api_create", "api_denied", "auth_logon"}, ".ce.json", cloudevents.Append, nil)
}

func BenchmarkProjectionCloudEvents(b *testing.B) {
	projectiontest.BenchEncode(b, cloudevents.Append)
}
