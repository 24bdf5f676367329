// Package postgres is the PostgreSQL sink: canonical events in a table range-partitioned
// by event time, keyed by (event_id, event_time), written through COPY into a temporary
// table then INSERT … ON CONFLICT DO NOTHING, so a redelivered event is never stored twice.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditstream/auditstream/sinks"
)

// Plugin registers the postgres sink type.
var Plugin = sinks.DefineLogged("postgres", Open)

// columns of the events table, in COPY order.
var columns = []string{"event_id", "event_time", "provider", "tenant", "class_uid", "actor", "src_ip", "event"}

// Sink writes events to one PostgreSQL table.
type Sink struct {
	name  string
	cfg   Settings
	log   *slog.Logger
	pool  *pgxpool.Pool
	table string // quoted schema.table
	stage string // quoted name of the per-connection temporary table

	mu         sync.Mutex
	ready      bool            // table and indexes exist
	partitions map[string]bool // partitions known to exist
}

// Open prepares the connection pool. It does not connect: the table is created by the
// first write, and a store that is down or refuses the credentials is reported by Write
// (retry or fatal) and by Ping (/readyz), not by a failed start.
func Open(name string, cfg Settings, log *slog.Logger) (*Sink, error) {
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres sink %s: settings.dsn is not a valid PostgreSQL connection string", name)
	}
	pc.MaxConns = int32(cfg.MaxConns)
	pc.MinConns = 0
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	if pc.ConnConfig.RuntimeParams == nil {
		pc.ConnConfig.RuntimeParams = map[string]string{}
	}
	pc.ConnConfig.RuntimeParams["application_name"] = "auditstream-sink-" + name
	pc.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("postgres sink %s: %w", name, err)
	}
	s := &Sink{name: name, cfg: cfg, log: log, pool: pool,
		table:      pgx.Identifier{cfg.Schema, cfg.Table}.Sanitize(),
		stage:      pgx.Identifier{"auditstream_stage_" + cfg.Table}.Sanitize(),
		partitions: map[string]bool{}}
	log.Info("postgres sink ready", "sink", name, "host", pc.ConnConfig.Host, "database", pc.ConnConfig.Database,
		"table", cfg.Schema+"."+cfg.Table, "partition", cfg.Partition)
	return s, nil
}

// Name implements sinks.Sink.
func (s *Sink) Name() string { return s.name }

// Guarantee implements sinks.Sink: the primary key (event_id, event_time) and ON CONFLICT
// DO NOTHING keep one row per event however often it is written.
func (s *Sink) Guarantee() sinks.Guarantee { return sinks.EffectivelyOnce }

// Ping implements sinks.Sink.
func (s *Sink) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres sink %s: %w", s.name, err)
	}
	return nil
}

// Close implements sinks.Sink.
func (s *Sink) Close(context.Context) error {
	s.pool.Close()
	return nil
}

// row is one event as stored.
type row struct {
	idx   int
	id    string
	time  time.Time
	actor *string
	ip    *netip.Prefix
	e     *sinks.Event
}

// fields is the one small decode of an event the sink makes: the indexed columns that are
// not in the record headers.
type fields struct {
	Time  int64 `json:"time"`
	Actor struct {
		User struct {
			Name      string `json:"name"`
			EmailAddr string `json:"email_addr"`
		} `json:"user"`
	} `json:"actor"`
	SrcEndpoint struct {
		IP string `json:"ip"`
	} `json:"src_endpoint"`
}

// Write implements sinks.Sink.
func (s *Sink) Write(ctx context.Context, batch []sinks.Event, res []sinks.ItemResult) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StatementTimeout.D())
	defer cancel()
	rows := make([]row, 0, len(batch))
	for i := range batch {
		e := &batch[i]
		var f fields
		if err := json.Unmarshal(e.Value, &f); err != nil {
			res[i] = sinks.ItemResult{Status: sinks.Reject, Reason: "not_json", Err: fmt.Errorf("event is not a JSON object: %w", err)}
			continue
		}
		t := e.Time
		if t.IsZero() && f.Time > 0 {
			t = time.UnixMilli(f.Time).UTC()
		}
		if t.IsZero() {
			res[i] = sinks.ItemResult{Status: sinks.Reject, Reason: "no_time", Err: errors.New("event has no time (no ce_time header, no time field)")}
			continue
		}
		r := row{idx: i, id: e.ID, time: t.UTC(), e: e}
		if a := f.Actor.User.Name; a != "" {
			r.actor = &a
		} else if a := f.Actor.User.EmailAddr; a != "" {
			r.actor = &a
		}
		if ip, err := netip.ParseAddr(f.SrcEndpoint.IP); err == nil {
			p := netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())
			r.ip = &p
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil
	}
	if err := s.ensure(ctx, rows); err != nil {
		return s.fail("prepare the table", err)
	}
	inserted, err := s.insert(ctx, rows)
	if err != nil {
		return s.fail(fmt.Sprintf("write %d events", len(rows)), err)
	}
	for _, r := range rows {
		if inserted[r.id] > 0 {
			inserted[r.id]--
			res[r.idx] = sinks.ItemResult{Status: sinks.Written}
		} else {
			res[r.idx] = sinks.ItemResult{Status: sinks.Duplicate}
		}
	}
	return nil
}

