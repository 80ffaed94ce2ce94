package vnet

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// External networks (docs/vnet.md, "External networks, SNAT and floating
// IPs"). A router with a gateway interface on an external network E sends
// what no other route takes to E's datapath (the gateway), with the
// router's gateway MAC as source and destination; the gateway translates
// it in the router's NAT zone (SNAT to the gateway address, or to the
// interface's floating IP) and sends it out of E's port to the MAC of the
// outside neighbour, learned by ARP. From the outside, packets to the
// gateway address or a floating IP are looked up (and translated back) in
// the same zone at classification and routed to the interface.

// gwRouter is a router with a gateway interface, as the compiler uses it.
type gwRouter struct {
	r    Router
	gw   RouterInterface
	ext  *Network
	zone uint16
}

func (c *compiler) gatewayRouters() []gwRouter {
	var out []gwRouter
	for _, r := range c.cfg.Routers {
		if gw, ok := RouterGateway(c.cfg, r); ok {
			out = append(out, gwRouter{r: r, gw: gw, ext: c.nets[gw.Network], zone: NATZone(r.ID)})
		}
	}
	return out
}

// insideIfaces are the vifs with an address in the router's other
// networks, with the router's MAC in their network.
func (c *compiler) insideIfaces(g gwRouter) []struct {
	in     Interface
	net    *Network
	rtrMAC string
} {
	var out []struct {
		in     Interface
		net    *Network
		rtrMAC string
	}
	for _, ri := range g.r.Interfaces {
		if ri.Network == g.gw.Network {
			continue
		}
		for _, x := range c.ifaces {
			if x.Network == ri.Network && x.Mode == ModeVIF && x.IP != "" {
				out = append(out, struct {
					in     Interface
					net    *Network
					rtrMAC string
				}{x, c.nets[x.Network], ri.MAC})
			}
		}
	}
	return out
}

// floatingOf returns the floating IPs of a router's gateway network whose
// interface is behind the router, by interface name.
func (c *compiler) floatingOf(g gwRouter) map[string]string {
	out := map[string]string{}
	for _, f := range c.cfg.FloatingIPs {
		if f.Network != g.gw.Network {
			continue
		}
		for _, x := range c.ifaces {
			if x.Name != f.Interface {
				continue
			}
			if r, ok := GatewayRouter(c.cfg, x.Network, f.Network); ok && r.Name == g.r.Name {
				out[x.Name] = f.IP
			}
		}
	}
	return out
}

