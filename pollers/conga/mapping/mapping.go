package mapping

import (
	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/jsonx"
	"github.com/auditstream/auditstream/schemas/mapkit"
	"github.com/auditstream/auditstream/schemas/ocsf"
)

// congaVerbs: Conga's audit event types (display strings or enum names, folded by mapkit.LookupVerb).
var congaVerbs = map[string]mapkit.Verb{
	"login":       mapkit.VerbLogon,
	"view":        mapkit.VerbRead,
	"download":    mapkit.VerbExport,
	"downloadzip": mapkit.VerbExport,
}

// Mapper maps Conga Sign package audit events ({"type", "date-time", "target", "user",
// "user-email", "user-ip", "data"}; camelCase and snake_case spellings accepted) to Web
// Resources Activity (6001) on the package, or Authentication (3002) for a Login:
//
//	type      → activity (congaVerbs), metadata.event_code; activity_name for 99 Other
//	date-time → time (zone-less: the poller's zone), metadata.original_time
//	user, user-email → actor.user name, email_addr, unless they name a recipient of data
//	user-ip   → src_endpoint.ip
//	target    → a second web resource (the document acted on) when it is not the package
//	data      → the parties after a recipient marker ("Signing session to signer :
//	            x@y.com(Name") → unmapped.recipients; other data → unmapped.data
//
// The envelope's entity is the package id (web_resources[0].uid, its entity_name the name).
//
// Where a Conga audit event keeps what it says, and its message.
var Mapper = mapkit.ESign{Entry: mapkit.Entry{
	Product: ocsf.Product{Name: "Conga Sign", VendorName: "Conga"}, ResourceType: "package", Verbs: congaVerbs, EventCode: true,
	Noun: "conga audit event", Word: "type", WordName: "type", Time: "datetime", TimeName: "date-time",
	UserName: "user", UserEmail: "useremail", IP: "userip", IPName: "user-ip", Target: "target",
}, Adjust: adjust}

// dataKey is the key adjust maps when data names recipients.
var dataKey = []string{"data"}

// adjust reads the recipients from data (the actor is never one of them) and writes the
// message: "<type> of <target> by <user> (<relation> <recipients>)".
func adjust(_ *schemas.Envelope, e jsonx.Value, a *mapkit.Action) []string {
	var mapped []string
	if d := e.Loose("data"); d.Kind() == jsonx.String {
		if ph := mapkit.ReadPhrase(d.Str()); len(ph.Recipients) > 0 {
			a.SetRecipients(ph.Recipients, ph.Relation)
			mapped = dataKey
		}
	}
	a.Message = a.VerbText
	if a.Target != "" {
		a.Message += " of " + a.Target
	}
	if a.User != nil {
		a.Message += " by " + a.User.Name
	}
	a.Message += a.RecipientNote()
	return mapped
}
