package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/conga"
	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/schemas"
)

// congaLog is a Conga Sign log of one entry whose time carries no zone: 15:20:47 in the
// account's zone (Europe/Berlin, summer time: 13:20:47 UTC).
type congaLog struct{}

func (congaLog) FetchLog(context.Context, pollers.Target) ([]pollers.Record, error) {
	return []pollers.Record{{Raw: []byte(`{"type":"View","date-time":"2016-04-20 15:20:47","target":"doc1","user":"John Smith","user-email":"csa.signer1@example.com","user-ip":"11.11.111.111"}`)}}, nil
}

// Item 2 of issue #13: only the poller's zone is set (as the e-signature READMEs say, with
// no normalizer.zones): the zone travels with the raw record and the event time comes
// out right in UTC.
func TestOnlyThePollersZoneEmbedded(t *testing.T) {
	p := New(t, testkit.EmbeddedKafka(t), conga.Name)
	off := false
	s := fulllog.Settings{Tenant: "acct-1", Discover: &off, Zone: config.Zone("Europe/Berlin"),
		Targets: []fulllog.TargetConfig{{Tenant: "acct-1", Entity: "pkg-1"}}}
	src := fulllog.New(conga.Name, congaLog{}, nil, s, pollers.Deps{Poller: "conga-berlin", Log: p.Log, Metrics: p.Metrics})
	p.StartPoller("conga-berlin", conga.Name, src, time.Hour)
	p.StartNormalizer(conga.Name) // normalizer.zones unset

	raw := collect(t, p.Bus, p.RawPrefix+conga.Name, 1)[0]
	env, err := schemas.DecodeEnvelope(raw.Value)
	if err != nil {
		t.Fatal(err)
	}
	if env.Zone != "Europe/Berlin" {
		t.Fatalf("raw record's zone %q, want the poller's Europe/Berlin", env.Zone)
	}
	ev := collect(t, p.Bus, p.Events, 1)[0]
	var got struct {
		Time     int64 `json:"time"`
		Metadata struct {
			OriginalTime string `json:"original_time"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(ev.Value, &got); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2016, 4, 20, 13, 20, 47, 0, time.UTC)
	if at := time.UnixMilli(got.Time).UTC(); !at.Equal(want) {
		t.Fatalf("event time %s (original %q), want %s: the poller's zone did not reach the event",
			at.Format(time.RFC3339), got.Metadata.OriginalTime, want.Format(time.RFC3339))
	}
}
