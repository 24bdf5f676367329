package ionossim

import (
	"github.com/auditstream/auditstream/internal/config"
)

// Settings is the YAML block of the IONOS simulator (`simulators[].settings`).
type Settings struct {
	Token        config.Secret   `yaml:"token"`
	Username     string          `yaml:"username"`
	Password     config.Secret   `yaml:"password"`
	Contracts    []string        `yaml:"contracts"`
	Seed         uint64          `yaml:"seed"`
	Rate         float64         `yaml:"rate"`
	MaxEvents    int             `yaml:"max_events"`
	Backfill     int             `yaml:"backfill"`
	LateFraction float64         `yaml:"late_fraction"`
	MaxLate      config.Duration `yaml:"max_late"`
	Faults       FaultSettings   `yaml:"faults"`
	// TotalStyle: "" (a number), "es7" ({"value","relation"} capped at 10000), "none".
	TotalStyle string `yaml:"total_style"`
	// MaxLimit silently clamps limit (0 = no clamp).
	MaxLimit int `yaml:"max_limit"`
}

// FaultSettings are the per-request fault probabilities.
type FaultSettings struct {
	TooManyRequests float64         `yaml:"too_many_requests"`
	ServerError     float64         `yaml:"server_error"`
	Unavailable     float64         `yaml:"unavailable"`
	Slow            float64         `yaml:"slow"`
	Truncated       float64         `yaml:"truncated"`
	SlowDelay       config.Duration `yaml:"slow_delay"`
	RetryAfter      int             `yaml:"retry_after"`
}

// Validate lists problems at path.
func (s *Settings) Validate(path string, p *config.Problems) {
	if s.Token == "" && s.Username == "" {
		p.Add(path, "set token or username/password (the simulator checks auth like the real API)")
	}
	if s.Rate < 0 || s.Rate > 100000 {
		p.Add(path+".rate", "must be between 0 and 100000 events/s")
	}
	if s.LateFraction < 0 || s.LateFraction > 1 {
		p.Add(path+".late_fraction", "must be between 0 and 1")
	}
	if s.TotalStyle != "" && s.TotalStyle != "es7" && s.TotalStyle != "none" {
		p.Add(path+".total_style", "%q is not \"\", \"es7\" or \"none\"", s.TotalStyle)
	}
	f := s.Faults
	if sum := f.TooManyRequests + f.ServerError + f.Unavailable + f.Slow + f.Truncated; sum > 1 || f.TooManyRequests < 0 || f.ServerError < 0 || f.Unavailable < 0 || f.Slow < 0 || f.Truncated < 0 {
		p.Add(path+".faults", "probabilities must be >= 0 and sum to at most 1")
	}
}

// Config converts the settings.
func (s *Settings) Config() Config {
	return Config{
		Token: s.Token.Reveal(), Username: s.Username, Password: s.Password.Reveal(), Contracts: s.Contracts,
		Seed: s.Seed, Rate: s.Rate, MaxEvents: s.MaxEvents, Backfill: s.Backfill,
		LateFraction: s.LateFraction, MaxLate: s.MaxLate.D(), TotalStyle: s.TotalStyle, MaxLimit: s.MaxLimit,
		Faults: Faults{
			TooManyRequests: s.Faults.TooManyRequests, ServerError: s.Faults.ServerError, Unavailable: s.Faults.Unavailable,
			Slow: s.Faults.Slow, Truncated: s.Faults.Truncated, SlowDelay: s.Faults.SlowDelay.D(), RetryAfter: s.Faults.RetryAfter,
		},
	}
}
