// Package elasticsearch is the Elasticsearch / OpenSearch sink: `_bulk` NDJSON with one
// `create` action per event and `_id` = the event id, so a redelivered event answers 409
// and is counted as already there. Per-item answers map to written, duplicate, retry
// (429, 5xx) and reject (mapping errors); bad credentials or a missing permission are
// fatal. The body is the ECS projection (default) or the OCSF event; the target is an
// index name templated by event date, or a data stream.
package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/internal/transport"
	"github.com/auditstream/auditstream/sinks/projection/body"
	"github.com/auditstream/auditstream/sinks/projection/ecs"
)

// Settings of an elasticsearch sink (`type: elasticsearch`; OpenSearch speaks the same
// API).
type Settings struct {
	// URLs of the cluster's HTTP endpoints; the sink moves to the next on a network error.
	URLs []string `yaml:"urls"`
	// Index is the target index name, with %Y %m %d %H (event time, UTC) and %{provider}
	// expanded: "auditstream-%Y.%m.%d" (default). With DataStream it is the data stream name.
	Index string `yaml:"index"`
	// DataStream: Index names a data stream (an index template with data_stream must match
	// it). Documents then carry @timestamp (ECS does; OCSF bodies get it added).
	DataStream bool `yaml:"data_stream"`
	// Body: ecs (default) or ocsf.
	Body         body.Format `yaml:"body"`
	ECSOCSFField string      `yaml:"ecs_ocsf_field"`
	// APIKey is the base64 "id:key" credential (Authorization: ApiKey ...); or basic auth.
	APIKey   config.Secret `yaml:"api_key"`
	Username string        `yaml:"username"`
	Password config.Secret `yaml:"password"`
	// max_request_bytes splits larger bulk requests (default 5 MiB); timeout (default
	// 30s); tls.
	transport.HTTPSettings `yaml:",inline"`
}

var indexRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._+-]*$`)

// SetDefaults fills unset fields.
func (s *Settings) SetDefaults() {
	if s.Index == "" {
		s.Index = "auditstream-%Y.%m.%d"
	}
	if s.Body == "" {
		s.Body = body.ECS
	}
	s.HTTPSettings.SetDefaults(5 << 20)
}

// Validate records every problem of the block.
func (s *Settings) Validate(path string, p *config.Problems) {
	if len(s.URLs) == 0 {
		p.Add(path+".urls", "is required")
	}
	s.PlainHTTP.Check(path, p, s.endpoints()...)
	for i, u := range s.URLs {
		if pu, err := url.Parse(u); err == nil && pu.User != nil {
			p.Add(fmt.Sprintf("%s.urls[%d]", path, i), "must not hold credentials (use api_key or username/password)")
		}
	}
	rest := strings.NewReplacer("%Y", "0", "%m", "0", "%d", "0", "%H", "0", "%{provider}", "p").Replace(s.Index)
	switch {
	case strings.ContainsAny(rest, "%{}"):
		p.Add(path+".index", "%q has an unknown placeholder (known: %%Y %%m %%d %%H %%{provider})", s.Index)
	case !indexRE.MatchString(rest):
		p.Add(path+".index", "%q is not a valid lower-case index name", s.Index)
	}
	s.Body.Check(path+".body", p, body.ECS, body.OCSF)
	if err := (ecs.Options{OCSFField: s.ECSOCSFField}).Validate(); err != nil {
		p.Add(path+".ecs_ocsf_field", "%v", err)
	}
	if s.APIKey != "" && (s.Username != "" || s.Password != "") {
		p.Add(path+".api_key", "api_key and username/password exclude each other")
	}
	if (s.Username == "") != (s.Password == "") {
		p.Add(path+".username", "username and password go together")
	}
	s.HTTPSettings.Validate(path, p)
}

// endpoints are the cluster's URLs; the api_key or the basic-auth password travels with
// every request to them.
func (s *Settings) endpoints() []config.Endpoint {
	carries := ""
	switch {
	case s.APIKey != "":
		carries = "the api_key"
	case s.Username != "":
		carries = "the basic-auth password"
	}
	eps := make([]config.Endpoint, len(s.URLs))
	for i, u := range s.URLs {
		eps[i] = config.Endpoint{Key: fmt.Sprintf("urls[%d]", i), URL: u, Carries: carries, Form: "https://es.example.com:9200"}
	}
	return eps
}

// InsecureTransport implements config.InsecureTransport.
func (s *Settings) InsecureTransport() []string { return s.Insecure(s.endpoints()...) }

// Plugin registers the elasticsearch sink type.
var Plugin = sinks.Define[Settings]("elasticsearch", Open)

// Sink writes to Elasticsearch or OpenSearch.
type Sink struct {
	transport.Conn
	s   Settings
	cur atomic.Int32 // index into s.URLs of the endpoint in use
}

// Open builds the sink.
func Open(name string, s *Settings, d sinks.Deps) (sinks.Sink, error) {
	c, err := transport.NewConn("elasticsearch", name, &s.HTTPSettings, d.Log)
	if err != nil {
		return nil, err
	}
	return &Sink{Conn: c, s: *s}, nil
}

// Guarantee: create with _id = event id keeps one document per id in an index. A data
// stream only deduplicates within its current backing index: after a rollover a
// redelivered event is stored again, so data streams are at-least-once.
func (k *Sink) Guarantee() sinks.Guarantee {
	if k.s.DataStream {
		return sinks.AtLeastOnce
	}
	return sinks.EffectivelyOnce
}

// IndexFor expands the index template for ev.
func (k *Sink) IndexFor(ev sinks.Event) string {
	return indexName(k.s.Index, ev)
}

func indexName(tmpl string, ev sinks.Event) string {
	if !strings.Contains(tmpl, "%") {
		return tmpl
	}
	t := ev.Time.UTC()
	return strings.NewReplacer(
		"%Y", fmt.Sprintf("%04d", t.Year()), "%m", fmt.Sprintf("%02d", int(t.Month())),
		"%d", fmt.Sprintf("%02d", t.Day()), "%H", fmt.Sprintf("%02d", t.Hour()),
		"%{provider}", strings.ToLower(ev.Provider),
	).Replace(tmpl)
}

type item struct {
	i     int
	lines []byte // action line + document line
}

// Write sends the batch as one or more _bulk requests.
func (k *Sink) Write(ctx context.Context, batch []sinks.Event, res []sinks.ItemResult) error {
	var items []item
	for i, ev := range batch {
		b, err := k.encode(ev)
		if err != nil {
			res[i] = sinks.ItemResult{Status: sinks.Reject, Reason: "projection", Err: err}
			continue
		}
		items = append(items, item{i, b})
	}
	for len(items) > 0 {
		n, size := 1, len(items[0].lines)
		for n < len(items) && size+len(items[n].lines) <= k.s.MaxRequestBytes {
			size += len(items[n].lines)
			n++
		}
		if err := k.bulk(ctx, items[:n], res); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

func (k *Sink) encode(ev sinks.Event) ([]byte, error) {
	action := struct {
		Create struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		} `json:"create"`
	}{}
	action.Create.Index, action.Create.ID = k.IndexFor(ev), ev.ID
	b, err := json.Marshal(action)
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	doc := len(b)
	b, err = k.s.Body.Append(b, ev, ecs.Options{OCSFField: k.s.ECSOCSFField})
	if err != nil {
		return nil, err
	}
	if k.s.DataStream && k.s.Body == body.OCSF && len(b) > doc+1 && b[doc] == '{' {
		// A data stream needs @timestamp; the OCSF event has time in epoch ms only.
		ts := `{"@timestamp":"` + ev.Time.UTC().Format("2006-01-02T15:04:05.000Z") + `"`
		if b[doc+1] != '}' {
			ts += ","
		}
		b = append(b[:doc], append([]byte(ts), b[doc+1:]...)...)
	}
	return append(b, '\n'), nil
}

// bulkAnswer is the part of a _bulk answer the sink reads.
type bulkAnswer struct {
	Errors bool                         `json:"errors"`
	Items  []map[string]bulkItemOutcome `json:"items"`
}

type bulkItemOutcome struct {
	Status int `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

func (k *Sink) bulk(ctx context.Context, items []item, res []sinks.ItemResult) error {
	var buf bytes.Buffer
	for _, it := range items {
		buf.Write(it.lines)
	}
	status, raw, header, err := k.post(ctx, "/_bulk?filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason", buf.Bytes())
	if err != nil {
		return err
	}
	if err := transport.Redirect(status, "elasticsearch sink "+k.SinkName+": _bulk", k.s.URLs[k.cur.Load()]); err != nil {
		return err
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return sinks.Fatal(fmt.Errorf("elasticsearch sink %s: _bulk: HTTP %d: %s", k.SinkName, status, brief(raw)))
	case status == http.StatusBadRequest:
		// A request the cluster cannot read as a whole: the runner bisects it down to the
		// event that causes it.
		return sinks.RejectBatch("invalid", fmt.Errorf("elasticsearch sink %s: _bulk: HTTP 400: %s", k.SinkName, brief(raw)))
	case status == http.StatusRequestEntityTooLarge:
		// Larger than the cluster's http.max_content_length: send it in halves; a single
		// event too large is rejected.
		if len(items) > 1 {
			h := len(items) / 2
			if err := k.bulk(ctx, items[:h], res); err != nil {
				return err
			}
			return k.bulk(ctx, items[h:], res)
		}
		res[items[0].i] = sinks.ItemResult{Status: sinks.Reject, Reason: "too_large", Err: fmt.Errorf("_bulk: HTTP 413: %s", brief(raw))}
		return nil
	case status == http.StatusNotFound:
		return sinks.Fatal(fmt.Errorf("elasticsearch sink %s: _bulk: HTTP 404 (wrong URL?): %s", k.SinkName, brief(raw)))
	case status != http.StatusOK:
		// 429 (the cluster's write queue is full, es_rejected_execution_exception), 5xx:
		// retried, and not before a Retry-After when the answer has one (Elasticsearch
		// sends none itself; a proxy or a hosted service in front of it may).
		return transport.RetryLater(fmt.Errorf("elasticsearch sink %s: _bulk: HTTP %d: %s", k.SinkName, status, brief(raw)), header)
	}
	var ans bulkAnswer
	if err := json.Unmarshal(raw, &ans); err != nil {
		return fmt.Errorf("elasticsearch sink %s: _bulk answer is not JSON: %w", k.SinkName, err)
	}
	if len(ans.Items) != len(items) {
		return fmt.Errorf("elasticsearch sink %s: _bulk answered %d items for %d actions", k.SinkName, len(ans.Items), len(items))
	}
	asked := transport.AskedWait(header)
	var fatal error
	for j, m := range ans.Items {
		var o bulkItemOutcome
		for _, v := range m {
			o = v
		}
		r := &res[items[j].i]
		errText := ""
		if o.Error != nil {
			errText = o.Error.Type + ": " + o.Error.Reason
		}
		switch {
		case o.Status == http.StatusCreated || o.Status == http.StatusOK:
			*r = sinks.ItemResult{Status: sinks.Written}
		case o.Status == http.StatusConflict:
			*r = sinks.ItemResult{Status: sinks.Duplicate}
		case o.Status == http.StatusTooManyRequests:
			*r = sinks.ItemResult{Status: sinks.Retry, Reason: "rate_limited", Err: errors.New(errText), RetryAfter: asked}
		case o.Status == http.StatusUnauthorized || o.Status == http.StatusForbidden:
			fatal = fmt.Errorf("elasticsearch sink %s: no permission to write %s: %s", k.SinkName, k.s.Index, errText)
		case o.Status == http.StatusNotFound:
			// index_not_found: automatic index creation is off, or no template matches the
			// data stream.
			fatal = fmt.Errorf("elasticsearch sink %s: cannot write %s: %s", k.SinkName, k.s.Index, errText)
		case o.Status >= 500:
			*r = sinks.ItemResult{Status: sinks.Retry, Reason: "unavailable", Err: errors.New(errText), RetryAfter: asked}
		default:
			reason := "rejected"
			if o.Error != nil && (strings.Contains(o.Error.Type, "mapper") || strings.Contains(o.Error.Type, "parsing")) {
				reason = "mapping"
			}
			*r = sinks.ItemResult{Status: sinks.Reject, Reason: reason, Err: fmt.Errorf("HTTP %d %s", o.Status, errText)}
		}
	}
	if fatal != nil {
		return sinks.Fatal(fatal)
	}
	return nil
}

func brief(b []byte) string {
	if len(b) > 300 {
		b = b[:300]
	}
	return strings.TrimSpace(string(b))
}

// post sends a request to the current URL, moving to the next URL on a network error.
func (k *Sink) post(ctx context.Context, path string, body []byte) (int, []byte, http.Header, error) {
	var last error
	for range k.s.URLs {
		cur := int(k.cur.Load())
		base := strings.TrimRight(k.s.URLs[cur], "/")
		status, raw, header, err := k.do(ctx, http.MethodPost, base+path, body)
		if err == nil {
			return status, raw, header, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
		k.cur.CompareAndSwap(int32(cur), int32((cur+1)%len(k.s.URLs)))
	}
	return 0, nil, nil, last
}

// do sends one request; it returns the status, the answer and its headers.
func (k *Sink) do(ctx context.Context, method, target string, body []byte) (int, []byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	switch {
	case k.s.APIKey != "":
		req.Header.Set("Authorization", "ApiKey "+k.s.APIKey.Reveal())
	case k.s.Username != "":
		req.SetBasicAuth(k.s.Username, k.s.Password.Reveal())
	}
	resp, err := k.HC.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("elasticsearch sink %s: %s %s: %w", k.SinkName, method, target, transport.Unwrap(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("elasticsearch sink %s: read answer of %s: %w", k.SinkName, target, err)
	}
	return resp.StatusCode, raw, resp.Header, nil
}

// Ping asks the cluster's root endpoint; bad credentials are reported as such.
func (k *Sink) Ping(ctx context.Context) error {
	base := strings.TrimRight(k.s.URLs[k.cur.Load()], "/")
	status, _, _, err := k.do(ctx, http.MethodGet, base+"/", nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("elasticsearch sink %s: GET /: HTTP %d", k.SinkName, status)
	}
	return nil
}

// Close releases idle connections.
