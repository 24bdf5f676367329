// Package schemas holds the wire contracts of auditstream: the raw envelope carried on
// audit.raw.<provider>, the canonical OCSF event on audit.events.v1, their JSON Schemas
// (embedded from this folder) and the deterministic ids that tie them together.
package schemas

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/auditstream/auditstream/schemas/jsonx"
)

// Envelope is the value of a raw record on audit.raw.<provider> (schemas/envelope.schema.json).
type Envelope struct {
	V        int    `json:"v"`
	ID       string `json:"id"`
	Provider string `json:"provider"`
	Tenant   string `json:"tenant"`
	Entity   string `json:"entity"`
	// EntityName is the entity's display name (a package or document name) when the
	// provider's listing or log header gave one; mappers use it as the resource name.
	EntityName  string    `json:"entity_name,omitempty"`
	Poller      string    `json:"poller"`
	FetchedAt   time.Time `json:"fetched_at"`
	Occurrence  int       `json:"occurrence"`
	ContentType string    `json:"content_type"`
	// Zone is the IANA time zone the poller was configured with for the provider's
	// zone-less timestamps (its `zone:` setting), omitted when none is set: the normalizer
	// reads zone-less times in it. Records written before the field existed have none; the
	// normalizer then falls back to normalizer.zones.<provider>, then UTC. It is not part of
	// the record id.
	Zone   string          `json:"zone,omitempty"`
	Record json.RawMessage `json:"record,omitempty"` // always present on the wire (Encode)

	doc      *jsonx.Doc  // DecodeEnvelope's parse index
	released bool        // given back by Release
	rec      jsonx.Value // Record, parsed
	xml      string      // XML's answer, once read
}

// Content types of Envelope.Record.
const (
	ContentJSON = "application/json"
	ContentXML  = "application/xml"
)

// Key is the Kafka key of a raw record and of its canonical event.
func Key(provider, tenant, entity string) string { return provider + "/" + tenant + "/" + entity }

// Key returns the envelope's Kafka key.
func (e *Envelope) Key() string { return Key(e.Provider, e.Tenant, e.Entity) }

// RecordID is the deterministic raw record id: SHA-256 over the JSON array
// ["v1", provider, tenant, entity, nativeID, occurrence], hex. nativeID is the provider's
// unique id, or the entry's Fingerprint where the provider has none.
func RecordID(provider, tenant, entity, nativeID string, occurrence int) string {
	b, _ := json.Marshal([]any{"v1", provider, tenant, entity, nativeID, occurrence})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// eventNS is the UUIDv5 namespace of canonical event ids.
var eventNS = uuid.MustParse("6f1c5b8e-2a0d-5d4e-9b3a-61746f6d6963")

// EventID is the canonical event id: UUIDv5 of the raw record id. It is metadata.uid,
// the CloudEvents id and the idempotency key of every sink.
func EventID(recordID string) string {
	var out [36]byte
	return string(AppendEventID(out[:0], recordID))
}

// AppendEventID appends EventID(recordID) to dst without allocating (when dst has room).
func AppendEventID(dst []byte, recordID string) []byte {
	// uuid.NewSHA1(eventNS, recordID).String() without its intermediate allocations.
	var buf [16 + 64]byte // a record id is 64 hex digits
	sum := sha1.Sum(append(append(buf[:0], eventNS[:]...), recordID...))
	sum[6] = sum[6]&0x0f | 0x50 // version 5
	sum[8] = sum[8]&0x3f | 0x80 // RFC 4122 variant
	n := len(dst)
	dst = append(dst, "00000000-0000-0000-0000-000000000000"...)
	out := dst[n:]
	hex.Encode(out[0:8], sum[0:4])
	hex.Encode(out[9:13], sum[4:6])
	hex.Encode(out[14:18], sum[6:8])
	hex.Encode(out[19:23], sum[8:10])
	hex.Encode(out[24:], sum[10:16])
	return dst
}

// Fingerprint is the canonical fingerprint of a JSON entry: SHA-256 (hex) of its compacted
// form with object keys sorted and numbers normalized (1, 1.0 and 1e0 are one number;
// integers of any size stay exact), so the same entry fingerprints the same whatever the
// key order, number spelling or white space the provider sent. It is the one fingerprint
// of entries without a native id: the poller runner's record ids and the full-log diff
// (pollers/logdiff) both use it.
func Fingerprint(entry json.RawMessage) (string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(entry))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", errors.New("fingerprint: data after the JSON value")
	}
	b, err := json.Marshal(normalizeNumbers(v)) // maps marshal with sorted keys
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// MaxEnvelopeBytes bounds what DecodeEnvelope accepts.
const MaxEnvelopeBytes = 4 << 20

