package conga

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers/fulllog/fulllogtest"
)

// The seed's own sample, against expectations written by hand from the seed page.
func TestDecodeAuditSeedGolden(t *testing.T) {
	body, a := fulllogtest.DecodeFile(t, "testdata/seed_audit.json", DecodeAudit, time.UTC)
	var want struct {
		PackageID string `json:"package_id"`
		Events    []map[string]string
	}
	testkit.ReadJSON(t, "testdata/seed_audit.golden.json", &want)
	if a.PackageID != want.PackageID {
		t.Fatalf("package %q, want %q", a.PackageID, want.PackageID)
	}
	fulllogtest.CheckGolden(t, body, a.Events, "type", want.Events)
	// The seed repeats nothing exactly, but the last two Views differ only in seconds.
	if bytes.Equal(a.Events[5].Raw, a.Events[6].Raw) {
		t.Fatal("distinct events decoded as equal")
	}
}

func TestDecodePackagesGolden(t *testing.T) {
	_, p := fulllogtest.DecodeFile(t, "testdata/packages.json", DecodePackages, time.UTC)
	var want struct {
		Count   int
		Results []struct {
			ID, Name, Status, Updated string
			Terminal                  bool
		}
	}
	testkit.ReadJSON(t, "testdata/packages.golden.json", &want)
	if p.Count != want.Count || len(p.Results) != len(want.Results) {
		t.Fatalf("count %d, %d results; want %d, %d", p.Count, len(p.Results), want.Count, len(want.Results))
	}
	for i, r := range p.Results {
		w := want.Results[i]
		if r.ID != w.ID || r.Name != w.Name || r.Status != w.Status || Terminal(r.Status) != w.Terminal ||
			r.Updated.Format(time.RFC3339Nano) != w.Updated {
			t.Errorf("package %d = %+v, want %+v", i, r, w)
		}
	}
}

func TestDecodeAuditLenient(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	tests := []struct {
		name    string
		body    string
		loc     *time.Location
		n       int
		time0   string
		wantErr string
	}{
		{"camelCase", `{"packageId":"p","auditEvents":[{"type":"View","dateTime":"2016-04-20 14:14:51"}]}`, nil, 1, "2016-04-20T14:14:51Z", ""},
		{"zone setting", `{"package-id":"p","audit-events":[{"type":"View","date-time":"2016-04-20 14:14:51"}]}`, berlin, 1, "2016-04-20T12:14:51Z", ""},
		{"unreadable date kept", `{"package-id":"p","audit-events":[{"type":"View","date-time":"yesterday"}]}`, nil, 1, "0001-01-01T00:00:00Z", ""},
		{"number id, unknown fields", `{"package-id":12,"audit-events":[{"type":"View","date-time":"2016-04-20 14:14:51","extra":{"a":[1]}}]}`, nil, 1, "2016-04-20T14:14:51Z", ""},
		{"empty log", `{"package-id":"p","audit-events":[]}`, nil, 0, "", ""},
		{"null log", `{"package-id":"p","audit-events":null}`, nil, 0, "", ""},
		{"no log field", `{"package-id":"p"}`, nil, 0, "", "no \"audit-events\""},
		{"event not an object", `{"audit-events":["View"]}`, nil, 0, "", "audit event 0"},
		{"log not a list", `{"audit-events":{"type":"View"}}`, nil, 0, "", "not a list"},
		{"truncated", `{"package-id":"p","audit-events":[{"type":"Vi`, nil, 0, "", "not a JSON object"},
		{"error body", `{"code":401,"message":"Unauthorized"}`, nil, 0, "", "no \"audit-events\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := DecodeAudit([]byte(tc.body), tc.loc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(a.Events) != tc.n {
				t.Fatalf("%d events, want %d", len(a.Events), tc.n)
			}
			if tc.n > 0 && a.Events[0].Time.Format(time.RFC3339Nano) != tc.time0 {
				t.Fatalf("time %s, want %s", a.Events[0].Time.Format(time.RFC3339Nano), tc.time0)
			}
		})
	}
}

func TestDecodePackagesErrors(t *testing.T) {
	for _, body := range []string{`{"count":1}`, `{"results":[{"name":"no id"}]}`, `{"count":-1,"results":[]}`, `<html>`, `{"results":"x"}`} {
		if _, err := DecodePackages([]byte(body), time.UTC); err == nil {
			t.Errorf("DecodePackages(%s) accepted", body)
		}
	}
	p, err := DecodePackages([]byte(`[{"id":1},{"id":"2"}]`), time.UTC)
	if err != nil || len(p.Results) != 2 || p.Count != -1 {
		t.Fatalf("bare list: %+v %v", p, err)
	}
}

func FuzzDecodeAudit(f *testing.F) {
	seed, _ := os.ReadFile("testdata/seed_audit.json")
	f.Add(seed)
	f.Add([]byte(`{"packageId":1,"auditEvents":[{"dateTime":"/Date(1458000000000-0500)/"}]}`))
	f.Add([]byte(`{"audit-events":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, err := DecodeAudit(b, time.UTC); err == nil {
			fulllogtest.CheckEntries(t, a.Events)
		}
	})
}

func FuzzDecodePackages(f *testing.F) {
	seed, _ := os.ReadFile("testdata/packages.json")
	f.Add(seed)
	f.Add([]byte(`[{"id":1}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePackages(b, time.UTC)
		if err != nil {
			return
		}
		for _, r := range p.Results {
			if r.ID == "" {
				t.Fatal("package without id accepted")
			}
		}
	})
}
