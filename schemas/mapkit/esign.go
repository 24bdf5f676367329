package mapkit

import (
	"fmt"

	"github.com/auditstream/auditstream/schemas"
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
	Message      string
	Unmapped     Unmapped
}

// Event builds the OCSF event of an action on the envelope's entity.
func (a *Action) Event(env *schemas.Envelope) (ocsf.Event, error) {
	var base *ocsf.Base
	var ev ocsf.Event
	ep, isIP := Endpoint(a.IP)
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
	key := buf[:0]
	for i := 0; i < len(word) && len(key) < len(buf); i++ {
		switch c := word[i]; {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			key = append(key, c)
		case c >= 'A' && c <= 'Z':
			key = append(key, c+'a'-'A')
		}
	}
	if v, ok := table[string(key)]; ok {
		return v
	}
	return VerbOther
}
