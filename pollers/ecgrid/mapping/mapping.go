package mapping

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/mapkit"
	"github.com/auditstream/auditstream/schemas/ocsf"
)

// Mapper maps ECGridOS SessionLog rows (one SessionIDInfo element, XML) to OCSF
// Authentication (3002) / Logon: a session record is a successful remote logon over the API
// (logon_type Network, is_remote).
//
//	SessionID → session.uid, metadata.original_event_uid
//	UserID    → user.uid, actor.user.uid (a row without one is not mapped: no invented user)
//	Created   → time, session.created_time
//	Expires   → session.expiration_time
//	NetworkID → metadata.tenant_uid (the poller's network; another network's id stays in unmapped)
//	IPAddress / IP / ClientIP (richer SessionLogEx rows) → src_endpoint.ip
//	anything else → unmapped
type Mapper struct{}

// Map implements mapkit.Mapper.
func (Mapper) Map(env *schemas.Envelope, zone *time.Location) (ocsf.Event, error) {
	if env.ContentType != schemas.ContentXML {
		return nil, fmt.Errorf("ecgrid entry has content type %q, want %s: %w", env.ContentType, schemas.ContentXML, mapkit.ErrUnmappable)
	}
	s, err := env.XML()
	if err != nil {
		return nil, err
	}
	root, fields, err := flatXML(s)
	if err != nil {
		return nil, fmt.Errorf("ecgrid entry: %w", err)
	}
	if root != "SessionIDInfo" {
		return nil, fmt.Errorf("ecgrid entry is a <%s>, not a <SessionIDInfo>: %w", root, mapkit.ErrUnmappable)
	}
	var sessionID, userID, networkID, createdText, expiresText, ip string
	var un mapkit.Unmapped
	for _, f := range fields {
		v := strings.TrimSpace(f.value)
		switch f.name {
		case "SessionID":
			sessionID = v
		case "UserID":
			userID = v
		case "NetworkID":
			networkID = v
		case "Created":
			createdText = v
		case "Expires":
			expiresText = v
		case "IPAddress", "IP", "ClientIP":
			if _, ok := mapkit.Endpoint(v); ok && ip == "" {
				ip = v
				continue
			}
			un.Set(f.name, v)
		default:
			un.Set(f.name, v)
		}
	}
	created, err := mapkit.EventTime(createdText, zone)
	if err != nil {
		return nil, fmt.Errorf("ecgrid entry Created: %w", err)
	}
	if userID == "" {
		return nil, fmt.Errorf("ecgrid entry has no UserID: %w", mapkit.ErrUnmappable)
	}
	ev := ocsf.NewAuthentication()
	ev.ActivityID = ocsf.AuthenticationLogon
	ev.SeverityID, ev.StatusID, ev.Time = ocsf.SeverityInformational, ocsf.StatusSuccess, created
	ev.RawData = s
	ev.Metadata.Product = ocsf.Product{Name: "ECGridOS", VendorName: "Loren Data"}
	ev.Metadata.OriginalTime = createdText
	ev.Metadata.LogName = "SessionLog"
	ev.Metadata.OriginalEventUID = sessionID
	ev.Service = &ocsf.Service{Name: "ECGridOS"}
	ev.User = ocsf.User{UID: userID}
	ev.Actor = &ocsf.Actor{User: &ocsf.User{UID: userID}} // the user logged on themselves
	ev.IsRemote = ocsf.Bool(true)
	ev.LogonTypeID = ocsf.LogonTypeNetwork
	if ip != "" {
		ep, _ := mapkit.Endpoint(ip)
		ev.SrcEndpoint = &ep
	}
	sess := &ocsf.Session{UID: sessionID, CreatedTime: created, IsRemote: ocsf.Bool(true)}
	if expiresText != "" {
		exp, err := mapkit.EventTime(expiresText, zone)
		if err != nil {
			return nil, fmt.Errorf("ecgrid entry Expires: %w", err)
		}
		sess.ExpirationTime = exp
	}
	ev.Session = sess
	ev.Message = "ECGridOS session of user " + userID
	if networkID != "" && networkID != env.Tenant {
		// The tenant (metadata.tenant_uid) is the poller's configured NetworkID; a row of
		// another network keeps its own here.
		un.Set("NetworkID", networkID)
	}
	ev.Unmapped = un.M
	return ev, nil
}

type xmlField struct{ name, value string }

