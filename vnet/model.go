// Package vnet holds Satellite's virtual networks: the model (datapaths,
// networks, interfaces, routers, security groups), its validation and
// storage, the flow compiler that realises it on the switches, and the
// reconciler that keeps every switch converged to exactly the intended flows.
package vnet

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"sort"

	"github.com/satellite-sdn/satellite/controller"
)

// Config is the whole intended state. Every change goes through Validate
// before it is stored, so what is stored is always consistent.
type Config struct {
	Datapaths      []Datapath      `json:"datapaths" yaml:"datapaths"`
	Networks       []Network       `json:"networks" yaml:"networks"`
	Interfaces     []Interface     `json:"interfaces" yaml:"interfaces"`
	Routers        []Router        `json:"routers" yaml:"routers"`
	SecurityGroups []SecurityGroup `json:"security_groups" yaml:"security_groups"`
	FloatingIPs    []FloatingIP    `json:"floating_ips,omitempty" yaml:"floating_ips,omitempty"`
}

// Datapath is a switch Satellite programs (an OVS host's integration bridge).
type Datapath struct {
	// Name is the host/node name ("h1"); tunnel ports are named after it.
	Name string `json:"name" yaml:"name"`
	// DPID is the datapath id, 16 hex digits.
	DPID string `json:"dpid" yaml:"dpid"`
	// Segment is the underlay segment. Hosts of one segment that are
	// directly linked exchange traffic MAC2MAC, without encapsulation.
	Segment string `json:"segment,omitempty" yaml:"segment,omitempty"`
	// TunnelIPs are the tunnel endpoint addresses, one per underlay path
	// (informational; the tunnels are the ports named by TunnelPort).
	TunnelIPs []string `json:"tunnel_ips,omitempty" yaml:"tunnel_ips,omitempty"`
}

// Network is a virtual L2 network with an IPv4 subnet. Networks may use
// the same (overlapping) subnets: they stay isolated.
type Network struct {
	ID        uint32   `json:"id" yaml:"id"`
	Name      string   `json:"name" yaml:"name"`
	Subnet    string   `json:"subnet" yaml:"subnet"`
	Gateway   string   `json:"gateway,omitempty" yaml:"gateway,omitempty"`
	DNS       []string `json:"dns,omitempty" yaml:"dns,omitempty"`
	DHCP      bool     `json:"dhcp" yaml:"dhcp"`
	DHCPStart string   `json:"dhcp_start,omitempty" yaml:"dhcp_start,omitempty"`
	DHCPEnd   string   `json:"dhcp_end,omitempty" yaml:"dhcp_end,omitempty"`
	// LeaseSeconds is the DHCP lease time (default 3600).
	LeaseSeconds uint32 `json:"lease_seconds,omitempty" yaml:"lease_seconds,omitempty"`
	// Kind is "" (a tenant network) or "external": a network outside
	// Satellite's (the internet, a provider network), reached through
	// Port of Datapath, the gateway. Routers join it with a gateway
	// interface; its Gateway is the upstream router for other
	// destinations; floating IPs are taken from its subnet.
	Kind     string `json:"kind,omitempty" yaml:"kind,omitempty"`
	Datapath string `json:"datapath,omitempty" yaml:"datapath,omitempty"`
	Port     string `json:"port,omitempty" yaml:"port,omitempty"`
}

// KindExternal is the kind of a network outside Satellite's.
const KindExternal = "external"

// IsExternal reports whether the network is an external one.
func (n Network) IsExternal() bool { return n.Kind == KindExternal }

// FloatingIP is an address of an external network given 1:1 to an
// interface: connections to it reach the interface (DNAT), and the
// interface's own connections leave from it (SNAT).
type FloatingIP struct {
	Network string `json:"network" yaml:"network"`
	// IP is chosen (the lowest free address of the subnet) when empty.
	IP        string `json:"ip" yaml:"ip"`
	Interface string `json:"interface" yaml:"interface"`
}

// Interface modes.
const (
	ModeVIF       = "vif"       // a real endpoint on a switch port
	ModeSimulated = "simulated" // an address the controller answers for
)

