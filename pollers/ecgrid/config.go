// Package ecgrid polls the ECGridOS SessionLog over SOAP.
package ecgrid

import (
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/pollers/window"
)

// Config of an ECGridOS poller (the `settings:` block of an ecgrid poller).
type Config struct {
	// Endpoint is the service URL (default https://os.ecgrid.io/v4.1/prod/ECGridOS.asmx).
	Endpoint string `yaml:"endpoint"`
	// Namespace of the operations (default http://www.ecgridos.net/; older samples use
	// https://os.ecgrid.io/). Responses are parsed by local name whatever their namespace.
	Namespace string `yaml:"namespace"`
	// SOAPVersion is "1.1" (default) or "1.2".
	SOAPVersion string `yaml:"soap_version"`
	// Methods are the operation names (defaults Login, Logout, SessionLog, SessionLogEx).
	Methods MethodNames `yaml:"methods"`
	// Login and Password open a session with Login (Logout at shutdown); or set APIKey,
	// which is passed as the SessionID (no login at all).
	Login    string        `yaml:"login"`
	Password config.Secret `yaml:"password"`
	APIKey   config.Secret `yaml:"api_key"`
	// SessionDir keeps the login session id across restarts (a 0600 file per user and
	// process slot), so a restarted or killed poller reuses its session instead of
	// leaving it open until the provider's idle timeout. Empty (default): in memory only.
	// Not used with APIKey.
	SessionDir string `yaml:"session_dir"`
	// NetworkID is the ECGrid network of the polled users; it is the tenant of every
	// record (metadata.tenant_uid).
	NetworkID string `yaml:"network_id"`
	// Users to poll; 0 = the authenticated user (default [0]).
	Users []int `yaml:"users"`
	// MaxRecords asked of SessionLog per poll (default 100; a short, 1..32767).
	MaxRecords int `yaml:"max_records"`
	// SessionLogEx switches to closed time windows (SessionLogEx(StartTime, EndTime)) with
	// the shared window rule; MaxRecords is then the per-window cap (≤ 100).
	SessionLogEx bool `yaml:"session_log_ex"`
	// Window holds the shared window settings of SessionLogEx mode (overlap, lag,
	// initial_lookback, start_window, max_window, min_window, max_seen).
	Window window.Settings `yaml:",inline"`
	// BackoffMin/BackoffMax bound the delays between retries of one call (500ms, 30s).
	BackoffMin config.Duration `yaml:"backoff_min"`
	BackoffMax config.Duration `yaml:"backoff_max"`
	// allow_plain_http: true accepts an http:// endpoint to a host that is not a
	// loopback address (tests only; logged as a warning at every start).
	config.PlainHTTP `yaml:",inline"`
}

// MethodNames are configurable operation names.
type MethodNames struct {
	Login        string `yaml:"login"`
	Logout       string `yaml:"logout"`
	SessionLog   string `yaml:"session_log"`
	SessionLogEx string `yaml:"session_log_ex"`
	// LoginParam is the element carrying the login: Email (default) or LoginName.
	LoginParam string `yaml:"login_param"`
}

// Defaults.
const (
	DefaultEndpoint  = "https://os.ecgrid.io/v4.1/prod/ECGridOS.asmx"
	DefaultNamespace = "http://www.ecgridos.net/"
)

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.Endpoint, DefaultEndpoint)
	def(&c.Namespace, DefaultNamespace)
	def(&c.SOAPVersion, "1.1")
	def(&c.Methods.Login, "Login")
	def(&c.Methods.Logout, "Logout")
	def(&c.Methods.SessionLog, "SessionLog")
	def(&c.Methods.SessionLogEx, "SessionLogEx")
	def(&c.Methods.LoginParam, "Email")
	if len(c.Users) == 0 {
		c.Users = []int{0}
	}
	if c.MaxRecords == 0 {
		c.MaxRecords = 100
	}
	dur := func(p *config.Duration, v time.Duration) {
		if *p == 0 {
			*p = config.Duration(v)
		}
	}
	c.Window.SetDefaults()
	dur(&c.BackoffMin, 500*time.Millisecond)
	dur(&c.BackoffMax, 30*time.Second)
}

var xmlName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// Validate lists the problems of the block at path.
func (c *Config) Validate(path string, p *config.Problems) {
	c.PlainHTTP.Check(path, p, c.endpoint())
	if u, err := url.Parse(c.Namespace); err != nil || u.Scheme == "" {
		p.Add(path+".namespace", "%q is not a namespace URI", c.Namespace)
	}
	if c.SOAPVersion != "1.1" && c.SOAPVersion != "1.2" {
		p.Add(path+".soap_version", "must be \"1.1\" or \"1.2\", got %q", c.SOAPVersion)
	}
	for name, v := range map[string]string{"login": c.Methods.Login, "logout": c.Methods.Logout, "session_log": c.Methods.SessionLog,
		"session_log_ex": c.Methods.SessionLogEx, "login_param": c.Methods.LoginParam} {
		if !xmlName.MatchString(v) {
			p.Add(path+".methods."+name, "%q is not an XML element name", v)
		}
	}
	switch {
	case c.APIKey != "" && (c.Login != "" || c.Password != ""):
		p.Add(path, "set api_key, or login and password, not both")
	case c.APIKey == "" && (c.Login == "" || c.Password == ""):
		p.Add(path, "set login and password, or api_key")
	}
	if c.SessionDir != "" && !filepath.IsAbs(c.SessionDir) {
		p.Add(path+".session_dir", "must be an absolute path, got %q", c.SessionDir)
	}
	if c.NetworkID == "" {
		p.Add(path+".network_id", "is required (the NetworkID of the polled users; it is the tenant of their records)")
	}
	seen := map[int]bool{}
	for i, u := range c.Users {
		if u < 0 {
			p.Add(path+".users["+strconv.Itoa(i)+"]", "must be a user id >= 0 (0 = the authenticated user)")
		}
		if seen[u] {
			p.Add(path+".users["+strconv.Itoa(i)+"]", "user %d is listed twice", u)
		}
		seen[u] = true
	}
	if c.MaxRecords < 1 || c.MaxRecords > 32767 {
		p.Add(path+".max_records", "must be between 1 and 32767 (a short), got %d", c.MaxRecords)
	}
	if c.SessionLogEx {
		if c.MaxRecords > 100 {
			p.Add(path+".max_records", "SessionLogEx returns at most 100 records, got %d", c.MaxRecords)
		}
		c.Window.Validate(path, p)
	}
	p.Positive(path+".backoff_min", c.BackoffMin)
	if c.BackoffMax < c.BackoffMin {
		p.Add(path+".backoff_max", "must be >= backoff_min")
	}
}

// endpoint is the service URL, the .asmx itself.
func (c *Config) endpoint() config.Endpoint {
	return config.Endpoint{Key: "endpoint", URL: c.Endpoint, Carries: "the password (Login) and the session ID",
		Form: DefaultEndpoint, Shape: config.PathEnds(".asmx")}
}

// InsecureTransport implements config.InsecureTransport.
func (c *Config) InsecureTransport() []string { return c.PlainHTTP.Insecure(c.endpoint()) }
