package bus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/auditstream/auditstream/internal/config"
)

// ErrSecurity marks a connection error that retrying cannot fix: the broker refused the
// SASL credentials or mechanism, or its certificate did not verify. Its message names the
// configuration path to fix (never the password).
var ErrSecurity = errors.New("kafka security settings")

// securityError is ErrSecurity with its own message (errors.Is finds ErrSecurity; the
// message does not repeat it).
type securityError struct{ err error }

func (e securityError) Error() string        { return e.err.Error() }
func (e securityError) Unwrap() error        { return e.err }
func (e securityError) Is(target error) bool { return target == ErrSecurity }

func insecure(format string, args ...any) error { return securityError{fmt.Errorf(format, args...)} }

// Secure sets c.TLS and c.SASL from a configuration's tls and sasl blocks found at path
// ("kafka", "sinks[0].settings"); errors then name path.tls or path.sasl.
func (c *Config) Secure(path string, t config.KafkaTLS, s config.SASL) error {
	c.Path = path
	if t.On() {
		tc, err := t.Config()
		if err != nil {
			return fmt.Errorf("%s.tls: %w", path, err)
		}
		c.TLS = tc
	}
	if s.IsZero() {
		return nil
	}
	pw, err := s.Secret()
	if err != nil {
		return fmt.Errorf("%s.sasl: %w", path, err)
	}
	var m sasl.Mechanism
	switch s.Mechanism {
	case "plain":
		m = plain.Mechanism{Username: s.Username, Password: pw.Reveal()}
	case "scram-sha-256", "scram-sha-512":
		algo := scram.SHA512
		if s.Mechanism == "scram-sha-256" {
			algo = scram.SHA256
		}
		if m, err = scram.Mechanism(algo, s.Username, pw.Reveal()); err != nil {
			// The SASLprep of the credentials failed. The library's error quotes the
			// password: it is not wrapped, only named.
			return fmt.Errorf("%s.sasl: %s credentials of user %q are refused by SASLprep, which SCRAM requires (a prohibited or mixed-direction character)", path, s.Mechanism, s.Username)
		}
	default:
		return fmt.Errorf("%s.sasl.mechanism: must be one of %s, got %q", path, strings.Join(config.SASLMechanisms, ", "), s.Mechanism)
	}
	c.SASL = m
	c.user = s.Username
	return nil
}

// explain names the setting behind a connection error that is about security, and marks
// it ErrSecurity when retrying cannot help; other errors are returned as they are.
func (b *Bus) explain(err error) error {
	if err == nil {
		return nil
	}
	path := b.cfg.Path
	if path == "" {
		path = "kafka"
	}
	mech := ""
	if b.cfg.SASL != nil {
		mech = b.cfg.SASL.Name()
	}
	var (
		unknownCA  x509.UnknownAuthorityError
		hostname   x509.HostnameError
		invalid    x509.CertificateInvalidError
		verifyErr  *tls.CertificateVerificationError
		recordErr  tls.RecordHeaderError
		alertErr   tls.AlertError
		netErr     *net.OpError
		isTLSAlert = errors.As(err, &alertErr)
	)
	switch {
	case errors.Is(err, kafka.SASLAuthenticationFailed):
		return insecure("%s.sasl: the brokers refused user %q with %s: check username and password: %w", path, b.cfg.user, mech, err)
	case errors.Is(err, kafka.UnsupportedSASLMechanism), errors.Is(err, kafka.IllegalSASLState):
		return insecure("%s.sasl.mechanism: the brokers do not take %s on this listener: %w", path, mech, err)
	case errors.As(err, &hostname):
		return insecure("%s.tls.server_name: the broker's certificate is not valid for the name dialled (set server_name to a name it holds): %w", path, err)
	case errors.As(err, &unknownCA), errors.As(err, &invalid), errors.As(err, &verifyErr):
		return insecure("%s.tls.ca_file: the broker's certificate did not verify: %w", path, err)
	case errors.As(err, &recordErr):
		return insecure("%s.tls: the broker did not answer TLS (is this a plaintext listener?): %w", path, err)
	case isTLSAlert:
		return insecure("%s.tls: the broker refused the TLS handshake: %w", path, err)
	case b.cfg.TLS == nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) && !errors.As(err, &netErr):
		// A TLS or SASL listener closes a plaintext, unauthenticated connection without
		// an answer; a broker that is only restarting does the same, so this is a hint.
		return fmt.Errorf("%w (the broker closed the connection: if its listener needs TLS or SASL, set %s.tls / %s.sasl)", err, path, path)
	}
	return err
}

// securityCause explains err; when err says nothing about security, a metadata request
// asks again. kafka-go's admin calls report a connection that failed authentication as
// "[8] Broker Not Available" (the controller lookup hides the cause), where a metadata
// request returns the SASL error itself.
func (b *Bus) securityCause(ctx context.Context, err error) error {
	if e := b.explain(err); errors.Is(e, ErrSecurity) || ctx.Err() != nil {
		return e
	}
	if _, merr := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}}); merr != nil {
		if e := b.explain(merr); errors.Is(e, ErrSecurity) {
			return e
		}
	}
	return b.explain(err)
}
