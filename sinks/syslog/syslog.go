// Package syslog is the syslog sink: RFC 5424 messages over TCP (RFC 6587 octet counting
// or LF framing), TLS (RFC 5425) or UDP (RFC 5426), with the OCSF event, its ECS
// projection or its CEF line as the message, and the event id in structured data:
//
//	<110>1 2026-11-21T10:00:00.500Z host auditstream - 6003 [auditstream@32473 event_id="…" provider="ionos" tenant="…" class_uid="6003"] CEF:0|auditstream|ionos|…
//
// Syslog has no acknowledgement: delivery is best-effort (see README.md).
package syslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/sinks"
	"github.com/auditstream/auditstream/sinks/projection/body"
	"github.com/auditstream/auditstream/sinks/projection/ecs"
)

// EnterpriseID is the private enterprise number in the structured-data id
// (auditstream@32473; 32473 is the number RFC 5612 reserves for documentation).
const EnterpriseID = "auditstream@32473"

// Settings of a syslog sink (the `settings:` block of a sink with `type: syslog`).
type Settings struct {
	// Address is host:port of the syslog receiver.
	Address string `yaml:"address"`
	// Transport: tcp (default), tls or udp.
	Transport string `yaml:"transport"`
	// Framing on tcp and tls: octet_counting (default, RFC 6587 3.4.1) or lf (non-transparent
	// framing, one message per line).
	Framing string `yaml:"framing"`
	// Format of the message: cef (default), ocsf or ecs.
	Format body.Format `yaml:"format"`
	// ECSOCSFField keeps the OCSF event under this field of ECS messages.
	ECSOCSFField string `yaml:"ecs_ocsf_field"`
	// Hostname in the header (default: this host's name).
	Hostname string `yaml:"hostname"`
	// AppName in the header (default auditstream).
	AppName string `yaml:"app_name"`
	// Facility 0-23 (default 13, log audit).
	Facility *int `yaml:"facility"`
	// MaxMessageBytes: a larger message is rejected (dead-lettered) rather than truncated by
	// the receiver (default 65536, 8192 on udp; rsyslog's own default maxMessageSize is 8k:
	// raise it to at least this).
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// Timeout of a connect and of a batch write (default 10s).
	Timeout config.Duration `yaml:"timeout"`
	// TLS for transport tls (server_name defaults to the host of Address).
	TLS config.TLS `yaml:"tls"`
}

// InsecureTransport implements config.InsecureTransport (tls.insecure_skip_verify).
func (s *Settings) InsecureTransport() []string { return s.TLS.Insecure("tls") }

// SetDefaults fills unset fields.
func (s *Settings) SetDefaults() {
	if s.Transport == "" {
		s.Transport = "tcp"
	}
	if s.Framing == "" {
		s.Framing = "octet_counting"
	}
	if s.Format == "" {
		s.Format = body.CEF
	}
	if s.Hostname == "" {
		s.Hostname, _ = os.Hostname()
	}
	if s.AppName == "" {
		s.AppName = "auditstream"
	}
	if s.Facility == nil {
		f := 13
		s.Facility = &f
	}
	if s.MaxMessageBytes == 0 {
		s.MaxMessageBytes = 65536
		if s.Transport == "udp" {
			s.MaxMessageBytes = 8192
		}
	}
	if s.Timeout == 0 {
		s.Timeout = config.Duration(10 * time.Second)
	}
}

