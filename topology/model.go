package topology

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"
)

// LocalPort is OpenFlow's OFPP_LOCAL.
const LocalPort = 0xfffffffe

// ErrLagged is reported by a subscription that fell behind: its queue
// filled up, so it was closed. Subscribe again from the last version seen.
var ErrLagged = errors.New("subscriber fell behind and was dropped; resubscribe from the last version seen")

// Options tune a Model.
type Options struct {
	// Replay is how many deltas are kept for subscribers that resume
	// (default 4096). Older resume points get a fresh snapshot.
	Replay int
	// Events is how many events (host moves, security events) are kept for
	// the API (default 1000).
	Events int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxHostsPerPort and MaxHostsPerSwitch cap the hosts learned on one
	// port and on one switch (defaults 256 and 4096): a VM sending from
	// random source MACs cannot grow the host table without bound. Hosts
	// over a cap are not learned, counted (HostsRefused) and reported by a
	// "host-limit" event, at most one per port per minute.
	MaxHostsPerPort, MaxHostsPerSwitch int
	// KeepDownLinks keeps a link that went down (its probes stopped, its
	// port went down or away, its switch disconnected) in the model with
	// State "down" and DownSince for this long, or until it comes back
	// (discovery.forget_down_after). 0: a down link is removed at once.
	KeepDownLinks time.Duration
}

// Model is the topology. All methods are safe for concurrent use; writers
// never block on subscribers.
type Model struct {
	opt Options

	mu       sync.Mutex
	version  uint64
	switches map[DPID]*Switch
	ports    map[Endpoint]*Port
	links    map[LinkKey]*Link
	hosts    map[string]*Host
	// edgeSince is when each up edge port became one (added, up, or its
	// last link gone): until discovery had time to find a link on it, a
	// host first seen there may be a neighbour switch's traffic.
	edgeSince map[Endpoint]time.Time
	journal   []Delta // ring buffer of the last opt.Replay deltas
	jHead     int     // index of the oldest delta
	events    []Event // ring of the last opt.Events events
	eHead     int
	subs      map[*Subscription]struct{}

	hostsOnPort   map[Endpoint]int
	hostsOnSwitch map[DPID]int
	hostsRefused  uint64
	limitEvent    map[Endpoint]time.Time // last host-limit event per port
}

// New returns an empty model.
func New(opt Options) *Model {
	if opt.Replay <= 0 {
		opt.Replay = 4096
	}
	if opt.Events <= 0 {
		opt.Events = 1000
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.MaxHostsPerPort <= 0 {
		opt.MaxHostsPerPort = 256
	}
	if opt.MaxHostsPerSwitch <= 0 {
		opt.MaxHostsPerSwitch = 4096
	}
	return &Model{
		opt:       opt,
		switches:  make(map[DPID]*Switch),
		ports:     make(map[Endpoint]*Port),
		links:     make(map[LinkKey]*Link),
		hosts:     make(map[string]*Host),
		edgeSince: make(map[Endpoint]time.Time),
		subs:      make(map[*Subscription]struct{}),

		hostsOnPort:   make(map[Endpoint]int),
		hostsOnSwitch: make(map[DPID]int),
		limitEvent:    make(map[Endpoint]time.Time),
	}
}

// Version is the current version (the version of the last change).
func (m *Model) Version() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.version
}

// emit records a change; the caller holds m.mu.
func (m *Model) emit(d Delta) {
	m.version++
	d.Version = m.version
	if d.Time.IsZero() {
		d.Time = m.opt.Now()
	}
	if len(m.journal) < m.opt.Replay {
		m.journal = append(m.journal, d)
	} else {
		m.journal[m.jHead] = d
		m.jHead = (m.jHead + 1) % len(m.journal)
	}
	for s := range m.subs {
		select {
		case s.ch <- d:
		default:
			s.lagged = true
			delete(m.subs, s)
			close(s.ch)
		}
	}
}

// ---- switches and ports

