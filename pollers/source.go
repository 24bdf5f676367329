// Package pollers holds the shared poller runner and one folder per provider. A provider
// implements only Source: list its targets and fetch what is new after a cursor. The
// runner owns scheduling, retries, publishing with acks=all, checkpoints and metrics.
package pollers

import (
	"bytes"
	"context"
	"encoding/json"
	"time"
)

// Target is one polled entity (a contract, a package, a signing session, a user...).
// Tenant and Entity identify it (the Kafka key is <provider>/<tenant>/<entity>); the
// other fields are what a listing said of it, when the provider has a listing.
type Target struct {
	Tenant string
	Entity string

	// Name is the entity's display name (a package or document name), carried to the
	// canonical event as the resource name (envelope entity_name). Empty when unknown.
	Name string
	// Status is the provider's own status word for the entity ("COMPLETED", "SENT", ...).
	Status string
	// UpdatedAt is when the listing says the entity last changed (zero = unknown). A
	// full-log target whose UpdatedAt has not moved since its last poll is not fetched.
	UpdatedAt time.Time
	// Terminal says the entity reached a final status (completed, declined, expired,
	// deleted...): it gets one final poll after a grace period, then retires.
	Terminal bool
}

// Lister is implemented by providers whose entities are discovered from a listing
// endpoint (Conga cs-packages, SigningHub packages/{status}, Constellation1 sessions).
type Lister interface {
	// List pages through the provider's listing and hands every page of targets to page,
	// in order; an error from page stops the listing and is returned.
	List(ctx context.Context, page func([]Target) error) error
}

// LogFetcher is implemented by full-log providers: their API returns the whole audit log
// of one entity at a time, with no reliable entry id. The shared log diff turns that into
// new records (pollers/logdiff); the provider only fetches and decodes.
type LogFetcher interface {
	// FetchLog returns every entry of t's audit log in the provider's order, each as one
	// Record with Raw = the entry exactly as received (one JSON value) and Time = its
	// parsed event time when it has one; NativeID and Occurrence are left to the diff.
	FetchLog(ctx context.Context, t Target) ([]Record, error)
}

// Record is one provider entry to publish on audit.raw.<provider>.
type Record struct {
	// NativeID is the provider's unique id of the entry; empty means "none": the runner
	// uses the entry's canonical fingerprint.
	NativeID string
	// Occurrence counts identical entries (full-log providers); 0 means 1.
	Occurrence int
	// Time is the entry's event time, when known (for the event delay metric).
	Time time.Time
	// ContentType is schemas.ContentJSON (default) or schemas.ContentXML.
	ContentType string
	// Raw is the entry exactly as received: JSON, or for XML the element text.
	Raw []byte
}

// Emit publishes records durably and then, when cursor is not nil, stores cursor as the
// target's new checkpoint. It returns only after both are acknowledged; a provider must
// pass a cursor only when every record it covers was handed to this or an earlier Emit.
type Emit func(ctx context.Context, records []Record, cursor json.RawMessage) error

// Outcome tells the runner what happened in a poll beyond errors.
type Outcome struct {
	// Again asks the runner to poll the target again soon (a possible gap, a backlog).
	Again bool
	// Watermark, when set, says the target is complete up to this time although no
	// cursor was written (a full-log target whose listing shows it unchanged): the
	// freshness metric uses it as if a cursor had carried it.
	Watermark time.Time
	// Retire says the target reached the end of its life (a terminal entity after its
	// final poll): the runner marks it retired in the target set, tombstones its
	// checkpoint and stops counting it for freshness.
	Retire bool
}

// Source is what one provider implements.
type Source interface {
	// Targets lists the entities to poll.
	Targets(ctx context.Context) ([]Target, error)
	// Poll fetches what is new for one target after cursor (nil on the first poll).
	Poll(ctx context.Context, t Target, cursor json.RawMessage, emit Emit) (Outcome, error)
}

// Zoned is implemented by the sources of providers configured with a `zone:` setting (the
// zone of the provider's timestamps that carry no offset, e.g. fulllog.Settings.Zone).
// The runner writes it into every envelope (schemas.Envelope.Zone), so the normalizer
// reads those timestamps in the zone set where the provider is configured.
type Zoned interface {
	// Zone is the IANA zone name as configured; "" when none is set (the normalizer
	// then falls back to normalizer.zones.<provider>, else UTC).
	Zone() string
}

// Closer is implemented by sources that hold a session to end at shutdown.
type Closer interface {
	Close(ctx context.Context) error
}

// cursorWatermark reads a cursor's optional "watermark" field (an RFC 3339 time: the
// target is complete up to it), which the runner uses for the freshness metric, without
// decoding the rest: it stops at the field, so a large cursor (a window's seen ids, a log's diff state)
// costs little, since every cursor here writes it before them. ok is false without one.
func cursorWatermark(cur []byte) (w time.Time, ok bool) {
	if len(cur) == 0 {
		return w, false
	}
	dec := json.NewDecoder(bytes.NewReader(cur))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return w, false
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return w, false
		}
		if k == "watermark" {
			if err := dec.Decode(&w); err != nil || w.IsZero() {
				return time.Time{}, false
			}
			return w, true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return w, false
		}
	}
	return w, false
}
