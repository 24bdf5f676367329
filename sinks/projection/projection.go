// Package projection turns a canonical OCSF event into the shapes other stores and SIEMs
// expect: ECS JSON (ecs), CEF (cef), the Splunk HEC event envelope (hec) and CloudEvents
// structured mode (cloudevents). This package holds what they share: the few OCSF
// attributes a projection reads (View) and their derived values (actor, source IP,
// outcome, action).
//
// Routing fields (event id, time, class, provider, tenant) come from the sinks.Event, which
// carries them from the record headers; only the projected content is read from the JSON.
package projection

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/auditstream/auditstream/schemas/ocsf"
	"github.com/auditstream/auditstream/sinks"
)

// View is the part of a canonical event that projections read.
type View struct {
	ActivityID   int            `json:"activity_id"`
	ActivityName string         `json:"activity_name"`
	CategoryName string         `json:"category_name"`
	ClassUID     int            `json:"class_uid"`
	ClassName    string         `json:"class_name"`
	TypeName     string         `json:"type_name"`
	SeverityID   int            `json:"severity_id"`
	StatusID     *ocsf.StatusID `json:"status_id"`
	Status       string         `json:"status"`
	StatusDetail string         `json:"status_detail"`
	Message      string         `json:"message"`
	Time         int64          `json:"time"`
	Metadata     struct {
		UID       string       `json:"uid"`
		TenantUID string       `json:"tenant_uid"`
		Product   ocsf.Product `json:"product"`
	} `json:"metadata"`
	Actor       *ocsf.Actor           `json:"actor"`
	User        *ocsf.User            `json:"user"`
	API         *ocsf.API             `json:"api"`
	SrcEndpoint *ocsf.NetworkEndpoint `json:"src_endpoint"`
	Session     *ocsf.Session         `json:"session"`
	Cloud       *ocsf.Cloud           `json:"cloud"`
}

// Decode reads the projected attributes of ev's canonical JSON.
func Decode(ev sinks.Event) (*View, error) {
	var v View
	if err := json.Unmarshal(ev.Value, &v); err != nil {
		return nil, fmt.Errorf("event %s is not OCSF JSON: %w", ev.ID, err)
	}
	return &v, nil
}

// Time is the event time: the record's routing time, else the OCSF time (epoch ms).
func Time(ev sinks.Event, v *View) time.Time {
	if !ev.Time.IsZero() {
		return ev.Time.UTC()
	}
	return time.UnixMilli(v.Time).UTC()
}

// ClassUID is the record's class, else the OCSF class_uid.
func ClassUID(ev sinks.Event, v *View) int {
	if ev.ClassUID != 0 {
		return ev.ClassUID
	}
	return v.ClassUID
}

// Tenant is the record's tenant, else metadata.tenant_uid.
func Tenant(ev sinks.Event, v *View) string {
	if ev.Tenant != "" {
		return ev.Tenant
	}
	return v.Metadata.TenantUID
}

// CloudAccount is cloud.account.uid (the cloud profile), else the tenant.
func CloudAccount(ev sinks.Event, v *View) string {
	if v.Cloud != nil && v.Cloud.Account != nil && v.Cloud.Account.UID != "" {
		return v.Cloud.Account.UID
	}
	return Tenant(ev, v)
}

// ActorUser is who acted: actor.user (API and web activity), else user (authentication).
func (v *View) ActorUser() *ocsf.User {
	if v.Actor != nil && v.Actor.User != nil {
		return v.Actor.User
	}
	return v.User
}

// ActorName is the acting user's name, else their email address.
func (v *View) ActorName() string {
	u := v.ActorUser()
	if u == nil {
		return ""
	}
	if u.Name != "" {
		return u.Name
	}
	return u.EmailAddr
}

// SourceIP is src_endpoint.ip when it is a valid IP address (providers sometimes send
// other text there; an IP-typed store field would refuse the whole document).
func (v *View) SourceIP() (netip.Addr, bool) {
	if v.SrcEndpoint == nil || v.SrcEndpoint.IP == "" {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(v.SrcEndpoint.IP)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// Outcome is "success", "failure" or "unknown" from status_id.
func (v *View) Outcome() string {
	if v.StatusID == nil {
		return "unknown"
	}
	switch *v.StatusID {
	case ocsf.StatusSuccess:
		return "success"
	case ocsf.StatusFailure:
		return "failure"
	}
	return "unknown"
}

// Action is what was done: the API operation, else the activity name in lower case.
func (v *View) Action() string {
	if v.API != nil && v.API.Operation != "" {
		return v.API.Operation
	}
	return strings.ToLower(v.ActivityName)
}

// Name is a short human-readable description: type_name, else class_name.
func (v *View) Name() string {
	if v.TypeName != "" {
		return v.TypeName
	}
	return v.ClassName
}
