package mapping

import (
	"fmt"
	"time"

	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/mapkit"
	"github.com/auditstream/auditstream/schemas/ocsf"
)

// Mapper maps Conga Sign package audit events ({"type", "date-time", "target", "user",
// "user-email", "user-ip", "data"}; camelCase and snake_case spellings accepted) to Web
// Resources Activity (6001) on the package, or Authentication (3002) for a Login:
//
//	type      → activity (congaVerbs), metadata.event_code; activity_name for 99 Other
//	date-time → time (zone-less: the poller's zone), metadata.original_time
//	user, user-email → actor.user name, email_addr
//	user-ip   → src_endpoint.ip
//	target    → a second web resource (the document acted on) when it is not the package
//	data      → unmapped, like any other field
//
// The envelope's entity is the package id (web_resources[0].uid, its entity_name the name).
type Mapper struct{}

// congaVerbs: Conga's audit event types (display strings or enum names, folded by lookupVerb).
var congaVerbs = map[string]mapkit.Verb{
	"login":       mapkit.VerbLogon,
	"view":        mapkit.VerbRead,
	"download":    mapkit.VerbExport,
	"downloadzip": mapkit.VerbExport,
}

// Map implements mapkit.Mapper.
func (Mapper) Map(env *schemas.Envelope, zone *time.Location) (ocsf.Event, error) {
	e, err := mapkit.EntryObject(env)
	if err != nil {
		return nil, fmt.Errorf("conga audit event: %w", err)
	}
	typ := e.Loose("type").Text()
	if typ == "" {
		return nil, fmt.Errorf("conga audit event has no type: %w", mapkit.ErrUnmappable)
	}
	when := e.Loose("datetime").Text()
	t, err := mapkit.EventTime(when, zone)
	if err != nil {
		return nil, fmt.Errorf("conga audit event date-time: %w", err)
	}
	name, email := e.Loose("user").Text(), e.Loose("useremail").Text()
	a := mapkit.Action{
		Product:      ocsf.Product{Name: "Conga Sign", VendorName: "Conga"},
		ResourceType: "package",
		Verb:         mapkit.LookupVerb(congaVerbs, typ),
		VerbText:     typ,
		Time:         t,
		OriginalTime: when,
		EventCode:    typ,
		User:         mapkit.User(name, email, ""),
		IP:           e.Loose("userip").Text(),
		IPKey:        "user-ip",
		Target:       e.Loose("target").Text(),
	}
	a.Message = typ
	if a.Target != "" {
		a.Message += " of " + a.Target
	}
	if a.User != nil {
		a.Message += " by " + a.User.Name
	}
	a.Unmapped.RestLoose(e, "type", "datetime", "user", "useremail", "userip", "target")
	return a.Event(env)
}
