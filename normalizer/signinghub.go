package normalizer

import (
	"fmt"
	"time"

	"github.com/auditstream/auditstream/normalizer/ocsf"
	"github.com/auditstream/auditstream/schemas"
)

// SigningHubMapper maps SigningHub package log actions ({"log_id", "date_time",
// "action_type", "user_email", "user_name", "enterprise_name", "information": {"type",
// "value"}, "ip_address"}; camelCase accepted) to Web Resources Activity (6001) on the
// package, or Authentication (3002) for log-in/log-out actions:
//
//	action_type     → activity (signingHubVerbs), metadata.event_code; activity_name for 99 Other
//	date_time       → time (zone-less: normalizer.zones.signinghub), metadata.original_time
//	log_id          → metadata.original_event_uid
//	user_name, user_email → actor.user name, email_addr; enterprise_name → actor.user.org.name
//	ip_address      → src_endpoint.ip
//	information     → unmapped (e.g. SHARED_WITH "Mark Spencer"), like any other field
//
// The envelope's entity is the package id (web_resources[0].uid, its entity_name the name).
type SigningHubMapper struct{}

// signingHubVerbs: SigningHub action types (folded by lookupVerb).
var signingHubVerbs = map[string]esignVerb{
	"shared": verbShare, "opened": verbRead, "viewed": verbRead, "downloaded": verbExport,
	"login": verbLogon, "loggedin": verbLogon, "signin": verbLogon, "signedin": verbLogon,
	"logout": verbLogoff, "loggedout": verbLogoff, "signout": verbLogoff, "signedout": verbLogoff,
}

// Map implements Mapper.
func (SigningHubMapper) Map(env *schemas.Envelope, zone *time.Location) (ocsf.Event, error) {
	e, err := entryObject(env)
	if err != nil {
		return nil, fmt.Errorf("signinghub action: %w", err)
	}
	typ := e.Loose("actiontype").Text()
	if typ == "" {
		return nil, fmt.Errorf("signinghub action has no action_type: %w", ErrUnmappable)
	}
	when := e.Loose("datetime").Text()
	t, err := eventTime(when, zone)
	if err != nil {
		return nil, fmt.Errorf("signinghub action date_time: %w", err)
	}
	name, email := e.Loose("username").Text(), e.Loose("useremail").Text()
	u := user(name, email, "")
	org := e.Loose("enterprisename").Text()
	if org != "" && u != nil {
		u.Org = &ocsf.Organization{Name: org}
	}
	a := esignAction{
		product:      ocsf.Product{Name: "SigningHub", VendorName: "Ascertia"},
		resourceType: "package",
		verb:         lookupVerb(signingHubVerbs, typ),
		verbText:     typ,
		time:         t,
		originalTime: when,
		originalUID:  e.Loose("logid").Text(),
		eventCode:    typ,
		user:         u,
		ip:           e.Loose("ipaddress").Text(),
		ipKey:        "ip_address",
	}
	a.message = typ
	if a.user != nil {
		a.message += " by " + a.user.Name
	}
	if env.EntityName != "" {
		a.message += " on " + env.EntityName
	}
	if org != "" && u == nil {
		a.un.set("enterprise_name", org)
	}
	a.un.restLoose(e, "actiontype", "datetime", "username", "useremail", "enterprisename", "logid", "ipaddress")
	return a.event(env)
}
