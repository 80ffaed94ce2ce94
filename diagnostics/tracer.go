package diagnostics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/vnet"
)

// Switches is what the tracer needs of the controller
// (*controller.Controller): the sessions it reads tables from and injects
// into, and the event bus it watches for the injected packet.
type Switches interface {
	Bus() *controller.Bus
	Switch(dpid uint64) *controller.Session
	Switches() []*controller.Session
}

// Networks is what the tracer needs of the virtual networks
// (*vnet.Manager): their configuration, compiled programs, tunnel port
// names and active leases, to name what a flow is for.
type Networks interface {
	Config() (vnet.Config, uint64)
	Programs() (map[uint64]*vnet.Program, []string)
	TunnelPortName(remote string, path int) string
	ActiveLeases() []vnet.Lease
}

// Request is a trace request: from where, to what, which packet.
type Request struct {
	// From is a virtual-network interface name, or SWITCH:PORT where
	// SWITCH is a datapath name or dpid and PORT a port number or name.
	From string `json:"from"`
	// To is an interface name, an IP address or a MAC address ("" only
	// with proto dhcp).
	To string `json:"to,omitempty"`
	// SrcMAC and SrcIP override the source's addresses (e.g. to check
	// anti-spoofing).
	SrcMAC string `json:"src_mac,omitempty"`
	SrcIP  string `json:"src_ip,omitempty"`
	// Proto is icmp (default), tcp, udp, arp or dhcp.
	Proto string `json:"proto,omitempty"`
	SPort uint16 `json:"sport,omitempty"`
	DPort uint16 `json:"dport,omitempty"`
	// VLAN tags the packet (and picks the trunk interface of FROM).
	VLAN uint16 `json:"vlan,omitempty"`
	// TTL of the IP packet (default 64).
	TTL uint8 `json:"ttl,omitempty"`
	// Live injects a marked packet and observes it (not supported yet).
	Live bool `json:"live,omitempty"`
	// MaxAgeMs bounds the age of the tables used (default: the server's).
	MaxAgeMs *int64 `json:"max_age_ms,omitempty"`
}

// RequestError is a request the tracer cannot run: Status is the HTTP
// status that fits (400, 404, 422, 501, 503).
type RequestError struct {
	Status int
	Field  string
	Msg    string
}

func (e *RequestError) Error() string { return e.Msg }

