package ionos

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/pollers"
	"github.com/auditstream/auditstream/pollers/pollhttp"
	"github.com/auditstream/auditstream/pollers/window"
)

// Name is the provider name (audit.raw.ionos).
const Name = "ionos"

// Source polls the activity log of each contract.
type Source struct {
	cfg  Config
	http *pollhttp.Client
	log  *slog.Logger
	m    *metrics.Metrics
	name string
	now  func() time.Time
}

// New builds the IONOS source. cfg must be validated (SetDefaults applied).
func New(name string, cfg Config, hc *pollhttp.Client, log *slog.Logger, m *metrics.Metrics) *Source {
	return &Source{cfg: cfg, http: hc, log: log.With("poller", name, "provider", Name), m: m, name: name, now: time.Now}
}

func (s *Source) authorize(req *http.Request) {
	if s.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.Token.Reveal())
	} else {
		req.SetBasicAuth(s.cfg.Username, s.cfg.Password.Reveal())
	}
	req.Header.Set("Accept", "application/json")
}

func (s *Source) get(ctx context.Context, path string, q url.Values) (*pollhttp.Response, error) {
	u := strings.TrimRight(s.cfg.BaseURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return s.http.Do(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		s.authorize(req)
		return req, nil
	})
}

// Targets returns the configured contracts, or those GET /contracts lists.
func (s *Source) Targets(ctx context.Context) ([]pollers.Target, error) {
	ids := s.cfg.Contracts
	if len(ids) == 0 {
		resp, err := s.get(ctx, "/contracts", nil)
		if err != nil {
			return nil, fmt.Errorf("list contracts: %w", err)
		}
		cs, err := DecodeContracts(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("list contracts: %w", err)
		}
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
	}
	out := make([]pollers.Target, 0, len(ids))
	for _, id := range ids {
		out = append(out, pollers.Target{Tenant: id, Entity: id})
	}
	return out, nil
}

// Poll reads the closed windows after the cursor.
func (s *Source) Poll(ctx context.Context, t pollers.Target, cursor json.RawMessage, emit pollers.Emit) (pollers.Outcome, error) {
	st, err := window.Poll(ctx, s.cfg.Window.Config(s.cfg.MaxResults), s.now(), cursor, func(ctx context.Context, start, end time.Time, page func([]window.Entry) error) error {
		return s.fetchWindow(ctx, t.Entity, start, end, page)
	}, emit, s.log.With("contract", t.Entity))
	if st.Splits > 0 {
		s.log.Info("windows split at the result cap", "contract", t.Entity, "splits", st.Splits)
	}
	if err != nil {
		return pollers.Outcome{}, fmt.Errorf("contract %s: %w", t.Entity, err)
	}
	return pollers.Outcome{}, nil
}

// fetchWindow pages through [start, end) with offset/limit. It ends when offset reaches
// an exact total, or (no usable total) on an empty page; a window that holds more than the
// API lets a query page through (max_results) is reported as window.ErrTooMany, so the
// window rule splits it. It never reports a window complete that it did not read whole.
func (s *Source) fetchWindow(ctx context.Context, contract string, start, end time.Time, page func([]window.Entry) error) error {
	offset := 0
	for {
		limit := min(s.cfg.PageSize, s.cfg.MaxResults-offset)
		if limit <= 0 {
			return fmt.Errorf("more than %d entries: %w", s.cfg.MaxResults, window.ErrTooMany)
		}
		q := url.Values{}
		q.Set("dateStart", start.UTC().Format("2006-01-02T15:04:05.000Z"))
		q.Set("dateEnd", end.UTC().Format("2006-01-02T15:04:05.000Z"))
		q.Set("offset", strconv.Itoa(offset))
		q.Set("limit", strconv.Itoa(limit))
		resp, err := s.get(ctx, "/contracts/"+url.PathEscape(contract), q)
		if err != nil {
			return fmt.Errorf("fetch contract %s activity log at offset %d: %w", contract, offset, err)
		}
		p, err := DecodePage(resp.Body)
		if err != nil {
			return fmt.Errorf("fetch contract %s activity log at offset %d: %w", contract, offset, err)
		}
		total := p.Total
		if p.TotalIsLowerBound {
			if total >= s.cfg.MaxResults {
				return fmt.Errorf("at least %d entries: %w", total, window.ErrTooMany)
			}
			total = -1 // not exact: page until an empty page
		}
		if total > s.cfg.MaxResults {
			return fmt.Errorf("%d entries: %w", total, window.ErrTooMany)
		}
		entries := make([]window.Entry, 0, len(p.Hits))
		for _, h := range p.Hits {
			entries = append(entries, window.Entry{ID: h.UUID, Time: h.Time,
				Record: pollers.Record{NativeID: h.UUID, Time: h.Time, Raw: h.Raw}})
		}
		if err := page(entries); err != nil {
			return err
		}
		offset += len(p.Hits)
		switch {
		case total < 0 && len(p.Hits) == 0:
			return nil // no total: only an empty page ends the window (a server may clamp limit)
		case total < 0:
		case offset >= total:
			return nil
		case len(p.Hits) == 0:
			// Never advance past a window the server did not finish serving.
			return fmt.Errorf("contract %s: empty page at offset %d of total %d", contract, offset, total)
		}
	}
}
