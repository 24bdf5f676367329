// Package mapkit is what every provider's mapping shares: the Mapper contract, the
// helpers that read provider entries into OCSF objects (times, users, endpoints, what has
// no OCSF home), the e-signature action model, and Finish, which adds what every event
// carries and checks the invariants. It depends on schemas/ only, so a provider's mapping
// (pollers/<provider>/mapping) is one package the normalizer role can import without
// pulling any poller code.
package mapkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
	"unsafe"

	"github.com/auditstream/auditstream/schemas"
	"github.com/auditstream/auditstream/schemas/jsonx"
	"github.com/auditstream/auditstream/schemas/ocsf"
	"github.com/auditstream/auditstream/schemas/timeparse"
)

// Mapper maps one provider's entries. It fills one OCSF class (activity, time, severity,
// status and the class's own attributes; the ids only: captions come from Derive). zone is
// the provider's zone for timestamps without one (normalizer.zones; UTC when not set).
// Finish, called by the normalizer, adds the common metadata (uid, tenant, times,
// version), raw_data, type_uid and the captions, then checks the invariants.
type Mapper interface {
	Map(env *schemas.Envelope, zone *time.Location) (ocsf.Event, error)
}

// ErrUnmappable marks an entry that is well-formed but has nothing to map.
var ErrUnmappable = errors.New("entry cannot be mapped")

// Finish adds what every event carries (and, with observables, the event's observables),
// derives the captions and checks the invariants.
func Finish(ev ocsf.Event, env *schemas.Envelope, uid string, processed time.Time, observables bool) (*ocsf.Base, error) {
	b := ev.EventBase()
	md := &b.Metadata
	md.Version = ocsf.Version
	md.UID = uid // schemas.EventID(env.ID)
	md.TenantUID = env.Tenant
	md.LoggedTime = env.FetchedAt.UnixMilli()
	md.ProcessedTime = processed.UnixMilli()
	switch {
	case b.RawData != "": // the mapper decoded it already (XML text)
	case env.ContentType == schemas.ContentXML:
		s, err := env.XML()
		if err != nil {
			return nil, err
		}
		b.RawData = s
	default:
		// The entry as received, escaped into the event by AppendJSON without a copy.
		b.RawData = unsafe.String(unsafe.SliceData(env.Record), len(env.Record))
	}
	if observables {
		ocsf.AddObservables(ev)
	}
	ev.Derive()
	if err := ev.Check(); err != nil {
		return nil, &InvariantError{fmt.Errorf("class %d event: %w", ev.Class(), err)}
	}
	if md.Product.Name == "" {
		return nil, &InvariantError{errors.New("metadata.product.name is empty")}
	}
	return b, nil
}

// InvariantError is an event that breaks the OCSF invariants (dead-lettered with reason
// schema).
type InvariantError struct{ error }

// Unwrap returns the invariant that failed.
func (e *InvariantError) Unwrap() error { return e.error }

// EventTime reads a provider timestamp (zone-less ones in zone) as OCSF milliseconds;
// OCSF times are after 1970.
func EventTime(s string, zone *time.Location) (int64, error) {
	t, err := ParseTime(s, zone)
	if err != nil {
		return 0, err
	}
	if ms := t.UnixMilli(); ms > 0 {
		return ms, nil
	}
	return 0, fmt.Errorf("timestamp %q is not after 1970", s)
}

// EntryObject is the envelope's JSON entry, which must be an object.
func EntryObject(env *schemas.Envelope) (jsonx.Value, error) {
	v := env.RecordValue()
	if !v.Exists() { // an envelope built in code, not decoded
		var d jsonx.Doc
		var err error
		if v, err = d.Parse(env.Record); err != nil {
			return jsonx.Value{}, err
		}
	}
	if v.Kind() != jsonx.Object {
		return jsonx.Value{}, fmt.Errorf("entry is a JSON %s, not an object: %w", v.Kind(), ErrUnmappable)
	}
	return v, nil
}

