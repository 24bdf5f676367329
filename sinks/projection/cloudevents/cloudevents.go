// Package cloudevents projects a canonical event onto a CloudEvents 1.0 event in
// structured content mode (JSON event format): the attributes the normalizer writes as
// binary-mode Kafka headers, with the OCSF event as data.
//
//	{"specversion":"1.0","id":"<event id>","source":"/auditstream/<provider>/<tenant>",
//	 "type":"io.auditstream.ocsf.<class_uid>","time":"<RFC 3339>",
//	 "datacontenttype":"application/json","data":{…OCSF…}}
package cloudevents

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/auditstream/auditstream/sinks"
)

// ContentType is the media type of a structured-mode CloudEvent in JSON.
const ContentType = "application/cloudevents+json"

type event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            string          `json:"time,omitempty"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// Append appends the structured CloudEvent of ev to dst.
func Append(dst []byte, ev sinks.Event) ([]byte, error) {
	e := event{
		SpecVersion:     "1.0",
		ID:              ev.ID,
		Source:          "/auditstream/" + ev.Provider + "/" + ev.Tenant,
		Type:            "io.auditstream.ocsf." + strconv.Itoa(ev.ClassUID),
		DataContentType: "application/json",
		Data:            bytes.TrimSpace(ev.Value),
	}
	if !ev.Time.IsZero() {
		e.Time = ev.Time.UTC().Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(&e)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}
