package lenient

import (
	"testing"
)

func TestObjectSpellings(t *testing.T) {
	o, err := ParseObject([]byte(`{"package-id": 12, "AuditEvents": [1, {"a":1}], "flag": true, "nothing": null, "name": "x"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"package-id", "packageId", "package_id", "PackageID"} {
		if s, ok := o.String(n); !ok || s != "12" {
			t.Errorf("String(%q) = %q %v", n, s, ok)
		}
	}
	if a, err := o.Array("audit-events"); err != nil || len(a) != 2 || string(a[1]) != `{"a":1}` {
		t.Fatalf("Array = %s %v", a, err)
	}
	if s, _ := o.String("flag"); s != "true" {
		t.Errorf("bool = %q", s)
	}
	if _, ok := o.String("nothing"); ok {
		t.Error("null read as text")
	}
	if !o.Has("nothing") || o.Has("missing") {
		t.Error("Has")
	}
	if _, err := o.Array("name"); err == nil {
		t.Error("a string read as a list")
	}
	for _, bad := range []string{`[1]`, `null`, `"x"`, `{`} {
		if _, err := ParseObject([]byte(bad)); err == nil {
			t.Errorf("ParseObject(%s) accepted", bad)
		}
	}
}

func FuzzParseObject(f *testing.F) {
	f.Add([]byte(`{"a-b": 1, "A_B": "x", "c": [1,2]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseObject(b)
		if err != nil {
			return
		}
		for k := range o {
			_, _ = o.String(k)
			_, _ = o.Array(k)
		}
	})
}
