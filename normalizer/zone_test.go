package normalizer

import (
	"log/slog"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/mapkit/mapkittest"
)

// congaView is a Conga Sign entry whose time carries no zone: 15:20:47 in the account's
// zone. In Europe/Berlin (summer time, UTC+2) that is 13:20:47 UTC.
const congaView = `{"type":"View","date-time":"2016-04-20 15:20:47","target":"doc1","user":"John Smith","user-email":"csa.signer1@example.com","user-ip":"11.11.111.111"}`

var (
	berlinTime = time.Date(2016, 4, 20, 13, 20, 47, 0, time.UTC) // read in Europe/Berlin
	utcTime    = time.Date(2016, 4, 20, 15, 20, 47, 0, time.UTC) // read in UTC
	tokyoTime  = time.Date(2016, 4, 20, 6, 20, 47, 0, time.UTC)  // read in Asia/Tokyo
)

// zonedEnvelope wraps the entry as a Conga poller with zone (none: "") writes it.
func zonedEnvelope(t *testing.T, zone string) []byte {
	t.Helper()
	env := schemas.Envelope{V: 1, ID: schemas.RecordID("conga", "acct-1", "pkg-1", "fp", 1), Provider: "conga",
		Tenant: "acct-1", Entity: "pkg-1", Poller: "conga-1", FetchedAt: mapkittest.Fetched, Occurrence: 1,
		ContentType: schemas.ContentJSON, Zone: zone, Record: []byte(congaView)}
	b, err := env.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func zoneNormalizer(t *testing.T, zones map[string]string) *Normalizer {
	t.Helper()
	n, err := New(Config{Validate: ValidateAll, Mappers: testMappers(), Zones: zones}, nil, slog.New(slog.DiscardHandler), metrics.NewUnregistered())
	if err != nil {
		t.Fatal(err)
	}
	n.now = func() time.Time { return mapkittest.Processed }
	return n
}

// A zone-less provider time: with the poller's zone in the envelope it is read in that
// zone, with normalizer.zones unset (only the poller's zone is set, as the provider
// READMEs say); without one it falls back to normalizer.zones.<provider> (records of older
// versions), else UTC; the envelope's zone wins over normalizer.zones.
func TestZoneLessTimeReadInTheEnvelopeZone(t *testing.T) {
	cases := []struct {
		name     string
		envZone  string
		fallback map[string]string
		want     time.Time
	}{
		{"only the poller's zone", "Europe/Berlin", nil, berlinTime},
		{"no zone anywhere: UTC", "", nil, utcTime},
		{"older record: normalizer.zones", "", map[string]string{"conga": "Europe/Berlin"}, berlinTime},
		{"older record of another provider's zone", "", map[string]string{"ionos": "Europe/Berlin"}, utcTime},
		{"envelope zone first", "Asia/Tokyo", map[string]string{"conga": "Europe/Berlin"}, tokyoTime},
		{"poller zone UTC", "UTC", map[string]string{"conga": "Europe/Berlin"}, utcTime},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := zoneNormalizer(t, c.fallback)
			for range 2 { // the second time from the cache of locations
				ev, _, reason, err := n.Normalize(zonedEnvelope(t, c.envZone))
				if err != nil {
					t.Fatalf("%s: %v", reason, err)
				}
				if got := ev.Time.UTC(); !got.Equal(c.want) {
					t.Fatalf("event time %s, want %s (UTC)", got.Format(time.RFC3339), c.want.Format(time.RFC3339))
				}
			}
		})
	}
	// The event id is the record id's: the zone does not change it.
	n := zoneNormalizer(t, nil)
	a, _, _, errA := n.Normalize(zonedEnvelope(t, ""))
	b, _, _, errB := n.Normalize(zonedEnvelope(t, "Europe/Berlin"))
	if errA != nil || errB != nil || a.ID != b.ID {
		t.Fatalf("event ids %v %v (%v %v)", a, b, errA, errB)
	}
}

// A record whose envelope names a zone that does not exist is dead-lettered (decode):
// reading its times in another zone would shift them silently.
func TestUnknownEnvelopeZoneIsDeadLettered(t *testing.T) {
	n := zoneNormalizer(t, nil)
	if _, _, reason, err := n.Normalize(zonedEnvelope(t, "Mars/Olympus_Mons")); err == nil || reason != ReasonDecode {
		t.Fatalf("reason %q err %v, want decode", reason, err)
	}
}
