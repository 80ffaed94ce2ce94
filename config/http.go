package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/satellite-sdn/satellite/internal/auth"
)

// HTTP holds the settings of the HTTP API (docs/security.md). In YAML it
// is a mapping, or just the address:
//
//	http: 127.0.0.1:8080
//	http:
//	  addr: 0.0.0.0:8443
//	  tls: {cert: /etc/satellite/https.crt, key: /etc/satellite/https.key}
//	  hosts: [satellite.example.net]
//	  open_paths: [/healthz, /metrics]
type HTTP struct {
	// Addr is the listen address ("HOST:PORT" or ":PORT"). Default
	// 127.0.0.1:8080: a non-loopback address needs TLS (or Insecure).
	Addr string `yaml:"addr"`
	// Insecure allows plain HTTP on a non-loopback address (tokens then
	// cross the network in clear).
	Insecure bool `yaml:"insecure"`
	// TLS serves HTTPS.
	TLS HTTPTLS `yaml:"tls"`
	// Hosts are the names clients use for this server besides localhost
	// and IP addresses (checked against the Host header: DNS rebinding).
	Hosts []string `yaml:"hosts"`
	// Origins are other origins (scheme://host:port) whose pages may make
	// changes; default none.
	Origins []string `yaml:"origins"`
	// OpenPaths are answered without credentials: any of /healthz,
	// /metrics and /api/openapi.json. Default none.
	OpenPaths []string `yaml:"open_paths"`
	// ReadHeaderTimeout, ReadTimeout and IdleTimeout bound how long a
	// client may take to send its headers, its whole request, and how long
	// an idle keep-alive connection is kept.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	ReadTimeout       Duration `yaml:"read_timeout"`
	IdleTimeout       Duration `yaml:"idle_timeout"`
	// MaxConnections is how many connections are open at once; more are
	// answered 503 and closed.
	MaxConnections int `yaml:"max_connections"`
	// MaxStreamClients is how many websocket stream clients are connected
	// at once; more are answered 503.
	MaxStreamClients int `yaml:"max_stream_clients"`
}

// HTTPTLS holds the HTTPS settings. The certificate and key are read
// again on SIGHUP.
type HTTPTLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ClientCA: client certificates signed by this CA are verified and
	// mapped to roles by ClientRoles (mTLS). Tokens still work.
	ClientCA string `yaml:"client_ca"`
	// ClientRoles maps "CN=NAME" or "OU=UNIT" of a client certificate to
	// viewer, operator or admin.
	ClientRoles map[string]string `yaml:"client_roles"`
}

// Enabled says whether HTTPS is configured.
func (t HTTPTLS) Enabled() bool { return t.Cert != "" || t.Key != "" }

// Defaults of the http section.
const (
	DefaultHTTPAddr          = "127.0.0.1:8080"
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMaxConnections    = 1024
	DefaultMaxStreamClients  = 256
)

// OpenablePaths are the paths http.open_paths may name.
var OpenablePaths = []string{"/healthz", "/metrics", "/api/openapi.json"}

func defaultHTTP() HTTP {
	return HTTP{Addr: DefaultHTTPAddr, ReadHeaderTimeout: Duration(DefaultReadHeaderTimeout), ReadTimeout: Duration(DefaultReadTimeout),
		IdleTimeout: Duration(DefaultIdleTimeout), MaxConnections: DefaultMaxConnections, MaxStreamClients: DefaultMaxStreamClients}
}

// UnmarshalYAML accepts the address alone, or the mapping.
func (h *HTTP) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		h.Addr = n.Value
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want an address such as 127.0.0.1:8080, or a mapping (addr, tls, hosts, ...)", n.Line)
	}
	type plain HTTP
	return n.Decode((*plain)(h))
}

