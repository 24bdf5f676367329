package normalizer

import (
	"encoding/xml"
	"fmt"
	"strings"
	"time"

	"github.com/auditstream/auditstream/normalizer/ocsf"
	"github.com/auditstream/auditstream/schemas"
)

// ECGridMapper maps ECGridOS SessionLog rows (one SessionIDInfo element, XML) to OCSF
// Authentication (3002) / Logon: a session record is a successful logon.
type ECGridMapper struct{}

type ecgridSession struct {
	XMLName   xml.Name `xml:"SessionIDInfo"`
	SessionID string   `xml:"SessionID"`
	UserID    string   `xml:"UserID"`
	NetworkID string   `xml:"NetworkID"`
	MailboxID string   `xml:"MailboxID"`
	Created   string   `xml:"Created"`
	Expires   string   `xml:"Expires"`
	// Other fields (richer SessionLogEx answers) go to unmapped.
	Extra []struct {
		XMLName xml.Name
		Value   string `xml:",chardata"`
	} `xml:",any"`
}

// Map implements Mapper.
func (ECGridMapper) Map(env *schemas.Envelope, zone *time.Location) (ocsf.Event, error) {
	if env.ContentType != schemas.ContentXML {
		return nil, fmt.Errorf("ecgrid entry has content type %q, want %s: %w", env.ContentType, schemas.ContentXML, ErrUnmappable)
	}
	s, err := env.XML()
	if err != nil {
		return nil, err
	}
	if strings.Contains(s, "<!") {
		return nil, fmt.Errorf("ecgrid entry carries an XML declaration or CDATA: %w", ErrUnmappable)
	}
	var e ecgridSession
	if err := xml.Unmarshal([]byte(s), &e); err != nil {
		return nil, fmt.Errorf("ecgrid entry: %w", err)
	}
	trim := strings.TrimSpace
	e.SessionID, e.UserID, e.NetworkID, e.MailboxID = trim(e.SessionID), trim(e.UserID), trim(e.NetworkID), trim(e.MailboxID)
	e.Created, e.Expires = trim(e.Created), trim(e.Expires)
	created, err := eventTime(e.Created, zone)
	if err != nil {
		return nil, fmt.Errorf("ecgrid entry Created: %w", err)
	}
	ev := &ocsf.Authentication{ActivityID: ocsf.AuthenticationLogon}
	ev.SeverityID, ev.StatusID, ev.Time = ocsf.SeverityInformational, ocsf.StatusSuccess, created
	ev.RawData = s
	ev.Metadata.Product = ocsf.Product{Name: "ECGridOS", VendorName: "Loren Data"}
	ev.Metadata.OriginalTime = e.Created
	ev.Metadata.LogName = "SessionLog"
	ev.Service = &ocsf.Service{Name: "ECGridOS"}
	if e.UserID != "" {
		ev.User = ocsf.User{UID: e.UserID}
	} else {
		ev.User = ocsf.User{Name: "unknown"}
	}
	sess := &ocsf.Session{UID: e.SessionID, CreatedTime: created}
	if e.Expires != "" {
		exp, err := eventTime(e.Expires, zone)
		if err != nil {
			return nil, fmt.Errorf("ecgrid entry Expires: %w", err)
		}
		sess.ExpirationTime = exp
	}
	ev.Session = sess
	who := e.UserID
	if who == "" {
		who = "unknown user"
	} else {
		who = "user " + who
	}
	ev.Message = fmt.Sprintf("ECGridOS session of %s", who)
	unmapped := map[string]any{}
	if e.NetworkID != "" && e.NetworkID != env.Tenant {
		// The tenant (metadata.tenant_uid) is the poller's configured NetworkID; a row of
		// another network keeps its own here.
		unmapped["NetworkID"] = e.NetworkID
	}
	if e.MailboxID != "" {
		unmapped["MailboxID"] = e.MailboxID
	}
	for _, x := range e.Extra {
		if _, dup := unmapped[x.XMLName.Local]; !dup {
			unmapped[x.XMLName.Local] = trim(x.Value)
		}
	}
	if len(unmapped) > 0 {
		ev.Unmapped = unmapped
	}
	return ev, nil
}
