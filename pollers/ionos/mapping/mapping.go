package mapping

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/jsonx"
	"github.com/auditstream/auditstream/schemas/mapkit"
	"github.com/auditstream/auditstream/schemas/ocsf"
)

// Mapper maps IONOS Cloud activity log entries to OCSF API Activity (6003):
//
//	@uuid                          → metadata.original_event_uid
//	meta.Time                      → time, metadata.original_time
//	meta.requestId                 → api.request.uid, metadata.correlation_uid
//	meta.auditVersion              → metadata.log_version
//	principal.identity.username    → actor.user.name (and email_addr when it is an e-mail)
//	principal.identity.contractNumber → cloud.account.uid (cloud.provider "IONOS"; the
//	                                 poller's contract when the entry has none)
//	principal.sourceIP             → src_endpoint.ip (not an IP: src_endpoint.name)
//	principal.sourceService        → api.service.name (and src_endpoint.svc_name without an IP)
//	event.resources[].action[0]    → api.operation; its last segment → activity_id
//	event.resources[] id, type     → resources[] uid, type
//	event.type                     → status_id (Success/Failure), metadata.event_code
//	event.message                  → status_detail
//	anything else                  → unmapped
type Mapper struct{}

// ionosVerbs maps the last segment of an action ("sec.user.create") to an API Activity
// id; other verbs are 99 Other with the verb as activity_name.
var ionosVerbs = map[string]ocsf.ActivityID6003{
	"create": ocsf.APIActivityCreate, "add": ocsf.APIActivityCreate, "provision": ocsf.APIActivityCreate, "upload": ocsf.APIActivityCreate, "post": ocsf.APIActivityCreate, "attach": ocsf.APIActivityCreate,
	"get": ocsf.APIActivityRead, "list": ocsf.APIActivityRead, "read": ocsf.APIActivityRead, "view": ocsf.APIActivityRead, "describe": ocsf.APIActivityRead, "download": ocsf.APIActivityRead,
	"update": ocsf.APIActivityUpdate, "modify": ocsf.APIActivityUpdate, "patch": ocsf.APIActivityUpdate, "put": ocsf.APIActivityUpdate, "edit": ocsf.APIActivityUpdate, "rename": ocsf.APIActivityUpdate, "change": ocsf.APIActivityUpdate, "set": ocsf.APIActivityUpdate,
	"delete": ocsf.APIActivityDelete, "remove": ocsf.APIActivityDelete, "destroy": ocsf.APIActivityDelete, "detach": ocsf.APIActivityDelete, "revoke": ocsf.APIActivityDelete,
}

// ionosStatus maps event.type to a status id (others: Unknown, left out).
var ionosStatus = map[string]ocsf.StatusID{
	"RequestAccepted": ocsf.StatusSuccess, "RequestSucceeded": ocsf.StatusSuccess, "Success": ocsf.StatusSuccess,
	"RequestDenied": ocsf.StatusFailure, "RequestFailed": ocsf.StatusFailure, "RequestRejected": ocsf.StatusFailure, "Failure": ocsf.StatusFailure,
}

