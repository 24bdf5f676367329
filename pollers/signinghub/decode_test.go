package signinghub

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers/fulllog/fulllogtest"
)

// The seed's whole sample body (its web page indents with no-break spaces; they are plain
// spaces here, as on the wire), against expectations written by hand from the seed page.
func TestDecodeLogSeedGolden(t *testing.T) {
	body, l := fulllogtest.DecodeFile(t, "testdata/seed_log.json", DecodeLog, time.UTC)
	var want struct {
		PackageID     string `json:"package_id"`
		PackageName   string `json:"package_name"`
		PackageStatus string `json:"package_status"`
		Actions       []map[string]string
	}
	testkit.ReadJSON(t, "testdata/seed_log.golden.json", &want)
	if l.PackageID != want.PackageID || l.PackageName != want.PackageName || l.PackageStatus != want.PackageStatus {
		t.Fatalf("decoded %+v, want %+v", l, want)
	}
	fulllogtest.CheckGolden(t, body, l.Actions, "action_type", want.Actions)
	for i, a := range l.Actions { // log_id is not unique: the seed's actions all say 1
		var f struct {
			LogID int `json:"log_id"`
		}
		if err := json.Unmarshal(a.Raw, &f); err != nil || f.LogID != 1 {
			t.Errorf("action %d = %s (%v)", i, a.Raw, err)
		}
	}
}

func TestDecodePackagesGolden(t *testing.T) {
	_, ps := fulllogtest.DecodeFile(t, "testdata/packages.json", DecodePackages, time.UTC)
	var want []struct {
		ID, Name, Status, Modified string
		Terminal                   bool
	}
	testkit.ReadJSON(t, "testdata/packages.golden.json", &want)
	if len(ps) != len(want) {
		t.Fatalf("%d packages, want %d", len(ps), len(want))
	}
	for i, p := range ps {
		w := want[i]
		if p.ID != w.ID || p.Name != w.Name || p.Status != w.Status || Terminal(p.Status) != w.Terminal || p.Modified.Format(time.RFC3339Nano) != w.Modified {
			t.Errorf("package %d = %+v, want %+v", i, p, w)
		}
	}
}

func TestDecodeLogLenient(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	tests := []struct {
		name    string
		body    string
		loc     *time.Location
		n       int
		time0   string
		pkgName string
		wantErr string
	}{
		{"zone setting", `{"package_id":1,"actions":[{"date_time":"2015-01-12T11:12:13"}]}`, berlin, 1, "2015-01-12T10:12:13Z", "", ""},
		{"camelCase and name", `{"packageId":"1","packageName":"X","Actions":[{"dateTime":"2015-01-12T11:12:13Z"}]}`, nil, 1, "2015-01-12T11:12:13Z", "X", ""},
		{"unknown fields kept, bad date", `{"package_id":1,"actions":[{"date_time":"soon","new_field":[1,2]}]}`, nil, 1, "0001-01-01T00:00:00Z", "", ""},
		{"empty history", `{"package_id":1,"actions":[]}`, nil, 0, "", "", ""},
		{"no actions", `{"package_id":1}`, nil, 0, "", "", "no \"actions\""},
		{"error body", `{"Message":"Document not found"}`, nil, 0, "", "", "no \"actions\""},
		{"action not an object", `{"actions":[1]}`, nil, 0, "", "", "action 0"},
		{"truncated", `{"package_id":1,"actions":[{"log_`, nil, 0, "", "", "not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := DecodeLog([]byte(tc.body), tc.loc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Actions) != tc.n || l.PackageName != tc.pkgName {
				t.Fatalf("%d actions, name %q", len(l.Actions), l.PackageName)
			}
			if tc.n > 0 && l.Actions[0].Time.Format(time.RFC3339Nano) != tc.time0 {
				t.Fatalf("time %s, want %s", l.Actions[0].Time.Format(time.RFC3339Nano), tc.time0)
			}
		})
	}
}

func TestAPIErrorAndTotal(t *testing.T) {
	for body, want := range map[string]string{
		`{"Message":"Document not found"}`:                                             "Document not found",
		`{"error":"invalid_grant","error_description":"Invalid username or password"}`: "invalid_grant Invalid username or password",
		`<html>`: "",
	} {
		if got := APIError([]byte(body)); got != want {
			t.Errorf("APIError(%s) = %q, want %q", body, got, want)
		}
	}
	for h, want := range map[string]int{"12": 12, " 3 ": 3, "": -1, "x": -1, "-2": -1} {
		if got := Total(h); got != want {
			t.Errorf("Total(%q) = %d, want %d", h, got, want)
		}
	}
}

func FuzzDecodeLog(f *testing.F) {
	seed, _ := os.ReadFile("testdata/seed_log.json")
	f.Add(seed)
	f.Add([]byte(`{"actions":null,"documents":[{"document_name":1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if l, err := DecodeLog(b, time.UTC); err == nil {
			fulllogtest.CheckEntries(t, l.Actions)
		}
	})
}

func FuzzDecodePackages(f *testing.F) {
	seed, _ := os.ReadFile("testdata/packages.json")
	f.Add(seed)
	f.Add([]byte(`{"packages":[{"package_id":1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := DecodePackages(b, time.UTC)
		if err != nil {
			return
		}
		for _, p := range ps {
			if p.ID == "" {
				t.Fatal("package without id accepted")
			}
		}
	})
}

func FuzzAPIError(f *testing.F) {
	f.Add([]byte(`{"Message":"x"}`))
	f.Add([]byte(`{"error":"e","error_description":2}`))
	f.Fuzz(func(t *testing.T, b []byte) { _ = APIError(b) })
}
