// Package lab builds Satellite's Open vSwitch testbed: several OVS "hosts",
// each a network namespace with its own ovsdb-server and ovs-vswitchd
// (userspace netdev datapath), VM-like endpoint namespaces on every host's
// br-int, a full mesh of GRE tunnels over two independent underlay paths, and
// optional direct bridge-to-bridge links. It needs root and Open vSwitch; see
// docs/lab.md for the topology, numbering and gotchas.
package lab

import (
	"encoding/json"
	"fmt"
	"github.com/satellite-sdn/satellite/controller"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Defaults and limits.
const (
	DefaultPrefix        = "sat-"
	DefaultVMs           = 2
	DefaultBFDIntervalMS = 300
	DefaultUnderlayMTU   = 1600
	DefaultOFVersions    = "OpenFlow13"
	DefaultFailMode      = "secure"
	MaxHosts             = 32
	MaxVMs               = 99

	// Bridge is the integration bridge every host has.
	Bridge = "br-int"

	markerFile = ".satlab-state-dir"
	hostMarker = ".satlab-host-dir"
	configFile = "config.json"
	// cutCookieBase marks the drop flows of a pair cut in br-ul<p>:
	// cookie = cutCookieBase | path<<8 | peer.
	cutCookieBase = 0x5a7c0000
)

// Link topologies for the direct bridge-to-bridge links.
const (
	LinksChain = "chain"
	LinksRing  = "ring"
	LinksFull  = "full"
	LinksNone  = "none"
)

// Config describes a lab. The zero value (plus Hosts) is a valid lab with the
// defaults documented on each field.
type Config struct {
	// Prefix of every namespace and root link the lab creates, matching
	// ^[a-z][a-z0-9]{0,6}-$. Default "sat-".
	Prefix string `json:"prefix"`
	// Dir is the state directory (pidfiles, databases, logs, sockets).
	// Default /run/<prefix>lab.
	Dir string `json:"dir"`
	// Hosts is the number of OVS hosts, 1..32.
	Hosts int `json:"hosts"`
	// VMs is the number of endpoints per host: 0 means the default (2),
	// a negative value means none, at most 99.
	VMs int `json:"vms"`
	// Links selects the direct bridge-to-bridge links: chain (default),
	// ring, full or none.
	Links string `json:"links"`
	// BFD enables BFD on every GRE port (the CLI enables it by default).
	BFD bool `json:"bfd"`
	// BFDIntervalMS is BFD's min_tx = min_rx, default 300.
	BFDIntervalMS int `json:"bfd_interval_ms"`
	// Controllers are OpenFlow targets for br-int: "unix:/abs/path.sock",
	// "tcp:IP:PORT" or "ssl:IP:PORT". Empty means no controller.
	Controllers []string `json:"controllers"`
	// TLS creates an OpenFlow PKI with ovs-pki in <Dir>/pki (see PKI) and
	// gives every host's ovsdb its certificate (ovs-vsctl set-ssl), for
	// ssl: controllers.
	TLS bool `json:"tls"`
	// DPIDBase is added to the host number to form the datapath id.
	DPIDBase uint64 `json:"dpid_base"`
	// UnderlayMTU of the underlay veths and switches, default 1600 (GRE
	// adds 38 bytes; 1500-byte endpoints need at least 1538).
	UnderlayMTU int `json:"underlay_mtu"`
	// OFVersions is br-int's "protocols" column, default "OpenFlow13".
	OFVersions string `json:"of_versions"`
	// FailMode of br-int, default "secure".
	FailMode string `json:"fail_mode"`
	// OverlayNet, UnderlayNet1/2 and MgmtNet are the address plan as
	// dotted prefixes: endpoint j of host i is <OverlayNet>.<i>.<j>/16
	// (default "10.0"), host i's path-p underlay address is
	// <UnderlayNetP>.<i>/24 (defaults "10.101.0", "10.102.0"), and with a
	// tcp:/ssl: controller host i gets <MgmtNet>.<i>/24 on a root bridge
	// whose address is <MgmtNet>.254 (default "10.250.0").
	OverlayNet   string `json:"overlay_net"`
	UnderlayNet1 string `json:"underlay_net1"`
	UnderlayNet2 string `json:"underlay_net2"`
	MgmtNet      string `json:"mgmt_net"`
	// IPv6 keeps IPv6 enabled in the lab namespaces (default off: no
	// router solicitations or MLD noise on the data path).
	IPv6 bool `json:"ipv6"`
	// MaxBackoffMS and ProbeMS tune the controller connection
	// (defaults 1000 and 5000).
	MaxBackoffMS int `json:"max_backoff_ms"`
	ProbeMS      int `json:"probe_ms"`
	// Jobs bounds how many hosts are configured in parallel (default 4).
	Jobs int `json:"jobs"`
}

var (
	prefixRE    = regexp.MustCompile(`^[a-z][a-z0-9]{0,6}-$`)
	ofVersionRE = regexp.MustCompile(`^OpenFlow1[0-5]$`)
)

// Normalize returns cfg with every default filled in, or an error that says
// what is wrong. It does not touch the system.
func (cfg Config) Normalize() (Config, error) {
	c := cfg
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if !prefixRE.MatchString(c.Prefix) {
		return c, fmt.Errorf("lab: prefix %q must match ^[a-z][a-z0-9]{0,6}-$ (e.g. %q)", c.Prefix, DefaultPrefix)
	}
	if c.Dir == "" {
		c.Dir = DefaultDir(c.Prefix)
	}
	if !filepath.IsAbs(c.Dir) {
		return c, fmt.Errorf("lab: state dir %q must be an absolute path", c.Dir)
	}
	c.Dir = filepath.Clean(c.Dir)
	if c.Dir == "/" || len(c.Dir) > 60 {
		return c, fmt.Errorf("lab: state dir %q is unusable (must not be / and at most 60 characters: unix socket paths are limited)", c.Dir)
	}
	if c.Hosts < 1 || c.Hosts > MaxHosts {
		return c, fmt.Errorf("lab: hosts must be 1..%d (got %d)", MaxHosts, c.Hosts)
	}
	switch {
	case c.VMs == 0:
		c.VMs = DefaultVMs
	case c.VMs < 0:
		c.VMs = -1
	case c.VMs > MaxVMs:
		return c, fmt.Errorf("lab: vms must be at most %d (got %d)", MaxVMs, c.VMs)
	}
	switch c.Links {
	case "":
		c.Links = LinksChain
	case LinksChain, LinksRing, LinksFull, LinksNone:
	default:
		return c, fmt.Errorf("lab: links must be chain, ring, full or none (got %q)", c.Links)
	}
	if c.BFDIntervalMS == 0 {
		c.BFDIntervalMS = DefaultBFDIntervalMS
	}
	if c.BFDIntervalMS < 10 || c.BFDIntervalMS > 60000 {
		return c, fmt.Errorf("lab: BFD interval must be 10..60000 ms (got %d)", c.BFDIntervalMS)
	}
	if c.UnderlayMTU == 0 {
		c.UnderlayMTU = DefaultUnderlayMTU
	}
	if c.UnderlayMTU < 1280 || c.UnderlayMTU > 9000 {
		return c, fmt.Errorf("lab: underlay MTU must be 1280..9000 (got %d)", c.UnderlayMTU)
	}
	if c.OFVersions == "" {
		c.OFVersions = DefaultOFVersions
	}
	for _, v := range strings.Split(c.OFVersions, ",") {
		if !ofVersionRE.MatchString(v) {
			return c, fmt.Errorf("lab: OF versions %q: each must be OpenFlow10..OpenFlow15", c.OFVersions)
		}
	}
	if c.FailMode == "" {
		c.FailMode = DefaultFailMode
	}
	if c.FailMode != "secure" && c.FailMode != "standalone" {
		return c, fmt.Errorf("lab: fail mode must be secure or standalone (got %q)", c.FailMode)
	}
	if c.DPIDBase > 0xffffffffffff0000 {
		return c, fmt.Errorf("lab: dpid base %#x too large", c.DPIDBase)
	}
	var err error
	if c.OverlayNet, err = netPrefix("overlay", c.OverlayNet, "10.0", 2); err != nil {
		return c, err
	}
	if c.UnderlayNet1, err = netPrefix("underlay path 1", c.UnderlayNet1, "10.101.0", 3); err != nil {
		return c, err
	}
	if c.UnderlayNet2, err = netPrefix("underlay path 2", c.UnderlayNet2, "10.102.0", 3); err != nil {
		return c, err
	}
	if c.UnderlayNet1 == c.UnderlayNet2 {
		return c, fmt.Errorf("lab: the two underlay paths need different subnets")
	}
	if c.MgmtNet, err = netPrefix("management", c.MgmtNet, "10.250.0", 3); err != nil {
		return c, err
	}
	if c.MaxBackoffMS == 0 {
		c.MaxBackoffMS = 1000
	}
	if c.ProbeMS == 0 {
		c.ProbeMS = 5000
	}
	if c.MaxBackoffMS < 1000 || c.ProbeMS < 0 {
		return c, fmt.Errorf("lab: max backoff must be >= 1000 ms and probe >= 0")
	}
	if c.Jobs <= 0 {
		c.Jobs = 4
	}
	ctls := []string{}
	for _, t := range c.Controllers {
		for _, s := range strings.FieldsFunc(t, func(r rune) bool { return r == ',' || r == ' ' }) {
			if s == "none" {
				continue
			}
			if err := checkTarget(s, c.MgmtNet); err != nil {
				return c, err
			}
			ctls = append(ctls, s)
		}
	}
	c.Controllers = ctls
	return c, nil
}

// DefaultDir is the state directory of a lab with this prefix.
func DefaultDir(prefix string) string { return "/run/" + prefix + "lab" }

func netPrefix(what, v, def string, octets int) (string, error) {
	if v == "" {
		v = def
	}
	parts := strings.Split(v, ".")
	ok := len(parts) == octets
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 || strconv.Itoa(n) != p {
			ok = false
		}
	}
	if !ok {
		return v, fmt.Errorf("lab: %s network %q must be %d dotted octets (e.g. %q)", what, v, octets, def)
	}
	return v, nil
}

