package mapping

import (
	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/jsonx"
	"github.com/auditstream/auditstream/schemas/mapkit"
	"github.com/auditstream/auditstream/schemas/ocsf"
)

// signingHubVerbs: SigningHub action types (folded by mapkit.LookupVerb).
var signingHubVerbs = map[string]mapkit.Verb{
	"shared": mapkit.VerbShare, "opened": mapkit.VerbRead, "viewed": mapkit.VerbRead, "downloaded": mapkit.VerbExport,
	"login": mapkit.VerbLogon, "loggedin": mapkit.VerbLogon, "signin": mapkit.VerbLogon, "signedin": mapkit.VerbLogon,
	"logout": mapkit.VerbLogoff, "loggedout": mapkit.VerbLogoff, "signout": mapkit.VerbLogoff, "signedout": mapkit.VerbLogoff,
}

// Mapper maps SigningHub package log actions ({"log_id", "date_time",
// "action_type", "user_email", "user_name", "enterprise_name", "information": {"type",
// "value"}, "ip_address"}; camelCase accepted) to Web Resources Activity (6001) on the
// package, or Authentication (3002) for log-in/log-out actions:
//
//	action_type     → activity (signingHubVerbs), metadata.event_code; activity_name for 99 Other
//	date_time       → time (zone-less: the poller's zone), metadata.original_time
//	log_id          → metadata.original_event_uid
//	user_name, user_email → actor.user name, email_addr (the user who performed the
//	                  action); enterprise_name → actor.user.org.name
//	ip_address      → src_endpoint.ip
//	information     → with a recipient type (recipientInfo: SHARED_WITH "Mark Spencer",
//	                  DELEGATED_TO, RECALLED_FROM, …) its value's parties →
//	                  unmapped.recipients; otherwise unmapped.information
//
// The envelope's entity is the package id (web_resources[0].uid, its entity_name the name).
//
// Where a SigningHub action keeps what it says, and its message.
var Mapper = mapkit.ESign{Entry: mapkit.Entry{
	Product: ocsf.Product{Name: "SigningHub", VendorName: "Ascertia"}, ResourceType: "package", Verbs: signingHubVerbs, EventCode: true,
	Noun: "signinghub action", Word: "actiontype", WordName: "action_type", Time: "datetime", TimeName: "date_time",
	UserName: "username", UserEmail: "useremail", UID: "logid", IP: "ipaddress", IPName: "ip_address",
}, Adjust: adjust}

// recipientInfo: the information types whose value names the ones the action was addressed
// to or taken from (folded as mapkit.LookupVerb does), with the words a message uses.
var recipientInfo = map[string]string{
	"sharedwith": "shared with", "sentto": "sent to", "delegatedto": "delegated to", "recalledfrom": "recalled from",
	"reassignedto": "reassigned to", "forwardedto": "forwarded to", "recipient": "to", "recipients": "to",
}

// adjust adds the organisation to the user (unmapped without one), reads the recipients
// from information and writes the message: "<action_type> by <user> on <package>
// (<relation> <recipients>)".
func adjust(env *schemas.Envelope, e jsonx.Value, a *mapkit.Action) []string {
	mapped := []string{"enterprisename"}
	info := e.Loose("information")
	if rel, ok := recipientInfo[mapkit.Fold(info.Loose("type").Text())]; ok {
		if ps := mapkit.Parties(info.Loose("value").Text()); len(ps) > 0 {
			a.SetRecipients(ps, rel)
			mapped = append(mapped, "information")
		}
	}
	org := e.Loose("enterprisename").Text()
	if org != "" && a.User != nil {
		a.User.Org = &ocsf.Organization{Name: org}
	}
	a.Message = a.VerbText
	if a.User != nil {
		a.Message += " by " + a.User.Name
	}
	if env.EntityName != "" {
		a.Message += " on " + env.EntityName
	}
	a.Message += a.RecipientNote()
	if org != "" && a.User == nil {
		a.Unmapped.Set("enterprise_name", org)
	}
	return mapped
}
