package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"gopkg.in/yaml.v3"

	"github.com/auditstream/auditstream/internal/metrics"
)

// credCase is one settings block of a provider or an HTTP sink that sends a credential to
// its URL: %[1]s stands for scheme://host[:port] of the URL, %[2]s for the rest of a block
// (an opt-out, a tls block), %[3]s for the path. key is the URL's key; good is a path of
// the expected form after the host, bad one the provider's validation refuses, with the
// words the problem must hold; errors, per answer ("404", "html", "401"), what a poll's
// error must say.
type credCase struct {
	kind, name, block, key string
	good, bad, badSays     string
	errors                 map[string][]string
}

// credentialed is every registered provider's case, read from its own folder
// (pollers/<provider>/testdata/security.yaml: adding a provider touches no file here),
// and the HTTP sinks'.
var credentialed = append(providerCases(), []credCase{
	{kind: "sink", name: "webhook", block: `{url: "%[1]s%[3]s", secret: 0123456789abcdef%[2]s}`, key: "url", good: "/hook"},
	{kind: "sink", name: "splunk_hec", block: `{url: "%[1]s%[3]s", token: t0k%[2]s}`, key: "url"},
	{kind: "sink", name: "elasticsearch", block: `{urls: ["%[1]s%[3]s"], api_key: k3y%[2]s}`, key: "urls[0]"},
	{kind: "sink", name: "loki", block: `{url: "%[1]s%[3]s", username: u, password: pw%[2]s}`, key: "url"},
}...)

// providerCases reads each registered provider's testdata/security.yaml (a provider
// without one is left out here and reported by TestCredentialedTableCoversEveryPlugin).
func providerCases() []credCase {
	var out []credCase
	for _, p := range Providers {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "pollers", p, "testdata", "security.yaml"))
		if err != nil {
			continue
		}
		var f struct {
			Block, Key, Good, Bad string
			BadSays               string              `yaml:"bad_says"`
			Errors                map[string][]string `yaml:"errors"`
		}
		if err := yaml.Unmarshal(b, &f); err != nil {
			panic(fmt.Sprintf("pollers/%s/testdata/security.yaml: %v", p, err))
		}
		out = append(out, credCase{kind: "provider", name: p, block: f.Block, key: f.Key, good: f.Good, bad: f.Bad,
			badSays: f.BadSays, errors: f.Errors})
	}
	return out
}

// notHTTP are the sink types that send nothing over HTTP (their own TLS checks apply).
var notHTTP = []string{"file", "postgres", "kafka", "syslog"}

