// Package loki is the Grafana Loki sink: it pushes events to /loki/api/v1/push (JSON),
// one stream per (provider, class_uid[, tenant]) plus configured static labels, each
// stream's entries sorted by event time, with the event id and the actor as structured
// metadata where the Loki supports it. Delivery is at-least-once (see README.md).
package loki

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/internal/transport"
	"github.com/auditstream/auditstream/sinks/projection"
	"github.com/auditstream/auditstream/sinks/projection/body"
	"github.com/auditstream/auditstream/sinks/projection/ecs"
)

// Structured metadata modes.
const (
	MetadataAuto = "auto" // on for Loki 3 and later (asked at /loki/api/v1/status/buildinfo), off when Loki refuses it
	MetadataOn   = "on"
	MetadataOff  = "off"
)

// Settings of a loki sink (`type: loki`).
type Settings struct {
	// URL is the base URL of Loki (or of its gateway), e.g. http://loki:3100.
	URL string `yaml:"url"`
	// TenantID is sent as X-Scope-OrgID (multi-tenant Loki).
	TenantID string `yaml:"tenant_id"`
	// Username and Password for basic auth; or BearerToken.
	Username    string        `yaml:"username"`
	Password    config.Secret `yaml:"password"`
	BearerToken config.Secret `yaml:"bearer_token"`
	// Format of the log line: ocsf (default), ecs or cef.
	Format       body.Format `yaml:"format"`
	ECSOCSFField string      `yaml:"ecs_ocsf_field"`
	// TenantLabel adds the tenant as a stream label (only with a bounded number of tenants:
	// every label value makes new streams).
	TenantLabel bool `yaml:"tenant_label"`
	// Labels are static stream labels added to every stream (job, env, ...).
	Labels map[string]string `yaml:"labels"`
	// StructuredMetadata: auto (default), on or off. See README.md.
	StructuredMetadata string `yaml:"structured_metadata"`
	// max_request_bytes splits larger pushes (default 4 MiB; Loki's gRPC limit is about
	// 4 MiB); timeout (default 30s); tls.
	transport.HTTPSettings `yaml:",inline"`
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Stream label names the sink sets itself.
const (
	LabelProvider = "provider"
	LabelClass    = "class_uid"
	LabelTenant   = "tenant"
)

// SetDefaults fills unset fields.
func (s *Settings) SetDefaults() {
	if s.Format == "" {
		s.Format = body.OCSF
	}
	if s.StructuredMetadata == "" {
		s.StructuredMetadata = MetadataAuto
	}
	s.HTTPSettings.SetDefaults(4 << 20)
}

// Validate records every problem of the block.
func (s *Settings) Validate(path string, p *config.Problems) {
	s.PlainHTTP.Check(path, p, s.endpoint())
	if u, err := url.Parse(s.URL); err == nil && u.User != nil {
		p.Add(path+".url", "must not hold credentials (use username/password or bearer_token)")
	}
	s.Format.Check(path+".format", p, body.OCSF, body.ECS, body.CEF)
	if err := (ecs.Options{OCSFField: s.ECSOCSFField}).Validate(); err != nil {
		p.Add(path+".ecs_ocsf_field", "%v", err)
	}
	for k := range s.Labels {
		if !labelName.MatchString(k) || strings.HasPrefix(k, "__") {
			p.Add(path+".labels."+k, "is not a valid Loki label name")
		}
		if k == LabelProvider || k == LabelClass || k == LabelTenant {
			p.Add(path+".labels."+k, "is set by the sink itself")
		}
	}
	switch s.StructuredMetadata {
	case MetadataAuto, MetadataOn, MetadataOff:
	default:
		p.Add(path+".structured_metadata", "%q is not auto, on or off", s.StructuredMetadata)
	}
	if s.Password != "" && s.Username == "" {
		p.Add(path+".username", "is required with password")
	}
	if s.Password != "" && s.BearerToken != "" {
		p.Add(path+".bearer_token", "basic auth and a bearer token exclude each other")
	}
	s.HTTPSettings.Validate(path, p)
}

// endpoint is Loki's URL; the basic-auth password or the bearer token, when set, travels
// with every push.
func (s *Settings) endpoint() config.Endpoint {
	e := config.Endpoint{Key: "url", URL: s.URL, Form: "https://loki.example.com:3100"}
	if s.Password != "" || s.BearerToken != "" {
		e.Carries = "the basic-auth password or bearer token"
	}
	return e
}

// InsecureTransport implements config.InsecureTransport.
func (s *Settings) InsecureTransport() []string { return s.Insecure(s.endpoint()) }

// Plugin registers the loki sink type.
var Plugin = sinks.Define[Settings]("loki", Open)

// Sink pushes to Loki.
type Sink struct {
	transport.Conn
	s    Settings
	push string

	metaMu sync.Mutex
	meta   int32 // 0 unknown (auto), 1 on, 2 off
}

// Open builds the sink.
func Open(name string, s *Settings, d sinks.Deps) (sinks.Sink, error) {
	c, err := transport.NewConn("loki", name, &s.HTTPSettings, d.Log)
	if err != nil {
		return nil, err
	}
	k := &Sink{Conn: c, s: *s,
		push: strings.TrimRight(s.URL, "/") + "/loki/api/v1/push"}
	switch s.StructuredMetadata {
	case MetadataOn:
		k.meta = 1
	case MetadataOff:
		k.meta = 2
	}
	return k, nil
}

// Guarantee: Loki has no idempotency key (see README.md).
func (k *Sink) Guarantee() sinks.Guarantee { return sinks.AtLeastOnce }

type entry struct {
	i    int // index in the batch
	ts   int64
	line []byte
	meta map[string]string
}

type stream struct {
	labels  map[string]string
	entries []entry
}

// Write groups the batch into streams, sorts each stream by time and pushes each stream.
func (k *Sink) Write(ctx context.Context, batch []sinks.Event, res []sinks.ItemResult) error {
	meta, err := k.metadataOn(ctx)
	if err != nil {
		return err
	}
	streams := map[string]*stream{}
	var order []string
	for i, ev := range batch {
		line, err := k.s.Format.Append(nil, ev, ecs.Options{OCSFField: k.s.ECSOCSFField})
		if err != nil {
			res[i] = sinks.ItemResult{Status: sinks.Reject, Reason: "projection", Err: err}
			continue
		}
		var v *projection.View
		if meta || ev.Time.IsZero() {
			v, _ = projection.Decode(ev)
		}
		t, ok := entryTime(ev, v)
		if !ok {
			res[i] = sinks.ItemResult{Status: sinks.Reject, Reason: "no_time",
				Err: fmt.Errorf("event %s has neither a ce_time header nor an OCSF time", ev.ID)}
			continue
		}
		e := entry{i: i, ts: t.UnixNano(), line: line}
		if meta {
			e.meta = map[string]string{"event_id": ev.ID}
			if v != nil && v.ActorName() != "" {
				e.meta["actor"] = v.ActorName()
			}
		}
		key := ev.Provider + "\x00" + strconv.Itoa(ev.ClassUID)
		if k.s.TenantLabel {
			key += "\x00" + ev.Tenant
		}
		st := streams[key]
		if st == nil {
			st = &stream{labels: k.labels(ev)}
			streams[key] = st
			order = append(order, key)
		}
		st.entries = append(st.entries, e)
	}
	for _, key := range order {
		st := streams[key]
		// Loki keeps a stream in time order: with ordered writes it refuses an entry older
		// than the stream's newest, and even unordered writes only accept a window.
		slices.SortStableFunc(st.entries, func(a, b entry) int { return cmpInt(a.ts, b.ts) })
		if err := k.pushStream(ctx, st.labels, st.entries, res); err != nil {
			return err
		}
	}
	return nil
}

// entryTime is the entry's timestamp: the record's routing time (ce_time), else the OCSF
// time of the event (v, decoded by the caller when the routing time is missing). It must
// be the same on every delivery of the event: Loki drops an entry identical to one it
// holds (same stream, timestamp and line), which is what keeps a redelivery from being
// stored twice. An event with neither time is not pushed (ok false).
func entryTime(ev sinks.Event, v *projection.View) (t time.Time, ok bool) {
	if !ev.Time.IsZero() {
		return ev.Time, true
	}
	if v == nil || v.Time <= 0 {
		return time.Time{}, false
	}
	return projection.Time(ev, v), true
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (k *Sink) labels(ev sinks.Event) map[string]string {
	l := make(map[string]string, len(k.s.Labels)+3)
	for n, v := range k.s.Labels {
		l[n] = v
	}
	l[LabelProvider] = ev.Provider
	l[LabelClass] = strconv.Itoa(ev.ClassUID)
	if k.s.TenantLabel {
		l[LabelTenant] = ev.Tenant
	}
	return l
}

type pushBody struct {
	Streams []pushStream `json:"streams"`
}

type pushStream struct {
	Stream map[string]string `json:"stream"`
	Values [][]any           `json:"values"`
}

func encode(labels map[string]string, es []entry) ([]byte, error) {
	ps := pushStream{Stream: labels, Values: make([][]any, len(es))}
	for j, e := range es {
		v := []any{strconv.FormatInt(e.ts, 10), string(e.line)}
		if e.meta != nil {
			v = append(v, e.meta)
		}
		ps.Values[j] = v
	}
	return json.Marshal(pushBody{Streams: []pushStream{ps}})
}

// pushStream pushes entries of one stream and fills their results. A whole-request failure
// that a retry may fix is returned; a refusal of some entries is recorded per entry
// (found in Loki's answer, or isolated by splitting the request).
func (k *Sink) pushStream(ctx context.Context, labels map[string]string, es []entry, res []sinks.ItemResult) error {
	b, err := encode(labels, es)
	if err != nil {
		return err
	}
	if len(b) > k.s.MaxRequestBytes && len(es) > 1 {
		return k.split(ctx, labels, es, res)
	}
	code, msg, header, err := k.post(ctx, b)
	if err != nil {
		return err
	}
	if err := transport.Redirect(code, "loki sink "+k.SinkName+": push", k.s.URL); err != nil {
		return err
	}
	switch {
	case code/100 == 2:
		for _, e := range es {
			res[e.i] = sinks.ItemResult{Status: sinks.Written}
		}
		return nil
	case code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusNotFound:
		return sinks.Fatal(fmt.Errorf("loki sink %s: push to %s: HTTP %d: %s", k.SinkName, k.push, code, msg))
	case code == http.StatusRequestEntityTooLarge:
		if len(es) > 1 {
			return k.split(ctx, labels, es, res)
		}
		res[es[0].i] = sinks.ItemResult{Status: sinks.Reject, Reason: "too_large", Err: fmt.Errorf("loki: HTTP 413: %s", msg)}
		return nil
	case code == http.StatusBadRequest:
		if strings.Contains(msg, "structured metadata") && strings.Contains(msg, "disallowed") && es[0].meta != nil && k.s.StructuredMetadata == MetadataAuto {
			k.setMetadata(false, "Loki refuses structured metadata: event id and actor stay in the log line only")
			for j := range es {
				es[j].meta = nil
			}
			return k.pushStream(ctx, labels, es, res)
		}
		if ok, unsure := k.ignoredEntries(msg, es, res); ok {
			// Entries that share a refused timestamp with others: Loki names the refused
			// entry by its timestamp only, so each is pushed again alone. The one written
			// the first time is an identical entry now (Loki drops it and answers 2xx);
			// the refused one is refused again, by itself.
			for _, e := range unsure {
				if err := k.pushStream(ctx, labels, []entry{e}, res); err != nil {
					return err
				}
			}
			return nil
		}
		// Refused without naming the entries: the runner bisects the batch down to them.
		return sinks.RejectBatch(reason400(msg), fmt.Errorf("loki sink %s: push: HTTP 400: %s", k.SinkName, msg))
	}
	// 429 (rate limited), 5xx and anything else: retry the batch later, and not before a
	// Retry-After when the answer has one (a gateway in front of Loki may send it).
	return transport.RetryLater(fmt.Errorf("loki sink %s: push to %s: HTTP %d: %s", k.SinkName, k.push, code, msg), header)
}

func (k *Sink) split(ctx context.Context, labels map[string]string, es []entry, res []sinks.ItemResult) error {
	h := len(es) / 2
	if err := k.pushStream(ctx, labels, es[:h], res); err != nil {
		return err
	}
	return k.pushStream(ctx, labels, es[h:], res)
}

// reason400 is a bounded reason for an entry Loki refused.
func reason400(msg string) string {
	switch {
	case strings.Contains(msg, "out of order"):
		return "out_of_order"
	case strings.Contains(msg, "too far behind"):
		return "too_far_behind"
	case strings.Contains(msg, "timestamp too old"), strings.Contains(msg, "timestamp too new"):
		return "timestamp"
	case strings.Contains(msg, "line too long"), strings.Contains(msg, "too large"):
		return "too_large"
	}
	return "invalid"
}

var ignoredRE = regexp.MustCompile(`entry with timestamp (.+?) ignored, reason: '([^']*)'`)

// ignoredEntries reads the ingester's list of refused entries ("entry with timestamp T
// ignored, reason: 'R'", one line per refused entry): every other entry of the request was
// written. Loki names a refused entry by its timestamp only; when a timestamp is named as
// often as es has entries with it, those entries are rejected. When fewer are named than
// share it (several events of one stream in the same nanosecond, only some refused), which
// ones were refused is unknown: those entries are returned as unsure, their results left
// for the caller to find out. It reports false when msg has no such list, names no entry
// of es, or is cut short.
func (k *Sink) ignoredEntries(msg string, es []entry, res []sinks.ItemResult) (bool, []entry) {
	ms := ignoredRE.FindAllStringSubmatch(msg, -1)
	if len(ms) == 0 || !strings.Contains(msg, "total ignored") {
		return false, nil
	}
	type refusal struct {
		n      int // how often the timestamp is named
		reason string
	}
	bad := map[int64]*refusal{}
	for _, m := range ms {
		t, err := time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", m[1])
		if err != nil {
			return false, nil
		}
		r := bad[t.UnixNano()]
		if r == nil {
			r = &refusal{reason: m[2]}
			bad[t.UnixNano()] = r
		}
		r.n++
	}
	// The list may be cut short (the ingester's max_returned_stream_errors): when it names
	// fewer entries than "total ignored", entries not named are not known to be written.
	var total, of int
	if i := strings.Index(msg, "total ignored: "); i >= 0 {
		_, _ = fmt.Sscanf(msg[i:], "total ignored: %d out of %d", &total, &of)
	}
	if len(ms) < total {
		return false, nil
	}
	sharing := map[int64]int{} // entries of es per refused timestamp
	for _, e := range es {
		if _, ok := bad[e.ts]; ok {
			sharing[e.ts]++
		}
	}
	if len(sharing) == 0 {
		return false, nil
	}
	var unsure []entry
	for _, e := range es {
		r, ok := bad[e.ts]
		switch {
		case !ok:
			res[e.i] = sinks.ItemResult{Status: sinks.Written}
		case r.n >= sharing[e.ts]:
			res[e.i] = sinks.ItemResult{Status: sinks.Reject, Reason: reason400(r.reason), Err: fmt.Errorf("loki refused the entry: %s", r.reason)}
		default:
			unsure = append(unsure, e)
		}
	}
	return true, unsure
}

func (k *Sink) request(ctx context.Context, method, target string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if k.s.TenantID != "" {
		req.Header.Set("X-Scope-OrgID", k.s.TenantID)
	}
	switch {
	case k.s.Username != "":
		req.SetBasicAuth(k.s.Username, k.s.Password.Reveal())
	case k.s.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+k.s.BearerToken.Reveal())
	}
	return req, nil
}

// post sends one push; it returns the status, the start of the answer and its headers.
func (k *Sink) post(ctx context.Context, b []byte) (int, string, http.Header, error) {
	req, err := k.request(ctx, http.MethodPost, k.push, b)
	if err != nil {
		return 0, "", nil, err
	}
	resp, err := k.HC.Do(req)
	if err != nil {
		return 0, "", nil, fmt.Errorf("loki sink %s: push to %s: %w", k.SinkName, k.push, transport.Unwrap(err))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(msg)), resp.Header, nil
}

// metadataOn reports whether entries carry structured metadata, asking Loki's build info
// once in auto mode (Loki 3 and later support it).
func (k *Sink) metadataOn(ctx context.Context) (bool, error) {
	k.metaMu.Lock()
	m := k.meta
	k.metaMu.Unlock()
	if m != 0 {
		return m == 1, nil
	}
	req, err := k.request(ctx, http.MethodGet, strings.TrimRight(k.s.URL, "/")+"/loki/api/v1/status/buildinfo", nil)
	if err != nil {
		return false, err
	}
	resp, err := k.HC.Do(req)
	if err != nil {
		return false, fmt.Errorf("loki sink %s: build info: %w", k.SinkName, transport.Unwrap(err))
	}
	defer resp.Body.Close()
	var bi struct {
		Version string `json:"version"`
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return false, sinks.Fatal(fmt.Errorf("loki sink %s: build info: HTTP %d", k.SinkName, resp.StatusCode))
	}
	if err := transport.Redirect(resp.StatusCode, "loki sink "+k.SinkName+": build info", k.s.URL); err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&bi) != nil {
		// A gateway may hide the endpoint: try structured metadata; a refusal turns it off.
		k.setMetadata(true, "Loki build info unavailable: sending structured metadata")
		return true, nil
	}
	major, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(bi.Version, "v"), ".", 2)[0])
	switch {
	case err != nil:
		// A build without a version (built from source): try; a refusal turns it off.
		k.setMetadata(true, "Loki reports no version: sending structured metadata")
		return true, nil
	case major >= 3:
		k.setMetadata(true, "Loki "+bi.Version+" supports structured metadata")
		return true, nil
	}
	k.setMetadata(false, "Loki "+bi.Version+" predates structured metadata: event id and actor stay in the log line only")
	return false, nil
}

func (k *Sink) setMetadata(on bool, why string) {
	k.metaMu.Lock()
	defer k.metaMu.Unlock()
	k.meta = 2
	if on {
		k.meta = 1
	}
	k.Log.Info("loki structured metadata", "on", on, "why", why)
}

// Ping asks Loki whether it is ready.
func (k *Sink) Ping(ctx context.Context) error {
	req, err := k.request(ctx, http.MethodGet, strings.TrimRight(k.s.URL, "/")+"/ready", nil)
	if err != nil {
		return err
	}
	return transport.Ping(k.HC, req, "loki sink "+k.SinkName+": /ready")
}

// Close releases idle connections.