func (c *compiler) external(name string, dpid uint64, rel map[string]bool, prog *Program,
	mac2mac func(string) (uint32, bool), tunnels map[string][]uint32) {
	routers := c.gatewayRouters()
	// every host: the router's gateway MAC in E leads to the gateway
	for _, g := range routers {
		if !rel[g.gw.Network] {
			continue
		}
		e := g.ext
		ck := controller.NewCookie(controller.OwnerRouter, e.ID, g.r.ID)
		if e.Datapath == name {
			c.add(TableL2, 100, ck, fmt.Sprintf("metadata=0x%x/0x%x,dl_dst=%s,actions=goto_table:%d", metaNet(e.ID), metaNetMask, g.gw.MAC, TableNAT))
			for rname := range c.dpids {
				if rname == name {
					continue
				}
				if port, ok := mac2mac(rname); ok {
					c.add(TableClassify, 200, ck, fmt.Sprintf("in_port=%d,dl_dst=%s,actions=write_metadata:0x%x/0x%x,goto_table:%d",
						port, g.gw.MAC, metaNet(e.ID)|metaRemote, metaNetMask|metaRemote, TableL2))
				}
			}
			continue
		}
		fromHere := fmt.Sprintf("metadata=0x%x/0x%x", metaNet(e.ID), metaNetMask|metaRemote)
		var act string
		if port, ok := mac2mac(e.Datapath); ok {
			act = fmt.Sprintf("output:%d", port)
		} else if _, ok := tunnels[e.Datapath]; ok {
			act = fmt.Sprintf("set_field:%d->tun_id,group:%d", e.ID, GroupID(c.dpids[e.Datapath]))
		} else {
			c.errs = append(c.errs, fmt.Sprintf("router %q: no tunnel or direct link from %s to the gateway %s of network %q", g.r.Name, name, e.Datapath, e.Name))
			continue
		}
		c.add(TableL2, 100, ck, fmt.Sprintf("%s,dl_dst=%s,actions=%s", fromHere, g.gw.MAC, act))
	}

	// the gateway datapath of each external network
	defaults := false
	for i := range c.cfg.Networks {
		e := &c.cfg.Networks[i]
		if !e.IsExternal() || e.Datapath != name {
			continue
		}
		port, ok := c.env.PortNo(dpid, e.Port)
		if !ok {
			c.errs = append(c.errs, fmt.Sprintf("external network %q: port %s not present on datapath %s (yet)", e.Name, e.Port, name))
			continue
		}
		if !defaults {
			defaults = true
			for _, t := range []uint8{TableNAT, TableOut} {
				c.add(t, 0, controller.NewCookie(controller.OwnerNetwork, 0, uint32(t)), "actions=drop")
			}
		}
		eck := controller.NewCookie(controller.OwnerNetwork, e.ID, 0)
		in := fmt.Sprintf("in_port=%d", port)
		toCtl := "controller"
		if c.env.ControllerPPS > 0 {
			mid := ExternalMeterBase + e.ID
			prog.Meters = append(prog.Meters, controller.Meter{ID: mid, PPS: c.env.ControllerPPS, Burst: c.env.ControllerPPS})
			toCtl = fmt.Sprintf("meter:%d,controller", mid)
		}
		// ARP from the outside: to the controller (it answers for the
		// gateway and floating addresses and learns the neighbours)
		c.add(0, 40100, eck, fmt.Sprintf("%s,arp,actions=%s,goto_table:%d", in, toCtl, TableClassify))
		c.add(TableClassify, 210, eck, in+",arp,actions=drop")
		c.add(TableClassify, 100, eck, in+",actions=drop")
		c.add(TableRoute, 400, eck, in+",actions=drop")
		// out: to the neighbour's MAC; unresolved ones to the controller,
		// which asks by ARP (the packet is lost, as on a router)
		mE := fmt.Sprintf("metadata=0x%x/0x%x", metaNet(e.ID), metaNetMask)
		var neigh map[string]string
		if c.env.Neighbors != nil {
			neigh = c.env.Neighbors(e.Name)
		}
		subnet := netip.MustParsePrefix(e.Subnet)
		for _, ip := range sortedKeys(keysOf(neigh)) {
			if a, err := netip.ParseAddr(ip); err == nil && subnet.Contains(a) {
				c.add(TableOut, 100, eck, fmt.Sprintf("%s,ip,nw_dst=%s,actions=set_field:%s->dl_dst,output:%d", mE, ip, neigh[ip], port))
			}
		}
		c.add(TableOut, 60, eck, fmt.Sprintf("%s,ip,nw_dst=%s,actions=%s", mE, e.Subnet, toCtl))
		if e.Gateway != "" {
			if mac, ok := neigh[e.Gateway]; ok {
				c.add(TableOut, 50, eck, fmt.Sprintf("%s,ip,actions=set_field:%s->dl_dst,output:%d", mE, mac, port))
			} else {
				c.add(TableOut, 50, eck, fmt.Sprintf("%s,ip,actions=%s", mE, toCtl))
			}
		}
		for _, g := range routers {
			if g.ext != e {
				continue
			}
			c.gatewayNAT(g, in, toCtl)
		}
	}
}

