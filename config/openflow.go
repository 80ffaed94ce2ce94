package config

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/controller"
)

// OpenFlowTLS holds the files of ssl: OpenFlow listeners. With ovs-pki:
// cert and key from `ovs-pki req+sign NAME controller`, ca the switch CA
// (<pki>/switchca/cacert.pem). Switches must present a certificate
// signed by ca.
type OpenFlowTLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	CA   string `yaml:"ca"`
}

// OpenFlowAccess says which peers may claim which datapath ids.
type OpenFlowAccess struct {
	// Sources: the addresses (IP or CIDR) tcp: and ssl: switches may
	// connect from; empty: any.
	Sources []string `yaml:"sources"`
	// Switches pins datapath ids (keys as in `satellite switches`, e.g.
	// "0000000000000001") to certificates and source addresses.
	Switches map[string]OpenFlowSwitch `yaml:"switches"`
}

// OpenFlowSwitch pins one datapath id.
type OpenFlowSwitch struct {
	// Certs: the certificate common names or "sha256:HEX" fingerprints
	// this datapath must present over TLS (then it is refused on tcp:).
	// Empty: over TLS, the common name must start with the datapath id
	// (satlab's ovs-pki certificates do).
	Certs []string `yaml:"certs"`
	// Sources: the addresses it may connect from.
	Sources []string `yaml:"sources"`
}

// OpenFlowLimits bound what unauthenticated peers can cost.
type OpenFlowLimits struct {
	// Handshakes in progress at once, in all and from one address; more
	// connections are closed at once.
	Handshakes          int `yaml:"handshakes"`
	HandshakesPerSource int `yaml:"handshakes_per_source"`
	// HandshakeTimeout bounds the TLS and the OpenFlow handshake.
	HandshakeTimeout Duration `yaml:"handshake_timeout"`
	// TakeoverEchoTimeout: a connected switch whose datapath id is
	// claimed by a new connection keeps it when it answers an echo within
	// this time.
	TakeoverEchoTimeout Duration `yaml:"takeover_echo_timeout"`
	// WarnEvery: repeated warnings and security events of one kind are
	// logged once per interval, with a count of the ones suppressed.
	WarnEvery Duration `yaml:"warn_every"`
	// PacketInPortRate caps the packet-ins per second one switch port may
	// use of packet_in_rate (0: a quarter of it), so that one noisy VM
	// cannot starve the others; tunnel probe replies have an allowance of
	// their own.
	PacketInPortRate float64 `yaml:"packet_in_port_rate"`
}

func defaultOpenFlowLimits() OpenFlowLimits {
	return OpenFlowLimits{Handshakes: 256, HandshakesPerSource: 8, HandshakeTimeout: Duration(5 * time.Second),
		TakeoverEchoTimeout: Duration(time.Second), WarnEvery: Duration(10 * time.Second)}
}

// DefaultOpenFlow is the listen target when none is configured: loopback
// only. Switches on other machines need an explicit target (preferably
// ssl: with openflow_tls).
const DefaultOpenFlow = "tcp:127.0.0.1:6653"

