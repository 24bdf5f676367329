package conga

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

// Conga lists Conga Sign packages and fetches their audit trails: it implements
// pollers.Lister and pollers.LogFetcher.
type Conga struct {
	cfg Config
	c   *client
	loc *time.Location
	log *slog.Logger
}

// New builds the provider. cfg must be validated (SetDefaults applied).
func New(name string, cfg Config, hc *pollhttp.Client, log *slog.Logger) (*Conga, error) {
	loc := cfg.Zone.Location()
	return &Conga{cfg: cfg, c: newClient(cfg, hc), loc: loc, log: log.With("poller", name, "provider", Name)}, nil
}

// List pages through GET /api/sign/v1/cs-packages with from/to: 1-based, inclusive
// indices of the first and last package of a page (OneSpan Sign's scheme, which Conga
// Sign shares), until a short or empty page or the answer's count is reached.
func (g *Conga) List(ctx context.Context, page func([]pollers.Target) error) error {
	size := g.cfg.PageSize
	from := func(n int) int { return 1 + n*size } // every page before n was whole
	where := func(n int) string { return fmt.Sprintf("list packages from %d", from(n)) }
	return g.cfg.ListPages(page, where, func(n int) ([]pollers.Target, int, error) {
		q := url.Values{"from": {strconv.Itoa(from(n))}, "to": {strconv.Itoa(from(n) + size - 1)}}
		resp, err := g.c.get(ctx, "/api/sign/v1/cs-packages", q)
		if err != nil {
			return nil, 0, err
		}
		p, err := DecodePackages(resp.Body, g.loc)
		if err != nil {
			return nil, 0, err
		}
		ts := make([]pollers.Target, 0, len(p.Results))
		for _, pk := range p.Results {
			ts = append(ts, pollers.Target{Tenant: g.cfg.Tenant, Entity: pk.ID, Name: pk.Name, Status: pk.Status,
				UpdatedAt: pk.Updated, Terminal: Terminal(pk.Status)})
		}
		return ts, p.Count, nil
	})
}

// FetchLog returns every audit event of package t.Entity in the answer's order.
func (g *Conga) FetchLog(ctx context.Context, t pollers.Target) ([]pollers.Record, error) {
	resp, err := g.c.get(ctx, "/api/sign/v1/cs-packages/"+url.PathEscape(t.Entity)+"/audit", nil)
	if err != nil {
		return nil, fmt.Errorf("package %s audit: %w", t.Entity, err)
	}
	a, err := DecodeAudit(resp.Body, g.loc)
	if err != nil {
		return nil, fmt.Errorf("package %s audit: %w", t.Entity, err)
	}
	if a.PackageID != "" && a.PackageID != t.Entity {
		return nil, fmt.Errorf("package %s audit: the answer is for package %q", t.Entity, a.PackageID)
	}
	return fulllog.Records(a.Events), nil
}
