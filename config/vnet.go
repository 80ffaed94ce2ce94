package config

import (
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/vnet"
)

// VNet tunes the virtual network reconciler and the DHCP server
// (docs/vnet.md).
type VNet struct {
	// Resync re-reads every switch's flows this often to repair drift.
	Resync Duration `yaml:"resync"`
	// Settle bounds the start-up window in which only missing flows are
	// added; it ends earlier once every datapath is connected and no
	// switch or direct link has come up for SettleQuiet. 0s: no window.
	Settle      Duration `yaml:"settle"`
	SettleQuiet Duration `yaml:"settle_quiet"`
	// TunnelPort names the tunnel port towards a remote datapath on one
	// underlay path: {remote} is the remote datapath's name, {path} the
	// path number (1 or 2).
	TunnelPort string `yaml:"tunnel_port"`
	// DHCP lease timers.
	DHCP VNetDHCP `yaml:"dhcp"`
	// ControllerPPS polices what each VM port sends to the controller
	// (ARP and DHCP) with an OpenFlow meter: packets per second (and as
	// many of burst); 0 turns the meters off.
	ControllerPPS int `yaml:"controller_pps"`
	// TraceMaxAge: a packet trace (POST /api/v1/trace) reuses a switch's
	// flow dump this long before reading it again (0s: always read).
	TraceMaxAge Duration `yaml:"trace_max_age"`
}

// VNetDHCP holds the DHCP server's timers.
type VNetDHCP struct {
	// Grace: an expired lease stays the client's this long before its
	// address returns to the pool.
	Grace Duration `yaml:"grace"`
	// DeclineHold: an address a client declined is given to nobody this long.
	DeclineHold Duration `yaml:"decline_hold"`
	// OfferHold: an offered address is held for the client this long.
	OfferHold Duration `yaml:"offer_hold"`
	// Sweep: how often expired leases are recorded and freed.
	Sweep Duration `yaml:"sweep"`
}

func defaultVNet() VNet {
	return VNet{Resync: Duration(30 * time.Second), Settle: Duration(15 * time.Second), SettleQuiet: Duration(2 * time.Second),
		TunnelPort: "gre-{remote}-p{path}", ControllerPPS: 100, TraceMaxAge: Duration(5 * time.Second),
		DHCP: VNetDHCP{Grace: Duration(vnet.DefaultLeaseGrace), DeclineHold: Duration(vnet.DefaultDeclineHold),
			OfferHold: Duration(vnet.DefaultOfferHold), Sweep: Duration(vnet.DefaultLeaseSweep)}}
}

func (c Config) validateVNet(bad func(setting, format string, args ...any)) {
	v := c.VNet
	positive := func(setting string, d Duration, min time.Duration, example string) {
		if time.Duration(d) < min {
			bad(setting, "%s; want at least %s (such as %s)", time.Duration(d), min, example)
		}
	}
	if v.ControllerPPS < 0 || v.ControllerPPS > 1000000 {
		bad("vnet.controller_pps", "%d; want packets per second from 1 to 1000000 (such as 100), or 0 for no meters", v.ControllerPPS)
	}
	positive("vnet.resync", v.Resync, time.Second, "30s")
	positive("vnet.settle", v.Settle, 0, "15s")
	positive("vnet.settle_quiet", v.SettleQuiet, 100*time.Millisecond, "2s")
	if v.Settle > 0 && v.SettleQuiet > v.Settle {
		bad("vnet.settle_quiet", "%s is longer than vnet.settle (%s); want it shorter", time.Duration(v.SettleQuiet), time.Duration(v.Settle))
	}
	switch tp := v.TunnelPort; {
	case !strings.Contains(tp, "{remote}") || !strings.Contains(tp, "{path}"):
		bad("vnet.tunnel_port", "%q; want a name with {remote} and {path}, such as gre-{remote}-p{path}", tp)
	case !hasAnyPrefix(tp, c.Discovery.TunnelPrefixes):
		bad("vnet.tunnel_port", "%q does not start with any of discovery.tunnel_prefixes %v: discovery would not see these ports as tunnels", tp, c.Discovery.TunnelPrefixes)
	}
	positive("vnet.dhcp.grace", v.DHCP.Grace, time.Second, "5m")
	positive("vnet.dhcp.decline_hold", v.DHCP.DeclineHold, time.Second, "1h")
	positive("vnet.dhcp.offer_hold", v.DHCP.OfferHold, time.Second, "1m")
	positive("vnet.dhcp.sweep", v.DHCP.Sweep, time.Second, "10s")
	positive("vnet.trace_max_age", v.TraceMaxAge, 0, "5s")
}

// VNetOptions returns the virtual network manager's options.
func (c Config) VNetOptions(logger *slog.Logger) vnet.Options {
	v := c.VNet
	o := vnet.Options{Logger: logger, Resync: time.Duration(v.Resync), Settle: time.Duration(v.Settle), SettleQuiet: time.Duration(v.SettleQuiet),
		LeaseGrace: time.Duration(v.DHCP.Grace), DeclineHold: time.Duration(v.DHCP.DeclineHold),
		OfferHold: time.Duration(v.DHCP.OfferHold), LeaseSweep: time.Duration(v.DHCP.Sweep), ControllerPPS: v.ControllerPPS}
	if v.ControllerPPS == 0 {
		o.ControllerPPS = -1 // off: vnet.Options treats 0 as the default
	}
	if v.Settle == 0 {
		o.Settle = -1 // off: vnet.Options treats 0 as the default
	}
	if tp := v.TunnelPort; tp != "" {
		o.TunnelPort = func(remote string, path int) string {
			return strings.ReplaceAll(strings.ReplaceAll(tp, "{remote}", remote), "{path}", strconv.Itoa(path))
		}
	}
	return o
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if p != "" && strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
