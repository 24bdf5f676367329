package signinghub

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

// SigningHub lists packages and fetches their workflow history: it implements
// pollers.Lister and pollers.LogFetcher.
type SigningHub struct {
	cfg Config
	c   *client
	loc *time.Location
	log *slog.Logger
}

// New builds the provider. cfg must be validated (SetDefaults applied).
func New(name string, cfg Config, hc *pollhttp.Client, log *slog.Logger) (*SigningHub, error) {
	loc := cfg.Zone.Location()
	return &SigningHub{cfg: cfg, c: newClient(cfg, hc), loc: loc, log: log.With("poller", name, "provider", Name)}, nil
}

// List pages through GET /v3/packages/{document_status}/{page_no}/{records_per_page}
// (page_no from 1) until a short or empty page, or x-total-records is reached.
func (s *SigningHub) List(ctx context.Context, page func([]pollers.Target) error) error {
	where := func(n int) string { return fmt.Sprintf("list packages page %d", n+1) }
	return s.cfg.ListPages(page, where, func(n int) ([]pollers.Target, int, error) {
		path := "/v3/packages/" + url.PathEscape(s.cfg.DocumentStatus) + "/" + strconv.Itoa(n+1) + "/" + strconv.Itoa(s.cfg.PageSize)
		resp, err := s.c.get(ctx, path)
		if err != nil {
			return nil, 0, err
		}
		ps, err := DecodePackages(resp.Body, s.loc)
		if err != nil {
			return nil, 0, err
		}
		ts := make([]pollers.Target, 0, len(ps))
		for _, p := range ps {
			ts = append(ts, pollers.Target{Tenant: s.cfg.Tenant, Entity: p.ID, Name: p.Name, Status: p.Status,
				UpdatedAt: p.Modified, Terminal: Terminal(p.Status)})
		}
		return ts, Total(resp.Header.Get("x-total-records")), nil
	})
}

// FetchLog returns every action of package t.Entity's workflow history in the answer's
// order. A history shorter than before (SigningHub plans that delete the detailed log on
// completion) is returned as it is: the log diff reports the shrink.
func (s *SigningHub) FetchLog(ctx context.Context, t pollers.Target) ([]pollers.Record, error) {
	resp, err := s.c.get(ctx, "/v3/packages/"+url.PathEscape(t.Entity)+"/log")
	if err != nil {
		return nil, fmt.Errorf("package %s history: %w", t.Entity, err)
	}
	l, err := DecodeLog(resp.Body, s.loc)
	if err != nil {
		return nil, fmt.Errorf("package %s history: %w", t.Entity, err)
	}
	if l.PackageID != "" && l.PackageID != t.Entity {
		return nil, fmt.Errorf("package %s history: the answer is for package %q", t.Entity, l.PackageID)
	}
	return fulllog.Records(l.Actions), nil
}
