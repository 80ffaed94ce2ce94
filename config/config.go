// Package config holds Satellite's settings: a YAML file, environment
// variables and command-line flags, applied in that order (a flag beats an
// environment variable, which beats the file, which beats the defaults).
//
// Example file:
//
//	openflow: ["ssl::6653", "unix:/run/satellite/of.sock"]   # default tcp:127.0.0.1:6653
//	openflow_tls: {cert: /etc/satellite/ctl-cert.pem, key: /etc/satellite/ctl-privkey.pem, ca: /etc/satellite/switchca.pem}
//	openflow_access: {sources: [10.250.0.0/24], switches: {"0000000000000001": {certs: ["sha256:..."], sources: [10.250.0.1]}}}
//	openflow_limits: {handshakes: 256, handshakes_per_source: 8, handshake_timeout: 5s, takeover_echo_timeout: 1s, warn_every: 10s}
//	http: 127.0.0.1:8080   # or a mapping: {addr, tls: {cert, key}, hosts, open_paths, ...} (config/http.go)
//	log_level: info      # debug, info, warn or error
//	log_format: text     # text or json
//	keepalive: {interval: 1s, misses: 10}
//	request_timeout: 5s
//	packet_out_rate: 2000
//	packet_in_rate: 2000
//	discovery: {interval: 1s, steady_interval: 3s, misses: 3, max_age: 30s, secret_file: /etc/satellite/lldp.key, forget_down_after: 1h}
//	hosts: {idle: 5m, max_per_port: 256, max_per_switch: 4096}
//	collector: {interval: 5s, history: {raw: 1h, downsampled: 24h, step: 1m}}
//	alerts: {webhook: {url: "https://hooks.example/satellite"}, rules: [...]}
//	state_file: /var/lib/satellite/state.db   # virtual networks and DHCP leases (API alert rules: state-alerts.db next to it)
//	journal: {max_size: 256MiB, max_age: 720h}  # the history of changes (state-journal/ next to the state file)
//	cluster: {name: fabric1, etcd: ["http://10.0.0.1:2379"], lease: 3s}  # several instances sharing state in etcd (docs/cluster.md)
//	audit: {foreign: report, dead_after: 10m}    # the flow audit: foreign flows report|remove|keep-silent
//
// Environment variables: SATELLITE_CONFIG (file path), SATELLITE_OPENFLOW
// (comma separated targets), SATELLITE_HTTP, SATELLITE_LOG_LEVEL,
// SATELLITE_LOG_FORMAT, SATELLITE_STATE_FILE.
package config

import (
	"errors"
	"fmt"
	"github.com/satellite-sdn/satellite/internal/duration"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/topology"
)

// Environment variables read by Load.
const (
	EnvConfig    = "SATELLITE_CONFIG"
	EnvOpenFlow  = "SATELLITE_OPENFLOW"
	EnvHTTP      = "SATELLITE_HTTP"
	EnvLogLevel  = "SATELLITE_LOG_LEVEL"
	EnvLogFormat = "SATELLITE_LOG_FORMAT"
	EnvStateFile = "SATELLITE_STATE_FILE"
)

