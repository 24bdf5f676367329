package signinghub

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/lenient"
	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/schemas/timeparse"
)

// Action is one workflow history entry exactly as received, with its parsed time (zero
// when the entry has no readable date_time).
type Action = fulllog.Entry

// Log is a decoded GET /v3/packages/{package_id}/log answer.
type Log struct {
	PackageID, PackageName, PackageStatus string
	Actions                               []Action
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
	l.PackageID, _ = o.String("package_id", "id")
	l.PackageName, _ = o.String("package_name", "name")
	l.PackageStatus, _ = o.String("package_status", "status")
	if l.PackageName == "" {
		if docs, err := o.Array("documents"); err == nil && len(docs) > 0 {
			if d, err := lenient.ParseObject(docs[0]); err == nil {
				l.PackageName, _ = d.String("document_name", "name")
			}
		}
	}
	if l.Actions, err = fulllog.DecodeEntries(items, loc, "action", "date_time", "dateTime", "date"); err != nil {
		return nil, err
	}
	return l, nil
}

// Package is one entry of the package listing.
type Package struct {
	ID, Name, Status string
	Modified         time.Time
}

// Terminal reports whether a package status is final (COMPLETED, DECLINED, EXPIRED,
// RECALLED).
func Terminal(status string) bool {
	switch strings.ToUpper(status) {
	case "COMPLETED", "DECLINED", "EXPIRED", "RECALLED":
		return true
	}
	return false
}

// DecodePackages reads a listing page: a JSON list of packages (also {"packages"|"data":
// [...]}) with package_id, package_name, package_status, modified_on.
func DecodePackages(body []byte, loc *time.Location) ([]Package, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		o, err2 := lenient.ParseObject(body)
		if err2 != nil {
			return nil, fmt.Errorf("package listing is not a JSON list: %w", err)
		}
		if !o.Has("packages", "data", "items") {
			return nil, fmt.Errorf("package listing has no list of packages")
		}
		if items, err = o.Array("packages", "data", "items"); err != nil {
			return nil, fmt.Errorf("package listing: %w", err)
		}
	}
	out := make([]Package, 0, len(items))
	for i, raw := range items {
		o, err := lenient.ParseObject(raw)
		if err != nil {
			return nil, fmt.Errorf("package %d: %w", i, err)
		}
		p := Package{}
		p.ID, _ = o.String("package_id", "id")
		if p.ID == "" {
			return nil, fmt.Errorf("package %d has no package_id", i)
		}
		p.Name, _ = o.String("package_name", "name", "document_name")
		p.Status, _ = o.String("package_status", "status", "document_status")
		if s, ok := o.String("modified_on", "modified", "updated_on"); ok {
			if t, err := timeparse.Parse(s, loc); err == nil {
				p.Modified = t
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// Total reads the x-total-records header (-1 when absent or not a count).
func Total(h string) int {
	n, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || n < 0 {
		return -1
	}
	return n
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