func checkTarget(t, mgmtNet string) error {
	switch {
	case strings.HasPrefix(t, "unix:"):
		p := strings.TrimPrefix(t, "unix:")
		if !filepath.IsAbs(p) {
			return fmt.Errorf("lab: controller %q: unix socket path must be absolute", t)
		}
		if len(p) >= 100 {
			return fmt.Errorf("lab: controller %q: unix socket path longer than 99 bytes", t)
		}
		return nil
	case strings.HasPrefix(t, "tcp:"), strings.HasPrefix(t, "ssl:"):
		hp := t[4:]
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			return fmt.Errorf("lab: controller %q: want %s:IP:PORT", t, t[:3])
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("lab: controller %q: bad port", t)
		}
		ip := net.ParseIP(host)
		if ip == nil {
			return fmt.Errorf("lab: controller %q: host must be an IP address", t)
		}
		if ip.IsLoopback() {
			return fmt.Errorf("lab: controller %q is not reachable from the host namespaces (they have their own loopback): listen on %s.254 or 0.0.0.0 and use %s:%s.254:%s, or use a unix: socket", t, mgmtNet, t[:3], mgmtNet, port)
		}
		return nil
	}
	return fmt.Errorf("lab: unsupported controller target %q (use unix:/abs/path.sock, tcp:IP:PORT or ssl:IP:PORT)", t)
}