// Config is Satellite's configuration. The YAML names of the settings are
// the ones in the struct tags.
type Config struct {
	// OpenFlow lists the targets the controller listens on, in OVS syntax:
	// "tcp:HOST:PORT", "tcp::PORT" (all addresses), "tcp:PORT", the same
	// with ssl: (TLS, see OpenFlowTLS) or "unix:PATH". Default:
	// tcp:127.0.0.1:6653 (loopback only).
	OpenFlow Targets `yaml:"openflow"`
	// OpenFlowTLS, OpenFlowAccess and OpenFlowLimits secure the OpenFlow
	// listeners (config/openflow.go).
	OpenFlowTLS    OpenFlowTLS    `yaml:"openflow_tls"`
	OpenFlowAccess OpenFlowAccess `yaml:"openflow_access"`
	OpenFlowLimits OpenFlowLimits `yaml:"openflow_limits"`
	// HTTP is the HTTP API: its address, TLS, limits and who may reach it
	// (config/http.go). "http: HOST:PORT" sets the address alone.
	HTTP HTTP `yaml:"http"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// LogFormat is text or json.
	LogFormat string `yaml:"log_format"`
	// Keepalive says how often a quiet switch is sent an echo request and
	// after how many unanswered intervals it is disconnected.
	Keepalive Keepalive `yaml:"keepalive"`
	// RequestTimeout bounds each request to a switch.
	RequestTimeout Duration `yaml:"request_timeout"`
	// PacketOutRate and PacketInRate limit packet-outs and packet-ins per
	// switch, in packets per second.
	PacketOutRate float64 `yaml:"packet_out_rate"`
	PacketInRate  float64 `yaml:"packet_in_rate"`
	// Discovery tunes LLDP link discovery.
	Discovery Discovery `yaml:"discovery"`
	// Hosts tunes host tracking.
	Hosts Hosts `yaml:"hosts"`
	// StateFile is the file that keeps the virtual network configuration
	// and the DHCP leases (a bbolt database, created with its directory
	// when missing). One Satellite at a time can use it. The alert rules
	// created through the API are kept next to it (AlertRulesFile).
	StateFile string `yaml:"state_file"`
	// Exporters sends data to InfluxDB, Fluentd and Prometheus
	// (config/exporters.go).
	Exporters Exporters `yaml:"exporters"`
	// Collector polls port, flow, table and group statistics
	// (config/collector.go).
	Collector Collector `yaml:"collector"`
	// Alerts evaluates threshold rules and sends alerts to a webhook
	// (config/collector.go).
	Alerts Alerts `yaml:"alerts"`
	// Probes measures the tunnel paths and drives failover (config/probes.go).
	Probes Probes `yaml:"probes"`
	// VNet tunes the virtual network reconciler and DHCP (config/vnet.go).
	VNet VNet `yaml:"vnet"`
	// Journal bounds the history of changes (config/journal.go).
	Journal Journal `yaml:"journal"`
	// Cluster shares the state with other instances through etcd
	// (config/cluster.go, docs/cluster.md); unset: one instance alone.
	Cluster Cluster `yaml:"cluster"`
	// Audit tunes the flow audit (config/audit.go).
	Audit Audit `yaml:"audit"`

	// file is the configuration file read ("" = none).
	file string
	// source says where each setting that is not a default came from
	// (file path, environment variable or flag), for error messages.
	source map[string]string
}

// Targets is a list of OpenFlow listen targets. In YAML it is a list, or
// a single string.
type Targets []string

// UnmarshalYAML accepts a list of strings or one string.
func (t *Targets) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		*t = Targets{n.Value}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return fmt.Errorf("line %d: want a list of targets such as [\"tcp::6653\", \"unix:/run/satellite.sock\"]", n.Line)
	}
	*t = list
	return nil
}

// Discovery holds the LLDP discovery settings.
type Discovery struct {
	// Interval between probes of one port while it is new or its link is
	// unconfirmed (probes of all ports are spread over it). A switch that
	// connects and a port that comes up are probed at once regardless.
	Interval Duration `yaml:"interval"`
	// SteadyInterval between probes of a settled port: its link confirmed,
	// or up for misses intervals without one. It sets how soon a silent
	// failure (a link that stops passing probes while its ports stay up)
	// is found: after misses x steady_interval. A port going down removes
	// its links at once whatever it is. Equal to interval: every port is
	// probed every interval (the heaviest on the switches).
	SteadyInterval Duration `yaml:"steady_interval"`
	// Misses is how many (steady) intervals a link may go unseen before
	// removal.
	Misses int `yaml:"misses"`
	// MaxAge is the age ceiling of signed probes; older ones are stale.
	// Replays are caught at any age (a probe received twice).
	MaxAge Duration `yaml:"max_age"`
	// SecretFile holds the HMAC key for LLDP frames (at least 16 bytes).
	// Empty: a random key per start. Controllers of one fabric that must
	// accept each other's probes share the file.
	SecretFile string `yaml:"secret_file"`
	// TunnelPrefixes: ports whose names start with one of these are
	// tunnel ports (their links are tunnel links, no hosts live there).
	TunnelPrefixes []string `yaml:"tunnel_prefixes"`
	// ForgetDownAfter is how long a link that went down stays in the
	// model (state down) before it is forgotten, unless it comes back.
	ForgetDownAfter Duration `yaml:"forget_down_after"`
}

// Hosts holds the host tracking settings.
type Hosts struct {
	// Idle is how long a silent host is kept.
	Idle Duration `yaml:"idle"`
	// MaxPerPort and MaxPerSwitch cap the hosts learned on one port and
	// on one switch; more are not learned, counted and reported by a
	// host-limit event.
	MaxPerPort   int `yaml:"max_per_port"`
	MaxPerSwitch int `yaml:"max_per_switch"`
}

// Keepalive is the echo keepalive of switch connections.
type Keepalive struct {
	Interval Duration `yaml:"interval"`
	Misses   int      `yaml:"misses"`
}

// Duration is a time.Duration written in Go syntax in YAML ("1s",
// "500ms"): the one duration type of the project (internal/duration).
type Duration = duration.Duration

// Default returns the built-in settings.
func Default() Config {
	return Config{
		OpenFlow:       Targets{DefaultOpenFlow},
		OpenFlowLimits: defaultOpenFlowLimits(),
		HTTP:           defaultHTTP(),
		LogLevel:       "info",
		LogFormat:      "text",
		Keepalive:      Keepalive{Interval: Duration(time.Second), Misses: controller.DefaultEchoMisses},
		RequestTimeout: Duration(5 * time.Second),
		PacketOutRate:  2000,
		PacketInRate:   2000,
		Discovery: Discovery{Interval: Duration(time.Second), SteadyInterval: Duration(3 * time.Second), Misses: 3, MaxAge: Duration(30 * time.Second),
			TunnelPrefixes: append([]string(nil), topology.DefaultTunnelPrefixes...), ForgetDownAfter: Duration(time.Hour)},
		Hosts:     Hosts{Idle: Duration(5 * time.Minute), MaxPerPort: 256, MaxPerSwitch: 4096},
		StateFile: DefaultStateFile,
		Exporters: defaultExporters(),
		Probes:    defaultProbes(),
		Collector: defaultCollector(),
		Alerts:    defaultAlerts(),
		VNet:      defaultVNet(),
		Journal:   defaultJournal(),
		Cluster:   defaultCluster(),
		Audit:     defaultAudit(),
	}
}

// Load returns the configuration: the defaults, overridden by the YAML file
// at path (when path is empty, by the file named in $SATELLITE_CONFIG, if
// any), overridden by the environment variables. It does not validate:
// apply flags (see Flags) and then call Validate.
func Load(path string) (Config, error) {
	c := Default()
	c.source = map[string]string{}
	if path == "" {
		path = os.Getenv(EnvConfig)
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config file: %w", err)
		}
		if err := c.decode(path, b); err != nil {
			return Config{}, err
		}
		c.file = path
	}
	c.applyEnv(os.Getenv)
	c.derive()
	return c, nil
}

// derive fills the defaults that follow other settings: a steady probe
// interval left at its default is never shorter than the interval set.
func (c *Config) derive() {
	if c.Source("discovery.steady_interval") == "default" && c.Discovery.SteadyInterval < c.Discovery.Interval {
		c.Discovery.SteadyInterval = c.Discovery.Interval
	}
}

// decode reads YAML over c. Unknown settings are errors that name the
// setting, the file and the line.
func (c *Config) decode(path string, b []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("config file %s: %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 { // empty file
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("config file %s: line %d: want a mapping of settings (such as \"http: :8080\")", path, root.Line)
	}
	var errs []error
	checkKeys(root, "", reflect.TypeOf(Config{}), func(line int, key, known string) {
		errs = append(errs, fmt.Errorf("config file %s: line %d: unknown setting %q (known: %s)", path, line, key, known))
	})
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	before := *c
	decodeFields(root, "", reflect.ValueOf(c).Elem(), func(line int, key string, err error) {
		msg := err.Error()
		msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:\n  ")
		if !strings.HasPrefix(msg, "line ") {
			msg = fmt.Sprintf("line %d: %s", line, msg)
		}
		errs = append(errs, fmt.Errorf("config file %s: %s: %s", path, key, strings.ReplaceAll(msg, "\n  ", "; ")))
	})
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// A list in the file replaces the default list; an empty list is
	// treated as "not set", like a setting with no value.
	if len(c.OpenFlow) == 0 {
		c.OpenFlow = before.OpenFlow
	}
	for _, kv := range mappingKeys(root, "") {
		c.source[kv] = path
	}
	return nil
}

// checkKeys reports every key of mapping n (recursively for nested
// structs) that is not a yaml field of t.
func checkKeys(n *yaml.Node, prefix string, t reflect.Type, unknown func(line int, key, known string)) {
	fields := map[string]reflect.Type{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	sort.Strings(names)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ft, ok := fields[k.Value]
		if !ok {
			unknown(k.Line, prefix+k.Value, strings.Join(names, ", "))
			continue
		}
		if ft.Kind() == reflect.Struct && v.Kind == yaml.MappingNode {
			checkKeys(v, prefix+k.Value+".", ft, unknown)
		}
	}
}

// decodeFields decodes each value of mapping n into the field of struct v
// with its yaml name, so that an error can name the setting. Nested
// structs are decoded field by field too, keeping the fields not given.
func decodeFields(n *yaml.Node, prefix string, v reflect.Value, fail func(line int, key string, err error)) {
	t := v.Type()
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		for j := 0; j < t.NumField(); j++ {
			name, _, _ := strings.Cut(t.Field(j).Tag.Get("yaml"), ",")
			if name != k.Value {
				continue
			}
			f := v.Field(j)
			if val.Kind == yaml.ScalarNode && val.ShortTag() == "!!null" {
				continue // "setting:" with no value keeps the default
			}
			if f.Kind() == reflect.Struct && val.Kind == yaml.MappingNode && !f.Addr().Type().Implements(unmarshalerType) {
				decodeFields(val, prefix+name+".", f, fail)
			} else if err := val.Decode(f.Addr().Interface()); err != nil {
				fail(k.Line, prefix+name, err)
			}
		}
	}
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// mappingKeys lists the dotted names of the leaf settings set in n.
func mappingKeys(n *yaml.Node, prefix string) []string {
	var out []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind == yaml.MappingNode {
			out = append(out, mappingKeys(v, prefix+k.Value+".")...)
			continue
		}
		out = append(out, prefix+k.Value)
	}
	return out
}

func (c *Config) applyEnv(getenv func(string) string) {
	if v := getenv(EnvOpenFlow); v != "" {
		c.OpenFlow = splitList(v)
		c.setSource("openflow", EnvOpenFlow)
	}
	if v := getenv(EnvHTTP); v != "" {
		c.HTTP.Addr = v
		c.setSource("http", EnvHTTP)
	}
	if v := getenv(EnvLogLevel); v != "" {
		c.LogLevel = v
		c.setSource("log_level", EnvLogLevel)
	}
	if v := getenv(EnvLogFormat); v != "" {
		c.LogFormat = v
		c.setSource("log_format", EnvLogFormat)
	}
	if v := getenv(EnvStateFile); v != "" {
		c.StateFile = v
		c.setSource("state_file", EnvStateFile)
	}
}

func (c *Config) setSource(setting, from string) {
	if c.source == nil {
		c.source = map[string]string{}
	}
	c.source[setting] = from
}

// File returns the path of the configuration file that was read, or
// "none".
func (c Config) File() string {
	if c.file == "" {
		return "none"
	}
	return c.file
}

// Source says where a setting (by its YAML name, nested ones dotted, e.g.
// "keepalive.interval") came from: a file path, an environment variable,
// a flag ("--http") or "default".
func (c Config) Source(setting string) string {
	if s, ok := c.source[setting]; ok {
		return s
	}
	if setting == "http" { // the address, set in a mapping
		return c.Source("http.addr")
	}
	return "default"
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// LogLevels and LogFormats are the accepted values of log_level and log_format.
var (
	LogLevels  = []string{"debug", "info", "warn", "error"}
	LogFormats = []string{"text", "json"}
)

// Validate checks every setting and returns all problems at once, each
// saying which setting is wrong, where its value came from and what is
// expected.
func (c Config) Validate() error {
	var errs []error
	bad := func(setting, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if src := c.Source(setting); src != "default" {
			msg += " (set in " + src + ")"
		}
		errs = append(errs, fmt.Errorf("config: %s: %s", setting, msg))
	}
	if len(c.OpenFlow) == 0 {
		bad("openflow", "no listen target; want at least one, such as tcp::6653")
	}
	for i, t := range c.OpenFlow {
		if err := checkTarget(t); err != nil {
			bad("openflow", "target %d %q: %v", i+1, t, err)
		}
	}
	c.validateOpenFlow(bad)
	c.validateHTTP(bad)
	if !contains(LogLevels, c.LogLevel) {
		bad("log_level", "%q is not a log level; want one of %s", c.LogLevel, strings.Join(LogLevels, ", "))
	}
	if !contains(LogFormats, c.LogFormat) {
		bad("log_format", "%q is not a log format; want one of %s", c.LogFormat, strings.Join(LogFormats, ", "))
	}
	if d := time.Duration(c.Keepalive.Interval); d < 10*time.Millisecond {
		bad("keepalive.interval", "%s is too short; want at least 10ms (such as 1s)", d)
	}
	if c.Keepalive.Misses < 1 {
		bad("keepalive.misses", "%d; want a whole number of at least 1 (such as 3)", c.Keepalive.Misses)
	}
	if d := time.Duration(c.RequestTimeout); d < 10*time.Millisecond {
		bad("request_timeout", "%s is too short; want at least 10ms (such as 5s)", d)
	}
	if !(c.PacketOutRate > 0) {
		bad("packet_out_rate", "%v; want a positive number of packets per second (such as 2000)", c.PacketOutRate)
	}
	if !(c.PacketInRate > 0) {
		bad("packet_in_rate", "%v; want a positive number of packets per second (such as 2000)", c.PacketInRate)
	}
	if d := time.Duration(c.Discovery.Interval); d < 50*time.Millisecond {
		bad("discovery.interval", "%s is too short; want at least 50ms (such as 1s)", d)
	}
	if d, i := time.Duration(c.Discovery.SteadyInterval), time.Duration(c.Discovery.Interval); d < i {
		bad("discovery.steady_interval", "%s is shorter than discovery.interval (%s); want at least the interval (such as %s, or %s to probe every port every interval)", d, i, 3*i, i)
	} else if d > time.Hour {
		bad("discovery.steady_interval", "%s is too long: silent link failures would take misses x %s to notice; want at most 1h (such as 3s)", d, d)
	}
	if c.Discovery.Misses < 1 {
		bad("discovery.misses", "%d; want a whole number of at least 1 (such as 3)", c.Discovery.Misses)
	}
	if d := time.Duration(c.Discovery.MaxAge); d <= 0 {
		bad("discovery.max_age", "%s; want a positive duration (such as 30s)", d)
	}
	if len(c.Discovery.TunnelPrefixes) == 0 {
		bad("discovery.tunnel_prefixes", "empty; want the name prefixes of tunnel ports (such as [gre, vxlan])")
	}
	for i, p := range c.Discovery.TunnelPrefixes {
		if strings.TrimSpace(p) == "" {
			bad(fmt.Sprintf("discovery.tunnel_prefixes[%d]", i), "empty; want a port name prefix such as gre")
		}
	}
	if f := c.Discovery.SecretFile; f != "" {
		if b, err := os.ReadFile(f); err != nil {
			bad("discovery.secret_file", "%v; create it with: head -c 32 /dev/urandom > %s", err, f)
		} else if len(strings.TrimSpace(string(b))) < 16 {
			bad("discovery.secret_file", "%s holds %d bytes; want at least 16", f, len(strings.TrimSpace(string(b))))
		}
	}
	if d := time.Duration(c.Hosts.Idle); d < time.Second {
		bad("hosts.idle", "%s is too short; want at least 1s (such as 5m)", d)
	}
	if c.Hosts.MaxPerPort < 1 {
		bad("hosts.max_per_port", "%d; want at least 1 (such as 256)", c.Hosts.MaxPerPort)
	}
	if c.Hosts.MaxPerSwitch < c.Hosts.MaxPerPort {
		bad("hosts.max_per_switch", "%d; want at least hosts.max_per_port (%d), such as 4096", c.Hosts.MaxPerSwitch, c.Hosts.MaxPerPort)
	}
	c.validateExporters(bad)
	c.validateProbes(bad)
	c.validateCollector(bad)
	c.validateVNet(bad)
	c.validateJournal(bad)
	c.validateCluster(bad)
	c.validateAudit(bad)
	if err := checkStateFile(c.StateFile); err != nil {
		bad("state_file", "%v", err)
	}
	return errors.Join(errs...)
}

// DefaultStateFile is where the virtual networks are kept by default.
const DefaultStateFile = "/var/lib/satellite/state.db"

// checkStateFile checks the path of the state file without creating
// anything: it must name a file (existing or not) whose directory exists
// or can be created.
func checkStateFile(p string) error {
	if strings.TrimSpace(p) == "" {
		return fmt.Errorf("empty; want the path of a file such as %s", DefaultStateFile)
	}
	if fi, err := os.Stat(p); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory; want a file in it, such as %s", p, filepath.Join(p, "state.db"))
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		return nil
	}
	// the nearest existing ancestor must be a directory
	for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s: %s is not a directory", p, dir)
			}
			return nil
		}
		if dir == filepath.Dir(dir) {
			return nil
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// checkTarget checks an OpenFlow listen target in OVS syntax.
func checkTarget(t string) error {
	network, addr, ok := strings.Cut(t, ":")
	if !ok {
		return errors.New("want tcp:[HOST]:PORT, ssl:[HOST]:PORT or unix:PATH")
	}
	switch network {
	case "tcp", "ptcp", "ssl", "pssl":
		if !strings.Contains(addr, ":") { // tcp:6653, port only
			return checkPort(addr)
		}
		return checkHostPort(addr)
	case "unix", "punix":
		if addr == "" {
			return errors.New("missing socket path; want unix:PATH")
		}
		return nil
	default:
		return fmt.Errorf("unsupported network %q; want tcp:[HOST]:PORT, ssl:[HOST]:PORT or unix:PATH", network)
	}
}

func checkHostPort(a string) error {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("want HOST:PORT or :PORT (such as :8080 or 127.0.0.1:8080)")
	}
	return checkPort(port)
}

func checkPort(p string) error {
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", p)
	}
	return nil
}

// Controller returns the controller settings; logger may be nil.
func (c Config) Controller(logger *slog.Logger) controller.Config {
	cc := controller.Config{
		Listen:         append([]string(nil), c.OpenFlow...),
		EchoInterval:   time.Duration(c.Keepalive.Interval),
		EchoMisses:     c.Keepalive.Misses,
		RequestTimeout: time.Duration(c.RequestTimeout),
		PacketOutRate:  c.PacketOutRate,
		PacketInRate:   c.PacketInRate,
		Mastership:     c.Cluster.Enabled(), // the cluster chooses one master per switch
		Logger:         logger,
	}
	c.applyOpenFlow(&cc)
	return cc
}

// Level returns the slog level of LogLevel (info when it is not valid).
func (c Config) Level() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// Logger returns a logger writing to w in LogFormat at LogLevel.
func (c Config) Logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level()}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
