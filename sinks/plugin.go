package sinks

import (
	"fmt"
	"log/slog"

	"gopkg.in/yaml.v3"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/metrics"
)

// Deps are what the process hands every sink it opens.
type Deps struct {
	Log     *slog.Logger
	Metrics *metrics.Metrics
}

// Plugin is one sink type as the process sees it: its type name (`type:` in the YAML),
// how its settings block is decoded, defaulted and validated (once, in the sink's own
// Settings type), and how it is opened. A sink package declares one with Define and the
// process registers it with one line (cmd/auditstream/app/registry.go).
type Plugin struct {
	Type   string
	decode func(n *yaml.Node, path string, p *config.Problems) any
	open   func(name string, settings any, d Deps) (Sink, error)
}

// Define declares a sink type whose settings block is S.
func Define[S any, PS interface {
	*S
	config.Settings
}](typ string, open func(name string, s *S, d Deps) (Sink, error)) Plugin {
	return Plugin{
		Type: typ,
		decode: func(n *yaml.Node, path string, p *config.Problems) any {
			if s := config.DecodeBlock[S, PS](n, path, p); s != nil {
				return s
			}
			return nil
		},
		open: func(name string, s any, d Deps) (Sink, error) { return open(name, s.(*S), d) },
	}
}

// DefineLogged declares a sink type whose open takes the settings by value and, of the
// Deps, only the logger: the Open that programs and tests outside the runner call too.
func DefineLogged[S any, PS interface {
	*S
	config.Settings
}, K Sink](typ string, open func(name string, s S, log *slog.Logger) (K, error)) Plugin {
	return Define[S, PS](typ, func(name string, s *S, d Deps) (Sink, error) {
		return open(name, *s, d.Log)
	})
}

// Decode decodes, defaults and validates a settings block: its *S (the sink's Settings
// type), or the problems as an error.
func (pl Plugin) Decode(n *yaml.Node) (any, error) {
	var p config.Problems
	s := pl.decode(n, "settings", &p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("sink type %s: settings did not decode", pl.Type)
	}
	return s, nil
}

// Check validates a settings block at path.
func (pl Plugin) Check(n *yaml.Node, path string, p *config.Problems) { pl.decode(n, path, p) }

// Open decodes the settings block and opens the sink.
func (pl Plugin) Open(name string, n *yaml.Node, d Deps) (Sink, error) {
	s, err := pl.Decode(n)
	if err != nil {
		return nil, err
	}
	return pl.open(name, s, d)
}
