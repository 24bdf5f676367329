package mapping

import (
	"strings"
	"unicode"
	"unicode/utf8"

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
	"delegated": mapkit.VerbOther, "recalled": mapkit.VerbOther, "resent": mapkit.VerbShare,
}

// Mapper maps Constellation1 eSign session action log entries ({"Date",
// "IPAddress", "Description"}; camelCase accepted) to Web Resources Activity (6001) on the
// signing session, or Authentication (3002) when the text says someone logged in or out:
//
//	Date        → time ("/Date(ms±zzzz)/" or ISO; zone-less: the poller's zone)
//	IPAddress   → src_endpoint.ip (whoever's address the log gives: it may be the sender's)
//	Description → message, read by mapkit.ReadPhrase with quoted parts left out:
//	              its first known verb → activity (constellation1Verbs; 99 Other keeps
//	              the verb as activity_name);
//	              the party after the lower-case word "by" → actor.user; without "by", a
//	              subject before the verb that is one person with an address ("bob@x.com
//	              logged in", "Jane Doe <jane@x.com> signed in")
//	              → actor.user; otherwise no actor;
//	              the parties after "sent to", "shared with", "delegated to", "recalled
//	              from", … → unmapped.recipients (never the actor);
//	              the first quoted name ('Listing Agreement') → web_resources[1].name
//
// The envelope's entity is the signing session id (web_resources[0].uid, its entity_name
// the name). The log has no entry id.
//
// Where an action log keeps what it says (the date is read first). Its verb, actor,
// recipients and document come from the description (adjust).
var Mapper = mapkit.ESign{Entry: mapkit.Entry{
	Product: ocsf.Product{Name: "Constellation1 eSign", VendorName: "Constellation1"}, ResourceType: "signing session",
	Noun: "constellation1 action log", Word: "description", WordName: "Description", Time: "date", TimeName: "Date",
	TimeFirst: true, Trim: true, IP: "ipaddress", IPName: "IPAddress",
}, Adjust: adjust}

// adjust reads the verb, the actor, the recipients and the document from the description,
// which is the message.
func adjust(_ *schemas.Envelope, _ jsonx.Value, a *mapkit.Action) []string {
	desc := a.VerbText
	ph := mapkit.ReadPhrase(desc)
	var at int
	a.Verb, a.VerbText, at = constellation1Verb(ph.Masked)
	a.User = nil
	switch {
	case ph.Actor != nil:
		a.User = ph.Actor.User()
	case !ph.By && at > 0:
		// "bob@x.com logged in", "Jane Doe <jane@x.com> signed in": the subject acted, when
		// it is one person with an address ("Document viewed" names nobody).
		if ps := mapkit.Parties(ph.Masked[:at]); len(ps) == 1 && ps[0].Email != "" && properName(ps[0].Name) {
			a.User = ps[0].User()
		}
	}
	a.Target = ph.Document
	a.SetRecipients(ph.Recipients, ph.Relation)
	a.Message = desc
	return nil
}

// constellation1Verb finds the action in a description (quoted parts blanked): the first
// word that is a verb of the table, where "logged in"/"signed in" (and out) are log-ins;
// without one, 99 Other with the first word ending in "ed" (or none) as the activity
// name. at is the verb's offset (the subject stands before it; 0 without a verb).
func constellation1Verb(desc string) (v mapkit.Verb, word string, at int) {
	type w struct {
		s  string
		at int
	}
	var words []w
	letter := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	for i := 0; i < len(desc); {
		if !letter(desc[i]) {
			i++
			continue
		}
		j := i
		for j < len(desc) && letter(desc[j]) {
			j++
		}
		words = append(words, w{strings.ToLower(desc[i:j]), i})
		i = j
	}
	for i, x := range words {
		if i+1 < len(words) && (x.s == "logged" || x.s == "signed") {
			switch words[i+1].s {
			case "in", "on":
				return mapkit.VerbLogon, x.s + " " + words[i+1].s, x.at
			case "out", "off":
				return mapkit.VerbLogoff, x.s + " " + words[i+1].s, x.at
			}
		}
		if v, ok := constellation1Verbs[x.s]; ok {
			return v, x.s, x.at
		}
	}
	for _, x := range words {
		if len(x.s) > 3 && strings.HasSuffix(x.s, "ed") {
			return mapkit.VerbOther, x.s, x.at
		}
	}
	return mapkit.VerbOther, "", 0
}

// properName says whether every word of a name starts with a capital letter (an empty name
// too): "Jane Doe" is a subject, "To document" is not.
func properName(name string) bool {
	for _, w := range strings.Fields(name) {
		if r, _ := utf8.DecodeRuneInString(w); !unicode.IsUpper(r) {
			return false
		}
	}
	return true
}
