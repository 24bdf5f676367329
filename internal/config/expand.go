package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

var ref = regexp.MustCompile(`\$\{([^}]*)\}`)

// expandNode replaces ${VAR}, ${VAR:-default} and ${file:/path} in every scalar value of
// the document (never in keys, and never by re-parsing text, so a secret with YAML
// characters stays one string). A literal "$${" is written "$${".
func expandNode(n *yaml.Node, path string, p *Problems) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, c := range n.Content {
			child := path
			if n.Kind == yaml.SequenceNode {
				child = fmt.Sprintf("%s[%d]", path, i)
			}
			expandNode(c, child, p)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			child := k
			if path != "" {
				child = path + "." + k
			}
			expandNode(n.Content[i+1], child, p)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		before := len(p.list)
		orig := n.Value
		v, refs := expandString(n.Value, path, p)
		if len(p.list) > before {
			// One problem at the value's own line. The value stays the unexpanded text (a
			// string), so that decoding goes on and validation does not add "is required"
			// about it (what it says at the same path is left out; see addDecode).
			for i := before; i < len(p.list); i++ {
				p.list[i].pos, p.list[i].decode = Pos{n.Line, n.Column}, true
			}
			n.Tag = "!!str"
			return
		}
		n.Value = v
		if refs {
			markExpanded(n, orig)
		}
		if n.Style == 0 {
			// An unquoted ${PORT} decodes as a number (and into a string field as its exact
			// text); a value that YAML would read as null stays the string it is.
			n.Tag = ""
			switch n.Value {
			case "", "~", "null", "Null", "NULL":
				n.Tag = "!!str"
			}
		}
	}
}

// expandString returns s expanded, and whether it held a reference (not only "$${").
func expandString(s, path string, p *Problems) (string, bool) {
	const esc = "\x00dollar\x00"
	s = strings.ReplaceAll(s, "$${", esc)
	refs := false
	s = ref.ReplaceAllStringFunc(s, func(m string) string {
		refs = true
		inner := m[2 : len(m)-1]
		if strings.HasPrefix(inner, "file:") {
			fp := strings.TrimPrefix(inner, "file:")
			b, err := os.ReadFile(fp)
			if err != nil {
				p.Add(path, "${file:%s}: %v", fp, err)
				return ""
			}
			return strings.TrimRight(string(b), "\r\n")
		}
		name, def, hasDef := strings.Cut(inner, ":-")
		if !validEnvName(name) {
			p.Add(path, "${%s} is not a valid reference (use ${VAR}, ${VAR:-default} or ${file:/path})", inner)
			return ""
		}
		if v, ok := os.LookupEnv(name); ok && v != "" {
			return v
		}
		if hasDef {
			return def
		}
		p.Add(path, "environment variable %s is not set", name)
		return ""
	})
	return strings.ReplaceAll(s, esc, "${"), refs
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