// ParseTime is timeparse.Parse with fast paths for the common shapes (RFC 3339, and
// "2006-01-02 15:04:05" / "2006-01-02T15:04:05" without a zone), which the shared parser
// reaches only after trying other layouts.
func ParseTime(s string, zone *time.Location) (time.Time, error) {
	if zone == nil {
		zone = time.UTC
	}
	if len(s) == 19 && s[4] == '-' && s[13] == ':' && (s[10] == ' ' || s[10] == 'T') {
		layout := "2006-01-02 15:04:05"
		if s[10] == 'T' {
			layout = "2006-01-02T15:04:05"
		}
		if t, err := time.ParseInLocation(layout, s, zone); err == nil {
			return t.UTC(), nil
		}
	} else if len(s) >= 20 && s[4] == '-' && s[10] == 'T' {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC(), nil
		}
	}
	return timeparse.Parse(s, zone)
}

// Endpoint is a network endpoint for an address that may not be an IP: a valid IP goes to
// ip (ok), anything else to name (OCSF's ip_t accepts IPs only).
func Endpoint(addr string) (ep ocsf.NetworkEndpoint, ok bool) {
	if _, err := netip.ParseAddr(addr); err == nil {
		return ocsf.NetworkEndpoint{IP: addr}, true
	}
	return ocsf.NetworkEndpoint{Name: addr}, false
}

// User is an OCSF user; email becomes email_addr only when it is a valid address, and the
// name too when there is neither name nor uid (the address is how the provider identifies
// that user; OCSF wants a name or uid). It is nil when there is nothing to say.
func User(name, email, uid string) *ocsf.User { return FillUser(new(ocsf.User), name, email, uid) }

// FillUser is user written into u (returned, or nil when there is nothing to say).
func FillUser(u *ocsf.User, name, email, uid string) *ocsf.User {
	*u = ocsf.User{Name: name, UID: uid}
	if ocsf.ValidEmail(email) {
		u.EmailAddr = email
		if name == "" && uid == "" {
			u.Name = email
		}
	}
	if *u == (ocsf.User{}) {
		return nil
	}
	return u
}

// RawJSON is a value's JSON text for unmapped (written compacted).
func RawJSON(v jsonx.Value) json.RawMessage { return json.RawMessage(v.Raw()) }

// Unmapped collects what has no OCSF home, by the provider's dotted path (the map is made
// on first use).
type Unmapped struct{ M map[string]any }

// Set adds a value (the first one wins when a path repeats).
func (u *Unmapped) Set(k string, v any) {
	if u.M == nil {
		u.M = map[string]any{}
	}
	if _, dup := u.M[k]; !dup {
		u.M[k] = v
	}
}

// Rest adds the members of obj not listed in known, under prefix.key.
func (u *Unmapped) Rest(obj jsonx.Value, prefix string, known ...string) {
	obj.Each(func(k string, v jsonx.Value) bool {
		if slices.Contains(known, k) {
			return true
		}
		if prefix != "" {
			k = prefix + "." + k
		}
		if v.Kind() == jsonx.String {
			u.Set(k, v.Str())
		} else {
			u.Set(k, RawJSON(v))
		}
		return true
	})
}

// RestLoose is Rest for providers whose keys come in several spellings: known names are
// compared as Value.Loose does (lower case, without '-' and '_'). A null value is left out.
func (u *Unmapped) RestLoose(obj jsonx.Value, known ...string) {
	obj.Each(func(k string, v jsonx.Value) bool {
		if v.Kind() == jsonx.Null || slices.ContainsFunc(known, func(name string) bool { return jsonx.LooseEqual(k, name) }) {
			return true
		}
		if v.Kind() == jsonx.String {
			u.Set(k, v.Str())
		} else {
			u.Set(k, RawJSON(v))
		}
		return true
	})
}
