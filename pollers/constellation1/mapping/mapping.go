package mapping

import (
	"strings"

	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/jsonx"
	"github.com/auditstream/auditstream/schemas/mapkit"
	"github.com/auditstream/auditstream/schemas/ocsf"
)

// constellation1Verbs: words of the free-text description (lower case).
var constellation1Verbs = map[string]mapkit.Verb{
	"viewed": mapkit.VerbRead, "opened": mapkit.VerbRead, "downloaded": mapkit.VerbExport,
	"shared": mapkit.VerbShare, "sent": mapkit.VerbShare, "emailed": mapkit.VerbShare, "forwarded": mapkit.VerbShare,
	"signed": mapkit.VerbOther, "declined": mapkit.VerbOther, "completed": mapkit.VerbOther, "initialed": mapkit.VerbOther,
	"voided": mapkit.VerbOther, "created": mapkit.VerbOther, "deleted": mapkit.VerbOther, "accepted": mapkit.VerbOther,
	"rejected": mapkit.VerbOther, "printed": mapkit.VerbOther, "uploaded": mapkit.VerbOther, "added": mapkit.VerbOther,
	"removed": mapkit.VerbOther, "modified": mapkit.VerbOther, "updated": mapkit.VerbOther, "reassigned": mapkit.VerbOther,
}

// Mapper maps Constellation1 eSign session action log entries ({"Date",
// "IPAddress", "Description"}; camelCase accepted) to Web Resources Activity (6001) on the
// signing session, or Authentication (3002) when the text says someone logged in or out:
//
//	Date        → time ("/Date(ms±zzzz)/" or ISO; zone-less: the poller's zone)
//	IPAddress   → src_endpoint.ip
//	Description → message; its first known verb → activity (constellation1Verbs;
//	              99 Other keeps the verb as activity_name); an e-mail address in it →
//	              actor.user.email_addr; the words after "by" (up to a parenthesis) →
//	              actor.user.name
//
// The envelope's entity is the signing session id (web_resources[0].uid, its entity_name
// the name). The log has no entry id.
//
// Where an action log keeps what it says (the date is read first). Its verb and
// actor come from the description (constellation1Verb, byName, findEmail).
var Mapper = mapkit.ESign{Entry: mapkit.Entry{
	Product: ocsf.Product{Name: "Constellation1 eSign", VendorName: "Constellation1"}, ResourceType: "signing session",
	Noun: "constellation1 action log", Word: "description", WordName: "Description", Time: "date", TimeName: "Date",
	TimeFirst: true, Trim: true, IP: "ipaddress", IPName: "IPAddress",
}, Adjust: adjust}

// adjust reads the verb and the actor from the description, which is the message.
func adjust(_ *schemas.Envelope, _ jsonx.Value, a *mapkit.Action) []string {
	desc := a.VerbText
	a.Verb, a.VerbText = constellation1Verb(desc)
	a.User = mapkit.User(byName(desc), findEmail(desc), "")
	a.Message = desc
	return nil
}

// constellation1Verb finds the action in a description: the first word that is a verb of
// the table, where "logged in"/"signed in" (and out) are log-ins; without one, 99 Other
// with the first word ending in "ed" (or none) as the activity name.
func constellation1Verb(desc string) (mapkit.Verb, string) {
	words := strings.FieldsFunc(strings.ToLower(desc), func(r rune) bool { return !(r >= 'a' && r <= 'z') })
	for i, w := range words {
		if i+1 < len(words) && (w == "logged" || w == "signed") {
			switch words[i+1] {
			case "in", "on":
				return mapkit.VerbLogon, w + " " + words[i+1]
			case "out", "off":
				return mapkit.VerbLogoff, w + " " + words[i+1]
			}
		}
		if v, ok := constellation1Verbs[w]; ok {
			return v, w
		}
	}
	for _, w := range words {
		if len(w) > 3 && strings.HasSuffix(w, "ed") {
			return mapkit.VerbOther, w
		}
	}
	return mapkit.VerbOther, ""
}

// findEmail is the first valid e-mail address in a text (surrounding punctuation
// stripped).
func findEmail(s string) string {
	for _, f := range strings.Fields(s) {
		if strings.IndexByte(f, '@') < 0 {
			continue
		}
		f = strings.Trim(f, "()<>[]{},;:\"'.")
		if ocsf.ValidEmail(f) {
			return f
		}
	}
	return ""
}

// byName is the text after the last " by " up to an opening parenthesis or '<' ("Document
// viewed by Jane Doe (jane@x.com)" → "Jane Doe"); a bare e-mail address is not a name.
func byName(s string) string {
	i := strings.LastIndex(strings.ToLower(s), " by ")
	if i < 0 {
		return ""
	}
	name := s[i+4:]
	if j := strings.IndexAny(name, "(<"); j >= 0 {
		name = name[:j]
	}
	name = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(name), ".,;"))
	if name == findEmail(name) {
		return ""
	}
	return name
}