// configFile writes a configuration with the one poller or sink of kind and name whose
// settings are block, and returns its path and the line of the settings.
func configFile(t *testing.T, kind, name, block string) (string, int) {
	t.Helper()
	var y string
	if kind == "provider" {
		y = fmt.Sprintf("pollers:\n  - name: p\n    provider: %s\n    schedule: \"@every 10s\"\n    settings: %s\n", name, block)
	} else {
		y = fmt.Sprintf("sinks:\n  - name: s\n    type: %s\n    settings: %s\n", name, block)
	}
	f := filepath.Join(t.TempDir(), "auditstream.yaml")
	if err := os.WriteFile(f, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return f, 1 + strings.Count(y[:strings.Index(y, "settings:")], "\n")
}

func blockPath(kind string) string {
	if kind == "provider" {
		return "pollers[0].settings"
	}
	return "sinks[0].settings"
}

// Every provider has its cases (in its folder) and every HTTP sink is in the table.
func TestCredentialedTableCoversEveryPlugin(t *testing.T) {
	for _, p := range Providers {
		if !slices.ContainsFunc(credentialed, func(c credCase) bool {
			return c.kind == "provider" && c.name == p
		}) {
			t.Errorf("provider %s has no pollers/%s/testdata/security.yaml", p, p)
		}
	}
	for _, s := range SinkTypes {
		if !slices.Contains(notHTTP, s) && !slices.ContainsFunc(credentialed, func(c credCase) bool {
			return c.kind == "sink" && c.name == s
		}) {
			t.Errorf("sink type %s has no case in credentialed (or list it in notHTTP)", s)
		}
	}
}

// validate refuses an http:// URL to a host that is not a loopback address, for every
// provider and every HTTP sink, at the file's line and the URL's key; a loopback host, an
// https URL or the opt-out pass; a base URL of the wrong shape is refused with the
// expected form.
func TestValidateRefusesPlainHTTPWithCredentials(t *testing.T) {
	for _, c := range credentialed {
		t.Run(c.name, func(t *testing.T) {
			check := func(host, rest, path string) error {
				f, _ := configFile(t, c.kind, c.name, fmt.Sprintf(c.block, host, rest, path))
				_, err := Load(f)
				return err
			}
			f, line := configFile(t, c.kind, c.name, fmt.Sprintf(c.block, "http://audit.example.com", "", c.good))
			_, err := Load(f)
			want := fmt.Sprintf("%s:%d:", f, line)
			at := blockPath(c.kind) + "." + c.key + ": http://audit.example.com would send "
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), at) ||
				!strings.Contains(err.Error(), "in clear text: use https://") || !strings.Contains(err.Error(), "allow_plain_http: true") {
				t.Fatalf("plain http: err = %v, want a problem at %s with %q", err, want, at)
			}
			for _, ok := range []struct{ host, rest string }{
				{"https://audit.example.com", ""},
				{"http://127.0.0.1:18081", ""},
				{"http://localhost:18081", ""},
				{"http://[::1]:18081", ""},
				{"http://audit.example.com", ", allow_plain_http: true"},
			} {
				if err := check(ok.host, ok.rest, c.good); err != nil {
					t.Errorf("%s%s: %v", ok.host, ok.rest, err)
				}
			}
			if c.badSays != "" {
				err := check("https://audit.example.com", "", c.bad)
				if err == nil || !strings.Contains(err.Error(), blockPath(c.kind)+"."+c.key+": ") ||
					!strings.Contains(err.Error(), c.badSays) || !strings.Contains(err.Error(), "expected like https://") {
					t.Errorf("base URL %s: err = %v, want %q and the expected form", c.bad, err, c.badSays)
				}
			}
		})
	}
}

