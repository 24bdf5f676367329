// Package jsonx reads JSON in one validating pass into a flat index of its values (a
// "tape"), so a raw envelope and the provider entry inside it are parsed once: the envelope
// fields are read from the index, the entry's exact bytes are a sub-slice of the input (no
// copy, no re-encode), and mappers navigate the entry through the same index. A Doc is
// reusable; Values and the strings they return alias the input, which must not change
// while they are in use.
//
// Syntax is checked as encoding/json's Valid does (RFC 8259; invalid UTF-8 inside strings
// is accepted and read as U+FFFD, like encoding/json).
package jsonx

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Kind of a JSON value.
type Kind uint8

// Kinds.
const (
	Invalid Kind = iota // a missing value
	Null
	False
	True
	Number
	String
	Array
	Object
)

func (k Kind) String() string {
	return [...]string{"missing", "null", "false", "true", "number", "string", "array", "object"}[k]
}

type node struct {
	start, end uint32 // the value's bytes (a string's include its quotes)
	next       uint32 // index of the first node after this value's subtree
	kind       Kind
	plain      bool // a string without escapes or non-ASCII bytes: its text is its bytes
}

// Doc is a parsed document. The zero Doc is ready to use; Parse reuses its memory.
type Doc struct {
	data  []byte
	nodes []node
	depth int
}

// MaxDepth bounds nesting (as encoding/json does).
const MaxDepth = 10000

// MaxSize bounds a document (offsets are 32-bit).
const MaxSize = 1<<32 - 1

// SyntaxError says where the input stops being JSON.
type SyntaxError struct {
	Offset int
	msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.msg)
}

// Parse indexes data, which must hold exactly one JSON value (white space around it is
// allowed), and returns the root value.
func (d *Doc) Parse(data []byte) (Value, error) {
	if len(data) > MaxSize {
		return Value{}, errors.New("JSON document over 4 GiB")
	}
	d.data, d.nodes, d.depth = data, d.nodes[:0], 0
	i, err := d.value(skipWS(data, 0))
	if err != nil {
		return Value{}, err
	}
	if i = skipWS(data, i); i != len(data) {
		return Value{}, &SyntaxError{i, "data after the top-level value"}
	}
	return Value{d, 0}, nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func (d *Doc) fail(i int, msg string) error { return &SyntaxError{i, msg} }

// value parses the value at i and returns the offset after it.
func (d *Doc) value(i int) (int, error) {
	b := d.data
	if i >= len(b) {
		return i, d.fail(i, "unexpected end of input")
	}
	idx := len(d.nodes)
	d.nodes = append(d.nodes, node{start: uint32(i)})
	var (
		end  int
		err  error
		kind Kind
	)
	switch c := b[i]; {
	case c == '{':
		kind = Object
		end, err = d.object(i)
	case c == '[':
		kind = Array
		end, err = d.array(i)
	case c == '"':
		kind = String
		var plain bool
		end, plain, err = scanString(b, i)
		d.nodes[idx].plain = plain
		if err != nil {
			err = d.fail(end, err.Error())
		}
	case c == '-' || c >= '0' && c <= '9':
		kind = Number
		end, err = scanNumber(b, i)
		if err != nil {
			err = d.fail(end, err.Error())
		}
	case c == 't':
		kind, end, err = True, i+4, d.literal(i, "true")
	case c == 'f':
		kind, end, err = False, i+5, d.literal(i, "false")
	case c == 'n':
		kind, end, err = Null, i+4, d.literal(i, "null")
	default:
		return i, d.fail(i, fmt.Sprintf("unexpected character %q", c))
	}
	if err != nil {
		return end, err
	}
	n := &d.nodes[idx]
	n.end, n.kind, n.next = uint32(end), kind, uint32(len(d.nodes))
	return end, nil
}

func (d *Doc) literal(i int, lit string) error {
	if !bytes.HasPrefix(d.data[i:], []byte(lit)) {
		return d.fail(i, "invalid literal")
	}
	return nil
}

func (d *Doc) enter(i int) error {
	d.depth++
	if d.depth > MaxDepth {
		return d.fail(i, "nested too deeply")
	}
	return nil
}

func (d *Doc) object(i int) (int, error) {
	if err := d.enter(i); err != nil {
		return i, err
	}
	b := d.data
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		d.depth--
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, d.fail(i, "object key expected")
		}
		var err error
		if i, err = d.value(i); err != nil {
			return i, err
		}
		i = skipWS(b, i)
		if i >= len(b) || b[i] != ':' {
			return i, d.fail(i, "':' expected after an object key")
		}
		if i, err = d.value(skipWS(b, i+1)); err != nil {
			return i, err
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return i, d.fail(i, "unexpected end of input in an object")
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			d.depth--
			return i + 1, nil
		default:
			return i, d.fail(i, "',' or '}' expected in an object")
		}
	}
}