// Map implements mapkit.Mapper.
func (Mapper) Map(env *schemas.Envelope, zone *time.Location) (ocsf.Event, error) {
	e, err := mapkit.EntryObject(env)
	if err != nil {
		return nil, fmt.Errorf("ionos entry: %w", err)
	}
	meta, principal, event := e.Get("meta"), e.Get("principal"), e.Get("event")
	identity := principal.Get("identity")
	timeText := meta.Get("time").Str()
	t, err := mapkit.EventTime(timeText, zone)
	if err != nil {
		return nil, fmt.Errorf("ionos entry meta.Time: %w", err)
	}
	x := ionosEvents.Get().(*ionosEvent)
	x.APIActivity = ocsf.NewAPIActivity()
	ev := x.APIActivity
	ev.SeverityID, ev.Time = ocsf.SeverityInformational, t
	md := &ev.Metadata
	md.Product = ocsf.Product{Name: "IONOS Cloud Activity Log", VendorName: "IONOS"}
	md.OriginalTime = timeText
	md.OriginalEventUID = e.Get("@uuid").Text()
	md.CorrelationUID = meta.Get("requestId").Text()
	md.LogName = "activitylog"
	md.LogVersion = meta.Get("auditVersion").Text()
	evType := event.Get("type").Str()
	md.EventCode = evType
	var un mapkit.Unmapped

	operation := ""
	var acts, untyped []string
	resources := event.Get("resources")
	resources.Items(func(_ int, r jsonx.Value) bool {
		r.Get("action").Items(func(_ int, a jsonx.Value) bool {
			if s := a.Text(); s != "" {
				acts = append(acts, s)
			}
			return true
		})
		typ := r.Get("type").Text()
		if id := r.Get("id").Text(); id != "" {
			ev.Resources = append(ev.Resources, ocsf.ResourceDetails{UID: id, Type: typ})
		} else if typ != "" {
			// OCSF wants a resource's name or uid: a bare type stays in unmapped.
			untyped = append(untyped, typ)
		}
		un.Rest(r, "event.resources", "action", "id", "type")
		return true
	})
	if len(acts) > 0 {
		operation = acts[0]
	}
	if operation == "" {
		operation = evType
	}
	if operation == "" {
		x.Release()
		return nil, fmt.Errorf("ionos entry has neither an action nor an event type: %w", mapkit.ErrUnmappable)
	}
	verb := operation[strings.LastIndexByte(operation, '.')+1:]
	if act, ok := ionosVerbs[strings.ToLower(verb)]; ok {
		ev.ActivityID = act
	} else {
		ev.ActivityID, ev.ActivityName = ocsf.APIActivityOther, verb
	}

	service := principal.Get("sourceService").Str()
	ev.API = ocsf.API{Operation: operation}
	if service != "" {
		x.service.Name = service
		ev.API.Service = &x.service
	}
	if rid := md.CorrelationUID; rid != "" {
		x.request.UID = rid
		ev.API.Request = &x.request
	}
	username := identity.Get("username").Text()
	switch {
	case username != "":
		ev.Actor.User = mapkit.FillUser(&x.user, username, username, "")
	case service != "":
		ev.Actor.AppName = service
	default:
		x.Release()
		return nil, fmt.Errorf("ionos entry names neither a user nor a service as the actor: %w", mapkit.ErrUnmappable)
	}
	ip := principal.Get("sourceIP").Text()
	ep, ok := mapkit.Endpoint(ip)
	if !ok && ip != "" {
		un.Set("principal.sourceIP", ip)
	}
	if ep.IP == "" && ep.Name == "" {
		if service == "" {
			x.Release()
			return nil, fmt.Errorf("ionos entry has no source address or service: %w", mapkit.ErrUnmappable)
		}
		ep.SvcName = service
	}
	ev.SrcEndpoint = ep
	contract := identity.Get("contractNumber").Text()
	if contract == "" {
		contract = env.Tenant // the poller reads one contract's log
	}
	x.account.UID = contract
	x.cloud = ocsf.Cloud{Provider: "IONOS", Account: &x.account}
	ev.Cloud = &x.cloud

	ev.StatusID = ionosStatus[evType]
	ev.StatusDetail = event.Get("message").Text()
	who := username
	if who == "" {
		who = service
	}
	if evType == "" {
		ev.Message = operation + " by " + who + " (unknown outcome)"
	} else {
		ev.Message = operation + " by " + who + " (" + evType + ")"
	}

	if p := event.Get("param"); p.Kind() != jsonx.Null && p.Exists() && !(p.Kind() == jsonx.Object && p.Len() == 0) {
		un.Set("event.param", mapkit.RawJSON(p))
	}
	if s := event.Get("status").Text(); s != "" {
		un.Set("event.status", s)
	}
	if len(acts) > 1 {
		un.Set("event.resources.action", acts)
	}
	if len(untyped) > 0 {
		un.Set("event.resources.type", untyped)
	}
	un.Rest(e, "", "@uuid", "meta", "principal", "event")
	un.Rest(meta, "meta", "time", "requestId", "auditVersion")
	un.Rest(principal, "principal", "identity", "sourceIP", "sourceService")
	un.Rest(identity, "principal.identity", "username", "contractNumber")
	un.Rest(event, "event", "type", "status", "message", "param", "resources")
	ev.Unmapped = un.M
	return x, nil
}

// ionosEvent is an IONOS event with the objects it points to, pooled together: a mapped
// event costs no allocation for them.
type ionosEvent struct {
	*ocsf.APIActivity
	service ocsf.Service
	request ocsf.Request
	user    ocsf.User
	cloud   ocsf.Cloud
	account ocsf.Account
}

var ionosEvents = sync.Pool{New: func() any { return new(ionosEvent) }}

// Release returns the event and its objects to their pools.
func (x *ionosEvent) Release() {
	x.APIActivity.Release()
	*x = ionosEvent{}
	ionosEvents.Put(x)
}

// Subjects implements ocsf.Subjects (the observables of the pooled event).
func (x *ionosEvent) Subjects() (*ocsf.Actor, *ocsf.User, *ocsf.NetworkEndpoint) {
	return &x.Actor, nil, &x.SrcEndpoint
}