// insert copies rows into the temporary table and moves the new ones into the events
// table in one transaction; it returns how many rows of each id were inserted.
func (s *Sink) insert(ctx context.Context, rows []row) (map[string]int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE IF NOT EXISTS "+s.stage+" (LIKE "+s.table+" INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"); err != nil {
		return nil, err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"auditstream_stage_" + s.cfg.Table}, columns, pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
		r := rows[i]
		return []any{r.id, r.time, r.e.Provider, r.e.Tenant, r.e.ClassUID, r.actor, r.ip, json.RawMessage(r.e.Value)}, nil
	})); err != nil {
		return nil, err
	}
	cols := strings.Join(columns, ", ")
	q, err := tx.Query(ctx, "INSERT INTO "+s.table+" ("+cols+") SELECT "+cols+" FROM "+s.stage+" ON CONFLICT DO NOTHING RETURNING event_id")
	if err != nil {
		return nil, err
	}
	inserted := map[string]int{}
	for q.Next() {
		var id string
		if err := q.Scan(&id); err != nil {
			q.Close()
			return nil, err
		}
		inserted[id]++
	}
	q.Close()
	if err := q.Err(); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return inserted, nil
}

// ensure creates the table, its indexes and the partitions rows need, once each.
func (s *Sink) ensure(ctx context.Context, rows []row) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready {
		ddl := []string{
			"CREATE TABLE IF NOT EXISTS " + s.table + ` (
	event_id   text        NOT NULL,
	event_time timestamptz NOT NULL,
	provider   text        NOT NULL DEFAULT '',
	tenant     text        NOT NULL DEFAULT '',
	class_uid  integer     NOT NULL DEFAULT 0,
	actor      text,
	src_ip     inet,
	event      jsonb       NOT NULL,
	stored_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (event_id, event_time)
) PARTITION BY RANGE (event_time)`,
			s.index("time", "event_time"),
			s.index("tenant", "provider, tenant, event_time"),
			s.index("class", "class_uid, event_time"),
			s.index("actor", "actor"),
			s.index("src_ip", "src_ip"),
		}
		for _, q := range ddl {
			if _, err := s.pool.Exec(ctx, q); err != nil && !alreadyThere(err) {
				return err
			}
		}
		s.ready = true
	}
	// The current partition and partitions_ahead more, checked on every write (known ones
	// cost a map lookup) so that a long-running sink keeps creating them ahead.
	now := s.start(time.Now())
	for i := 0; i <= s.cfg.PartitionsAhead; i++ {
		if err := s.partition(ctx, s.next(now, i)); err != nil {
			return err
		}
	}
	for _, r := range rows {
		if err := s.partition(ctx, s.start(r.time)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sink) index(suffix, cols string) string {
	return "CREATE INDEX IF NOT EXISTS " + pgx.Identifier{s.cfg.Table + "_" + suffix + "_idx"}.Sanitize() + " ON " + s.table + " (" + cols + ")"
}

// start is the first instant of the partition holding t.
func (s *Sink) start(t time.Time) time.Time {
	t = t.UTC()
	if s.cfg.Partition == "day" {
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// next is the start of the n-th partition after the one starting at start.
func (s *Sink) next(start time.Time, n int) time.Time {
	if s.cfg.Partition == "day" {
		return start.AddDate(0, 0, n)
	}
	return start.AddDate(0, n, 0)
}

// partition creates the partition starting at start if it is not known to exist.
func (s *Sink) partition(ctx context.Context, start time.Time) error {
	suffix := start.Format("200601")
	if s.cfg.Partition == "day" {
		suffix = start.Format("20060102")
	}
	name := s.cfg.Table + "_p" + suffix
	if s.partitions[name] {
		return nil
	}
	q := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')",
		pgx.Identifier{s.cfg.Schema, name}.Sanitize(), s.table, start.Format(time.RFC3339), s.next(start, 1).Format(time.RFC3339))
	if _, err := s.pool.Exec(ctx, q); err != nil && !alreadyThere(err) {
		return err
	}
	s.partitions[name] = true
	return nil
}

// alreadyThere: another sink created the same object at the same moment.
func alreadyThere(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "42P07" || pe.Code == "23505" || pe.Code == "42710")
}

// fail classifies a failed write for the runner: fatal when only an operator can fix it,
// a whole-batch refusal (bisected) when some event's data is refused, else retryable.
func (s *Sink) fail(what string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		wrapped := fmt.Errorf("postgres sink %s: %s: %s (SQLSTATE %s)", s.name, what, pe.Message, pe.Code)
		switch {
		case pe.Code == "28P01" || pe.Code == "28000":
			return sinks.Fatal(fmt.Errorf("postgres sink %s: the server refused the credentials of settings.dsn: %s (SQLSTATE %s)", s.name, pe.Message, pe.Code))
		case pe.Code == "42501":
			return sinks.Fatal(fmt.Errorf("postgres sink %s: %s: permission denied: %s (SQLSTATE 42501); grant the sink's role CREATE on schema %s and INSERT, SELECT on its table", s.name, what, pe.Message, s.cfg.Schema))
		case pe.Code == "3D000":
			return sinks.Fatal(wrapped)
		case pe.Code == "42P01":
			// The table (or a partition) was dropped under the sink: create it again.
			s.forget()
			return wrapped
		case strings.HasPrefix(pe.Code, "22"):
			return sinks.RejectBatch("invalid_data", wrapped)
		case pe.Code == "54000":
			return sinks.RejectBatch("too_large", wrapped)
		}
		return wrapped
	}
	return fmt.Errorf("postgres sink %s: %s: %w", s.name, what, err)
}

func (s *Sink) forget() {
	s.mu.Lock()
	s.ready = false
	s.partitions = map[string]bool{}
	s.mu.Unlock()
}