// flatXML reads one element whose children are text-only elements (a SessionIDInfo row):
// its local name and its children's local names and texts, in order. Namespace prefixes
// and attributes are ignored, character and the five predefined entity references are
// resolved; DOCTYPEs, comments, CDATA, processing instructions inside the element and
// nested elements are refused (a row never has them).
func flatXML(s string) (root string, fields []xmlField, err error) {
	i := skipXMLSpace(s, 0)
	for strings.HasPrefix(s[i:], "<?") { // an XML declaration
		end := strings.Index(s[i:], "?>")
		if end < 0 {
			return "", nil, errors.New("unterminated processing instruction")
		}
		i = skipXMLSpace(s, i+end+2)
	}
	root, i, selfClosed, err := xmlStartTag(s, i)
	if err != nil {
		return "", nil, err
	}
	if !selfClosed {
		for {
			text, j, err := xmlText(s, i)
			if err != nil {
				return "", nil, err
			}
			if strings.TrimSpace(text) != "" {
				return "", nil, errors.New("text directly inside the row element")
			}
			i = j
			if strings.HasPrefix(s[i:], "</") {
				if i, err = xmlEndTag(s, i, root); err != nil {
					return "", nil, err
				}
				break
			}
			name, j, closed, err := xmlStartTag(s, i)
			if err != nil {
				return "", nil, err
			}
			i = j
			var value string
			if !closed {
				if value, i, err = xmlText(s, i); err != nil {
					return "", nil, err
				}
				if !strings.HasPrefix(s[i:], "</") {
					return "", nil, fmt.Errorf("element <%s> holds elements; a row's fields hold text only", name)
				}
				if i, err = xmlEndTag(s, i, name); err != nil {
					return "", nil, err
				}
			}
			fields = append(fields, xmlField{name, value})
		}
	}
	if i = skipXMLSpace(s, i); i != len(s) {
		return "", nil, errors.New("data after the row element")
	}
	return root, fields, nil
}

func skipXMLSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// localName strips a namespace prefix.
func localName(q string) string { return q[strings.IndexByte(q, ':')+1:] }

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':' || c >= 0x80
}

// xmlStartTag reads "<name attr='v' ...>" or "<name/>" at i.
func xmlStartTag(s string, i int) (name string, next int, selfClosed bool, err error) {
	if i >= len(s) || s[i] != '<' {
		return "", i, false, errors.New("element expected")
	}
	j := i + 1
	for j < len(s) && isNameByte(s[j]) {
		j++
	}
	if j == i+1 {
		return "", i, false, fmt.Errorf("invalid markup at offset %d (DOCTYPE, comment, CDATA or processing instruction?)", i)
	}
	name = localName(s[i+1 : j])
	if name == "" {
		return "", i, false, fmt.Errorf("element without a local name at offset %d", i)
	}
	var quote byte
	for ; j < len(s); j++ {
		c := s[j]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '<' {
				return "", i, false, errors.New("'<' in an attribute value")
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return name, j + 1, false, nil
		case c == '/' && j+1 < len(s) && s[j+1] == '>':
			return name, j + 2, true, nil
		case c == '<':
			return "", i, false, errors.New("'<' inside a tag")
		}
	}
	return "", i, false, errors.New("unterminated tag")
}

// xmlEndTag reads "</name>" at i.
func xmlEndTag(s string, i int, want string) (int, error) {
	end := strings.IndexByte(s[i:], '>')
	if end < 0 {
		return i, errors.New("unterminated end tag")
	}
	name := strings.TrimRight(s[i+2:i+end], " \t\r\n")
	if localName(name) != want {
		return i, fmt.Errorf("</%s> closes <%s>", name, want)
	}
	return i + end + 1, nil
}

// xmlText reads character data up to the next '<', resolving references.
func xmlText(s string, i int) (string, int, error) {
	end := strings.IndexByte(s[i:], '<')
	if end < 0 {
		return "", i, errors.New("unterminated element")
	}
	raw := s[i : i+end]
	if !utf8.ValidString(raw) {
		return "", i, errors.New("text is not UTF-8")
	}
	if strings.IndexByte(raw, '&') < 0 {
		return raw, i + end, nil
	}
	var b strings.Builder
	for k := 0; k < len(raw); {
		if raw[k] != '&' {
			b.WriteByte(raw[k])
			k++
			continue
		}
		semi := strings.IndexByte(raw[k:], ';')
		if semi < 0 {
			return "", i, errors.New("unterminated entity reference")
		}
		ref := raw[k+1 : k+semi]
		switch ref {
		case "lt":
			b.WriteByte('<')
		case "gt":
			b.WriteByte('>')
		case "amp":
			b.WriteByte('&')
		case "quot":
			b.WriteByte('"')
		case "apos":
			b.WriteByte('\'')
		default:
			var n uint64
			var err error = errors.New("bad")
			if strings.HasPrefix(ref, "#x") {
				n, err = strconv.ParseUint(ref[2:], 16, 32)
			} else if strings.HasPrefix(ref, "#") {
				n, err = strconv.ParseUint(ref[1:], 10, 32)
			}
			if err != nil || n == 0 || !utf8.ValidRune(rune(n)) {
				return "", i, fmt.Errorf("unknown entity reference &%s;", ref)
			}
			b.WriteRune(rune(n))
		}
		k += semi + 1
	}
	return b.String(), i + end, nil
}
