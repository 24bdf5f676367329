package ecgridsim

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/simkit/simtest"
)

func post(t *testing.T, url, ct, action, body string) (int, string) {
	t.Helper()
	h := http.Header{"Content-Type": {ct}}
	if action != "" {
		h.Set("SOAPAction", action)
	}
	code, b, _ := simtest.Call(t, http.MethodPost, url, h, body)
	return code, string(b)
}

func TestWSDLAndEnvelopes(t *testing.T) {
	sim := New(Config{Seed: 1, Rate: 0.001, Backfill: 3})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	url := srv.URL + "/v4.1/prod/ECGridOS.asmx"

	resp, err := http.Get(url + "?WSDL")
	if err != nil {
		t.Fatal(err)
	}
	wsdl, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := xml.Unmarshal(wsdl, new(struct{})); err != nil {
		t.Fatalf("WSDL is not XML: %v", err)
	}
	for _, want := range []string{`soapAction="http://www.ecgridos.net/SessionLog"`, `<soap12:binding`, `location="` + url + `"`, `name="MaxRecords" type="s:short"`} {
		if !strings.Contains(string(wsdl), want) {
			t.Errorf("WSDL lacks %s", want)
		}
	}

	login11 := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Login xmlns="http://www.ecgridos.net/"><Email>sim@example.com</Email><Password>sim-password</Password></Login></soap:Body></soap:Envelope>`
	code, body := post(t, url, "text/xml; charset=utf-8", `"http://www.ecgridos.net/Login"`, login11)
	if code != 200 || !strings.Contains(body, "<LoginResult>") {
		t.Fatalf("login: %d %s", code, body)
	}
	sid := body[strings.Index(body, "<LoginResult>")+13 : strings.Index(body, "</LoginResult>")]

	cases := []struct {
		name, ct, action, body string
		code                   int
		want                   []string
	}{
		{"1.1 SessionLog", "text/xml", `"http://www.ecgridos.net/SessionLog"`,
			`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><SessionLog xmlns="http://www.ecgridos.net/"><SessionID>` + sid + `</SessionID><UserID>0</UserID><MaxRecords>10</MaxRecords></SessionLog></soap:Body></soap:Envelope>`,
			200, []string{`<SessionLogResponse xmlns="http://www.ecgridos.net/"><SessionLogResult><SessionIDInfo><SessionID>`, "<soap:Envelope"}},
		{"1.2 SessionLog", `application/soap+xml; charset=utf-8; action="http://www.ecgridos.net/SessionLog"`, "",
			`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><SessionLog xmlns="http://www.ecgridos.net/"><SessionID>` + sid + `</SessionID><UserID>0</UserID><MaxRecords>10</MaxRecords></SessionLog></s:Body></s:Envelope>`,
			200, []string{"<soap12:Envelope", "<SessionIDInfo>"}},
		{"1.1 empty int (gosoap trap)", "text/xml", `"http://www.ecgridos.net/SessionLog"`,
			`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><SessionLog xmlns="http://www.ecgridos.net/"><SessionID>` + sid + `</SessionID><UserID/><MaxRecords>10</MaxRecords></SessionLog></soap:Body></soap:Envelope>`,
			500, []string{"<faultcode>soap:Client</faultcode>", "<detail><ErrorCode>InvalidParameter</ErrorCode>", "<ErrorItem>UserID</ErrorItem>"}},
		{"1.2 bad session", "application/soap+xml", "",
			`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><SessionLog xmlns="http://www.ecgridos.net/"><SessionID>nope</SessionID><UserID>0</UserID><MaxRecords>10</MaxRecords></SessionLog></s:Body></s:Envelope>`,
			500, []string{"<soap12:Value>soap12:Sender</soap12:Value>", "<soap12:Detail><ErrorCode>SessionTimeout</ErrorCode>"}},
		{"wrong namespace", "text/xml", `"https://os.ecgrid.io/SessionLog"`,
			`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><SessionLog xmlns="https://os.ecgrid.io/"><SessionID>` + sid + `</SessionID><UserID>0</UserID><MaxRecords>10</MaxRecords></SessionLog></soap:Body></soap:Envelope>`,
			500, []string{"did not recognize"}},
		{"wrong SOAPAction", "text/xml", `"http://www.ecgridos.net/Other"`,
			`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><SessionLog xmlns="http://www.ecgridos.net/"><SessionID>` + sid + `</SessionID><UserID>0</UserID><MaxRecords>10</MaxRecords></SessionLog></soap:Body></soap:Envelope>`,
			500, []string{"SOAPAction"}},
	}
	for _, tc := range cases {
		code, body := post(t, url, tc.ct, tc.action, tc.body)
		if code != tc.code {
			t.Errorf("%s: status %d: %s", tc.name, code, body)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: lacks %s in %s", tc.name, w, body)
			}
		}
	}
	if st := sim.Stats(); st.Served != len(sim.Generated()) {
		t.Errorf("served %d of %d", st.Served, len(sim.Generated()))
	}
}

func TestSettingsValidate(t *testing.T) {
	good := Settings{Users: []UserSettings{{ID: 1, Login: "a", Password: "b"}}}
	var p config.Problems
	good.Validate("s", &p)
	if p.Err() != nil {
		t.Fatal(p.Err())
	}
	bad := Settings{Users: []UserSettings{{ID: 0}, {ID: 2, Login: "x"}}, APIKey: "k", APIKeyUser: 9, Faults: FaultSettings{ServerFault: 0.8, Slow: 0.5}}
	var q config.Problems
	bad.Validate("s", &q)
	for _, want := range []string{"users[0].id", "users[1].password", "api_key_user", "sum to at most 1"} {
		if q.Err() == nil || !strings.Contains(q.Err().Error(), want) {
			t.Errorf("no problem about %s: %v", want, q.Err())
		}
	}
	if c := good.Config(); c.Users[0].Password != "b" {
		t.Error("password not passed to the simulator")
	}
}