func keysOf(m map[string]string) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// gatewayNAT compiles one router's NAT at its gateway datapath; in matches
// the external port.
func (c *compiler) gatewayNAT(g gwRouter, in, toCtl string) {
	e, z := g.ext, g.zone
	ck := controller.NewCookie(controller.OwnerRouter, e.ID, g.r.ID)
	inside := c.insideIfaces(g)
	fips := c.floatingOf(g)
	lookup := fmt.Sprintf("ct(zone=%d,nat,table=%d)", z, TableRoute)

	// from the outside: to the gateway address or a floating IP, looked up
	// (and translated back) in the router's zone, then routed in table 3
	c.add(TableClassify, 200, ck, fmt.Sprintf("%s,ip,nw_dst=%s,actions=%s", in, g.gw.IP, lookup))
	c.add(TableRoute, 430, ck, fmt.Sprintf("%s,ip,ct_zone=%d,ct_state=+inv+trk,actions=drop", in, z))
	c.add(TableRoute, 420, ck, fmt.Sprintf("%s,icmp,icmp_type=8,ct_zone=%d,ct_state=+new+trk,nw_dst=%s,actions=%s", in, z, g.gw.IP, toCtl))
	for _, x := range inside {
		if fip, ok := fips[x.in.Name]; ok {
			// counted: every packet to the floating IP (its "in")
			c.add(TableClassify, 200, FloatingCookie(e.ID, fip), fmt.Sprintf("%s,ip,nw_dst=%s,actions=%s", in, fip, lookup))
			c.add(TableRoute, 420, FloatingCookie(e.ID, fip), fmt.Sprintf("%s,ip,ct_zone=%d,ct_state=+new+trk,nw_dst=%s,actions=ct(commit,zone=%d,nat(dst=%s),table=%d)",
				in, z, fip, z, x.in.IP, TableRoute))
		}
		// translated back (a reply to SNAT, or to the floating IP): to
		// the interface, as the router would route it
		c.add(TableRoute, 410, ck, fmt.Sprintf("%s,ip,ct_zone=%d,ct_state=+trk,nw_dst=%s,actions=dec_ttl,set_field:%s->dl_src,set_field:%s->dl_dst,write_metadata:0x%x/0x%x,goto_table:%d",
			in, z, x.in.IP, x.rtrMAC, x.in.MAC, metaNet(x.net.ID), metaNetMask|metaRemote, TableL2))
	}

	// to the outside: SNAT (the floating IP for an interface that has one)
	base := fmt.Sprintf("metadata=0x%x/0x%x,dl_dst=%s", metaNet(e.ID), metaNetMask, g.gw.MAC)
	out := fmt.Sprintf("goto_table:%d", TableOut)
	c.add(TableNAT, 300, ck, fmt.Sprintf("%s,ip,ct_state=-trk,actions=ct(zone=%d,nat,table=%d)", base, z, TableNAT))
	c.add(TableNAT, 280, ck, fmt.Sprintf("%s,ip,ct_zone=%d,ct_state=+inv+trk,actions=drop", base, z))
	c.add(TableNAT, 270, ck, fmt.Sprintf("%s,ip,ct_zone=%d,ct_state=+est+trk,actions=%s", base, z, out))
	c.add(TableNAT, 270, ck, fmt.Sprintf("%s,ip,ct_zone=%d,ct_state=+rel+trk,actions=%s", base, z, out))
	for _, x := range inside {
		if fip, ok := fips[x.in.Name]; ok {
			// counted: every packet from the floating IP (its "out"): new
			// ones, and the rest after the lookup translated them
			fck := FloatingCookie(e.ID, fip)
			c.add(TableNAT, 265, fck, fmt.Sprintf("%s,ip,ct_zone=%d,ct_state=+new+trk,nw_src=%s,actions=ct(commit,zone=%d,nat(src=%s)),%s", base, z, x.in.IP, z, fip, out))
			c.add(TableNAT, 275, fck, fmt.Sprintf("%s,ip,ct_zone=%d,ct_state=+est+trk,nw_src=%s,actions=%s", base, z, fip, out))
			c.add(TableNAT, 275, fck, fmt.Sprintf("%s,ip,ct_zone=%d,ct_state=+rel+trk,nw_src=%s,actions=%s", base, z, fip, out))
		}
	}
	for _, ri := range g.r.Interfaces {
		if ri.Network != g.gw.Network {
			c.add(TableNAT, 260, ck, fmt.Sprintf("%s,ip,ct_zone=%d,ct_state=+new+trk,nw_src=%s,actions=ct(commit,zone=%d,nat(src=%s)),%s",
				base, z, c.nets[ri.Network].Subnet, z, g.gw.IP, out))
		}
	}
	c.add(TableNAT, 250, ck, fmt.Sprintf("%s,ip,ct_zone=%d,actions=drop", base, z))
	c.add(TableNAT, 40, ck, fmt.Sprintf("%s,ip,actions=ct(zone=%d,nat,table=%d)", base, z, TableNAT))
}

// FloatingCookie is the cookie of a floating IP's flows: scope its
// external network, object its address.
func FloatingCookie(extID uint32, ip string) controller.Cookie {
	a := netip.MustParseAddr(ip).As4()
	return controller.NewCookie(controller.OwnerFloating, extID, binary.BigEndian.Uint32(a[:]))
}

