package config

import (
	"time"

	"github.com/auditstream/auditstream/schemas/timeparse"
)

// Zone is a provider's `zone:` setting: the IANA zone of its timestamps that carry no
// offset (Conga "2016-04-20 14:14:51", SigningHub "2015-01-12T11:12:13"); empty = UTC.
// Providers embed it in their settings and call Validate from theirs.
type Zone string

// Validate records a clear problem at path when the zone is not an IANA zone name.
func (z Zone) Validate(path string, p *Problems) {
	if _, err := timeparse.Location(string(z)); err != nil {
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
