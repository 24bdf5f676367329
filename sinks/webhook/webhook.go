// Package webhook is the webhook sink: each batch is one JSON POST, signed with
// HMAC-SHA256 over the timestamp and the body so that the receiver can check where it
// comes from and refuse replays.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/internal/transport"
)

// Plugin registers the webhook sink type.
var Plugin = sinks.Define("webhook", func(name string, s *Settings, d sinks.Deps) (sinks.Sink, error) {
	return Open(name, *s, nil, d.Log)
})

// The headers of a signed request.
const (
	HeaderTimestamp = "X-Auditstream-Timestamp"
	HeaderSignature = "X-Auditstream-Signature"
	HeaderCount     = "X-Auditstream-Event-Count"
)

// Settings of a webhook sink (its `settings:` block).
type Settings struct {
	// URL receives the POSTs (http or https).
	URL string `yaml:"url"`
	// Secret is the HMAC-SHA256 key shared with the receiver (at least 16 bytes; keep it
	// in an environment variable).
	Secret string `yaml:"secret"`
	// Headers are added to every request (an Authorization header, say); their values
	// are treated as secrets too.
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds one POST (default 30s).
	Timeout config.Duration `yaml:"timeout"`
	// TLS: CA bundle, client certificate (mutual TLS), server name.
	TLS config.TLS `yaml:"tls"`
	// allow_plain_http: true accepts an http:// url to a host that is not a loopback
	// address (tests only; logged as a warning at every start).
	config.PlainHTTP `yaml:",inline"`
}

// SetDefaults implements config.Settings.
func (s *Settings) SetDefaults() {
	if s.Timeout == 0 {
		s.Timeout = config.Duration(30 * time.Second)
	}
}

// Validate implements config.Settings; it never repeats the URL's path or query (they
// may hold a token) nor the secret.
func (s *Settings) Validate(path string, p *config.Problems) {
	if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		if s.URL == "" {
			p.Add(path+".url", "is required")
		} else {
			p.Add(path+".url", "must be an http:// or https:// URL")
		}
	} else {
		s.PlainHTTP.Check(path, p, s.endpoint())
	}
	if len(s.Secret) < 16 {
		p.Add(path+".secret", "is required: an HMAC key of at least 16 bytes")
	}
	for k := range s.Headers {
		if strings.TrimSpace(k) == "" || strings.ContainsAny(k, " :\r\n") {
			p.Add(path+".headers", "%q is not a header name", k)
		}
	}
	if s.Timeout < 0 {
		p.Add(path+".timeout", "must not be negative")
	}
	s.TLS.Validate(path+".tls", p)
}

// endpoint is the receiver's URL: the signed batches and the headers travel to it.
func (s *Settings) endpoint() config.Endpoint {
	return config.Endpoint{Key: "url", URL: s.URL, Carries: "the HMAC signature, the headers and the events",
		Form: "https://receiver.example/auditstream"}
}

// InsecureTransport implements config.InsecureTransport.
func (s *Settings) InsecureTransport() []string {
	return append(s.PlainHTTP.Insecure(s.endpoint()), s.TLS.Insecure("tls")...)
}

// Sink posts batches to one URL.
type Sink struct {
	name    string
	cfg     Settings
	log     *slog.Logger
	hc      *http.Client
	where   string // scheme://host of the URL: what errors and logs name
	secrets []string
	now     func() time.Time
}

// Open builds the sink; hc nil means a client of its own.
func Open(name string, cfg Settings, hc *http.Client, log *slog.Logger) (*Sink, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("webhook sink %s: settings.url must be an http:// or https:// URL", name)
	}
	if hc == nil {
		if hc, err = transport.HTTPClient(cfg.Timeout.D(), cfg.TLS); err != nil {
			return nil, fmt.Errorf("webhook sink %s: %w", name, err)
		}
	} else {
		// A client handed in never follows redirects either (see transport.NoRedirects).
		c := *hc
		c.CheckRedirect = transport.NoRedirects
		hc = &c
	}
	s := &Sink{name: name, cfg: cfg, log: log, hc: hc, where: u.Scheme + "://" + u.Host, now: time.Now,
		secrets: []string{cfg.Secret}}
	// A token in the query or in a long path segment (/services/T0/B0/XXXXXXXXXXXXXXXX)
	// is never repeated in an error either.
	if len(u.RawQuery) >= 8 {
		s.secrets = append(s.secrets, u.RawQuery)
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if len(seg) >= 16 {
			s.secrets = append(s.secrets, seg)
		}
	}
	if pw, ok := u.User.Password(); ok {
		s.secrets = append(s.secrets, pw)
	}
	for _, v := range cfg.Headers {
		s.secrets = append(s.secrets, v)
	}
	log.Info("webhook sink ready", "sink", name, "receiver", s.where)
	return s, nil
}

