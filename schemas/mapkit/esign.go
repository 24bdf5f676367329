package mapkit

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/jsonx"
	"github.com/auditstream/auditstream/schemas/ocsf"
)

// The e-signature providers (Conga Sign, SigningHub, Constellation1 eSign) log what people
// did with a package (a signing session): each entry becomes Web Resources Activity (6001)
// on the package, or Authentication (3002) for a log-in. Each provider's mapper reads its
// entry into an Action; Action.event builds the OCSF event the same way for all.

// Verb is where a provider's action word goes: a 3002 activity (auth != 0) or a 6001
// activity (99 Other keeps the provider's word as activity_name).
type Verb struct {
	Web  ocsf.ActivityID6001
	Auth ocsf.ActivityID3002
}

var (
	VerbRead   = Verb{Web: ocsf.WebResourcesActivityRead}
	VerbExport = Verb{Web: ocsf.WebResourcesActivityExport}
	VerbShare  = Verb{Web: ocsf.WebResourcesActivityShare}
	VerbOther  = Verb{Web: ocsf.WebResourcesActivityOther}
	VerbLogon  = Verb{Auth: ocsf.AuthenticationLogon}
	VerbLogoff = Verb{Auth: ocsf.AuthenticationLogoff}
)

// Action is one entry, read.
type Action struct {
	Product      ocsf.Product
	ResourceType string // what the envelope's entity is ("package", "signing session")
	Verb         Verb
	VerbText     string // the provider's action word (activity_name for 99 Other)
	Time         int64
	OriginalTime string
	OriginalUID  string
	EventCode    string
	User         *ocsf.User
	IP           string // the actor's address as given
	IPKey        string // the provider's name of that field (unmapped when it is no IP)
	Target       string // the document or item acted on, when the entry names one
	// Recipients are the ones the entry was addressed to or acted upon ("sent to",
	// "shared with", "delegated to", "recalled from"), Relation the words that said so.
	// OCSF has no place for them in 6001 or 3002: they go to unmapped["recipients"].
	Recipients []Party
	Relation   string
	Message    string
	Unmapped   Unmapped
}

// SetRecipients records the ones the entry was addressed to; the actor is never one of
// them: a user who is a recipient (the entry's user fields name the addressee) is no
// actor.
func (a *Action) SetRecipients(ps []Party, relation string) {
	if len(ps) == 0 {
		return
	}
	a.Recipients, a.Relation = ps, relation
	for _, p := range ps {
		if p.same(a.User) {
			a.User = nil
		}
	}
}

// RecipientNote is what a message says of the recipients: " (<relation> <name or
// address>, …)", or nothing without recipients.
func (a *Action) RecipientNote() string {
	if len(a.Recipients) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(" (" + a.Relation)
	for i, p := range a.Recipients {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(' ')
		if p.Name != "" {
			b.WriteString(p.Name)
		} else {
			b.WriteString(p.Email)
		}
	}
	b.WriteByte(')')
	return b.String()
}

// recipientsValue is unmapped["recipients"]: one object per recipient, with the user
// attributes the text gave ("name", "email_addr").
func (a *Action) recipientsValue() []any {
	out := make([]any, 0, len(a.Recipients))
	for _, p := range a.Recipients {
		m := map[string]any{}
		if p.Name != "" {
			m["name"] = p.Name
		}
		if p.Email != "" {
			m["email_addr"] = p.Email
		}
		out = append(out, m)
	}
	return out
}

