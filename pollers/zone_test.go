package pollers_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/schemas"
)

// zoned is a script whose provider is configured with a zone.
type zoned struct {
	*script
	zone string
}

func (z zoned) Zone() string { return z.zone }

// The zone of a Zoned source travels with each record; a source without one writes the
// envelope as before (no zone field), and the record id does not depend on it.
func TestRunnerWritesTheSourceZone(t *testing.T) {
	brokers := testkit.EmbeddedKafka(t)
	ids := map[string]string{}
	for _, zone := range []string{"Europe/Berlin", ""} {
		raw := "t.raw." + testkit.Unique()
		b, store, _, m := setup(t, brokers, raw)
		var src pollers.Source = &script{batches: [][]pollers.Record{{{Raw: []byte(`{"date-time":"2016-04-20 15:20:47"}`)}}}}
		if zone != "" {
			src = zoned{src.(*script), zone}
		}
		r := pollers.NewRunner(pollers.RunnerConfig{Name: "c1", Provider: "conga", Topic: raw}, src, store, b, testkit.Logger(t), m)
		if err := r.PollOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		msg := readAll(t, b, raw, 1)[0]
		env, err := schemas.DecodeEnvelope(msg.Value)
		if err != nil {
			t.Fatal(err)
		}
		if env.Zone != zone {
			t.Fatalf("envelope zone %q, want %q", env.Zone, zone)
		}
		if zone == "" && bytes.Contains(msg.Value, []byte(`"zone"`)) {
			t.Fatalf("zone-less envelope has a zone field: %s", msg.Value)
		}
		ids[zone] = env.ID
	}
	if ids["Europe/Berlin"] != ids[""] {
		t.Fatalf("record ids differ with the zone: %v", ids)
	}
}