// Name implements sinks.Sink.
func (s *Sink) Name() string { return s.name }

// Guarantee implements sinks.Sink: a POST whose answer was lost is sent again, so the
// receiver may see an event twice; it deduplicates on metadata.uid.
func (s *Sink) Guarantee() sinks.Guarantee { return sinks.AtLeastOnce }

// Ping implements sinks.Sink: the receiver's host must accept a TCP/TLS connection (a
// HEAD request; any HTTP answer counts as reachable).
func (s *Sink) Ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, s.cfg.URL, nil)
	if err != nil {
		return fmt.Errorf("webhook sink %s: bad url", s.name)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("webhook sink %s: %s unreachable: %s", s.name, s.where, s.scrub(transportError(err)))
	}
	resp.Body.Close()
	return nil
}

// Close implements sinks.Sink.
func (s *Sink) Close(context.Context) error {
	s.hc.CloseIdleConnections()
	return nil
}

// Sign returns the signature header value of body sent at timestamp ts (Unix seconds):
// "v1=" + hex(HMAC-SHA256(secret, ts + "." + body)).
func Sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Body is the JSON body of one POST: {"events":[<canonical event>, ...]}.
func Body(batch []sinks.Event) []byte {
	n := 16
	for _, e := range batch {
		n += len(e.Value) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"events":[`...)
	for i, e := range batch {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.Value...)
	}
	return append(b, "]}"...)
}

// Write implements sinks.Sink: one signed POST for the whole batch.
func (s *Sink) Write(ctx context.Context, batch []sinks.Event, res []sinks.ItemResult) error {
	body := Body(batch)
	ts := strconv.FormatInt(s.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return sinks.Fatal(fmt.Errorf("webhook sink %s: bad url", s.name))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "auditstream-webhook")
	for k, v := range s.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign([]byte(s.cfg.Secret), ts, body))
	req.Header.Set(HeaderCount, strconv.Itoa(len(batch)))
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("webhook sink %s: POST to %s: %s", s.name, s.where, s.scrub(transportError(err)))
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		for i := range res {
			res[i] = sinks.ItemResult{Status: sinks.Written}
		}
		return nil
	}
	if err := transport.Redirect(code, "webhook sink "+s.name+": POST", s.cfg.URL); err != nil {
		return err
	}
	answer := fmt.Errorf("webhook sink %s: %s answered %d: %s", s.name, s.where, code, s.scrub(strings.TrimSpace(string(snippet))))
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return sinks.Fatal(fmt.Errorf("%w (the receiver refuses the sink: check settings.secret and headers)", answer))
	case code == http.StatusNotFound || code == http.StatusMethodNotAllowed || code == http.StatusGone:
		// The URL names no receiver (a wrong path, or a receiver being redeployed): a
		// configuration problem, not a refusal of these events. Dead-lettering would
		// empty the whole stream into the dead letter topic until the receiver is back.
		return sinks.Fatal(fmt.Errorf("%w (no receiver at settings.url: check the URL, or wait for the receiver to be deployed)", answer))
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500:
		// Retried; not before the receiver's Retry-After when it sent one (429, 503).
		return transport.RetryLater(answer, resp.Header)
	case code == http.StatusRequestEntityTooLarge:
		return sinks.RejectBatch("too_large", answer)
	case code >= 400:
		return sinks.RejectBatch("http_"+strconv.Itoa(code), answer)
	}
	// 1xx: unexpected, retried.
	return answer
}

// transportError is a client error without the URL (its path or query may hold a token).
func transportError(err error) string { return transport.Unwrap(err).Error() }

// scrub removes every configured secret from a text that came from outside.
func (s *Sink) scrub(text string) string {
	for _, sec := range s.secrets {
		if sec != "" {
			text = strings.ReplaceAll(text, sec, "<redacted>")
		}
	}
	return text
}