// Event builds the OCSF event of an action on the envelope's entity.
func (a *Action) Event(env *schemas.Envelope) (ocsf.Event, error) {
	var base *ocsf.Base
	var ev ocsf.Event
	ep, isIP := Endpoint(a.IP)
	if len(a.Recipients) > 0 {
		a.Unmapped.Set("recipients", a.recipientsValue())
	}
	if !isIP && a.IP != "" {
		a.Unmapped.Set(a.IPKey, a.IP) // not an address OCSF accepts: kept as given
		ep = ocsf.NetworkEndpoint{}
	}
	if a.Verb.Auth != 0 {
		if a.User == nil || a.User.Name == "" && a.User.UID == "" {
			return nil, fmt.Errorf("%s log-in entry names no user: %w", a.Product.Name, ErrUnmappable)
		}
		au := ocsf.NewAuthentication()
		au.ActivityID = a.Verb.Auth
		au.User = *a.User
		au.Actor = &ocsf.Actor{User: a.User}
		au.Service = &ocsf.Service{Name: a.Product.Name}
		if isIP {
			au.SrcEndpoint = &ep
		}
		if a.Target != "" {
			a.Unmapped.Set("target", a.Target)
		}
		ev, base = au, &au.Base
	} else {
		w := ocsf.NewWebResourcesActivity()
		w.ActivityID = a.Verb.Web
		w.WebResources = append(w.WebResources, ocsf.WebResource{UID: env.Entity, Name: env.EntityName, Type: a.ResourceType})
		if a.Target != "" && a.Target != env.Entity && a.Target != env.EntityName {
			w.WebResources = append(w.WebResources, ocsf.WebResource{Name: a.Target})
		}
		if a.User != nil {
			w.Actor = &ocsf.Actor{User: a.User}
		}
		if isIP {
			w.SrcEndpoint = &ep
		}
		if a.Verb.Web == ocsf.WebResourcesActivityOther {
			w.ActivityName = a.VerbText
		}
		ev, base = w, &w.Base
	}
	base.Time, base.SeverityID, base.StatusID = a.Time, ocsf.SeverityInformational, ocsf.StatusSuccess
	base.Message = a.Message
	md := &base.Metadata
	md.Product = a.Product
	md.OriginalTime = a.OriginalTime
	md.OriginalEventUID = a.OriginalUID
	md.EventCode = a.EventCode
	md.LogName = "audit"
	base.Unmapped = a.Unmapped.M
	return ev, nil
}

// LookupVerb finds an action word in a provider's table, folded to lower-case letters and
// digits ("Click To Sign", "ClickToSign" and "CLICK_TO_SIGN" are all "clicktosign");
// unknown words are 99 Other.
func LookupVerb(table map[string]Verb, word string) Verb {
	var buf [64]byte
	if v, ok := table[string(foldInto(buf[:0], word))]; ok {
		return v
	}
	return VerbOther
}

// Fold is a word as LookupVerb compares it: lower-case letters and digits only
// ("SHARED_WITH" → "sharedwith").
func Fold(word string) string { return string(foldInto(make([]byte, 0, len(word)), word)) }

// foldInto appends the folded word to key, up to its capacity.
func foldInto(key []byte, word string) []byte {
	for i := 0; i < len(word) && len(key) < cap(key); i++ {
		switch c := word[i]; {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			key = append(key, c)
		case c >= 'A' && c <= 'Z':
			key = append(key, c+'a'-'A')
		}
	}
	return key
}

// Entry describes an e-signature provider's JSON entry: what it is about (product,
// resource type), where it keeps each field (keys compared as jsonx.Value.Loose does; an
// empty key: the entry has no such field) and how the provider's errors name them. A
// provider's mapping is one Entry plus what differs (its message, its extra fields).
type Entry struct {
	Product      ocsf.Product
	ResourceType string // what the envelope's entity is ("package", "signing session")
	// Verbs is the provider's table of action words (folded as LookupVerb does); nil: the
	// mapping sets Verb and VerbText itself.
	Verbs map[string]Verb
	// EventCode: the action word is the provider's event code (metadata.event_code).
	EventCode bool

	Noun     string // the entry in errors ("conga audit event")
	Word     string // key of the action word or text ("type", "description")
	WordName string // its name in errors ("type", "Description")
	Time     string // key of the time ("datetime", "date")
	TimeName string // its name in errors ("date-time", "Date")
	// TimeFirst reads the time before the word (the order decides which error a doubly
	// broken entry reports); Trim trims spaces around the word.
	TimeFirst, Trim bool

	UserName, UserEmail string // keys of the actor's name and e-mail address
	UID                 string // key of the entry's own id (metadata.original_event_uid)
	IP                  string // key of the actor's address
	IPName              string // that field as the provider spells it (unmapped when it is no IP)
	Target              string // key of the document acted on
}

