package vnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
	"github.com/satellite-sdn/satellite/topology"
)

// Switches is what the virtual networks need of the controller
// (*controller.Controller): its event bus and the sessions they program.
type Switches interface {
	Bus() *controller.Bus
	Switch(dpid uint64) *controller.Session
	Switches() []*controller.Session
}

// Options tune the Manager.
type Options struct {
	Logger *slog.Logger
	// TunnelPort names tunnel ports (default "gre-<remote>-p<path>").
	TunnelPort func(remote string, path int) string
	// Resync re-reads every switch's flows this often to repair drift
	// (default 30s).
	Resync time.Duration
	// Debounce collects bursts of changes into one reconciliation (default 100ms).
	Debounce time.Duration
	// PathOrder, when set, orders the underlay paths between two hosts
	// (the tunnel prober sets it; see Env.PathOrder).
	PathOrder func(local, remote uint64) []int
	// Settle bounds the start-up window in which the reconciler only adds
	// missing flows and groups and changes or deletes none (default 15s):
	// after a restart of Satellite the switches still hold the flows of
	// the previous run, and what the compiler makes of a half-known
	// network (a datapath not yet reconnected, direct links not yet
	// rediscovered) must not replace them. The window ends earlier once
	// every configured datapath is connected and neither a switch nor a
	// link has come up for SettleQuiet (default 2s). A negative Settle
	// turns the window off.
	Settle      time.Duration
	SettleQuiet time.Duration
	// ControllerPPS polices, with an OpenFlow meter per interface, the
	// packets each VM port sends to the controller (ARP and DHCP copies in
	// table 0): at most this many per second, with as many of burst
	// (default 100). A negative value turns the meters off.
	ControllerPPS int

	// DHCP leases (see leases.go and docs/vnet.md).
	//
	// Now is the clock of the leases (default time.Now).
	Now func() time.Time
	// LeaseGrace: a bound lease stays the client's this long after it
	// expired before its address returns to the pool (default 5m).
	LeaseGrace time.Duration
	// DeclineHold: an address a client declined (DHCPDECLINE: in use
	// elsewhere) is given to nobody this long (default 1h).
	DeclineHold time.Duration
	// OfferHold: an address offered (DHCPOFFER) is held for the client
	// this long, or the lease time if shorter (default 1m).
	OfferHold time.Duration
	// LeaseSweep: how often expired leases are stored as expired and
	// leases the model no longer allows are freed (default 10s).
	LeaseSweep time.Duration
}

// SwitchStatus is the reconciliation state of one datapath.
type SwitchStatus struct {
	Name        string    `json:"name"`
	DPID        string    `json:"dpid"`
	Connected   bool      `json:"connected"`
	Flows       int       `json:"flows"`
	Groups      int       `json:"groups"`
	Reconciled  time.Time `json:"reconciled,omitempty"`
	LastChanges string    `json:"last_changes,omitempty"`
	// Settling: the start-up window is open, so the last pass only added
	// what was missing (Options.Settle).
	Settling bool `json:"settling,omitempty"`
	// Total counts every change made to the switch since Satellite
	// started: after a restart onto converged switches it stays zero.
	Total Changes `json:"total"`
	Error string  `json:"error,omitempty"`
}

// Manager owns the configuration, keeps it stored, and keeps every switch
// converged to it.
type Manager struct {
	store Store
	ctl   Switches
	topo  *topology.Model
	opt   Options
	log   *slog.Logger

	mu     sync.Mutex
	cfg    Config
	rev    uint64
	leases map[string]Lease  // network/ip
	byMAC  map[string]string // network/mac -> ip of its offered or bound record (reindexLocked)
	status map[uint64]*SwitchStatus
	notes  []string
	// mismatches: the last foreign MAC seen per interface (Admits)
	mismatches map[string]*mismatch
	edge       edgeIndex // interfaces by datapath, for InterfacePort and Admits (edge.go)

	// flush are the conntrack zones (network ids) whose stateful security
	// changed: flushed on every switch once the new flows are in, so that
	// connections the new rules no longer allow are cut
	flush map[uint16]bool
	// flushConns are connections of NAT zones (those of floating IPs that
	// moved or went) to forget on every switch once the new flows are in;
	// a switch that refuses the per-connection flush gets the zone flushed.
	flushConns map[ofwire.CTFlush]bool
	// neigh are the addresses learned on external networks (network ->
	// IP -> MAC, from ARP on their ports); asked are the ARP requests sent
	// (network/IP -> when), so each is sent at most once a second
	neigh map[string]map[string]string
	asked map[string]time.Time

	kick  chan struct{}
	recMu sync.Mutex // one reconciliation pass at a time
	// the start-up window (Options.Settle)
	started    time.Time
	lastChange time.Time             // a configured switch or a direct link last came up
	inherit    map[uint64]*inherited // per switch; nil once the window is over (or off)
	leaseMu    sync.Mutex            // one lease decision (read, choose, store) at a time; taken before mu
	audit      Auditor               // told after each switch's pass (SetAuditor)
}

