package normalizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/auditstream/auditstream/normalizer/ocsf"
	"github.com/auditstream/auditstream/schemas"
)

// IONOSMapper maps IONOS Cloud activity log entries to OCSF API Activity (6003).
type IONOSMapper struct{}

type ionosEntry struct {
	UUID json.RawMessage `json:"@uuid"`
	Meta struct {
		AuditVersion json.RawMessage `json:"auditVersion"`
		RequestID    json.RawMessage `json:"requestId"`
		Time         string          `json:"time"`
	} `json:"meta"`
	Principal struct {
		SourceIP string `json:"sourceIP"`
		Identity struct {
			ContractNumber json.RawMessage `json:"contractNumber"`
			Username       string          `json:"username"`
		} `json:"identity"`
		SourceService string `json:"sourceService"`
	} `json:"principal"`
	Event struct {
		Type      string          `json:"type"`
		Status    json.RawMessage `json:"status"`
		Message   string          `json:"message"`
		Param     json.RawMessage `json:"param"`
		Resources []struct {
			ID     json.RawMessage `json:"id"`
			Type   string          `json:"type"`
			Action []string        `json:"action"`
		} `json:"resources"`
	} `json:"event"`
}

// ionosVerbs maps the last segment of an action ("sec.user.create") to an API Activity id.
// OCSF 1.8.0 defines only Create/Read/Update/Delete for class 6003 (no Other), so verbs
// that change state without creating or deleting map to Update.
var ionosVerbs = map[string]ocsf.ActivityID6003{
	"create": ocsf.APIActivityCreate, "add": ocsf.APIActivityCreate, "provision": ocsf.APIActivityCreate, "upload": ocsf.APIActivityCreate, "post": ocsf.APIActivityCreate, "attach": ocsf.APIActivityCreate,
	"get": ocsf.APIActivityRead, "list": ocsf.APIActivityRead, "read": ocsf.APIActivityRead, "view": ocsf.APIActivityRead, "describe": ocsf.APIActivityRead, "download": ocsf.APIActivityRead,
	"delete": ocsf.APIActivityDelete, "remove": ocsf.APIActivityDelete, "destroy": ocsf.APIActivityDelete, "detach": ocsf.APIActivityDelete, "revoke": ocsf.APIActivityDelete,
}

// Map implements Mapper.
func (IONOSMapper) Map(env *schemas.Envelope, zone *time.Location) (ocsf.Event, error) {
	var e ionosEntry
	if err := json.Unmarshal(env.Record, &e); err != nil {
		return nil, fmt.Errorf("ionos entry: %w", err)
	}
	t, err := eventTime(e.Meta.Time, zone)
	if err != nil {
		return nil, fmt.Errorf("ionos entry meta.time: %w", err)
	}
	ev := &ocsf.APIActivity{}
	ev.SeverityID, ev.Time = ocsf.SeverityInformational, t
	ev.Metadata.Product = ocsf.Product{Name: "IONOS Cloud Activity Log", VendorName: "IONOS"}
	ev.Metadata.OriginalTime = e.Meta.Time
	ev.Metadata.CorrelationUID = str(e.Meta.RequestID)
	ev.Metadata.LogName = "activitylog"
	ev.Metadata.LogVersion = str(e.Meta.AuditVersion)
	ev.Metadata.EventCode = e.Event.Type

	operation := ""
	var resources []ocsf.ResourceDetails
	var untyped []string
	for _, r := range e.Event.Resources {
		if operation == "" && len(r.Action) > 0 {
			operation = r.Action[0]
		}
		if id := str(r.ID); id != "" {
			resources = append(resources, ocsf.ResourceDetails{UID: id, Type: r.Type})
		} else if r.Type != "" {
			// OCSF wants a resource's name or uid: a bare type stays in unmapped.
			untyped = append(untyped, r.Type)
		}
	}
	ev.Resources = resources
	if operation == "" {
		operation = e.Event.Type
	}
	if operation == "" {
		return nil, fmt.Errorf("ionos entry has neither an action nor an event type: %w", ErrUnmappable)
	}
	verb := operation[strings.LastIndexByte(operation, '.')+1:]
	act, ok := ionosVerbs[strings.ToLower(verb)]
	if !ok {
		act = ocsf.APIActivityUpdate
	}
	ev.ActivityID = act

	ev.API = ocsf.API{Operation: operation}
	if e.Principal.SourceService != "" {
		ev.API.Service = &ocsf.Service{Name: e.Principal.SourceService}
	}
	if rid := str(e.Meta.RequestID); rid != "" {
		ev.API.Request = &ocsf.Request{UID: rid}
	}
	user := &ocsf.User{Name: e.Principal.Identity.Username}
	if ocsf.ValidEmail(user.Name) {
		user.EmailAddr = user.Name
	}
	if user.Name == "" {
		user = &ocsf.User{Name: "unknown"}
	}
	ev.Actor = ocsf.Actor{User: user}
	ev.SrcEndpoint = *endpoint(e.Principal.SourceIP, e.Principal.SourceService)

	switch e.Event.Type {
	case "RequestAccepted", "RequestSucceeded", "Success":
		ev.StatusID = ocsf.StatusSuccess
	case "RequestDenied", "RequestFailed", "RequestRejected", "Failure":
		ev.StatusID = ocsf.StatusFailure
	default:
		ev.StatusID = ocsf.StatusUnknown
	}
	if e.Event.Type != "" {
		ev.Status = e.Event.Type
	}
	ev.StatusDetail = e.Event.Message
	ev.Message = fmt.Sprintf("%s by %s (%s)", operation, user.Name, orUnknown(e.Event.Type))

	unmapped := map[string]any{}
	if len(e.Event.Param) > 0 && string(e.Event.Param) != "{}" && string(e.Event.Param) != "null" {
		unmapped["event.param"] = json.RawMessage(e.Event.Param)
	}
	if cn := str(e.Principal.Identity.ContractNumber); cn != "" {
		unmapped["principal.identity.contractNumber"] = cn
	}
	if s := str(e.Event.Status); s != "" {
		unmapped["event.status"] = s
	}
	if ev.SrcEndpoint.IP == "" && e.Principal.SourceIP != "" {
		unmapped["principal.sourceIP"] = e.Principal.SourceIP
	}
	if len(e.Event.Resources) > 0 {
		var acts []string
		for _, r := range e.Event.Resources {
			acts = append(acts, r.Action...)
		}
		if len(acts) > 1 {
			unmapped["event.resources.action"] = acts
		}
	}
	if len(untyped) > 0 {
		unmapped["event.resources.type"] = untyped
	}
	if len(unmapped) > 0 {
		ev.Unmapped = unmapped
	}
	return ev, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown outcome"
	}
	return s
}