// Interface is an endpoint in a network.
type Interface struct {
	ID      uint32 `json:"id" yaml:"id"`
	Name    string `json:"name" yaml:"name"`
	Network string `json:"network" yaml:"network"`
	Mode    string `json:"mode" yaml:"mode"`
	// Datapath and Port bind a vif to a switch port (by OVS port name).
	Datapath string `json:"datapath,omitempty" yaml:"datapath,omitempty"`
	Port     string `json:"port,omitempty" yaml:"port,omitempty"`
	// PortNo binds a vif by OpenFlow port number instead of by name.
	PortNo uint32 `json:"port_no,omitempty" yaml:"port_no,omitempty"`
	// VLAN, when set, makes the port a trunk: this network travels on it
	// tagged with this VLAN id.
	VLAN uint16 `json:"vlan,omitempty" yaml:"vlan,omitempty"`
	MAC  string `json:"mac" yaml:"mac"`
	// IP is a static address; empty means leased through DHCP.
	IP             string   `json:"ip,omitempty" yaml:"ip,omitempty"`
	SecurityGroups []string `json:"security_groups,omitempty" yaml:"security_groups,omitempty"`
}

// Router routes between the networks it has interfaces in.
type Router struct {
	ID         uint32            `json:"id" yaml:"id"`
	Name       string            `json:"name" yaml:"name"`
	Interfaces []RouterInterface `json:"interfaces" yaml:"interfaces"`
	Routes     []Route           `json:"routes,omitempty" yaml:"routes,omitempty"`
}

// RouterInterface is a simulated interface of a router in one network.
type RouterInterface struct {
	Network string `json:"network" yaml:"network"`
	IP      string `json:"ip" yaml:"ip"`
	MAC     string `json:"mac" yaml:"mac"`
}

// Route is a static route: Destination via NextHop (an address in one of
// the router's networks).
type Route struct {
	Destination string `json:"destination" yaml:"destination"`
	NextHop     string `json:"next_hop" yaml:"next_hop"`
}

// SecurityGroup is a set of rules. An interface in any group accepts
// inbound traffic only from members of its groups and from what the
// ingress rules allow; outbound is allowed unless a group has egress
// rules. A stateful group (the default) admits new connections by its
// rules and lets established and related traffic (replies, ICMP errors
// for them) through both ways, tracked by Open vSwitch conntrack in one
// zone per network; a stateless one (stateful: false) matches every
// packet against the rules.
type SecurityGroup struct {
	ID    uint32 `json:"id" yaml:"id"`
	Name  string `json:"name" yaml:"name"`
	Rules []Rule `json:"rules" yaml:"rules"`
	// Stateful: nil means true.
	Stateful *bool `json:"stateful,omitempty" yaml:"stateful,omitempty"`
}

// IsStateful reports whether the group tracks connections (the default).
func (g SecurityGroup) IsStateful() bool { return g.Stateful == nil || *g.Stateful }

// MaxStatefulNetworkID is the largest id of a network with stateful
// security: the network id is its conntrack zone, 16 bits.
const MaxStatefulNetworkID = 1<<16 - 1

// Rule allows traffic. Direction is "ingress" (the only one enforced for
// now; see docs/vnet.md).
type Rule struct {
	Direction   string `json:"direction" yaml:"direction"`
	Protocol    string `json:"protocol" yaml:"protocol"` // tcp, udp, icmp, any
	PortMin     uint16 `json:"port_min,omitempty" yaml:"port_min,omitempty"`
	PortMax     uint16 `json:"port_max,omitempty" yaml:"port_max,omitempty"`
	RemoteCIDR  string `json:"remote_cidr,omitempty" yaml:"remote_cidr,omitempty"`
	RemoteGroup string `json:"remote_group,omitempty" yaml:"remote_group,omitempty"`
}

// FieldError says which field of which object is wrong and why.
type FieldError struct {
	Object string // e.g. `interface "vm1"`
	Field  string // e.g. "ip"
	Msg    string
}

// NATZoneBase: the conntrack zone of a router's external side is
// NATZoneBase + the router's id (so routers with the same inside
// addresses never share state); network zones stay below it.
const (
	NATZoneBase  = 0xf000
	MaxNATRouter = 0xfff
)

// NATZone is the conntrack zone of a router's gateway (SNAT and floating IPs).
func NATZone(routerID uint32) uint16 { return uint16(NATZoneBase + routerID) }

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s: %s", e.Object, e.Field, e.Msg) }

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// MaxNetworkID is the largest network id (it is carried in 24 bits of the
// flow cookie and in the tunnel key).
const MaxNetworkID = 1<<24 - 1

