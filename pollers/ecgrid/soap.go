package ecgrid

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/tiaguinho/gosoap"

	"github.com/auditstream/auditstream/internal/backoff"
	"github.com/auditstream/auditstream/internal/metrics"
	"github.com/auditstream/auditstream/internal/stopping"
	"github.com/auditstream/auditstream/pollers/pollhttp"
)

// Kind classifies a failed SOAP call.
type Kind int

// Kinds of failures.
const (
	KindServer         Kind = iota // server fault, 5xx, malformed answer: retried
	KindAuth                       // bad credentials or access denied: not retried
	KindSessionExpired             // the session id is no longer valid: log in again
	KindBadRequest                 // the request was refused (soap:Client): not retried
	KindSessionLimit               // too many open sessions for the user: retried later
)

func (k Kind) String() string {
	switch k {
	case KindAuth:
		return "auth"
	case KindSessionExpired:
		return "session expired"
	case KindBadRequest:
		return "bad request"
	case KindSessionLimit:
		return "session limit"
	}
	return "server"
}

// Sentinel errors; a *Fault matches the one of its Kind with errors.Is.
var (
	ErrServer         = errors.New("ecgridos server error")
	ErrAuth           = errors.New("ecgridos authentication failed")
	ErrSessionExpired = errors.New("ecgridos session expired")
	ErrBadRequest     = errors.New("ecgridos bad request")
	ErrSessionLimit   = errors.New("ecgridos session limit reached")
)

func (k Kind) sentinel() error {
	return map[Kind]error{KindServer: ErrServer, KindAuth: ErrAuth, KindSessionExpired: ErrSessionExpired,
		KindBadRequest: ErrBadRequest, KindSessionLimit: ErrSessionLimit}[k]
}

// Fault is a SOAP fault (or an HTTP error without one) turned into a typed error. It never
// holds the request, so it never holds a password or session id.
type Fault struct {
	Kind       Kind
	HTTPStatus int // 0 when unknown (a fault in a 200 answer)
	Code       string
	Subcode    string
	String     string
	ErrorCode  string
	ErrorString,
	ErrorItem, ErrorMessage string
}

func (f *Fault) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ecgridos %s fault", f.Kind)
	if f.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", f.HTTPStatus)
	}
	if f.Code != "" {
		fmt.Fprintf(&b, " %s", f.Code)
	}
	if f.ErrorCode != "" {
		fmt.Fprintf(&b, " [%s]", f.ErrorCode)
	}
	msg := f.ErrorString
	if msg == "" {
		msg = f.String
	}
	if msg != "" {
		fmt.Fprintf(&b, ": %.300s", msg)
	}
	if f.ErrorItem != "" {
		fmt.Fprintf(&b, " (item %.100s)", f.ErrorItem)
	}
	switch { // an HTTP error without a fault: name the setting at fault
	case f.Code == "" && f.HTTPStatus == http.StatusNotFound:
		b.WriteString(" (no service there: check settings.endpoint, expected like " + DefaultEndpoint + ")")
	case f.Code == "" && f.Kind == KindAuth:
		b.WriteString(" (check settings.login and settings.password, or settings.api_key)")
	}
	return b.String()
}

// Is matches the sentinel of the fault's kind.
func (f *Fault) Is(target error) bool { return target == f.Kind.sentinel() }

// classify maps a fault to a Kind. ECGridOS's error codes are not publicly listed, so this
// reads the error code, the fault string and the fault code leniently.
func classify(f *Fault) Kind {
	s := strings.ToLower(f.ErrorCode + " " + f.ErrorString + " " + f.String + " " + f.ErrorMessage)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(s, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("session") && has("expired", "timeout", "timed out", "invalid", "not found", "unknown"):
		return KindSessionExpired
	case has("too many session", "session limit", "sessionlimit", "toomanysessions", "maximum number of sessions"):
		return KindSessionLimit
	case has("auth", "password", "login", "access denied", "accessdenied", "permission", "unauthori", "not allowed"):
		return KindAuth
	}
	code := strings.ToLower(f.Code + " " + f.Subcode)
	switch {
	case strings.Contains(code, "client") || strings.Contains(code, "sender"):
		return KindBadRequest
	case f.HTTPStatus == http.StatusUnauthorized || f.HTTPStatus == http.StatusForbidden:
		return KindAuth
	case f.HTTPStatus >= 400 && f.HTTPStatus < 500 && f.HTTPStatus != http.StatusTooManyRequests && f.HTTPStatus != http.StatusRequestTimeout:
		return KindBadRequest
	}
	return KindServer
}

