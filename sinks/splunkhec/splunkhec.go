// Package splunkhec is the Splunk HTTP Event Collector sink (`type: splunk_hec`): batches
// of HEC event envelopes (sinks/projection/hec) posted to /services/collector/event, with
// indexer acknowledgement when enabled, and HEC's status codes mapped to per-event
// rejects, retries and fatal stops. Delivery is at-least-once (see README.md).
package splunkhec

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/internal/transport"
	"github.com/auditstream/auditstream/sinks/projection/body"
	"github.com/auditstream/auditstream/sinks/projection/ecs"
	"github.com/auditstream/auditstream/sinks/projection/hec"
)

// Settings of a splunk_hec sink.
type Settings struct {
	// URL is the HEC base URL, e.g. https://splunk.example.com:8088.
	URL   string        `yaml:"url"`
	Token config.Secret `yaml:"token"`
	// Index, Sourcetype, Source, Host of every event; empty index/host: the token's default.
	// Source defaults to "auditstream:<provider>", Sourcetype to "auditstream:ocsf" (or
	// "auditstream:ecs" with format ecs).
	Index      string `yaml:"index"`
	Sourcetype string `yaml:"sourcetype"`
	Source     string `yaml:"source"`
	Host       string `yaml:"host"`
	// Format of the event field: ocsf (default) or ecs.
	Format       body.Format `yaml:"format"`
	ECSOCSFField string      `yaml:"ecs_ocsf_field"`
	// Ack turns on indexer acknowledgement (the token must have it on): an event counts as
	// written only once Splunk acknowledges it was indexed.
	Ack bool `yaml:"ack"`
	// Channel is the channel GUID for acknowledgement (default: a random one per process).
	Channel         string          `yaml:"channel"`
	AckTimeout      config.Duration `yaml:"ack_timeout"`       // default 2m
	AckPollInterval config.Duration `yaml:"ack_poll_interval"` // default 1s
	// max_request_bytes splits larger batches (default 1 MiB, Splunk Cloud's limit);
	// timeout of one HTTP request (default 30s); tls.
	transport.HTTPSettings `yaml:",inline"`
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// SetDefaults fills unset fields.
func (s *Settings) SetDefaults() {
	if s.Format == "" {
		s.Format = body.OCSF
	}
	if s.Sourcetype == "" {
		s.Sourcetype = "auditstream:" + string(s.Format)
	}
	if s.AckTimeout == 0 {
		s.AckTimeout = config.Duration(2 * time.Minute)
	}
	if s.AckPollInterval == 0 {
		s.AckPollInterval = config.Duration(time.Second)
	}
	s.HTTPSettings.SetDefaults(1 << 20)
}

// Validate records every problem of the block.
func (s *Settings) Validate(path string, p *config.Problems) {
	s.PlainHTTP.Check(path, p, s.endpoint())
	if u, err := url.Parse(s.URL); err == nil && (u.User != nil || u.RawQuery != "") {
		p.Add(path+".url", "must hold neither credentials nor a query (the token goes in settings.token)")
	}
	if s.Token == "" {
		p.Add(path+".token", "is required")
	}
	s.Format.Check(path+".format", p, body.OCSF, body.ECS)
	if err := (ecs.Options{OCSFField: s.ECSOCSFField}).Validate(); err != nil {
		p.Add(path+".ecs_ocsf_field", "%v", err)
	}
	if s.Channel != "" && !guidRE.MatchString(s.Channel) {
		p.Add(path+".channel", "%q is not a GUID", s.Channel)
	}
	p.Positive(path+".ack_timeout", s.AckTimeout)
	p.Positive(path+".ack_poll_interval", s.AckPollInterval)
	s.HTTPSettings.Validate(path, p)
}

// endpoint is the HEC URL: the token travels with every request.
func (s *Settings) endpoint() config.Endpoint {
	return config.Endpoint{Key: "url", URL: s.URL, Carries: "the HEC token", Form: "https://splunk.example.com:8088"}
}

// InsecureTransport implements config.InsecureTransport.
func (s *Settings) InsecureTransport() []string { return s.Insecure(s.endpoint()) }

// Plugin registers the splunk_hec sink type.
var Plugin = sinks.Define[Settings]("splunk_hec", Open)

// Sink posts to a HEC.
type Sink struct {
	transport.Conn
	s       Settings
	base    string
	channel string
}

// Open builds the sink.
func Open(name string, s *Settings, d sinks.Deps) (sinks.Sink, error) {
	c, err := transport.NewConn("splunk_hec", name, &s.HTTPSettings, d.Log)
	if err != nil {
		return nil, err
	}
	k := &Sink{Conn: c, s: *s, base: strings.TrimRight(s.URL, "/"), channel: s.Channel}
	if k.channel == "" {
		k.channel = newGUID()
	}
	return k, nil
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Guarantee: HEC has no idempotency key.
func (k *Sink) Guarantee() sinks.Guarantee { return sinks.AtLeastOnce }

type item struct {
	i   int
	env []byte
}

type pending struct {
	ack   int
	items []item
}

// answer is a HEC JSON answer.
type answer struct {
	Text    string `json:"text"`
	Code    *int   `json:"code"`
	AckID   *int   `json:"ackId"`
	Invalid *int   `json:"invalid-event-number"`
}

// Write posts the batch (split at max_request_bytes) and, with ack on, waits for the
// indexer acknowledgements.
func (k *Sink) Write(ctx context.Context, batch []sinks.Event, res []sinks.ItemResult) error {
	var items []item
	for i, ev := range batch {
		b, err := k.s.Format.Append(nil, ev, ecs.Options{OCSFField: k.s.ECSOCSFField})
		if err == nil {
			src := k.s.Source
			if src == "" {
				src = "auditstream:" + ev.Provider
			}
			b, err = hec.Append(nil, ev, b, hec.Options{Host: k.s.Host, Source: src, Sourcetype: k.s.Sourcetype, Index: k.s.Index})
		}
		if err != nil {
			res[i] = sinks.ItemResult{Status: sinks.Reject, Reason: "projection", Err: err}
			continue
		}
		if len(b) > k.s.MaxRequestBytes {
			res[i] = sinks.ItemResult{Status: sinks.Reject, Reason: "too_large",
				Err: fmt.Errorf("event %s: HEC envelope of %d bytes exceeds max_request_bytes %d", ev.ID, len(b), k.s.MaxRequestBytes)}
			continue
		}
		items = append(items, item{i, b})
	}
	var acks []pending
	for len(items) > 0 {
		n, size := 0, 0
		for n < len(items) && size+len(items[n].env) <= k.s.MaxRequestBytes {
			size += len(items[n].env)
			n++
		}
		if err := k.send(ctx, items[:n], res, &acks); err != nil {
			return err
		}
		items = items[n:]
	}
	if len(acks) > 0 {
		return k.waitAcks(ctx, acks, res)
	}
	return nil
}

// post sends one request; it returns the status, HEC's answer and the headers.
func (k *Sink) post(ctx context.Context, path string, body []byte) (int, answer, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, answer{}, nil, err
	}
	req.Header.Set("Authorization", "Splunk "+k.s.Token.Reveal())
	req.Header.Set("Content-Type", "application/json")
	if k.s.Ack {
		req.Header.Set("X-Splunk-Request-Channel", k.channel)
	}
	resp, err := k.HC.Do(req)
	if err != nil {
		return 0, answer{}, nil, fmt.Errorf("splunk_hec sink %s: POST %s%s: %w", k.SinkName, k.base, path, transport.Unwrap(err))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var a answer
	if json.Unmarshal(raw, &a) != nil {
		// Not a HEC answer (a proxy's or load balancer's page): keep only its start.
		a = answer{Text: strings.TrimSpace(string(raw[:min(len(raw), 300)]))}
	}
	return resp.StatusCode, a, resp.Header, nil
}

// send posts items as one request and records their outcome (or the ack to wait for).
func (k *Sink) send(ctx context.Context, items []item, res []sinks.ItemResult, acks *[]pending) error {
	var buf bytes.Buffer
	for _, it := range items {
		buf.Write(it.env)
		buf.WriteByte('\n')
	}
	status, a, header, err := k.post(ctx, "/services/collector/event", buf.Bytes())
	if err != nil {
		return err
	}
	code := -1
	if a.Code != nil {
		code = *a.Code
	}
	fail := func(what string) error {
		return fmt.Errorf("splunk_hec sink %s: %s: HTTP %d, HEC code %d %q", k.SinkName, what, status, code, a.Text)
	}
	if err := transport.Redirect(status, "splunk_hec sink "+k.SinkName+": post events", k.s.URL); err != nil {
		return err
	}
	switch {
	case status == http.StatusOK && code == 0:
		if !k.s.Ack {
			for _, it := range items {
				res[it.i] = sinks.ItemResult{Status: sinks.Written}
			}
			return nil
		}
		if a.AckID == nil {
			return sinks.Fatal(fail("ack is on but HEC answered no ackId (the token has indexer acknowledgement off?)"))
		}
		*acks = append(*acks, pending{*a.AckID, items})
		return nil
	case code == 1 || code == 2 || code == 3 || code == 4:
		return sinks.Fatal(fail("token refused"))
	case code == 7:
		return sinks.Fatal(fail("the token may not write index " + strconv.Quote(k.s.Index)))
	case code == 10 || code == 11:
		return sinks.Fatal(fail("the token requires indexer acknowledgement: set ack: true"))
	case status == http.StatusRequestEntityTooLarge:
		if len(items) == 1 {
			res[items[0].i] = sinks.ItemResult{Status: sinks.Reject, Reason: "too_large", Err: fail("event too large")}
			return nil
		}
		return k.split(ctx, items, res, acks)
	case code == 6 || code == 12 || code == 13 || code == 15:
		reason := "invalid_event"
		if code == 15 {
			reason = "indexed_fields"
		}
		if a.Invalid == nil || *a.Invalid < 0 || *a.Invalid >= len(items) {
			// Refused without saying which event: the runner bisects the batch.
			return sinks.RejectBatch(reason, fail("events refused"))
		}
		// HEC indexed the events before the invalid one and dropped the rest.
		n := *a.Invalid
		for _, it := range items[:n] {
			if k.s.Ack {
				// Accepted but never acknowledged: only a resend can make them count.
				res[it.i] = sinks.ItemResult{Status: sinks.Retry, Reason: "unacknowledged"}
			} else {
				res[it.i] = sinks.ItemResult{Status: sinks.Written}
			}
		}
		res[items[n].i] = sinks.ItemResult{Status: sinks.Reject, Reason: reason, Err: fail("event refused")}
		if n+1 < len(items) {
			return k.send(ctx, items[n+1:], res, acks)
		}
		return nil
	case code < 0 && (status == http.StatusUnauthorized || status == http.StatusForbidden):
		// No HEC code: a proxy or load balancer in front of HEC refused the request.
		return sinks.Fatal(fail("refused without a HEC answer (by a proxy in front of HEC?): check the token and the proxy's access rules"))
	case code < 0 && status == http.StatusNotFound:
		return sinks.Fatal(fail("no HEC endpoint at settings.url (wrong URL or path prefix?)"))
	case code < 0 && status == http.StatusBadRequest:
		// Refused without saying which event: the runner bisects the batch.
		return sinks.RejectBatch("http_400", fail("events refused"))
	}
	// 9 (busy), 8 (internal error), 18-20 (unhealthy), 429, other 5xx: retry later, and
	// not before a Retry-After when the answer has one (HEC itself does not document one;
	// a load balancer or proxy in front of it may send it).
	return transport.RetryLater(fail("post events"), header)
}

func (k *Sink) split(ctx context.Context, items []item, res []sinks.ItemResult, acks *[]pending) error {
	h := len(items) / 2
	if err := k.send(ctx, items[:h], res, acks); err != nil {
		return err
	}
	return k.send(ctx, items[h:], res, acks)
}

// waitAcks polls /services/collector/ack until every ack is true or ack_timeout passes;
// events whose ack never came are left for a retry.
func (k *Sink) waitAcks(ctx context.Context, acks []pending, res []sinks.ItemResult) error {
	deadline := time.Now().Add(k.s.AckTimeout.D())
	waiting := map[int]pending{}
	for _, p := range acks {
		waiting[p.ack] = p
	}
	t := time.NewTicker(k.s.AckPollInterval.D())
	defer t.Stop()
	for len(waiting) > 0 {
		ids := make([]int, 0, len(waiting))
		for id := range waiting {
			ids = append(ids, id)
		}
		b, _ := json.Marshal(map[string][]int{"acks": ids})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.base+"/services/collector/ack", bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Splunk "+k.s.Token.Reveal())
		req.Header.Set("X-Splunk-Request-Channel", k.channel)
		resp, err := k.HC.Do(req)
		if err != nil {
			return fmt.Errorf("splunk_hec sink %s: poll acks: %w", k.SinkName, transport.Unwrap(err))
		}
		var ans struct {
			Acks map[string]bool `json:"acks"`
			answer
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ans)
		resp.Body.Close()
		if rerr := transport.Redirect(resp.StatusCode, "splunk_hec sink "+k.SinkName+": poll acks", k.s.URL); rerr != nil {
			return rerr
		}
		switch {
		case resp.StatusCode == http.StatusOK && err == nil:
		case ans.Code != nil && *ans.Code == 14:
			return sinks.Fatal(fmt.Errorf("splunk_hec sink %s: ack: true but the token has indexer acknowledgement off (HEC code 14)", k.SinkName))
		case ans.Code != nil && *ans.Code >= 1 && *ans.Code <= 4:
			return sinks.Fatal(fmt.Errorf("splunk_hec sink %s: poll acks: token refused (HEC code %d %q)", k.SinkName, *ans.Code, ans.Text))
		case ans.Code == nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound):
			return sinks.Fatal(fmt.Errorf("splunk_hec sink %s: poll acks: HTTP %d without a HEC answer (a proxy in front of HEC? check the token, url and the proxy's rules)", k.SinkName, resp.StatusCode))
		default:
			return transport.RetryLater(fmt.Errorf("splunk_hec sink %s: poll acks: HTTP %d", k.SinkName, resp.StatusCode), resp.Header)
		}
		for id, ok := range ans.Acks {
			n, err := strconv.Atoi(id)
			if p, known := waiting[n]; err == nil && ok && known {
				for _, it := range p.items {
					res[it.i] = sinks.ItemResult{Status: sinks.Written}
				}
				delete(waiting, n)
			}
		}
		if len(waiting) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, p := range waiting {
				for _, it := range p.items {
					res[it.i] = sinks.ItemResult{Status: sinks.Retry, Reason: "ack_timeout"}
				}
			}
			k.Log.Warn("HEC acknowledgements did not come in time; the events will be sent again", "waiting_requests", len(waiting), "ack_timeout", k.s.AckTimeout.D())
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Ping asks the HEC health endpoint.
func (k *Sink) Ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.base+"/services/collector/health", nil)
	if err != nil {
		return err
	}
	return transport.Ping(k.HC, req, "splunk_hec sink "+k.SinkName+": health")
}

// Close releases idle connections.
