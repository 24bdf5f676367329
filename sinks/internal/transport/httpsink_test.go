package transport

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/auditstream/auditstream/internal/config"
)

type inlined struct {
	URL          string `yaml:"url"`
	HTTPSettings `yaml:",inline"`
}

// The shared keys decode inline in a sink's block (unknown keys still refused), get their
// defaults and are validated under the block's path.
func TestHTTPSettingsInline(t *testing.T) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("url: http://x\nmax_request_bytes: 100\ntimeout: -1s\n"), &n); err != nil {
		t.Fatal(err)
	}
	var s inlined
	if err := config.DecodeStrict(n.Content[0], &s); err != nil {
		t.Fatal(err)
	}
	var p config.Problems
	s.Validate("sinks[0].settings", &p)
	got := strings.Join(p.List(), "\n")
	for _, want := range []string{"sinks[0].settings.max_request_bytes", "sinks[0].settings.timeout"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q, want one about %s", got, want)
		}
	}
	var d inlined
	d.SetDefaults(4 << 20)
	if d.MaxRequestBytes != 4<<20 || d.Timeout.D() != 30*time.Second {
		t.Errorf("defaults %+v", d.HTTPSettings)
	}
	if err := yaml.Unmarshal([]byte("url: http://x\ntimeouts: 1s\n"), &n); err != nil {
		t.Fatal(err)
	}
	if err := config.DecodeStrict(n.Content[0], &s); err == nil {
		t.Error("an unknown key decoded")
	}
}
