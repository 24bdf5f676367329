// Package hec projects a canonical event onto the Splunk HTTP Event Collector event
// envelope, one JSON object per event, which /services/collector/event accepts
// concatenated in one request body:
//
//	{"time":1795255200.500,"host":"…","source":"…","sourcetype":"…","index":"…",
//	 "event":{…},"fields":{"event_id":"…","provider":"…","tenant":"…","class_uid":"6003"}}
//
// time is the event time in epoch seconds with a millisecond fraction; host, source,
// sourcetype and index are left out when empty (the HEC token's defaults apply); event is
// the body the sink chose (the OCSF event, or its ECS projection); fields are indexed
// fields (string values, as HEC requires), so searches can select by event id, provider,
// tenant and class without extracting them from the event.
package hec

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/auditstream/auditstream/sinks"
)

// Options are the envelope's metadata fields.
type Options struct {
	Host       string
	Source     string
	Sourcetype string
	Index      string
}

type envelope struct {
	Time       json.Number     `json:"time"`
	Host       string          `json:"host,omitempty"`
	Source     string          `json:"source,omitempty"`
	Sourcetype string          `json:"sourcetype,omitempty"`
	Index      string          `json:"index,omitempty"`
	Event      json.RawMessage `json:"event"`
	Fields     fields          `json:"fields"`
}

type fields struct {
	EventID  string `json:"event_id"`
	Provider string `json:"provider,omitempty"`
	Tenant   string `json:"tenant,omitempty"`
	ClassUID string `json:"class_uid,omitempty"`
}

// Time formats t as HEC wants it: epoch seconds with a millisecond fraction.
func Time(t time.Time) string {
	ms := t.UnixMilli()
	sign := ""
	if ms < 0 {
		sign, ms = "-", -ms
	}
	frac := strconv.FormatInt(1000+ms%1000, 10)[1:]
	return sign + strconv.FormatInt(ms/1000, 10) + "." + frac
}

// Append appends the envelope of ev, carrying body (a JSON object) as its event, to dst.
func Append(dst []byte, ev sinks.Event, body []byte, opt Options) ([]byte, error) {
	e := envelope{
		Time: json.Number(Time(ev.Time)), Host: opt.Host, Source: opt.Source,
		Sourcetype: opt.Sourcetype, Index: opt.Index, Event: bytes.TrimSpace(body),
		Fields: fields{EventID: ev.ID, Provider: ev.Provider, Tenant: ev.Tenant},
	}
	if ev.ClassUID != 0 {
		e.Fields.ClassUID = strconv.Itoa(ev.ClassUID)
	}
	b, err := json.Marshal(&e)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}
