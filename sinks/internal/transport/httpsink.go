package transport

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/auditstream/auditstream/internal/config"
)

// HTTPSettings are the settings keys every batching HTTP sink has, inlined in its
// Settings (`yaml:",inline"`): the largest request, the timeout of one request and the
// `tls:` block.
type HTTPSettings struct {
	// MaxRequestBytes splits larger requests (the default is the sink's, see SetDefaults).
	MaxRequestBytes int             `yaml:"max_request_bytes"`
	Timeout         config.Duration `yaml:"timeout"` // of one HTTP request, default 30s
	TLS             config.TLS      `yaml:"tls"`
	// allow_plain_http: true accepts http:// to a host that is not a loopback address
	// although credentials travel with it (tests only; logged at every start).
	config.PlainHTTP `yaml:",inline"`
}

// SetDefaults fills unset fields; maxRequestBytes is the sink's default request size.
func (h *HTTPSettings) SetDefaults(maxRequestBytes int) {
	if h.MaxRequestBytes == 0 {
		h.MaxRequestBytes = maxRequestBytes
	}
	if h.Timeout == 0 {
		h.Timeout = config.Duration(30 * time.Second)
	}
}

// Validate records every problem of these keys of the block at path.
func (h *HTTPSettings) Validate(path string, p *config.Problems) {
	if h.MaxRequestBytes < 1024 {
		p.Add(path+".max_request_bytes", "%d is too small", h.MaxRequestBytes)
	}
	p.Positive(path+".timeout", h.Timeout)
	h.TLS.Validate(path+".tls", p)
}

// Insecure lists what weakens the sink's connections: the endpoints eps over plain HTTP
// (allowed by allow_plain_http) and tls.insecure_skip_verify (config.InsecureTransport).
func (h *HTTPSettings) Insecure(eps ...config.Endpoint) []string {
	return append(h.PlainHTTP.Insecure(eps...), h.TLS.Insecure("tls")...)
}

// Client returns the HTTP client of these settings (see HTTPClient).
func (h *HTTPSettings) Client() (*http.Client, error) { return HTTPClient(h.Timeout.D(), h.TLS) }

// Conn is what every HTTP sink holds besides its settings: its configured name, its
// client and its logger. A sink embeds it, which gives it Name and Close.
type Conn struct {
	SinkName string
	HC       *http.Client
	Log      *slog.Logger // with the sink's name
}

// NewConn builds the Conn of the sink name of type typ with the client of h.
func NewConn(typ, name string, h *HTTPSettings, log *slog.Logger) (Conn, error) {
	hc, err := h.Client()
	if err != nil {
		return Conn{}, fmt.Errorf("%s sink %s: %w", typ, name, err)
	}
	return Conn{SinkName: name, HC: hc, Log: log.With("sink", name)}, nil
}

// Name is the configured name.
func (c *Conn) Name() string { return c.SinkName }

// Close closes the client's idle connections.
func (c *Conn) Close(context.Context) error {
	c.HC.CloseIdleConnections()
	return nil
}