// Validate checks the whole configuration and fills in derived defaults
// (ids, MACs). It returns the first problem as a *FieldError.
func (c *Config) Validate() error {
	v := validator{c: c}
	return v.run()
}

type validator struct {
	c *Config
	// what the checks of one kind leave for the next: names and objects
	// by name, addresses and MACs in use per network, bound ports
	dps      map[string]bool
	nets     map[string]*Network
	groups   map[string]bool
	stateful map[string]bool
	macs     map[string]string
	ipsInNet map[string]string
	ports    map[string]string
}

// uniqueName checks the name of an object of a kind: its form, and that
// no other object of the kind has it (seen, which it adds the name to).
func uniqueName(obj, name, kind string, seen map[string]bool) error {
	if !nameRE.MatchString(name) {
		return fe(obj, "name", "want 1-63 lower-case letters, digits, '.', '_' or '-'")
	}
	if seen[name] {
		return fe(obj, "name", "another %s has this name", kind)
	}
	seen[name] = true
	return nil
}

func fe(object, field, format string, args ...any) error {
	return &FieldError{Object: object, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func (v *validator) run() error {
	v.dps, v.nets, v.groups, v.stateful = map[string]bool{}, map[string]*Network{}, map[string]bool{}, map[string]bool{}
	v.macs, v.ipsInNet, v.ports = map[string]string{}, map[string]string{}, map[string]string{}
	for _, check := range []func() error{v.datapaths, v.networks, v.securityGroups, v.interfaces, v.routers} {
		if err := check(); err != nil {
			return err
		}
	}
	if err := v.natZones(v.nets); err != nil {
		return err
	}
	return v.floatingIPs(v.nets, v.ipsInNet)
}

// datapaths checks the datapaths: names, ids, tunnel addresses.
func (v *validator) datapaths() error {
	c := v.c
	dps := v.dps
	dpids := map[string]string{}
	for i := range c.Datapaths {
		d := &c.Datapaths[i]
		obj := fmt.Sprintf("datapath %q", d.Name)
		if err := uniqueName(obj, d.Name, "datapath", dps); err != nil {
			return err
		}
		id, err := ParseDPID(d.DPID)
		if err != nil {
			return fe(obj, "dpid", "%v", err)
		}
		d.DPID = fmt.Sprintf("%016x", id)
		if other, ok := dpids[d.DPID]; ok {
			return fe(obj, "dpid", "already used by datapath %q", other)
		}
		dpids[d.DPID] = d.Name
		for _, ip := range d.TunnelIPs {
			if _, err := netip.ParseAddr(ip); err != nil {
				return fe(obj, "tunnel_ips", "%q is not an IP address", ip)
			}
		}
	}
	return nil
}

// networks checks the networks (subnets, gateways, DHCP ranges, the
// external kind) and gives those without an id a free one.
func (v *validator) networks() error {
	names := map[string]bool{}
	c := v.c
	dps, nets := v.dps, v.nets
	netIDs := map[uint32]string{}
	for i := range c.Networks {
		n := &c.Networks[i]
		obj := fmt.Sprintf("network %q", n.Name)
		if err := uniqueName(obj, n.Name, "network", names); err != nil {
			return err
		}
		nets[n.Name] = n
		if n.ID > MaxNetworkID {
			return fe(obj, "id", "%d is larger than %d", n.ID, MaxNetworkID)
		}
		if n.ID != 0 {
			if other, ok := netIDs[n.ID]; ok {
				return fe(obj, "id", "%d already used by network %q", n.ID, other)
			}
			netIDs[n.ID] = n.Name
		}
		p, err := netip.ParsePrefix(n.Subnet)
		if err != nil || !p.Addr().Is4() {
			return fe(obj, "subnet", "%q is not an IPv4 CIDR like 10.1.0.0/24", n.Subnet)
		}
		if p.Masked() != p {
			return fe(obj, "subnet", "%q has host bits set; did you mean %s?", n.Subnet, p.Masked())
		}
		if p.Bits() > 30 {
			return fe(obj, "subnet", "%q is too small for hosts; want /30 or larger", n.Subnet)
		}
		if n.Gateway != "" {
			if err := inSubnet(p, n.Gateway); err != nil {
				return fe(obj, "gateway", "%v", err)
			}
		}
		for _, d := range n.DNS {
			if _, err := netip.ParseAddr(d); err != nil {
				return fe(obj, "dns", "%q is not an IP address", d)
			}
		}
		switch n.Kind {
		case "":
			if n.Datapath != "" || n.Port != "" {
				return fe(obj, "datapath", "only an external network is bound to a port (kind: external)")
			}
		case KindExternal:
			if !dps[n.Datapath] {
				return fe(obj, "datapath", "unknown datapath %q: an external network needs the gateway datapath whose port leads outside", n.Datapath)
			}
			if n.Port == "" {
				return fe(obj, "port", "an external network needs the port (on datapath %s) that leads outside", n.Datapath)
			}
			if n.DHCP {
				return fe(obj, "dhcp", "an external network gets no DHCP from Satellite (the outside has its own addressing)")
			}
			if n.ID > 0xffff {
				return fe(obj, "id", "%d: an external network's id is at most 65535", n.ID)
			}
		default:
			return fe(obj, "kind", "%q; want external, or nothing for a tenant network", n.Kind)
		}
		if n.DHCP {
			if n.DHCPStart == "" || n.DHCPEnd == "" {
				start, end := defaultRange(p)
				if n.DHCPStart == "" {
					n.DHCPStart = start
				}
				if n.DHCPEnd == "" {
					n.DHCPEnd = end
				}
			}
			if err := inSubnet(p, n.DHCPStart); err != nil {
				return fe(obj, "dhcp_start", "%v", err)
			}
			if err := inSubnet(p, n.DHCPEnd); err != nil {
				return fe(obj, "dhcp_end", "%v", err)
			}
			if netip.MustParseAddr(n.DHCPStart).Compare(netip.MustParseAddr(n.DHCPEnd)) > 0 {
				return fe(obj, "dhcp_end", "%s is before dhcp_start %s", n.DHCPEnd, n.DHCPStart)
			}
			if n.LeaseSeconds == 0 {
				n.LeaseSeconds = 3600
			}
		}
	}
	// assign free network ids
	next := uint32(1)
	for i := range c.Networks {
		if c.Networks[i].ID == 0 {
			for netIDs[next] != "" {
				next++
			}
			c.Networks[i].ID = next
			netIDs[next] = c.Networks[i].Name
		}
	}
	return nil
}

// securityGroups checks the security groups and their rules.
func (v *validator) securityGroups() error {
	c := v.c
	groups, stateful := v.groups, v.stateful
	for i := range c.SecurityGroups {
		g := &c.SecurityGroups[i]
		obj := fmt.Sprintf("security group %q", g.Name)
		if err := uniqueName(obj, g.Name, "security group", groups); err != nil {
			return err
		}
		stateful[g.Name] = g.IsStateful()
	}
	for i := range c.SecurityGroups {
		g := &c.SecurityGroups[i]
		for j := range g.Rules {
			r := &g.Rules[j]
			obj := fmt.Sprintf("security group %q rule %d", g.Name, j+1)
			if r.Direction == "" {
				r.Direction = "ingress"
			}
			if r.Direction != "ingress" && r.Direction != "egress" {
				return fe(obj, "direction", "%q; want ingress or egress", r.Direction)
			}
			switch r.Protocol {
			case "tcp", "udp":
				if r.PortMin == 0 && r.PortMax == 0 {
					r.PortMin, r.PortMax = 1, 65535
				}
				if r.PortMax == 0 {
					r.PortMax = r.PortMin
				}
				if r.PortMin == 0 || r.PortMin > r.PortMax {
					return fe(obj, "port_min", "want 1 <= port_min <= port_max")
				}
			case "icmp", "any":
				if r.PortMin != 0 || r.PortMax != 0 {
					return fe(obj, "port_min", "ports make no sense with protocol %s", r.Protocol)
				}
			default:
				return fe(obj, "protocol", "%q; want tcp, udp, icmp or any", r.Protocol)
			}
			if r.RemoteCIDR != "" && r.RemoteGroup != "" {
				return fe(obj, "remote_group", "give remote_cidr or remote_group, not both")
			}
			if r.RemoteCIDR != "" {
				if p, err := netip.ParsePrefix(r.RemoteCIDR); err != nil || !p.Addr().Is4() {
					return fe(obj, "remote_cidr", "%q is not an IPv4 CIDR", r.RemoteCIDR)
				}
			}
			if r.RemoteGroup != "" && !groups[r.RemoteGroup] {
				return fe(obj, "remote_group", "unknown security group %q", r.RemoteGroup)
			}
		}
	}
	return nil
}

// interfaces checks the interfaces (network, datapath and port,
// addresses, groups) and gives those without an id a free one.
func (v *validator) interfaces() error {
	c := v.c
	dps, nets, groups, stateful, macs, ipsInNet, ports := v.dps, v.nets, v.groups, v.stateful, v.macs, v.ipsInNet, v.ports
	ifNames := map[string]bool{}
	ifIDs := map[uint32]bool{}
	for i := range c.Interfaces {
		in := &c.Interfaces[i]
		if in.ID != 0 {
			ifIDs[in.ID] = true
		}
	}
	for _, n := range c.Networks {
		if n.IsExternal() {
			ports[fmt.Sprintf("%s/%s/0", n.Datapath, n.Port)] = fmt.Sprintf("external network %q", n.Name)
			if n.Gateway != "" {
				ipsInNet[n.Name+"/"+n.Gateway] = "the upstream gateway of the network"
			}
		}
	}
	nextIf := uint32(1)
	for i := range c.Interfaces {
		in := &c.Interfaces[i]
		obj := fmt.Sprintf("interface %q", in.Name)
		if err := uniqueName(obj, in.Name, "interface", ifNames); err != nil {
			return err
		}
		if in.ID == 0 {
			for ifIDs[nextIf] {
				nextIf++
			}
			in.ID = nextIf
			ifIDs[nextIf] = true
		}
		n := nets[in.Network]
		if n == nil {
			return fe(obj, "network", "unknown network %q", in.Network)
		}
		if n.IsExternal() {
			return fe(obj, "network", "%q is an external network: put the interface on a tenant network behind a router with a gateway there, and give it a floating IP", in.Network)
		}
		if in.Mode == "" {
			in.Mode = ModeVIF
		}
		switch in.Mode {
		case ModeVIF:
			if !dps[in.Datapath] {
				return fe(obj, "datapath", "unknown datapath %q", in.Datapath)
			}
			if in.Port == "" && in.PortNo == 0 {
				return fe(obj, "port", "a vif needs the switch port it is plugged into: a port name, or port_no")
			}
			if in.Port != "" && in.PortNo != 0 {
				return fe(obj, "port_no", "give the port by name or by number, not both")
			}
			key := fmt.Sprintf("%s/%s/%d", in.Datapath, in.Port, in.VLAN)
			if in.Port == "" {
				key = fmt.Sprintf("%s/#%d/%d", in.Datapath, in.PortNo, in.VLAN)
			}
			if other, ok := ports[key]; ok {
				return fe(obj, "port", "port %s on %s (vlan %d) is already bound to %s", in.Port, in.Datapath, in.VLAN, other)
			}
			ports[key] = fmt.Sprintf("interface %q", in.Name)
		case ModeSimulated:
			if in.IP == "" {
				return fe(obj, "ip", "a simulated interface needs an address to answer for")
			}
		default:
			return fe(obj, "mode", "%q; want vif or simulated", in.Mode)
		}
		if in.VLAN > 4094 {
			return fe(obj, "vlan", "%d; want 1..4094", in.VLAN)
		}
		if in.MAC == "" {
			in.MAC = generatedMAC(macInterface, n.ID, in.ID)
		}
		hw, err := net.ParseMAC(in.MAC)
		if err != nil || len(hw) != 6 || hw[0]&1 == 1 {
			return fe(obj, "mac", "%q is not a unicast MAC address", in.MAC)
		}
		in.MAC = hw.String()
		if other, ok := macs[in.Network+"/"+in.MAC]; ok {
			return fe(obj, "mac", "%s is already used by %s in network %q", in.MAC, other, in.Network)
		}
		macs[in.Network+"/"+in.MAC] = "interface " + in.Name
		if in.IP != "" {
			p := netip.MustParsePrefix(n.Subnet)
			if err := inSubnet(p, in.IP); err != nil {
				return fe(obj, "ip", "%v", err)
			}
			if other, ok := ipsInNet[in.Network+"/"+in.IP]; ok {
				return fe(obj, "ip", "%s is already used by %s in network %q", in.IP, other, in.Network)
			}
			ipsInNet[in.Network+"/"+in.IP] = "interface " + in.Name
		} else if !n.DHCP {
			return fe(obj, "ip", "network %q has no DHCP: give the interface a static address", in.Network)
		}
		for _, g := range in.SecurityGroups {
			if !groups[g] {
				return fe(obj, "security_groups", "unknown security group %q", g)
			}
			if stateful[g] && n.ID > MaxStatefulNetworkID {
				return fe(obj, "security_groups", "stateful group %q needs the network's id as conntrack zone, but network %q has id %d (at most %d): renumber the network or make the group stateless", g, in.Network, n.ID, MaxStatefulNetworkID)
			}
		}
	}
	return nil
}

// routers checks the routers (their interfaces, gateway and routes) and
// gives those without an id a free one.
func (v *validator) routers() error {
	c := v.c
	nets, macs, ipsInNet := v.nets, v.macs, v.ipsInNet
	routers := map[string]bool{}
	rIDs := map[uint32]bool{}
	for _, r := range c.Routers {
		if r.ID != 0 {
			rIDs[r.ID] = true
		}
	}
	nextR := uint32(1)
	for i := range c.Routers {
		r := &c.Routers[i]
		obj := fmt.Sprintf("router %q", r.Name)
		if err := uniqueName(obj, r.Name, "router", routers); err != nil {
			return err
		}
		if r.ID == 0 {
			for rIDs[nextR] {
				nextR++
			}
			r.ID = nextR
			rIDs[nextR] = true
		}
		inNet := map[string]bool{}
		gateway := ""
		for j := range r.Interfaces {
			ri := &r.Interfaces[j]
			n := nets[ri.Network]
			if n == nil {
				return fe(obj, "interfaces", "unknown network %q", ri.Network)
			}
			if inNet[ri.Network] {
				return fe(obj, "interfaces", "two interfaces in network %q", ri.Network)
			}
			inNet[ri.Network] = true
			for _, prev := range r.Interfaces[:j] {
				if pn := nets[prev.Network]; pn != nil && netip.MustParsePrefix(pn.Subnet).Overlaps(netip.MustParsePrefix(n.Subnet)) {
					return fe(obj, "interfaces", "networks %q (%s) and %q (%s) overlap: a router cannot route between networks whose subnets overlap", prev.Network, pn.Subnet, ri.Network, n.Subnet)
				}
			}
			if n.IsExternal() {
				if gateway != "" {
					return fe(obj, "interfaces", "gateway interfaces in external networks %q and %q: a router has one gateway", gateway, ri.Network)
				}
				gateway = ri.Network
				if ri.IP == "" {
					return fe(obj, "interfaces", "network %q is external: give the router's gateway address there (ip)", ri.Network)
				}
				if r.ID > MaxNATRouter {
					return fe(obj, "id", "%d: a router with a gateway has an id of at most %d (its NAT conntrack zone is %d + id)", r.ID, MaxNATRouter, NATZoneBase)
				}
			}
			if ri.IP == "" {
				ri.IP = n.Gateway
			}
			if err := inSubnet(netip.MustParsePrefix(n.Subnet), ri.IP); err != nil {
				return fe(obj, "interfaces", "network %q: %v", ri.Network, err)
			}
			if other, ok := ipsInNet[ri.Network+"/"+ri.IP]; ok {
				return fe(obj, "interfaces", "%s in network %q is already used by %s", ri.IP, ri.Network, other)
			}
			ipsInNet[ri.Network+"/"+ri.IP] = "router " + r.Name
			if ri.MAC == "" {
				ri.MAC = generatedMAC(macRouter, n.ID, r.ID)
			}
			hw, err := net.ParseMAC(ri.MAC)
			if err != nil || len(hw) != 6 || hw[0]&1 == 1 {
				return fe(obj, "interfaces", "%q is not a unicast MAC address", ri.MAC)
			}
			ri.MAC = hw.String()
			if other, ok := macs[ri.Network+"/"+ri.MAC]; ok {
				return fe(obj, "interfaces", "MAC %s in network %q is already used by %s", ri.MAC, ri.Network, other)
			}
			macs[ri.Network+"/"+ri.MAC] = "router " + r.Name
		}
		for j, rt := range r.Routes {
			p, err := netip.ParsePrefix(rt.Destination)
			if err != nil || !p.Addr().Is4() {
				return fe(obj, fmt.Sprintf("routes[%d].destination", j), "%q is not an IPv4 CIDR", rt.Destination)
			}
			hop, err := netip.ParseAddr(rt.NextHop)
			if err != nil {
				return fe(obj, fmt.Sprintf("routes[%d].next_hop", j), "%q is not an IP address", rt.NextHop)
			}
			ok := false
			for _, ri := range r.Interfaces {
				if netip.MustParsePrefix(nets[ri.Network].Subnet).Contains(hop) {
					ok = true
				}
			}
			if !ok {
				return fe(obj, fmt.Sprintf("routes[%d].next_hop", j), "%s is not in any of the router's networks", rt.NextHop)
			}
		}
	}
	return nil
}

// natZones: the routers' NAT zones must not be the zone of a network with
// stateful security.
func (v *validator) natZones(nets map[string]*Network) error {
	c := v.c
	gw := map[uint16]string{}
	for _, r := range c.Routers {
		if _, ok := RouterGateway(c, r); ok {
			gw[NATZone(r.ID)] = r.Name
		}
	}
	if len(gw) == 0 {
		return nil
	}
	stateful := map[string]bool{}
	for _, g := range c.SecurityGroups {
		stateful[g.Name] = g.IsStateful()
	}
	for _, in := range c.Interfaces {
		for _, g := range in.SecurityGroups {
			n := nets[in.Network]
			if r, ok := gw[uint16(n.ID)]; ok && stateful[g] && n.ID <= MaxStatefulNetworkID {
				return fe(fmt.Sprintf("network %q", n.Name), "id", "%d is the conntrack zone of router %q's gateway (%d + its id): renumber the network below %d", n.ID, r, NATZoneBase, NATZoneBase)
			}
		}
	}
	return nil
}

// floatingIPs checks the floating IPs and chooses the missing addresses.
func (v *validator) floatingIPs(nets map[string]*Network, ipsInNet map[string]string) error {
	c := v.c
	ifaces := map[string]*Interface{}
	for i := range c.Interfaces {
		ifaces[c.Interfaces[i].Name] = &c.Interfaces[i]
	}
	taken := map[string]bool{}
	for i := range c.FloatingIPs {
		if f := c.FloatingIPs[i]; f.IP != "" {
			taken[f.Network+"/"+f.IP] = true
		}
	}
	hasFIP := map[string]string{}
	for i := range c.FloatingIPs {
		f := &c.FloatingIPs[i]
		obj := fmt.Sprintf("floating IP %q", f.IP)
		if f.IP == "" {
			obj = fmt.Sprintf("floating IP for %q", f.Interface)
		}
		n := nets[f.Network]
		if n == nil {
			return fe(obj, "network", "unknown network %q", f.Network)
		}
		if !n.IsExternal() {
			return fe(obj, "network", "%q is not an external network (kind: external)", f.Network)
		}
		in := ifaces[f.Interface]
		if in == nil {
			return fe(obj, "interface", "unknown interface %q", f.Interface)
		}
		if in.Mode != ModeVIF {
			return fe(obj, "interface", "%q is a simulated interface: a floating IP needs a vif", f.Interface)
		}
		p := netip.MustParsePrefix(n.Subnet)
		if f.IP != "" {
			if err := inSubnet(p, f.IP); err != nil {
				return fe(obj, "ip", "%v (network %q)", err, f.Network)
			}
			if other, ok := ipsInNet[f.Network+"/"+f.IP]; ok {
				return fe(obj, "ip", "%s in network %q is already used by %s", f.IP, f.Network, other)
			}
		}
		if _, ok := GatewayRouter(c, in.Network, f.Network); !ok {
			return fe(obj, "interface", "interface %q is in network %q, which no router with a gateway on %q serves: add a router with interfaces in both", f.Interface, in.Network, f.Network)
		}
		if other, ok := hasFIP[f.Interface]; ok {
			return fe(obj, "interface", "interface %q already has the floating IP %s: delete that one first", f.Interface, other)
		}
		if f.IP == "" {
			for a := p.Addr().Next(); p.Contains(a) && a != lastAddr(p); a = a.Next() {
				k := f.Network + "/" + a.String()
				if _, used := ipsInNet[k]; !used && !taken[k] {
					f.IP = a.String()
					taken[k] = true
					break
				}
			}
			if f.IP == "" {
				return fe(obj, "ip", "no free address left in %s (network %q)", p, f.Network)
			}
		}
		k := f.Network + "/" + f.IP
		ipsInNet[k] = fmt.Sprintf("the floating IP of interface %q", f.Interface)
		hasFIP[f.Interface] = f.IP
	}
	return nil
}

// RouterGateway returns a router's gateway interface (its interface in an
// external network), if it has one.
func RouterGateway(c *Config, r Router) (RouterInterface, bool) {
	for _, ri := range r.Interfaces {
		for _, n := range c.Networks {
			if n.Name == ri.Network && n.IsExternal() {
				return ri, true
			}
		}
	}
	return RouterInterface{}, false
}

// GatewayRouter returns the router that connects a tenant network to an
// external one (the first by name when several do).
func GatewayRouter(c *Config, network, external string) (Router, bool) {
	var best *Router
	for i, r := range c.Routers {
		gw, ok := RouterGateway(c, r)
		if !ok || gw.Network != external {
			continue
		}
		for _, ri := range r.Interfaces {
			if ri.Network == network && (best == nil || r.Name < best.Name) {
				best = &c.Routers[i]
			}
		}
	}
	if best == nil {
		return Router{}, false
	}
	return *best, true
}

func inSubnet(p netip.Prefix, ip string) error {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return fmt.Errorf("%q is not an IPv4 address", ip)
	}
	if !p.Contains(a) {
		return fmt.Errorf("%s is outside the subnet %s", ip, p)
	}
	if a == p.Addr() {
		return fmt.Errorf("%s is the subnet's network address", ip)
	}
	if a == lastAddr(p) {
		return fmt.Errorf("%s is the subnet's broadcast address", ip)
	}
	return nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n |= 1<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// defaultRange is the upper half of the subnet, minus the broadcast address.
func defaultRange(p netip.Prefix) (string, string) {
	a := p.Masked().Addr().As4()
	base := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	size := uint32(1) << (32 - p.Bits())
	start, end := base+size/2, base+size-2
	f := func(n uint32) string {
		return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}).String()
	}
	return f(start), f(end)
}