// Validate records every problem of the block.
func (s *Settings) Validate(path string, p *config.Problems) {
	if _, _, err := net.SplitHostPort(s.Address); err != nil {
		p.Add(path+".address", "%q is not host:port", s.Address)
	}
	switch s.Transport {
	case "tcp", "tls", "udp":
	default:
		p.Add(path+".transport", "%q is not tcp, tls or udp", s.Transport)
	}
	if s.Framing != "octet_counting" && s.Framing != "lf" {
		p.Add(path+".framing", "%q is not octet_counting or lf", s.Framing)
	}
	s.Format.Check(path+".format", p, body.CEF, body.OCSF, body.ECS)
	if err := (ecs.Options{OCSFField: s.ECSOCSFField}).Validate(); err != nil {
		p.Add(path+".ecs_ocsf_field", "%v", err)
	}
	if *s.Facility < 0 || *s.Facility > 23 {
		p.Add(path+".facility", "%d is not 0-23", *s.Facility)
	}
	if s.MaxMessageBytes < 480 {
		p.Add(path+".max_message_bytes", "%d is below the 480 bytes every receiver must accept", s.MaxMessageBytes)
	}
	if s.Transport == "udp" && s.MaxMessageBytes > 65507 {
		p.Add(path+".max_message_bytes", "%d does not fit a UDP datagram (65507)", s.MaxMessageBytes)
	}
	p.Positive(path+".timeout", s.Timeout)
	s.TLS.Validate(path+".tls", p)
	if s.Transport != "tls" && !s.TLS.IsZero() {
		p.Add(path+".tls", "is set but transport is %s", s.Transport)
	}
}

// Plugin registers the syslog sink type.
var Plugin = sinks.Define[Settings]("syslog", Open)

// Sink writes events to a syslog receiver.
type Sink struct {
	name string
	s    Settings
	tls  *tls.Config
	log  *slog.Logger
	hdr  string // " HOSTNAME APP-NAME - " after the timestamp

	mu   sync.Mutex
	conn net.Conn
	used time.Time // when conn last connected or wrote
	buf  []byte
}

// Open builds the sink (it connects on the first write or ping).
func Open(name string, s *Settings, d sinks.Deps) (sinks.Sink, error) {
	k := &Sink{name: name, s: *s, log: d.Log.With("sink", name)}
	if s.Transport == "tls" {
		c, err := tlsConfig(s)
		if err != nil {
			return nil, fmt.Errorf("syslog sink %s: settings.tls: %w", name, err)
		}
		k.tls = c
	}
	k.hdr = " " + headerField(s.Hostname, 255) + " " + headerField(s.AppName, 48) + " - "
	return k, nil
}

func tlsConfig(s *Settings) (*tls.Config, error) {
	c, err := s.TLS.Config()
	if err != nil {
		return nil, err
	}
	if c.ServerName == "" {
		c.ServerName, _, _ = net.SplitHostPort(s.Address)
	}
	return c, nil
}

// headerField makes s a valid RFC 5424 header field: printable US-ASCII, no spaces, at
// most max characters, "-" when empty.
func headerField(s string, max int) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(b) < max; i++ {
		if c := s[i]; c > 32 && c < 127 {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}

var sdEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`)

// Name is the configured name.
func (k *Sink) Name() string { return k.name }

// Guarantee: best-effort, on every transport. Syslog has no acknowledgement: Write
// reports an event written once it is in the kernel's socket buffer, and a receiver that
// dies before reading it (or a UDP datagram dropped on the way) loses it without the sink
// knowing. It has no idempotency key either: a redelivered event is stored twice.
func (k *Sink) Guarantee() sinks.Guarantee { return sinks.BestEffort }

// severity maps an OCSF severity_id to a syslog severity.
func severity(ocsfSeverity int) int {
	switch ocsfSeverity {
	case 2: // Low
		return 5 // notice
	case 3: // Medium
		return 4 // warning
	case 4: // High
		return 3 // error
	case 5: // Critical
		return 2 // critical
	case 6: // Fatal
		return 1 // alert
	}
	return 6 // informational
}

// appendMessage appends ev's RFC 5424 message (without framing) to dst.
func (k *Sink) appendMessage(dst []byte, ev sinks.Event, sev int) ([]byte, error) {
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(*k.s.Facility*8+sev), 10)
	dst = append(dst, ">1 "...)
	t := ev.Time
	if t.IsZero() {
		t = time.Now()
	}
	dst = t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z")
	dst = append(dst, k.hdr...)
	if ev.ClassUID != 0 {
		dst = strconv.AppendInt(dst, int64(ev.ClassUID), 10) // MSGID
	} else {
		dst = append(dst, '-')
	}
	dst = append(dst, " ["+EnterpriseID+` event_id="`...)
	dst = append(dst, sdEscaper.Replace(ev.ID)...)
	dst = append(dst, '"')
	for _, kv := range [...][2]string{{"provider", ev.Provider}, {"tenant", ev.Tenant}} {
		if kv[1] != "" {
			dst = append(dst, ` `+kv[0]+`="`...)
			dst = append(dst, sdEscaper.Replace(kv[1])...)
			dst = append(dst, '"')
		}
	}
	if ev.ClassUID != 0 {
		dst = append(dst, ` class_uid="`...)
		dst = strconv.AppendInt(dst, int64(ev.ClassUID), 10)
		dst = append(dst, '"')
	}
	dst = append(dst, "] "...)
	return k.s.Format.Append(dst, ev, ecs.Options{OCSFField: k.s.ECSOCSFField})
}