func (d *Doc) array(i int) (int, error) {
	if err := d.enter(i); err != nil {
		return i, err
	}
	b := d.data
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		d.depth--
		return i + 1, nil
	}
	for {
		var err error
		if i, err = d.value(i); err != nil {
			return i, err
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return i, d.fail(i, "unexpected end of input in an array")
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case ']':
			d.depth--
			return i + 1, nil
		default:
			return i, d.fail(i, "',' or ']' expected in an array")
		}
	}
}

// scanString checks the string starting at the quote at i; plain says it has no escapes
// and only ASCII.
func scanString(b []byte, i int) (end int, plain bool, err error) {
	plain = true
	i++
	for i < len(b) {
		for i < len(b) && safeASCII[b[i]] {
			i++
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1, plain, nil
		case c == '\\':
			plain = false
			if i+1 >= len(b) {
				return i, false, errors.New("unexpected end of input in a string escape")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return i, false, errors.New("unexpected end of input in a \\u escape")
				}
				for _, h := range b[i+2 : i+6] {
					if hexVal(h) < 0 {
						return i, false, errors.New("invalid \\u escape")
					}
				}
				i += 6
			default:
				return i, false, errors.New("invalid escape")
			}
		case c < 0x20:
			return i, false, errors.New("control character in a string")
		default:
			if c >= utf8.RuneSelf {
				plain = false
			}
			i++
		}
	}
	return i, false, errors.New("unexpected end of input in a string")
}

// safeASCII marks the bytes a string holds as is: printable ASCII but '"' and '\\'.
var safeASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func scanNumber(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return i, errors.New("digit expected in a number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return i, errors.New("digit expected after a decimal point")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, errors.New("digit expected in an exponent")
		}
	}
	return i, nil
}

// Value is one value of a Doc; the zero Value is a missing value (Kind Invalid).
type Value struct {
	d *Doc
	i uint32
}

func (v Value) n() *node { return &v.d.nodes[v.i] }

// Exists says whether the value is present (a JSON null is present).
func (v Value) Exists() bool { return v.d != nil }

// Kind of the value (Invalid when missing).
func (v Value) Kind() Kind {
	if v.d == nil {
		return Invalid
	}
	return v.n().kind
}

// Raw is the value's bytes as in the input (nil when missing).
func (v Value) Raw() []byte {
	if v.d == nil {
		return nil
	}
	n := v.n()
	return v.d.data[n.start:n.end:n.end]
}

// Text is a scalar as text: a string's value, a number as written, "true"/"false"; ""
// for null, objects, arrays and missing values.
func (v Value) Text() string {
	switch v.Kind() {
	case String:
		return v.str()
	case Number, True, False:
		r := v.Raw()
		return unsafe.String(unsafe.SliceData(r), len(r))
	}
	return ""
}

// Str is a string's value ("" for anything that is not a string).
func (v Value) Str() string {
	if v.Kind() != String {
		return ""
	}
	return v.str()
}

func (v Value) str() string {
	n := v.n()
	raw := v.d.data[n.start+1 : n.end-1]
	if n.plain || bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return unsafe.String(unsafe.SliceData(raw), len(raw))
	}
	return string(unquote(raw))
}

