package logsim

import (
	"time"

	"github.com/auditstream/auditstream/internal/config"
)

// Settings are the history, token and fault settings every full-log simulator shares
// (inlined in each simulator's settings block).
type Settings struct {
	// Tenant is the account name the poller uses for this account (it is part of the
	// served keys; each simulator documents its default).
	Tenant string `yaml:"tenant"`
	// Seed makes the history and the faults deterministic (0 = random per start).
	Seed uint64 `yaml:"seed"`
	// Packages is the number of packages (signing sessions for Constellation1).
	Packages int `yaml:"packages"`
	// EntriesPerPackage is the length of each package's whole log.
	EntriesPerPackage int `yaml:"entries_per_package"`
	// AfterComplete is how many of those entries arrive after the terminal status.
	AfterComplete int `yaml:"after_complete"`
	// Concurrent is how many packages are in flight at once.
	Concurrent int `yaml:"concurrent"`
	// Rate is new entries per second over all packages (0 = the whole history at start).
	Rate float64 `yaml:"rate"`
	// Backfill is how many entries exist at start.
	Backfill int `yaml:"backfill"`
	// DuplicateFraction is the share of entries that exactly repeat the one before.
	DuplicateFraction float64 `yaml:"duplicate_fraction"`
	// TokenTTL is how long an access token lives.
	TokenTTL config.Duration `yaml:"token_ttl"`
	// Faults are per-request fault probabilities.
	Faults FaultSettings `yaml:"faults"`
	// IgnorePaging answers every listing request with its first page (of the asked size)
	// and no total, as an API that ignores the page parameter would.
	IgnorePaging bool `yaml:"ignore_paging"`
	// Now is the clock (tests; default time.Now).
	Now func() time.Time `yaml:"-"`
}

// SetDefaults fills tenant (the simulator's default: what the poller uses for this
// account) and token_ttl (the vendor's token lifetime) when unset.
func (s *Settings) SetDefaults(tenant string, tokenTTL time.Duration) {
	if s.Tenant == "" {
		s.Tenant = tenant
	}
	if s.TokenTTL == 0 {
		s.TokenTTL = config.Duration(tokenTTL)
	}
}

// Validate lists problems at path.
func (s *Settings) Validate(path string, p *config.Problems) {
	if s.Packages < 0 || s.Packages > 1_000_000 {
		p.Add(path+".packages", "must be between 0 and 1000000")
	}
	if s.EntriesPerPackage < 0 || s.EntriesPerPackage > 100_000 {
		p.Add(path+".entries_per_package", "must be between 0 and 100000")
	}
	if s.AfterComplete < 0 || (s.EntriesPerPackage > 0 && s.AfterComplete >= s.EntriesPerPackage) {
		p.Add(path+".after_complete", "must be >= 0 and below entries_per_package")
	}
	if s.Rate < 0 || s.Rate > 100000 {
		p.Add(path+".rate", "must be between 0 and 100000 entries/s")
	}
	if s.Backfill < 0 || s.Concurrent < 0 {
		p.Add(path, "backfill and concurrent must not be negative")
	}
	if s.DuplicateFraction < 0 || s.DuplicateFraction > 1 {
		p.Add(path+".duplicate_fraction", "must be between 0 and 1")
	}
	if s.TokenTTL < 0 {
		p.Add(path+".token_ttl", "must not be negative")
	}
	s.Faults.Validate(path+".faults", p)
}

// History generates the history the settings describe.
func (s *Settings) History() *History {
	return New(Config{Seed: s.Seed, Entities: s.Packages, EntriesPerEntity: s.EntriesPerPackage,
		AfterTerminal: s.AfterComplete, Concurrent: s.Concurrent, Rate: s.Rate, Backfill: s.Backfill,
		DuplicateFraction: s.DuplicateFraction, Now: s.Now})
}

// SimSettings returns the settings; a simulator's settings block that embeds Settings
// has it too (tests reach the shared settings of any full-log simulator through it).
func (s *Settings) SimSettings() *Settings { return s }

// Clock returns the settings' clock (time.Now by default).
func (s *Settings) Clock() func() time.Time {
	if s.Now == nil {
		return time.Now
	}
	return s.Now
}