// Param is one request parameter; values are strings on the wire (gosoap encodes int
// values as empty elements, its issue #101).
type Param struct{ Name, Value string }

// Caller is our small SOAP interface: call one operation, get the raw response document
// of a 2xx answer, or an error (*Fault for a fault, *TooLargeError, transport errors).
type Caller interface {
	Call(ctx context.Context, method string, params []Param) ([]byte, error)
}

// redirects is the redirect policy of the SOAP clients, the providers' (same host and
// scheme only, never from https to http), naming the setting to fix.
var redirects = pollhttp.RedirectPolicy("settings.endpoint (expected like " + DefaultEndpoint + ")")

// Endpoint describes the service.
type Endpoint struct {
	URL       string
	Namespace string
	Timeout   time.Duration
	MaxBody   int64
	Transport http.RoundTripper // nil = http.DefaultTransport
	// Observe is told each HTTP answer's status ("error" for transport failures).
	Observe func(code string)
}

func (e *Endpoint) action(method string) string {
	ns := e.Namespace
	if !strings.HasSuffix(ns, "/") {
		ns += "/"
	}
	return ns + method
}

func (e *Endpoint) base() http.RoundTripper {
	if e.Transport != nil {
		return e.Transport
	}
	return http.DefaultTransport
}

func (e *Endpoint) observe(code string) {
	if e.Observe != nil {
		e.Observe(code)
	}
}

// readCapped reads at most limit bytes, failing with *TooLargeError beyond.
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	return b, nil
}

// httpFault turns a ≥ 400 answer into a *Fault: the SOAP fault it carries, or one built
// from the status when the body is empty or not a fault.
func httpFault(status int, body []byte) error {
	if f, err := DecodeFault(body, status); err == nil {
		return f
	}
	f := &Fault{HTTPStatus: status, String: http.StatusText(status)}
	if len(bytes.TrimSpace(body)) == 0 {
		f.String += " (empty body)"
	} else {
		f.String += " (body is not a SOAP fault)"
	}
	f.Kind = classify(f)
	return f
}

// ---- SOAP 1.1 through gosoap ----

// gosoap takes its endpoint, namespace and SOAPAction from a WSDL that it fetches once and
// caches even when the fetch failed (and it cannot override the endpoint, its issue #75).
// We hand it a WSDL synthesized from our configuration, served by our own RoundTripper
// from memory, so the endpoint, namespace and method names are ours to configure.
const wsdlURL = "http://wsdl.auditstream.invalid/ECGridOS.asmx?WSDL"

var wsdlTmpl = template.Must(template.New("wsdl").Parse(`<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:s="http://www.w3.org/2001/XMLSchema" xmlns:tns="{{.NS}}" targetNamespace="{{.NS}}">
<wsdl:types><s:schema elementFormDefault="qualified" targetNamespace="{{.NS}}"/></wsdl:types>
<wsdl:portType name="ECGridOSSoap">{{range .Ops}}<wsdl:operation name="{{.Name}}"/>{{end}}</wsdl:portType>
<wsdl:binding name="ECGridOSSoap" type="tns:ECGridOSSoap"><soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>{{range .Ops}}
<wsdl:operation name="{{.Name}}"><soap:operation soapAction="{{.Action}}" style="document"/></wsdl:operation>{{end}}
</wsdl:binding>
<wsdl:service name="ECGridOS"><wsdl:port name="ECGridOSSoap" binding="tns:ECGridOSSoap"><soap:address location="{{.URL}}"/></wsdl:port></wsdl:service>
</wsdl:definitions>`))

// GosoapCaller is the SOAP 1.1 Caller, built on github.com/tiaguinho/gosoap.
type GosoapCaller struct {
	ep   Endpoint
	wsdl []byte
}

// NewGosoapCaller builds the SOAP 1.1 caller for the given operations.
func NewGosoapCaller(ep Endpoint, methods []string) (*GosoapCaller, error) {
	type op struct{ Name, Action string }
	data := struct {
		NS, URL string
		Ops     []op
	}{NS: ep.Namespace, URL: ep.URL}
	for _, m := range methods {
		data.Ops = append(data.Ops, op{m, ep.action(m)})
	}
	var b bytes.Buffer
	if err := wsdlTmpl.Execute(&b, data); err != nil {
		return nil, err
	}
	// template.Execute does not escape for XML; check the result parses.
	if err := xml.Unmarshal(b.Bytes(), new(struct{})); err != nil {
		return nil, fmt.Errorf("endpoint, namespace or method names make an invalid WSDL: %w", err)
	}
	return &GosoapCaller{ep: ep, wsdl: b.Bytes()}, nil
}

