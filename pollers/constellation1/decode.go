package constellation1

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/lenient"
	"github.com/auditstream/auditstream/pollers/fulllog"
)

// RejectedError is a 200 answer that carries no data: a null or empty body, or an error
// message instead of the expected field. The vendor answers an invalid or expired token
// that way, so the client replaces its token and asks once more.
type RejectedError struct{ Message string }

func (e *RejectedError) Error() string {
	if e.Message == "" {
		return "the answer is empty (null): the token was not accepted"
	}
	return "the answer is an error message: " + e.Message
}

// IsRejected reports whether err is a RejectedError.
func IsRejected(err error) bool {
	var r *RejectedError
	return errors.As(err, &r)
}

func empty(body []byte) bool {
	b := bytes.TrimSpace(body)
	return len(b) == 0 || lenient.IsNull(b)
}

func message(o lenient.Object) string {
	m, _ := o.String("Message", "ErrorMessage", "error", "ExceptionMessage")
	return m
}

// DecodeReturnValue reads a RequestResponse {"ReturnValue": "..."} (a bare JSON string
// is accepted too), as the encrypt and gettoken calls answer.
func DecodeReturnValue(body []byte) (string, error) {
	if empty(body) {
		return "", &RejectedError{}
	}
	var s string
	if json.Unmarshal(body, &s) == nil && s != "" {
		return s, nil
	}
	o, err := lenient.ParseObject(body)
	if err != nil {
		return "", fmt.Errorf("answer is not a RequestResponse: %w", err)
	}
	if v, ok := o.String("ReturnValue"); ok && v != "" {
		return v, nil
	}
	return "", &RejectedError{Message: message(o)}
}

// Entry is one action log entry exactly as received, with its parsed time (zero when the
// entry has no readable date).
type Entry = fulllog.Entry

// DecodeActionLogs reads an ActionLogResponse: {"ActionLog": [{Date, IPAddress,
// Description}]} (the docs also spell it "Actionlog"; camelCase accepted). Dates are WCF
// "/Date(ms±zzzz)/" or ISO; zone-less ISO dates are read in loc. A null body, or an object
// with a message and no log, is a RejectedError. It never panics.
func DecodeActionLogs(body []byte, loc *time.Location) ([]Entry, error) {
	if empty(body) {
		return nil, &RejectedError{}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		o, err := lenient.ParseObject(body)
		if err != nil {
			return nil, fmt.Errorf("action log answer is not JSON: %w", err)
		}
		if !o.Has("ActionLog", "ActionLogs") {
			if m := message(o); m != "" || o.Has("ReturnValue") {
				return nil, &RejectedError{Message: m}
			}
			return nil, errors.New("action log answer has no \"ActionLog\" list")
		}
		if items, err = o.Array("ActionLog", "ActionLogs"); err != nil {
			return nil, fmt.Errorf("action log answer: %w", err)
		}
	}
	return fulllog.DecodeEntries(items, loc, "action log entry", "Date", "ActionDate", "DateTime", "CreatedDate")
}

// Session statuses.
var statusNames = map[int]string{1: "InDraft", 2: "InSent", 3: "Completed", 4: "Cancelled", 5: "Deleted", 6: "InPaused", 7: "Expired"}

// Terminal reports whether a session status (its number or name) is final: Completed,
// Cancelled, Deleted or Expired.
func Terminal(status string) bool {
	switch strings.ToLower(status) {
	case "3", "4", "5", "7", "completed", "cancelled", "canceled", "deleted", "expired":
		return true
	}
	return false
}

// StatusName turns a status number into its name ("3" → "Completed"); names and
// unknown values are returned as they are.
func StatusName(status string) string {
	if n, err := strconv.Atoi(status); err == nil {
		if name, ok := statusNames[n]; ok {
			return name
		}
	}
	return status
}

// Session is one entry of a session listing (its Status a name, StatusName).
type Session = fulllog.Item

// Sessions is a decoded listing page: Total is -1 when the answer has none.
type Sessions = fulllog.Listing

// sessions is how the session listings are spelled.
var sessions = fulllog.ListingFormat{What: "session listing", Item: "session",
	Lists:  []string{"Sessions", "SessionList", "SessionsLite", "Items", "ReturnValue"},
	Totals: []string{"TotalCount", "TotalRecords", "Total", "Count"}, Missing: "has no list of sessions",
	ID: []string{"SessionId", "SessionID", "Id", "SigningSessionId"}, Name: []string{"SessionName", "Name", "Title", "DocumentName"},
	Status:  []string{"Status", "StatusId", "SessionStatus", "SessionStatusId"},
	Updated: []string{"ModifiedDate", "LastModifiedDate", "ModifiedOn", "UpdatedDate", "LastActivityDate"},
	Object: func(o lenient.Object) (lenient.Object, error) {
		if lenient.IsObject(o.Raw("ReturnValue")) {
			if inner, err := lenient.ParseObject(o.Raw("ReturnValue")); err == nil {
				o = inner
			}
		}
		if m := message(o); m != "" && !o.Has("Sessions", "SessionList", "SessionsLite", "Items", "ReturnValue") {
			return o, &RejectedError{Message: m}
		}
		return o, nil
	}}

// DecodeSessions reads a session listing page (archived, expired, deleted or lite): a
// JSON list of sessions, or an object holding it ("Sessions", "SessionList", "Items" or
// "ReturnValue") with an optional "TotalCount". A session has SessionId (number or
// string), SessionName, Status (number or name) and ModifiedDate (WCF or ISO).
func DecodeSessions(body []byte, loc *time.Location) (*Sessions, error) {
	if empty(body) {
		return nil, &RejectedError{}
	}
	res, err := sessions.Decode(body, loc)
	if err != nil {
		return nil, err
	}
	for i := range res.Items {
		res.Items[i].Status = StatusName(res.Items[i].Status)
	}
	return res, nil
}