// Write sends the batch. Events that cannot be encoded or are too large are rejected;
// the rest are sent in one write; any send error fails the whole batch (retried: the
// receiver may have kept part of it, so a retry can duplicate).
func (k *Sink) Write(ctx context.Context, batch []sinks.Event, res []sinks.ItemResult) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	type span struct{ i, start, end int }
	var spans []span
	out := k.buf[:0]
	for i, ev := range batch {
		start := len(out)
		if k.s.Framing == "octet_counting" && k.s.Transport != "udp" {
			out = append(out, "0000000000 "...) // length placeholder, fixed below
		}
		msgStart := len(out)
		var err error
		out, err = k.appendMessage(out, ev, severity(ocsfSeverity(ev)))
		if err != nil {
			out = out[:start]
			res[i] = sinks.ItemResult{Status: sinks.Reject, Reason: "projection", Err: err}
			continue
		}
		n := len(out) - msgStart
		if n > k.s.MaxMessageBytes {
			out = out[:start]
			res[i] = sinks.ItemResult{Status: sinks.Reject, Reason: "too_large",
				Err: fmt.Errorf("event %s: syslog message of %d bytes exceeds max_message_bytes %d", ev.ID, n, k.s.MaxMessageBytes)}
			continue
		}
		if msgStart != start { // octet counting: "LEN SP MSG"
			l := strconv.Itoa(n)
			copy(out[start:], l)
			out = append(out[:start+len(l)], out[msgStart-1:]...)
		} else if k.s.Transport != "udp" {
			out = append(out, '\n')
		}
		spans = append(spans, span{i, start, len(out)})
	}
	k.buf = out
	if len(spans) == 0 {
		return nil
	}
	conn, err := k.connect(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(k.s.Timeout.D())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetWriteDeadline(deadline)
	if k.s.Transport == "udp" {
		for _, sp := range spans {
			if _, err := conn.Write(out[sp.start:sp.end]); err != nil {
				k.drop()
				return fmt.Errorf("syslog sink %s: send to %s: %w", k.name, k.s.Address, err)
			}
		}
	} else {
		w := bufio.NewWriterSize(conn, 64<<10)
		_, err := w.Write(out)
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			k.drop()
			return fmt.Errorf("syslog sink %s: send to %s: %w", k.name, k.s.Address, err)
		}
	}
	k.used = time.Now()
	for _, sp := range spans {
		res[sp.i] = sinks.ItemResult{Status: sinks.Written}
	}
	return nil
}

// ocsfSeverity reads the event's severity_id (for the PRI field).
func ocsfSeverity(ev sinks.Event) int {
	var v struct {
		SeverityID int `json:"severity_id"`
	}
	_ = json.Unmarshal(ev.Value, &v) // a body that is not JSON is rejected by the projection
	return v.SeverityID
}

