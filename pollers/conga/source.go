package conga

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/auditstream/auditstream/pollers"
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
	return &Conga{cfg: cfg, c: newClient(cfg, hc), loc: loc, log: log.With("poller", name, "provider", Provider)}, nil
}

// Discover reports whether the listing is to be used.
func (g *Conga) Discover() bool { return *g.cfg.Discover }

// List pages through GET /api/sign/v1/cs-packages with from/to: 1-based, inclusive
// indices of the first and last package of a page (OneSpan Sign's scheme, which Conga
// Sign shares), until a short or empty page or the answer's count is reached.
func (g *Conga) List(ctx context.Context, page func([]pollers.Target) error) error {
	from := 1
	guard := g.cfg.PageGuard()
	for {
		to := from + g.cfg.PageSize - 1
		q := url.Values{"from": {strconv.Itoa(from)}, "to": {strconv.Itoa(to)}}
		resp, err := g.c.get(ctx, "/api/sign/v1/cs-packages", q)
		if err != nil {
			return fmt.Errorf("list packages from %d: %w", from, err)
		}
		p, err := DecodePackages(resp.Body, g.loc)
		if err != nil {
			return fmt.Errorf("list packages from %d: %w", from, err)
		}
		ts := make([]pollers.Target, 0, len(p.Results))
		for _, pk := range p.Results {
			ts = append(ts, pollers.Target{Tenant: g.cfg.Tenant, Entity: pk.ID, Name: pk.Name, Status: pk.Status,
				UpdatedAt: pk.Updated, Terminal: Terminal(pk.Status)})
		}
		if err := guard.Check(ts); err != nil {
			return fmt.Errorf("list packages from %d: %w", from, err)
		}
		if len(ts) > 0 {
			if err := page(ts); err != nil {
				return err
			}
		}
		from += len(p.Results)
		if len(p.Results) < g.cfg.PageSize || (p.Count >= 0 && from > p.Count) {
			return nil
		}
	}
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
	out := make([]pollers.Record, 0, len(a.Events))
	for _, e := range a.Events {
		out = append(out, pollers.Record{Time: e.Time, Raw: e.Raw})
	}
	return out, nil
}