// FloatingIPStats are a floating IP's counters at its gateway: In is
// every packet to it from the outside, Out every packet sent from it.
type FloatingIPStats struct {
	IP         string `json:"ip"`
	Network    string `json:"network"`
	Interface  string `json:"interface"`
	Datapath   string `json:"datapath"`
	InPackets  uint64 `json:"in_packets"`
	InBytes    uint64 `json:"in_bytes"`
	OutPackets uint64 `json:"out_packets"`
	OutBytes   uint64 `json:"out_bytes"`
}

// ErrNoFloatingIP: no floating IP has the address.
var ErrNoFloatingIP = errors.New("no such floating IP")

// FloatingIPStats reads a floating IP's counters from its gateway switch
// (the flows of its cookie: the lookup from the outside, and the SNAT of
// its interface's packets).
func (m *Manager) FloatingIPStats(ctx context.Context, ip string) (FloatingIPStats, error) {
	m.mu.Lock()
	var st FloatingIPStats
	var ext Network
	for _, f := range m.cfg.FloatingIPs {
		if f.IP == ip {
			st.IP, st.Network, st.Interface = f.IP, f.Network, f.Interface
		}
	}
	for _, n := range m.cfg.Networks {
		if n.Name == st.Network {
			ext = n
		}
	}
	var dpid uint64
	for _, d := range m.cfg.Datapaths {
		if d.Name == ext.Datapath {
			dpid, _ = ParseDPID(d.DPID)
		}
	}
	m.mu.Unlock()
	if st.IP == "" {
		return st, fmt.Errorf("%w: %s", ErrNoFloatingIP, ip)
	}
	st.Datapath = ext.Datapath
	s := m.ctl.Switch(dpid)
	if s == nil {
		return st, fmt.Errorf("the gateway %s of network %q is not connected", ext.Datapath, ext.Name)
	}
	flows, err := s.FlowStats(ctx, controller.FlowFilter{Table: controller.TableAll, Cookie: uint64(FloatingCookie(ext.ID, ip)), CookieMask: controller.CookieMaskAll})
	if err != nil {
		return st, fmt.Errorf("reading the flows of floating IP %s on %s: %w", ip, ext.Datapath, err)
	}
	for _, f := range flows {
		switch f.Table {
		case TableClassify:
			st.InPackets += f.PacketCount
			st.InBytes += f.ByteCount
		case TableNAT:
			st.OutPackets += f.PacketCount
			st.OutBytes += f.ByteCount
		}
	}
	return st, nil
}

// natFlushes says what a configuration change cuts in the routers' NAT
// zones. zones: routers whose gateway (network, address, MAC) changed,
// appeared or went: their whole zone. conns: for a router whose gateway
// stayed, only the connections of each floating IP added, deleted or moved
// to another interface: those first sent to the floating IP (inbound,
// matched before DNAT) and those first sent by the interface it left
// (outbound, by its fixed IP before SNAT). The interface that gains a
// floating IP keeps its connections (they go on through the gateway
// address). When the fixed IP of the interface left is unknown (a lease
// gone), the whole zone is flushed, as before. fixedIP gives an
// interface's address in a configuration ("" when it has none).
func natFlushes(cur, next *Config, fixedIP func(c *Config, iface string) string) (zones []uint16, conns []ofwire.CTFlush) {
	a, b := natStates(cur), natStates(next)
	whole := map[uint16]bool{}
	seen := map[ofwire.CTFlush]bool{}
	add := func(f ofwire.CTFlush) {
		if !seen[f] {
			seen[f] = true
			conns = append(conns, f)
		}
	}
	for z, old := range a {
		nw, ok := b[z]
		if !ok || nw.gw != old.gw {
			whole[z] = true
			continue
		}
		for ip, iface := range old.fips {
			if nw.fips[ip] == iface {
				continue
			}
			fip, err := netip.ParseAddr(ip)
			fixed, ferr := netip.ParseAddr(fixedIP(cur, iface))
			if err != nil || ferr != nil {
				whole[z] = true
				break
			}
			add(ofwire.CTFlush{Zone: z, Dst: fip})
			add(ofwire.CTFlush{Zone: z, Src: fixed})
		}
		for ip := range nw.fips {
			if _, had := old.fips[ip]; had || whole[z] {
				continue
			}
			fip, err := netip.ParseAddr(ip)
			if err != nil {
				whole[z] = true
				continue
			}
			add(ofwire.CTFlush{Zone: z, Dst: fip}) // nothing should be there; cheap
		}
	}
	for z := range b {
		if _, ok := a[z]; !ok {
			whole[z] = true
		}
	}
	for z := range whole {
		zones = append(zones, z)
	}
	sort.Slice(zones, func(i, j int) bool { return zones[i] < zones[j] })
	out := conns[:0]
	for _, f := range conns {
		if !whole[f.Zone] {
			out = append(out, f)
		}
	}
	conns = out
	sort.Slice(conns, func(i, j int) bool { return conns[i].String() < conns[j].String() })
	return zones, conns
}

