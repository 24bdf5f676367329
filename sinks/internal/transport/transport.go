// Package transport holds what the network sinks share: the HTTP client built from their
// `tls:` block (config.TLS, shared with the Kafka connections), errors that name no
// credential, and the store's Retry-After.
package transport

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/retryafter"
	"github.com/auditstream/auditstream/sinks"
)

// HTTPClient returns a client with the given request timeout and TLS settings. It never
// follows a redirect (see NoRedirects): the sink sees the 3xx answer itself.
func HTTPClient(timeout time.Duration, t config.TLS) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if !t.IsZero() {
		c, err := t.Config()
		if err != nil {
			return nil, fmt.Errorf("settings.tls: %w", err)
		}
		tr.TLSClientConfig = c
	}
	return &http.Client{Timeout: timeout, Transport: tr, CheckRedirect: NoRedirects}, nil
}

// NoRedirects is the CheckRedirect of the sinks' clients: a redirect is answered to the
// caller as it came. Following it would be wrong twice over: Go turns a POST answered
// 301/302/303 into a GET without a body (whose 200 would count the batch as written while
// nothing was stored), and the request's headers (tokens) would go to another host.
func NoRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Redirect returns a Fatal error when code is a redirect (3xx), nil otherwise. what names
// the sink and request ("webhook sink x: POST"); configured is the configured URL, of
// which only the scheme and host are named (its user info, path and query may hold
// credentials; the Location header is never repeated either).
func Redirect(code int, what, configured string) error {
	if code < 300 || code > 399 {
		return nil
	}
	return sinks.Fatal(fmt.Errorf("%s: %s answered HTTP %d (a redirect): the configured URL is not the final one; set it to where the service really is", what, Host(configured), code))
}

// Host is scheme://host[:port] of a URL, without user info, path or query.
func Host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "the configured URL"
	}
	return u.Scheme + "://" + u.Host
}

// Unwrap drops the *url.Error layer of an HTTP client error: its text repeats the request
// URL, which the sink names itself (without anything secret that a URL could carry).
func Unwrap(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// Ping sends req with hc and wants 200 OK; what names the check in the error.
func Ping(hc *http.Client, req *http.Request, what string) error {
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", what, Unwrap(err))
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", what, resp.StatusCode)
	}
	return nil
}

// RetryLater wraps err, a whole-request failure that a retry may fix (429, 503...), with
// the wait the answer's Retry-After header asks for (sinks.RetryAfter, at most
// sinks.MaxRetryAfter); without a usable header err is returned as it is.
func RetryLater(err error, h http.Header) error {
	return sinks.RetryAfter(err, AskedWait(h))
}

// AskedWait is the wait an answer's Retry-After header asks for, at most
// sinks.MaxRetryAfter; 0 when it asks for none.
func AskedWait(h http.Header) time.Duration {
	return retryafter.Header(h, sinks.MaxRetryAfter)
}