// SwitchUp records a connected switch with its ports.
func (m *Model) SwitchUp(sw Switch, ports []Port) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sw.Connected = true
	if sw.Since.IsZero() {
		sw.Since = m.opt.Now()
	}
	old, ok := m.switches[sw.DPID]
	m.switches[sw.DPID] = &sw
	cp := sw
	if ok && old != nil {
		m.emit(Delta{Op: OpUpdate, Switch: &cp})
	} else {
		m.emit(Delta{Op: OpAdd, Switch: &cp})
	}
	seen := make(map[uint32]bool, len(ports))
	for _, p := range ports {
		p.DPID = sw.DPID
		seen[p.Number] = true
		m.putPort(p)
	}
	for ep := range m.ports {
		if ep.DPID == sw.DPID && !seen[ep.Port] {
			m.removePort(ep)
		}
	}
}

// SwitchDown removes a switch with its ports and links. Hosts seen on it
// stay until they age out or show up elsewhere.
func (m *Model) SwitchDown(dpid DPID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sw, ok := m.switches[dpid]
	if !ok {
		return
	}
	for ep := range m.ports {
		if ep.DPID == dpid {
			m.removePort(ep)
		}
	}
	for k := range m.links {
		if k.Src.DPID == dpid || k.Dst.DPID == dpid {
			m.linkDown(k)
		}
	}
	delete(m.switches, dpid)
	cp := *sw
	cp.Connected = false
	m.emit(Delta{Op: OpRemove, Switch: &cp})
}

// PortUpdate adds or changes a port. A port that goes down loses its links
// at once.
func (m *Model) PortUpdate(p Port) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.switches[p.DPID]; !ok {
		return
	}
	m.putPort(p)
	if !p.Up {
		for k := range m.links {
			if k.Src == p.Key() || k.Dst == p.Key() {
				m.linkDown(k)
			}
		}
	}
}

// PortRemove deletes a port and its links.
func (m *Model) PortRemove(ep Endpoint) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.removePort(ep)
}

func (m *Model) putPort(p Port) {
	p.Kind = m.portKind(p)
	old, ok := m.ports[p.Key()]
	if ok && *old == p {
		return
	}
	if p.Kind == PortEdge && p.Up {
		if !ok || old.Kind != PortEdge || !old.Up {
			m.edgeSince[p.Key()] = m.opt.Now()
		}
	} else {
		delete(m.edgeSince, p.Key())
	}
	cp := p
	m.ports[p.Key()] = &cp
	op := OpAdd
	if ok {
		op = OpUpdate
	}
	out := p
	m.emit(Delta{Op: op, Port: &out})
}

func (m *Model) removePort(ep Endpoint) {
	p, ok := m.ports[ep]
	if !ok {
		return
	}
	for k := range m.links {
		if k.Src == ep || k.Dst == ep {
			m.linkDown(k)
		}
	}
	delete(m.ports, ep)
	delete(m.edgeSince, ep)
	cp := *p
	m.emit(Delta{Op: OpRemove, Port: &cp})
}

// portKind derives a port's kind from its number, its name and its links.
func (m *Model) portKind(p Port) string {
	if p.Number == LocalPort {
		return PortLocal
	}
	for k, l := range m.links {
		if (k.Src == p.Key() || k.Dst == p.Key()) && l.State == LinkUp {
			if l.Kind == LinkTunnel {
				return PortTunnel
			}
			return PortLink
		}
	}
	if p.Tunnel {
		return PortTunnel
	}
	return PortEdge
}

// refreshKind re-derives the kind of the port at ep after its links changed.
func (m *Model) refreshKind(ep Endpoint) {
	if p, ok := m.ports[ep]; ok {
		m.putPort(*p)
	}
}

// ---- links

