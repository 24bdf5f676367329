package config

import (
	"crypto/sha256"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"weak"

	"gopkg.in/yaml.v3"
)

// A scalar whose ${VAR} or ${file:} references were expanded may hold a secret, so no
// problem message quotes its value: it names the original text instead ("the value of
// ${TOKEN}"). The decoder finds such a node by its pointer (expandedNodes, filled by
// expandNode; a block decoded later by its plug-in shares the nodes), and Problems finds
// it by path (expansions, filled by the decoder) for what validation says of a value.

// expandedNodes maps a weak pointer to an expanded scalar node to its original text; the
// entry goes when the node is collected.
var expandedNodes sync.Map // weak.Pointer[yaml.Node] -> string

// markExpanded records that n's value is the expansion of orig.
func markExpanded(n *yaml.Node, orig string) {
	w := weak.Make(n)
	if _, loaded := expandedNodes.Swap(w, orig); !loaded {
		runtime.AddCleanup(n, func(w weak.Pointer[yaml.Node]) { expandedNodes.Delete(w) }, w)
	}
}

// expandedFrom returns the original text of an expanded scalar node.
func expandedFrom(n *yaml.Node) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	v, ok := expandedNodes.Load(weak.Make(n))
	if !ok {
		return "", false
	}
	return v.(string), true
}

// expansion is what Problems keeps of an expanded value at a path: its original text and
// a digest of the value (never the value itself).
type expansion struct {
	orig string
	sum  [sha256.Size]byte
}

// valueOf names an expanded value by its original text, for messages.
func valueOf(orig string) string {
	if m := ref.FindStringIndex(orig); m != nil && m[0] == 0 && m[1] == len(orig) && len(orig) <= 200 {
		return "the value of " + orig // the value of ${TOKEN}
	}
	if len(orig) > 120 {
		orig = orig[:117] + "..."
	}
	return "the value of " + strconv.Quote(orig)
}

// scrubNode replaces the value of an expanded node n in msg (quoted, and as is when it is
// long enough not to be a common word or number) by its original text.
func scrubNode(n *yaml.Node, msg string) string {
	orig, ok := expandedFrom(n)
	if !ok || n.Value == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, strconv.Quote(n.Value), valueOf(orig))
	if len(n.Value) >= 4 {
		msg = strings.ReplaceAll(msg, n.Value, valueOf(orig))
	}
	return msg
}

// noteExpansion records that the value at path is the expansion of n (if it is one).
func (p *Problems) noteExpansion(path string, n *yaml.Node) {
	orig, ok := expandedFrom(n)
	if !ok {
		return
	}
	if p.exp == nil {
		p.exp = map[string]expansion{}
	}
	if _, ok := p.exp[path]; !ok {
		p.exp[path] = expansion{orig: orig, sum: sha256.Sum256([]byte(n.Value))}
	}
}

// Quote is v quoted (%q) for a message about the value at path, or, when that value was
// expanded from ${VAR} or ${file:} (and may be a secret), "the value of ${VAR}". Validate
// methods quote the values they refuse with it.
func (p *Problems) Quote(path, v string) string {
	if e, ok := p.exp[path]; ok && e.sum == sha256.Sum256([]byte(v)) {
		return valueOf(e.orig)
	}
	return strconv.Quote(v)
}

// Expanded reports whether the value at path came from ${VAR} or ${file:} expansion: a
// message about it should then not include what a library says of the value (it may
// repeat it).
func (p *Problems) Expanded(path string) bool {
	_, ok := p.exp[path]
	return ok
}

var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// scrub is the last guard: a quoted string in the message of a problem at (or above, or
// under) the path of an expanded value that is that value is replaced by its original
// text.
func (p *Problems) scrub(path, msg string) string {
	if len(p.exp) == 0 || !strings.Contains(msg, `"`) {
		return msg
	}
	var related []expansion
	for ep, e := range p.exp {
		if path == "" || under(ep, path) || under(path, ep) {
			related = append(related, e)
		}
	}
	if len(related) == 0 {
		return msg
	}
	return quoted.ReplaceAllStringFunc(msg, func(q string) string {
		s, err := strconv.Unquote(q)
		if err != nil {
			return q
		}
		sum := sha256.Sum256([]byte(s))
		for _, e := range related {
			if e.sum == sum {
				return valueOf(e.orig)
			}
		}
		return q
	})
}

// aliasBudget bounds the nodes decoded through aliases and merge keys in one document, so
// that a small file of nested aliases ("billion laughs") cannot make decoding take
// forever: once it is spent, one problem says so and decoding of that part stops.
type aliasBudget struct {
	left     int
	reported bool
}

const (
	aliasBudgetFloor = 100_000 // nodes, whatever the size of the document
	aliasBudgetRatio = 10      // nodes per node of the document
)

func newAliasBudget(n *yaml.Node) *aliasBudget {
	return &aliasBudget{left: max(aliasBudgetFloor, aliasBudgetRatio*countNodes(n))}
}

// countNodes is the number of nodes of the tree under n, aliases not followed.
func countNodes(n *yaml.Node) int {
	c := 1
	for _, x := range n.Content {
		c += countNodes(x)
	}
	return c
}