// callTransport serves the synthesized WSDL, ties every request to the call's context
// and keeps the answer's status and body (gosoap drops the body of a ≥ 400 answer).
type callTransport struct {
	ctx  context.Context
	ep   *Endpoint
	wsdl []byte

	mu     sync.Mutex
	status int
	body   []byte
	err    error
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.String() == wsdlURL {
		return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"Content-Type": {"text/xml"}},
			Body: io.NopCloser(bytes.NewReader(t.wsdl)), ContentLength: int64(len(t.wsdl)), Request: req}, nil
	}
	rctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	stop := context.AfterFunc(t.ctx, cancel) // the caller's ctx cancels the request too
	defer stop()
	resp, err := t.ep.base().RoundTrip(req.WithContext(rctx))
	if err != nil {
		t.ep.observe("error")
		return nil, err
	}
	t.ep.observe(strconv.Itoa(resp.StatusCode))
	b, err := readCapped(resp.Body, t.ep.MaxBody)
	resp.Body.Close()
	t.mu.Lock()
	t.status, t.body, t.err = resp.StatusCode, b, err
	t.mu.Unlock()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	return resp, nil
}

type discardDump struct{}

func (discardDump) LogRequest(string, []byte)  {}
func (discardDump) LogResponse(string, []byte) {}

// Call implements Caller. A fresh gosoap client per call carries the call's context in
// its transport (gosoap has no context of its own); building one costs a parse of the
// small in-memory WSDL.
func (c *GosoapCaller) Call(ctx context.Context, method string, params []Param) ([]byte, error) {
	tr := &callTransport{ctx: ctx, ep: &c.ep, wsdl: c.wsdl}
	hc := &http.Client{Timeout: c.ep.Timeout, Transport: tr, CheckRedirect: redirects}
	cl, err := gosoap.SoapClientWithConfig(wsdlURL, hc, &gosoap.Config{Dump: false, Logger: discardDump{}})
	if err != nil {
		return nil, err
	}
	ap := make(gosoap.ArrayParams, 0, len(params)) // ordered, string values only
	for _, p := range params {
		ap = append(ap, [2]any{p.Name, p.Value})
	}
	_, callErr := cl.Call(method, ap)
	tr.mu.Lock()
	status, body, terr := tr.status, tr.body, tr.err
	tr.mu.Unlock()
	var tl *TooLargeError
	switch {
	case errors.As(terr, &tl):
		return nil, tl
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	case status >= 400:
		return nil, httpFault(status, body)
	case callErr != nil:
		if _, perr := parse(body); errors.Is(perr, ErrUnsafeXML) {
			return nil, perr // gosoap's decoder failed on the entity; say why it is refused
		}
		// gosoap's ErrorWithPayload holds the request (with the password for Login): keep
		// only the message of the error it wraps.
		var ep gosoap.ErrorWithPayload
		if errors.As(callErr, &ep) {
			return nil, fmt.Errorf("%s: %s", method, ep.Error())
		}
		return nil, fmt.Errorf("%s: %w", method, callErr)
	case status == 0:
		return nil, fmt.Errorf("%s: no answer", method)
	}
	return body, nil
}

// ---- SOAP 1.2 with net/http + encoding/xml (gosoap is SOAP 1.1 only) ----

// Soap12Caller is the SOAP 1.2 Caller.
type Soap12Caller struct {
	ep Endpoint
	hc *http.Client
}

// NewSoap12Caller builds the SOAP 1.2 caller.
func NewSoap12Caller(ep Endpoint) *Soap12Caller {
	return &Soap12Caller{ep: ep, hc: &http.Client{Timeout: ep.Timeout, Transport: ep.base(), CheckRedirect: redirects}}
}

// Call implements Caller.
func (c *Soap12Caller) Call(ctx context.Context, method string, params []Param) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><soap12:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap12="http://www.w3.org/2003/05/soap-envelope"><soap12:Body><`)
	b.WriteString(method)
	b.WriteString(` xmlns="`)
	_ = xml.EscapeText(&b, []byte(c.ep.Namespace))
	b.WriteString(`">`)
	for _, p := range params {
		b.WriteString("<" + p.Name + ">")
		_ = xml.EscapeText(&b, []byte(p.Value))
		b.WriteString("</" + p.Name + ">")
	}
	b.WriteString("</" + method + "></soap12:Body></soap12:Envelope>")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.ep.URL, &b)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", `application/soap+xml; charset=utf-8; action="`+c.ep.action(method)+`"`)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.ep.observe("error")
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", method, ctx.Err())
		}
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	defer resp.Body.Close()
	c.ep.observe(strconv.Itoa(resp.StatusCode))
	body, err := readCapped(resp.Body, c.ep.MaxBody)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		return nil, httpFault(resp.StatusCode, body)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s: unexpected HTTP status %d", method, resp.StatusCode)
	}
	return body, nil
}

