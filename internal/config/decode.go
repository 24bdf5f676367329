package config

import (
	"encoding"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// decodeNode decodes n into v (a pointer) the way yaml.v3 does with KnownFields, but from
// the nodes themselves, so that every problem keeps its line and column, and without
// stopping at the first one: an unknown key (with a "did you mean"), a value of the wrong
// type (naming the expected type in words, never a Go type) or a duplicate key is recorded
// in p at its path, and decoding goes on with the rest. Every path it passes is indexed,
// so that problems found later (validation) are located too.
func decodeNode(n *yaml.Node, v any, path string, p *Problems) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("config: decodeNode needs a non-nil pointer")
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	if p.budget == nil {
		p.budget = newAliasBudget(n)
	}
	d := nodeDecoder{p: p, budget: p.budget, active: map[*yaml.Node]bool{}}
	d.value(n, rv.Elem(), path)
}

// nodeDecoder follows aliases and merge keys itself (yaml.v3's guards against cycles and
// exponential aliasing do not apply then): a container met again while it is being
// decoded is a cycle ("anchor l contains itself"), and every node decoded through an
// alias or a merge key is paid from the document's budget.
type nodeDecoder struct {
	p      *Problems
	budget *aliasBudget
	active map[*yaml.Node]bool // the mappings and lists being decoded
	depth  int                 // > 0: inside an alias or a merge
	// entry and entryPath: the outermost alias or merge being decoded, where a spent
	// budget is reported.
	entry     *yaml.Node
	entryPath string
}

// into enters an alias or a merge at at (path).
func (d *nodeDecoder) into(at *yaml.Node, path string) {
	if d.depth == 0 {
		d.entry, d.entryPath = at, path
	}
	d.depth++
}

var (
	nodeType      = reflect.TypeFor[yaml.Node]()
	unmarshalerT  = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshal = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType  = reflect.TypeFor[time.Duration]()
)

// spend pays one node decoded through an alias or a merge; false: the budget is spent
// (reported once, at at), and decoding of this part stops.
func (d *nodeDecoder) spend(at *yaml.Node, path string) bool {
	if d.budget.left > 0 {
		d.budget.left--
		return true
	}
	if !d.budget.reported {
		d.budget.reported = true
		if d.entry != nil {
			at, path = d.entry, d.entryPath
		}
		d.p.addDecode(at, path, "document contains excessive aliasing")
	}
	return false
}

// enter marks the container n as being decoded; false (reported at at, the alias that led
// to it) when it already is: an anchor that contains itself.
func (d *nodeDecoder) enter(n, at *yaml.Node, path string) bool {
	if d.active[n] {
		name := at.Value
		if at.Kind != yaml.AliasNode {
			name = n.Anchor
		}
		d.p.addDecode(at, path, fmt.Sprintf("anchor %s contains itself", name))
		return false
	}
	d.active[n] = true
	return true
}

func (d *nodeDecoder) value(n *yaml.Node, v reflect.Value, path string) {
	at := n
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		d.into(at, path)
		defer func() { d.depth-- }()
	}
	if d.depth > 0 && !d.spend(at, path) {
		return
	}
	d.resolved(n, at, v, path)
}

