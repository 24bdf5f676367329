// Package ecs projects a canonical OCSF event onto Elastic Common Schema (ECS 9.x) JSON,
// the shape Elasticsearch and OpenSearch dashboards, detection rules and SIEM apps expect.
//
// Mapping (OCSF → ECS):
//
//	event time (record header)       → @timestamp (RFC 3339, UTC, ms)
//	metadata.uid (event id)          → event.id
//	provider                         → event.dataset "auditstream.<provider>", event.provider
//	class_uid                        → event.category (3002 authentication, 3001/3005 iam,
//	                                   6001 web, 6003 api)
//	activity_id                      → event.type (start/end, creation/access/change/deletion, info)
//	api.operation or activity_name   → event.action
//	status_id                        → event.outcome (success/failure/unknown)
//	severity_id                      → event.severity; status_detail → event.reason
//	actor.user (else user)           → user.name, user.email, user.id
//	src_endpoint.ip (valid IPs only) → source.ip; the raw value → source.address
//	tenant                           → organization.id
//	cloud.account.uid, else tenant   → cloud.account.id
//	metadata.product                 → observer.vendor, observer.product
//	message                          → message
//	user and IP                      → related.user, related.ip
//
// With Options.OCSFField set, the whole OCSF event is kept under that field too.
package ecs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"

	"github.com/auditstream/auditstream/schemas/ocsf"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/projection"
)

// Version is the ECS version the documents declare (ecs.version).
const Version = "9.0.0"

// Options of the projection.
type Options struct {
	// OCSFField, when set, keeps the canonical OCSF event under this top-level field
	// ("ocsf", say). Empty leaves it out.
	OCSFField string
}

var fieldName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Validate checks the options.
func (o Options) Validate() error {
	if o.OCSFField != "" && !fieldName.MatchString(o.OCSFField) {
		return fmt.Errorf("ocsf field %q must match %s", o.OCSFField, fieldName)
	}
	return nil
}

type doc struct {
	Timestamp    string        `json:"@timestamp"`
	ECS          ecsInfo       `json:"ecs"`
	Message      string        `json:"message,omitempty"`
	Event        event         `json:"event"`
	User         *user         `json:"user,omitempty"`
	Source       *source       `json:"source,omitempty"`
	Cloud        *cloud        `json:"cloud,omitempty"`
	Organization *organization `json:"organization,omitempty"`
	Observer     *observer     `json:"observer,omitempty"`
	Related      *related      `json:"related,omitempty"`
}

type ecsInfo struct {
	Version string `json:"version"`
}

type event struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Category []string `json:"category,omitempty"`
	Type     []string `json:"type,omitempty"`
	Action   string   `json:"action,omitempty"`
	Outcome  string   `json:"outcome"`
	Severity int      `json:"severity"`
	Reason   string   `json:"reason,omitempty"`
	Dataset  string   `json:"dataset"`
	Module   string   `json:"module"`
	Provider string   `json:"provider,omitempty"`
}

type user struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	ID    string `json:"id,omitempty"`
}

type source struct {
	Address string `json:"address,omitempty"`
	IP      string `json:"ip,omitempty"`
}

type cloud struct {
	Account struct {
		ID string `json:"id"`
	} `json:"account"`
}

type organization struct {
	ID string `json:"id"`
}

type observer struct {
	Vendor  string `json:"vendor,omitempty"`
	Product string `json:"product,omitempty"`
}

type related struct {
	IP   []string `json:"ip,omitempty"`
	User []string `json:"user,omitempty"`
}

// Append appends the ECS document of ev to dst (one JSON object, no newline).
func Append(dst []byte, ev sinks.Event, opt Options) ([]byte, error) {
	v, err := projection.Decode(ev)
	if err != nil {
		return dst, err
	}
	d := doc{
		Timestamp: projection.Time(ev, v).Format("2006-01-02T15:04:05.000Z07:00"),
		ECS:       ecsInfo{Version: Version},
		Message:   v.Message,
		Event: event{
			ID:       ev.ID,
			Kind:     "event",
			Category: category(projection.ClassUID(ev, v)),
			Type:     eventType(projection.ClassUID(ev, v), v.ActivityID),
			Action:   v.Action(),
			Outcome:  v.Outcome(),
			Severity: v.SeverityID,
			Reason:   v.StatusDetail,
			Dataset:  "auditstream." + ev.Provider,
			Module:   "auditstream",
			Provider: ev.Provider,
		},
	}
	var rel related
	if u := v.ActorUser(); u != nil && (u.Name != "" || u.EmailAddr != "" || u.UID != "") {
		d.User = &user{Name: u.Name, Email: u.EmailAddr, ID: u.UID}
		for _, s := range []string{u.Name, u.EmailAddr} {
			if s != "" && !slices.Contains(rel.User, s) {
				rel.User = append(rel.User, s)
			}
		}
	}
	if v.SrcEndpoint != nil && (v.SrcEndpoint.IP != "" || v.SrcEndpoint.Name != "") {
		s := &source{Address: v.SrcEndpoint.IP}
		if s.Address == "" {
			s.Address = v.SrcEndpoint.Name
		}
		if ip, ok := v.SourceIP(); ok {
			s.IP = ip.String()
			rel.IP = append(rel.IP, s.IP)
		}
		d.Source = s
	}
	if a := projection.CloudAccount(ev, v); a != "" {
		d.Cloud = &cloud{}
		d.Cloud.Account.ID = a
	}
	if t := projection.Tenant(ev, v); t != "" {
		d.Organization = &organization{ID: t}
	}
	if p := v.Metadata.Product; p.VendorName != "" || p.Name != "" {
		d.Observer = &observer{Vendor: p.VendorName, Product: p.Name}
	}
	if len(rel.IP)+len(rel.User) > 0 {
		d.Related = &rel
	}
	b, err := json.Marshal(&d)
	if err != nil {
		return dst, fmt.Errorf("event %s: encode ECS: %w", ev.ID, err)
	}
	if opt.OCSFField == "" {
		return append(dst, b...), nil
	}
	// Splice the canonical event in as the last field; it is already JSON.
	raw := bytes.TrimSpace(ev.Value)
	dst = append(dst, b[:len(b)-1]...)
	dst = append(dst, `,"`...)
	dst = append(dst, opt.OCSFField...)
	dst = append(dst, `":`...)
	dst = append(dst, raw...)
	return append(dst, '}'), nil
}

func category(class int) []string {
	switch class {
	case ocsf.ClassAuthentication:
		return []string{"authentication"}
	case 3001, 3005: // Account Change, User Access Management
		return []string{"iam"}
	case ocsf.ClassWebResourcesActivity:
		return []string{"web"}
	case ocsf.ClassAPIActivity:
		return []string{"api"}
	}
	return nil
}

func eventType(class, activity int) []string {
	switch class {
	case ocsf.ClassAuthentication:
		switch activity {
		case int(ocsf.AuthenticationLogon):
			return []string{"start"}
		case int(ocsf.AuthenticationLogoff):
			return []string{"end"}
		}
	case ocsf.ClassAPIActivity, ocsf.ClassWebResourcesActivity:
		// Both classes number Create, Read, Update, Delete 1-4; Web Resources Activity
		// adds Search (5) and Export (7), which are reads too.
		switch activity {
		case 1:
			return []string{"creation"}
		case 2:
			return []string{"access"}
		case 3:
			return []string{"change"}
		case 4:
			return []string{"deletion"}
		case 5, 7:
			if class == ocsf.ClassWebResourcesActivity {
				return []string{"access"}
			}
		}
	}
	return []string{"info"}
}
