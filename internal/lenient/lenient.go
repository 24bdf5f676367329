// Package lenient reads provider JSON whose field names and value types drift: the same
// field spelled "package-id", "packageId", "package_id" or "PackageId", ids sent as a
// number or a string. Decoders of provider answers use it to find the fields they need
// and keep every entry exactly as received.
package lenient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Object is a JSON object whose fields are found by any spelling of their name: case,
// '-' and '_' are ignored. The values are the bytes as received.
type Object map[string]json.RawMessage

// Key is the spelling-free form of a field name.
func Key(name string) string {
	return strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(name))
}

// ParseObject reads a JSON object. A duplicate field (in any spelling) keeps its first value.
func ParseObject(b []byte) (Object, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("want a JSON object, got %s", excerpt(b))
	}
	o := make(Object, len(m))
	for k, v := range m {
		nk := Key(k)
		if _, dup := o[nk]; !dup {
			o[nk] = v
		}
	}
	return o, nil
}

// Raw returns the first of names present and not null, or nil.
func (o Object) Raw(names ...string) json.RawMessage {
	for _, n := range names {
		if v, ok := o[Key(n)]; ok && !IsNull(v) {
			return v
		}
	}
	return nil
}

// Has reports whether any of names is present (even null).
func (o Object) Has(names ...string) bool {
	for _, n := range names {
		if _, ok := o[Key(n)]; ok {
			return true
		}
	}
	return false
}

// String returns the first of names as text: a string, or a number or boolean written as
// sent. ok is false when none is present as one of those.
func (o Object) String(names ...string) (string, bool) {
	v := o.Raw(names...)
	if v == nil {
		return "", false
	}
	return Text(v)
}

// Array returns the first of names as the raw elements of a JSON array; absent or null
// is an empty list, anything else an error.
func (o Object) Array(names ...string) ([]json.RawMessage, error) {
	v := o.Raw(names...)
	if v == nil {
		return nil, nil
	}
	var out []json.RawMessage
	if err := json.Unmarshal(v, &out); err != nil {
		return nil, fmt.Errorf("%s is not a list: %s", names[0], excerpt(v))
	}
	return out, nil
}

// Text reads a JSON string, number or boolean as text.
func Text(v json.RawMessage) (string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false
	}
	switch v[0] {
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", false
		}
		return s, true
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return "", false
		}
		if b {
			return "true", true
		}
		return "false", true
	default:
		var n json.Number
		if err := json.Unmarshal(v, &n); err != nil {
			return "", false
		}
		return n.String(), true
	}
}

// IsNull reports whether v is the JSON null.
func IsNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

// IsObject reports whether v is a JSON object (by its first byte).
func IsObject(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && v[0] == '{'
}

func excerpt(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}
