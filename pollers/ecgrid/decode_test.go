package ecgrid

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeFirst decodes the SessionLog answer in testdata/name, which must hold n rows,
// and returns the first.
func decodeFirst(t *testing.T, name string, n int) SessionInfo {
	t.Helper()
	rows, err := DecodeSessionLog(readTestdata(t, name), "SessionLog")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	return rows[0]
}

func TestDecodeSessionLogSeedExample(t *testing.T) {
	r := decodeFirst(t, "seed_response.xml", 2)
	if r.SessionID != "A1B2C3D4-E5F6-7890-ABCD-EF1234567890" || r.UserID != "12345" || r.NetworkID != "100" || r.MailboxID != "200" {
		t.Errorf("fields: %+v", r)
	}
	if !r.Created.Equal(time.Date(2026, 5, 7, 8, 0, 0, 0, time.UTC)) || !r.Expires.Equal(time.Date(2026, 5, 7, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("times: %v %v", r.Created, r.Expires)
	}
	want := "<SessionIDInfo><SessionID>A1B2C3D4-E5F6-7890-ABCD-EF1234567890</SessionID><UserID>12345</UserID><NetworkID>100</NetworkID>" +
		"<MailboxID>200</MailboxID><Created>2026-05-07T08:00:00Z</Created><Expires>2026-05-07T09:00:00Z</Expires></SessionIDInfo>"
	if string(r.Raw) != want {
		t.Errorf("canonical element:\n got %s\nwant %s", r.Raw, want)
	}
}

func TestDecodeSessionLogByLocalName(t *testing.T) {
	// SOAP 1.2, another namespace with a prefix, a zone-less time with a space separator,
	// an offset time and an extra field.
	r := decodeFirst(t, "soap12_other_ns.xml", 1)
	if !r.Created.Equal(time.Date(2026, 5, 7, 8, 0, 0, 500e6, time.UTC)) || !r.Expires.Equal(time.Date(2026, 5, 7, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("times: %v %v", r.Created, r.Expires)
	}
	if !strings.HasSuffix(string(r.Raw), "<Expires>2026-05-07T09:00:00+02:00</Expires><IPAddress>203.0.113.9</IPAddress></SessionIDInfo>") {
		t.Errorf("extra field not kept in order: %s", r.Raw)
	}
}

func TestDecodeRefusals(t *testing.T) {
	env := func(inner string) []byte {
		return []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + inner + `</soap:Body></soap:Envelope>`)
	}
	cases := []struct {
		name string
		body []byte
		want string
		is   error
	}{
		{"billion laughs", readTestdata(t, "bomb.xml"), "DOCTYPE", ErrUnsafeXML},
		{"external entity", readTestdata(t, "xxe.xml"), "DOCTYPE", ErrUnsafeXML},
		{"undeclared entity", env(`<SessionLogResponse><SessionLogResult><SessionIDInfo><SessionID>&x;</SessionID></SessionIDInfo></SessionLogResult></SessionLogResponse>`), "not well-formed", nil},
		{"truncated", env(`<SessionLogResponse><SessionLogResult>`)[:60], "not well-formed", nil},
		{"empty", nil, "empty", nil},
		{"not an envelope", []byte(`<html><body>502 Bad Gateway</body></html>`), "not <Envelope>", nil},
		{"other operation", env(`<LoginResponse/>`), "want <SessionLogResponse>", nil},
		{"empty body", env(``), "empty", nil},
		{"fault in a 200", readTestdata(t, "fault11.xml"), "session expired", ErrSessionExpired},
		{"oversized", append([]byte("<a>"), make([]byte, DefaultMaxBodyBytes)...), "size cap", nil},
		{"deep nesting", []byte(strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100)), "nested", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := DecodeSessionLog(tc.body, "SessionLog")
			if err == nil {
				t.Fatalf("accepted: %v", rows)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

func TestDecodeEmptyResult(t *testing.T) {
	for _, inner := range []string{`<SessionLogResponse xmlns="http://www.ecgridos.net/"/>`, `<SessionLogResponse><SessionLogResult/></SessionLogResponse>`} {
		rows, err := DecodeSessionLog([]byte(`<Envelope><Body>`+inner+`</Body></Envelope>`), "SessionLog")
		if err != nil || len(rows) != 0 {
			t.Errorf("%s: %v %v", inner, rows, err)
		}
	}
}

func TestDecodeFault(t *testing.T) {
	cases := []struct {
		name   string
		body   []byte
		status int
		kind   Kind
		code   string
		is     error
	}{
		{"1.1 session timeout", readTestdata(t, "fault11.xml"), 500, KindSessionExpired, "SessionTimeout", ErrSessionExpired},
		{"1.2 auth in nested detail", readTestdata(t, "fault12.xml"), 500, KindAuth, "AuthenticationFailed", ErrAuth},
		{"1.1 server", []byte(`<Envelope><Body><Fault><faultcode>soap:Server</faultcode><faultstring>boom</faultstring></Fault></Body></Envelope>`), 500, KindServer, "", ErrServer},
		{"1.1 client", []byte(`<Envelope><Body><Fault><faultcode>soap:Client</faultcode><faultstring>MaxRecords out of range</faultstring><detail><ErrorCode>InvalidParameter</ErrorCode></detail></Fault></Body></Envelope>`), 500, KindBadRequest, "InvalidParameter", ErrBadRequest},
		{"session limit", []byte(`<Envelope><Body><Fault><faultcode>soap:Client</faultcode><faultstring>Too many sessions</faultstring><detail><ErrorCode>TooManySessions</ErrorCode></detail></Fault></Body></Envelope>`), 500, KindSessionLimit, "TooManySessions", ErrSessionLimit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := DecodeFault(tc.body, tc.status)
			if err != nil {
				t.Fatal(err)
			}
			if f.Kind != tc.kind || f.ErrorCode != tc.code || !errors.Is(f, tc.is) || f.HTTPStatus != tc.status {
				t.Errorf("got %+v (%v)", f, f)
			}
		})
	}
	if _, err := DecodeFault(readTestdata(t, "seed_response.xml"), 500); err == nil {
		t.Error("a SessionLog answer was read as a fault")
	}
}

func TestHTTPFaultWithoutBody(t *testing.T) {
	cases := []struct {
		status int
		body   string
		kind   Kind
	}{
		{500, "", KindServer},
		{503, "<html>down</html>", KindServer},
		{401, "", KindAuth},
		{400, "", KindBadRequest},
		{429, "", KindServer},
	}
	for _, tc := range cases {
		err := httpFault(tc.status, []byte(tc.body))
		var f *Fault
		if !errors.As(err, &f) || f.Kind != tc.kind {
			t.Errorf("%d %q: %v", tc.status, tc.body, err)
		}
	}
}

func FuzzDecodeSessionLog(f *testing.F) {
	for _, n := range []string{"seed_response.xml", "soap12_other_ns.xml", "fault11.xml", "bomb.xml"} {
		f.Add(readTestdata(f, n))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rows, err := DecodeSessionLog(body, "SessionLog")
		if err != nil {
			if rows != nil {
				t.Fatal("rows with an error")
			}
			return
		}
		for _, r := range rows {
			// Every canonical element is well-formed and decodes to the same row.
			again, err := DecodeSessionLog([]byte("<Envelope><Body><SessionLogResponse>"+string(r.Raw)+"</SessionLogResponse></Body></Envelope>"), "SessionLog")
			if err != nil || len(again) != 1 {
				t.Fatalf("canonical element %q does not decode: %v", r.Raw, err)
			}
			if string(again[0].Raw) != string(r.Raw) || again[0].Key() != r.Key() {
				t.Fatalf("canonical form is not stable: %q vs %q", r.Raw, again[0].Raw)
			}
		}
	})
}

func FuzzDecodeFault(f *testing.F) {
	for _, n := range []string{"fault11.xml", "fault12.xml", "seed_response.xml", "xxe.xml"} {
		f.Add(readTestdata(f, n), 500)
	}
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		fl, err := DecodeFault(body, status)
		if err != nil {
			return
		}
		if fl.Error() == "" || !errors.Is(fl, fl.Kind.sentinel()) {
			t.Fatalf("fault without message or kind: %+v", fl)
		}
		// httpFault always yields a typed fault.
		var f2 *Fault
		if !errors.As(httpFault(status, body), &f2) {
			t.Fatal("httpFault did not return a *Fault")
		}
	})
}
