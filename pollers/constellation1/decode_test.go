package constellation1

import (
	"bytes"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/testkit"
	"github.com/auditstream/auditstream/pollers/fulllog/fulllogtest"
	"github.com/auditstream/auditstream/pollers/polltest"
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
	fulllogtest.CheckListingGolden(t, "testdata/sessions.json", "testdata/sessions.golden.json", DecodeSessions, Terminal)
}

func TestDecodeActionLogsLenientAndRejected(t *testing.T) {
	rejected := map[string]bool{"null body": true, "empty body": true, "error message": true} // RejectedErrors
	for _, tc := range []fulllogtest.LogCase{
		{Name: "docs spelling Actionlog", Body: `{"Actionlog":[{"Date":"/Date(1458000000000)/","IPAddress":"1.2.3.4","Description":"x"}]}`, N: 1},
		{Name: "camelCase", Body: `{"actionLog":[{"date":"2016-03-15 09:30:00","ipAddress":"1.2.3.4","description":"x"}]}`, N: 1},
		{Name: "bare list", Body: `[{"Date":"/Date(1458000000000+0100)/"}]`, N: 1},
		{Name: "empty log", Body: `{"ActionLog":[]}`},
		{Name: "null body", Body: `null`},
		{Name: "empty body", Body: ``},
		{Name: "error message", Body: `{"ReturnValue":null,"Message":"Invalid or expired token"}`, WantErr: "Invalid or expired token"},
		{Name: "no log, no message", Body: `{"Other":1}`, WantErr: "no \"ActionLog\""},
		{Name: "entry not an object", Body: `{"ActionLog":["x"]}`, WantErr: "entry 0"},
		{Name: "truncated", Body: `{"ActionLog":[{"Da`, WantErr: "not JSON"},
	} {
		t.Run(tc.Name, func(t *testing.T) {
			es, err := DecodeActionLogs([]byte(tc.Body), time.UTC)
			if IsRejected(err) != rejected[tc.Name] {
				t.Fatalf("err = %v, rejected = %v, want %v", err, IsRejected(err), rejected[tc.Name])
			}
			if (rejected[tc.Name] && tc.WantErr == "") || polltest.Err(t, err, tc.WantErr) {
				return
			}
			if len(es) != tc.N {
				t.Fatalf("%d entries, want %d", len(es), tc.N)
			}
			for _, e := range es {
				if e.Time.IsZero() {
					t.Fatalf("no time in %s", e.Raw)
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
		if err != nil || len(ss.Items) != 1 || ss.Items[0].ID != "1" {
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
	fulllogtest.FuzzLog(f, "testdata/actionlogs.json", DecodeActionLogs, func(es []Entry) []Entry { return es },
		`{"Actionlog":[{"Date":"/Date(-1-0500)/"}]}`, `null`)
}

func FuzzDecodeSessions(f *testing.F) {
	fulllogtest.FuzzListing(f, "testdata/sessions.json", DecodeSessions, `{"ReturnValue":{"Sessions":[{"SessionId":1,"Status":"3"}]}}`)
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
