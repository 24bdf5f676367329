package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// PlainHTTP is the opt-out of a settings block whose URLs carry a credential (a provider's
// or an HTTP sink's; written inline, `yaml:",inline"`): allow_plain_http: true lets them
// be http:// to a host other than a loopback address. It is for tests against a simulator
// or a mock on another host; the process logs a warning naming the block at every start
// and sets auditstream_insecure_transport{component} to 1.
type PlainHTTP struct {
	AllowPlainHTTP bool `yaml:"allow_plain_http"`
}

// Endpoint is a URL setting that carries a credential: what Check and Insecure look at.
type Endpoint struct {
	// Key is the setting's key in its block ("base_url", "urls[0]").
	Key string
	// URL is its value.
	URL string
	// Carries names what crosses the wire with it ("the bearer token"); "": nothing
	// secret does, so plain HTTP is no problem.
	Carries string
	// Form is the expected form, for messages ("https://api.ionos.com/activitylog/v1").
	Form string
	// Shape, if set, returns what is wrong with the URL's path ("" when nothing is).
	Shape func(u *url.URL) string
	// Optional: an empty URL is no problem (the block has a default or does without).
	Optional bool
}

// Loopback reports whether host (a URL's Hostname) is a loopback address: localhost (any
// case, with or without one trailing dot) or a literal loopback IP (127.0.0.0/8, ::1,
// ::ffff:127.x.y.z). Traffic to it never leaves the machine (or the container). Nothing
// else is: Go's resolver does not treat a name under .localhost as loopback, and in
// Kubernetes a name like evil.localhost can reach a Service through the search domains.
func Loopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// plain reports whether raw is an http:// URL to a host that is not a loopback address.
func plain(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && strings.EqualFold(u.Scheme, "http") && !Loopback(u.Hostname())
}

// Check records the problems of each endpoint at path+"."+Key: not an http(s) URL, a path
// of the wrong shape, or http:// to a host that is not a loopback address without the
// opt-out. The messages say the expected form; they never repeat a URL's user info or
// query (which may hold a credential).
func (o PlainHTTP) Check(path string, p *Problems, eps ...Endpoint) {
	for _, e := range eps {
		at := path + "." + e.Key
		if e.URL == "" {
			if !e.Optional {
				p.Add(at, "is required (expected like %s)", e.Form)
			}
			continue
		}
		u, err := url.Parse(e.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.Add(at, "is not an http(s) URL (expected like %s)", e.Form)
			continue
		}
		if e.Shape != nil {
			if why := e.Shape(u); why != "" {
				p.Add(at, "%s: %s (expected like %s)", redact(e.URL), why, e.Form)
			}
		}
		if e.Carries != "" && plain(e.URL) && !o.AllowPlainHTTP {
			p.Add(at, "%s would send %s in clear text: use https:// (expected like %s); http:// is accepted only to a "+
				"loopback address (127.0.0.1, ::1, localhost) or, for tests, with allow_plain_http: true in this block "+
				"(logged as a warning at every start)", redact(e.URL), e.Carries, e.Form)
		}
	}
}

// Insecure lists the endpoints that cross the network in clear text (http:// to a host
// that is not a loopback address), as the start-up warning names them.
func (o PlainHTTP) Insecure(eps ...Endpoint) []string {
	var out []string
	for _, e := range eps {
		if e.Carries != "" && plain(e.URL) {
			out = append(out, fmt.Sprintf("%s is plain HTTP to %s (allow_plain_http: true): %s crosses the network in clear text",
				e.Key, redact(e.URL), e.Carries))
		}
	}
	return out
}

// InsecureTransport is a settings block that can weaken the protection of its
// connections (an opt-out, tls.insecure_skip_verify): the composition root logs what it
// returns, one warning per line, at every start and sets the metric
// auditstream_insecure_transport{component} to 1.
type InsecureTransport interface {
	InsecureTransport() []string
}

// redact is scheme://host[:port] of a URL: no user info, path or query (a webhook's path
// or a query may hold a token).
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "the URL"
	}
	return u.Scheme + "://" + u.Host
}

// PathEnds is an Endpoint.Shape: the URL's path (a trailing slash aside) must end with
// want ("": any ending) and with none of refuse, because the client adds the API's own
// paths after it (a base URL ending in /v3 would make /v3/v3/...). Its messages describe
// the expected ending and never repeat the path (a webhook's path may hold a token).
func PathEnds(want string, refuse ...string) func(u *url.URL) string {
	return func(u *url.URL) string {
		got := strings.TrimRight(u.Path, "/")
		for _, r := range refuse {
			if strings.HasSuffix(strings.ToLower(got), strings.ToLower(r)) {
				return fmt.Sprintf("leave %s out of the path: the client adds it", r)
			}
		}
		if !strings.HasSuffix(strings.ToLower(got), strings.ToLower(want)) {
			return fmt.Sprintf("the path must end with %s", want)
		}
		return ""
	}
}
