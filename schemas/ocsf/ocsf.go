// Package ocsf holds the OCSF 1.8.0 types auditstream emits: classes 3002 Authentication,
// 6001 Web Resources Activity and 6003 API Activity, the objects they use, their enums and
// captions. ocsf_gen.go is generated from the official OCSF definitions by
// schemas/gen/gen_ocsf_schema.py (`make generate OCSF=<definitions dir>`); this file holds the
// hand-written helpers the generated code uses.
//
// The contract: a mapper fills one class struct; Derive sets the class, category and
// type ids and every caption from the ids; Check tests the invariants the Go types cannot
// express; AppendJSON writes the event. An event built this way has the shape the OCSF
// schema demands by construction; the full JSON Schema (schemas/) is run by the tests and,
// sampled or always, by the normalizer (normalizer.validate).
package ocsf

//go:generate sh -c "test -n \"$OCSF\" || { echo 'set OCSF to the official OCSF 1.8.0 definitions directory' >&2; exit 1; }; python3 ../gen/gen_ocsf_schema.py --ocsf \"$OCSF\" --classes 3002,6001,6003 --profiles cloud,host --go | gofmt > ocsf_gen.go"

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Event is one canonical event of a generated class.
type Event interface {
	// Derive sets class, category and type ids and the captions from the ids.
	Derive()
	// Check tests the invariants the types cannot express.
	Check() error
	// AppendJSON appends the event as JSON.
	AppendJSON(b []byte) []byte
	// EventBase returns the attributes every class shares.
	EventBase() *Base
	// Class returns the class_uid.
	Class() int
	// Release returns the event to its pool (New<Class>); it must not be used afterwards.
	Release()
}

var (
	_ Event = (*Authentication)(nil)
	_ Event = (*WebResourcesActivity)(nil)
	_ Event = (*APIActivity)(nil)
)

var yes, no = true, false

// Bool returns a pointer to a shared true or false (for optional booleans; never write
// through it).
func Bool(v bool) *bool {
	if v {
		return &yes
	}
	return &no
}

// addProfile returns profiles with p added once.
func addProfile(profiles []string, p string) []string {
	if slices.Contains(profiles, p) {
		return profiles
	}
	if len(profiles) == 0 {
		return profileLists[p]
	}
	return append(slices.Clip(profiles), p)
}

// profileLists are shared one-profile lists (read-only).
var profileLists = map[string][]string{"cloud": {"cloud"}, "host": {"host"}}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pathError prefixes a nested object's error with its attribute path.
type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string { return e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

func wrap(key string, err error) error {
	var pe *pathError
	if errors.As(err, &pe) {
		return &pathError{key + "." + pe.path, pe.err}
	}
	return &pathError{key, err}
}

func wrapIndex(key string, i int, err error) error {
	return wrap(key+"["+strconv.Itoa(i)+"]", err)
}

// appendKey writes a separator (unless the object was just opened) and `"key":`.
func appendKey(b []byte, key string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	return append(b, key...)
}

func appendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

func appendFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func appendBool(b []byte, v bool) []byte { return strconv.AppendBool(b, v) }

const hexDigits = "0123456789abcdef"

// jsonSafe marks the bytes a JSON string holds as is: printable ASCII but '"' and '\\'.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendString appends s as a JSON string: ", \ and control characters escaped, invalid
// UTF-8 replaced by U+FFFD (as encoding/json does), everything else verbatim.
func AppendString(b []byte, s string) []byte { return appendString(b, s) }

func appendString(b []byte, s string) []byte {
	// Byte by byte into room made once: the common text (ASCII, quotes, line breaks,
	// indentation of a pretty-printed entry) costs no call per escape.
	n := len(b)
	b = slices.Grow(b, 2*len(s)+2) // every ASCII byte takes at most 2
	d := b[:cap(b)]
	d[n] = '"'
	n++
	for i := 0; i < len(s); i++ {
		c := s[i]
		if jsonSafe[c] {
			d[n] = c
			n++
			continue
		}
		var e byte
		switch c {
		case '"', '\\':
			e = c
		case '\n':
			e = 'n'
		case '\r':
			e = 'r'
		case '\t':
			e = 't'
		default: // another control character or non-ASCII: the general path for the rest
			return append(appendEscaped(d[:n], s[i:]), '"')
		}
		d[n], d[n+1] = '\\', e
		n += 2
	}
	d[n] = '"'
	return d[:n+1]
}

// appendEscaped appends s escaped as in a JSON string (without the quotes), copying runs
// of safe bytes at once.
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		for i < len(s) && jsonSafe[s[i]] {
			i++
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' { // valid JSON, but not valid JavaScript
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// appendMap writes a map with its keys sorted (as encoding/json does).
func appendMap(b []byte, m map[string]any) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendAny(b, m[k])
	}
	return append(b, '}')
}

// appendArray writes a JSON array of xs, each element with appendElem.
func appendArray[T any](b []byte, xs []T, appendElem func([]byte, T) []byte) []byte {
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendElem(b, x)
	}
	return append(b, ']')
}

// appendAny writes the values mappers put in unmapped; other types go through
// encoding/json.
func appendAny(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, x)
	case json.RawMessage:
		if len(x) == 0 {
			return append(b, "null"...)
		}
		buf := bytes.NewBuffer(b)
		if err := json.Compact(buf, x); err != nil {
			return appendString(b, string(x)) // not JSON: keep it as text
		}
		return buf.Bytes()
	case bool:
		return appendBool(b, x)
	case int:
		return appendInt(b, int64(x))
	case int64:
		return appendInt(b, x)
	case float64:
		return appendFloat(b, x)
	case []string:
		return appendArray(b, x, appendString)
	case []any:
		return appendArray(b, x, appendAny)
	case map[string]any:
		return appendMap(b, x)
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		return appendMap(b, m)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, j...)
}

// ValidEmail says whether s matches OCSF's email_t: local part of letters, digits and
// !#$%&'*+,-./=?^_`{|}~, an @, a domain label of letters, digits and '-', a dot, then
// letters, digits, '-' and '.'.
func ValidEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at < 1 {
		return false
	}
	for i := 0; i < at; i++ {
		c := s[i]
		if !(isAlnum(c) || strings.IndexByte("!#$%&'*+,-./=?^_`{|}~", c) >= 0) {
			return false
		}
	}
	dom := s[at+1:]
	dot := strings.IndexByte(dom, '.')
	if dot < 1 || dot == len(dom)-1 {
		return false
	}
	for i := 0; i < len(dom); i++ {
		c := dom[i]
		if !(isAlnum(c) || c == '-' || c == '.' && i >= dot) {
			return false
		}
	}
	return true
}

// ValidIP says whether s is an IP address (OCSF ip_t).
func ValidIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
