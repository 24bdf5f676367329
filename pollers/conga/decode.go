package conga

import (
	"fmt"
	"time"

	"github.com/auditstream/auditstream/internal/lenient"
	"github.com/auditstream/auditstream/pollers/fulllog"
)

// Event is one audit event exactly as received, with its parsed time (zero when the
// entry has no readable date-time).
type Event = fulllog.Entry

// Audit is a decoded GET /api/sign/v1/cs-packages/{packageId}/audit answer: the
// package's id (Entity) and its events (Entries).
type Audit = fulllog.Log

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
	a.Entity, _ = o.String("package-id", "packageId", "id")
	if a.Entries, err = fulllog.DecodeEntries(items, loc, "audit event", "date-time", "dateTime", "date", "timestamp"); err != nil {
		return nil, err
	}
	return a, nil
}

// Package is one entry of the cs-packages listing.
type Package = fulllog.Item

// Terminal reports whether a package status is final: COMPLETED, ARCHIVED, DECLINED,
// OPTED_OUT, EXPIRED (and DELETED/TRASHED where an account reports them).
func Terminal(status string) bool {
	switch status {
	case "COMPLETED", "ARCHIVED", "DECLINED", "OPTED_OUT", "EXPIRED", "DELETED", "TRASHED":
		return true
	}
	return false
}

// Packages is a decoded listing page: Total is the answer's count (-1 when it has none).
type Packages = fulllog.Listing

// packages is how the cs-packages listing is spelled.
var packages = fulllog.ListingFormat{What: "package listing", Item: "package",
	Lists: []string{"results", "packages", "data"}, Totals: []string{"count", "total"},
	ID: []string{"id", "packageId", "uid"}, Name: []string{"name", "packageName"}, Status: []string{"status", "packageStatus"},
	Updated: []string{"updated", "updatedDate", "modified", "lastUpdated"}}

// DecodePackages reads GET /api/sign/v1/cs-packages: {count, results: [{id, name,
// status, updated, ...}]} (also a bare list, or "packages"/"data" for results).
func DecodePackages(body []byte, loc *time.Location) (*Packages, error) {
	return packages.Decode(body, loc)
}