// connect returns the live connection, dialling when there is none or when the receiver
// closed it (a write into a connection the peer closed would "succeed" into the kernel
// buffer and be lost).
func (k *Sink) connect(ctx context.Context) (net.Conn, error) {
	if k.conn != nil && k.s.Transport != "udp" && k.peerGone() {
		k.drop()
	}
	if k.conn != nil {
		return k.conn, nil
	}
	d := &net.Dialer{Timeout: k.s.Timeout.D()}
	var c net.Conn
	var err error
	switch k.s.Transport {
	case "tls":
		td := &tls.Dialer{NetDialer: d, Config: k.tls}
		c, err = td.DialContext(ctx, "tcp", k.s.Address)
	default:
		c, err = d.DialContext(ctx, k.s.Transport, k.s.Address)
	}
	if err != nil {
		err = fmt.Errorf("syslog sink %s: connect to %s (%s): %w", k.name, k.s.Address, k.s.Transport, err)
		var verr *tls.CertificateVerificationError
		if errors.As(err, &verr) {
			// The receiver's certificate does not verify against settings.tls: retrying
			// cannot fix that.
			return nil, sinks.Fatal(err)
		}
		return nil, err
	}
	k.conn = c
	k.used = time.Now()
	return c, nil
}

// peerGone reports whether the receiver closed the connection. Where the socket can be
// peeked without waiting (peerClosed: one system call), every batch checks; elsewhere the
// check is a read that waits a millisecond, made only when the connection was idle for
// more than a second (a busy sink would otherwise pay it on every batch).
func (k *Sink) peerGone() bool {
	closed, pending, ok := peerClosed(k.conn)
	switch {
	case !ok:
		return time.Since(k.used) > time.Second && !alive(k.conn)
	case pending && k.s.Transport == "tls":
		// A TLS record is waiting (a session ticket, or the receiver's close_notify):
		// only the TLS layer can tell which.
		return !alive(k.conn)
	}
	return closed
}

// alive reports whether the peer has not closed c (a read that times out at once means
// nothing is waiting, which on a syslog connection means the peer is still there).
func alive(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [1]byte
	_, err := c.Read(b[:])
	_ = c.SetReadDeadline(time.Time{})
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (k *Sink) drop() {
	if k.conn != nil {
		_ = k.conn.Close()
		k.conn = nil
	}
}

// Ping connects (TCP, TLS) if not connected.
func (k *Sink) Ping(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, err := k.connect(ctx)
	return err
}

// Close closes the connection. On TCP and TLS it first shuts down the sending side and
// waits briefly (up to timeout, at most 2 s) for the receiver to close its side: the
// receiver then has read everything sent. Closing at once would lose the tail when
// anything the receiver sent is unread here (a TLS session ticket, say): the kernel then
// answers with a reset, and the receiver's kernel discards what its reader had not yet
// read.
func (k *Sink) Close(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conn != nil && k.s.Transport != "udp" {
		k.shutdown(ctx)
	}
	k.drop()
	return nil
}

// shutdown sends end-of-stream (a TLS close_notify, then a TCP FIN) and reads until the
// receiver closes, the wait is over or ctx is done.
func (k *Sink) shutdown(ctx context.Context) {
	cw, ok := k.conn.(interface{ CloseWrite() error }) // *net.TCPConn, *tls.Conn
	if !ok {
		return
	}
	_ = k.conn.SetWriteDeadline(time.Now().Add(time.Second))
	if err := cw.CloseWrite(); err != nil {
		return
	}
	deadline := time.Now().Add(min(k.s.Timeout.D(), 2*time.Second))
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = k.conn.SetReadDeadline(deadline)
	_, err := io.Copy(io.Discard, io.LimitReader(k.conn, 1<<20))
	if err != nil {
		k.log.Debug("syslog receiver did not close the connection in time", "err", err)
	}
}
