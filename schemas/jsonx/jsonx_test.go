package jsonx

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// toAny converts a value the way encoding/json decodes into any (numbers as json.Number).
func toAny(v Value) any {
	switch v.Kind() {
	case Null:
		return nil
	case True:
		return true
	case False:
		return false
	case Number:
		return json.Number(v.Text())
	case String:
		return v.Str()
	case Array:
		out := []any{}
		v.Items(func(_ int, e Value) bool { out = append(out, toAny(e)); return true })
		return out
	case Object:
		out := map[string]any{}
		v.Each(func(k string, e Value) bool { out[k] = toAny(e); return true })
		return out
	}
	panic("missing value")
}

func stdDecode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func check(t *testing.T, in []byte) {
	t.Helper()
	var d Doc
	v, err := d.Parse(in)
	if (err == nil) != json.Valid(in) {
		t.Fatalf("%q: Parse error %v, json.Valid %v", in, err, json.Valid(in))
	}
	if err != nil {
		return
	}
	want, err := stdDecode(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := toAny(v); !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: got %#v, encoding/json %#v", in, got, want)
	}
	if !bytes.Equal(v.Raw(), bytes.TrimSpace(in)) {
		t.Fatalf("%q: raw %q", in, v.Raw())
	}
}

var samples = []string{
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5e+10`, `-12.25E-3`, `"x"`, ` {"a" : [1, {"b":null}] , "c":"\u00e9\n"} `,
	`"\ud83d\ude00"`, `"\ud83d"`, `"\ude00x"`, `"bad \xff utf8"`, `"tab\there"`, `{"a":1,"a":2}`, `{"k\"ey":"v"}`,
	`01`, `1.`, `.5`, `-`, `1e`, `tru`, `nul`, `{"a"}`, `{"a":}`, `[1,]`, `{"a":1,}`, `"abc`, `"\x"`, `"\u12g4"`, "\"ctl\x01\"",
	`{} {}`, `[1 2]`, ``, ` `, `{"a":1`, `[`, `"\`, `+1`, `NaN`, `{"a":[[[]]]}`, `1 `, "\"\u2028\"",
}

func TestMatchesEncodingJSON(t *testing.T) {
	for _, s := range samples {
		check(t, []byte(s))
	}
	check(t, []byte(strings.Repeat("[", MaxDepth)+strings.Repeat("]", MaxDepth)))
	var d Doc
	if _, err := d.Parse([]byte(strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1))); err == nil {
		t.Fatal("too deep accepted")
	}
}

func FuzzMatchesEncodingJSON(f *testing.F) {
	for _, s := range samples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) { check(t, in) })
}

func TestNavigation(t *testing.T) {
	var d Doc
	v, err := d.Parse([]byte(`{"meta":{"time":"t1","n":42,"f":1.5},"User-Email":"a@b.c","list":[1,"two",{"x":true}],"dup":1,"dup":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if v.Path("meta", "time").Str() != "t1" || v.Path("meta", "n").Text() != "42" || v.Path("meta", "nope").Exists() {
		t.Fatal("Path")
	}
	if n, ok := v.Path("meta", "n").Int(); !ok || n != 42 {
		t.Fatal("Int")
	}
	if _, ok := v.Path("meta", "f").Int(); ok {
		t.Fatal("Int of a fraction")
	}
	if v.Loose("useremail").Str() != "a@b.c" || v.Loose("user").Exists() {
		t.Fatal("Loose")
	}
	if v.Get("dup").Text() != "2" {
		t.Fatal("last duplicate wins")
	}
	if v.Get("list").Len() != 3 || v.Len() != 5 || v.Get("meta").Str() != "" || v.Get("list").Get("x").Exists() {
		t.Fatal("Len / kinds")
	}
	var kinds []Kind
	v.Get("list").Items(func(_ int, e Value) bool { kinds = append(kinds, e.Kind()); return true })
	if !reflect.DeepEqual(kinds, []Kind{Number, String, Object}) {
		t.Fatalf("kinds %v", kinds)
	}
}

func BenchmarkParse(b *testing.B) {
	in := []byte(`{"v":1,"id":"d38f45e50aac2341ad6c71b6fc5744127b27fd6f7fd3d14542b8f21577da063f","provider":"ionos","tenant":"1","entity":"1","poller":"p","fetched_at":"2026-11-21T10:00:00.123Z","occurrence":1,"content_type":"application/json","record":{"@uuid":"c1b9b1b0-7b1b-11e6-9a41-000d3a002f99","meta":{"auditVersion":"0.1","time":"2016-09-23T12:02:52.394Z"},"principal":{"sourceIP":"203.0.113.42","identity":{"contractNumber":"31721060","username":"user@example.com"},"sourceService":"ExampleService"},"event":{"param":{},"resources":[{"action":["sec.user.create"],"id":"1466","type":"user"}],"type":"RequestAccepted"}}}`)
	var d Doc
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStdValid(b *testing.B) {
	in := []byte(`{"v":1,"id":"d38f45e50aac2341ad6c71b6fc5744127b27fd6f7fd3d14542b8f21577da063f","provider":"ionos","tenant":"1","entity":"1","poller":"p","fetched_at":"2026-11-21T10:00:00.123Z","occurrence":1,"content_type":"application/json","record":{"@uuid":"c1b9b1b0-7b1b-11e6-9a41-000d3a002f99","meta":{"auditVersion":"0.1","time":"2016-09-23T12:02:52.394Z"},"principal":{"sourceIP":"203.0.113.42","identity":{"contractNumber":"31721060","username":"user@example.com"},"sourceService":"ExampleService"},"event":{"param":{},"resources":[{"action":["sec.user.create"],"id":"1466","type":"user"}],"type":"RequestAccepted"}}}`)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		json.Valid(in)
	}
}