// ---- the ECGridOS API on top of a Caller ----

// Methods are the operation names.
type Methods struct {
	Login, Logout, SessionLog, SessionLogEx string
	// LoginParam is the element name of the login (Email or LoginName).
	LoginParam string
}

// Client calls ECGridOS operations with bounded retries of transient failures.
type Client struct {
	caller     Caller
	methods    Methods
	maxRetries int
	bmin, bmax time.Duration
	log        *slog.Logger
}

// NewClient wraps a caller.
func NewClient(caller Caller, methods Methods, maxRetries int, bmin, bmax time.Duration, log *slog.Logger) *Client {
	return &Client{caller: caller, methods: methods, maxRetries: maxRetries, bmin: bmin, bmax: bmax, log: log}
}

// retryable says whether an error is worth another attempt of the same call.
func retryable(err error) bool {
	var f *Fault
	if errors.As(err, &f) {
		return f.Kind == KindServer
	}
	var tl *TooLargeError
	if errors.As(err, &tl) || errors.Is(err, ErrUnsafeXML) {
		return false
	}
	return true // transport errors, timeouts, malformed answers
}

func (c *Client) call(ctx context.Context, method string, params []Param, decode func([]byte) error) error {
	b := backoff.New(c.bmin, c.bmax)
	for attempt := 0; ; attempt++ {
		raw, err := c.caller.Call(ctx, method, params)
		if err == nil {
			err = decode(raw)
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", method, ctx.Err())
		}
		if !retryable(err) || attempt >= c.maxRetries {
			return err
		}
		d := b.Next()
		c.log.Debug("ecgridos call failed; retrying", "method", method, "attempt", attempt+1, "in", d, "err", err)
		if !stopping.Sleep(ctx, d) { // a retry wait ends when the run stops
			if ctx.Err() != nil {
				return fmt.Errorf("%s: %w", method, ctx.Err())
			}
			return fmt.Errorf("%s: retry abandoned, the poll run is stopping: %w", method, err)
		}
	}
}

// Login returns a new session id. Errors never contain the password.
func (c *Client) Login(ctx context.Context, login, password string) (string, error) {
	var sid string
	err := c.call(ctx, c.methods.Login, []Param{{c.methods.LoginParam, login}, {"Password", password}}, func(raw []byte) error {
		var err error
		sid, err = DecodeLogin(raw, c.methods.Login)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("login as %s: %w", login, err)
	}
	return sid, nil
}

// Logout ends a session.
func (c *Client) Logout(ctx context.Context, sid string) error {
	return c.call(ctx, c.methods.Logout, []Param{{"SessionID", sid}}, func(raw []byte) error {
		_, err := decodeResult(raw, c.methods.Logout)
		return err
	})
}

// SessionLog returns the most recent maxRecords sessions of userID (0 = self).
func (c *Client) SessionLog(ctx context.Context, sid string, userID, maxRecords int) ([]SessionInfo, error) {
	var rows []SessionInfo
	err := c.call(ctx, c.methods.SessionLog, []Param{{"SessionID", sid}, {"UserID", strconv.Itoa(userID)}, {"MaxRecords", strconv.Itoa(maxRecords)}},
		func(raw []byte) error {
			var err error
			rows, err = DecodeSessionLog(raw, c.methods.SessionLog)
			return err
		})
	return rows, err
}

// SessionLogEx returns the sessions of userID created in [start, end).
func (c *Client) SessionLogEx(ctx context.Context, sid string, userID int, start, end time.Time, maxRecords int) ([]SessionInfo, error) {
	var rows []SessionInfo
	const f = "2006-01-02T15:04:05.000Z"
	err := c.call(ctx, c.methods.SessionLogEx, []Param{{"SessionID", sid}, {"UserID", strconv.Itoa(userID)},
		{"StartTime", start.UTC().Format(f)}, {"EndTime", end.UTC().Format(f)}, {"MaxRecords", strconv.Itoa(maxRecords)}},
		func(raw []byte) error {
			var err error
			rows, err = DecodeSessionLog(raw, c.methods.SessionLogEx)
			return err
		})
	return rows, err
}

// observer counts provider HTTP answers by status.
func observer(m *metrics.Metrics) func(string) {
	if m == nil {
		return nil
	}
	return func(code string) { m.ProviderHTTPRequests.WithLabelValues(Name, code).Inc() }
}
