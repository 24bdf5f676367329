package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"github.com/xdg-go/stringprep"
	"os"
	"slices"
	"strings"
)

// TLS is a `tls:` settings block of a client: the network sinks' and Kafka's.
type TLS struct {
	// CAFile is a PEM bundle to verify the server with (default: the system roots).
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile: a client certificate (mutual TLS).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name verified in the server's certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify disables verification of the server (tests only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// IsZero reports whether nothing is set.
func (t TLS) IsZero() bool { return t == TLS{} }

// Validate records the block's problems at path.
func (t TLS) Validate(path string, p *Problems) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		p.Add(path, "cert_file and key_file go together")
	}
}

// Insecure names what weakens the block at key ("tls"): insecure_skip_verify, which
// accepts any certificate (for tests only; use ca_file for a private CA).
func (t TLS) Insecure(key string) []string {
	if !t.InsecureSkipVerify {
		return nil
	}
	return []string{key + ".insecure_skip_verify is true: the server's certificate is not verified, so anyone on the path " +
		"can read and change the traffic and its credentials (for tests only; for a private CA set " + key + ".ca_file)"}
}

// Config builds the tls.Config (TLS 1.2 or later).
func (t TLS) Config() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", t.CAFile)
		}
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file/key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// KafkaTLS is the `tls:` block of a Kafka connection (kafka.tls, a kafka sink's
// settings.tls). TLS is on when enabled is true or any other field is set; `enabled:
// true` alone verifies the brokers with the system roots.
type KafkaTLS struct {
	Enabled bool `yaml:"enabled"`
	TLS     `yaml:",inline"`
}

// On reports whether the connection uses TLS.
func (t KafkaTLS) On() bool { return t.Enabled || !t.TLS.IsZero() }

// SASLMechanisms are the mechanisms a `sasl:` block accepts.
var SASLMechanisms = []string{"plain", "scram-sha-256", "scram-sha-512"}

// SASL is the `sasl:` block of a Kafka connection. The password comes from exactly one of
// password_file (its content, without the trailing newline), password_env (an
// environment variable) or password (inline or ${ENV}/${file:} expanded; a Secret, so it
// never prints).
type SASL struct {
	// Mechanism: plain, scram-sha-256 or scram-sha-512 (empty: no SASL).
	Mechanism    string `yaml:"mechanism"`
	Username     string `yaml:"username"`
	Password     Secret `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`
}

// IsZero reports whether nothing is set.
func (s SASL) IsZero() bool { return s == SASL{} }

// Validate records the block's problems at path (e.g. "kafka.sasl"); it reads the
// password to find a missing file or variable now rather than at the first connection.
func (s SASL) Validate(path string, p *Problems) {
	if s.IsZero() {
		return
	}
	if !slices.Contains(SASLMechanisms, s.Mechanism) {
		p.Add(path+".mechanism", "must be one of %s, got %s", strings.Join(SASLMechanisms, ", "), p.Quote(path+".mechanism", s.Mechanism))
	}
	if s.Username == "" {
		p.Add(path+".username", "is required")
	}
	n := 0
	for _, set := range []bool{s.Password != "", s.PasswordFile != "", s.PasswordEnv != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		p.Add(path, "set exactly one of password_file, password_env or password (%d set)", n)
		return
	}
	pw, err := s.Secret()
	if err != nil {
		p.Add(path, "%v", err)
		return
	}
	if strings.HasPrefix(s.Mechanism, "scram-") {
		// SCRAM sends the credentials SASLprep-normalized; the library's own error
		// quotes them, so the check is made here and names no character.
		if _, err := stringprep.SASLprep.Prepare(s.Username); err != nil {
			p.Add(path+".username", "is refused by SASLprep, which SCRAM requires (a prohibited or mixed-direction character)")
		}
		if _, err := stringprep.SASLprep.Prepare(pw.Reveal()); err != nil {
			p.Add(path, "the password is refused by SASLprep, which SCRAM requires (a prohibited character such as a control character or tab, or mixed-direction text)")
		}
	}
}

// Secret returns the password from wherever the block says it is. Its errors name the
// file or variable, never the value.
func (s SASL) Secret() (Secret, error) {
	switch {
	case s.PasswordFile != "":
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("password_file: %w", err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("password_file: %s is empty", s.PasswordFile)
		}
		return Secret(v), nil
	case s.PasswordEnv != "":
		v := os.Getenv(s.PasswordEnv)
		if v == "" {
			return "", fmt.Errorf("password_env: environment variable %s is not set", s.PasswordEnv)
		}
		return Secret(v), nil
	}
	return s.Password, nil
}