// Keys are the entry's keys that Read maps, and extra: what Unmapped.RestLoose leaves out.
func (d Entry) Keys(extra ...string) []string {
	keys := slices.Clip(extra) // appending never writes into the caller's array
	for _, k := range []string{d.Word, d.Time, d.UserName, d.UserEmail, d.UID, d.IP, d.Target} {
		if k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// Read opens an entry and reads every field the Entry names into an Action; the mapping
// adds its message and what else its provider says (Unmapped.RestLoose(e, d.Keys(…)) last).
func (d Entry) Read(env *schemas.Envelope, zone *time.Location) (e jsonx.Value, a Action, err error) {
	e, word, when, t, err := d.Open(env, zone)
	if err != nil {
		return e, a, err
	}
	text := func(key string) string {
		if key == "" {
			return ""
		}
		return e.Loose(key).Text()
	}
	a = Action{Product: d.Product, ResourceType: d.ResourceType, VerbText: word, Time: t, OriginalTime: when,
		OriginalUID: text(d.UID), IP: text(d.IP), IPKey: d.IPName, Target: text(d.Target)}
	if d.Verbs != nil {
		a.Verb = LookupVerb(d.Verbs, word)
	}
	if d.EventCode {
		a.EventCode = word
	}
	if d.UserName != "" || d.UserEmail != "" {
		a.User = User(text(d.UserName), text(d.UserEmail), "")
	}
	return e, a, nil
}

// Open reads an entry: the JSON object, its action word (refused when empty: nothing to
// map) and its time (zone-less times in zone), as given and in OCSF milliseconds.
func (d Entry) Open(env *schemas.Envelope, zone *time.Location) (e jsonx.Value, word, when string, t int64, err error) {
	if e, err = EntryObject(env); err != nil {
		return e, "", "", 0, fmt.Errorf("%s: %w", d.Noun, err)
	}
	readWord := func() error {
		if word = e.Loose(d.Word).Text(); d.Trim {
			word = strings.TrimSpace(word)
		}
		if word == "" {
			return fmt.Errorf("%s has no %s: %w", d.Noun, d.WordName, ErrUnmappable)
		}
		return nil
	}
	if !d.TimeFirst {
		if err = readWord(); err != nil {
			return e, "", "", 0, err
		}
	}
	when = e.Loose(d.Time).Text()
	if t, err = EventTime(when, zone); err != nil {
		return e, "", "", 0, fmt.Errorf("%s %s: %w", d.Noun, d.TimeName, err)
	}
	if d.TimeFirst {
		if err = readWord(); err != nil {
			return e, "", "", 0, err
		}
	}
	return e, word, when, t, nil
}

// ESign is an e-signature provider's mapping: its Entry read into an Action, completed by
// Adjust (the provider's message and what else only it says), the rest of the entry
// unmapped, and the event built by Action.Event.
type ESign struct {
	Entry
	// Adjust completes the action; it returns the keys of the entry it mapped beyond the
	// Entry's own (left out of unmapped).
	Adjust func(env *schemas.Envelope, e jsonx.Value, a *Action) (mapped []string)
}

// Map implements Mapper.
func (m ESign) Map(env *schemas.Envelope, zone *time.Location) (ocsf.Event, error) {
	e, a, err := m.Read(env, zone)
	if err != nil {
		return nil, err
	}
	a.Unmapped.RestLoose(e, m.Keys(m.Adjust(env, e, &a)...)...)
	return a.Event(env)
}
