package vnet

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// The pipeline (table 0 is the ingress table of the topology tracker,
// which sends everything here):
const (
	TableClassify = 1 // which network a packet belongs to; anti-spoofing
	TableEgress   = 2 // egress security of the source interface
	TableRoute    = 3 // distributed routing at the source host
	TableL2       = 4 // per-network L2 forwarding: local, MAC2MAC, GRE
	TableIngress  = 5 // ingress security of the destination interface
	TableOutput   = 6 // delivery to the interface's port (VLAN tagging)
	TableNAT      = 7 // at an external network's gateway: SNAT and floating IPs
	TableOut      = 8 // at the gateway: to the outside neighbour's MAC, out of the port
)

// Metadata layout: network id in bits 63..40, "arrived from another host"
// in bit 39, destination interface id in bits 31..0.
const (
	metaNetShift        = 40
	metaNetMask  uint64 = 0xffffff << metaNetShift
	metaRemote   uint64 = 1 << 39
	metaIfMask   uint64 = 0xffffffff
)

func metaNet(id uint32) uint64 { return uint64(id) << metaNetShift }

// Env is what the compiler needs to know about the live network.
type Env struct {
	// PortNo returns the OpenFlow number of a port by name, if the switch
	// is connected and has it.
	PortNo func(dpid uint64, name string) (uint32, bool)
	// HasPort reports whether a connected switch has a port number (for
	// interfaces bound by number).
	HasPort func(dpid uint64, no uint32) bool
	// DirectLink returns the local port of a working direct link from
	// switch a to switch b (both directions up), if there is one.
	DirectLink func(a, b uint64) (uint32, bool)
	// TunnelPort names the tunnel port on a host towards remote for an
	// underlay path (default "gre-<remote>-p<path>", the lab's naming).
	TunnelPort func(remote string, path int) string
	// PathOrder lists the underlay paths from local to remote in order of
	// preference (default 1, 2). An empty list means no path is usable:
	// traffic to that host is dropped explicitly.
	PathOrder func(local, remote uint64) []int
	// ControllerPPS, when set, polices each local interface's packets to
	// the controller (ARP and DHCP copies in table 0) with a meter of
	// this many packets per second (MeterID).
	ControllerPPS uint32
	// Neighbors returns the addresses learned on an external network
	// (IP -> MAC), from ARP on its port.
	Neighbors func(network string) map[string]string
}

// Meter ids of the interfaces' controller meters: MeterBase + interface
// id, for ids below MaxMeteredID (switches number meters from 1 up to a
// few hundred thousand; Open vSwitch's userspace datapath allows 2^18).
const (
	MeterBase    = 0x10000
	MaxMeteredID = 0x20000
)

// MeterID is the controller meter of an interface (0: none).
func MeterID(ifID uint32) uint32 {
	if ifID == 0 || ifID >= MaxMeteredID {
		return 0
	}
	return MeterBase + ifID
}

// ownedMeter reports whether a meter id is one of ours.
func ownedMeter(id uint32) bool {
	return (id > MeterBase && id < MeterBase+MaxMeteredID) || (id > ExternalMeterBase && id <= ExternalMeterBase+0xffff)
}

// ExternalMeterBase + an external network's id is the meter of what its
// port sends to the controller (ARP, packets to unresolved neighbours).
const ExternalMeterBase = 0x30000

// TunnelGroup is the tunnel-selection group towards a remote switch: a
// fast-failover group whose buckets (one per usable path, in order of
// preference) watch and use the path's tunnel port. The datapath skips a
// bucket whose port is not live (BFD); no bucket means drop.
func TunnelGroup(remoteDPID uint64, ports []uint32) controller.Group {
	g := controller.Group{ID: GroupID(remoteDPID), Type: controller.GroupFastFailover}
	for _, port := range ports {
		g.Buckets = append(g.Buckets, ofwire.Bucket{WatchPort: port, Actions: ofp.Actions{&ofp.ActionOutput{Port: ofp.PortNo(port)}}})
	}
	return g
}

// Program is what one switch should hold.
type Program struct {
	Flows  []controller.Flow
	Groups []controller.Group
	Meters []controller.Meter
}

// GroupID is the id of the tunnel-selection group towards a remote switch.
func GroupID(remoteDPID uint64) uint32 { return 0x10000000 | uint32(remoteDPID&0x0fffffff) }

// Paths is the number of underlay paths between hosts.
const Paths = 2