// DecodeEnvelope parses and checks a raw record value. It never panics on any input and
// returns an error that says what is wrong. The input is parsed once (package jsonx): the
// envelope's strings and Record alias b, which must not change while the envelope is in
// use, and RecordValue navigates the entry without parsing it again. Release returns the
// parse index for reuse.
func DecodeEnvelope(b []byte) (*Envelope, error) {
	if len(b) > MaxEnvelopeBytes {
		return nil, fmt.Errorf("envelope is %d bytes, over the %d byte limit", len(b), MaxEnvelopeBytes)
	}
	e := envelopes.Get().(*Envelope)
	e.released = false
	root, err := e.doc.Parse(b)
	if err != nil {
		e.Release()
		return nil, fmt.Errorf("envelope is not valid JSON: %w", err)
	}
	if root.Kind() != jsonx.Object {
		e.Release()
		return nil, fmt.Errorf("envelope is a JSON %s, not an object", root.Kind())
	}
	var errs []error
	str := func(name string, v jsonx.Value, dst *string) {
		switch v.Kind() {
		case jsonx.String:
			*dst = v.Str()
		case jsonx.Null: // as encoding/json: leaves the field empty
		default:
			errs = append(errs, fmt.Errorf("%s is a JSON %s, want a string", name, v.Kind()))
		}
	}
	num := func(name string, v jsonx.Value, dst *int) {
		if v.Kind() == jsonx.Null {
			return
		}
		n, ok := v.Int()
		if !ok || n != int64(int(n)) {
			errs = append(errs, fmt.Errorf("%s is not an integer", name))
			return
		}
		*dst = int(n)
	}
	root.Each(func(k string, v jsonx.Value) bool {
		switch k {
		case "v":
			num(k, v, &e.V)
		case "id":
			str(k, v, &e.ID)
		case "provider":
			str(k, v, &e.Provider)
		case "tenant":
			str(k, v, &e.Tenant)
		case "entity":
			str(k, v, &e.Entity)
		case "entity_name":
			str(k, v, &e.EntityName)
		case "poller":
			str(k, v, &e.Poller)
		case "occurrence":
			num(k, v, &e.Occurrence)
		case "content_type":
			str(k, v, &e.ContentType)
		case "zone":
			str(k, v, &e.Zone)
		case "fetched_at":
			var s string
			if str(k, v, &s); s != "" {
				t, err := time.Parse(time.RFC3339, s)
				if err != nil {
					errs = append(errs, fmt.Errorf("fetched_at: %w", err))
				}
				e.FetchedAt = t
			}
		case "record":
			e.Record, e.rec = v.Raw(), v
		default:
			errs = append(errs, fmt.Errorf("unknown field %q", k))
		}
		return true
	})
	if len(errs) > 0 {
		e.Release()
		return nil, fmt.Errorf("envelope is not of the v1 shape: %w", errors.Join(errs...))
	}
	if err := e.Check(); err != nil {
		e.Release()
		return nil, err
	}
	return e, nil
}

// envelopes are DecodeEnvelope's envelopes, each with its parse index.
var envelopes = sync.Pool{New: func() any { return &Envelope{doc: new(jsonx.Doc)} }}

// Release gives an envelope of DecodeEnvelope and its parse index back for reuse; the
// envelope must not be used afterwards (the strings read from it stay valid: they alias
// the decoded bytes). Calling it is optional; on an envelope built in code it does nothing.
func (e *Envelope) Release() {
	if e.doc != nil && !e.released {
		*e = Envelope{doc: e.doc, released: true}
		envelopes.Put(e)
	}
}

// RecordValue is the parsed entry of a decoded envelope (a missing Value for an envelope
// built in code).
func (e *Envelope) RecordValue() jsonx.Value { return e.rec }

