package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/sinktest"
)

// EnvDSN names the superuser DSN of a throwaway PostgreSQL (scripts/services/postgres.sh).
const EnvDSN = "AUDITSTREAM_POSTGRES_DSN"

// store is one test's corner of a real PostgreSQL: its own login role (whose password is
// the secret the sink must never leak) and its own schema.
type store struct {
	admin  *pgxpool.Pool
	role   string
	pass   string
	schema string
	dsn    string // the sink's DSN (through proxy when one is set)
	proxy  *sinktest.Proxy
}

func newStore(t testing.TB) *store {
	t.Helper()
	adminDSN := os.Getenv(EnvDSN)
	if adminDSN == "" {
		testkit.Require(t, "a real PostgreSQL ("+EnvDSN+" unset; start one with scripts/services/postgres.sh start)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgxpool.New(ctx, adminDSN)
	if err != nil {
		t.Fatalf("admin pool: %v", err)
	}
	t.Cleanup(admin.Close)
	u := testkit.Unique()
	st := &store{admin: admin, role: "sink_" + u, pass: "pw-" + testkit.Unique() + testkit.Unique(), schema: "t_" + u}
	for _, q := range []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", st.role, st.pass),
		fmt.Sprintf("CREATE SCHEMA %s", st.schema),
		fmt.Sprintf("GRANT USAGE, CREATE ON SCHEMA %s TO %s", st.schema, st.role),
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", strings.Replace(q, st.pass, "<pw>", 1), err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", st.role)
		_, _ = admin.Exec(ctx, fmt.Sprintf("DROP SCHEMA %s CASCADE", st.schema))
		_, _ = admin.Exec(ctx, fmt.Sprintf("DROP ROLE %s", st.role))
	})
	pu, err := url.Parse(adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	st.proxy = sinktest.NewProxy(t, pu.Host)
	pu.Host = st.proxy.Addr()
	pu.User = url.UserPassword(st.role, st.pass)
	st.dsn = pu.String()
	return st
}

func (st *store) settings() Settings {
	s := Settings{DSN: st.dsn, Schema: st.schema, Table: "events", Partition: "day"}
	s.SetDefaults()
	return s
}