// NewManager loads the stored configuration.
func NewManager(store Store, ctl Switches, topo *topology.Model, opt Options) (*Manager, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Resync <= 0 {
		opt.Resync = 30 * time.Second
	}
	if opt.ControllerPPS == 0 {
		opt.ControllerPPS = 100
	}
	if opt.Debounce <= 0 {
		opt.Debounce = 100 * time.Millisecond
	}
	if opt.Settle == 0 {
		opt.Settle = 15 * time.Second // negative: no start-up window
	}
	if opt.SettleQuiet <= 0 {
		opt.SettleQuiet = 2 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.LeaseGrace <= 0 {
		opt.LeaseGrace = DefaultLeaseGrace
	}
	if opt.DeclineHold <= 0 {
		opt.DeclineHold = DefaultDeclineHold
	}
	if opt.OfferHold <= 0 {
		opt.OfferHold = DefaultOfferHold
	}
	if opt.LeaseSweep <= 0 {
		opt.LeaseSweep = DefaultLeaseSweep
	}
	cfg, rev, err := store.Load()
	if err != nil {
		return nil, fmt.Errorf("loading virtual networks: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("stored virtual network configuration is invalid: %w", err)
	}
	leases, err := store.Leases()
	if err != nil {
		return nil, fmt.Errorf("loading DHCP leases: %w", err)
	}
	m := &Manager{store: store, ctl: ctl, topo: topo, opt: opt, log: opt.Logger.With("component", "vnet"),
		cfg: cfg, rev: rev, leases: map[string]Lease{}, status: map[uint64]*SwitchStatus{}, kick: make(chan struct{}, 1)}
	for _, l := range leases {
		m.leases[leaseMapKey(l.Network, l.IP)] = l
	}
	m.reindexLocked()
	return m, nil
}

// Config returns a copy of the configuration and its revision.
func (m *Manager) Config() (Config, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return cloneConfig(m.cfg), m.rev
}

func cloneConfig(c Config) Config {
	var out Config
	out.Datapaths = append(out.Datapaths, c.Datapaths...)
	out.Networks = append(out.Networks, c.Networks...)
	for _, in := range c.Interfaces {
		in.SecurityGroups = append([]string(nil), in.SecurityGroups...)
		out.Interfaces = append(out.Interfaces, in)
	}
	for _, r := range c.Routers {
		r.Interfaces = append([]RouterInterface(nil), r.Interfaces...)
		r.Routes = append([]Route(nil), r.Routes...)
		out.Routers = append(out.Routers, r)
	}
	for _, g := range c.SecurityGroups {
		g.Rules = append([]Rule(nil), g.Rules...)
		out.SecurityGroups = append(out.SecurityGroups, g)
	}
	out.FloatingIPs = append(out.FloatingIPs, c.FloatingIPs...)
	for i := range out.Networks {
		out.Networks[i].DNS = append([]string(nil), out.Networks[i].DNS...)
	}
	for i := range out.Datapaths {
		out.Datapaths[i].TunnelIPs = append([]string(nil), out.Datapaths[i].TunnelIPs...)
	}
	return out
}

// Apply replaces the whole configuration (declarative, idempotent: applying
// the same configuration twice changes nothing).
func (m *Manager) Apply(c Config) (Config, error) {
	return m.Update(func(cur *Config) error {
		*cur = c
		return nil
	})
}

// Update changes the configuration through fn, validates the result and
// stores it. Nothing is stored when fn or validation fails.
func (m *Manager) Update(fn func(c *Config) error) (Config, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := cloneConfig(m.cfg)
	if err := fn(&next); err != nil {
		return Config{}, err
	}
	if err := next.Validate(); err != nil {
		return Config{}, err
	}
	next.Sort()
	rev, err := m.store.Save(next, m.rev)
	if errors.Is(err, ErrConflict) {
		// another controller sharing the store changed it: take its
		// configuration, so that the caller's retry starts from it
		if cfg, rev, lerr := m.store.Load(); lerr == nil && cfg.Validate() == nil {
			m.adoptLocked(cfg, rev)
		}
	}
	if err != nil {
		return Config{}, fmt.Errorf("storing the configuration: %w", err)
	}
	m.adoptLocked(next, rev)
	return cloneConfig(next), nil
}

// adoptLocked makes cfg (stored as revision rev) the configuration in
// effect and starts reconciling to it. m.mu is held.
func (m *Manager) adoptLocked(cfg Config, rev uint64) {
	natZones, conns := natFlushes(&m.cfg, &cfg, m.fixedIPLocked)
	for _, z := range append(changedZones(&m.cfg, &cfg), natZones...) {
		if m.flush == nil {
			m.flush = map[uint16]bool{}
		}
		m.flush[z] = true
	}
	for _, f := range conns {
		if m.flushConns == nil {
			m.flushConns = map[ofwire.CTFlush]bool{}
		}
		m.flushConns[f] = true
	}
	m.cfg, m.rev = cfg, rev
	m.Kick()
}

// reload reads the configuration and the leases again from a shared store
// (Watcher) that another controller changed: a newer revision takes effect
// and is reconciled to; the leases replace those in memory. A stored
// configuration that does not validate is not taken (the one in effect
// stays, and an error says so).
func (m *Manager) reload() error {
	cfg, rev, err := m.store.Load()
	if err != nil {
		return fmt.Errorf("loading virtual networks: %w", err)
	}
	m.mu.Lock()
	newer := rev > m.rev
	m.mu.Unlock()
	if newer {
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("stored virtual network configuration revision %d is invalid, keeping revision %d: %w", rev, m.rev, err)
		}
		m.mu.Lock()
		if rev > m.rev {
			m.log.Info("virtual networks: configuration changed by another instance", "revision", rev, "was", m.rev)
			m.adoptLocked(cfg, rev)
		}
		m.mu.Unlock()
	}
	m.leaseMu.Lock() // no lease decision in between
	defer m.leaseMu.Unlock()
	leases, err := m.store.Leases()
	if err != nil {
		return fmt.Errorf("loading DHCP leases: %w", err)
	}
	m.mu.Lock()
	m.leases = make(map[string]Lease, len(leases))
	for _, l := range leases {
		m.leases[leaseMapKey(l.Network, l.IP)] = l
	}
	m.reindexLocked()
	m.mu.Unlock()
	return nil
}

// Status returns the reconciliation state of every configured datapath.
func (m *Manager) Status() ([]SwitchStatus, []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []SwitchStatus
	for _, d := range m.cfg.Datapaths {
		id, _ := ParseDPID(d.DPID)
		st := SwitchStatus{Name: d.Name, DPID: d.DPID}
		if s, ok := m.status[id]; ok {
			st = *s
			st.Name = d.Name
		}
		st.Connected = m.ctl.Switch(id) != nil
		out = append(out, st)
	}
	return out, append(append([]string(nil), m.notes...), m.mismatchNotesLocked()...)
}

// PathOrderChanged is the tunnel group contract (docs/probes.md): the
// Manager is the one writer of the tunnel groups; the prober, which
// decides the order of the underlay paths from local to remote (the
// Manager reads it through SetPathOrder), calls this when that order
// changed, with the paths' tunnel ports in the new order. The group is
// rewritten at once, since a failover cannot wait for a reconciliation
// pass, and a pass follows that checks the switch against the rest of
// the program. An error leaves the repair to that pass.
func (m *Manager) PathOrderChanged(ctx context.Context, local, remote uint64, ports []uint32) error {
	defer m.Kick()
	s := m.ctl.Switch(local)
	if s == nil {
		return fmt.Errorf("switch %s is not connected", controller.FormatDPID(local))
	}
	return s.ModifyGroup(ctx, TunnelGroup(remote, ports))
}

// SwitchName is what operators call a switch: the name of its datapath
// in the configuration (h1), else its bridge's name (br-int), else "".
func (m *Manager) SwitchName(dpid uint64) string {
	if m != nil {
		cfg, _ := m.Config()
		for _, dp := range cfg.Datapaths {
			if d, err := ParseDPID(dp.DPID); err == nil && d == dpid {
				return dp.Name
			}
		}
		if m.ctl != nil {
			if s := m.ctl.Switch(dpid); s != nil {
				return s.BridgeName()
			}
		}
	}
	return ""
}

// Kick asks for a reconciliation soon.
func (m *Manager) Kick() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Env returns the live view the compiler uses.
func (m *Manager) env() Env {
	return Env{
		TunnelPort:    m.opt.TunnelPort,
		PathOrder:     m.opt.PathOrder,
		ControllerPPS: uint32(max(m.opt.ControllerPPS, 0)),
		Neighbors:     m.neighbors,
		PortNo: func(dpid uint64, name string) (uint32, bool) {
			s := m.ctl.Switch(dpid)
			if s == nil {
				return 0, false
			}
			for _, p := range s.Ports() {
				if p.Name == name {
					return p.No, true
				}
			}
			return 0, false
		},
		HasPort: func(dpid uint64, no uint32) bool {
			s := m.ctl.Switch(dpid)
			if s == nil {
				return false
			}
			_, ok := s.Port(no)
			return ok
		},
		DirectLink: func(a, b uint64) (uint32, bool) {
			if m.topo == nil {
				return 0, false
			}
			var port uint32
			var fwd, back bool
			for _, l := range m.topo.Links() {
				if l.Kind != topology.LinkDirect || !l.Up() { // down links are kept for history
					continue
				}
				if uint64(l.Src.DPID) == a && uint64(l.Dst.DPID) == b {
					port, fwd = l.Src.Port, true
				}
				if uint64(l.Src.DPID) == b && uint64(l.Dst.DPID) == a {
					back = true
				}
			}
			return port, fwd && back
		},
	}
}

// SetPathOrder installs the path preference function (before Run).
func (m *Manager) SetPathOrder(f func(local, remote uint64) []int) { m.opt.PathOrder = f }

// TunnelPortName names the tunnel port towards remote on a path.
func (m *Manager) TunnelPortName(remote string, path int) string {
	if m.opt.TunnelPort != nil {
		return m.opt.TunnelPort(remote, path)
	}
	return fmt.Sprintf("gre-%s-p%d", remote, path)
}

// Programs compiles the current configuration against the live network.
func (m *Manager) Programs() (map[uint64]*Program, []string) {
	cfg, _ := m.Config()
	return Compile(&cfg, m.activeLeases(), m.env())
}

// Run keeps the switches converged until ctx ends: at once when a switch
// connects, a port or a direct link changes, or the configuration
// changes, and every Resync period to repair drift.
func (m *Manager) Run(ctx context.Context) error {
	sub := m.ctl.Bus().Subscribe(8192, controller.SwitchUp, controller.PortAdd, controller.PortDelete, controller.PortModify, controller.PacketIn, controller.RoleChange)
	defer sub.Close()
	var links *topology.Subscription
	var linkC <-chan topology.Delta
	if m.topo != nil {
		links = m.topo.Subscribe(0, 4096)
		defer func() { links.Close() }()
		linkC = links.C
	}
	resync := time.NewTicker(m.opt.Resync)
	defer resync.Stop()
	sweep := time.NewTicker(m.opt.LeaseSweep)
	defer sweep.Stop()
	m.mu.Lock()
	m.started, m.lastChange, m.inherit = time.Now(), time.Now(), nil
	if m.opt.Settle >= 0 {
		m.inherit = map[uint64]*inherited{}
	}
	m.mu.Unlock()
	settle := time.NewTicker(250 * time.Millisecond) // stopped once settled
	defer settle.Stop()
	if m.opt.Settle < 0 {
		settle.Stop() // no start-up window
	}
	var debounce <-chan time.Time
	var changed <-chan struct{}
	var retry <-chan time.Time
	if w, ok := m.store.(Watcher); ok {
		changed = w.Changed()
	}
	m.Kick()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
			if err := m.reload(); err != nil {
				m.log.Warn("reloading the shared state failed; the configuration in effect stays, retrying in 1s", "err", err)
				retry = time.After(time.Second)
			}
		case <-retry:
			retry = nil
			if err := m.reload(); err != nil {
				m.log.Warn("reloading the shared state failed; the configuration in effect stays, retrying in 1s", "err", err)
				retry = time.After(time.Second)
			}
		case <-settle.C:
			if m.settleCheck() {
				settle.Stop()
				m.log.Info("virtual networks: start-up window over; reconciling fully", "after", time.Since(m.started).Round(time.Millisecond))
				m.reconcileAll(ctx)
			}
		case e := <-sub.C:
			if e.Kind == controller.PacketIn {
				m.packetIn(ctx, e)
				continue
			}
			if e.Kind == controller.SwitchUp {
				m.cameUp()
			}
			if debounce == nil {
				debounce = time.After(m.opt.Debounce)
			}
		case d, ok := <-linkC:
			if !ok { // fell behind: resubscribe and reconcile
				links = m.topo.Subscribe(0, 4096)
				linkC = links.C
				m.Kick()
				continue
			}
			if d.Link != nil && d.Op == topology.OpAdd {
				m.cameUp()
			}
			// added, removed, or gone down (kept as down: an update)
			if d.Link != nil && (d.Op != topology.OpUpdate || !d.Link.Up()) && debounce == nil {
				debounce = time.After(m.opt.Debounce)
			}
		case <-m.kick:
			if debounce == nil {
				debounce = time.After(m.opt.Debounce)
			}
		case <-resync.C:
			m.reconcileAll(ctx)
		case <-sweep.C:
			if _, err := m.sweepLeases(); err != nil { // changes kick a reconciliation
				m.log.Warn("sweeping the DHCP leases failed; will retry", "err", err)
			}
		case <-debounce:
			debounce = nil
			m.reconcileAll(ctx)
		}
	}
}

