package signinghub

import (
	"fmt"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/lenient"
	"github.com/auditstream/auditstream/pollers/fulllog"
)

// Action is one workflow history entry exactly as received, with its parsed time (zero
// when the entry has no readable date_time).
type Action = fulllog.Entry

// Log is a decoded GET /v3/packages/{package_id}/log answer: the package's id (Entity),
// name and status, and its actions (Entries).
type Log struct {
	fulllog.Log
	PackageName, PackageStatus string
}

// DecodeLog reads a workflow history answer: the package's fields and its "actions"
// list (other spellings accepted). Each action must be a JSON object and is kept byte
// for byte; a date_time without a zone is read in loc. PackageName falls back to the
// first document's name. It never panics.
func DecodeLog(body []byte, loc *time.Location) (*Log, error) {
	o, err := lenient.ParseObject(body)
	if err != nil {
		return nil, fmt.Errorf("workflow history is not a JSON object: %w", err)
	}
	if !o.Has("actions") {
		return nil, fmt.Errorf("workflow history has no \"actions\" list")
	}
	items, err := o.Array("actions")
	if err != nil {
		return nil, fmt.Errorf("workflow history: %w", err)
	}
	l := &Log{}
	l.Entity, _ = o.String("package_id", "id")
	l.PackageName, _ = o.String("package_name", "name")
	l.PackageStatus, _ = o.String("package_status", "status")
	if l.PackageName == "" {
		if docs, err := o.Array("documents"); err == nil && len(docs) > 0 {
			if d, err := lenient.ParseObject(docs[0]); err == nil {
				l.PackageName, _ = d.String("document_name", "name")
			}
		}
	}
	if l.Entries, err = fulllog.DecodeEntries(items, loc, "action", "date_time", "dateTime", "date"); err != nil {
		return nil, err
	}
	return l, nil
}

// Package is one entry of the package listing.
type Package = fulllog.Item

// Terminal reports whether a package status is final (COMPLETED, DECLINED, EXPIRED,
// RECALLED).
func Terminal(status string) bool {
	switch strings.ToUpper(status) {
	case "COMPLETED", "DECLINED", "EXPIRED", "RECALLED":
		return true
	}
	return false
}

// packages is how the package listing is spelled.
var packages = fulllog.ListingFormat{What: "package listing", Item: "package",
	Lists: []string{"packages", "data", "items"}, Missing: "has no list of packages",
	ID: []string{"package_id", "id"}, Name: []string{"package_name", "name", "document_name"},
	Status: []string{"package_status", "status", "document_status"}, Updated: []string{"modified_on", "modified", "updated_on"}}

// DecodePackages reads a listing page: a JSON list of packages (also {"packages"|"data":
// [...]}) with package_id, package_name, package_status, modified_on. Its total is
// x-total-records (fulllog.ParseTotal): the listing's Total is -1.
func DecodePackages(body []byte, loc *time.Location) (*fulllog.Listing, error) {
	return packages.Decode(body, loc)
}

// APIError reads SigningHub's error body {"Message": "..."} (also {error,
// error_description} of /authenticate); "" when it is neither.
func APIError(body []byte) string {
	o, err := lenient.ParseObject(body)
	if err != nil {
		return ""
	}
	if m, ok := o.String("Message"); ok {
		return m
	}
	e, _ := o.String("error")
	d, _ := o.String("error_description")
	return strings.TrimSpace(e + " " + d)
}