func (c Config) validateOpenFlow(bad func(setting, format string, args ...any)) {
	t := c.OpenFlowTLS
	ssl := false
	for _, tg := range c.OpenFlow {
		if n, _, _ := strings.Cut(tg, ":"); n == "ssl" || n == "pssl" {
			ssl = true
		}
	}
	set := t.Cert != "" || t.Key != "" || t.CA != ""
	switch {
	case ssl && !set:
		bad("openflow_tls", "an ssl: target needs openflow_tls {cert, key, ca}: the controller's certificate and key and the CA that signs the switches' certificates (with ovs-pki: ovs-pki req+sign ctl controller; ca = <pki>/switchca/cacert.pem)")
	case set && (t.Cert == "" || t.Key == "" || t.CA == ""):
		bad("openflow_tls", "cert, key and ca are all needed (cert %q, key %q, ca %q)", t.Cert, t.Key, t.CA)
	case set:
		if _, err := controller.ServerTLS(t.Cert, t.Key, t.CA); err != nil {
			bad("openflow_tls", "%v", err)
		}
		if !ssl {
			bad("openflow_tls", "set, but no ssl: target in openflow; add one such as ssl::6653")
		}
	}
	if _, err := parsePrefixes(c.OpenFlowAccess.Sources); err != nil {
		bad("openflow_access.sources", "%v", err)
	}
	for k, sw := range c.OpenFlowAccess.Switches {
		setting := "openflow_access.switches." + k
		if _, err := controller.ParseDPID(k); err != nil {
			bad(setting, "%v", err)
		}
		if _, err := parsePrefixes(sw.Sources); err != nil {
			bad(setting+".sources", "%v", err)
		}
		for _, w := range sw.Certs {
			if err := checkCertPin(w); err != nil {
				bad(setting+".certs", "%v", err)
			}
		}
	}
	l := c.OpenFlowLimits
	if l.Handshakes < 1 {
		bad("openflow_limits.handshakes", "%d; want at least 1 (such as 256)", l.Handshakes)
	}
	if l.HandshakesPerSource < 1 {
		bad("openflow_limits.handshakes_per_source", "%d; want at least 1 (such as 8)", l.HandshakesPerSource)
	}
	if d := time.Duration(l.HandshakeTimeout); d < 100*time.Millisecond {
		bad("openflow_limits.handshake_timeout", "%s is too short; want at least 100ms (such as 5s)", d)
	}
	if d := time.Duration(l.TakeoverEchoTimeout); d < 10*time.Millisecond {
		bad("openflow_limits.takeover_echo_timeout", "%s is too short; want at least 10ms (such as 1s)", d)
	}
	if l.PacketInPortRate < 0 || l.PacketInPortRate > c.PacketInRate {
		bad("openflow_limits.packet_in_port_rate", "%v; want 0 (a quarter of packet_in_rate) up to packet_in_rate (%v)", l.PacketInPortRate, c.PacketInRate)
	}
	if d := time.Duration(l.WarnEvery); d < time.Second {
		bad("openflow_limits.warn_every", "%s is too short; want at least 1s (such as 10s)", d)
	}
}

func checkCertPin(w string) error {
	if strings.TrimSpace(w) == "" {
		return fmt.Errorf("empty; want a certificate common name or sha256:HEX fingerprint")
	}
	if fp, ok := strings.CutPrefix(strings.ToLower(w), "sha256:"); ok {
		fp = strings.ReplaceAll(fp, ":", "")
		if len(fp) != 64 || strings.Trim(fp, "0123456789abcdef") != "" {
			return fmt.Errorf("%q: a sha256 fingerprint has 64 hex digits (openssl x509 -noout -fingerprint -sha256 -in CERT)", w)
		}
	}
	return nil
}

// parsePrefixes reads addresses ("10.0.0.1") and networks ("10.0.0.0/24").
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or network; want such as 10.250.0.1 or 10.250.0.0/24", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// OpenFlowTLSConfig loads the TLS configuration of ssl: listeners (nil
// when openflow_tls is not set).
func (c Config) OpenFlowTLSConfig() (*tls.Config, error) {
	t := c.OpenFlowTLS
	if t.Cert == "" && t.Key == "" && t.CA == "" {
		return nil, nil
	}
	return controller.ServerTLS(t.Cert, t.Key, t.CA)
}

// openFlowAccess converts the validated access settings.
func (c Config) openFlowAccess() controller.Access {
	var a controller.Access
	a.Sources, _ = parsePrefixes(c.OpenFlowAccess.Sources)
	if len(c.OpenFlowAccess.Switches) > 0 {
		a.Switches = make(map[uint64]controller.SwitchAccess, len(c.OpenFlowAccess.Switches))
		for k, sw := range c.OpenFlowAccess.Switches {
			dpid, err := controller.ParseDPID(k)
			if err != nil {
				continue
			}
			src, _ := parsePrefixes(sw.Sources)
			a.Switches[dpid] = controller.SwitchAccess{Certs: append([]string(nil), sw.Certs...), Sources: src}
		}
	}
	return a
}

// applyOpenFlow fills the security settings of the controller config.
func (c Config) applyOpenFlow(cc *controller.Config) {
	cc.TLS, _ = c.OpenFlowTLSConfig() // Validate reported a problem
	cc.Access = c.openFlowAccess()
	l := c.OpenFlowLimits
	cc.MaxHandshakes, cc.MaxHandshakesPerSource = l.Handshakes, l.HandshakesPerSource
	cc.HandshakeTimeout = time.Duration(l.HandshakeTimeout)
	cc.TakeoverEchoTimeout = time.Duration(l.TakeoverEchoTimeout)
	cc.WarnEvery = time.Duration(l.WarnEvery)
	if l.PacketInPortRate > 0 {
		cc.PacketInPortRate = l.PacketInPortRate
		cc.PacketInPortBurst = max(int(l.PacketInPortRate/4), 1)
	}
}