// Kinds of generated MACs (the first byte: locally administered, unicast).
const (
	macInterface = 0x0a
	macRouter    = 0x0e
	macDHCP      = 0x06
)

// generatedMAC makes a stable, locally administered MAC from a kind and two ids.
func generatedMAC(kind byte, netID, objID uint32) string {
	return net.HardwareAddr{kind, byte(netID >> 8), byte(netID), byte(objID >> 16), byte(objID >> 8), byte(objID)}.String()
}

// ParseDPID reads a datapath id as everywhere in Satellite
// (controller.ParseDPID): 1-16 hex digits with an optional 0x, or
// colon-separated bytes as Open vSwitch prints them.
func ParseDPID(s string) (uint64, error) { return controller.ParseDPID(s) }

// Sort orders every list by name, so stored and exported configurations are stable.
func (c *Config) Sort() {
	sort.Slice(c.Datapaths, func(i, j int) bool { return c.Datapaths[i].Name < c.Datapaths[j].Name })
	sort.Slice(c.Networks, func(i, j int) bool { return c.Networks[i].Name < c.Networks[j].Name })
	sort.Slice(c.Interfaces, func(i, j int) bool { return c.Interfaces[i].Name < c.Interfaces[j].Name })
	sort.Slice(c.Routers, func(i, j int) bool { return c.Routers[i].Name < c.Routers[j].Name })
	sort.Slice(c.SecurityGroups, func(i, j int) bool { return c.SecurityGroups[i].Name < c.SecurityGroups[j].Name })
	sort.Slice(c.FloatingIPs, func(i, j int) bool {
		a, b := c.FloatingIPs[i], c.FloatingIPs[j]
		if a.Network != b.Network {
			return a.Network < b.Network
		}
		return a.IP < b.IP
	})
}
