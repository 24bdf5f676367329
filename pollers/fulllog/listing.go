package fulllog

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/lenient"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/schemas/timeparse"
)

// Item is one entity of a listing page, as a provider's listing decoder reads it.
type Item struct {
	ID, Name, Status string
	// Updated is the entity's last change (zero when the listing has no readable one).
	Updated time.Time
}

// Listing is a decoded listing page.
type Listing struct {
	// Total is the number of entities of the whole listing (-1 when the answer has none).
	Total int
	Items []Item
}

// ListingFormat is how a provider's listing answer is spelled: what only differs from
// one provider to the next. Every list of names holds the accepted spellings, the first
// one preferred (it names the field in errors).
type ListingFormat struct {
	// What names the listing in errors ("package listing"), Item one of its entities
	// ("package").
	What, Item string
	// Lists are the keys of an object answer that hold the items (a bare JSON list is
	// accepted too); Totals the keys of the listing's total in it (none: no total).
	Lists, Totals []string
	// ID, Name, Status and Updated are the item's fields; an item without an ID is an error.
	ID, Name, Status, Updated []string
	// Object, if set, is given an object answer first: it returns the object that holds
	// the items (an envelope unwrapped) or the error the answer means.
	Object func(o lenient.Object) (lenient.Object, error)
	// Missing is the error of an object answer without any of Lists (default: "What has
	// no "Lists[0]" list").
	Missing string
}

// Decode reads a listing page: a bare JSON list of items, or an object holding them
// under one of f.Lists with its total under one of f.Totals. Every item must be a JSON
// object with an id; a zone-less updated time is read in loc. It never panics.
func (f ListingFormat) Decode(body []byte, loc *time.Location) (*Listing, error) {
	l := &Listing{Total: -1}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		o, err := lenient.ParseObject(body)
		if err != nil {
			return nil, fmt.Errorf("%s is not JSON: %w", f.What, err)
		}
		if f.Object != nil {
			if o, err = f.Object(o); err != nil {
				return nil, err
			}
		}
		if !o.Has(f.Lists...) {
			if f.Missing != "" {
				return nil, fmt.Errorf("%s %s", f.What, f.Missing)
			}
			return nil, fmt.Errorf("%s has no %q list", f.What, f.Lists[0])
		}
		if items, err = o.Array(f.Lists...); err != nil {
			return nil, fmt.Errorf("%s: %w", f.What, err)
		}
		if s, ok := o.String(f.Totals...); ok && len(f.Totals) > 0 {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%s total %q is not a non-negative integer", f.What, s)
			}
			l.Total = n
		}
	}
	l.Items = make([]Item, 0, len(items))
	for i, raw := range items {
		o, err := lenient.ParseObject(raw)
		if err != nil {
			return nil, fmt.Errorf("%s %d: %w", f.Item, i, err)
		}
		it := Item{}
		if it.ID, _ = o.String(f.ID...); it.ID == "" {
			return nil, fmt.Errorf("%s %d has no %s", f.Item, i, f.ID[0])
		}
		it.Name, _ = o.String(f.Name...)
		it.Status, _ = o.String(f.Status...)
		it.Updated = Time(o, loc, f.Updated...)
		l.Items = append(l.Items, it)
	}
	return l, nil
}

// Time is the first of the fields of o that it has, read as a time (a zone-less one in
// loc); zero when it has none or it is not a time.
func Time(o lenient.Object, loc *time.Location, fields ...string) time.Time {
	if s, ok := o.String(fields...); ok {
		if t, err := timeparse.Parse(s, loc); err == nil {
			return t
		}
	}
	return time.Time{}
}

// ListItems reads one listing page by page (ListPages), n from 0: fetch returns page n;
// its items become targets of the settings' tenant, terminal as terminal says of their
// status.
func (s *Settings) ListItems(page func([]pollers.Target) error, where func(n int) string, terminal func(status string) bool, fetch func(n int) (*Listing, error)) error {
	return s.ListPages(page, where, func(n int) ([]pollers.Target, int, error) {
		l, err := fetch(n)
		if err != nil {
			return nil, 0, err
		}
		ts := make([]pollers.Target, 0, len(l.Items))
		for _, it := range l.Items {
			ts = append(ts, pollers.Target{Tenant: s.Tenant, Entity: it.ID, Name: it.Name, Status: it.Status,
				UpdatedAt: it.Updated, Terminal: terminal(it.Status)})
		}
		return ts, l.Total, nil
	})
}

// Log is a decoded log answer: the entity it names ("" when it names none) and its entries.
type Log struct {
	Entity  string
	Entries []Entry
}

// Answer returns l (a provider's answer type that embeds Log has it too).
func (l *Log) Answer() *Log { return l }

// ParseTotal reads a listing's total from a header value (-1 when absent or not a count).
func ParseTotal(h string) int {
	n, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || n < 0 {
		return -1
	}
	return n
}