// unquote decodes the body of a checked string: escapes resolved, invalid UTF-8 and lone
// surrogates replaced by U+FFFD (as encoding/json does).
func unquote(s []byte) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\\' {
			switch e := s[i+1]; e {
			case 'u':
				r := rune(hex4(s[i+2:]))
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if r2 := utf16.DecodeRune(r, rune(hex4(s[i+2:]))); r2 != utf8.RuneError {
							out = utf8.AppendRune(out, r2)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
				continue
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			default: // " \ /
				out = append(out, e)
			}
			i += 2
			continue
		}
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, s[i:i+size]...)
		}
		i += size
	}
	return out
}

func hex4(b []byte) int {
	return hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3])
}

// Int is a number as int64 (ok false for anything else, fractions and overflow).
func (v Value) Int() (int64, bool) {
	if v.Kind() != Number {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Text(), 10, 64)
	return n, err == nil
}

// Each calls fn for every member of an object in input order (keys unescaped) until fn
// returns false. It does nothing for other kinds.
func (v Value) Each(fn func(key string, val Value) bool) {
	if v.Kind() != Object {
		return
	}
	end := v.n().next
	for k := v.i + 1; k < end; {
		val := k + 1
		if !fn(Value{v.d, k}.str(), Value{v.d, val}) {
			return
		}
		k = v.d.nodes[val].next
	}
}

// Items calls fn for every element of an array until fn returns false. It does nothing
// for other kinds.
func (v Value) Items(fn func(i int, val Value) bool) {
	if v.Kind() != Array {
		return
	}
	end := v.n().next
	for k, i := v.i+1, 0; k < end; i++ {
		if !fn(i, Value{v.d, k}) {
			return
		}
		k = v.d.nodes[k].next
	}
}

// Get is an object's member (the last one when a key repeats, as encoding/json reads it);
// missing when absent or when v is no object.
func (v Value) Get(key string) Value {
	if v.Kind() != Object {
		return Value{}
	}
	var found Value
	end := v.n().next
	for k := v.i + 1; k < end; {
		val := k + 1
		if kn := &v.d.nodes[k]; kn.plain && string(v.d.data[kn.start+1:kn.end-1]) == key || !kn.plain && (Value{v.d, k}).str() == key {
			found = Value{v.d, val}
		}
		k = v.d.nodes[val].next
	}
	return found
}

// Path follows object keys: v.Path("meta", "time") is v.Get("meta").Get("time").
func (v Value) Path(keys ...string) Value {
	for _, k := range keys {
		v = v.Get(k)
	}
	return v
}

// Loose is an object's member whose key equals name ignoring ASCII case, '-' and '_'
// ("user-email", "userEmail" and "user_email" all match "useremail"), for providers
// that spell keys several ways. name must be lower case without '-' or '_'. An exact
// match of a later member wins as with Get.
func (v Value) Loose(name string) Value {
	if v.Kind() != Object {
		return Value{}
	}
	var found Value
	end := v.n().next
	for k := v.i + 1; k < end; {
		val := k + 1
		if kn := &v.d.nodes[k]; looseEq(v.d.data[kn.start+1:kn.end-1], name) {
			found = Value{v.d, val}
		}
		k = v.d.nodes[val].next
	}
	return found
}

// LooseEqual says whether key equals name ignoring ASCII case, '-' and '_' (name: lower
// case without '-' or '_'), as Loose compares keys.
func LooseEqual(key, name string) bool {
	return looseEq(unsafe.Slice(unsafe.StringData(key), len(key)), name)
}

func looseEq(key []byte, name string) bool {
	j := 0
	for _, c := range key {
		if c == '-' || c == '_' {
			continue
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if j >= len(name) || name[j] != c {
			return false
		}
		j++
	}
	return j == len(name)
}

// Len is the number of elements of an array or members of an object.
func (v Value) Len() int {
	n := 0
	switch v.Kind() {
	case Array:
		v.Items(func(int, Value) bool { n++; return true })
	case Object:
		v.Each(func(string, Value) bool { n++; return true })
	}
	return n
}
