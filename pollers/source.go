// Package pollers holds the shared poller runner and one folder per provider. A provider
// implements only Source: list its targets and fetch what is new after a cursor. The
// runner owns scheduling, retries, publishing with acks=all, checkpoints and metrics.
package pollers

import (
	"context"
	"encoding/json"
	"time"
)

// Target is one polled entity (a contract, a package, a user...).
type Target struct {
	Tenant string
	Entity string
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
}

// Source is what one provider implements.
type Source interface {
	// Targets lists the entities to poll.
	Targets(ctx context.Context) ([]Target, error)
	// Poll fetches what is new for one target after cursor (nil on the first poll).
	Poll(ctx context.Context, t Target, cursor json.RawMessage, emit Emit) (Outcome, error)
}

// Closer is implemented by sources that hold a session to end at shutdown.
type Closer interface {
	Close(ctx context.Context) error
}

// Watermark is the optional field of a cursor the runner reads for the freshness metric.
type Watermark struct {
	Watermark time.Time `json:"watermark"`
}
