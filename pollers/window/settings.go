package window

import (
	"time"

	"github.com/auditstream/auditstream/internal/config"
)

// Settings are the window settings every window provider shares; a provider's config
// embeds them inline (`yaml:",inline"`), so they sit beside its own keys:
//
//	overlap: 10m           # re-read this much before the watermark (late entries)
//	lag: 1m                # never read closer than this to now
//	initial_lookback: 24h  # where the first poll starts
//	start_window: 6h       # the first window of a poll
//	max_window: 8760h      # windows widen up to this
//	min_window: 1ms        # a full window is not split below this
//	max_seen: 50000        # ids kept in the cursor for the overlap
type Settings struct {
	Overlap         config.Duration `yaml:"overlap"`
	Lag             config.Duration `yaml:"lag"`
	InitialLookback config.Duration `yaml:"initial_lookback"`
	StartWindow     config.Duration `yaml:"start_window"`
	MaxWindow       config.Duration `yaml:"max_window"`
	MinWindow       config.Duration `yaml:"min_window"`
	MaxSeen         int             `yaml:"max_seen"`
}

// Defaults of Settings.
const (
	DefaultOverlap         = 10 * time.Minute
	DefaultLag             = time.Minute
	DefaultInitialLookback = 24 * time.Hour
	DefaultStartWindow     = 6 * time.Hour
	DefaultMaxWindow       = 365 * 24 * time.Hour
	DefaultMinWindow       = time.Millisecond
	DefaultMaxSeen         = 50000
)

// SetDefaults fills unset fields.
func (s *Settings) SetDefaults() {
	dur := func(p *config.Duration, v time.Duration) {
		if *p == 0 {
			*p = config.Duration(v)
		}
	}
	dur(&s.Overlap, DefaultOverlap)
	dur(&s.Lag, DefaultLag)
	dur(&s.InitialLookback, DefaultInitialLookback)
	dur(&s.MaxWindow, DefaultMaxWindow)
	dur(&s.StartWindow, min(DefaultStartWindow, s.MaxWindow.D()))
	dur(&s.MinWindow, DefaultMinWindow)
	if s.MaxSeen == 0 {
		s.MaxSeen = DefaultMaxSeen
	}
}

// Validate lists the problems of the settings; path is the block that embeds them.
func (s *Settings) Validate(path string, p *config.Problems) {
	p.Positive(path+".overlap", s.Overlap)
	if s.Lag < 0 {
		p.Add(path+".lag", "must not be negative")
	}
	p.Positive(path+".initial_lookback", s.InitialLookback)
	p.Positive(path+".start_window", s.StartWindow)
	p.Positive(path+".max_window", s.MaxWindow)
	p.Positive(path+".min_window", s.MinWindow)
	if s.StartWindow > s.MaxWindow {
		p.Add(path+".start_window", "must be at most max_window (%s), got %s", s.MaxWindow.D(), s.StartWindow.D())
	}
	if s.MinWindow > s.StartWindow {
		p.Add(path+".min_window", "must be at most start_window (%s), got %s", s.StartWindow.D(), s.MinWindow.D())
	}
	if s.MaxSeen < 1 {
		p.Add(path+".max_seen", "must be at least 1, got %d", s.MaxSeen)
	}
}

// Config is the runtime form; capacity is the most entries one window of the provider
// can return (0 = unknown).
func (s Settings) Config(capacity int) Config {
	return Config{
		Overlap: s.Overlap.D(), Lag: s.Lag.D(), InitialLookback: s.InitialLookback.D(),
		StartWindow: s.StartWindow.D(), MaxWindow: s.MaxWindow.D(), MinWindow: s.MinWindow.D(),
		Capacity: capacity, MaxSeen: s.MaxSeen,
	}
}
