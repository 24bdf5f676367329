package cef_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/projection/cef"
	"github.com/auditstream/auditstream/sinks/projection/cef/ceftest"
	"github.com/auditstream/auditstream/sinks/projection/projectiontest"
)

// The goldens in testdata/ were written by hand from the rules in the package doc.
func TestGoldens(t *testing.T) {
	projectiontest.Goldens(t, projectiontest.Names, ".cef", cef.Append, func(t *testing.T, _ string, got, want []byte) {
		if string(got) != string(want) {
			t.Errorf("\n got: %s\nwant: %s", got, want)
		}
		if _, err := ceftest.Parse(string(got)); err != nil {
			t.Errorf("output does not parse back: %v", err)
		}
	})
}

func TestEscapesParseBack(t *testing.T) {
	got, err := cef.Append(nil, projectiontest.Event("escapes"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ceftest.Parse(string(got))
	if err != nil {
		t.Fatal(err)
	}
	if r.Header[5] != `API Activity: Delete | purge\all` {
		t.Errorf("name = %q", r.Header[5])
	}
	want := map[string]string{
		"msg": "a=b | c\\d\nsecond line\r", "suser": "o'brien=admin", "cs1": "t|1",
		"c6a2": "2001:db8::1", "externalId": "9b2f0c4e-0000-5000-8000-000000000001",
	}
	for k, v := range want {
		if r.Ext[k] != v {
			t.Errorf("%s = %q, want %q", k, r.Ext[k], v)
		}
	}
}

func TestSeverity(t *testing.T) {
	for id, want := range map[int]int{0: 0, 1: 1, 2: 3, 3: 5, 4: 7, 5: 9, 6: 10, 99: 5, 42: 0} {
		if got := cef.Severity(id); got != want {
			t.Errorf("Severity(%d) = %d, want %d", id, got, want)
		}
	}
}

// FuzzCEF writes an event with arbitrary text in the escaped header and extension fields
// and reads it back with an independent parser: every value must come back unchanged
// (header line breaks excepted: the header may not contain them, they become spaces).
func FuzzCEF(f *testing.F) {
	f.Add("ionos", "API Activity: Create", "a=b|c\\d\ne", "o'brien=admin", "t|1")
	f.Add(`\|`, `|\`, `\`, "=", " ")
	f.Add("", "", "x ", " y", "a=b c=d")
	f.Add("p", "n", "msg=fake suser=evil", "\\=", "\r\n")
	f.Fuzz(func(t *testing.T, provider, name, msg, user, tenant string) {
		for _, s := range []string{provider, name, msg, user, tenant} {
			if !utf8.ValidString(s) {
				return // the event is JSON: it holds UTF-8 only
			}
		}
		doc, err := json.Marshal(map[string]any{
			"class_uid": 6003, "type_name": name, "severity_id": 1, "status_id": 1,
			"message": msg, "actor": map[string]any{"user": map[string]any{"name": user}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ev := sinks.Event{ID: "id-1", Value: doc, Time: time.UnixMilli(1795255200123), ClassUID: 6003, Provider: provider, Tenant: tenant}
		line, err := cef.Append(nil, ev)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(string(line), "\r\n") {
			t.Fatalf("raw line break in %q", line)
		}
		r, err := ceftest.Parse(string(line))
		if err != nil {
			t.Fatalf("%v in %q", err, line)
		}
		flat := strings.NewReplacer("\r", " ", "\n", " ")
		if r.Header[2] != flat.Replace(provider) || r.Header[5] != flat.Replace(name) {
			t.Errorf("header %q: product %q name %q", line, r.Header[2], r.Header[5])
		}
		for k, want := range map[string]string{"msg": msg, "suser": user, "cs1": tenant, "externalId": "id-1", "rt": "1795255200123"} {
			got, ok := r.Ext[k]
			if want == "" {
				if ok {
					t.Errorf("%s present for an empty value: %q", k, got)
				}
				continue
			}
			if got != want {
				t.Errorf("%s = %q, want %q (line %q)", k, got, want, line)
			}
		}
	})
}

func BenchmarkProjectionCEF(b *testing.B) {
	projectiontest.BenchEncode(b, cef.Append)
}