// LinkSeen records that a probe sent from src arrived on dst after
// latency. It returns true when the link is new.
func (m *Model) LinkSeen(src, dst Endpoint, kind string, latency time.Duration) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.ports[src]; !ok {
		return false
	}
	if _, ok := m.ports[dst]; !ok {
		return false
	}
	now := m.opt.Now()
	ms := float64(latency) / float64(time.Millisecond)
	if ms < 0 {
		ms = 0
	}
	k := LinkKey{src, dst}
	l, ok := m.links[k]
	if ok && l.State != LinkUp { // back up: a link again, announced as added
		delete(m.links, k)
		ok = false
	}
	if ok {
		l.LastSeen = now
		// exponentially weighted, published only when it moved noticeably
		prev := l.LatencyMs
		l.LatencyMs = 0.8*l.LatencyMs + 0.2*ms
		if l.Kind != kind || math.Abs(l.LatencyMs-prev) > math.Max(0.5, 0.2*prev) {
			l.Kind = kind
			cp := *l
			m.emit(Delta{Op: OpUpdate, Link: &cp})
		}
		return false
	}
	r, rev := m.links[LinkKey{dst, src}]
	rev = rev && r.State == LinkUp
	first := now
	if l != nil {
		first = l.FirstSeen
	}
	l = &Link{Src: src, Dst: dst, Kind: kind, State: LinkUp, LatencyMs: ms, Unidirectional: !rev, FirstSeen: first, LastSeen: now}
	m.links[k] = l
	cp := *l
	m.emit(Delta{Op: OpAdd, Link: &cp})
	if rev && r.Unidirectional {
		r.Unidirectional = false
		rc := *r
		m.emit(Delta{Op: OpUpdate, Link: &rc})
	}
	m.refreshKind(src)
	m.refreshKind(dst)
	return true
}

// ExpireLinks marks the links not seen since before cutoff down and
// returns them; it forgets the links down for longer than KeepDownLinks.
func (m *Model) ExpireLinks(cutoff time.Time) []Link {
	m.mu.Lock()
	defer m.mu.Unlock()
	var gone []Link
	for k, l := range m.links {
		if l.State == LinkUp && l.LastSeen.Before(cutoff) {
			m.linkDown(k)
			cp := *l
			cp.State = LinkDown
			gone = append(gone, cp)
		}
	}
	forget := m.opt.Now().Add(-m.opt.KeepDownLinks)
	for k, l := range m.links {
		if l.DownSince != nil && l.DownSince.Before(forget) {
			m.removeLink(k)
		}
	}
	return gone
}

// ExpireLinksWitnessed takes down the links not seen since cutoff, but
// only those whose switches still show that probing works: the source
// switch has another live link seen since cutoff (its other probes still
// come back) and so has the destination switch. When every link of a
// switch fell silent at once, the switch or the controller is slow, not
// each link: those links are returned as held and stay. A switch with no
// other link cannot tell either way and does not hold its link. Down
// links are kept (Options.KeepDownLinks) and forgotten as in ExpireLinks.
func (m *Model) ExpireLinksWitnessed(cutoff time.Time) (gone, held []Link) {
	m.mu.Lock()
	defer m.mu.Unlock()
	type count struct{ all, fresh int }
	from, to := map[DPID]*count{}, map[DPID]*count{}
	add := func(c map[DPID]*count, dp DPID, fresh bool) {
		n := c[dp]
		if n == nil {
			n = &count{}
			c[dp] = n
		}
		n.all++
		if fresh {
			n.fresh++
		}
	}
	for k, l := range m.links {
		if l.State != LinkUp {
			continue // a down link witnesses nothing
		}
		fresh := !l.LastSeen.Before(cutoff)
		add(from, k.Src.DPID, fresh)
		add(to, k.Dst.DPID, fresh)
	}
	witnessed := func(n *count) bool { return n.all <= 1 || n.fresh > 0 }
	for k, l := range m.links {
		if l.State != LinkUp || !l.LastSeen.Before(cutoff) {
			continue
		}
		if !witnessed(from[k.Src.DPID]) || !witnessed(to[k.Dst.DPID]) {
			held = append(held, *l)
			continue
		}
		cp := *l
		cp.State = LinkDown
		gone = append(gone, cp)
	}
	for _, l := range gone {
		m.linkDown(l.Key())
	}
	forget := m.opt.Now().Add(-m.opt.KeepDownLinks)
	for k, l := range m.links {
		if l.DownSince != nil && l.DownSince.Before(forget) {
			m.removeLink(k)
		}
	}
	return gone, held
}