func reqErr(status int, field, format string, args ...any) *RequestError {
	return &RequestError{Status: status, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Result is a trace with its context.
type Result struct {
	Request Request `json:"request"`
	From    string  `json:"from"`
	To      string  `json:"to"`
	Packet  string  `json:"packet"`
	*Trace
	Intent *Intent     `json:"intent,omitempty"`
	Live   *Live       `json:"live,omitempty"`
	Tables []TableInfo `json:"tables"`
	Notes  []string    `json:"notes,omitempty"`
}

// TableInfo says which tables a trace used and how old they were.
type TableInfo struct {
	DPID   string `json:"dpid"`
	Switch string `json:"switch"`
	Flows  int    `json:"flows"`
	Groups int    `json:"groups"`
	AgeMs  int64  `json:"age_ms"`
}

// Intent is the trace over the flows Satellite intends, compared with
// the trace over the switches' flows.
type Intent struct {
	Verdict     string   `json:"verdict"`
	Summary     string   `json:"summary"`
	Differences []string `json:"differences"`
}

// Live is what a live trace observed: the switch ports the marked packet
// entered, in order, and whether they are the simulated ones.
type Live struct {
	Observed []string `json:"observed"`
	Agrees   bool     `json:"agrees"`
	Note     string   `json:"note,omitempty"`
}

// Tracer runs traces against the live network.
type Tracer struct {
	Ctl    Switches
	Topo   *topology.Model
	VNet   Networks // nil: no virtual networks
	Source *Source
	Logger *slog.Logger
}

func (t *Tracer) log() *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return slog.Default()
}

// NewTracer returns a tracer; maxAge bounds the age of cached tables.
func NewTracer(ctl Switches, topo *topology.Model, vn *vnet.Manager, maxAge time.Duration) *Tracer {
	t := &Tracer{Ctl: ctl, Topo: topo, Source: NewSource(ctl, maxAge)}
	if vn != nil { // no typed nil in the interface
		t.VNet = vn
	}
	return t
}

// view is everything one trace looks at.
type view struct {
	t      *Tracer
	ctx    context.Context
	cfg    vnet.Config
	ips    map[string]string // interface name -> address (static or leased)
	dpids  map[string]uint64 // datapath name -> dpid
	names  map[uint64]string
	maxAge time.Duration
	snaps  map[uint64]Snapshot
	errs   []error
}

func (t *Tracer) view(ctx context.Context, maxAge time.Duration) *view {
	v := &view{t: t, ctx: ctx, ips: map[string]string{}, dpids: map[string]uint64{}, names: map[uint64]string{}, maxAge: maxAge, snaps: map[uint64]Snapshot{}}
	if t.VNet != nil {
		v.cfg, _ = t.VNet.Config()
		leased := map[string]string{}
		for _, l := range t.VNet.ActiveLeases() {
			leased[l.Network+"/"+l.MAC] = l.IP
		}
		for _, in := range v.cfg.Interfaces {
			ip := in.IP
			if ip == "" {
				ip = leased[in.Network+"/"+in.MAC]
			}
			v.ips[in.Name] = ip
		}
		for _, d := range v.cfg.Datapaths {
			id, _ := vnet.ParseDPID(d.DPID)
			v.dpids[d.Name] = id
			v.names[id] = d.Name
		}
	}
	return v
}

func (v *view) name(dpid uint64) string {
	if n := v.names[dpid]; n != "" {
		return n
	}
	return fmt.Sprintf("%016x", dpid)
}

func (v *view) snapshot(dpid uint64) (Snapshot, bool) {
	if s, ok := v.snaps[dpid]; ok {
		return s, s.Tables != nil
	}
	s, err := v.t.Source.Get(v.ctx, dpid, v.name(dpid), v.maxAge)
	if err != nil && !errors.Is(err, ErrNotConnected) {
		v.errs = append(v.errs, err)
	}
	v.snaps[dpid] = s
	return s, err == nil
}

func (v *view) load(dpid uint64) *Tables {
	s, _ := v.snapshot(dpid)
	return s.Tables
}

// endpoint is a resolved source or destination.
type endpoint struct {
	iface   *vnet.Interface
	network *vnet.Network
	dpid    uint64
	port    uint32
	mac     uint64
	ip      uint32
	hasIP   bool
	desc    string
}

func (v *view) network(name string) *vnet.Network {
	for i := range v.cfg.Networks {
		if v.cfg.Networks[i].Name == name {
			return &v.cfg.Networks[i]
		}
	}
	return nil
}

func (v *view) ifaceByName(name string) *vnet.Interface {
	for i := range v.cfg.Interfaces {
		if v.cfg.Interfaces[i].Name == name {
			return &v.cfg.Interfaces[i]
		}
	}
	return nil
}

// portOf finds a vif's switch port.
func (v *view) portOf(in *vnet.Interface) (uint64, uint32, error) {
	dpid, ok := v.dpids[in.Datapath]
	if !ok {
		return 0, 0, reqErr(422, "from", "interface %q is on datapath %q, which is not configured", in.Name, in.Datapath)
	}
	sess := v.t.Ctl.Switch(dpid)
	if sess == nil {
		return dpid, 0, reqErr(503, "", "switch %s (%016x) of interface %q is not connected", in.Datapath, dpid, in.Name)
	}
	if in.Port == "" {
		return dpid, in.PortNo, nil
	}
	for _, p := range sess.Ports() {
		if p.Name == in.Port {
			return dpid, p.No, nil
		}
	}
	return dpid, 0, reqErr(422, "", "interface %q: switch %s has no port %q", in.Name, in.Datapath, in.Port)
}

// ifaceAt is the vif bound to a switch port (and VLAN).
func (v *view) ifaceAt(dpid uint64, port uint32, vlan uint16) *vnet.Interface {
	name := v.names[dpid]
	pname := ""
	if s := v.t.Ctl.Switch(dpid); s != nil {
		if p, ok := s.Port(port); ok {
			pname = p.Name
		}
	}
	for i := range v.cfg.Interfaces {
		in := &v.cfg.Interfaces[i]
		if in.Mode == vnet.ModeVIF && in.Datapath == name && ((in.Port != "" && in.Port == pname) || (in.Port == "" && in.PortNo == port)) && in.VLAN == vlan {
			return in
		}
	}
	return nil
}

func (v *view) fill(e *endpoint, in *vnet.Interface) {
	e.iface = in
	e.network = v.network(in.Network)
	e.mac, _ = ParseMAC(in.MAC)
	if ip := v.ips[in.Name]; ip != "" {
		e.ip, _ = ParseIPv4(ip)
		e.hasIP = true
	}
	e.desc = fmt.Sprintf("interface %q (%s", in.Name, in.Network)
	if ip := v.ips[in.Name]; ip != "" {
		e.desc += ", " + ip
	}
	e.desc += ")"
}

func (v *view) resolveFrom(r Request) (endpoint, error) {
	var e endpoint
	if r.From == "" {
		return e, reqErr(400, "from", "from is empty: want an interface name or SWITCH:PORT")
	}
	if in := v.ifaceByName(r.From); in != nil {
		if in.Mode != vnet.ModeVIF {
			return e, reqErr(422, "from", "interface %q is %s: only the controller sends from it; trace from a vif", in.Name, in.Mode)
		}
		dpid, port, err := v.portOf(in)
		if err != nil {
			return e, err
		}
		e.dpid, e.port = dpid, port
		v.fill(&e, in)
		e.desc += fmt.Sprintf(" on %s port %d", in.Datapath, port)
	} else {
		i := strings.LastIndex(r.From, ":")
		if i <= 0 {
			return e, reqErr(404, "from", "unknown interface %q (want an interface name, or SWITCH:PORT with a switch name or dpid)", r.From)
		}
		sw, ps := r.From[:i], r.From[i+1:]
		dpid, ok := v.dpids[sw]
		if !ok {
			d, err := controller.ParseDPID(sw)
			if err != nil {
				return e, reqErr(404, "from", "unknown switch %q in %q (want a datapath name or a dpid)", sw, r.From)
			}
			dpid = d
		}
		sess := v.t.Ctl.Switch(dpid)
		if sess == nil {
			return e, reqErr(503, "from", "switch %s is not connected", v.name(dpid))
		}
		found := false
		for _, p := range sess.Ports() {
			if p.Name == ps || strconv.FormatUint(uint64(p.No), 10) == ps {
				e.port, found = p.No, true
			}
		}
		if !found {
			return e, reqErr(404, "from", "switch %s has no port %q", v.name(dpid), ps)
		}
		e.dpid = dpid
		e.desc = fmt.Sprintf("%s port %d", v.name(dpid), e.port)
		if in := v.ifaceAt(dpid, e.port, r.VLAN); in != nil {
			v.fill(&e, in)
			e.desc += fmt.Sprintf(" on %s port %d", in.Datapath, e.port)
		}
	}
	if r.SrcMAC != "" {
		m, err := ParseMAC(r.SrcMAC)
		if err != nil {
			return e, reqErr(400, "src_mac", "src_mac: %v", err)
		}
		e.mac = m
	}
	if r.SrcIP != "" {
		ip, err := ParseIPv4(r.SrcIP)
		if err != nil {
			return e, reqErr(400, "src_ip", "src_ip: %v", err)
		}
		e.ip, e.hasIP = ip, true
	}
	if e.mac == 0 {
		return e, reqErr(422, "src_mac", "%s is no interface of a network: give src_mac (and src_ip)", e.desc)
	}
	return e, nil
}

// routerMAC is the MAC of a router interface in network from that joins
// network to; ok false when no router joins them.
func (v *view) routerMAC(from, to string) (string, string, bool) {
	for _, r := range v.cfg.Routers {
		var mac string
		joined := false
		for _, ri := range r.Interfaces {
			if ri.Network == from {
				mac = ri.MAC
			}
			joined = joined || ri.Network == to
		}
		if mac != "" && joined {
			return mac, r.Name, true
		}
	}
	return "", "", false
}

// owner finds what holds ip in a network: an interface or a router interface.
func (v *view) ownerOfIP(network, ip string) (mac, what string, in *vnet.Interface) {
	for i := range v.cfg.Interfaces {
		x := &v.cfg.Interfaces[i]
		if x.Network == network && v.ips[x.Name] == ip {
			return x.MAC, fmt.Sprintf("interface %q", x.Name), x
		}
	}
	for _, r := range v.cfg.Routers {
		for _, ri := range r.Interfaces {
			if ri.Network == network && ri.IP == ip {
				return ri.MAC, fmt.Sprintf("router %q", r.Name), nil
			}
		}
	}
	return "", "", nil
}

// destination resolves To relative to the source: the packet's
// destination MAC and IP, the interface it is for, and notes.
type destination struct {
	mac    uint64
	ip     uint32
	hasIP  bool
	iface  *vnet.Interface
	desc   string
	routed string // router name when the packet is routed
	arp    bool   // the destination IP has no owner: a host would ARP
}

func (v *view) resolveTo(r Request, src endpoint) (destination, error) {
	var d destination
	srcNet := ""
	if src.network != nil {
		srcNet = src.network.Name
	}
	setIface := func(in *vnet.Interface) error {
		d.iface = in
		d.desc = fmt.Sprintf("interface %q (%s)", in.Name, in.Network)
		if ip := v.ips[in.Name]; ip != "" {
			d.ip, _ = ParseIPv4(ip)
			d.hasIP = true
			d.desc = fmt.Sprintf("interface %q (%s, %s)", in.Name, in.Network, ip)
		}
		m, _ := ParseMAC(in.MAC)
		d.mac = m
		if srcNet != "" && in.Network != srcNet {
			mac, router, ok := v.routerMAC(srcNet, in.Network)
			if !ok {
				return reqErr(422, "to", "interface %q is in network %s and the source in %s, and no router joins them", in.Name, in.Network, srcNet)
			}
			d.mac, _ = ParseMAC(mac)
			d.routed = router
		}
		return nil
	}
	if r.To == "" {
		if r.Proto == "dhcp" {
			d.mac, d.ip, d.hasIP, d.desc = 0xffffffffffff, 0xffffffff, true, "DHCP servers (broadcast)"
			return d, nil
		}
		return d, reqErr(400, "to", "to is empty: want an interface name, an IP or a MAC")
	}
	if in := v.ifaceByName(r.To); in != nil {
		return d, setIface(in)
	}
	if addr, err := netip.ParseAddr(r.To); err == nil {
		if !addr.Is4() {
			return d, reqErr(400, "to", "%s: only IPv4 is traced", r.To)
		}
		ip, _ := ParseIPv4(r.To)
		d.ip, d.hasIP = ip, true
		d.desc = r.To
		if srcNet != "" {
			if mac, what, in := v.ownerOfIP(srcNet, r.To); mac != "" {
				if in != nil {
					return d, setIface(in)
				}
				d.mac, _ = ParseMAC(mac)
				d.desc = fmt.Sprintf("%s (%s, %s)", r.To, what, srcNet)
				return d, nil
			}
			if p, err := netip.ParsePrefix(src.network.Subnet); err == nil && p.Contains(addr) {
				// nobody owns it: the source would ARP and get no answer
				d.arp = true
				d.mac = 0xffffffffffff
				d.desc = fmt.Sprintf("%s (no interface in %s)", r.To, srcNet)
				return d, nil
			}
		}
		var inNets []string
		for _, n := range v.cfg.Networks {
			p, err := netip.ParsePrefix(n.Subnet)
			if err != nil || !p.Contains(addr) {
				continue
			}
			inNets = append(inNets, n.Name)
			if srcNet == "" {
				continue
			}
			if mac, router, ok := v.routerMAC(srcNet, n.Name); ok {
				d.mac, _ = ParseMAC(mac)
				d.routed = router
				if _, what, in := v.ownerOfIP(n.Name, r.To); in != nil {
					d.iface = in
					d.desc = fmt.Sprintf("interface %q (%s)", in.Name, in.Network)
				} else if what != "" {
					d.desc = fmt.Sprintf("%s (%s, %s)", r.To, what, n.Name)
				}
				return d, nil
			}
		}
		if len(inNets) == 0 {
			return d, reqErr(422, "to", "IP %s is in no network", r.To)
		}
		return d, reqErr(422, "to", "IP %s is in network %s, which no router joins to the source's network %q", r.To, strings.Join(inNets, ", "), srcNet)
	}
	if m, err := ParseMAC(r.To); err == nil {
		var cand *vnet.Interface
		for i := range v.cfg.Interfaces {
			x := &v.cfg.Interfaces[i]
			if xm, _ := ParseMAC(x.MAC); xm == m && (cand == nil || x.Network == srcNet) {
				cand = x
			}
		}
		if cand != nil && cand.Network == srcNet {
			return d, setIface(cand)
		}
		d.mac, d.desc = m, r.To
		return d, nil
	}
	return d, reqErr(404, "to", "unknown destination %q: want an interface name, an IPv4 address or a MAC address", r.To)
}

// packet builds the packet the source sends.
func (v *view) packet(r Request, src endpoint, dst destination) (Packet, []string, error) {
	var notes []string
	p := Packet{EthSrc: src.mac, EthDst: dst.mac, TTL: r.TTL}
	if p.TTL == 0 {
		p.TTL = 64
	}
	vlan := r.VLAN
	if vlan == 0 && src.iface != nil {
		vlan = src.iface.VLAN
	}
	if vlan > 4095 {
		return p, nil, reqErr(400, "vlan", "vlan %d: want 1..4095", vlan)
	}
	if vlan != 0 {
		p.NVLAN, p.VLAN[0] = 1, vlan
	}
	proto := r.Proto
	if proto == "" {
		proto = "icmp"
	}
	if dst.arp && proto != "arp" {
		notes = append(notes, fmt.Sprintf("no interface owns %s: the source's first packet is an ARP request for it, traced instead", dst.desc))
		proto = "arp"
	}
	if proto != "arp" && proto != "dhcp" && !src.hasIP {
		return p, nil, reqErr(422, "src_ip", "the source has no IP address (no static address, no DHCP lease): give src_ip or trace dhcp")
	}
	switch proto {
	case "arp":
		if !dst.hasIP {
			return p, nil, reqErr(422, "to", "arp needs a destination IP address")
		}
		p.EthType, p.ARPOp, p.ARPSPA, p.ARPTPA, p.ARPSHA = EthARP, 1, src.ip, dst.ip, src.mac
		p.EthDst = 0xffffffffffff
	case "icmp", "tcp", "udp", "dhcp":
		if !dst.hasIP {
			return p, nil, reqErr(422, "to", "%s has no IP address: trace arp, or to an interface with an address", dst.desc)
		}
		p.EthType, p.IPSrc, p.IPDst = EthIPv4, src.ip, dst.ip
		switch proto {
		case "icmp":
			p.IPProto, p.ICMPType = ProtoICMP, 8
		case "dhcp":
			p.IPProto, p.L4Src, p.L4Dst, p.IPSrc, p.IPDst, p.EthDst = ProtoUDP, 68, 67, 0, 0xffffffff, 0xffffffffffff
		default:
			p.IPProto = ProtoTCP
			if proto == "udp" {
				p.IPProto = ProtoUDP
			}
			p.L4Src, p.L4Dst = r.SPort, r.DPort
			if p.L4Src == 0 {
				p.L4Src = 40000
			}
			if p.L4Dst == 0 {
				return p, nil, reqErr(400, "dport", "%s needs dport", proto)
			}
		}
	default:
		return p, nil, reqErr(400, "proto", "proto %q: want icmp, tcp, udp, arp or dhcp", r.Proto)
	}
	if proto == "icmp" || proto == "arp" || proto == "dhcp" {
		if r.SPort != 0 || r.DPort != 0 {
			return p, nil, reqErr(400, "dport", "ports are for tcp and udp, not %s", proto)
		}
	}
	return p, notes, nil
}

// Trace runs a request.
func (t *Tracer) Trace(ctx context.Context, r Request) (*Result, error) {
	if r.Live {
		proto := r.Proto
		if proto == "" {
			proto = "icmp"
		}
		if err := liveAllowed(r, proto); err != nil {
			return nil, err
		}
	}
	maxAge := time.Duration(-1)
	if r.MaxAgeMs != nil {
		if *r.MaxAgeMs < 0 {
			return nil, reqErr(400, "max_age_ms", "max_age_ms %d: want 0 (read now) or more", *r.MaxAgeMs)
		}
		maxAge = time.Duration(*r.MaxAgeMs) * time.Millisecond
	}
	v := t.view(ctx, maxAge)
	src, err := v.resolveFrom(r)
	if err != nil {
		return nil, err
	}
	dst, err := v.resolveTo(r, src)
	if err != nil {
		return nil, err
	}
	pkt, notes, err := v.packet(r, src, dst)
	if err != nil {
		return nil, err
	}
	res := &Result{Request: r, From: src.desc, To: dst.desc, Notes: notes}
	if dst.routed != "" {
		res.Notes = append(res.Notes, fmt.Sprintf("routed by router %q: the packet goes to its MAC %s", dst.routed, MAC(dst.mac)))
	}
	pkt.InPort = src.port
	res.Packet = pkt.String()
	start := Endpoint{src.dpid, src.port}

	real := v.fabric(dst, nil)
	res.Trace = real.Trace(start, pkt)
	if len(v.errs) > 0 {
		return nil, reqErr(503, "", "the trace could not read a switch's tables: %v", errors.Join(v.errs...))
	}
	if r.Live {
		if pkt.EthType != EthIPv4 {
			return nil, reqErr(422, "live", "the source would ARP first (%s): a live trace needs a destination that answers", dst.desc)
		}
		if res.Live, err = v.live(ctx, res.Trace, start, pkt); err != nil {
			return nil, err
		}
	}
	if t.VNet != nil {
		res.Intent = v.intent(real, res.Trace, start, pkt, dst)
		if len(v.errs) > 0 {
			return nil, reqErr(503, "", "the trace could not read a switch's tables: %v", errors.Join(v.errs...))
		}
	}
	ids := make([]uint64, 0, len(v.snaps))
	for id := range v.snaps {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		s := v.snaps[id]
		if s.Tables == nil {
			continue
		}
		res.Tables = append(res.Tables, TableInfo{DPID: fmt.Sprintf("%016x", id), Switch: v.name(id), Flows: len(s.Flows), Groups: len(s.Groups), AgeMs: s.Age.Milliseconds()})
	}
	return res, nil
}

// fabric builds the fabric over the switches' tables (intended == nil) or
// the intended ones.
func (v *view) fabric(dst destination, intended map[uint64]*Tables) *Fabric {
	f := &Fabric{Switches: map[uint64]*Tables{}, Names: v.names, Links: map[Endpoint]Endpoint{}}
	if intended != nil {
		f.Load = func(dpid uint64) *Tables { return intended[dpid] }
	} else {
		f.Load = v.load
	}
	if v.t.Topo != nil {
		links := v.t.Topo.Links()
		up := map[topology.LinkKey]bool{}
		for _, l := range links {
			up[l.Key()] = l.Kind == topology.LinkDirect
		}
		for _, l := range links {
			if l.Kind == topology.LinkDirect && up[topology.LinkKey{Src: l.Dst, Dst: l.Src}] {
				f.Links[Endpoint{uint64(l.Src.DPID), l.Src.Port}] = Endpoint{uint64(l.Dst.DPID), l.Dst.Port}
			}
		}
	}
	if dst.iface != nil && dst.iface.Mode == vnet.ModeVIF {
		if dpid, port, err := v.portOf(dst.iface); err == nil {
			f.Target = &Endpoint{dpid, port}
		}
	}
	f.Tunnel = func(dpid uint64, port uint32) (TunnelHop, bool) { return v.tunnel(f, dpid, port) }
	f.Edge = v.edge
	f.Controller = v.controllerAnswer
	f.Owner = v.owner
	f.Explain = v.explain
	return f
}

func (v *view) owner(ck uint64) Owner {
	c := controller.Cookie(ck)
	o := Owner{Kind: c.Kind().String(), ID: c.Object()}
	o.Network, o.Name = v.cfg.OwnerOf(c)
	if o.Kind == "discovery" {
		o.Name = map[uint32]string{topology.CookieLLDP: "lldp punt", topology.CookieARP: "arp copy", topology.CookieDHCP: "dhcp copy", topology.CookieDefault: "ingress"}[o.ID]
	}
	if o.Kind == "network" && o.Name == "" && c.Scope() == 0 {
		o.Name = fmt.Sprintf("pipeline table %d", o.ID)
	}
	if o.Kind == "foreign" {
		o.Name = fmt.Sprintf("cookie 0x%x", ck)
		o.ID = 0
	}
	return o
}

func (v *view) tunnelPortName(remote string, path int) string {
	if v.t.VNet != nil {
		return v.t.VNet.TunnelPortName(remote, path)
	}
	return fmt.Sprintf("gre-%s-p%d", remote, path)
}

func (v *view) tunnel(f *Fabric, dpid uint64, port uint32) (TunnelHop, bool) {
	local := v.names[dpid]
	tb := f.tables(dpid)
	if local == "" || tb == nil {
		return TunnelHop{}, false
	}
	pname := tb.Ports[port].Name
	for _, d := range v.cfg.Datapaths {
		if d.Name == local {
			continue
		}
		for path := 1; path <= vnet.Paths; path++ {
			if v.tunnelPortName(d.Name, path) != pname {
				continue
			}
			th := TunnelHop{Remote: v.dpids[d.Name], Path: path, Desc: fmt.Sprintf("GRE underlay path %d to %s (%s)", path, d.Name, pname)}
			if ip := d.TunnelIPs; len(ip) >= path {
				th.Desc += " remote " + ip[path-1]
			}
			rname := v.tunnelPortName(local, path)
			rt := f.tables(th.Remote)
			if rt == nil {
				th.Down = fmt.Sprintf("switch %s at the other end is not connected", d.Name)
				return th, true
			}
			for _, p := range rt.Ports {
				if p.Name == rname {
					th.RemotePort = p.No
					if !p.Up {
						th.Down = fmt.Sprintf("the tunnel's remote end %s on %s is down", rname, d.Name)
					}
					return th, true
				}
			}
			th.Down = fmt.Sprintf("%s has no tunnel port %s back to %s", d.Name, rname, local)
			return th, true
		}
	}
	return TunnelHop{}, false
}

func (v *view) edge(dpid uint64, port uint32, p Packet) Delivery {
	var vlan uint16
	if p.NVLAN > 0 {
		vlan = p.VLAN[0]
	}
	pt := fmt.Sprintf("%s port %d", v.name(dpid), port)
	if s := v.t.Ctl.Switch(dpid); s != nil {
		if sp, ok := s.Port(port); ok {
			pt = fmt.Sprintf("%s port %d (%s)", v.name(dpid), port, sp.Name)
		}
	}
	in := v.ifaceAt(dpid, port, vlan)
	if in == nil {
		return Delivery{Name: pt + ", where no interface is configured"}
	}
	var e endpoint
	v.fill(&e, in)
	d := Delivery{Name: e.desc + " on " + pt, Object: fmt.Sprintf("interface %s", in.Name)}
	if v.t.Topo != nil {
		var seen []string
		own := false
		for _, h := range v.t.Topo.Hosts() {
			if uint64(h.DPID) == dpid && h.Port == port {
				if strings.EqualFold(h.MAC, in.MAC) {
					own = true
				}
				seen = append(seen, h.MAC)
			}
		}
		if !own && len(seen) > 0 && p.EthDst == e.mac {
			d.Drop = fmt.Sprintf("interface %q is configured with MAC %s, but the endpoint on %s uses %s: it ignores frames for %s",
				in.Name, in.MAC, pt, strings.Join(seen, ", "), in.MAC)
		}
	}
	return d
}

func (v *view) controllerAnswer(dpid uint64, inPort uint32, p Packet) Answer {
	var vlan uint16
	if p.NVLAN > 0 {
		vlan = p.VLAN[0]
	}
	in := v.ifaceAt(dpid, inPort, vlan)
	if in == nil {
		return Answer{What: fmt.Sprintf("the packet came from %s port %d, which is no interface: the controller does not answer", v.name(dpid), inPort)}
	}
	if m, _ := ParseMAC(in.MAC); m != p.EthSrc {
		return Answer{What: fmt.Sprintf("source MAC %s is not interface %q's (%s): the controller does not answer", MAC(p.EthSrc), in.Name, in.MAC), Object: "interface " + in.Name}
	}
	n := v.network(in.Network)
	switch {
	case p.EthType == EthARP && p.ARPOp == 1:
		target := IPv4(p.ARPTPA)
		mac, what, _ := v.ownerOfIP(in.Network, target)
		if mac == "" {
			return Answer{What: fmt.Sprintf("ARP for %s, which no one owns in network %s: the controller does not answer", target, in.Network), Object: "network " + in.Network}
		}
		return Answer{Answers: true, What: fmt.Sprintf("ARP reply: %s is-at %s (%s)", target, mac, what), Object: what}
	case p.EthType == EthIPv4 && p.IPProto == ProtoUDP && p.L4Src == 68 && p.L4Dst == 67:
		if n == nil || !n.DHCP {
			return Answer{What: fmt.Sprintf("DHCP request from %q, but network %s has DHCP off: no answer", in.Name, in.Network), Object: "network " + in.Network}
		}
		return Answer{Answers: true, What: fmt.Sprintf("DHCP: the controller answers for network %s (offer/ack from its pool)", in.Network), Object: "network " + in.Network}
	case p.EthType == EthIPv4 && p.IPProto == ProtoICMP && p.ICMPType == 8:
		mac, what, x := v.ownerOfIP(in.Network, IPv4(p.IPDst))
		if mac != "" && (x == nil || x.Mode == vnet.ModeSimulated) {
			return Answer{Answers: true, What: fmt.Sprintf("ICMP echo reply from %s (%s)", what, IPv4(p.IPDst)), Object: what}
		}
		return Answer{What: fmt.Sprintf("ICMP to %s is not for a router or simulated interface: no answer", IPv4(p.IPDst))}
	}
	return Answer{What: "the controller ignores this packet"}
}

func (v *view) ifaceByID(id uint32) *vnet.Interface {
	for i := range v.cfg.Interfaces {
		if v.cfg.Interfaces[i].ID == id {
			return &v.cfg.Interfaces[i]
		}
	}
	return nil
}

func (v *view) netByID(id uint32) string {
	for _, n := range v.cfg.Networks {
		if n.ID == id {
			return n.Name
		}
	}
	return ""
}

func protoText(p Packet) string {
	switch {
	case p.EthType == EthARP:
		return "ARP"
	case p.IPProto == ProtoICMP:
		return "icmp"
	case p.IPProto == ProtoTCP:
		return fmt.Sprintf("tcp/%d", p.L4Dst)
	case p.IPProto == ProtoUDP:
		return fmt.Sprintf("udp/%d", p.L4Dst)
	}
	return "ip"
}

// explain words a switch's drop with the object responsible.
func (v *view) explain(dpid uint64, st Step, d Drop, p Packet) (string, string) {
	sw := v.name(dpid)
	if d.Kind == DropMiss {
		return fmt.Sprintf("table miss: no flow in table %d of %s matches (no flow for this packet is installed there)", d.Table, sw), ""
	}
	if d.Kind != DropFlow || st.Flow == nil {
		if d.Kind == DropNoBucket {
			return "tunnel path down: " + d.Reason, ""
		}
		return d.Reason, ""
	}
	f := st.Flow
	ck := controller.Cookie(f.Cookie)
	o := v.owner(f.Cookie)
	obj := ownerText(o)
	if ck.Kind() == controller.OwnerForeign {
		return fmt.Sprintf("dropped by a foreign flow (not installed by Satellite): priority %d, %s, actions=%s",
			f.Priority, orAll(f.MatchString()), f.ActionsString()), "foreign flow " + o.Name
	}
	netName := v.netByID(uint32(p.Metadata >> 40 & 0xffffff))
	switch {
	case d.Table == vnet.TableClassify && ck.Kind() == controller.OwnerInterface && f.Priority == 210:
		in := v.ifaceByID(ck.Object())
		name := ""
		if in != nil {
			name = in.Name
		}
		return fmt.Sprintf("%s from interface %q is answered by the controller (copied in table 0); the switch drops the original here", protoText(p), name), obj
	case d.Table == vnet.TableClassify && ck.Kind() == controller.OwnerInterface:
		in := v.ifaceByID(ck.Object())
		if in == nil {
			return "anti-spoofing: the source is not the interface's", obj
		}
		ip := v.ips[in.Name]
		got := "dl_src=" + MAC(p.EthSrc)
		if p.EthType == EthIPv4 {
			got += ", nw_src=" + IPv4(p.IPSrc)
		} else {
			got += fmt.Sprintf(", not IPv4 (dl_type 0x%04x)", p.EthType)
		}
		if ip == "" {
			ip = "none (no static address, no lease)"
		}
		return fmt.Sprintf("anti-spoofing: interface %q may send IPv4 only from MAC %s and IP %s; this packet has %s", in.Name, in.MAC, ip, got), "interface " + in.Name
	case d.Table == vnet.TableClassify:
		return fmt.Sprintf("in_port %d of %s is no interface of any network, and no tunnel or direct link classifies this packet", st.InPort, sw), obj
	case d.Table == vnet.TableIngress || d.Table == vnet.TableEgress:
		dir, peer := "ingress", "from "+IPv4(p.IPSrc)
		if d.Table == vnet.TableEgress {
			dir, peer = "egress", "to "+IPv4(p.IPDst)
		}
		var in *vnet.Interface
		if ck.Kind() == controller.OwnerInterface {
			in = v.ifaceByID(ck.Object())
		}
		if in == nil {
			return fmt.Sprintf("security group (%s): no rule admits %s %s", dir, protoText(p), peer), obj
		}
		groups := strings.Join(in.SecurityGroups, ", ")
		return fmt.Sprintf("security group %s of interface %q has no %s rule that admits %s %s", groups, in.Name, dir, protoText(p), peer),
			"security group " + groups
	case d.Table == vnet.TableL2:
		if p.EthDst&0x010000000000 != 0 {
			return fmt.Sprintf("broadcast in network %s has no other member to go to", netName), obj
		}
		return fmt.Sprintf("unknown destination: no interface in network %s has MAC %s", netName, MAC(p.EthDst)), "network " + netName
	case d.Table == vnet.TableRoute && ck.Kind() == controller.OwnerRouter:
		return fmt.Sprintf("router %s has no route to %s", o.Name, IPv4(p.IPDst)), "router " + o.Name
	}
	return fmt.Sprintf("dropped by the flow priority %d (%s, actions=%s)", f.Priority, orAll(f.MatchString()), f.ActionsString()), obj
}

func orAll(m string) string {
	if m == "" {
		return "matching everything"
	}
	return m
}
