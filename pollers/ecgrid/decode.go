package ecgrid

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/timeparse"
)

// DefaultMaxBodyBytes caps a SOAP response when the poller's http.max_body_bytes is unset.
const DefaultMaxBodyBytes = 32 << 20

const (
	maxDepth = 64
	maxNodes = 1 << 20
)

// ErrUnsafeXML is returned for a document carrying a DOCTYPE, an ENTITY declaration or any
// other <!...> directive. Go's encoding/xml never expands external or user-defined
// entities, but such a document is never a legitimate SOAP answer, so it is refused.
var ErrUnsafeXML = errors.New("SOAP response refused: it contains a <!DOCTYPE>/<!ENTITY> declaration (XML bombs and external entities are never processed)")

// TooLargeError is a response body over the size cap.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("SOAP response refused: body exceeds the %d-byte size cap", e.Limit)
}

// node is one element of a parsed document; only local names are kept (namespaces are
// ignored on purpose: ECGridOS answers in more than one namespace).
type node struct {
	Local    string
	Text     strings.Builder
	Children []*node
}

func (n *node) child(local string) *node {
	for _, c := range n.Children {
		if c.Local == local {
			return c
		}
	}
	return nil
}

// find returns the first descendant (depth first, n included) with the local name.
func (n *node) find(local string) *node {
	if n.Local == local {
		return n
	}
	for _, c := range n.Children {
		if f := c.find(local); f != nil {
			return f
		}
	}
	return nil
}

func (n *node) findAll(local string, out []*node) []*node {
	if n.Local == local {
		return append(out, n)
	}
	for _, c := range n.Children {
		out = c.findAll(local, out)
	}
	return out
}

func (n *node) text() string { return strings.TrimSpace(n.Text.String()) }

// charsetReader accepts the encodings an ASMX service declares.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return in, nil
	case "iso-8859-1", "latin1", "latin-1":
		b, err := io.ReadAll(in)
		if err != nil {
			return nil, err
		}
		var sb strings.Builder
		for _, c := range b {
			sb.WriteRune(rune(c))
		}
		return strings.NewReader(sb.String()), nil
	}
	return nil, fmt.Errorf("unsupported XML encoding %q", label)
}

// parse reads a whole document into a tree, refusing directives, oversized input and
// absurd nesting.
func parse(body []byte) (*node, error) {
	if int64(len(body)) > DefaultMaxBodyBytes {
		return nil, &TooLargeError{Limit: DefaultMaxBodyBytes}
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	d.CharsetReader = charsetReader
	var root *node
	var stack []*node
	count := 0
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("SOAP response is not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, ErrUnsafeXML
		case xml.StartElement:
			count++
			if count > maxNodes || len(stack) >= maxDepth {
				return nil, errors.New("SOAP response refused: too many or too deeply nested elements")
			}
			n := &node{Local: t.Name.Local}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("SOAP response is not well-formed XML: more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1].Local != t.Name.Local {
				return nil, fmt.Errorf("SOAP response is not well-formed XML: unexpected </%s>", t.Name.Local)
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("SOAP response is not well-formed XML: text outside the root element")
			}
		}
	}
	if root == nil {
		return nil, errors.New("SOAP response is empty")
	}
	if len(stack) != 0 {
		return nil, errors.New("SOAP response is not well-formed XML: unexpected end of document")
	}
	return root, nil
}

// body parses a SOAP document and returns the first element inside Envelope/Body.
func body(raw []byte) (*node, error) {
	root, err := parse(raw)
	if err != nil {
		return nil, err
	}
	if root.Local != "Envelope" {
		return nil, fmt.Errorf("SOAP response root is <%s>, not <Envelope>", root.Local)
	}
	b := root.child("Body")
	if b == nil {
		return nil, errors.New("SOAP response has no <Body>")
	}
	if len(b.Children) == 0 {
		return nil, errors.New("SOAP response <Body> is empty")
	}
	return b.Children[0], nil
}

// decodeResult parses an answer to method: a *Fault error, or the <methodResponse> element.
func decodeResult(raw []byte, method string) (*node, error) {
	first, err := body(raw)
	if err != nil {
		return nil, err
	}
	if first.Local == "Fault" {
		return nil, faultFrom(first, 0)
	}
	if first.Local != method+"Response" {
		return nil, fmt.Errorf("SOAP response body holds <%s>, want <%sResponse>", first.Local, method)
	}
	return first, nil
}