// linkDown marks a link down (OpUpdate with State "down"), or removes it
// when down links are not kept.
func (m *Model) linkDown(k LinkKey) {
	l, ok := m.links[k]
	if !ok || l.State != LinkUp {
		return
	}
	if m.opt.KeepDownLinks <= 0 {
		m.removeLink(k)
		return
	}
	now := m.opt.Now()
	// unidirectional describes live links: a down one is neither
	l.State, l.DownSince, l.Unidirectional = LinkDown, &now, false
	cp := *l
	m.emit(Delta{Op: OpUpdate, Link: &cp})
	m.reverseLost(k)
}

// removeLink forgets a link (OpRemove, State "down").
func (m *Model) removeLink(k LinkKey) {
	l, ok := m.links[k]
	if !ok {
		return
	}
	delete(m.links, k)
	cp := *l
	cp.State = LinkDown
	m.emit(Delta{Op: OpRemove, Link: &cp})
	if l.State == LinkUp {
		m.reverseLost(k)
	}
}

// reverseLost updates what depends on the link k being live: its
// reverse is unidirectional now, its ports' kinds may change.
func (m *Model) reverseLost(k LinkKey) {
	if r, ok := m.links[LinkKey{k.Dst, k.Src}]; ok && r.State == LinkUp && !r.Unidirectional {
		r.Unidirectional = true
		rc := *r
		m.emit(Delta{Op: OpUpdate, Link: &rc})
	}
	m.refreshKind(k.Src)
	m.refreshKind(k.Dst)
}

// ---- hosts

// HostSeen records a packet from mac (with an optional IPv4 address) on a
// port. Packets from ports that are not edge ports are ignored: what
// crosses a link between switches is no attachment. It returns the host's
// previous attachment when it moved.
func (m *Model) HostSeen(mac, ip string, at Endpoint) (moved *Endpoint, ok bool) {
	moved, ok, _ = m.HostSeenSettled(mac, ip, at, 0)
	return moved, ok
}

// HostSeenSettled is HostSeen for a port that must have been an edge port
// for settle: a MAC new there (unknown, or known elsewhere) on a port
// that became an edge port more recently is not recorded, and wait says
// how long until it may be (the caller tries again then). A link restore
// thus moves no host onto an inter-switch port before discovery finds
// the link again.
func (m *Model) HostSeenSettled(mac, ip string, at Endpoint, settle time.Duration) (moved *Endpoint, ok bool, wait time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, known := m.ports[at]
	if !known || p.Kind != PortEdge {
		return nil, false, 0
	}
	now := m.opt.Now()
	h, exists := m.hosts[mac]
	if since, ok := m.edgeSince[at]; ok && settle > 0 && (!exists || h.DPID != at.DPID || h.Port != at.Port) {
		if w := since.Add(settle).Sub(now); w > 0 {
			return nil, false, w
		}
	}
	if (!exists || h.DPID != at.DPID || h.Port != at.Port) && !m.hostRoom(at, now) {
		return nil, false, 0
	}
	if !exists {
		h = &Host{MAC: mac, DPID: at.DPID, Port: at.Port, FirstSeen: now, LastSeen: now}
		m.countHost(at, 1)
		if ip != "" {
			h.IPs = []string{ip}
		}
		m.hosts[mac] = h
		cp := copyHost(h)
		m.emit(Delta{Op: OpAdd, Host: &cp})
		return nil, true, 0
	}
	h.LastSeen = now
	changed := false
	if h.DPID != at.DPID || h.Port != at.Port {
		prev := Endpoint{h.DPID, h.Port}
		moved = &prev
		m.countHost(prev, -1)
		m.countHost(at, 1)
		h.DPID, h.Port = at.DPID, at.Port
		changed = true
	}
	if ip != "" && !slices.Contains(h.IPs, ip) {
		h.IPs = append(h.IPs, ip)
		sort.Strings(h.IPs)
		changed = true
	}
	if changed {
		cp := copyHost(h)
		m.emit(Delta{Op: OpUpdate, Host: &cp})
	}
	if moved != nil {
		m.addEvent(Event{Kind: "host-move", DPID: at.DPID, Port: at.Port,
			Message: "host " + mac + " moved from " + moved.String() + " to " + at.String()})
	}
	return moved, true, 0
}

