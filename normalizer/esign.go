package normalizer

import (
	"fmt"

	"github.com/auditstream/auditstream/normalizer/ocsf"
	"github.com/auditstream/auditstream/schemas"
)

// The e-signature providers (Conga Sign, SigningHub, Constellation1 eSign) log what people
// did with a package (a signing session): each entry becomes Web Resources Activity (6001)
// on the package, or Authentication (3002) for a log-in. Each provider's mapper reads its
// entry into an esignAction; esignAction.event builds the OCSF event the same way for all.

// esignVerb is where a provider's action word goes: a 3002 activity (auth != 0) or a 6001
// activity (99 Other keeps the provider's word as activity_name).
type esignVerb struct {
	web  ocsf.ActivityID6001
	auth ocsf.ActivityID3002
}

var (
	verbRead   = esignVerb{web: ocsf.WebResourcesActivityRead}
	verbExport = esignVerb{web: ocsf.WebResourcesActivityExport}
	verbShare  = esignVerb{web: ocsf.WebResourcesActivityShare}
	verbOther  = esignVerb{web: ocsf.WebResourcesActivityOther}
	verbLogon  = esignVerb{auth: ocsf.AuthenticationLogon}
	verbLogoff = esignVerb{auth: ocsf.AuthenticationLogoff}
)

// esignAction is one entry, read.
type esignAction struct {
	product      ocsf.Product
	resourceType string // what the envelope's entity is ("package", "signing session")
	verb         esignVerb
	verbText     string // the provider's action word (activity_name for 99 Other)
	time         int64
	originalTime string
	originalUID  string
	eventCode    string
	user         *ocsf.User
	ip           string // the actor's address as given
	ipKey        string // the provider's name of that field (unmapped when it is no IP)
	target       string // the document or item acted on, when the entry names one
	message      string
	un           unmapped
}

// event builds the OCSF event of an action on the envelope's entity.
func (a *esignAction) event(env *schemas.Envelope) (ocsf.Event, error) {
	var base *ocsf.Base
	var ev ocsf.Event
	ep, isIP := endpoint(a.ip)
	if !isIP && a.ip != "" {
		a.un.set(a.ipKey, a.ip) // not an address OCSF accepts: kept as given
		ep = ocsf.NetworkEndpoint{}
	}
	if a.verb.auth != 0 {
		if a.user == nil || a.user.Name == "" && a.user.UID == "" {
			return nil, fmt.Errorf("%s log-in entry names no user: %w", a.product.Name, ErrUnmappable)
		}
		au := ocsf.NewAuthentication()
		au.ActivityID = a.verb.auth
		au.User = *a.user
		au.Actor = &ocsf.Actor{User: a.user}
		au.Service = &ocsf.Service{Name: a.product.Name}
		if isIP {
			au.SrcEndpoint = &ep
		}
		if a.target != "" {
			a.un.set("target", a.target)
		}
		ev, base = au, &au.Base
	} else {
		w := ocsf.NewWebResourcesActivity()
		w.ActivityID = a.verb.web
		w.WebResources = append(w.WebResources, ocsf.WebResource{UID: env.Entity, Name: env.EntityName, Type: a.resourceType})
		if a.target != "" && a.target != env.Entity && a.target != env.EntityName {
			w.WebResources = append(w.WebResources, ocsf.WebResource{Name: a.target})
		}
		if a.user != nil {
			w.Actor = &ocsf.Actor{User: a.user}
		}
		if isIP {
			w.SrcEndpoint = &ep
		}
		if a.verb.web == ocsf.WebResourcesActivityOther {
			w.ActivityName = a.verbText
		}
		ev, base = w, &w.Base
	}
	base.Time, base.SeverityID, base.StatusID = a.time, ocsf.SeverityInformational, ocsf.StatusSuccess
	base.Message = a.message
	md := &base.Metadata
	md.Product = a.product
	md.OriginalTime = a.originalTime
	md.OriginalEventUID = a.originalUID
	md.EventCode = a.eventCode
	md.LogName = "audit"
	base.Unmapped = a.un.m
	return ev, nil
}

// lookupVerb finds an action word in a provider's table, folded to lower-case letters and
// digits ("Click To Sign", "ClickToSign" and "CLICK_TO_SIGN" are all "clicktosign");
// unknown words are 99 Other.
func lookupVerb(table map[string]esignVerb, word string) esignVerb {
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
	return verbOther
}
