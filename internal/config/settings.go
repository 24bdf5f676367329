package config

import "gopkg.in/yaml.v3"

// Settings is a plug-in's own settings block (a provider's, a simulator's or a sink's):
// decoded strictly from YAML, then defaulted and validated in one place.
type Settings interface {
	// SetDefaults fills unset fields.
	SetDefaults()
	// Validate records every problem of the block, with its path, in p.
	Validate(path string, p *Problems)
}

// DecodeBlock decodes n strictly into a new S (unknown fields are errors), from the nodes
// themselves so that every problem keeps its line, sets its defaults and validates it at
// path. It returns nil when the block has problems; they are
// all recorded in p.
func DecodeBlock[S any, PS interface {
	*S
	Settings
}](n *yaml.Node, path string, p *Problems) *S {
	s := new(S)
	before := len(p.list)
	if n.Kind != 0 {
		decodeNode(n, s, path, p)
	}
	// Validated even when a value did not decode, so that one pass lists every problem
	// (Err leaves out what validation says about a value that could not be read).
	PS(s).SetDefaults()
	PS(s).Validate(path, p)
	if len(p.list) > before {
		return nil
	}
	return s
}