// cameUp notes that a switch or a direct link came up: the start-up
// window stays open until none has for SettleQuiet.
func (m *Manager) cameUp() {
	m.mu.Lock()
	m.lastChange = time.Now()
	m.mu.Unlock()
}

// settleCheck ends the start-up window when it is due and reports
// whether it ended now.
func (m *Manager) settleCheck() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.inherit == nil {
		return false
	}
	done := time.Since(m.started) >= m.opt.Settle
	if !done && time.Since(m.lastChange) >= m.opt.SettleQuiet {
		done = true
		for _, d := range m.cfg.Datapaths {
			if id, _ := ParseDPID(d.DPID); m.ctl.Switch(id) == nil {
				done = false
				break
			}
		}
	}
	if done {
		m.inherit = nil
	}
	return done
}

// Auditor is told, after each switch's reconciliation, what the switch
// held before the pass and what the pass changed (the flow audit, see
// audit/). It runs in the reconciler's goroutine: it must not block long.
type Auditor interface {
	Reconciled(ctx context.Context, s *controller.Session, prog *Program, before Seen, ch Changes, err error)
}

// SetAuditor installs the auditor (before Run).
func (m *Manager) SetAuditor(a Auditor) {
	m.mu.Lock()
	m.audit = a
	m.mu.Unlock()
}

