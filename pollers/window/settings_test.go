package window

import (
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"gopkg.in/yaml.v3"
)

func TestSettingsDecodeInlineDefaultAndValidate(t *testing.T) {
	// A provider embeds the settings inline beside its own keys.
	var c struct {
		Other  string   `yaml:"other"`
		Window Settings `yaml:",inline"`
	}
	if err := yaml.Unmarshal([]byte("other: x\noverlap: 5m\nmax_window: 720h\n"), &c); err != nil {
		t.Fatal(err)
	}
	c.Window.SetDefaults()
	w := c.Window
	if c.Other != "x" || w.Overlap.D() != 5*time.Minute || w.MaxWindow.D() != 720*time.Hour || w.Lag.D() != DefaultLag ||
		w.StartWindow.D() != DefaultStartWindow || w.MinWindow.D() != time.Millisecond || w.MaxSeen != DefaultMaxSeen {
		t.Fatalf("decoded and defaulted: %+v", w)
	}
	var p config.Problems
	w.Validate("pollers[0].settings", &p)
	if p.Err() != nil {
		t.Fatal(p.Err())
	}
	if rc := w.Config(100); rc.Capacity != 100 || rc.Overlap != 5*time.Minute || rc.StartWindow != DefaultStartWindow {
		t.Fatalf("runtime config %+v", rc)
	}

	small := Settings{MaxWindow: config.Duration(time.Hour)}
	small.SetDefaults()
	if small.StartWindow.D() != time.Hour {
		t.Fatalf("start_window %s not clipped to max_window", small.StartWindow.D())
	}

	tests := []struct {
		name string
		edit func(*Settings)
		want string
	}{
		{"negative lag", func(s *Settings) { s.Lag = -1 }, ".lag"},
		{"negative overlap", func(s *Settings) { s.Overlap = -1 }, ".overlap"},
		{"start above max", func(s *Settings) { s.StartWindow = s.MaxWindow + 1 }, ".start_window"},
		{"min above start", func(s *Settings) { s.MinWindow = s.StartWindow + 1 }, ".min_window"},
		{"max_seen", func(s *Settings) { s.MaxSeen = -1 }, ".max_seen"},
	}
	for _, tc := range tests {
		s := Settings{}
		s.SetDefaults()
		tc.edit(&s)
		var p config.Problems
		s.Validate("p", &p)
		if err := p.Err(); err == nil || !strings.Contains(err.Error(), "p"+tc.want) {
			t.Errorf("%s: %v, want a problem at p%s", tc.name, err, tc.want)
		}
	}
}
