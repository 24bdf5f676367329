package normalizer

import (
	"fmt"
	"time"

	"github.com/auditstream/auditstream/normalizer/ocsf"
	"github.com/auditstream/auditstream/schemas"
)

// CongaMapper maps Conga Sign package audit events ({"type", "date-time", "target", "user",
// "user-email", "user-ip", "data"}; camelCase and snake_case spellings accepted) to Web
// Resources Activity (6001) on the package, or Authentication (3002) for a Login:
//
//	type      → activity (congaVerbs), metadata.event_code; activity_name for 99 Other
//	date-time → time (zone-less: normalizer.zones.conga), metadata.original_time
//	user, user-email → actor.user name, email_addr
//	user-ip   → src_endpoint.ip
//	target    → a second web resource (the document acted on) when it is not the package
//	data      → unmapped, like any other field
//
// The envelope's entity is the package id (web_resources[0].uid, its entity_name the name).
type CongaMapper struct{}

// congaVerbs: Conga's audit event types (display strings or enum names, folded by lookupVerb).
var congaVerbs = map[string]esignVerb{
	"login":       verbLogon,
	"view":        verbRead,
	"download":    verbExport,
	"downloadzip": verbExport,
}

// Map implements Mapper.
func (CongaMapper) Map(env *schemas.Envelope, zone *time.Location) (ocsf.Event, error) {
	e, err := entryObject(env)
	if err != nil {
		return nil, fmt.Errorf("conga audit event: %w", err)
	}
	typ := e.Loose("type").Text()
	if typ == "" {
		return nil, fmt.Errorf("conga audit event has no type: %w", ErrUnmappable)
	}
	when := e.Loose("datetime").Text()
	t, err := eventTime(when, zone)
	if err != nil {
		return nil, fmt.Errorf("conga audit event date-time: %w", err)
	}
	name, email := e.Loose("user").Text(), e.Loose("useremail").Text()
	a := esignAction{
		product:      ocsf.Product{Name: "Conga Sign", VendorName: "Conga"},
		resourceType: "package",
		verb:         lookupVerb(congaVerbs, typ),
		verbText:     typ,
		time:         t,
		originalTime: when,
		eventCode:    typ,
		user:         user(name, email, ""),
		ip:           e.Loose("userip").Text(),
		ipKey:        "user-ip",
		target:       e.Loose("target").Text(),
	}
	a.message = typ
	if a.target != "" {
		a.message += " of " + a.target
	}
	if a.user != nil {
		a.message += " by " + a.user.Name
	}
	a.un.restLoose(e, "type", "datetime", "user", "useremail", "userip", "target")
	return a.event(env)
}