// IsLoopback says whether the listen address addr only accepts
// connections from this machine.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c Config) validateHTTP(bad func(setting, format string, args ...any)) {
	h := c.HTTP
	if err := checkHostPort(h.Addr); err != nil {
		bad("http", "%q: %v", h.Addr, err)
	} else if !IsLoopback(h.Addr) && !h.TLS.Enabled() && !h.Insecure {
		bad("http", "%q is not a loopback address and HTTPS is off: tokens would cross the network in clear. "+
			"Set http.tls.cert and http.tls.key (docs/security.md), bind %s, or accept plain HTTP with --insecure (http.insecure: true)", h.Addr, DefaultHTTPAddr)
	}
	if (h.TLS.Cert == "") != (h.TLS.Key == "") {
		bad("http.tls", "want both cert and key (PEM files), or neither")
	}
	for _, f := range []struct{ name, path string }{{"http.tls.cert", h.TLS.Cert}, {"http.tls.key", h.TLS.Key}, {"http.tls.client_ca", h.TLS.ClientCA}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			bad(f.name, "%v", err)
		}
	}
	if h.TLS.ClientCA != "" && !h.TLS.Enabled() {
		bad("http.tls.client_ca", "client certificates need HTTPS: set http.tls.cert and http.tls.key too")
	}
	if len(h.TLS.ClientRoles) > 0 && h.TLS.ClientCA == "" {
		bad("http.tls.client_roles", "needs http.tls.client_ca, the CA that signs the client certificates")
	}
	for k, v := range h.TLS.ClientRoles {
		if !strings.HasPrefix(k, "CN=") && !strings.HasPrefix(k, "OU=") || len(k) < 4 {
			bad("http.tls.client_roles", "%q: want CN=NAME or OU=UNIT", k)
		}
		if _, err := auth.ParseRole(v); err != nil {
			bad("http.tls.client_roles", "%s: %v", k, err)
		}
	}
	for _, p := range h.OpenPaths {
		if !contains(OpenablePaths, p) {
			bad("http.open_paths", "%q: want some of %s (changes always need credentials)", p, strings.Join(OpenablePaths, ", "))
		}
	}
	for _, o := range h.Origins {
		if !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			bad("http.origins", "%q: want scheme://host[:port] such as https://grafana.example.net", o)
		}
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{{"http.read_header_timeout", h.ReadHeaderTimeout}, {"http.read_timeout", h.ReadTimeout}, {"http.idle_timeout", h.IdleTimeout}} {
		if time.Duration(d.v) < 100*time.Millisecond {
			bad(d.name, "%s is too short; want at least 100ms", d.v)
		}
	}
	if h.MaxConnections < 1 {
		bad("http.max_connections", "%d; want a whole number of at least 1 (such as %d)", h.MaxConnections, DefaultMaxConnections)
	}
	if h.MaxStreamClients < 1 {
		bad("http.max_stream_clients", "%d; want a whole number of at least 1 (such as %d)", h.MaxStreamClients, DefaultMaxStreamClients)
	}
}

// ClientRoles returns http.tls.client_roles as roles (invalid ones left
// out: Validate reports them).
func (c Config) ClientRoles() map[string]auth.Role {
	out := map[string]auth.Role{}
	for k, v := range c.HTTP.TLS.ClientRoles {
		if r, err := auth.ParseRole(v); err == nil {
			out[k] = r
		}
	}
	return out
}

// siblingFile is the file next to the state file with suffix (and ext,
// or the state file's extension).
func (c Config) siblingFile(suffix, ext string) string {
	dir, base := filepath.Split(c.StateFile)
	e := filepath.Ext(base)
	stem := strings.TrimSuffix(base, e)
	if ext == "" {
		ext = e
		if ext == "" {
			ext = ".db"
		}
	}
	return filepath.Join(dir, stem+suffix+ext)
}

// TokensFile is where the API tokens are kept (hashed): state-tokens.db
// next to the state file.
func (c Config) TokensFile() string { return c.siblingFile("-tokens", "") }

// AuditFile is the audit log of every state-changing API request:
// state-audit.log next to the state file.
func (c Config) AuditFile() string { return c.siblingFile("-audit", ".log") }

// BootstrapTokenFile is where the first start writes an admin token
// (0600) when there are no tokens: state-admin.token next to the state file.
func (c Config) BootstrapTokenFile() string { return c.siblingFile("-admin", ".token") }
