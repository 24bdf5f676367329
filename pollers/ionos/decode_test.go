package ionos

import (
	"os"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/pollers/polltest"
)

func TestDecodeSeedSample(t *testing.T) {
	b, err := os.ReadFile("testdata/seed_response.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := DecodePage(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 1 || len(p.Hits) != 1 {
		t.Fatalf("total %d, %d hits", p.Total, len(p.Hits))
	}
	h := p.Hits[0]
	if h.UUID != "c1b9b1b0-7b1b-11e6-9a41-000d3a002f99" || h.Time.UnixMilli() != 1474632172394 {
		t.Fatalf("hit = %+v", h)
	}
	if !strings.HasPrefix(string(h.Raw), `{`) || !strings.Contains(string(h.Raw), `"sec.user.create"`) {
		t.Fatalf("raw entry not kept as received: %s", h.Raw)
	}
}

func TestDecodeLenient(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		total     int
		uuid      string
		wantError string
	}{
		{"total as string", `{"hits":{"total":"2","hits":[]}}`, 2, "", ""},
		{"total as ES7 object", `{"hits":{"total":{"value":3,"relation":"eq"},"hits":[]}}`, 3, "", ""},
		{"no total", `{"hits":{"hits":[]}}`, -1, "", ""},
		{"uuid as number", `{"hits":{"total":1,"hits":[{"_source":{"@uuid":12,"meta":{"time":"2026-01-01T00:00:00Z"}}}]}}`, 1, "12", ""},
		{"contract number drift", `{"hits":{"total":1,"hits":[{"_source":{"@uuid":"u","principal":{"identity":{"contractNumber":31721060}},"meta":{"auditVersion":1}}}]}}`, 1, "u", ""},
		{"no uuid: fingerprint", `{"hits":{"total":1,"hits":[{"_source":{"meta":{"time":"2026-01-01T00:00:00Z"}}}]}}`, 1, "fp:", ""},
		{"truncated", `{"hits":{"total":1,"hits":[{"_source":{"@uu`, 0, "", "not valid JSON"},
		{"no hits object", `{"error":"x"}`, 0, "", "no \"hits\""},
		{"hit without _source", `{"hits":{"total":1,"hits":[{}]}}`, 0, "", "no _source"},
		{"negative total", `{"hits":{"total":-1,"hits":[]}}`, 0, "", "non-negative"},
		{"html error page", `<html>502</html>`, 0, "", "not valid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodePage([]byte(tc.body))
			if polltest.Err(t, err, tc.wantError) {
				return
			}
			if p.Total != tc.total {
				t.Fatalf("total = %d, want %d", p.Total, tc.total)
			}
			if tc.uuid != "" && (len(p.Hits) != 1 || !strings.HasPrefix(p.Hits[0].UUID, tc.uuid)) {
				t.Fatalf("hits = %+v, want uuid %q", p.Hits, tc.uuid)
			}
		})
	}
}

func TestDecodeContracts(t *testing.T) {
	cs, err := DecodeContracts([]byte(`[{"id":"31721060","type":"contract","href":"/x"},{"id":31721061}]`))
	if err != nil || len(cs) != 2 || cs[1].ID != "31721061" {
		t.Fatalf("%+v %v", cs, err)
	}
	if _, err := DecodeContracts([]byte(`[{"type":"contract"}]`)); err == nil {
		t.Fatal("contract without id accepted")
	}
	if _, err := DecodeContracts([]byte(`{"items":[{"id":"1"}]}`)); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecodePage(f *testing.F) {
	seed, _ := os.ReadFile("testdata/seed_response.json")
	f.Add(seed)
	f.Add([]byte(`{"hits":{"total":{"value":1},"hits":[{"_source":{"@uuid":1}}]}}`))
	f.Add([]byte(`{"hits":{"total":"5","hits":null}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePage(b)
		if err != nil {
			return
		}
		for _, h := range p.Hits {
			if h.UUID == "" {
				t.Fatal("hit without an id")
			}
			if len(h.Raw) == 0 || h.Raw[0] != '{' {
				t.Fatalf("raw entry %q is not an object", h.Raw)
			}
		}
	})
}

func FuzzDecodeContracts(f *testing.F) {
	f.Add([]byte(`[{"id":"31721060","type":"contract","href":"/x"}]`))
	f.Add([]byte(`{"items":[{"id":1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := DecodeContracts(b)
		if err != nil {
			return
		}
		for _, c := range cs {
			if c.ID == "" {
				t.Fatal("empty contract id accepted")
			}
		}
	})
}
