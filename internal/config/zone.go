package config

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/auditstream/auditstream/schemas/timeparse"
)

// Zone is a provider's `zone:` setting: the IANA zone of its timestamps that carry no
// offset (Conga "2016-04-20 14:14:51", SigningHub "2015-01-12T11:12:13"); empty = UTC.
// Providers embed it in their settings and call Validate from theirs.
type Zone string

// Validate records a clear problem at path when the zone is not an IANA zone name.
func (z Zone) Validate(path string, p *Problems) {
	if _, err := timeparse.Location(string(z)); err != nil {
		if p.Expanded(path) { // the error repeats the value, which may be a secret
			p.Add(path, "%s is not an IANA time zone name (like UTC, Europe/Berlin, America/New_York)", p.Quote(path, string(z)))
			return
		}
		p.Add(path, "%q is not an IANA time zone name (like UTC, Europe/Berlin, America/New_York): %v", string(z), err)
	}
}

// Location is the zone's location (UTC when empty, or when invalid: Validate first).
func (z Zone) Location() *time.Location {
	loc, err := timeparse.Location(string(z))
	if err != nil {
		return time.UTC
	}
	return loc
}

// Parse reads a provider timestamp, zone-less values in this zone.
func (z Zone) Parse(s string) (time.Time, error) { return timeparse.Parse(s, z.Location()) }

// SettingsZone is the `zone:` of a poller's settings block ("" when it has none), as the
// provider reads it (fulllog.Settings.Zone): the zone that travels with the poller's
// records (schemas.Envelope.Zone) and that the normalizer reads zone-less times in.
func (pc *PollerConfig) SettingsZone() string {
	if n := pc.settingsZone(); n != nil {
		return n.Value
	}
	return ""
}

// settingsZone is the node of the `zone:` of the poller's settings block, or nil.
func (pc *PollerConfig) settingsZone() *yaml.Node {
	n := &pc.Settings
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == "zone" && v.Kind == yaml.ScalarNode {
			return v
		}
	}
	return nil
}

// validateZones refuses a poller zone that normalizer.zones contradicts: the poller's
// zone travels with its records and is the one the normalizer uses; normalizer.zones only
// serves the records that carry none (written by older versions, or by pollers of
// providers without a zone setting). Both set and different would leave the
// configuration saying two things of one provider's times.
func (c *Root) validateZones(p *Problems) {
	for i, pc := range c.Pollers {
		z := pc.SettingsZone()
		nz, ok := c.Normalizer.Zones[pc.Provider]
		if z == "" || !ok || sameZone(z, nz) {
			continue
		}
		at := fmt.Sprintf("pollers[%d].settings.zone", i)
		p.noteExpansion(at, pc.settingsZone())
		p.Add(at, "%s disagrees with normalizer.zones.%s %s: the poller's zone travels with its records and is the one used; "+
			"set the zone once, on the poller, and remove normalizer.zones.%s (it only serves records written without a zone)",
			p.Quote(at, z), pc.Provider, p.Quote("normalizer.zones."+pc.Provider, nz), pc.Provider)
	}
}

// sameZone reports whether two zone settings name one zone ("" and any spelling of UTC
// are UTC).
func sameZone(a, b string) bool {
	utc := func(s string) bool { return s == "" || strings.EqualFold(s, "utc") }
	return a == b || utc(a) && utc(b)
}
