package vnet

// DHCP leases (RFC 2131). Every address of a network's DHCP range has at
// most one record (Lease, keyed by network and address) saying who has
// it, or had it last, and in which state:
//
//	offered   DHCPOFFER: held for the client for Options.OfferHold
//	bound     DHCPACK: the client's until Expires
//	grace     (derived) bound, past Expires but within Options.LeaseGrace: still the client's
//	expired   (derived, stored by the sweep) past the grace, or an offer never taken:
//	          free, remembered for the client
//	released  DHCPRELEASE: free at once, remembered for the client
//	declined  DHCPDECLINE: nobody gets it until Expires (Options.DeclineHold)
//
// Free addresses are reclaimed on allocation: a client gets its current
// address, else its previous one if it is still free, else the one it
// asks for if that is free, else a never used address, else the free
// address that ended longest ago. So a client that comes back gets its
// old address unless the range had nothing else to give. A periodic sweep
// stores what became expired, forgets quarantines that ended, and frees
// leases the model no longer allows (the interface is gone or has a
// static address now, another interface or router took the address);
// every change of who holds an address recompiles the flows, so the
// anti-spoofing flows and the ARP answers follow the leases. Interfaces
// with a static address never have lease records: their address is
// answered as it is and is never in the pool.

import (
	"context"
	"fmt"
	"github.com/satellite-sdn/satellite/controller"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// LeaseState is the state of a lease record (see the package comment
// above and docs/vnet.md).
type LeaseState string

// Lease states.
const (
	LeaseOffered  LeaseState = "offered"
	LeaseBound    LeaseState = "bound"
	LeaseGrace    LeaseState = "grace"
	LeaseExpired  LeaseState = "expired"
	LeaseReleased LeaseState = "released"
	LeaseDeclined LeaseState = "declined"
	// leaseFree is a declined address whose quarantine ended: free, for
	// nobody in particular; the sweep deletes the record.
	leaseFree LeaseState = "free"
)

// Defaults of the lease Options.
const (
	DefaultLeaseGrace  = 5 * time.Minute
	DefaultDeclineHold = time.Hour
	DefaultOfferHold   = time.Minute
	DefaultLeaseSweep  = 10 * time.Second
)

// Active says the address belongs to the client (offered, bound, grace):
// the anti-spoofing flows admit it and ARP for it is answered.
func (s LeaseState) Active() bool { return s == LeaseOffered || s == LeaseBound || s == LeaseGrace }

// Free says the address may be given to a client (expired, released).
func (s LeaseState) Free() bool { return s == LeaseExpired || s == LeaseReleased || s == leaseFree }

// StateAt is the state of the record at now: a bound lease past its end is
// in grace for grace, then expired; an offer past its end is expired; a
// quarantine past its end is over.
func (l Lease) StateAt(now time.Time, grace time.Duration) LeaseState {
	switch l.State {
	case "", LeaseBound:
		switch {
		case now.Before(l.Expires):
			return LeaseBound
		case now.Before(l.Expires.Add(grace)):
			return LeaseGrace
		}
		return LeaseExpired
	case LeaseOffered:
		if now.Before(l.Expires) {
			return LeaseOffered
		}
		return LeaseExpired
	case LeaseDeclined:
		if now.Before(l.Expires) {
			return LeaseDeclined
		}
		return leaseFree
	}
	return l.State
}

// storedActive says the stored state can be active (bound or offered).
func storedActive(l Lease) bool {
	return l.State == "" || l.State == LeaseBound || l.State == LeaseOffered
}

func leaseMapKey(network, ip string) string { return network + "/" + ip }

// ---- the address pool of a network

// pool is what the allocator knows of one network at one moment.
type pool struct {
	net        Network
	prefix     netip.Prefix
	start, end netip.Addr           // the DHCP range (invalid without DHCP)
	taken      map[netip.Addr]bool  // never leased: the gateway, static and router addresses
	recs       map[netip.Addr]Lease // the lease records
	now        time.Time
	grace      time.Duration
}

// poolsLocked builds the pools of the networks with DHCP (only the one
// named when only is not ""). m.mu is held.
func (m *Manager) poolsLocked(now time.Time, only string) map[string]*pool {
	pools := map[string]*pool{}
	for _, n := range m.cfg.Networks {
		if !n.DHCP || (only != "" && n.Name != only) {
			continue
		}
		p := &pool{net: n, prefix: netip.MustParsePrefix(n.Subnet), taken: map[netip.Addr]bool{}, recs: map[netip.Addr]Lease{},
			now: now, grace: m.opt.LeaseGrace}
		p.start, p.end = netip.MustParseAddr(n.DHCPStart), netip.MustParseAddr(n.DHCPEnd)
		if n.Gateway != "" {
			p.taken[netip.MustParseAddr(n.Gateway)] = true
		}
		pools[n.Name] = p
	}
	for _, in := range m.cfg.Interfaces {
		if p := pools[in.Network]; p != nil && in.IP != "" {
			p.taken[netip.MustParseAddr(in.IP)] = true
		}
	}
	for _, r := range m.cfg.Routers {
		for _, ri := range r.Interfaces {
			if p := pools[ri.Network]; p != nil {
				p.taken[netip.MustParseAddr(ri.IP)] = true
			}
		}
	}
	for _, l := range m.leases {
		if p := pools[l.Network]; p != nil {
			if a, err := netip.ParseAddr(l.IP); err == nil {
				p.recs[a] = l
			}
		}
	}
	return pools
}

func (p *pool) inRange(a netip.Addr) bool {
	return p.start.IsValid() && a.Is4() && a.Compare(p.start) >= 0 && a.Compare(p.end) <= 0
}

// usable: in the subnet and not an address the model gives to something.
func (p *pool) usable(a netip.Addr) bool { return p.prefix.Contains(a) && !p.taken[a] }

// available: the address may be given to a client now.
func (p *pool) available(a netip.Addr) bool {
	if !p.inRange(a) || !p.usable(a) {
		return false
	}
	l, ok := p.recs[a]
	return !ok || l.StateAt(p.now, p.grace).Free()
}

// mine returns the client's records in the state that match, the one
// that ends last first.
func (p *pool) mine(mac string, match func(LeaseState) bool) []netip.Addr {
	var out []netip.Addr
	for a, l := range p.recs {
		if l.MAC == mac && match(l.StateAt(p.now, p.grace)) {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		ei, ej := p.recs[out[i]].Expires, p.recs[out[j]].Expires
		if !ei.Equal(ej) {
			return ei.After(ej)
		}
		return out[i].Less(out[j])
	})
	return out
}

// choose picks the address for a client (RFC 2131 4.3.1): its current
// address, else its previous one if still free, else the requested one if
// free, else a never used one, else the free one that ended longest ago.
func (p *pool) choose(mac string, requested netip.Addr) (netip.Addr, error) {
	for _, a := range p.mine(mac, LeaseState.Active) {
		if p.inRange(a) && p.usable(a) {
			return a, nil
		}
	}
	for _, a := range p.mine(mac, func(s LeaseState) bool { return s == LeaseExpired || s == LeaseReleased }) {
		if p.available(a) {
			return a, nil
		}
	}
	if requested.IsValid() && p.available(requested) {
		return requested, nil
	}
	for a := p.start; a.IsValid() && a.Compare(p.end) <= 0; a = a.Next() {
		if _, rec := p.recs[a]; !rec && p.usable(a) {
			return a, nil
		}
	}
	var best netip.Addr
	for a, l := range p.recs {
		if !p.available(a) {
			continue
		}
		if !best.IsValid() || l.Expires.Before(p.recs[best].Expires) || (l.Expires.Equal(p.recs[best].Expires) && a.Less(best)) {
			best = a
		}
	}
	if best.IsValid() {
		return best, nil
	}
	return netip.Addr{}, fmt.Errorf("network %s: DHCP range %s-%s is exhausted", p.net.Name, p.net.DHCPStart, p.net.DHCPEnd)
}

// ---- the Manager's lease records

func (m *Manager) now() time.Time { return m.opt.Now() }

// reindexLocked rebuilds the index of the active records by client.
func (m *Manager) reindexLocked() {
	m.byMAC = map[string]string{}
	for _, l := range m.leases {
		if !storedActive(l) {
			continue
		}
		k := l.Network + "/" + l.MAC
		if cur, ok := m.byMAC[k]; !ok || m.leases[leaseMapKey(l.Network, cur)].Expires.Before(l.Expires) {
			m.byMAC[k] = l.IP
		}
	}
}

// leasedIPLocked is the address a DHCP client has now ("" if none).
func (m *Manager) leasedIPLocked(network, mac string, now time.Time) string {
	ip, ok := m.byMAC[network+"/"+mac]
	if !ok || !m.leases[leaseMapKey(network, ip)].StateAt(now, m.opt.LeaseGrace).Active() {
		return ""
	}
	return ip
}

// activeLeases are the addresses clients have now, one per client: what
// the compiler turns into flows.
func (m *Manager) activeLeases() []Lease {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var out []Lease
	for k, ip := range m.byMAC {
		network, _, _ := strings.Cut(k, "/") // network names have no "/"
		if l := m.leases[leaseMapKey(network, ip)]; l.StateAt(now, m.opt.LeaseGrace).Active() {
			out = append(out, l)
		}
	}
	sortLeases(out)
	return out
}

func sortLeases(ls []Lease) {
	sort.Slice(ls, func(i, j int) bool {
		if ls[i].Network != ls[j].Network {
			return ls[i].Network < ls[j].Network
		}
		a, erra := netip.ParseAddr(ls[i].IP)
		b, errb := netip.ParseAddr(ls[j].IP)
		if erra != nil || errb != nil {
			return ls[i].IP < ls[j].IP
		}
		return a.Less(b)
	})
}

// Leases returns every lease record with its state now (StateAt), by
// network and address; quarantines that ended are left out.
func (m *Manager) Leases() []Lease {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := make([]Lease, 0, len(m.leases))
	for _, l := range m.leases {
		l.State = l.StateAt(now, m.opt.LeaseGrace)
		if l.State != leaseFree {
			out = append(out, l)
		}
	}
	sortLeases(out)
	return out
}

// writeLeases stores the changes, then applies them in memory (so memory
// never has what the store lost). m.leaseMu is held.
func (m *Manager) writeLeases(save, remove []Lease) error {
	if len(save) == 0 && len(remove) == 0 {
		return nil
	}
	if err := m.store.UpdateLeases(save, remove); err != nil {
		return fmt.Errorf("storing the leases: %w", err)
	}
	m.mu.Lock()
	for _, l := range remove {
		delete(m.leases, leaseMapKey(l.Network, l.IP))
	}
	for _, l := range save {
		m.leases[leaseMapKey(l.Network, l.IP)] = l
	}
	m.reindexLocked()
	m.mu.Unlock()
	return nil
}

// grant gives l (offered or bound) to its client; any other address the
// client held in the network is released. m.leaseMu is held.
func (m *Manager) grant(l Lease, now time.Time) error {
	m.mu.Lock()
	prev, had := m.leases[leaseMapKey(l.Network, l.IP)]
	wasActive := had && prev.MAC == l.MAC && prev.StateAt(now, m.opt.LeaseGrace).Active()
	var save []Lease
	for _, o := range m.leases {
		if o.Network == l.Network && o.MAC == l.MAC && o.IP != l.IP && o.StateAt(now, m.opt.LeaseGrace).Active() {
			o.State, o.Expires = LeaseReleased, now
			save = append(save, o)
		}
	}
	m.mu.Unlock()
	if err := m.writeLeases(append(save, l), nil); err != nil {
		return err
	}
	for _, o := range save {
		m.log.Info("DHCP lease released: the client moved to another address", "network", o.Network, "mac", o.MAC, "ip", o.IP, "now", l.IP)
	}
	if !wasActive || len(save) > 0 {
		m.log.Info("DHCP lease", "network", l.Network, "mac", l.MAC, "ip", l.IP, "state", l.State)
		// the interface's anti-spoofing flows now allow its address: on
		// its switch at once, before the answer goes out, so that the
		// client's first packet from it passes; everywhere else soon
		m.admitNow(l)
		m.Kick()
	}
	return nil
}

// admitNow brings the switch of l's interface up to date before the DHCP
// answer is sent (a debounced pass would come after the client's first
// packet with its new address, and the anti-spoofing flows would drop
// it). When a pass is running, it is left to that pass and the next.
// m.leaseMu is held: a pass takes it after recMu, so recMu is only tried.
func (m *Manager) admitNow(l Lease) {
	m.mu.Lock()
	var dp string
	for _, in := range m.cfg.Interfaces {
		if in.Network == l.Network && strings.EqualFold(in.MAC, l.MAC) {
			dp = in.Datapath
			break
		}
	}
	var id uint64
	found := false
	for _, d := range m.cfg.Datapaths {
		if d.Name == dp {
			id, _ = ParseDPID(d.DPID)
			found = true
		}
	}
	var inh *inherited
	if found && m.inherit != nil { // the start-up window: what the switch holds stays
		if m.inherit[id] == nil {
			m.inherit[id] = newInherited()
		}
		inh = m.inherit[id]
	}
	m.mu.Unlock()
	if !found || m.ctl == nil {
		return
	}
	s := m.ctl.Switch(id)
	if s == nil || !m.recMu.TryLock() {
		return
	}
	defer m.recMu.Unlock()
	progs, _ := m.Programs()
	prog := progs[id]
	if prog == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if ch, err := reconcile(ctx, s, prog, inh, nil); err != nil {
		m.log.Debug("DHCP: the switch was not updated before the answer; the next pass will", "dpid", controller.FormatDPID(id), "err", err)
	} else if !ch.Empty() {
		m.log.Debug("DHCP: the switch admits the address before the answer", "dpid", controller.FormatDPID(id), "ip", l.IP, "changes", ch.String())
	}
}

// offer answers a DHCPDISCOVER: the address for the client, held for it
// for OfferHold (a current lease stays as it is: the DHCPREQUEST renews it).
func (m *Manager) offer(from where, requested netip.Addr) (netip.Addr, error) {
	if from.iface.IP != "" {
		return netip.ParseAddr(from.iface.IP)
	}
	m.leaseMu.Lock()
	defer m.leaseMu.Unlock()
	now := m.now()
	m.mu.Lock()
	p := m.poolsLocked(now, from.net.Name)[from.net.Name]
	if p == nil {
		m.mu.Unlock()
		return netip.Addr{}, fmt.Errorf("network %s has no DHCP", from.net.Name)
	}
	a, err := p.choose(from.iface.MAC, requested)
	rec, had := p.recs[a]
	m.mu.Unlock()
	if err != nil {
		return netip.Addr{}, err
	}
	if st := rec.StateAt(now, m.opt.LeaseGrace); had && rec.MAC == from.iface.MAC && (st == LeaseBound || st == LeaseGrace) {
		return a, nil
	}
	hold := min(m.opt.OfferHold, time.Duration(from.net.LeaseSeconds)*time.Second)
	return a, m.grant(Lease{Network: from.net.Name, MAC: from.iface.MAC, IP: a.String(), Expires: now.Add(hold), State: LeaseOffered}, now)
}

// ack answers a DHCPREQUEST for requested (the requested address option,
// else ciaddr; invalid if neither): the address bound to the client for
// the lease time, or ok false for a DHCPNAK (the client cannot have what
// it asks for, or nothing at all).
func (m *Manager) ack(from where, requested netip.Addr) (addr netip.Addr, ok bool, err error) {
	if from.iface.IP != "" {
		a, err := netip.ParseAddr(from.iface.IP)
		return a, err == nil && (!requested.IsValid() || requested == a), err
	}
	m.leaseMu.Lock()
	defer m.leaseMu.Unlock()
	now := m.now()
	m.mu.Lock()
	p := m.poolsLocked(now, from.net.Name)[from.net.Name]
	if p == nil {
		m.mu.Unlock()
		return netip.Addr{}, false, nil
	}
	a, err := p.choose(from.iface.MAC, requested)
	m.mu.Unlock()
	if err != nil {
		m.log.Info("DHCP: NAK", "network", from.net.Name, "mac", from.iface.MAC, "requested", requested, "err", err)
		return netip.Addr{}, false, nil
	}
	if requested.IsValid() && requested != a {
		m.log.Debug("DHCP: NAK", "network", from.net.Name, "mac", from.iface.MAC, "requested", requested, "has", a)
		return netip.Addr{}, false, nil
	}
	l := Lease{Network: from.net.Name, MAC: from.iface.MAC, IP: a.String(), Expires: now.Add(time.Duration(from.net.LeaseSeconds) * time.Second), State: LeaseBound}
	return a, true, m.grant(l, now)
}

// release handles a DHCPRELEASE of ciaddr: the client's lease of it ends
// now and the address is free, remembered for the client.
func (m *Manager) release(from where, ciaddr netip.Addr) error {
	if from.iface.IP != "" {
		return fmt.Errorf("DHCPRELEASE from %s, which has the static address %s: nothing to release", from.iface.Name, from.iface.IP)
	}
	return m.endLease(from, ciaddr, LeaseReleased, 0)
}

// decline handles a DHCPDECLINE of addr (the client found it in use): the
// client's lease of it ends and nobody gets the address for DeclineHold.
func (m *Manager) decline(from where, addr netip.Addr) error {
	if from.iface.IP != "" {
		m.log.Warn("DHCPDECLINE of a static address: something else uses it; the address stays the interface's",
			"interface", from.iface.Name, "network", from.net.Name, "ip", from.iface.IP, "declined", addr)
		return nil
	}
	return m.endLease(from, addr, LeaseDeclined, m.opt.DeclineHold)
}

func (m *Manager) endLease(from where, addr netip.Addr, state LeaseState, hold time.Duration) error {
	m.leaseMu.Lock()
	defer m.leaseMu.Unlock()
	now := m.now()
	m.mu.Lock()
	l, ok := m.leases[leaseMapKey(from.net.Name, addr.String())]
	m.mu.Unlock()
	if !addr.IsValid() || !ok || l.MAC != from.iface.MAC || !l.StateAt(now, m.opt.LeaseGrace).Active() {
		return fmt.Errorf("DHCP %s of %s from %s (%s): it is not the client's lease; ignored", state, addr, from.iface.Name, from.iface.MAC)
	}
	l.State, l.Expires = state, now.Add(hold)
	if err := m.writeLeases([]Lease{l}, nil); err != nil {
		return err
	}
	if state == LeaseDeclined {
		m.log.Warn("DHCPDECLINE: the client found its address in use; nobody gets it until the quarantine ends",
			"network", l.Network, "mac", l.MAC, "ip", l.IP, "until", l.Expires)
	} else {
		m.log.Info("DHCP lease released", "network", l.Network, "mac", l.MAC, "ip", l.IP)
	}
	m.Kick() // the address leaves the interface's flows
	return nil
}

// sweepLeases stores what the clock changed and what the model no longer
// allows: bound leases past their grace and offers not taken become
// expired; quarantines that ended are forgotten; a client's active lease
// is released when no interface of the network leases with its MAC any
// more, when the model gave the address to something else (a static
// address, a router), or when the client has another, newer one; free
// records outside the range and records of networks without DHCP are
// deleted. It returns how many records changed.
func (m *Manager) sweepLeases() (int, error) {
	m.leaseMu.Lock()
	defer m.leaseMu.Unlock()
	now := m.now()
	type change struct {
		l         Lease
		del       bool
		wasActive bool // a client had the address
		why       string
	}
	var changes []change
	released := func(l Lease, why string) {
		l.State, l.Expires = LeaseReleased, now
		changes = append(changes, change{l: l, wasActive: true, why: why})
	}
	m.mu.Lock()
	pools := m.poolsLocked(now, "")
	dhcpIf := map[string]bool{}
	for _, in := range m.cfg.Interfaces {
		if in.IP == "" {
			dhcpIf[in.Network+"/"+in.MAC] = true
		}
	}
	active := map[string][]Lease{}
	for _, l := range m.leases {
		p := pools[l.Network]
		a, err := netip.ParseAddr(l.IP)
		if p == nil || err != nil || !p.prefix.Contains(a) {
			changes = append(changes, change{l: l, del: true, why: "the network is gone, has no DHCP, or its subnet no longer has the address"})
			continue
		}
		switch st := l.StateAt(now, m.opt.LeaseGrace); {
		case st.Active() && !dhcpIf[l.Network+"/"+l.MAC]:
			released(l, "no interface of the network leases its address with this MAC any more")
		case st.Active() && p.taken[a]:
			changes = append(changes, change{l: l, del: true, wasActive: true, why: "the address is now a static, router or gateway address"})
		case st.Active():
			active[l.Network+"/"+l.MAC] = append(active[l.Network+"/"+l.MAC], l)
		case st == leaseFree:
			changes = append(changes, change{l: l, del: true, why: "the quarantine ended"})
		case st.Free() && (!p.inRange(a) || p.taken[a]):
			changes = append(changes, change{l: l, del: true, why: "the address left the DHCP range"})
		case st == LeaseExpired && l.State != LeaseExpired:
			l.State = LeaseExpired
			changes = append(changes, change{l: l, wasActive: true, why: "expired: the address is free again"})
		}
	}
	m.mu.Unlock()
	for _, ls := range active {
		if len(ls) < 2 {
			continue
		}
		sort.Slice(ls, func(i, j int) bool { return ls[i].Expires.After(ls[j].Expires) })
		for _, l := range ls[1:] {
			released(l, "the client has a newer lease")
		}
	}
	var save, remove []Lease
	for _, c := range changes {
		if c.del {
			remove = append(remove, c.l)
		} else {
			save = append(save, c.l)
		}
	}
	if err := m.writeLeases(save, remove); err != nil {
		return 0, err
	}
	for _, c := range changes {
		switch {
		case c.wasActive && c.del:
			m.log.Info("DHCP lease ended", "network", c.l.Network, "mac", c.l.MAC, "ip", c.l.IP, "why", c.why)
		case c.wasActive:
			m.log.Info("DHCP lease reclaimed", "network", c.l.Network, "mac", c.l.MAC, "ip", c.l.IP, "state", c.l.State, "why", c.why)
		default:
			m.log.Debug("DHCP lease record deleted", "network", c.l.Network, "mac", c.l.MAC, "ip", c.l.IP, "why", c.why)
		}
	}
	if len(changes) > 0 {
		m.Kick()
	}
	return len(changes), nil
}
