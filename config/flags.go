package config

import (
	"flag"
	"strings"
)

// Flags are the command-line settings of `satellite serve`. A flag given
// on the command line overrides the environment and the file; one not
// given changes nothing.
type Flags struct {
	fs        *flag.FlagSet
	file      string
	openflow  stringList
	ofCert    string
	ofKey     string
	ofCA      string
	http      string
	logLevel  string
	logFormat string
	stateFile string
	insecure  bool
}

type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, splitList(v)...)
	return nil
}

// RegisterFlags defines --config, --openflow (repeatable, or comma
// separated), --openflow-cert, --openflow-key, --openflow-ca, --http, --log-level, --log-format and --state-file on fs.
func RegisterFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	fs.StringVar(&f.file, "config", "", "YAML configuration `file` (default $"+EnvConfig+")")
	fs.Var(&f.openflow, "openflow", "OpenFlow listen `target` such as tcp:127.0.0.1:6653, ssl::6653 (TLS) or unix:PATH; repeat for more (default "+DefaultOpenFlow+")")
	fs.StringVar(&f.ofCert, "openflow-cert", "", "`file` with the controller's certificate for ssl: targets (openflow_tls.cert)")
	fs.StringVar(&f.ofKey, "openflow-key", "", "`file` with the controller's private key for ssl: targets (openflow_tls.key)")
	fs.StringVar(&f.ofCA, "openflow-ca", "", "`file` with the CA certificate that signs the switches' certificates (openflow_tls.ca)")
	fs.StringVar(&f.http, "http", "", "HTTP API listen `address` (default "+DefaultHTTPAddr+"; another than loopback needs http.tls or --insecure)")
	fs.BoolVar(&f.insecure, "insecure", false, "allow plain HTTP on a non-loopback address (http.insecure); tokens then cross the network in clear")
	fs.StringVar(&f.logLevel, "log-level", "", "log `level`: debug, info, warn or error (default info)")
	fs.StringVar(&f.logFormat, "log-format", "", "log `format`: text or json (default text)")
	fs.StringVar(&f.stateFile, "state-file", "", "`file` that keeps the virtual networks and DHCP leases; the API alert rules, tokens and journal go next to it (state_file, $"+EnvStateFile+"; default "+DefaultStateFile+")")
	return f
}

// Load loads the configuration (see Load) from the --config file, or
// $SATELLITE_CONFIG, applies the flags that were given on the command
// line, and validates the result. Call it after fs.Parse.
func (f *Flags) Load() (Config, error) {
	c, err := Load(f.file)
	if err != nil {
		return Config{}, err
	}
	f.Apply(&c)
	return c, c.Validate()
}

// Apply overrides c with the flags that were given on the command line.
func (f *Flags) Apply(c *Config) {
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "openflow":
			c.OpenFlow = Targets(append([]string(nil), f.openflow...))
		case "openflow-cert":
			c.OpenFlowTLS.Cert = f.ofCert
			c.setSource("openflow_tls.cert", "--"+fl.Name)
			return
		case "openflow-key":
			c.OpenFlowTLS.Key = f.ofKey
			c.setSource("openflow_tls.key", "--"+fl.Name)
			return
		case "openflow-ca":
			c.OpenFlowTLS.CA = f.ofCA
			c.setSource("openflow_tls.ca", "--"+fl.Name)
			return
		case "http":
			c.HTTP.Addr = f.http
		case "insecure":
			c.HTTP.Insecure = f.insecure
			c.setSource("http.insecure", "--insecure")
			return
		case "log-level":
			c.LogLevel = f.logLevel
		case "log-format":
			c.LogFormat = f.logFormat
		case "state-file":
			c.StateFile = f.stateFile
		default:
			return
		}
		c.setSource(strings.ReplaceAll(fl.Name, "-", "_"), "--"+fl.Name)
	})
}
