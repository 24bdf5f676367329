// Package sinks holds the shared sink runner and one folder per sink. A sink implements
// Write(batch, results): one outcome per event. The runner does the rest: batching by
// count, bytes and linger time; re-sending only the events a store asked to retry, with
// backoff and jitter (or after the store's Retry-After, when longer); bisecting a batch the store refused as a whole to find the poison
// event; dead-lettering rejected events with their reason; stopping on a fatal failure
// (bad credentials) without flooding the dead-letter topic; pausing its consumer while a
// store is down (it holds one batch, nothing more); and committing offsets only once every
// event of the batch is written, already there, or dead-lettered.
package sinks

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/auditstream/auditstream/internal/bus"
)

// Event is one canonical event as read from audit.events.v1, with the routing fields the
// normalizer put in its CloudEvents headers, so that no sink re-parses the JSON to route.
type Event struct {
	ID    string // metadata.uid (the CloudEvents id): the idempotency key
	Key   []byte
	Value []byte // the canonical event JSON
	Msg   kafka.Message

	Time     time.Time // event time (ce_time); zero when the header is missing
	ClassUID int       // OCSF class_uid (from ce_type io.auditstream.ocsf.<class_uid>); 0 when missing
	Provider string    // from ce_source /auditstream/<provider>/<tenant>
	Tenant   string    // from ce_source
}

// EventFromMessage reads an event and its routing fields from a record of the events
// topic. Only the id is required; it comes from the ce_id header, else (records written
// before the headers existed) from metadata.uid of the body.
func EventFromMessage(m kafka.Message) (Event, error) {
	id, err := EventID(m)
	if err != nil {
		return Event{}, err
	}
	e := Event{ID: id, Key: m.Key, Value: m.Value, Msg: m}
	if t := bus.Header(m, "ce_time"); t != "" {
		if tt, err := time.Parse(time.RFC3339Nano, t); err == nil {
			e.Time = tt.UTC()
		}
	}
	if c, ok := strings.CutPrefix(bus.Header(m, "ce_type"), "io.auditstream.ocsf."); ok {
		e.ClassUID, _ = strconv.Atoi(c)
	}
	if src, ok := strings.CutPrefix(bus.Header(m, "ce_source"), "/auditstream/"); ok {
		e.Provider, e.Tenant, _ = strings.Cut(src, "/")
	}
	return e, nil
}

// EventID reads the event id: the ce_id header, else metadata.uid of the body.
func EventID(m kafka.Message) (string, error) {
	if id := bus.Header(m, "ce_id"); id != "" {
		return id, nil
	}
	var v struct {
		Metadata struct {
			UID string `json:"uid"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(m.Value, &v); err != nil || v.Metadata.UID == "" {
		return "", fmt.Errorf("event at %s/%d/%d has no ce_id header and no metadata.uid", m.Topic, m.Partition, m.Offset)
	}
	return v.Metadata.UID, nil
}