func (st *store) exec(t testing.TB, q string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := st.admin.Exec(ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (st *store) count(t testing.TB, ids []string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := st.admin.Query(ctx, fmt.Sprintf("SELECT event_id, count(*) FROM %s.events WHERE event_id = ANY($1) GROUP BY event_id", st.schema), ids)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return map[string]int{}
		}
		t.Fatal(err)
	}
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// fault: Unavailable and Slow through the TCP proxy; BadCredentials by changing the
// role's password and cutting its sessions; Forbidden by revoking INSERT on the table.
func (st *store) fault(t *testing.T, f sinktest.Fault) func() {
	switch f {
	case sinktest.Unavailable, sinktest.Slow:
		return st.proxy.Fault(f)
	case sinktest.BadCredentials:
		st.exec(t, fmt.Sprintf("ALTER ROLE %s PASSWORD 'changed-by-the-test'", st.role))
		st.exec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", st.role)
		return func() { st.exec(t, fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'", st.role, st.pass)) }
	case sinktest.Forbidden:
		// The table exists by now (earlier cases wrote to it).
		st.exec(t, fmt.Sprintf("REVOKE INSERT ON %s.events FROM %s", st.schema, st.role))
		return func() { st.exec(t, fmt.Sprintf("GRANT INSERT ON %s.events TO %s", st.schema, st.role)) }
	}
	return nil
}

func TestIntegrationConformance(t *testing.T) {
	st := newStore(t)
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T, log *slog.Logger) sinks.Sink {
			s, err := Open("pg", st.settings(), log)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Count: func(t *testing.T, ids []string) map[string]int { return st.count(t, ids) },
		Fault: st.fault,
		// PostgreSQL's jsonb refuses a NUL character that JSON allows: the COPY fails for
		// the whole batch and the runner bisects down to this event.
		Poison:   func(e *sinks.Event) { e.Value = []byte(`{"time":1,"message":"nul \u0000 here"}`) },
		InFlight: st.proxy.InFlight,
		Secrets:  []string{st.pass},
	})
}

func TestIntegrationColumnsAndPartitions(t *testing.T) {
	st := newStore(t)
	cfg := st.settings()
	cfg.Partition = "month"
	s, err := Open("pg", cfg, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	evs := sinktest.Events("cols-", 3)
	// An event without the routing headers: its time comes from the body.
	old := sinks.Event{ID: "old", Value: []byte(`{"time":1262304000000,"actor":{"user":{"email_addr":"x@example.org"}},"src_endpoint":{"ip":"::ffff:10.1.2.3"}}`)}
	evs = append(evs, old)
	d, err := sinks.Deliver(context.Background(), s, evs)
	if err != nil || d.Written != 4 {
		t.Fatalf("delivery %+v err %v", d, err)
	}
	ctx := context.Background()
	var provider, tenant, actor, ip string
	var class int
	var tm time.Time
	var uid string
	err = st.admin.QueryRow(ctx, fmt.Sprintf(`SELECT provider, tenant, class_uid, actor, host(src_ip), event_time, event->'metadata'->>'uid' FROM %s.events WHERE event_id = $1`, st.schema), evs[1].ID).
		Scan(&provider, &tenant, &class, &actor, &ip, &tm, &uid)
	if err != nil {
		t.Fatal(err)
	}
	e := evs[1]
	if provider != e.Provider || tenant != e.Tenant || class != e.ClassUID || actor != "user1" || ip != "192.0.2.2" || !tm.Equal(e.Time) || uid != e.ID {
		t.Fatalf("row: %s %s %d %s %s %v %s; event %+v", provider, tenant, class, actor, ip, tm, uid, e)
	}
	err = st.admin.QueryRow(ctx, fmt.Sprintf(`SELECT provider, class_uid, actor, host(src_ip), event_time FROM %s.events WHERE event_id = 'old'`, st.schema)).
		Scan(&provider, &class, &actor, &ip, &tm)
	if err != nil {
		t.Fatal(err)
	}
	if provider != "" || class != 0 || actor != "x@example.org" || ip != "10.1.2.3" || !tm.Equal(time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("old row: %s %d %s %s %v", provider, class, actor, ip, tm)
	}
	// Partitions: one per month of the events, and the current month plus 2 ahead.
	rows, err := st.admin.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY 1`, st.schema)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	want := []string{"events_p201001"}
	for _, tt := range []time.Time{e.Time, now, now.AddDate(0, 1, -now.Day()+1), now.AddDate(0, 2, -now.Day()+1)} {
		want = append(want, "events_p"+tt.Format("200601"))
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(parts, ","), w) {
			t.Errorf("partition %s missing: %v", w, parts)
		}
	}
	// Indexes on the indexed columns.
	var n int
	if err := st.admin.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND tablename = 'events'`, st.schema).Scan(&n); err != nil || n < 6 {
		t.Fatalf("%d indexes on the events table (want the primary key and 5 more), err %v", n, err)
	}
}

func TestIntegrationTableDroppedIsCreatedAgain(t *testing.T) {
	st := newStore(t)
	s, err := Open("pg", st.settings(), testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if _, err := sinks.Deliver(context.Background(), s, sinktest.Events("a-", 2)); err != nil {
		t.Fatal(err)
	}
	st.exec(t, fmt.Sprintf("DROP TABLE %s.events", st.schema))
	d, err := sinks.Deliver(context.Background(), s, sinktest.Events("b-", 2))
	if err != nil || d.Written != 2 || d.Retries != 1 {
		t.Fatalf("delivery %+v err %v", d, err)
	}
}

func TestSettings(t *testing.T) {
	var p config.Problems
	s := Settings{DSN: "postgres://u:hunter2@[::1", Schema: "Bad-Name", Partition: "week", MaxConns: -1}
	s.SetDefaults()
	s.Validate("sinks[0].settings", &p)
	got := fmt.Sprint(p.Err())
	for _, want := range []string{"settings.dsn: is not a valid", "settings.schema", "settings.partition", "settings.max_conns"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "hunter2") {
		t.Fatalf("the password is in the problems: %s", got)
	}
	if _, err := Open("x", Settings{DSN: "postgres://u:hunter2@[::1"}, slog.New(slog.DiscardHandler)); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Open error %v", err)
	}
	var ok config.Problems
	good := Settings{DSN: "postgres://u:p@localhost/db"}
	good.SetDefaults()
	good.Validate("s", &ok)
	if err := ok.Err(); err != nil || good.Table != "audit_events" || good.Partition != "month" {
		t.Fatalf("defaults %+v err %v", good, err)
	}
}
