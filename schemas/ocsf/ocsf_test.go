package ocsf

import (
	"encoding/json"
	"regexp"
	"testing"
)

// emailRe is OCSF's email_t pattern (the '+-/' class range spelled out).
var emailRe = regexp.MustCompile("^[a-zA-Z0-9!#$%&'*+,\\-./=?^_`{|}~]+@[a-zA-Z0-9-]+\\.[a-zA-Z0-9.-]+$")

func TestValidEmail(t *testing.T) {
	for s, want := range map[string]bool{
		"jane@example.com": true, "a.b+c@x-y.co.uk": true, "o'brien@x.io": true, "a@b.c": true,
		"": false, "@x.com": false, "jane": false, "jane@": false, "jane@x": false, "jane@.com": false,
		"jane@x.": false, "jane doe@x.com": false, "jane@x_y.com": false, "jane@@x.com": false, "jäne@x.com": false,
	} {
		if got := ValidEmail(s); got != want || got != emailRe.MatchString(s) {
			t.Errorf("ValidEmail(%q) = %v, want %v (pattern says %v)", s, got, want, emailRe.MatchString(s))
		}
	}
}

func FuzzValidEmail(f *testing.F) {
	f.Add("jane@example.com")
	f.Add("a@b.c.")
	f.Fuzz(func(t *testing.T, s string) {
		if ValidEmail(s) != emailRe.MatchString(s) {
			t.Fatalf("ValidEmail(%q) = %v, pattern says %v", s, ValidEmail(s), emailRe.MatchString(s))
		}
	})
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"uote\\", "ctl\x00\x1f\n\r\t", "<html>&", "bad\xff utf8", "sep\u2028\u2029", "ünïcödé 🙂"} {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: %s is not JSON: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q: decodes to %q, encoding/json's to %q", s, back, wantBack)
		}
	}
}

// appendString (a byte loop with a general path for control characters and non-ASCII)
// writes a string that decodes to what encoding/json's does, for any input.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain text of some length", "q\"uote\\ and more text here", "ctl\x00\x1f\n\r\t........", "{\n  \"a\": \"b\"\n}\x7f\u00e9\x01", "bad\xff utf8 ........", "sep\u2028\u2029 ünïcödé 🙂"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got := appendString(nil, s)
		var gotS, wantS string
		if err := json.Unmarshal(got, &gotS); err != nil {
			t.Fatalf("%q: %s is not a JSON string: %v", s, got, err)
		}
		if err := json.Unmarshal(want, &wantS); err != nil {
			t.Fatal(err)
		}
		if gotS != wantS {
			t.Fatalf("%q: %s decodes to %q, encoding/json's %s to %q", s, got, gotS, want, wantS)
		}
	})
}

func TestDeriveSetsCaptionsFromIDs(t *testing.T) {
	e := &WebResourcesActivity{ActivityID: WebResourcesActivityShare}
	e.SeverityID, e.StatusID = SeverityInformational, StatusFailure
	e.Derive()
	if e.ClassUID != 6001 || e.CategoryUID != 6 || e.TypeUID != 600108 || e.ClassName != "Web Resources Activity" ||
		e.CategoryName != "Application Activity" || e.ActivityName != "Share" || e.TypeName != "Web Resources Activity: Share" ||
		e.Severity != "Informational" || e.Status != "Failure" {
		t.Fatalf("derived: %+v", e.Base)
	}
	o := &APIActivity{ActivityID: APIActivityOther}
	o.ActivityName = "stop"
	o.Cloud = &Cloud{Provider: "IONOS"}
	o.Derive()
	if o.ActivityName != "stop" || o.TypeName != "API Activity: Other" || o.TypeUID != 600399 || len(o.Metadata.Profiles) != 1 || o.Metadata.Profiles[0] != "cloud" {
		t.Fatalf("derived: %+v", o.Base)
	}
}
