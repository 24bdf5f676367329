package fulllog

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/pollhttp"
)

// REST is the skeleton of a full-log provider over a REST API: its pollers.Lister and
// pollers.LogFetcher, made of what differs from one provider to the next (the
// authenticated GET, the paths, the decoders). A provider's New fills it in.
type REST struct {
	// Settings are the provider's full-log settings (tenant, page_size...).
	Settings Settings
	// Loc is the zone of the vendor's zone-less times.
	Loc *time.Location
	// Get does an authenticated GET of path (query included) and hands the answer to
	// read; it may repeat the request when read says the answer is a rejected token.
	Get func(ctx context.Context, path string, read func(*pollhttp.Response) error) error

	// Listings are read one after the other (nil: one, named "").
	Listings []string
	// Page returns the path of page n (from 0) of a listing and how errors name the page.
	Page func(listing string, n int) (path, where string)
	// ReadPage decodes a listing page.
	ReadPage func(body []byte, loc *time.Location) (*Listing, error)
	// Total, if set, reads the listing's total from the page's headers (-1: none).
	Total func(h http.Header) int
	// Terminal reports whether a status is final.
	Terminal func(status string) bool

	// Kind names an entity in errors ("package"), LogName its log ("audit").
	Kind, LogName string
	// LogPath is the path of an entity's log.
	LogPath func(entity string) string
	// ReadLog decodes a log answer.
	ReadLog func(body []byte, loc *time.Location) (*Log, error)
}

// List pages through each listing (Settings.ListItems): until a short or empty page or
// the listing's total. An entity that moves between listings while they are read may be
// handed over twice; the later one is the newer.
func (r *REST) List(ctx context.Context, page func([]pollers.Target) error) error {
	listings := r.Listings
	if listings == nil {
		listings = []string{""}
	}
	for _, listing := range listings {
		where := func(n int) string { _, w := r.Page(listing, n); return w }
		err := r.Settings.ListItems(page, where, r.Terminal, func(n int) (l *Listing, err error) {
			path, _ := r.Page(listing, n)
			err = r.Get(ctx, path, func(resp *pollhttp.Response) (err error) {
				if l, err = r.ReadPage(resp.Body, r.Loc); err == nil && r.Total != nil {
					l.Total = r.Total(resp.Header)
				}
				return err
			})
			return l, err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// FetchLog returns every entry of t.Entity's log in the answer's order. An answer for
// another entity (one that names it) is an error.
func (r *REST) FetchLog(ctx context.Context, t pollers.Target) ([]pollers.Record, error) {
	var l *Log
	err := r.Get(ctx, r.LogPath(t.Entity), func(resp *pollhttp.Response) (err error) {
		l, err = r.ReadLog(resp.Body, r.Loc)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s %s %s: %w", r.Kind, t.Entity, r.LogName, err)
	}
	if l.Entity != "" && l.Entity != t.Entity {
		return nil, fmt.Errorf("%s %s %s: the answer is for %s %q", r.Kind, t.Entity, r.LogName, r.Kind, l.Entity)
	}
	return Records(l.Entries), nil
}