// The opt-out, tls.insecure_skip_verify and SASL PLAIN without TLS (the kafka block as a
// Kafka sink's) each log a warning naming the block and set
// auditstream_insecure_transport{component} to 1; a loopback URL or a verified https one
// neither warns nor sets it.
func TestInsecureTransportWarnsAndSetsTheMetric(t *testing.T) {
	type tc struct {
		name, yaml, component, says string
		roles                       Roles
	}
	var cases []tc
	for _, c := range credentialed {
		comp, roles := "sink:s", Roles{Sink: true}
		if c.kind == "provider" {
			comp, roles = "poller:p", Roles{Poll: true}
		}
		f, _ := configFile(t, c.kind, c.name, fmt.Sprintf(c.block, "http://sim", ", allow_plain_http: true", c.good))
		y, _ := os.ReadFile(f)
		cases = append(cases, tc{c.name + " allow_plain_http", string(y), comp,
			blockPath(c.kind) + "." + c.key + " is plain HTTP to http://sim (allow_plain_http: true)", roles})
		if c.kind == "sink" {
			f, _ := configFile(t, c.kind, c.name, fmt.Sprintf(c.block, "https://es.example.com", ", tls: {insecure_skip_verify: true}", c.good))
			y, _ := os.ReadFile(f)
			cases = append(cases, tc{c.name + " insecure_skip_verify", string(y), comp, "sinks[0].settings.tls.insecure_skip_verify is true", roles})
		}
	}
	cases = append(cases,
		tc{"kafka insecure_skip_verify", "kafka: {brokers: [\"k:9093\"], tls: {insecure_skip_verify: true}}\n", "kafka",
			"kafka.tls.insecure_skip_verify is true", Roles{Normalize: true}},
		tc{"kafka sasl plain without tls", "kafka: {brokers: [\"k:9092\"], sasl: {mechanism: plain, username: u, password: pw}}\n", "kafka",
			"kafka.sasl uses PLAIN without tls", Roles{Poll: true}},
		tc{"kafka sasl plain with tls", "kafka: {brokers: [\"k:9093\"], tls: {enabled: true}, sasl: {mechanism: plain, username: u, password: pw}}\n", "kafka",
			"", Roles{Poll: true}},
		tc{"kafka sasl scram without tls", "kafka: {brokers: [\"k:9092\"], sasl: {mechanism: scram-sha-512, username: u, password: pw}}\n", "kafka",
			"", Roles{Normalize: true}},
		tc{"kafka sink insecure_skip_verify", "sinks:\n  - {name: s, type: kafka, settings: {brokers: [\"k:9093\"], topic: t, tls: {insecure_skip_verify: true}}}\n",
			"sink:s", "sinks[0].settings.tls.insecure_skip_verify is true", Roles{Sink: true}},
		tc{"syslog insecure_skip_verify", "sinks:\n  - {name: s, type: syslog, settings: {address: \"syslog.example.com:6514\", transport: tls, tls: {insecure_skip_verify: true}}}\n",
			"sink:s", "sinks[0].settings.tls.insecure_skip_verify is true", Roles{Sink: true}},
		tc{"loopback, no opt-out", "pollers:\n  - {name: p, provider: ionos, schedule: \"@every 10s\", settings: {base_url: \"http://127.0.0.1:1/activitylog/v1\", token: t}}\n",
			"poller:p", "", Roles{Poll: true}},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(f, []byte(c.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			m := metrics.NewUnregistered()
			warnInsecure(cfg, c.roles, slog.New(slog.NewTextHandler(&logs, nil)), m)
			got := testutil.ToFloat64(m.InsecureTransport.WithLabelValues(c.component))
			if c.says == "" {
				if got != 0 || logs.Len() != 0 {
					t.Fatalf("metric %v, logs %q: want neither", got, logs.String())
				}
				return
			}
			if got != 1 || !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), c.says) ||
				!strings.Contains(logs.String(), "component="+c.component) {
				t.Fatalf("metric %v, logs %q: want 1 and a warning with %q", got, logs.String(), c.says)
			}
			// A role that does not run the component says nothing about it.
			logs.Reset()
			warnInsecure(cfg, Roles{Sims: true}, slog.New(slog.NewTextHandler(&logs, nil)), metrics.NewUnregistered())
			if logs.Len() != 0 {
				t.Fatalf("the sim role warned: %s", logs.String())
			}
		})
	}
}

// At run time the errors name the setting at fault: a base URL whose paths do not exist
// (404), a web page instead of the API's JSON, credentials refused even with a new token.
func TestProviderErrorsNameTheSetting(t *testing.T) {
	const page = "<!DOCTYPE html><html><head><title>Sign in</title></head><body>portal</body></html>"
	modes := map[string]http.HandlerFunc{
		"404": func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
		"html": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(page))
		},
		"401": func(w http.ResponseWriter, r *http.Request) {
			if p := r.URL.Path; strings.Contains(p, "/token") || strings.Contains(p, "/authenticate") ||
				strings.Contains(p, "/encrypt/") || strings.Contains(p, "/gettoken/") {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"access_token":"tok","token_type":"Bearer","expires_in":3600,"ReturnValue":"tok"}`))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"message":"unauthorized"}`))
		},
	}
	for _, c := range credentialed {
		for mode, says := range c.errors { // none for ECGridOS (SOAP: its faults name their settings) and the sinks
			t.Run(c.name+" "+mode, func(t *testing.T) {
				srv := httptest.NewServer(modes[mode])
				defer srv.Close()
				f, _ := configFile(t, c.kind, c.name, fmt.Sprintf(c.block, srv.URL, "", c.good))
				cfg, err := Load(f)
				if err != nil {
					t.Fatal(err)
				}
				src, err := newSource(cfg.Pollers[0], slog.New(slog.DiscardHandler), metrics.NewUnregistered())
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, err = src.Targets(ctx)
				t.Logf("%v", err)
				for _, s := range says {
					if err == nil || !strings.Contains(err.Error(), s) {
						t.Fatalf("err = %v, want %q", err, s)
					}
				}
				for _, secret := range []string{"s3cret", "k3y", "t0k"} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("the error carries a secret: %v", err)
					}
				}
			})
		}
	}
}
