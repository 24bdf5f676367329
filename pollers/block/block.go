// Package block is what the provider and simulator plug-ins share: a settings block of
// one Go type, decoded, defaulted and validated once (config.DecodeBlock).
package block

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/auditstream/auditstream/internal/config"
)

// Block decodes the settings blocks of one type.
type Block struct {
	decode func(n *yaml.Node, path string, p *config.Problems) any
}

// Of is the Block of settings type S.
func Of[S any, PS interface {
	*S
	config.Settings
}]() Block {
	return Block{decode: func(n *yaml.Node, path string, p *config.Problems) any {
		if s := config.DecodeBlock[S, PS](n, path, p); s != nil {
			return s
		}
		return nil
	}}
}

// Check validates a settings block at path.
func (b Block) Check(n *yaml.Node, path string, p *config.Problems) { b.decode(n, path, p) }

// Decode decodes a block at path "settings": its *S, or the problems as an error (what
// names the plug-in in the error of a block that had none but did not decode).
func (b Block) Decode(n *yaml.Node, what string) (any, error) {
	var p config.Problems
	s := b.decode(n, "settings", &p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("%s: settings did not decode", what)
	}
	return s, nil
}