// natState is what a router's NAT zone depends on: its gateway, and the
// floating IPs of the gateway's network (address -> interface).
type natState struct {
	gw   string
	fips map[string]string
}

func natStates(c *Config) map[uint16]natState {
	out := map[uint16]natState{}
	for _, r := range c.Routers {
		gw, ok := RouterGateway(c, r)
		if !ok {
			continue
		}
		st := natState{gw: fmt.Sprintf("%s %s %s", gw.Network, gw.IP, gw.MAC), fips: map[string]string{}}
		for _, f := range c.FloatingIPs {
			if f.Network == gw.Network {
				st.fips[f.IP] = f.Interface
			}
		}
		out[NATZone(r.ID)] = st
	}
	return out
}

// The controller's side: ARP on the external ports, neighbour learning.

// neighbors returns a copy of what was learned on an external network.
func (m *Manager) neighbors(network string) map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for ip, mac := range m.neigh[network] {
		out[ip] = mac
	}
	return out
}

// Neighbors returns the outside addresses learned on an external network
// (IP -> MAC).
func (m *Manager) Neighbors(network string) map[string]string { return m.neighbors(network) }

// externalPort finds the external network bound to a switch port.
func (m *Manager) externalPort(dpid uint64, port uint32) (Network, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.ctl.Switch(dpid)
	if s == nil {
		return Network{}, false
	}
	p, ok := s.Port(port)
	if !ok {
		return Network{}, false
	}
	for _, n := range m.cfg.Networks {
		if n.IsExternal() && n.Port == p.Name {
			for _, d := range m.cfg.Datapaths {
				if id, _ := ParseDPID(d.DPID); id == dpid && d.Name == n.Datapath {
					return n, true
				}
			}
		}
	}
	return Network{}, false
}

// externalOwner returns the router MAC that answers for an address of an
// external network: a router's gateway address or a floating IP (answered
// with the MAC of the router behind which its interface is).
func (m *Manager) externalOwner(network, ip string) (mac string, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.cfg.Routers {
		if gw, ok := RouterGateway(&m.cfg, r); ok && gw.Network == network && gw.IP == ip {
			return gw.MAC, true
		}
	}
	for _, f := range m.cfg.FloatingIPs {
		if f.Network != network || f.IP != ip {
			continue
		}
		for _, in := range m.cfg.Interfaces {
			if in.Name == f.Interface {
				if r, ok := GatewayRouter(&m.cfg, in.Network, network); ok {
					gw, _ := RouterGateway(&m.cfg, r)
					return gw.MAC, true
				}
			}
		}
	}
	return "", false
}

// learn records an outside neighbour; a new or moved one recompiles the
// gateway's flows.
func (m *Manager) learn(n Network, ip net.IP, mac net.HardwareAddr) {
	a, ok := netip.AddrFromSlice(ip.To4())
	if !ok || !netip.MustParsePrefix(n.Subnet).Contains(a) || mac[0]&1 == 1 {
		return
	}
	if _, ours := m.externalOwner(n.Name, a.String()); ours {
		return
	}
	m.mu.Lock()
	if m.neigh == nil {
		m.neigh = map[string]map[string]string{}
	}
	if m.neigh[n.Name] == nil {
		m.neigh[n.Name] = map[string]string{}
	}
	changed := m.neigh[n.Name][a.String()] != mac.String()
	m.neigh[n.Name][a.String()] = mac.String()
	m.mu.Unlock()
	if changed {
		m.log.Info("outside neighbour learned", "network", n.Name, "ip", a, "mac", mac)
		m.Kick()
	}
}