type compiler struct {
	cfg    *Config
	env    Env
	leases map[string]string // network/mac -> leased IP
	dps    map[string]Datapath
	dpids  map[string]uint64
	nets   map[string]*Network
	ifaces []Interface // with leased IPs filled in
	groups map[string]SecurityGroup
	flows  []controller.Flow
	errs   []string
}

// Compile turns the configuration into one program per datapath (keyed by
// dpid). Interfaces on switches that are not connected, or whose port is
// missing, are left out (and reported in the returned notes) until they
// appear.
func Compile(cfg *Config, leases []Lease, env Env) (map[uint64]*Program, []string) {
	if env.TunnelPort == nil {
		env.TunnelPort = func(remote string, path int) string { return fmt.Sprintf("gre-%s-p%d", remote, path) }
	}
	c := &compiler{cfg: cfg, env: env, leases: map[string]string{}, dps: map[string]Datapath{},
		dpids: map[string]uint64{}, nets: map[string]*Network{}, groups: map[string]SecurityGroup{}}
	for _, l := range leases {
		c.leases[l.Network+"/"+l.MAC] = l.IP
	}
	for _, d := range cfg.Datapaths {
		id, _ := ParseDPID(d.DPID)
		c.dps[d.Name] = d
		c.dpids[d.Name] = id
	}
	for i := range cfg.Networks {
		c.nets[cfg.Networks[i].Name] = &cfg.Networks[i]
	}
	for _, g := range cfg.SecurityGroups {
		c.groups[g.Name] = g
	}
	for _, in := range cfg.Interfaces {
		if in.IP == "" {
			in.IP = c.leases[in.Network+"/"+in.MAC]
		}
		c.ifaces = append(c.ifaces, in)
	}
	out := map[uint64]*Program{}
	names := make([]string, 0, len(c.dps))
	for n := range c.dps {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		out[c.dpids[name]] = c.datapath(name)
	}
	return out, c.errs
}

func (c *compiler) add(table uint8, prio uint16, cookie controller.Cookie, spec string) {
	f, err := controller.ParseFlow(fmt.Sprintf("table=%d,priority=%d,%s", table, prio, spec))
	if err != nil {
		panic(fmt.Sprintf("vnet: compiler produced a bad flow %q: %v", spec, err)) // a bug, caught by tests
	}
	f.Cookie = cookie
	c.flows = append(c.flows, f)
}

func ifCookie(in Interface, net *Network) controller.Cookie {
	return controller.NewCookie(controller.OwnerInterface, net.ID, in.ID)
}