// resolved is value of n, an alias's target when at is the alias.
func (d *nodeDecoder) resolved(n, at *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode {
		d.p.index(path, n)
		d.p.noteExpansion(path, n)
	}
	if v.Type() == nodeType {
		v.Set(reflect.ValueOf(*n))
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		// `key:` or `key: ~` leaves the value unset (its default applies).
		if v.Kind() == reflect.Pointer || v.Kind() == reflect.Map || v.Kind() == reflect.Slice || v.Kind() == reflect.Interface {
			v.SetZero()
		}
		return
	}
	if v.CanAddr() && (v.Addr().Type().Implements(unmarshalerT) || v.Addr().Type().Implements(textUnmarshal)) {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.p.addDecode(n, path, humanYAMLError(err, expected(v.Type())))
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.resolved(n, at, v.Elem(), path)
	case reflect.Struct:
		if !d.want(n, yaml.MappingNode, v.Type(), path) || !d.enter(n, at, path) {
			return
		}
		defer delete(d.active, n)
		d.structure(n, v, path)
	case reflect.Slice:
		if !d.want(n, yaml.SequenceNode, v.Type(), path) || !d.enter(n, at, path) {
			return
		}
		defer delete(d.active, n)
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			ip := fmt.Sprintf("%s[%d]", path, i)
			d.p.index(ip, c)
			d.value(c, s.Index(i), ip)
		}
		v.Set(s)
	case reflect.Map:
		if !d.want(n, yaml.MappingNode, v.Type(), path) || !d.enter(n, at, path) {
			return
		}
		defer delete(d.active, n)
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		d.pairs(n, path, func(k, val *yaml.Node, kp string) {
			key := reflect.New(v.Type().Key())
			if err := k.Decode(key.Interface()); err != nil {
				d.p.addDecode(k, kp, "key "+humanYAMLError(err, expected(v.Type().Key())))
				return
			}
			elem := reflect.New(v.Type().Elem()).Elem()
			d.value(val, elem, kp)
			v.SetMapIndex(key.Elem(), elem)
		})
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.p.addDecode(n, path, humanYAMLError(err, "a value"))
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		d.p.addDecode(n, path, "cannot be set in the configuration")
	default:
		if n.Kind != yaml.ScalarNode {
			d.want(n, yaml.ScalarNode, v.Type(), path)
			return
		}
		tmp := reflect.New(v.Type())
		if err := n.Decode(tmp.Interface()); err != nil {
			d.p.addDecode(n, path, fmt.Sprintf("must be %s, got %s", expected(v.Type()), describe(n)))
			return
		}
		v.Set(tmp.Elem())
	}
}

// want reports a node of another kind than kind (a list where a mapping belongs, ...).
func (d *nodeDecoder) want(n *yaml.Node, kind yaml.Kind, t reflect.Type, path string) bool {
	if n.Kind == kind {
		return true
	}
	d.p.addDecode(n, path, fmt.Sprintf("must be %s, got %s", expected(t), describe(n)))
	return false
}

// pairs calls f for every key/value of a mapping node (merge keys `<<` first, so that
// explicit keys win), reporting keys given twice.
func (d *nodeDecoder) pairs(n *yaml.Node, path string, f func(k, v *yaml.Node, keyPath string)) {
	seen := map[string]*yaml.Node{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Style == 0 {
			merges = append(merges, n.Content[i+1])
		}
	}
	for _, m := range merges {
		d.into(m, path)
		ok := d.merge(m, path, f)
		d.depth--
		if !ok {
			return
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Style == 0 {
			continue
		}
		if d.depth > 0 && !d.spend(k, path) {
			return
		}
		kp := joinPath(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.p.addDecode(k, path, "a key must be a plain word, not "+describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.p.addDecode(k, kp, fmt.Sprintf("key %q is given twice (first on line %d)", k.Value, first.Line))
			continue
		}
		seen[k.Value] = k
		if val.Kind != yaml.ScalarNode && val.Kind != yaml.AliasNode {
			// A block's problems (a missing key) point at the line of its key.
			d.p.index(kp, k)
		}
		f(k, val, kp)
	}
}

// merge calls f for the pairs of the value m of a merge key (a mapping or a list of
// mappings, or aliases of them); false: the alias budget is spent.
func (d *nodeDecoder) merge(m *yaml.Node, path string, f func(k, v *yaml.Node, keyPath string)) bool {
	if !d.spend(m, path) {
		return false
	}
	given := m
	for m.Kind == yaml.AliasNode && m.Alias != nil {
		m = m.Alias
	}
	list := []*yaml.Node{given}
	if m.Kind == yaml.SequenceNode {
		list = m.Content
	}
	for _, x := range list {
		at := x
		for x.Kind == yaml.AliasNode && x.Alias != nil {
			x = x.Alias
		}
		if at != given && !d.spend(at, path) {
			return false
		}
		if x.Kind != yaml.MappingNode {
			d.p.addDecode(x, path, "a merge (<<) takes a mapping or a list of mappings")
			continue
		}
		if !d.enter(x, at, path) {
			continue
		}
		d.pairs(x, path, f)
		delete(d.active, x)
		if d.budget.left == 0 && d.budget.reported {
			return false
		}
	}
	return true
}

// structure decodes a mapping into a struct by its yaml tags (inline structs included).
func (d *nodeDecoder) structure(n *yaml.Node, v reflect.Value, path string) {
	fields := fieldsOf(v.Type())
	d.pairs(n, path, func(k, val *yaml.Node, kp string) {
		idx, ok := fields.byKey[k.Value]
		if !ok {
			d.p.addDecode(k, kp, "unknown key"+didYouMean(k.Value, fields.keys))
			return
		}
		d.value(val, v.FieldByIndex(idx), kp)
	})
}

type structFields struct {
	byKey map[string][]int
	keys  []string
}

var fieldCache sync.Map // reflect.Type -> *structFields

// fieldsOf lists the keys of a struct type as yaml.v3 reads them: the tag's name or the
// lower-cased field name, inline structs' keys beside their own, "-" and unexported
// fields skipped.
func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	sf := &structFields{byKey: map[string][]int{}}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.PkgPath != "" && !f.Anonymous {
				continue
			}
			tag := f.Tag.Get("yaml")
			if tag == "-" {
				continue
			}
			name, flags, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), prefix...), i)
			if strings.Contains(","+flags+",", ",inline,") && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			if f.PkgPath != "" {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if _, dup := sf.byKey[name]; !dup {
				sf.byKey[name] = idx
				sf.keys = append(sf.keys, name)
			}
		}
	}
	walk(t, nil)
	sort.Strings(sf.keys)
	fieldCache.Store(t, sf)
	return sf
}

