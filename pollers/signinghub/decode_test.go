package signinghub

import (
	"encoding/json"
	"testing"

	"github.com/auditstream/auditstream/pollers/fulllog/fulllogtest"
)

// The seed's whole sample body (its web page indents with no-break spaces; they are plain
// spaces here, as on the wire), against expectations written by hand from the seed page.
func TestDecodeLogSeedGolden(t *testing.T) {
	l, want := fulllogtest.CheckLogGolden(t, "testdata/seed_log.json", "testdata/seed_log.golden.json", DecodeLog, "actions", "action_type")
	var name, status string
	_ = json.Unmarshal(want["package_name"], &name)
	_ = json.Unmarshal(want["package_status"], &status)
	if l.PackageName != name || l.PackageStatus != status {
		t.Fatalf("decoded %+v, want name %q, status %q", l, name, status)
	}
	for i, a := range l.Entries { // log_id is not unique: the seed's actions all say 1
		var f struct {
			LogID int `json:"log_id"`
		}
		if err := json.Unmarshal(a.Raw, &f); err != nil || f.LogID != 1 {
			t.Errorf("action %d = %s (%v)", i, a.Raw, err)
		}
	}
}

func TestDecodePackagesGolden(t *testing.T) {
	fulllogtest.CheckListingGolden(t, "testdata/packages.json", "testdata/packages.golden.json", DecodePackages, Terminal)
}

func TestDecodeLogLenient(t *testing.T) {
	names := map[string]string{"camelCase and name": "X"} // the package name each case decodes to ("" elsewhere)
	fulllogtest.CheckLogCases(t, DecodeLog, func(t *testing.T, tc fulllogtest.LogCase, l *Log) {
		if l.PackageName != names[tc.Name] {
			t.Fatalf("name %q, want %q", l.PackageName, names[tc.Name])
		}
	},
		fulllogtest.LogCase{Name: "zone setting", Body: `{"package_id":1,"actions":[{"date_time":"2015-01-12T11:12:13"}]}`, Zone: "Europe/Berlin", N: 1, Time0: "2015-01-12T10:12:13Z"},
		fulllogtest.LogCase{Name: "camelCase and name", Body: `{"packageId":"1","packageName":"X","Actions":[{"dateTime":"2015-01-12T11:12:13Z"}]}`, N: 1, Time0: "2015-01-12T11:12:13Z"},
		fulllogtest.LogCase{Name: "unknown fields kept, bad date", Body: `{"package_id":1,"actions":[{"date_time":"soon","new_field":[1,2]}]}`, N: 1, Time0: "0001-01-01T00:00:00Z"},
		fulllogtest.LogCase{Name: "empty history", Body: `{"package_id":1,"actions":[]}`},
		fulllogtest.LogCase{Name: "no actions", Body: `{"package_id":1}`, WantErr: "no \"actions\""},
		fulllogtest.LogCase{Name: "error body", Body: `{"Message":"Document not found"}`, WantErr: "no \"actions\""},
		fulllogtest.LogCase{Name: "action not an object", Body: `{"actions":[1]}`, WantErr: "action 0"},
		fulllogtest.LogCase{Name: "truncated", Body: `{"package_id":1,"actions":[{"log_`, WantErr: "not a JSON object"})
}

func TestAPIError(t *testing.T) {
	for body, want := range map[string]string{
		`{"Message":"Document not found"}`:                                             "Document not found",
		`{"error":"invalid_grant","error_description":"Invalid username or password"}`: "invalid_grant Invalid username or password",
		`<html>`: "",
	} {
		if got := APIError([]byte(body)); got != want {
			t.Errorf("APIError(%s) = %q, want %q", body, got, want)
		}
	}
}

func FuzzDecodeLog(f *testing.F) {
	fulllogtest.FuzzLog(f, "testdata/seed_log.json", DecodeLog, func(l *Log) []Action { return l.Entries },
		`{"actions":null,"documents":[{"document_name":1}]}`)
}

func FuzzDecodePackages(f *testing.F) {
	fulllogtest.FuzzListing(f, "testdata/packages.json", DecodePackages, `{"packages":[{"package_id":1}]}`)
}

func FuzzAPIError(f *testing.F) {
	f.Add([]byte(`{"Message":"x"}`))
	f.Add([]byte(`{"error":"e","error_description":2}`))
	f.Fuzz(func(t *testing.T, b []byte) { _ = APIError(b) })
}