// Check validates the envelope's fields.
func (e *Envelope) Check() error {
	var errs []error
	if e.V != 1 {
		errs = append(errs, fmt.Errorf("v=%d, want 1", e.V))
	}
	if len(e.ID) != 64 || !isHex(e.ID) {
		errs = append(errs, fmt.Errorf("id %q is not 64 hex characters", e.ID))
	}
	if !validProvider(e.Provider) && e.Provider != "" {
		errs = append(errs, fmt.Errorf("provider %q is not lower-case letters, digits, '_' and '-'", e.Provider))
	}
	for _, f := range [...]struct{ name, v string }{{"provider", e.Provider}, {"tenant", e.Tenant}, {"entity", e.Entity}, {"poller", e.Poller}} {
		if f.v == "" {
			errs = append(errs, fmt.Errorf("%s is empty", f.name))
		}
	}
	if e.Occurrence < 1 {
		errs = append(errs, fmt.Errorf("occurrence=%d, want >= 1", e.Occurrence))
	}
	if e.FetchedAt.IsZero() {
		errs = append(errs, errors.New("fetched_at is missing"))
	}
	if e.Zone != "" && !validZoneName(e.Zone) {
		errs = append(errs, fmt.Errorf("zone %q is not an IANA time zone name", e.Zone))
	}
	switch e.ContentType {
	case ContentJSON:
		if len(e.Record) == 0 || !e.rec.Exists() && !json.Valid(e.Record) {
			errs = append(errs, errors.New("record is missing"))
		}
	case ContentXML:
		if s, err := e.XML(); err != nil || s == "" {
			errs = append(errs, errors.New("record of an application/xml envelope must be a non-empty JSON string"))
		}
	default:
		errs = append(errs, fmt.Errorf("content_type %q is not application/json or application/xml", e.ContentType))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid envelope: %w", errors.Join(errs...))
	}
	return nil
}

// XML returns the XML text of an application/xml envelope.
func (e *Envelope) XML() (string, error) {
	if e.xml != "" {
		return e.xml, nil
	}
	if e.rec.Exists() {
		if e.rec.Kind() != jsonx.String {
			return "", fmt.Errorf("xml record is a JSON %s, not a string", e.rec.Kind())
		}
		e.xml = e.rec.Str()
		return e.xml, nil
	}
	var s string
	if err := json.Unmarshal(e.Record, &s); err != nil {
		return "", fmt.Errorf("xml record: %w", err)
	}
	return s, nil
}

// validProvider: ^[a-z0-9][a-z0-9_-]*$ (as envelope.schema.json says).
func validProvider(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '-')) {
			return false
		}
	}
	return s != ""
}

// validZoneName: ^[A-Za-z][A-Za-z0-9_+/-]*$, at most 64 characters (as envelope.schema.json
// says): the shape of an IANA zone name. Whether the zone exists is the normalizer's
// question (loading a zone reads the zone database).
func validZoneName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '+' || c == '-' || c == '/')) {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// FingerprintText is the fingerprint of a non-JSON entry (XML text): SHA-256 hex of its bytes.
func FingerprintText(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Encode writes the envelope with Record byte for byte as received. (json.Marshal would
// compact and HTML-escape a RawMessage, and compacts a MarshalJSON result too, so the
// value written to Kafka is built here.) Record must be valid JSON.
func (e *Envelope) Encode() ([]byte, error) {
	rec := bytes.TrimSpace(e.Record)
	if !json.Valid(rec) {
		return nil, errors.New("envelope record is not valid JSON")
	}
	h := *e
	h.Record = nil // omitted here, appended verbatim below
	h.FetchedAt = h.FetchedAt.UTC()
	head, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(head)+len(rec)+12)
	out = append(out, head[:len(head)-1]...)
	out = append(out, `,"record":`...)
	out = append(out, rec...)
	return append(out, '}'), nil
}

// normalizeNumbers rewrites every number of a decoded JSON value (UseNumber) to one
// spelling: the exact value in plain decimal notation without trailing zeros. Numbers
// with an exponent beyond ±1000 keep their text (no huge allocations on hostile input).
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
	case json.Number:
		return json.Number(canonicalNumber(string(x)))
	}
	return v
}

func canonicalNumber(s string) string {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || exp > 1000 || exp < -1000 {
			return s
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return s
	}
	if r.IsInt() {
		return r.Num().String()
	}
	// A decimal literal's denominator is 2^a·5^b: BitLen digits are always enough.
	return strings.TrimRight(r.FloatString(r.Denom().BitLen()), "0")
}