// didYouMean suggests the known key nearest to key, if one is near enough to be a typo.
func didYouMean(key string, known []string) string {
	best, bestD := "", 1<<30
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" && (bestD <= 2 || bestD <= len(best)/3) {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	if len(known) > 0 && len(known) <= 12 {
		return " (known keys: " + strings.Join(known, ", ") + ")"
	}
	return ""
}

func editDistance(a, b string) int {
	// optimal string alignment: insertions, deletions, substitutions, transpositions
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// expected names the YAML a Go type takes, in words.
func expected(t reflect.Type) string {
	if t == durationType || t == reflect.TypeFor[Duration]() {
		return `a duration like "30s", "5m" or "1h"`
	}
	switch t.Kind() {
	case reflect.Pointer:
		return expected(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number >= 0"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping (key: value)"
	}
	return "a value"
}

// describe names what a node holds, for "must be X, got Y".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if orig, ok := expandedFrom(n); ok {
			return valueOf(orig) // it may be a secret
		}
		v := n.Value
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		return fmt.Sprintf("%q", v)
	}
	return "nothing"
}

var (
	yamlLine      = regexp.MustCompile(`^(yaml: )?line \d+: `)
	cannotDecode  = regexp.MustCompile("cannot unmarshal !!\\w+ `(.*)` into (\\S+)")
	cannotDecode2 = regexp.MustCompile(`cannot unmarshal !!(\w+) into (\S+)`)
)

// humanYAMLError rewrites an error of yaml.v3 (or of an UnmarshalYAML) without line
// numbers (the problem carries its own) and without Go type names.
func humanYAMLError(err error, want string) string {
	var msgs []string
	if te, ok := err.(*yaml.TypeError); ok {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	for i, m := range msgs {
		m = yamlLine.ReplaceAllString(strings.TrimPrefix(m, "yaml: "), "")
		if g := cannotDecode.FindStringSubmatch(m); g != nil {
			m = fmt.Sprintf("must be %s, got %q", want, g[1])
		} else if g := cannotDecode2.FindStringSubmatch(m); g != nil {
			m = fmt.Sprintf("must be %s, got a %s", want, map[string]string{"map": "mapping", "seq": "list"}[g[1]])
		}
		msgs[i] = m
	}
	return strings.Join(msgs, "; ")
}

// joinPath is path.key ("key" at the top).
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