// ExpireHosts removes hosts idle since before cutoff.
func (m *Model) ExpireHosts(cutoff time.Time) []Host {
	m.mu.Lock()
	defer m.mu.Unlock()
	var gone []Host
	for mac, h := range m.hosts {
		if h.LastSeen.Before(cutoff) {
			delete(m.hosts, mac)
			m.countHost(Endpoint{h.DPID, h.Port}, -1)
			cp := copyHost(h)
			gone = append(gone, cp)
			m.emit(Delta{Op: OpRemove, Host: &cp})
		}
	}
	return gone
}

// hostRoom reports whether one more host fits on at; when not, it counts
// the refusal and records a host-limit event (one per port per minute).
func (m *Model) hostRoom(at Endpoint, now time.Time) bool {
	var what string
	switch {
	case m.hostsOnPort[at] >= m.opt.MaxHostsPerPort:
		what = fmt.Sprintf("port %s has %d hosts, the most one port may have (hosts.max_per_port)", at, m.opt.MaxHostsPerPort)
	case m.hostsOnSwitch[at.DPID] >= m.opt.MaxHostsPerSwitch:
		what = fmt.Sprintf("switch %s has %d hosts, the most one switch may have (hosts.max_per_switch)", at.DPID, m.opt.MaxHostsPerSwitch)
	default:
		return true
	}
	m.hostsRefused++
	if last, ok := m.limitEvent[at]; !ok || now.Sub(last) >= time.Minute {
		if len(m.limitEvent) > 4*m.opt.MaxHostsPerSwitch {
			clear(m.limitEvent)
		}
		m.limitEvent[at] = now
		m.addEvent(Event{Kind: "host-limit", Time: now, DPID: at.DPID, Port: at.Port,
			Message: what + ": new hosts there are not learned (a VM sending from random source addresses?)"})
	}
	return false
}

func (m *Model) countHost(at Endpoint, d int) {
	if m.hostsOnPort[at] += d; m.hostsOnPort[at] <= 0 {
		delete(m.hostsOnPort, at)
	}
	if m.hostsOnSwitch[at.DPID] += d; m.hostsOnSwitch[at.DPID] <= 0 {
		delete(m.hostsOnSwitch, at.DPID)
	}
}

// HostsRefused counts the hosts not learned because a port or a switch
// had as many as its cap.
func (m *Model) HostsRefused() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hostsRefused
}

func copyHost(h *Host) Host {
	c := *h
	c.IPs = slices.Clone(h.IPs)
	return c
}

// ---- events

// AddEvent records an event (e.g. a security event from discovery).
func (m *Model) AddEvent(e Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addEvent(e)
}

func (m *Model) addEvent(e Event) {
	if e.Time.IsZero() {
		e.Time = m.opt.Now()
	}
	if len(m.events) < m.opt.Events {
		m.events = append(m.events, e)
	} else {
		m.events[m.eHead] = e
		m.eHead = (m.eHead + 1) % len(m.events)
	}
	m.emit(Delta{Op: OpEvent, Event: &e, Time: e.Time})
}

// Events returns the kept events, oldest first.
func (m *Model) Events() []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Event, 0, len(m.events))
	out = append(out, m.events[m.eHead:]...)
	return append(out, m.events[:m.eHead]...)
}

// ---- reading

// Snapshot returns the whole model, sorted, at the current version.
func (m *Model) Snapshot() Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.snapshot()
}

