// Package ceftest is a small, independent CEF reader for tests: it reads back the lines
// the cef projection writes (and what a syslog server stored of them), so that tests
// check the escaping by round trip instead of by comparing with the escaper's own output.
package ceftest

import (
	"errors"
	"fmt"
	"strings"
)

// Record is one parsed CEF line.
type Record struct {
	// Version, DeviceVendor, DeviceProduct, DeviceVersion, SignatureID, Name, Severity.
	Header [7]string
	// Ext holds the extension values, unescaped; Keys their order.
	Ext  map[string]string
	Keys []string
}

// Parse reads one CEF line ("CEF:0|...|...|ext").
func Parse(line string) (Record, error) {
	var r Record
	if !strings.HasPrefix(line, "CEF:") {
		return r, errors.New("no CEF: prefix")
	}
	rest := line[len("CEF:"):]
	// Seven header fields, each ended by an unescaped pipe.
	for i := range 7 {
		var b strings.Builder
		j := 0
		for ; j < len(rest); j++ {
			c := rest[j]
			if c == '\\' && j+1 < len(rest) && (rest[j+1] == '\\' || rest[j+1] == '|') {
				b.WriteByte(rest[j+1])
				j++
				continue
			}
			if c == '|' {
				break
			}
			b.WriteByte(c)
		}
		if j >= len(rest) {
			return r, fmt.Errorf("header field %d not terminated by '|'", i)
		}
		r.Header[i] = b.String()
		rest = rest[j+1:]
	}
	r.Ext = map[string]string{}
	if rest == "" {
		return r, nil
	}
	// Extension: find every unescaped '='; the key is the run of [A-Za-z0-9_] before it,
	// preceded by a space (or the start); the previous value ends at that space.
	type kv struct{ keyStart, eq int }
	var marks []kv
	for j := 0; j < len(rest); j++ {
		switch rest[j] {
		case '\\':
			j++
		case '=':
			k := j
			for k > 0 && isKeyByte(rest[k-1]) {
				k--
			}
			if k == j || (k > 0 && rest[k-1] != ' ') {
				return r, fmt.Errorf("unescaped '=' at %d is not after a key", j)
			}
			marks = append(marks, kv{k, j})
		}
	}
	if len(marks) == 0 || marks[0].keyStart != 0 {
		return r, errors.New("extension does not start with key=")
	}
	for i, m := range marks {
		end := len(rest)
		if i+1 < len(marks) {
			end = marks[i+1].keyStart - 1 // the separating space
		}
		key := rest[m.keyStart:m.eq]
		val, err := unescapeValue(rest[m.eq+1 : end])
		if err != nil {
			return r, fmt.Errorf("%s: %w", key, err)
		}
		if _, dup := r.Ext[key]; dup {
			return r, fmt.Errorf("key %s twice", key)
		}
		r.Ext[key] = val
		r.Keys = append(r.Keys, key)
	}
	return r, nil
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func unescapeValue(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			return "", errors.New("raw line break in a value")
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return "", errors.New("dangling backslash")
		}
		i++
		switch s[i] {
		case '\\', '=':
			b.WriteByte(s[i])
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", fmt.Errorf("unknown escape \\%c", s[i])
		}
	}
	return b.String(), nil
}
