package config

import (
	"fmt"
	"slices"
	"sort"
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
		return fmt.Errorf("must be a duration like \"30s\", \"5m\" or \"1h\", got %s", describe(n))
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a duration (use 500ms, 30s, 5m, 1h)", s)
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

// Problems collects configuration problems with their paths, so that validation lists
// every problem at once. Decoding indexes where each path is in the file, so a problem
// added by path only (validation) is printed at its line too: Err formats every problem
// as "file:line:col: path: message", sorted by place.
type Problems struct {
	list []problem
	file string
	pos  map[string]Pos
	// exp: the paths of values expanded from ${VAR} or ${file:} (see Quote).
	exp map[string]expansion
	// budget of the nodes decoded through aliases, shared by the blocks of one document.
	budget *aliasBudget
}

// Pos is a place in the configuration file (1-based; 0 = unknown).
type Pos struct{ Line, Col int }

type problem struct {
	path, msg string
	pos       Pos  // where it is, when the problem came with its node
	decode    bool // the value could not be read at all
}

// Add records a problem at path.
func (p *Problems) Add(path, format string, args ...any) {
	p.list = append(p.list, problem{path: path, msg: fmt.Sprintf(format, args...)})
}

// addDecode records a problem of reading node n at path: other problems at or under the
// same path (a default that fails validation, "is required", a second decoding problem)
// say nothing more and are left out.
func (p *Problems) addDecode(n *yaml.Node, path, msg string) {
	p.list = append(p.list, problem{path: path, msg: scrubNode(n, msg), pos: Pos{n.Line, n.Column}, decode: true})
}

// index records that path is at node n (the first place given wins).
func (p *Problems) index(path string, n *yaml.Node) {
	if n.Line == 0 {
		return
	}
	if p.pos == nil {
		p.pos = map[string]Pos{}
	}
	if _, ok := p.pos[path]; !ok {
		p.pos[path] = Pos{n.Line, n.Column}
	}
}

// adopt takes over the file name, the index, the expanded paths and the alias budget of
// a decoded configuration.
func (p *Problems) adopt(file string, pos map[string]Pos, exp map[string]expansion, budget *aliasBudget) {
	if p.file == "" {
		p.file = file
	}
	if p.pos == nil {
		p.pos = map[string]Pos{}
	}
	for k, v := range pos {
		if _, ok := p.pos[k]; !ok {
			p.pos[k] = v
		}
	}
	if len(exp) > 0 && p.exp == nil {
		p.exp = map[string]expansion{}
	}
	for k, v := range exp {
		if _, ok := p.exp[k]; !ok {
			p.exp[k] = v
		}
	}
	if p.budget == nil {
		p.budget = budget
	}
}

// locate is where path is: its own place or, for a key that is not in the file (a
// missing required key), the place of the nearest enclosing block.
func (p *Problems) locate(path string) Pos {
	for {
		if pos, ok := p.pos[path]; ok {
			return pos
		}
		if path == "" {
			return Pos{}
		}
		path = parentPath(path)
	}
}

// parentPath is a.b of a.b.c and a.b of a.b[3].
func parentPath(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

// List returns the problems as "path: message", in the order they were found.
func (p *Problems) List() []string {
	out := make([]string, len(p.list))
	for i, x := range p.list {
		out[i] = joinMsg(x.path, p.scrub(x.path, x.msg))
	}
	return out
}

func joinMsg(path, msg string) string {
	if path == "" {
		return msg
	}
	return path + ": " + msg
}

// under reports whether path is base or inside it.
func under(path, base string) bool {
	return path == base || strings.HasPrefix(path, base) && (path[len(base)] == '.' || path[len(base)] == '[')
}

// Err returns nil or an error listing every problem, one a line, sorted by place.
func (p *Problems) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	type located struct {
		problem
		at Pos
	}
	var out []located
	seen := map[string]bool{}
	for i, x := range p.list {
		if slices.ContainsFunc(p.list, func(d problem) bool { return d.decode && under(x.path, d.path) }) &&
			(!x.decode || slices.ContainsFunc(p.list[:i], func(d problem) bool { return d.decode && under(x.path, d.path) })) {
			continue // the value could not be read; its first decoding problem says it
		}
		at := x.pos
		if at.Line == 0 {
			at = p.locate(x.path)
		}
		key := fmt.Sprint(at, x.path, x.msg)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, located{x, at})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.at.Line != b.at.Line {
			return a.at.Line < b.at.Line
		}
		if a.at.Col != b.at.Col {
			return a.at.Col < b.at.Col
		}
		return a.path < b.path
	})
	e := &Error{File: p.file}
	for _, x := range out {
		line := joinMsg(x.path, p.scrub(x.path, x.msg))
		if x.at.Line > 0 {
			line = fmt.Sprintf("%d:%d: %s", x.at.Line, x.at.Col, line)
			if p.file != "" {
				line = p.file + ":" + line
			}
		} else if p.file != "" {
			line = p.file + ": " + line
		}
		e.Problems = append(e.Problems, line)
	}
	return e
}

// Error is a failed validation: every problem, one a line ("file:line:col: path: message").
type Error struct {
	File     string
	Problems []string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d configuration problem(s):\n  %s", len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// Positive validates a positive duration.
func (p *Problems) Positive(path string, d Duration) {
	if d <= 0 {
		p.Add(path, "must be a positive duration, got %s", d.D())
	}
}