// externalPacketIn handles what the external port sent to the controller:
// ARP (answered for the gateway and floating addresses, and learned) and
// ping to a router's gateway address.
func (m *Manager) externalPacketIn(ctx context.Context, dpid uint64, port uint32, n Network, pkt gopacket.Packet, eth *layers.Ethernet) {
	var reply []byte
	var err error
	if arp, _ := pkt.Layer(layers.LayerTypeARP).(*layers.ARP); arp != nil && len(arp.SourceProtAddress) == 4 && len(arp.DstProtAddress) == 4 {
		m.learn(n, net.IP(arp.SourceProtAddress), net.HardwareAddr(arp.SourceHwAddress))
		if arp.Operation != layers.ARPRequest {
			return
		}
		mac, ok := m.externalOwner(n.Name, net.IP(arp.DstProtAddress).String())
		if !ok {
			return
		}
		hw, _ := net.ParseMAC(mac)
		reply, err = serialize(
			&layers.Ethernet{SrcMAC: hw, DstMAC: net.HardwareAddr(arp.SourceHwAddress), EthernetType: layers.EthernetTypeARP},
			&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
				Operation: layers.ARPReply, SourceHwAddress: hw, SourceProtAddress: arp.DstProtAddress,
				DstHwAddress: arp.SourceHwAddress, DstProtAddress: arp.SourceProtAddress})
	} else if ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ip != nil {
		icmp, _ := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		mac, ok := m.externalOwner(n.Name, ip.DstIP.String())
		if icmp == nil || icmp.TypeCode.Type() != layers.ICMPv4TypeEchoRequest || !ok || mac != eth.DstMAC.String() {
			return
		}
		reply, err = serialize(
			&layers.Ethernet{SrcMAC: eth.DstMAC, DstMAC: eth.SrcMAC, EthernetType: layers.EthernetTypeIPv4},
			&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: ip.DstIP, DstIP: ip.SrcIP, Id: ip.Id},
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0), Id: icmp.Id, Seq: icmp.Seq},
			gopacket.Payload(icmp.Payload))
	}
	if err != nil || reply == nil {
		return
	}
	m.sendOut(ctx, dpid, port, reply)
}

// resolve asks the outside, by ARP from the router's gateway address, for
// the MAC of the next hop of a packet the gateway could not send (table
// 8's miss for an unresolved neighbour).
func (m *Manager) resolve(ctx context.Context, dpid uint64, extID uint32, pkt gopacket.Packet, eth *layers.Ethernet) {
	ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if ip == nil {
		return
	}
	m.mu.Lock()
	var ext Network
	var gw RouterInterface
	for _, n := range m.cfg.Networks {
		if n.ID == extID && n.IsExternal() {
			ext = n
		}
	}
	for _, r := range m.cfg.Routers {
		if g, ok := RouterGateway(&m.cfg, r); ok && g.Network == ext.Name && g.MAC == eth.SrcMAC.String() {
			gw = g
		}
	}
	m.mu.Unlock()
	if ext.Name == "" || gw.IP == "" {
		return
	}
	target, _ := netip.AddrFromSlice(ip.DstIP.To4())
	if !netip.MustParsePrefix(ext.Subnet).Contains(target) {
		if ext.Gateway == "" {
			return
		}
		target = netip.MustParseAddr(ext.Gateway)
	}
	key := ext.Name + "/" + target.String()
	m.mu.Lock()
	if m.asked == nil {
		m.asked = map[string]time.Time{}
	}
	if last, ok := m.asked[key]; ok && time.Since(last) < time.Second {
		m.mu.Unlock()
		return
	}
	m.asked[key] = time.Now()
	m.mu.Unlock()
	s := m.ctl.Switch(dpid)
	if s == nil {
		return
	}
	var port uint32
	for _, p := range s.Ports() {
		if p.Name == ext.Port {
			port = p.No
		}
	}
	if port == 0 {
		return
	}
	hw, _ := net.ParseMAC(gw.MAC)
	req, err := serialize(
		&layers.Ethernet{SrcMAC: hw, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: hw, SourceProtAddress: netip.MustParseAddr(gw.IP).AsSlice(),
			DstHwAddress: make([]byte, 6), DstProtAddress: target.AsSlice()})
	if err != nil {
		return
	}
	m.log.Debug("asking the outside for a neighbour", "network", ext.Name, "ip", target)
	m.sendOut(ctx, dpid, port, req)
}

