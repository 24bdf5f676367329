package mapping

import (
	"fmt"
	"time"

	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/mapkit"
	"github.com/auditstream/auditstream/schemas/ocsf"
)

// Mapper maps SigningHub package log actions ({"log_id", "date_time",
// "action_type", "user_email", "user_name", "enterprise_name", "information": {"type",
// "value"}, "ip_address"}; camelCase accepted) to Web Resources Activity (6001) on the
// package, or Authentication (3002) for log-in/log-out actions:
//
//	action_type     → activity (signingHubVerbs), metadata.event_code; activity_name for 99 Other
//	date_time       → time (zone-less: the poller's zone), metadata.original_time
//	log_id          → metadata.original_event_uid
//	user_name, user_email → actor.user name, email_addr; enterprise_name → actor.user.org.name
//	ip_address      → src_endpoint.ip
//	information     → unmapped (e.g. SHARED_WITH "Mark Spencer"), like any other field
//
// The envelope's entity is the package id (web_resources[0].uid, its entity_name the name).
type Mapper struct{}

// signingHubVerbs: SigningHub action types (folded by lookupVerb).
var signingHubVerbs = map[string]mapkit.Verb{
	"shared": mapkit.VerbShare, "opened": mapkit.VerbRead, "viewed": mapkit.VerbRead, "downloaded": mapkit.VerbExport,
	"login": mapkit.VerbLogon, "loggedin": mapkit.VerbLogon, "signin": mapkit.VerbLogon, "signedin": mapkit.VerbLogon,
	"logout": mapkit.VerbLogoff, "loggedout": mapkit.VerbLogoff, "signout": mapkit.VerbLogoff, "signedout": mapkit.VerbLogoff,
}

// Map implements mapkit.Mapper.
func (Mapper) Map(env *schemas.Envelope, zone *time.Location) (ocsf.Event, error) {
	e, err := mapkit.EntryObject(env)
	if err != nil {
		return nil, fmt.Errorf("signinghub action: %w", err)
	}
	typ := e.Loose("actiontype").Text()
	if typ == "" {
		return nil, fmt.Errorf("signinghub action has no action_type: %w", mapkit.ErrUnmappable)
	}
	when := e.Loose("datetime").Text()
	t, err := mapkit.EventTime(when, zone)
	if err != nil {
		return nil, fmt.Errorf("signinghub action date_time: %w", err)
	}
	name, email := e.Loose("username").Text(), e.Loose("useremail").Text()
	u := mapkit.User(name, email, "")
	org := e.Loose("enterprisename").Text()
	if org != "" && u != nil {
		u.Org = &ocsf.Organization{Name: org}
	}
	a := mapkit.Action{
		Product:      ocsf.Product{Name: "SigningHub", VendorName: "Ascertia"},
		ResourceType: "package",
		Verb:         mapkit.LookupVerb(signingHubVerbs, typ),
		VerbText:     typ,
		Time:         t,
		OriginalTime: when,
		OriginalUID:  e.Loose("logid").Text(),
		EventCode:    typ,
		User:         u,
		IP:           e.Loose("ipaddress").Text(),
		IPKey:        "ip_address",
	}
	a.Message = typ
	if a.User != nil {
		a.Message += " by " + a.User.Name
	}
	if env.EntityName != "" {
		a.Message += " on " + env.EntityName
	}
	if org != "" && u == nil {
		a.Unmapped.Set("enterprise_name", org)
	}
	a.Unmapped.RestLoose(e, "actiontype", "datetime", "username", "useremail", "enterprisename", "logid", "ipaddress")
	return a.Event(env)
}
