// Package cef projects a canonical OCSF event onto ArcSight Common Event Format (CEF:0),
// the line format most SIEMs parse from syslog:
//
//	CEF:0|auditstream|<provider>|1.8.0|<class_uid>|<name>|<severity>|<extension>
//
// Header: Device Vendor "auditstream", Device Product the provider, Device Version the
// OCSF schema version, Signature ID the OCSF class_uid, Name the OCSF type_name (else
// class_name), Severity 0-10 from severity_id (Unknown 0, Informational 1, Low 3, Medium 5,
// High 7, Critical 9, Fatal 10, Other 5).
//
// Extension (key=value, space separated, in this order, empty values left out): rt (event
// time, epoch ms), externalId (event id), cat (category_name), act (api.operation, else the
// activity name), outcome (success/failure/unknown), suser, suid (acting user), src (an
// IPv4 source) or c6a2 (an IPv6 source), reason (status_detail), msg (message), cs1Label
// "tenant" and cs1 (tenant).
//
// Escaping, as the CEF specification requires: in the header, backslash and pipe are
// escaped (\\ and \|) and line breaks, which the header may not contain, become spaces; in
// extension values, backslash and equals sign are escaped (\\ and \=) and CR and LF are
// written as the two characters \r and \n.
package cef

import (
	"strconv"
	"strings"

	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/projection"
)

// DeviceVendor is the CEF Device Vendor of every event.
const DeviceVendor = "auditstream"

// DeviceVersion is the OCSF version of the events (the CEF Device Version).
const DeviceVersion = "1.8.0"

var (
	headerEscaper = strings.NewReplacer(`\`, `\\`, `|`, `\|`, "\r", " ", "\n", " ")
	valueEscaper  = strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\r", `\r`, "\n", `\n`)
)

// EscapeHeader escapes a CEF header field.
func EscapeHeader(s string) string { return headerEscaper.Replace(s) }

// EscapeValue escapes a CEF extension value.
func EscapeValue(s string) string { return valueEscaper.Replace(s) }

// Severity maps an OCSF severity_id to the CEF 0-10 scale.
func Severity(id int) int {
	switch id {
	case 1:
		return 1
	case 2:
		return 3
	case 3:
		return 5
	case 4:
		return 7
	case 5:
		return 9
	case 6:
		return 10
	case 99:
		return 5
	}
	return 0
}

// Append appends the CEF line of ev to dst (no line break).
func Append(dst []byte, ev sinks.Event) ([]byte, error) {
	v, err := projection.Decode(ev)
	if err != nil {
		return dst, err
	}
	class := projection.ClassUID(ev, v)
	dst = append(dst, "CEF:0|"+DeviceVendor+"|"...)
	dst = append(dst, EscapeHeader(ev.Provider)...)
	dst = append(dst, "|"+DeviceVersion+"|"...)
	dst = strconv.AppendInt(dst, int64(class), 10)
	dst = append(dst, '|')
	dst = append(dst, EscapeHeader(v.Name())...)
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, int64(Severity(v.SeverityID)), 10)
	dst = append(dst, '|')

	first := true
	ext := func(key, val string) {
		if val == "" {
			return
		}
		if !first {
			dst = append(dst, ' ')
		}
		first = false
		dst = append(dst, key...)
		dst = append(dst, '=')
		dst = append(dst, EscapeValue(val)...)
	}
	ext("rt", strconv.FormatInt(projection.Time(ev, v).UnixMilli(), 10))
	ext("externalId", ev.ID)
	ext("cat", v.CategoryName)
	ext("act", v.Action())
	ext("outcome", v.Outcome())
	ext("suser", v.ActorName())
	if u := v.ActorUser(); u != nil {
		ext("suid", u.UID)
	}
	if ip, ok := v.SourceIP(); ok {
		if ip.Is4() {
			ext("src", ip.String())
		} else {
			ext("c6a2", ip.String())
			ext("c6a2Label", "Source IPv6 Address")
		}
	}
	ext("reason", v.StatusDetail)
	ext("msg", v.Message)
	if t := projection.Tenant(ev, v); t != "" {
		ext("cs1Label", "tenant")
		ext("cs1", t)
	}
	return dst, nil
}