// sendOut sends a frame out of a switch port.
func (m *Manager) sendOut(ctx context.Context, dpid uint64, port uint32, frame []byte) {
	s := m.ctl.Switch(dpid)
	if s == nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	acts := ofp.Actions{&ofp.ActionOutput{Port: ofp.PortNo(port), MaxLen: ofp.ContentLenNoBuffer}}
	if err := s.PacketOut(pctx, uint32(ofp.PortController), acts, frame); err != nil {
		m.log.Warn("sending a frame failed", "dpid", fmt.Sprintf("%016x", dpid), "port", port, "err", err)
	}
}

// routerReply answers a packet a vif sent to a router that the route
// table handed to the controller: ping (echo reply) and UDP (port
// unreachable) to any of the router's addresses, an expiring TTL (time
// exceeded) and a destination the router cannot reach (host or network
// unreachable), each from the router's address in the sender's network.
func (m *Manager) routerReply(from where, pkt gopacket.Packet) ([]byte, bool) {
	eth := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if ip == nil || ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
		return nil, false
	}
	m.mu.Lock()
	var r *Router
	var here RouterInterface
	for i := range m.cfg.Routers {
		for _, ri := range m.cfg.Routers[i].Interfaces {
			if ri.Network == from.net.Name && ri.MAC == eth.DstMAC.String() {
				r, here = &m.cfg.Routers[i], ri
			}
		}
	}
	var mine bool
	var inSubnet bool
	if r != nil {
		dst, _ := netip.AddrFromSlice(ip.DstIP.To4())
		for _, ri := range r.Interfaces {
			mine = mine || ri.IP == dst.String()
			for _, n := range m.cfg.Networks {
				if n.Name == ri.Network && ri.Network != from.net.Name && netip.MustParsePrefix(n.Subnet).Contains(dst) {
					inSubnet = true
				}
			}
		}
	}
	m.mu.Unlock()
	if r == nil {
		return nil, false
	}
	icmp, _ := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if icmp != nil && icmp.TypeCode.Type() != layers.ICMPv4TypeEchoRequest {
		return nil, true // never an ICMP error for an ICMP error (or a reply)
	}
	hw := eth.DstMAC
	routerIP := net.ParseIP(here.IP).To4()
	if mine && icmp != nil {
		b, err := serialize(
			&layers.Ethernet{SrcMAC: hw, DstMAC: eth.SrcMAC, EthernetType: layers.EthernetTypeIPv4},
			&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: ip.DstIP, DstIP: ip.SrcIP, Id: ip.Id},
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0), Id: icmp.Id, Seq: icmp.Seq},
			gopacket.Payload(icmp.Payload))
		return b, err == nil
	}
	var tc layers.ICMPv4TypeCode
	src := routerIP
	switch {
	case mine && ip.Protocol == layers.IPProtocolUDP:
		tc, src = layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodePort), ip.DstIP
	case mine:
		return nil, true
	case ip.TTL <= 1:
		tc = layers.CreateICMPv4TypeCode(layers.ICMPv4TypeTimeExceeded, layers.ICMPv4CodeTTLExceeded)
	case inSubnet:
		tc = layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodeHost)
	default:
		tc = layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodeNet)
	}
	// the quote: the offending IP header and the first 8 bytes of its payload
	raw := ip.Contents
	quote := append(append([]byte(nil), raw...), ip.Payload[:min(8, len(ip.Payload))]...)
	b, err := serialize(
		&layers.Ethernet{SrcMAC: hw, DstMAC: eth.SrcMAC, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: src, DstIP: ip.SrcIP},
		&layers.ICMPv4{TypeCode: tc},
		gopacket.Payload(quote))
	return b, err == nil
}

// routerMAC reports whether mac is a router's MAC in a network.
func (m *Manager) routerMAC(network, mac string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.cfg.Routers {
		for _, ri := range r.Interfaces {
			if ri.Network == network && ri.MAC == mac {
				return true
			}
		}
	}
	return false
}