// relevantNets are the networks a datapath needs: those of its local
// interfaces and those reachable from them through routers.
func (c *compiler) relevantNets(dp string) map[string]bool {
	rel := map[string]bool{}
	for _, in := range c.ifaces {
		if in.Mode == ModeVIF && in.Datapath == dp {
			rel[in.Network] = true
		}
	}
	for _, n := range c.cfg.Networks {
		if n.IsExternal() && n.Datapath == dp {
			rel[n.Name] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, r := range c.cfg.Routers {
			connected := false
			for _, ri := range r.Interfaces {
				connected = connected || rel[ri.Network]
			}
			if !connected {
				continue
			}
			for _, ri := range r.Interfaces {
				if !rel[ri.Network] {
					rel[ri.Network] = true
					changed = true
				}
			}
		}
	}
	return rel
}

// located is an interface with the switch and port it is on.
type located struct {
	Interface
	dpid uint64
	port uint32
}

func (c *compiler) locate(in Interface) (located, bool) {
	if in.Mode != ModeVIF {
		return located{}, false
	}
	dpid, ok := c.dpids[in.Datapath]
	if !ok {
		return located{}, false
	}
	if in.Port == "" {
		if c.env.HasPort == nil || !c.env.HasPort(dpid, in.PortNo) {
			c.errs = append(c.errs, fmt.Sprintf("interface %q: port number %d not present on datapath %s (yet)", in.Name, in.PortNo, in.Datapath))
			return located{}, false
		}
		return located{Interface: in, dpid: dpid, port: in.PortNo}, true
	}
	port, ok := c.env.PortNo(dpid, in.Port)
	if !ok {
		c.errs = append(c.errs, fmt.Sprintf("interface %q: port %s not present on datapath %s (yet)", in.Name, in.Port, in.Datapath))
		return located{}, false
	}
	return located{Interface: in, dpid: dpid, port: port}, true
}

// dpCompile is what the compilation of one datapath works on.
type dpCompile struct {
	name        string
	dpid        uint64
	prog        *Program
	rel         map[string]bool            // the networks this datapath serves
	relNames    []string                   // rel, sorted
	local       []located                  // interfaces on this datapath
	remote      []located                  // interfaces of rel on other datapaths
	remoteHosts map[string]map[string]bool // network -> remote datapath names
	tunnels     map[string][]uint32        // remote datapath -> its tunnel ports, by path
}

// datapath compiles the program of one datapath, in steps that each add
// one kind of flows.
func (c *compiler) datapath(name string) *Program {
	c.flows = nil
	d := &dpCompile{name: name, dpid: c.dpids[name], prog: &Program{}, rel: c.relevantNets(name),
		remoteHosts: map[string]map[string]bool{}, tunnels: map[string][]uint32{}}
	if len(d.rel) == 0 {
		return d.prog
	}
	d.relNames = sortedKeys(d.rel)
	core := func(table uint8) controller.Cookie {
		return controller.NewCookie(controller.OwnerNetwork, 0, uint32(table))
	}
	c.add(TableClassify, 0, core(TableClassify), "actions=drop")
	c.add(TableEgress, 0, core(TableEgress), fmt.Sprintf("actions=goto_table:%d", TableRoute))
	c.add(TableRoute, 0, core(TableRoute), fmt.Sprintf("actions=goto_table:%d", TableL2))
	c.add(TableL2, 0, core(TableL2), "actions=drop")
	c.add(TableIngress, 0, core(TableIngress), "actions=drop")
	c.add(TableOutput, 0, core(TableOutput), "actions=drop")

	c.placeInterfaces(d)
	c.tunnelGroups(d)
	c.fromOtherHosts(d)
	c.localInterfaces(d)
	c.l2(d)
	c.simulated(d)
	c.routers(d.rel)
	c.external(name, d.dpid, d.rel, d.prog, func(r string) (uint32, bool) { return c.mac2mac(d, r) }, d.tunnels)
	d.prog.Flows = c.flows
	return d.prog
}

// mac2mac is the port of the direct link to another datapath of the same
// segment, if there is one.
func (c *compiler) mac2mac(d *dpCompile, rname string) (uint32, bool) {
	if c.env.DirectLink == nil || c.dps[rname].Segment == "" || c.dps[rname].Segment != c.dps[d.name].Segment {
		return 0, false
	}
	return c.env.DirectLink(d.dpid, c.dpids[rname])
}

// placeInterfaces finds where every interface of the relevant networks
// is: on this datapath (local) or another (remote).
func (c *compiler) placeInterfaces(d *dpCompile) {
	for _, in := range c.ifaces {
		if !d.rel[in.Network] {
			continue
		}
		l, ok := c.locate(in)
		if !ok {
			continue
		}
		if l.dpid == d.dpid {
			d.local = append(d.local, l)
		} else {
			d.remote = append(d.remote, l)
			if d.remoteHosts[in.Network] == nil {
				d.remoteHosts[in.Network] = map[string]bool{}
			}
			d.remoteHosts[in.Network][in.Datapath] = true
		}
	}
}

// tunnelGroups builds the tunnel groups towards every other datapath, in
// the path order of the prober.
func (c *compiler) tunnelGroups(d *dpCompile) {
	for rname, rdpid := range c.dpids {
		if rname == d.name {
			continue
		}
		byPath := map[int]uint32{}
		for p := 1; p <= Paths; p++ {
			if port, ok := c.env.PortNo(d.dpid, c.env.TunnelPort(rname, p)); ok {
				byPath[p] = port
				d.tunnels[rname] = append(d.tunnels[rname], port)
			}
		}
		if len(byPath) == 0 {
			continue
		}
		order := []int{1, 2}
		if c.env.PathOrder != nil {
			order = c.env.PathOrder(d.dpid, rdpid)
		}
		var ports []uint32
		for _, p := range order {
			if port, ok := byPath[p]; ok {
				ports = append(ports, port)
			}
		}
		d.prog.Groups = append(d.prog.Groups, TunnelGroup(rdpid, ports))
	}
	sort.Slice(d.prog.Groups, func(i, j int) bool { return d.prog.Groups[i].ID < d.prog.Groups[j].ID })
}

// fromOtherHosts classifies the traffic arriving from other hosts:
// through tunnels by key, over a direct link (MAC2MAC) by destination.
func (c *compiler) fromOtherHosts(d *dpCompile) {
	for rname, ports := range d.tunnels {
		for _, port := range ports {
			for _, nn := range d.relNames {
				n := c.nets[nn]
				c.add(TableClassify, 200, controller.NewCookie(controller.OwnerTunnel, n.ID, uint32(c.dpids[rname]&0xffffffff)),
					fmt.Sprintf("in_port=%d,tun_id=%d,actions=write_metadata:0x%x/0x%x,goto_table:%d", port, n.ID, metaNet(n.ID)|metaRemote, metaNetMask|metaRemote, TableL2))
			}
		}
	}
	for rname := range c.dpids {
		if rname == d.name {
			continue
		}
		if port, ok := c.mac2mac(d, rname); ok {
			for _, l := range d.local {
				n := c.nets[l.Network]
				c.add(TableClassify, 200, ifCookie(l.Interface, n),
					fmt.Sprintf("in_port=%d,dl_dst=%s,actions=write_metadata:0x%x/0x%x,goto_table:%d", port, l.MAC, metaNet(n.ID)|metaRemote, metaNetMask|metaRemote, TableL2))
			}
		}
	}
}

// localInterfaces: classification with anti-spoofing, ingress and
// egress security, output, for every interface on this datapath.
func (c *compiler) localInterfaces(d *dpCompile) {
	for _, l := range d.local {
		n := c.nets[l.Network]
		ck := ifCookie(l.Interface, n)
		in := fmt.Sprintf("in_port=%d", l.port)
		if l.VLAN != 0 {
			in += fmt.Sprintf(",dl_vlan=%d", l.VLAN)
		}
		pop := ""
		if l.VLAN != 0 {
			pop = "pop_vlan,"
		}
		toNet := fmt.Sprintf("write_metadata:0x%x/0x%x,goto_table:%d", metaNet(n.ID), metaNetMask|metaRemote, TableEgress)
		// ARP and DHCP are answered by the controller (copies from table
		// 0); the copies from this port are policed by its meter, so that
		// a VM flooding them cannot crowd out its neighbours'
		if mid := MeterID(l.ID); mid != 0 && c.env.ControllerPPS > 0 {
			d.prog.Meters = append(d.prog.Meters, controller.Meter{ID: mid, PPS: c.env.ControllerPPS, Burst: c.env.ControllerPPS})
			for _, m := range []string{"arp", "udp,tp_src=68,tp_dst=67"} {
				c.add(0, 40100, ck, fmt.Sprintf("%s,%s,actions=meter:%d,controller,goto_table:%d", in, m, mid, TableClassify))
			}
		}
		c.add(TableClassify, 210, ck, in+",arp,actions=drop")
		c.add(TableClassify, 210, ck, in+",udp,tp_src=68,tp_dst=67,actions=drop")
		// a VM is never a DHCP server: its offers and acks would hand out
		// addresses (and gateways) to the other VMs of its network
		c.add(TableClassify, 210, ck, in+",udp,tp_src=67,tp_dst=68,actions=drop")
		if l.IP != "" {
			c.add(TableClassify, 200, ck, fmt.Sprintf("%s,dl_src=%s,ip,nw_src=%s,actions=%s%s", in, l.MAC, l.IP, pop, toNet))
		}
		// anything else from this port is spoofed or unknown: dropped, and
		// counted by this flow's counters
		c.add(TableClassify, 100, ck, in+",actions=drop")
		c.ingressSecurity(l, n)
		c.egressSecurity(l, n)
		out := fmt.Sprintf("output:%d", l.port)
		if l.VLAN != 0 {
			out = fmt.Sprintf("push_vlan:0x8100,set_field:%d->dl_vlan,output:%d", l.VLAN, l.port)
		}
		c.add(TableOutput, 100, ck, fmt.Sprintf("metadata=0x%x/0x%x,actions=%s", l.ID, metaIfMask, out))
	}
}

// l2 forwards within each network: to local interfaces, to remote ones
// over a direct link or a tunnel group, and floods broadcast without loops.
func (c *compiler) l2(d *dpCompile) {
	for _, nn := range d.relNames {
		n := c.nets[nn]
		netMatch := fmt.Sprintf("metadata=0x%x/0x%x", metaNet(n.ID), metaNetMask)
		fromHere := fmt.Sprintf("metadata=0x%x/0x%x", metaNet(n.ID), metaNetMask|metaRemote)
		fromAway := fmt.Sprintf("metadata=0x%x/0x%x", metaNet(n.ID)|metaRemote, metaNetMask|metaRemote)
		var localOut []string
		for _, l := range d.local {
			if l.Network != nn {
				continue
			}
			c.add(TableL2, 100, ifCookie(l.Interface, n), fmt.Sprintf("%s,dl_dst=%s,actions=write_metadata:0x%x/0x%x,goto_table:%d", netMatch, l.MAC, l.ID, metaIfMask, TableIngress))
			if l.VLAN != 0 {
				localOut = append(localOut, fmt.Sprintf("push_vlan:0x8100,set_field:%d->dl_vlan,output:%d,pop_vlan", l.VLAN, l.port))
			} else {
				localOut = append(localOut, fmt.Sprintf("output:%d", l.port))
			}
		}
		for _, r := range d.remote {
			if r.Network != nn {
				continue
			}
			var act string
			if port, ok := c.mac2mac(d, r.Datapath); ok {
				act = fmt.Sprintf("output:%d", port)
			} else if _, ok := d.tunnels[r.Datapath]; ok {
				act = fmt.Sprintf("set_field:%d->tun_id,group:%d", n.ID, GroupID(r.dpid))
			} else {
				c.errs = append(c.errs, fmt.Sprintf("interface %q on %s: no tunnel or direct link from %s", r.Name, r.Datapath, d.name))
				continue
			}
			c.add(TableL2, 100, ifCookie(r.Interface, n), fmt.Sprintf("%s,dl_dst=%s,actions=%s", fromHere, r.MAC, act))
		}
		// broadcast and multicast: local members, and every other host of the
		// network through its tunnel group; what came from another host is
		// only delivered locally (no loops)
		bcast := "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00"
		flood := append([]string(nil), localOut...)
		for _, rname := range sortedKeys(d.remoteHosts[nn]) {
			if _, ok := d.tunnels[rname]; ok {
				flood = append(flood, fmt.Sprintf("set_field:%d->tun_id,group:%d", n.ID, GroupID(c.dpids[rname])))
			}
		}
		nck := controller.NewCookie(controller.OwnerNetwork, n.ID, 0)
		c.add(TableL2, 50, nck, fmt.Sprintf("%s,%s,actions=%s", fromHere, bcast, joinOrDrop(flood)))
		c.add(TableL2, 60, nck, fmt.Sprintf("%s,%s,actions=%s", fromAway, bcast, joinOrDrop(localOut)))
	}
}

// simulated interfaces: the controller answers their ARP (copies from
// table 0) and their ping.
func (c *compiler) simulated(d *dpCompile) {
	for _, in := range c.ifaces {
		if in.Mode == ModeSimulated && d.rel[in.Network] {
			n := c.nets[in.Network]
			c.add(TableRoute, 300, ifCookie(in, n), fmt.Sprintf("metadata=0x%x/0x%x,dl_dst=%s,icmp,nw_dst=%s,actions=controller", metaNet(n.ID), metaNetMask, in.MAC, in.IP))
		}
	}
}

func joinOrDrop(acts []string) string {
	if len(acts) == 0 {
		return "drop"
	}
	return strings.Join(acts, ",")
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// statefulIface reports whether any of an interface's groups is stateful:
// then its traffic goes through conntrack in the zone of its network.
func (c *compiler) statefulIface(in Interface) bool {
	for _, g := range in.SecurityGroups {
		if c.groups[g].IsStateful() {
			return true
		}
	}
	return false
}

// Stateful security (conntrack, one zone per network: the network id).
// In the egress and ingress tables, an untracked IP packet of a stateful
// interface is sent through the tracker and comes back to the same table
// (ct(table=...) recirculates) with its state known:
//
//	300 -trk                      ct(zone=N,table=T)
//	280 ct_zone=N,+inv+trk        drop
//	270 ct_zone=N,+est+trk|+rel   continue
//	 90 ct_zone=N,+new+trk,member ct(commit,zone=N),continue (ingress)
//	100 ct_zone=N,+new+trk,rule   ct(commit,zone=N),continue
//	 50 ct_zone=N                 drop (ingress; egress without rules: commit, continue)
//	 40 tracked in another zone   ct(zone=N,table=T) (routed from another network)
//
// A packet between two interfaces of one network on one host is looked
// up once, at egress, and keeps that state (+new until a reply) for the
// ingress check, which commits it again.
func ctNew(zone uint32) string { return fmt.Sprintf("ct_zone=%d,ct_state=+new+trk", zone) }

func ctCommit(zone uint32, next string) string {
	return fmt.Sprintf("ct(commit,zone=%d),%s", zone, next)
}

func (c *compiler) ctPrologue(table uint8, ck controller.Cookie, base string, zone uint32, next string) {
	c.add(table, 300, ck, fmt.Sprintf("%s,ip,ct_state=-trk,actions=ct(zone=%d,table=%d)", base, zone, table))
	c.add(table, 280, ck, fmt.Sprintf("%s,ip,ct_zone=%d,ct_state=+inv+trk,actions=drop", base, zone))
	c.add(table, 270, ck, fmt.Sprintf("%s,ip,ct_zone=%d,ct_state=+est+trk,actions=%s", base, zone, next))
	c.add(table, 270, ck, fmt.Sprintf("%s,ip,ct_zone=%d,ct_state=+rel+trk,actions=%s", base, zone, next))
	c.add(table, 40, ck, fmt.Sprintf("%s,ip,actions=ct(zone=%d,table=%d)", base, zone, table))
}

// ingressSecurity admits traffic to a local interface: everything when it
// is in no security group, otherwise members of its groups and what the
// ingress rules allow (new connections and their replies when a group is
// stateful).
func (c *compiler) ingressSecurity(l located, n *Network) {
	dst := fmt.Sprintf("metadata=0x%x/0x%x", l.ID, metaIfMask)
	next := fmt.Sprintf("goto_table:%d", TableOutput)
	if len(l.SecurityGroups) == 0 {
		c.add(TableIngress, 10, ifCookie(l.Interface, n), dst+",actions="+next)
		return
	}
	stateful := c.statefulIface(l.Interface)
	if stateful {
		c.ctPrologue(TableIngress, ifCookie(l.Interface, n), dst, n.ID, next)
		c.add(TableIngress, 50, ifCookie(l.Interface, n), fmt.Sprintf("%s,ip,ct_zone=%d,actions=drop", dst, n.ID))
	}
	for _, gname := range l.SecurityGroups {
		g := c.groups[gname]
		ck := controller.NewCookie(controller.OwnerSecGroup, n.ID, g.ID)
		base, act := dst, next
		if stateful && g.IsStateful() {
			base, act = dst+","+ctNew(n.ID), ctCommit(n.ID, next)
		}
		for _, src := range c.memberIPs(gname, l.Network) {
			c.add(TableIngress, 90, ck, fmt.Sprintf("%s,ip,nw_src=%s,actions=%s", base, src, act))
		}
		for _, r := range g.Rules {
			if r.Direction == "ingress" {
				c.ruleFlows(TableIngress, ck, base, "nw_src", act, r)
			}
		}
	}
	c.add(TableIngress, 1, ifCookie(l.Interface, n), dst+",actions=drop")
}

// egressSecurity restricts what a local interface may send when any of
// its groups has egress rules: then only those rules' traffic leaves;
// without egress rules everything leaves. A stateful interface's
// outgoing connections are committed, so that their replies pass its
// ingress check.
func (c *compiler) egressSecurity(l located, n *Network) {
	var rules []Rule
	var groups []SecurityGroup
	for _, gname := range l.SecurityGroups {
		for _, r := range c.groups[gname].Rules {
			if r.Direction == "egress" {
				rules = append(rules, r)
				groups = append(groups, c.groups[gname])
			}
		}
	}
	stateful := c.statefulIface(l.Interface)
	if len(rules) == 0 && !stateful {
		return
	}
	src := fmt.Sprintf("in_port=%d,metadata=0x%x/0x%x", l.port, metaNet(n.ID), metaNetMask|metaRemote)
	next := fmt.Sprintf("goto_table:%d", TableRoute)
	ick := ifCookie(l.Interface, n)
	if stateful {
		c.ctPrologue(TableEgress, ick, src, n.ID, next)
		if len(rules) == 0 {
			c.add(TableEgress, 50, ick, fmt.Sprintf("%s,ip,%s,actions=%s", src, ctNew(n.ID), ctCommit(n.ID, next)))
			c.add(TableEgress, 1, ick, src+",actions="+next) // not IP: unchanged
			return
		}
		c.add(TableEgress, 50, ick, fmt.Sprintf("%s,ip,ct_zone=%d,actions=drop", src, n.ID))
	}
	for i, r := range rules {
		base, act := src, next
		if stateful && groups[i].IsStateful() {
			base, act = src+","+ctNew(n.ID), ctCommit(n.ID, next)
		}
		c.ruleFlows(TableEgress, controller.NewCookie(controller.OwnerSecGroup, n.ID, groups[i].ID), base, "nw_dst", act, r)
	}
	c.add(TableEgress, 1, ick, src+",actions=drop")
}

// ruleFlows adds the flows that let a rule's traffic through: base
// matches the interface, remote names the address field of the other end
// (nw_src for ingress, nw_dst for egress), next continues the pipeline.
func (c *compiler) ruleFlows(table uint8, ck controller.Cookie, base, remote, next string, r Rule) {
	var peers []string
	switch {
	case r.RemoteCIDR != "":
		peers = []string{r.RemoteCIDR}
	case r.RemoteGroup != "":
		peers = c.memberIPs(r.RemoteGroup, "")
	default:
		peers = []string{""}
	}
	proto := r.Protocol
	if proto != "tcp" && proto != "udp" && proto != "icmp" {
		proto = "ip"
	}
	for _, peer := range peers {
		m := base + "," + proto
		if peer != "" {
			m += "," + remote + "=" + peer
		}
		if proto == "tcp" || proto == "udp" {
			for _, pm := range portMasks(r.PortMin, r.PortMax) {
				c.add(table, 100, ck, fmt.Sprintf("%s,%s_dst=%s,actions=%s", m, proto, pm, next))
			}
		} else {
			c.add(table, 100, ck, m+",actions="+next)
		}
	}
}

// memberIPs are the addresses of a group's member interfaces (optionally
// only those in one network).
func (c *compiler) memberIPs(group, network string) []string {
	var out []string
	for _, in := range c.ifaces {
		if in.IP == "" || (network != "" && in.Network != network) {
			continue
		}
		for _, g := range in.SecurityGroups {
			if g == group {
				out = append(out, in.IP)
			}
		}
	}
	sort.Strings(out)
	return out
}

// portMasks covers [lo, hi] with value/mask pairs.
func portMasks(lo, hi uint16) []string {
	var out []string
	for v := uint32(lo); v <= uint32(hi); {
		size := uint32(1)
		for v%(size*2) == 0 && v+size*2-1 <= uint32(hi) && size < 1<<16 {
			size *= 2
		}
		if size == 1 {
			out = append(out, fmt.Sprint(v))
		} else {
			out = append(out, fmt.Sprintf("%d/0x%x", v, 0xffff&^(size-1)))
		}
		v += size
	}
	return out
}

// routers compiles distributed routing: the source host routes, so a
// packet to a router's MAC is rewritten and forwarded at once.
func (c *compiler) routers(rel map[string]bool) {
	for _, r := range c.cfg.Routers {
		gw, hasGW := RouterGateway(c.cfg, r)
		for _, in := range r.Interfaces {
			if !rel[in.Network] || c.nets[in.Network].IsExternal() {
				continue // the external side is the gateway's NAT (external.go)
			}
			nIn := c.nets[in.Network]
			ck := controller.NewCookie(controller.OwnerRouter, nIn.ID, r.ID)
			atRouter := fmt.Sprintf("metadata=0x%x/0x%x,dl_dst=%s", metaNet(nIn.ID), metaNetMask, in.MAC)
			// ping to any of the router's addresses (and UDP to them, for
			// traceroute's port unreachable): answered by the controller,
			// like a router answers on all its interfaces
			for _, any := range r.Interfaces {
				c.add(TableRoute, 300, ck, fmt.Sprintf("%s,icmp,nw_dst=%s,actions=controller", atRouter, any.IP))
				c.add(TableRoute, 300, ck, fmt.Sprintf("%s,udp,nw_dst=%s,actions=controller", atRouter, any.IP))
				c.add(TableRoute, 299, ck, fmt.Sprintf("%s,ip,nw_dst=%s,actions=drop", atRouter, any.IP))
			}
			// a routed packet whose TTL runs out: the controller sends ICMP
			// time exceeded from the router's address in this network
			c.add(TableRoute, 290, ck, fmt.Sprintf("%s,ip,nw_ttl=0,actions=controller", atRouter))
			c.add(TableRoute, 290, ck, fmt.Sprintf("%s,ip,nw_ttl=1,actions=controller", atRouter))
			c.add(TableRoute, 10, ck, atRouter+",actions=drop")
			// no interface at the address: host unreachable; no route at
			// all: net unreachable (unless the gateway takes everything)
			for _, out := range r.Interfaces {
				if out.Network != in.Network && !c.nets[out.Network].IsExternal() {
					c.add(TableRoute, 140, ck, fmt.Sprintf("%s,ip,nw_dst=%s,actions=controller", atRouter, c.nets[out.Network].Subnet))
				}
			}
			if hasGW {
				nE := c.nets[gw.Network]
				c.add(TableRoute, 99, ck, fmt.Sprintf("%s,ip,actions=dec_ttl,set_field:%s->dl_src,set_field:%s->dl_dst,write_metadata:0x%x/0x%x,goto_table:%d",
					atRouter, gw.MAC, gw.MAC, metaNet(nE.ID), metaNetMask, TableL2))
			} else {
				c.add(TableRoute, 130, ck, atRouter+",ip,actions=controller")
			}
			for _, out := range r.Interfaces {
				if out.Network == in.Network || c.nets[out.Network].IsExternal() {
					continue
				}
				nOut := c.nets[out.Network]
				rewrite := func(dstMAC string) string {
					return fmt.Sprintf("dec_ttl,set_field:%s->dl_src,set_field:%s->dl_dst,write_metadata:0x%x/0x%x,goto_table:%d",
						out.MAC, dstMAC, metaNet(nOut.ID), metaNetMask, TableL2)
				}
				for _, x := range c.ifaces {
					if x.Network != out.Network || x.IP == "" || x.Mode != ModeVIF {
						continue
					}
					c.add(TableRoute, 200, ck, fmt.Sprintf("%s,ip,nw_dst=%s,actions=%s", atRouter, x.IP, rewrite(x.MAC)))
				}
				for _, rt := range r.Routes {
					hop := netip.MustParseAddr(rt.NextHop)
					if !netip.MustParsePrefix(nOut.Subnet).Contains(hop) {
						continue
					}
					mac := c.macOf(out.Network, rt.NextHop)
					if mac == "" {
						c.errs = append(c.errs, fmt.Sprintf("router %q: next hop %s has no known interface", r.Name, rt.NextHop))
						continue
					}
					p := netip.MustParsePrefix(rt.Destination)
					c.add(TableRoute, uint16(100+p.Bits()), ck, fmt.Sprintf("%s,ip,nw_dst=%s,actions=%s", atRouter, p, rewrite(mac)))
				}
			}
		}
	}
}

func (c *compiler) macOf(network, ip string) string {
	for _, x := range c.ifaces {
		if x.Network == network && x.IP == ip {
			return x.MAC
		}
	}
	return ""
}

// changedZones are the conntrack zones (ids of networks with stateful
// interfaces in next) whose security differs between cur and next: the
// groups, addresses and group memberships of their interfaces, the rules
// of those groups and the members of the groups the rules name.
func changedZones(cur, next *Config) []uint16 {
	a, b := securitySigs(cur), securitySigs(next)
	var out []uint16
	for id, sig := range b {
		if id <= MaxStatefulNetworkID && a[id] != sig {
			out = append(out, uint16(id))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// securitySigs renders the security of every network with a stateful
// interface (by network id).
func securitySigs(c *Config) map[uint32]string {
	groups := map[string]SecurityGroup{}
	for _, g := range c.SecurityGroups {
		groups[g.Name] = g
	}
	members := map[string][]string{}
	for _, in := range c.Interfaces {
		for _, g := range in.SecurityGroups {
			members[g] = append(members[g], in.Network+"/"+in.IP+"/"+in.MAC)
		}
	}
	out := map[uint32]string{}
	for _, n := range c.Networks {
		var b strings.Builder
		stateful := false
		for _, in := range c.Interfaces {
			if in.Network != n.Name || len(in.SecurityGroups) == 0 {
				continue
			}
			fmt.Fprintf(&b, "if %s %s %s %s %s;", in.Name, in.IP, in.MAC, in.Datapath, strings.Join(in.SecurityGroups, ","))
			for _, gname := range in.SecurityGroups {
				g := groups[gname]
				stateful = stateful || g.IsStateful()
				fmt.Fprintf(&b, "g %s %v %s;", g.Name, g.IsStateful(), strings.Join(members[gname], ","))
				for _, r := range g.Rules {
					fmt.Fprintf(&b, "r %+v %s;", r, strings.Join(members[r.RemoteGroup], ","))
				}
			}
		}
		if stateful {
			out[n.ID] = b.String()
		}
	}
	return out
}