// needsMgmt reports whether a management network is needed (tcp/ssl targets).
func (cfg Config) needsMgmt() bool {
	for _, t := range cfg.Controllers {
		if !strings.HasPrefix(t, "unix:") {
			return true
		}
	}
	return false
}

// vms is the number of endpoints per host after normalization.
func (cfg Config) vms() int {
	if cfg.VMs < 0 {
		return 0
	}
	return cfg.VMs
}

// ---------------------------------------------------------------- naming

// HostNS is the namespace of host i.
func (cfg Config) HostNS(i int) string { return fmt.Sprintf("%sh%d", cfg.Prefix, i) }

// VMNS is the namespace of endpoint j on host i.
func (cfg Config) VMNS(i, j int) string { return fmt.Sprintf("%sh%d-vm%d", cfg.Prefix, i, j) }

// UnderlayNS is the namespace of the two underlay switches.
func (cfg Config) UnderlayNS() string { return cfg.Prefix + "ul" }

// HostDir is host i's OVS run directory.
func (cfg Config) HostDir(i int) string { return filepath.Join(cfg.Dir, fmt.Sprintf("h%d", i)) }

func (cfg Config) mgmtBridge() string    { return cfg.Prefix + "mgmt" }
func (cfg Config) mgmtLink(i int) string { return fmt.Sprintf("%sm%d", cfg.Prefix, i) }
func (cfg Config) lockPath() string      { return "/run/" + cfg.Prefix + "lab.lock" }