func (m *Model) snapshot() Snapshot {
	s := Snapshot{Version: m.version, Taken: m.opt.Now(),
		Switches: []Switch{}, Ports: []Port{}, Links: []Link{}, Hosts: []Host{}}
	for _, sw := range m.switches {
		s.Switches = append(s.Switches, *sw)
	}
	for _, p := range m.ports {
		s.Ports = append(s.Ports, *p)
	}
	for _, l := range m.links {
		s.Links = append(s.Links, *l)
	}
	for _, h := range m.hosts {
		s.Hosts = append(s.Hosts, copyHost(h))
	}
	s.sort()
	return s
}

func (s *Snapshot) sort() {
	sort.Slice(s.Switches, func(i, j int) bool { return s.Switches[i].DPID < s.Switches[j].DPID })
	sort.Slice(s.Ports, func(i, j int) bool { return epLess(s.Ports[i].Key(), s.Ports[j].Key()) })
	sort.Slice(s.Links, func(i, j int) bool {
		a, b := s.Links[i], s.Links[j]
		if a.Src != b.Src {
			return epLess(a.Src, b.Src)
		}
		return epLess(a.Dst, b.Dst)
	})
	sort.Slice(s.Hosts, func(i, j int) bool { return s.Hosts[i].MAC < s.Hosts[j].MAC })
}

func epLess(a, b Endpoint) bool {
	if a.DPID != b.DPID {
		return a.DPID < b.DPID
	}
	return a.Port < b.Port
}

// Links returns every link, sorted.
func (m *Model) Links() []Link { return m.Snapshot().Links }

// Hosts returns every host, sorted by MAC.
func (m *Model) Hosts() []Host { return m.Snapshot().Hosts }

// Port returns one port.
func (m *Model) Port(ep Endpoint) (Port, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.ports[ep]
	if !ok {
		return Port{}, false
	}
	return *p, true
}

// ---- subscriptions

// Subscription delivers deltas in version order on C. When it falls behind
// (its queue is full) C is closed and Err returns ErrLagged.
type Subscription struct {
	C      <-chan Delta
	ch     chan Delta
	m      *Model
	lagged bool // guarded by m.mu
}

// Subscribe returns a subscription with a queue of size deltas. With
// from == 0, or a version older than the replay buffer holds, the first
// delta is a full snapshot (Op "snapshot") at the current version;
// otherwise the deltas after from are replayed first. Either way, no
// change after the resume point is missed.
func (m *Model) Subscribe(from uint64, size int) *Subscription {
	if size < 2 {
		size = 2
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &Subscription{ch: make(chan Delta, size), m: m}
	s.C = s.ch
	replay := m.replayAfter(from)
	if replay == nil || len(replay) >= size {
		snap := m.snapshot()
		s.ch <- Delta{Version: m.version, Time: snap.Taken, Op: OpSnapshot, Snapshot: &snap}
	} else {
		for _, d := range replay {
			s.ch <- d
		}
	}
	m.subs[s] = struct{}{}
	return s
}

// replayAfter returns the deltas after version from, or nil when from is
// 0 or too old (or from the future).
func (m *Model) replayAfter(from uint64) []Delta {
	if from == 0 || from > m.version {
		return nil
	}
	if from == m.version {
		return []Delta{}
	}
	n := len(m.journal)
	oldest := m.version - uint64(n) + 1
	if n == 0 || from+1 < oldest {
		return nil
	}
	out := make([]Delta, 0, m.version-from)
	for i := 0; i < n; i++ {
		d := m.journal[(m.jHead+i)%n]
		if d.Version > from {
			out = append(out, d)
		}
	}
	return out
}

// Err reports ErrLagged once the subscription was dropped for falling behind.
func (s *Subscription) Err() error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.lagged {
		return ErrLagged
	}
	return nil
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if _, ok := s.m.subs[s]; ok {
		delete(s.m.subs, s)
		close(s.ch)
	}
}
