// Package normalizer turns raw envelopes (audit.raw.<provider>) into canonical OCSF 1.8.0
// events (audit.events.v1). Each provider has a Mapper; records that cannot be decoded,
// mapped or validated go to audit.dlq with the reason, and the consumer moves on.
package normalizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/auditstream/auditstream/normalizer/ocsf"
	"github.com/auditstream/auditstream/schemas"
)

// Mapper maps one provider's entries. It fills the class-specific attributes, time,
// severity and status; the normalizer adds the common metadata (uid, tenant, times,
// version), type_uid, raw_data and captions.
type Mapper interface {
	Map(env *schemas.Envelope) (*ocsf.Event, error)
}

// Mappers returns the built-in mappers by provider name.
func Mappers() map[string]Mapper {
	return map[string]Mapper{
		"ionos":  IONOSMapper{},
		"ecgrid": ECGridMapper{},
	}
}

// ErrUnmappable marks an entry that is well-formed but has nothing to map.
var ErrUnmappable = errors.New("entry cannot be mapped")

var classNames = map[int]string{
	ocsf.ClassAuthentication:      "Authentication",
	ocsf.ClassWebResourceActivity: "Web Resources Activity",
	ocsf.ClassAPIActivity:         "API Activity",
}

var categoryNames = map[int]string{
	ocsf.CategoryIAM:         "Identity & Access Management",
	ocsf.CategoryApplication: "Application Activity",
}

var activityNames = map[int]map[int]string{
	ocsf.ClassAPIActivity:         {1: "Create", 2: "Read", 3: "Update", 4: "Delete"},
	ocsf.ClassAuthentication:      {1: "Logon", 2: "Logoff", 3: "Authentication Ticket", 4: "Service Ticket Request", 5: "Service Ticket Renew", 6: "Preauth", 7: "Account Switch"},
	ocsf.ClassWebResourceActivity: {1: "Create", 2: "Read", 3: "Update", 4: "Delete", 5: "Search", 6: "Import", 7: "Export", 8: "Share"},
}

// finish adds what every event carries.
func finish(ev *ocsf.Event, env *schemas.Envelope, processed time.Time) error {
	if _, ok := classNames[ev.ClassUID]; !ok {
		return fmt.Errorf("mapper produced unknown class %d", ev.ClassUID)
	}
	ev.CategoryUID = ev.ClassUID / 1000
	ev.ClassName = classNames[ev.ClassUID]
	ev.CategoryName = categoryNames[ev.CategoryUID]
	ev.TypeUID = ev.ClassUID*100 + ev.ActivityID
	name, ok := activityNames[ev.ClassUID][ev.ActivityID]
	if !ok {
		return fmt.Errorf("class %d has no activity %d", ev.ClassUID, ev.ActivityID)
	}
	if ev.ActivityName == "" {
		ev.ActivityName = name
	}
	ev.TypeName = ev.ClassName + ": " + name
	ev.Severity = ocsf.SeverityName(ev.SeverityID)
	if ev.StatusID != nil && ev.Status == "" {
		ev.Status = ocsf.StatusName(*ev.StatusID)
	}
	ev.Metadata.Version = ocsf.Version
	ev.Metadata.UID = schemas.EventID(env.ID)
	ev.Metadata.TenantUID = env.Tenant
	ev.Metadata.LoggedTime = env.FetchedAt.UnixMilli()
	ev.Metadata.ProcessedTime = processed.UnixMilli()
	if ev.Time == 0 {
		return errors.New("event has no time")
	}
	if env.ContentType == schemas.ContentXML {
		s, err := env.XML()
		if err != nil {
			return err
		}
		ev.RawData = s
	} else {
		ev.RawData = string(env.Record)
	}
	return nil
}

// endpoint returns a network endpoint for an address that may not be an IP: a valid IP
// goes to ip, anything else to name (OCSF's ip_t accepts IPs only).
func endpoint(addr, fallbackName string) *ocsf.NetworkEndpoint {
	if a, err := netip.ParseAddr(addr); err == nil {
		return &ocsf.NetworkEndpoint{IP: a.String()}
	}
	if addr != "" {
		return &ocsf.NetworkEndpoint{Name: addr}
	}
	if fallbackName != "" {
		return &ocsf.NetworkEndpoint{Name: fallbackName}
	}
	return &ocsf.NetworkEndpoint{Name: "unknown"}
}

// str reads a JSON scalar as a string (strings as is, numbers in their JSON form).
func str(v json.RawMessage) string {
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String()
	}
	return ""
}
