package constellation1

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/fulllog"
	"github.com/auditstream/auditstream/pollers/pollhttp"
)

// Constellation1 lists signing sessions and fetches their action logs: it implements
// pollers.Lister and pollers.LogFetcher.
type Constellation1 struct {
	cfg Config
	c   *client
	loc *time.Location
	log *slog.Logger
}

// New builds the provider. cfg must be validated (SetDefaults applied).
func New(name string, cfg Config, hc *pollhttp.Client, log *slog.Logger) (*Constellation1, error) {
	loc := cfg.Zone.Location()
	c, err := newClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	return &Constellation1{cfg: cfg, c: c, loc: loc, log: log.With("poller", name, "provider", Name)}, nil
}

// listPath is the path of page n (0-based) of a listing.
func (p *Constellation1) listPath(listing string, n int) string {
	size, num := strconv.Itoa(p.cfg.PageSize), strconv.Itoa(n)
	if listing == ListLite {
		return "/v1/sessions/lite/" + url.PathEscape(p.cfg.Username) + "/" + url.PathEscape(p.cfg.TransactionID) +
			"/" + size + "/" + num + "/sortBy?colName=ModifiedDate&sortOrder=asc"
	}
	return "/v1/sessions/" + listing + "/" + size + "/" + num
}

// List pages through each configured listing (pages from 0) until a short or empty page
// or the answer's total. A session that moves between listings while they are read may
// be handed over twice; the later one is the newer.
func (p *Constellation1) List(ctx context.Context, page func([]pollers.Target) error) error {
	for _, listing := range p.cfg.Listings {
		where := func(n int) string { return fmt.Sprintf("list %s sessions page %d", listing, n) }
		err := p.cfg.ListPages(page, where, func(n int) ([]pollers.Target, int, error) {
			var ss *Sessions
			err := p.c.get(ctx, p.listPath(listing, n), func(body []byte) (err error) {
				ss, err = DecodeSessions(body, p.loc)
				return err
			})
			if err != nil {
				return nil, 0, err
			}
			ts := make([]pollers.Target, 0, len(ss.Sessions))
			for _, s := range ss.Sessions {
				ts = append(ts, pollers.Target{Tenant: p.cfg.Tenant, Entity: s.ID, Name: s.Name, Status: s.Status,
					UpdatedAt: s.Modified, Terminal: Terminal(s.Status)})
			}
			return ts, ss.Total, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// FetchLog returns every entry of session t.Entity's action log in the answer's order.
func (p *Constellation1) FetchLog(ctx context.Context, t pollers.Target) ([]pollers.Record, error) {
	var entries []Entry
	err := p.c.get(ctx, "/v1/sessions/"+url.PathEscape(t.Entity)+"/actionlogs", func(body []byte) (err error) {
		entries, err = DecodeActionLogs(body, p.loc)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("session %s action log: %w", t.Entity, err)
	}
	return fulllog.Records(entries), nil
}
