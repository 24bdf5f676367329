package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as "30s", "5m", "1h30m" in YAML.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: duration must be a string like \"30s\"", n.Line)
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (use 500ms, 30s, 5m, 1h)", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Secret is a string that never prints: fmt, slog and YAML output show "[redacted]".
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// LogValue hides the value from log/slog.
func (s Secret) LogValue() any { return s.String() }

// GoString hides the value from %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalYAML hides the value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON hides the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// Reveal returns the secret for use on the wire.
func (s Secret) Reveal() string { return string(s) }

// Problems collects configuration errors with their paths, so that validation lists
// every problem at once.
type Problems struct{ list []string }

// Add records a problem at path.
func (p *Problems) Add(path, format string, args ...any) {
	p.list = append(p.list, path+": "+fmt.Sprintf(format, args...))
}

// List returns the problems.
func (p *Problems) List() []string { return p.list }

// Err returns nil or an error listing every problem, one per line.
func (p *Problems) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &Error{Problems: p.list}
}

// Error is a failed validation.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return fmt.Sprintf("%d configuration problem(s):\n  - %s", len(e.Problems), strings.Join(e.Problems, "\n  - "))
}

// CheckURL validates an http(s) URL.
func (p *Problems) CheckURL(path, v string) {
	if v == "" {
		p.Add(path, "is required")
		return
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.Add(path, "%q is not an http(s) URL", v)
	}
}

// Positive validates a positive duration.
func (p *Problems) Positive(path string, d Duration) {
	if d <= 0 {
		p.Add(path, "must be a positive duration, got %s", d.D())
	}
}