// DPID is host i's datapath id.
func (cfg Config) DPID(i int) uint64 { return cfg.DPIDBase + uint64(i) }

// DPIDString formats a datapath id as 16 hex digits.
func DPIDString(d uint64) string { return controller.FormatDPID(d) }

// VMIP is endpoint j's address on host i (without prefix length).
func (cfg Config) VMIP(i, j int) string { return fmt.Sprintf("%s.%d.%d", cfg.OverlayNet, i, j) }

// VMMAC is endpoint j's MAC address on host i.
func VMMAC(i, j int) string { return fmt.Sprintf("02:00:00:00:%02x:%02x", i, j) }

// UnderlayIP is host i's address on underlay path p (1 or 2).
func (cfg Config) UnderlayIP(i, p int) string {
	if p == 2 {
		return fmt.Sprintf("%s.%d", cfg.UnderlayNet2, i)
	}
	return fmt.Sprintf("%s.%d", cfg.UnderlayNet1, i)
}

// UnderlayMAC is the MAC of host i's br-ul<p> LOCAL port.
func UnderlayMAC(i, p int) string { return fmt.Sprintf("02:fe:%02x:00:00:%02x", p, i) }

// Port names and OpenFlow port numbers on br-int.

// VMPort is the br-int port of endpoint j.
func VMPort(j int) string { return fmt.Sprintf("vm%d", j) }

// LinkPort is the br-int port of the direct link towards host k.
func LinkPort(k int) string { return fmt.Sprintf("lnk-h%d", k) }

// TunnelPort is the br-int GRE port towards host k on path p.
func TunnelPort(k, p int) string { return fmt.Sprintf("gre-h%d-p%d", k, p) }

// VMOFPort, LinkOFPort and TunnelOFPort are the fixed OpenFlow port numbers.
func VMOFPort(j int) int        { return j }
func LinkOFPort(k int) int      { return 100 + k }
func TunnelOFPort(k, p int) int { return 100*(p+1) + k }

// linkPairs lists the direct links (a < b except for the ring's closing link).
func (cfg Config) linkPairs() [][2]int {
	var out [][2]int
	n := cfg.Hosts
	switch cfg.Links {
	case LinksChain, LinksRing:
		for i := 1; i < n; i++ {
			out = append(out, [2]int{i, i + 1})
		}
		if cfg.Links == LinksRing && n >= 3 {
			out = append(out, [2]int{1, n})
		}
	case LinksFull:
		for i := 1; i <= n; i++ {
			for k := i + 1; k <= n; k++ {
				out = append(out, [2]int{i, k})
			}
		}
	}
	return out
}

// linkPeers returns the hosts directly linked to host i, ascending.
func (cfg Config) linkPeers(i int) []int {
	var out []int
	for _, p := range cfg.linkPairs() {
		switch i {
		case p[0]:
			out = append(out, p[1])
		case p[1]:
			out = append(out, p[0])
		}
	}
	sort.Ints(out)
	return out
}

// saveConfig writes the effective config into the state dir.
func (cfg Config) save() error {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(cfg.Dir, configFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(cfg.Dir, configFile))
}

// Load reads the config of the lab whose state dir or prefix is given
// ("" = the default prefix). The result is normalized.
func Load(prefixOrDir string) (Config, error) {
	dir := prefixOrDir
	switch {
	case dir == "":
		dir = DefaultDir(DefaultPrefix)
	case !strings.HasPrefix(dir, "/"):
		if !prefixRE.MatchString(dir) {
			return Config{}, fmt.Errorf("lab: %q is neither an absolute state dir nor a prefix like %q", dir, DefaultPrefix)
		}
		dir = DefaultDir(dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, configFile))
	if err != nil {
		if os.IsNotExist(err) {
			return Config{}, fmt.Errorf("lab: no lab in %s (start one with `satlab up N`, or pass --prefix/--dir of the running lab)", dir)
		}
		return Config{}, fmt.Errorf("lab: %w", err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("lab: %s: %w", filepath.Join(dir, configFile), err)
	}
	c.Dir = dir
	return c.Normalize()
}
