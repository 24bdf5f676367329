package postgres

import (
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditstream/auditstream/internal/config"
)

// Settings of a postgres sink (its `settings:` block).
type Settings struct {
	// DSN is the connection string (postgres://user:password@host:port/db?sslmode=...,
	// or key=value form). Put the password in an environment variable: ${PGPASSWORD_AUDIT}.
	DSN string `yaml:"dsn"`
	// Schema and Table name the events table (default public.audit_events). The table and
	// its partitions are created when missing.
	Schema string `yaml:"schema"`
	Table  string `yaml:"table"`
	// Partition is the range of one partition: "day" or "month" (default month).
	Partition string `yaml:"partition"`
	// PartitionsAhead is how many future partitions are kept created (default 2).
	PartitionsAhead int `yaml:"partitions_ahead"`
	// MaxConns caps the connection pool (default 4).
	MaxConns int `yaml:"max_conns"`
	// StatementTimeout bounds one write (default 60s).
	StatementTimeout config.Duration `yaml:"statement_timeout"`
}

var ident = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,47}$`)

// SetDefaults implements config.Settings.
func (s *Settings) SetDefaults() {
	if s.Schema == "" {
		s.Schema = "public"
	}
	if s.Table == "" {
		s.Table = "audit_events"
	}
	if s.Partition == "" {
		s.Partition = "month"
	}
	if s.PartitionsAhead == 0 {
		s.PartitionsAhead = 2
	}
	if s.MaxConns == 0 {
		s.MaxConns = 4
	}
	if s.StatementTimeout == 0 {
		s.StatementTimeout = config.Duration(60e9)
	}
}

// Validate implements config.Settings. It never repeats the DSN (it holds a password).
func (s *Settings) Validate(path string, p *config.Problems) {
	if strings.TrimSpace(s.DSN) == "" {
		p.Add(path+".dsn", "is required")
	} else if _, err := pgxpool.ParseConfig(s.DSN); err != nil {
		p.Add(path+".dsn", "is not a valid PostgreSQL connection string")
	}
	if !ident.MatchString(s.Schema) {
		p.Add(path+".schema", "%q must be a lower-case identifier (letters, digits, _)", s.Schema)
	}
	if !ident.MatchString(s.Table) {
		p.Add(path+".table", "%q must be a lower-case identifier of at most 48 characters", s.Table)
	}
	if s.Partition != "day" && s.Partition != "month" {
		p.Add(path+".partition", "%q must be day or month", s.Partition)
	}
	if s.PartitionsAhead < 0 || s.PartitionsAhead > 366 {
		p.Add(path+".partitions_ahead", "must be between 0 and 366")
	}
	if s.MaxConns < 1 {
		p.Add(path+".max_conns", "must be at least 1")
	}
	if s.StatementTimeout < 0 {
		p.Add(path+".statement_timeout", "must not be negative")
	}
}
