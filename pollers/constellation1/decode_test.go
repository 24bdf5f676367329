package constellation1

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

// WCF dates carry UTC milliseconds (the offset is display only); zone-less ISO dates are
// read in the configured zone; expectations written by hand.
func TestDecodeActionLogsGolden(t *testing.T) {
	var want struct {
		Zone    string
		Entries []map[string]string
	}
	testkit.ReadJSON(t, "testdata/actionlogs.golden.json", &want)
	loc, err := time.LoadLocation(want.Zone)
	if err != nil {
		t.Fatal(err)
	}
	body, es := fulllogtest.DecodeFile(t, "testdata/actionlogs.json", DecodeActionLogs, loc)
	fulllogtest.CheckGolden(t, body, es, "Description", want.Entries)
	if !bytes.Equal(es[0].Raw, es[1].Raw) {
		t.Fatal("identical entries must stay identical")
	}
}

func TestDecodeSessionsGolden(t *testing.T) {
	_, ss := fulllogtest.DecodeFile(t, "testdata/sessions.json", DecodeSessions, time.UTC)
	var want struct {
		Total    int
		Sessions []struct {
			ID, Name, Status, Modified string
			Terminal                   bool
		}
	}
	testkit.ReadJSON(t, "testdata/sessions.golden.json", &want)
	if ss.Total != want.Total || len(ss.Sessions) != len(want.Sessions) {
		t.Fatalf("total %d, %d sessions", ss.Total, len(ss.Sessions))
	}
	for i, s := range ss.Sessions {
		w := want.Sessions[i]
		if s.ID != w.ID || s.Name != w.Name || s.Status != w.Status || Terminal(s.Status) != w.Terminal || s.Modified.Format(time.RFC3339Nano) != w.Modified {
			t.Errorf("session %d = %+v, want %+v", i, s, w)
		}
	}
}

func TestDecodeActionLogsLenientAndRejected(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		n        int
		rejected bool
		wantErr  string
	}{
		{"docs spelling Actionlog", `{"Actionlog":[{"Date":"/Date(1458000000000)/","IPAddress":"1.2.3.4","Description":"x"}]}`, 1, false, ""},
		{"camelCase", `{"actionLog":[{"date":"2016-03-15 09:30:00","ipAddress":"1.2.3.4","description":"x"}]}`, 1, false, ""},
		{"bare list", `[{"Date":"/Date(1458000000000+0100)/"}]`, 1, false, ""},
		{"empty log", `{"ActionLog":[]}`, 0, false, ""},
		{"null body", `null`, 0, true, ""},
		{"empty body", ``, 0, true, ""},
		{"error message", `{"ReturnValue":null,"Message":"Invalid or expired token"}`, 0, true, "Invalid or expired token"},
		{"no log, no message", `{"Other":1}`, 0, false, "no \"ActionLog\""},
		{"entry not an object", `{"ActionLog":["x"]}`, 0, false, "entry 0"},
		{"truncated", `{"ActionLog":[{"Da`, 0, false, "not JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es, err := DecodeActionLogs([]byte(tc.body), time.UTC)
			if tc.rejected != IsRejected(err) {
				t.Fatalf("err = %v, rejected = %v, want %v", err, IsRejected(err), tc.rejected)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if err == nil && tc.wantErr == "" && !tc.rejected {
				if len(es) != tc.n {
					t.Fatalf("%d entries, want %d", len(es), tc.n)
				}
				for _, e := range es {
					if e.Time.IsZero() {
						t.Fatalf("no time in %s", e.Raw)
					}
				}
			}
		})
	}
}

func TestDecodeReturnValue(t *testing.T) {
	for body, want := range map[string]string{`{"ReturnValue":"abc"}`: "abc", `"tok"`: "tok", `{"returnValue":12}`: "12"} {
		if got, err := DecodeReturnValue([]byte(body)); err != nil || got != want {
			t.Errorf("DecodeReturnValue(%s) = %q, %v", body, got, err)
		}
	}
	for _, body := range []string{`null`, ``, `{"ReturnValue":null,"Message":"Invalid API key"}`, `{"ReturnValue":""}`} {
		if _, err := DecodeReturnValue([]byte(body)); !IsRejected(err) {
			t.Errorf("DecodeReturnValue(%s): err = %v, want a rejection", body, err)
		}
	}
	if _, err := DecodeReturnValue([]byte(`[1]`)); err == nil || IsRejected(err) {
		t.Errorf("a list: err = %v", err)
	}
}

func TestStatuses(t *testing.T) {
	for in, want := range map[string]string{"1": "InDraft", "3": "Completed", "7": "Expired", "InSent": "InSent", "42": "42"} {
		if got := StatusName(in); got != want {
			t.Errorf("StatusName(%s) = %s", in, got)
		}
	}
	for s, want := range map[string]bool{"3": true, "4": true, "5": true, "7": true, "Completed": true, "2": false, "6": false, "InPaused": false} {
		if Terminal(s) != want {
			t.Errorf("Terminal(%s) != %v", s, want)
		}
	}
}

func TestDecodeSessionsVariants(t *testing.T) {
	for _, body := range []string{`[{"SessionId":1}]`, `{"SessionsLite":[{"SessionId":1}]}`, `{"ReturnValue":{"Sessions":[{"SessionId":1}],"TotalCount":1}}`} {
		ss, err := DecodeSessions([]byte(body), time.UTC)
		if err != nil || len(ss.Sessions) != 1 || ss.Sessions[0].ID != "1" {
			t.Errorf("DecodeSessions(%s) = %+v, %v", body, ss, err)
		}
	}
	for _, body := range []string{`{"Sessions":[{"SessionName":"no id"}]}`, `{"Sessions":[],"TotalCount":-4}`, `{"x":1}`, `<html>`} {
		if _, err := DecodeSessions([]byte(body), time.UTC); err == nil {
			t.Errorf("DecodeSessions(%s) accepted", body)
		}
	}
	if _, err := DecodeSessions([]byte(`null`), time.UTC); !IsRejected(err) {
		t.Error("a null listing is not a rejection")
	}
}

func FuzzDecodeActionLogs(f *testing.F) {
	seed, _ := os.ReadFile("testdata/actionlogs.json")
	f.Add(seed)
	f.Add([]byte(`{"Actionlog":[{"Date":"/Date(-1-0500)/"}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if es, err := DecodeActionLogs(b, time.UTC); err == nil {
			fulllogtest.CheckEntries(t, es)
		}
	})
}

func FuzzDecodeSessions(f *testing.F) {
	seed, _ := os.ReadFile("testdata/sessions.json")
	f.Add(seed)
	f.Add([]byte(`{"ReturnValue":{"Sessions":[{"SessionId":1,"Status":"3"}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ss, err := DecodeSessions(b, time.UTC)
		if err != nil {
			return
		}
		for _, s := range ss.Sessions {
			if s.ID == "" {
				t.Fatal("session without id accepted")
			}
		}
	})
}

func FuzzDecodeReturnValue(f *testing.F) {
	f.Add([]byte(`{"ReturnValue":"abc"}`))
	f.Add([]byte(`"x"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeReturnValue(b)
		if err == nil && v == "" {
			t.Fatal("empty value accepted")
		}
	})
}