func (m *Manager) auditor() Auditor {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.audit
}

// ReconcileNow runs one reconciliation pass and returns its first error.
func (m *Manager) ReconcileNow(ctx context.Context) error { return m.reconcileAll(ctx) }

func (m *Manager) reconcileAll(ctx context.Context) error {
	m.recMu.Lock()
	defer m.recMu.Unlock()
	// the leases first, so that the flows follow what the clock and the
	// configuration changed about them
	if _, err := m.sweepLeases(); err != nil {
		m.log.Warn("sweeping the DHCP leases failed; will retry", "err", err)
	}
	m.mu.Lock()
	flush, flushConns := m.flush, m.flushConns
	m.flush, m.flushConns = nil, nil
	m.mu.Unlock()
	progs, notes := m.Programs()
	m.mu.Lock()
	m.notes = notes
	m.mu.Unlock()
	retry := map[uint16]bool{}
	retryConns := map[ofwire.CTFlush]bool{}
	var errs []error
	ids := make([]uint64, 0, len(progs))
	for id := range progs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		s := m.ctl.Switch(id)
		if s == nil || !s.Writable() { // not connected, or another instance of the cluster masters it
			continue
		}
		// in the start-up window, what the switch held before this run
		// is left alone
		var inh *inherited
		m.mu.Lock()
		if m.inherit != nil {
			if m.inherit[id] == nil {
				m.inherit[id] = newInherited()
			}
			inh = m.inherit[id]
		}
		m.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var seen *Seen
		if aud := m.auditor(); aud != nil {
			seen = &Seen{Settling: inh != nil}
		}
		ch, err := reconcile(rctx, s, progs[id], inh, seen)
		cancel()
		if seen != nil && !seen.Read.IsZero() {
			m.auditor().Reconciled(ctx, s, progs[id], *seen, ch, err)
		}
		st := &SwitchStatus{DPID: fmt.Sprintf("%016x", id), Flows: len(progs[id].Flows), Groups: len(progs[id].Groups), Reconciled: time.Now(),
			LastChanges: ch.String(), Settling: inh != nil}
		m.mu.Lock()
		if old, ok := m.status[id]; ok {
			st.Total = old.Total
		}
		m.mu.Unlock()
		st.Total.add(ch)
		if err != nil {
			st.Error = err.Error()
			errs = append(errs, fmt.Errorf("dpid %016x: %w", id, err))
			m.log.Warn("reconciling a switch failed; will retry", "dpid", st.DPID, "err", err)
		} else if !ch.Empty() {
			m.log.Info("switch reconciled", "dpid", st.DPID, "changes", ch.String())
		}
		for z := range flush {
			if err != nil {
				retry[z] = true // the old flows may still be in: flush after the next pass
				continue
			}
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			ferr := s.FlushConntrackZone(fctx, z)
			cancel()
			if ferr != nil {
				retry[z] = true
				m.log.Warn("flushing a conntrack zone after a security change failed; connections the new rules forbid may live on until it works", "dpid", st.DPID, "zone", z, "err", ferr)
				st.Error = fmt.Sprintf("flushing conntrack zone %d: %v", z, ferr)
			} else {
				m.log.Info("conntrack zone flushed after a security change", "dpid", st.DPID, "zone", z)
			}
		}
		for f := range flushConns {
			if flush[f.Zone] {
				continue // the whole zone went above
			}
			if err != nil {
				retryConns[f] = true
				continue
			}
			if ferr := m.flushConn(ctx, s, f); ferr != nil {
				retryConns[f] = true
				m.log.Warn("flushing the connections of a floating IP failed; they may live on until it works", "dpid", st.DPID, "flush", f.String(), "err", ferr)
				st.Error = fmt.Sprintf("flushing conntrack %s: %v", f, ferr)
			}
		}
		m.mu.Lock()
		m.status[id] = st
		m.mu.Unlock()
	}
	if len(retryConns) > 0 {
		m.mu.Lock()
		if m.flushConns == nil {
			m.flushConns = map[ofwire.CTFlush]bool{}
		}
		for f := range retryConns {
			m.flushConns[f] = true
		}
		m.mu.Unlock()
	}
	if len(retry) > 0 {
		m.mu.Lock()
		if m.flush == nil {
			m.flush = map[uint16]bool{}
		}
		for z := range retry {
			m.flush[z] = true
		}
		m.mu.Unlock()
	}
	return errors.Join(errs...)
}

