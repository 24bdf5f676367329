package testkit

import (
	"strings"

	"encoding/json"
	"github.com/auditstream/auditstream/internal/config"
	"os"
	"sync"
	"testing"
	"time"
)

// Clock is a settable clock for simulators and sources under test, safe for concurrent
// use: pass Now where a component takes a clock, move it with Add.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// ReadJSON decodes the JSON file at path into v (golden files), failing the test otherwise.
func ReadJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// Settings is what a plug-in's settings block implements (config.Settings).
type Settings interface {
	SetDefaults()
	Validate(path string, p *config.Problems)
}

// CheckSettings sets s's defaults, validates it at path and fails the test unless the
// problems name each of want — or, with no want, unless there are none.
func CheckSettings(t testing.TB, s Settings, path string, want ...string) {
	t.Helper()
	s.SetDefaults()
	var p config.Problems
	s.Validate(path, &p)
	got := strings.Join(p.List(), "\n")
	if len(want) == 0 && got != "" {
		t.Fatalf("problems: %s", got)
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("problems %q lack %q", got, w)
		}
	}
}
