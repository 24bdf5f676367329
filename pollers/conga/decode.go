package conga

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/auditstream/auditstream/internal/lenient"
	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/schemas/timeparse"
)

// Event is one audit event exactly as received, with its parsed time (zero when the
// entry has no readable date-time).
type Event = fulllog.Entry

// Audit is a decoded GET /api/sign/v1/cs-packages/{packageId}/audit answer.
type Audit struct {
	PackageID string
	Events    []Event
}

// DecodeAudit reads an audit answer: {"package-id", "audit-events": [...]} (also
// packageId/auditEvents and other spellings). Every event must be a JSON object and is
// kept byte for byte; a `date-time` without a zone is read in loc. It never panics.
func DecodeAudit(body []byte, loc *time.Location) (*Audit, error) {
	o, err := lenient.ParseObject(body)
	if err != nil {
		return nil, fmt.Errorf("audit answer is not a JSON object: %w", err)
	}
	if !o.Has("audit-events", "auditEvents", "events") {
		return nil, fmt.Errorf("audit answer has no \"audit-events\" list")
	}
	items, err := o.Array("audit-events", "auditEvents", "events")
	if err != nil {
		return nil, fmt.Errorf("audit answer: %w", err)
	}
	a := &Audit{}
	a.PackageID, _ = o.String("package-id", "packageId", "id")
	if a.Events, err = fulllog.DecodeEntries(items, loc, "audit event", "date-time", "dateTime", "date", "timestamp"); err != nil {
		return nil, err
	}
	return a, nil
}

// Package is one entry of the cs-packages listing.
type Package struct {
	ID, Name, Status string
	Created, Updated time.Time
}

// Terminal reports whether a package status is final: COMPLETED, ARCHIVED, DECLINED,
// OPTED_OUT, EXPIRED (and DELETED/TRASHED where an account reports them).
func Terminal(status string) bool {
	switch status {
	case "COMPLETED", "ARCHIVED", "DECLINED", "OPTED_OUT", "EXPIRED", "DELETED", "TRASHED":
		return true
	}
	return false
}

// Packages is a decoded listing page.
type Packages struct {
	// Count is the total number of packages of the listing (-1 when the answer has none).
	Count   int
	Results []Package
}

// DecodePackages reads GET /api/sign/v1/cs-packages: {count, results: [{id, name,
// status, created, updated, ...}]} (also a bare list, or "packages"/"data" for results).
func DecodePackages(body []byte, loc *time.Location) (*Packages, error) {
	var items []json.RawMessage
	p := &Packages{Count: -1}
	if err := json.Unmarshal(body, &items); err != nil {
		o, err := lenient.ParseObject(body)
		if err != nil {
			return nil, fmt.Errorf("package listing is not JSON: %w", err)
		}
		if !o.Has("results", "packages", "data") {
			return nil, fmt.Errorf("package listing has no \"results\" list")
		}
		if items, err = o.Array("results", "packages", "data"); err != nil {
			return nil, fmt.Errorf("package listing: %w", err)
		}
		if s, ok := o.String("count", "total"); ok {
			var n int
			if _, err := fmt.Sscan(s, &n); err != nil || n < 0 {
				return nil, fmt.Errorf("package listing count %q is not a non-negative integer", s)
			}
			p.Count = n
		}
	}
	for i, raw := range items {
		o, err := lenient.ParseObject(raw)
		if err != nil {
			return nil, fmt.Errorf("package %d: %w", i, err)
		}
		pk := Package{}
		pk.ID, _ = o.String("id", "packageId", "uid")
		if pk.ID == "" {
			return nil, fmt.Errorf("package %d has no id", i)
		}
		pk.Name, _ = o.String("name", "packageName")
		pk.Status, _ = o.String("status", "packageStatus")
		pk.Created = timeField(o, loc, "created", "createdDate")
		pk.Updated = timeField(o, loc, "updated", "updatedDate", "modified", "lastUpdated")
		p.Results = append(p.Results, pk)
	}
	return p, nil
}

func timeField(o lenient.Object, loc *time.Location, names ...string) time.Time {
	if s, ok := o.String(names...); ok {
		if t, err := timeparse.Parse(s, loc); err == nil {
			return t
		}
	}
	return time.Time{}
}