// SessionInfo is one SessionIDInfo row.
type SessionInfo struct {
	SessionID, UserID, NetworkID, MailboxID string
	Created, Expires                        time.Time // zero when absent or unreadable
	// Raw is the canonical XML of the element: known fields in a fixed order, then any
	// other child elements in the order received.
	Raw []byte
}

// Key is the dedupe key: the SessionID, or the fingerprint of the element without one.
func (s *SessionInfo) Key() string {
	if s.SessionID != "" {
		return s.SessionID
	}
	return "fp:" + schemas.FingerprintText(s.Raw)
}

var knownFields = []string{"SessionID", "UserID", "NetworkID", "MailboxID", "Created", "Expires"}

// DecodeSessionLog reads a SessionLog (or SessionLogEx) answer: the rows of every
// SessionIDInfo element under <method>Response, namespaces ignored.
func DecodeSessionLog(raw []byte, method string) ([]SessionInfo, error) {
	resp, err := decodeResult(raw, method)
	if err != nil {
		return nil, err
	}
	var out []SessionInfo
	for _, el := range resp.findAll("SessionIDInfo", nil) {
		out = append(out, sessionInfo(el))
	}
	return out, nil
}

func sessionInfo(el *node) SessionInfo {
	var s SessionInfo
	vals := map[string]string{}
	var extra [][2]string
	for _, c := range el.Children {
		known := false
		for _, k := range knownFields {
			if c.Local == k {
				known = true
				if _, dup := vals[k]; !dup {
					vals[k] = c.text()
				}
			}
		}
		if !known {
			extra = append(extra, [2]string{c.Local, c.text()})
		}
	}
	s.SessionID, s.UserID, s.NetworkID, s.MailboxID = vals["SessionID"], vals["UserID"], vals["NetworkID"], vals["MailboxID"]
	if v := vals["Created"]; v != "" {
		if t, err := timeparse.Parse(v, time.UTC); err == nil {
			s.Created = t
		}
	}
	if v := vals["Expires"]; v != "" {
		if t, err := timeparse.Parse(v, time.UTC); err == nil {
			s.Expires = t
		}
	}
	var b bytes.Buffer
	b.WriteString("<SessionIDInfo>")
	write := func(name, v string) {
		b.WriteString("<" + name + ">")
		_ = xml.EscapeText(&b, []byte(v))
		b.WriteString("</" + name + ">")
	}
	for _, k := range knownFields {
		if v, ok := vals[k]; ok {
			write(k, v)
		}
	}
	for _, e := range extra {
		write(e[0], e[1])
	}
	b.WriteString("</SessionIDInfo>")
	s.Raw = b.Bytes()
	return s
}

// DecodeLogin reads a Login answer: the session id in LoginResult.
func DecodeLogin(raw []byte, method string) (string, error) {
	resp, err := decodeResult(raw, method)
	if err != nil {
		return "", err
	}
	r := resp.find(method + "Result")
	if r == nil || r.text() == "" {
		return "", fmt.Errorf("%s response has no session id", method)
	}
	return r.text(), nil
}

// DecodeFault reads a SOAP 1.1 or 1.2 fault document (any status). It returns a *Fault, or
// an error saying why the document is not a fault.
func DecodeFault(raw []byte, status int) (*Fault, error) {
	first, err := body(raw)
	if err != nil {
		return nil, err
	}
	if first.Local != "Fault" {
		return nil, fmt.Errorf("SOAP response body holds <%s>, not a <Fault>", first.Local)
	}
	return faultFrom(first, status), nil
}

func faultFrom(f *node, status int) *Fault {
	out := &Fault{HTTPStatus: status}
	if c := f.child("faultcode"); c != nil { // SOAP 1.1
		out.Code = c.text()
	} else if c := f.child("Code"); c != nil { // SOAP 1.2
		if v := c.child("Value"); v != nil {
			out.Code = v.text()
		}
		if sc := c.child("Subcode"); sc != nil {
			if v := sc.child("Value"); v != nil {
				out.Subcode = v.text()
			}
		}
	}
	if s := f.child("faultstring"); s != nil {
		out.String = s.text()
	} else if r := f.child("Reason"); r != nil {
		if t := r.child("Text"); t != nil {
			out.String = t.text()
		}
	}
	det := f.child("detail")
	if det == nil {
		det = f.child("Detail")
	}
	if det != nil {
		get := func(name string) string {
			if n := det.find(name); n != nil {
				return n.text()
			}
			return ""
		}
		out.ErrorCode, out.ErrorString, out.ErrorItem, out.ErrorMessage = get("ErrorCode"), get("ErrorString"), get("ErrorItem"), get("ErrorMessage")
	}
	out.Kind = classify(out)
	return out
}
