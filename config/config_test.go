package config

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{EnvConfig, EnvOpenFlow, EnvHTTP, EnvLogLevel, EnvLogFormat} {
		t.Setenv(k, "")
	}
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "satellite.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	clearEnv(t)
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	want := Default()
	if !reflect.DeepEqual(c.OpenFlow, want.OpenFlow) || c.HTTP.Addr != DefaultHTTPAddr || c.LogLevel != "info" || c.LogFormat != "text" ||
		c.Keepalive.Interval != Duration(time.Second) || c.Keepalive.Misses != 10 || c.RequestTimeout != Duration(5*time.Second) {
		t.Fatalf("defaults: %+v", c)
	}
	if got := c.Source("http"); got != "default" {
		t.Fatalf("source of http = %q", got)
	}
}

func TestLoadFile(t *testing.T) {
	clearEnv(t)
	p := writeFile(t, `
openflow: ["tcp:127.0.0.1:6633", "unix:/tmp/sat.sock"]
http: 127.0.0.1:9090
log_level: debug
log_format: json
keepalive: {interval: 500ms, misses: 5}
request_timeout: 2s
packet_out_rate: 100
packet_in_rate: 50.5
`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual([]string(c.OpenFlow), []string{"tcp:127.0.0.1:6633", "unix:/tmp/sat.sock"}) {
		t.Fatalf("openflow = %v", c.OpenFlow)
	}
	if c.HTTP.Addr != "127.0.0.1:9090" || c.LogLevel != "debug" || c.LogFormat != "json" {
		t.Fatalf("got %+v", c)
	}
	if c.Keepalive.Interval != Duration(500*time.Millisecond) || c.Keepalive.Misses != 5 || c.RequestTimeout != Duration(2*time.Second) {
		t.Fatalf("got %+v", c)
	}
	if c.PacketOutRate != 100 || c.PacketInRate != 50.5 {
		t.Fatalf("rates %v %v", c.PacketOutRate, c.PacketInRate)
	}
	if c.Source("keepalive.misses") != p {
		t.Fatalf("source = %q", c.Source("keepalive.misses"))
	}

	cc := c.Controller(nil)
	if !reflect.DeepEqual(cc.Listen, []string{"tcp:127.0.0.1:6633", "unix:/tmp/sat.sock"}) || cc.EchoInterval != 500*time.Millisecond ||
		cc.EchoMisses != 5 || cc.RequestTimeout != 2*time.Second || cc.PacketOutRate != 100 || cc.PacketInRate != 50.5 {
		t.Fatalf("controller config %+v", cc)
	}
}

func TestPartialFileKeepsDefaults(t *testing.T) {
	clearEnv(t)
	c, err := Load(writeFile(t, "keepalive:\n  misses: 7\nopenflow: tcp::7000\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Keepalive.Misses != 7 || c.Keepalive.Interval != Duration(time.Second) || c.HTTP.Addr != DefaultHTTPAddr {
		t.Fatalf("got %+v", c)
	}
	if !reflect.DeepEqual([]string(c.OpenFlow), []string{"tcp::7000"}) {
		t.Fatalf("single-string openflow: %v", c.OpenFlow)
	}
	// a setting with no value keeps its default
	c, err = Load(writeFile(t, "http:\nopenflow:\nkeepalive:\nlog_level: warn\n"))
	if err != nil || c.HTTP.Addr != DefaultHTTPAddr || len(c.OpenFlow) != 1 || c.Keepalive.Misses != 10 || c.LogLevel != "warn" {
		t.Fatalf("null settings: %+v %v", c, err)
	}
	// an empty file is all defaults
	c, err = Load(writeFile(t, "# nothing\n"))
	if err != nil || c.HTTP.Addr != DefaultHTTPAddr {
		t.Fatalf("empty file: %+v %v", c, err)
	}
}

func TestUnknownKeys(t *testing.T) {
	clearEnv(t)
	p := writeFile(t, "http: :8080\nlisten: tcp::6653\nkeepalive:\n  interval: 1s\n  retries: 3\n")
	_, err := Load(p)
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	for _, want := range []string{p, `line 2: unknown setting "listen"`, `line 5: unknown setting "keepalive.retries"`, "known: interval, misses", "openflow"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestBadValues(t *testing.T) {
	clearEnv(t)
	for _, tc := range []struct{ yaml, want string }{
		{"keepalive: {interval: 5}", `"5" is not a duration`},
		{"request_timeout: soon", `"soon" is not a duration`},
		{"packet_in_rate: fast", "packet_in_rate"},
		{"openflow: {a: b}", "want a list of targets"},
		{"http: [a", "config file"},
		{"- a\n- b", "want a mapping of settings"},
	} {
		_, err := Load(writeFile(t, tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.yaml, err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.OpenFlow = nil }, "openflow: no listen target"},
		{func(c *Config) { c.OpenFlow = Targets{"tcp::6653", "udp:1"} }, `openflow: target 2 "udp:1": unsupported network "udp"`},
		{func(c *Config) { c.OpenFlow = Targets{"6653"} }, "want tcp:[HOST]:PORT, ssl:[HOST]:PORT or unix:PATH"},
		{func(c *Config) { c.OpenFlow = Targets{"tcp::99999"} }, `port "99999" is not a number from 0 to 65535`},
		{func(c *Config) { c.OpenFlow = Targets{"unix:"} }, "missing socket path"},
		{func(c *Config) { c.HTTP.Addr = "8080" }, `http: "8080": want HOST:PORT or :PORT`},
		{func(c *Config) { c.LogLevel = "verbose" }, `log_level: "verbose" is not a log level; want one of debug, info, warn, error`},
		{func(c *Config) { c.LogFormat = "xml" }, `log_format: "xml" is not a log format; want one of text, json`},
		{func(c *Config) { c.Keepalive.Interval = 0 }, "keepalive.interval: 0s is too short"},
		{func(c *Config) { c.Keepalive.Misses = 0 }, "keepalive.misses: 0; want a whole number of at least 1"},
		{func(c *Config) { c.RequestTimeout = Duration(time.Millisecond) }, "request_timeout: 1ms is too short"},
		{func(c *Config) { c.PacketOutRate = -1 }, "packet_out_rate: -1; want a positive number"},
		{func(c *Config) { c.PacketInRate = 0 }, "packet_in_rate: 0; want a positive number"},
	} {
		c := Default()
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want it to contain %q", err, tc.want)
		}
	}
	for _, ok := range []string{"tcp::6653", "tcp:6653", "tcp:127.0.0.1:6653", "tcp:[::1]:6653", "ptcp:6653", "unix:/run/x.sock", "punix:/x"} {
		c := Default()
		c.OpenFlow = Targets{ok}
		if err := c.Validate(); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	// all problems are reported together
	c := Default()
	c.HTTP.Addr, c.LogLevel = "x", "y"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "http") || !strings.Contains(err.Error(), "log_level") {
		t.Errorf("joined errors: %v", err)
	}
}

func TestPrecedence(t *testing.T) {
	clearEnv(t)
	p := writeFile(t, "http: :1111\nlog_level: warn\nopenflow: [tcp::1]\nlog_format: json\n")
	t.Setenv(EnvConfig, p)
	t.Setenv(EnvHTTP, ":2222")
	t.Setenv(EnvOpenFlow, "tcp::2, unix:/tmp/a.sock")
	t.Setenv(EnvLogLevel, "error")

	// file < env
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != ":2222" || c.LogLevel != "error" || c.LogFormat != "json" || !reflect.DeepEqual([]string(c.OpenFlow), []string{"tcp::2", "unix:/tmp/a.sock"}) {
		t.Fatalf("env did not override file: %+v", c)
	}
	if c.Source("http") != EnvHTTP || c.Source("log_format") != p {
		t.Fatalf("sources: %q %q", c.Source("http"), c.Source("log_format"))
	}

	// env < flags; flags not given change nothing
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f := RegisterFlags(fs)
	state := filepath.Join(t.TempDir(), "st.db")
	if err := fs.Parse([]string{"--http", "127.0.0.1:3333", "--openflow", "tcp::3", "--openflow", "tcp::4", "--state-file", state}); err != nil {
		t.Fatal(err)
	}
	c, err = f.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "127.0.0.1:3333" || c.LogLevel != "error" || !reflect.DeepEqual([]string(c.OpenFlow), []string{"tcp::3", "tcp::4"}) {
		t.Fatalf("flags did not override env: %+v", c)
	}
	if c.StateFile != state || c.Source("state_file") != "--state-file" {
		t.Fatalf("--state-file: state file %q from %q", c.StateFile, c.Source("state_file"))
	}

	// a bad flag value is reported with its source
	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	f = RegisterFlags(fs)
	_ = fs.Parse([]string{"--log-level", "loud", "--config", p})
	if _, err := f.Load(); err == nil || !strings.Contains(err.Error(), "(set in --log-level)") {
		t.Fatalf("bad flag: %v", err)
	}
	// and a bad env value too
	t.Setenv(EnvHTTP, "nope")
	c, _ = Load("")
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "(set in "+EnvHTTP+")") {
		t.Fatalf("bad env: %v", err)
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	c := Default()
	c.LogFormat, c.LogLevel = "json", "warn"
	l := c.Logger(&buf)
	l.Info("hidden")
	l.Warn("shown", "k", 1)
	if s := buf.String(); strings.Contains(s, "hidden") || !strings.Contains(s, `"msg":"shown"`) {
		t.Fatalf("log output %q", s)
	}
}

func TestDiscoveryAndHostSettings(t *testing.T) {
	key := writeFile(t, "0123456789abcdef0123456789abcdef\n")
	if d := Default().Discovery; time.Duration(d.SteadyInterval) != 3*time.Second || time.Duration(d.Interval) != time.Second {
		t.Fatalf("default discovery %+v, want interval 1s, steady_interval 3s", d)
	}
	c, err := Load(writeFile(t, "discovery: {interval: 500ms, steady_interval: 5s, misses: 4, max_age: 1s, secret_file: "+key+"}\nhosts: {idle: 10m}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.Discovery.Interval) != 500*time.Millisecond || time.Duration(c.Discovery.SteadyInterval) != 5*time.Second || c.Discovery.Misses != 4 ||
		time.Duration(c.Discovery.MaxAge) != time.Second || c.Discovery.SecretFile != key || time.Duration(c.Hosts.Idle) != 10*time.Minute {
		t.Fatalf("loaded %+v %+v", c.Discovery, c.Hosts)
	}
	short := writeFile(t, "tooshort")
	c, err = Load(writeFile(t, "discovery: {interval: 10ms, misses: 0, max_age: 0s, secret_file: "+short+"}\nhosts: {idle: 0s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	msg := fmt.Sprint(c.Validate())
	for _, want := range []string{"discovery.interval", "discovery.misses", "discovery.max_age", "discovery.secret_file", "want at least 16", "hosts.idle"} {
		if !strings.Contains(msg, want) {
			t.Errorf("validation message lacks %q:\n%s", want, msg)
		}
	}
	// a steady interval set shorter than the interval, or absurdly long
	// (left at its default, it follows the interval: TestSteadyIntervalFollowsInterval)
	for _, bad := range []string{"{interval: 2s, steady_interval: 1s}", "{steady_interval: 2h}"} {
		c, err = Load(writeFile(t, "discovery: "+bad+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if msg := fmt.Sprint(c.Validate()); !strings.Contains(msg, "discovery.steady_interval") {
			t.Errorf("discovery: %s: validation %q lacks discovery.steady_interval", bad, msg)
		}
	}
	c, err = Load(writeFile(t, "discovery: {interval: 2s, steady_interval: 2s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("steady_interval equal to interval: %v", err)
	}
	if _, err := Load(writeFile(t, "discovery: {intervall: 1s}\n")); err == nil || !strings.Contains(err.Error(), "intervall") {
		t.Fatalf("unknown nested key: %v", err)
	}
}

func TestStateFile(t *testing.T) {
	clearEnv(t)
	t.Setenv(EnvStateFile, "")
	c, err := Load("")
	if err != nil || c.StateFile != DefaultStateFile || c.Source("state_file") != "default" {
		t.Fatalf("default: %q %v", c.StateFile, err)
	}
	dir := t.TempDir()
	p := writeFile(t, "state_file: "+filepath.Join(dir, "new", "sub", "state.db")+"\n")
	if c, err = Load(p); err != nil || c.StateFile != filepath.Join(dir, "new", "sub", "state.db") || c.Source("state_file") != p {
		t.Fatalf("file: %q %v", c.StateFile, err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("a file in directories still to be created: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); !os.IsNotExist(err) {
		t.Fatal("Validate created the directory")
	}
	t.Setenv(EnvStateFile, filepath.Join(dir, "env.db"))
	if c, err = Load(p); err != nil || c.StateFile != filepath.Join(dir, "env.db") || c.Source("state_file") != EnvStateFile {
		t.Fatalf("env: %q %v", c.StateFile, err)
	}

	notDir := filepath.Join(dir, "plain")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{"", "config: state_file: empty; want the path of a file such as /var/lib/satellite/state.db (set in " + EnvStateFile + ")"},
		{dir, "config: state_file: " + dir + " is a directory; want a file in it, such as " + filepath.Join(dir, "state.db")},
		{filepath.Join(notDir, "x", "state.db"), "config: state_file: " + filepath.Join(notDir, "x", "state.db") + ": " + notDir + " is not a directory"},
		{"/dev/null", "config: state_file: /dev/null is not a regular file"},
	} {
		c := Default()
		c.StateFile = tc.path
		c.setSource("state_file", EnvStateFile)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.path, err, tc.want)
		}
	}
	// an existing file is fine
	c = Default()
	c.StateFile = notDir
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestHTTPSection(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	for _, f := range []string{cert, key} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// the address alone, as before
	c, err := Load(writeFile(t, "http: 127.0.0.1:9999\n"))
	if err != nil || c.HTTP.Addr != "127.0.0.1:9999" || c.HTTP.MaxConnections != DefaultMaxConnections || c.Validate() != nil {
		t.Fatalf("%+v %v", c.HTTP, err)
	}
	// the mapping keeps the defaults it does not set
	c, err = Load(writeFile(t, "http:\n  addr: 0.0.0.0:8443\n  tls: {cert: "+cert+", key: "+key+"}\n  hosts: [sat.example]\n  open_paths: [/healthz]\n  read_header_timeout: 2s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "0.0.0.0:8443" || !c.HTTP.TLS.Enabled() || c.HTTP.ReadHeaderTimeout != Duration(2*time.Second) ||
		c.HTTP.ReadTimeout != Duration(DefaultReadTimeout) || c.HTTP.Hosts[0] != "sat.example" || c.Source("http") == "default" {
		t.Fatalf("%+v source %s", c.HTTP, c.Source("http"))
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// a non-loopback address without TLS refuses, saying how to fix it
	c, _ = Load(writeFile(t, "http: {addr: \":8080\"}\n"))
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "http.tls.cert") || !strings.Contains(err.Error(), "--insecure") {
		t.Fatalf("plain HTTP on all addresses: %v", err)
	}
	c.HTTP.Insecure = true
	if err := c.Validate(); err != nil {
		t.Fatalf("--insecure: %v", err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"http: {tls: {cert: " + cert + "}}", "http.tls: want both cert and key"},
		{"http: {open_paths: [/api/v1/switches]}", `http.open_paths: "/api/v1/switches": want some of /healthz, /metrics`},
		{"http: {tls: {cert: " + cert + ", key: " + key + ", client_ca: " + cert + ", client_roles: {alice: admin}}}", `"alice": want CN=NAME or OU=UNIT`},
		{"http: {tls: {cert: " + cert + ", key: " + key + ", client_ca: " + cert + ", client_roles: {CN=bob: root}}}", `role "root": want viewer, operator or admin`},
		{"http: {max_connections: 0}", "http.max_connections: 0"},
		{"http: {read_timeout: 1ms}", "http.read_timeout: 1ms is too short"},
		{"http: {origins: [grafana.example]}", "want scheme://host[:port]"},
		{"http: {adress: x}", `unknown setting "http.adress"`},
	} {
		c, err := Load(writeFile(t, tc.yaml+"\n"))
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
	c = Default()
	c.StateFile = "/var/lib/satellite/state.db"
	if c.TokensFile() != "/var/lib/satellite/state-tokens.db" || c.AuditFile() != "/var/lib/satellite/state-audit.log" || c.BootstrapTokenFile() != "/var/lib/satellite/state-admin.token" {
		t.Fatal(c.TokensFile(), c.AuditFile(), c.BootstrapTokenFile())
	}
}

// A steady interval left at its default follows a longer interval; one
// set shorter than the interval is an error naming both.
func TestSteadyIntervalFollowsInterval(t *testing.T) {
	clearEnv(t)
	c, err := Load(writeFile(t, "discovery: {interval: 5s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || time.Duration(c.Discovery.SteadyInterval) != 5*time.Second {
		t.Fatalf("interval 5s alone: %v, steady %s", err, time.Duration(c.Discovery.SteadyInterval))
	}
	c, err = Load(writeFile(t, "discovery: {interval: 5s, steady_interval: 2s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "discovery.steady_interval: 2s is shorter than discovery.interval") {
		t.Fatalf("steady 2s under interval 5s: %v", err)
	}
}