// flushConn forgets the connections f matches on a switch (NXT_CT_FLUSH);
// when the switch answers with an error (an Open vSwitch older than 3.1),
// the whole zone instead (NXT_CT_FLUSH_ZONE). A timeout or a lost session
// is returned without the fallback: our own slowness is no reason to cut
// more than asked.
func (m *Manager) flushConn(ctx context.Context, s *controller.Session, f ofwire.CTFlush) error {
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := s.FlushConntrack(fctx, f)
	var oferr *ofwire.Error
	if err == nil {
		m.log.Info("conntrack connections flushed after a floating IP change", "dpid", fmt.Sprintf("%016x", s.DPID()), "flush", f.String())
		return nil
	}
	if !errors.As(err, &oferr) {
		return err
	}
	m.log.Info("the switch refused a per-connection conntrack flush; flushing the zone", "dpid", fmt.Sprintf("%016x", s.DPID()), "zone", f.Zone, "err", err)
	if zerr := s.FlushConntrackZone(fctx, f.Zone); zerr != nil {
		return fmt.Errorf("%v; then flushing zone %d: %w", err, f.Zone, zerr)
	}
	return nil
}

// fixedIPLocked is the address of an interface in c: its static IP, or
// its active lease. m.mu is held.
func (m *Manager) fixedIPLocked(c *Config, iface string) string {
	for _, in := range c.Interfaces {
		if in.Name != iface {
			continue
		}
		if in.IP != "" {
			return in.IP
		}
		if ip, ok := m.byMAC[in.Network+"/"+in.MAC]; ok {
			return ip
		}
	}
	return ""
}
