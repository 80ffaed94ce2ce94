// Package probes measures every GRE path between the hosts with ICMP echo
// probes sent through that exact tunnel port, decides which paths are
// healthy, and moves the traffic of every virtual network to the healthy
// path by rewriting one OpenFlow group per host pair.
package probes

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/vnet"
)

// Switches is what the prober needs of the controller (*controller.Controller):
// its event bus, the sessions it probes through, and its packet-out budget.
type Switches interface {
	Bus() *controller.Bus
	Switch(dpid uint64) *controller.Session
	Switches() []*controller.Session
	Config() controller.Config
}

// Config tunes probing and failover.
type Config struct {
	// Interval between probes of one path (default 30ms).
	Interval time.Duration
	// Timeout is the shortest time after which an unanswered probe is a
	// miss (default 2 x Interval, at least 50ms). A path's timeout follows
	// its measured round trips like TCP's (smoothed RTT + 4 x variation),
	// between Timeout and TimeoutMax (default 1s, at least Timeout).
	Timeout         time.Duration
	TimeoutMax      time.Duration
	explicitTimeout time.Duration
	// LateLimit: when the prober's loop, a probe reply on its way to it or
	// a datapath's echo is later than this (default 100ms), this host or
	// that datapath is judged late, and the probes due meanwhile are held:
	// counted neither as answered nor as lost (docs/probes.md).
	LateLimit time.Duration
	// EchoInterval is how often every datapath's echo round trip is
	// measured (default 250ms).
	EchoInterval time.Duration
	// Unguarded turns off what keeps a slow host from breaking the
	// network: lateness holds, the other-path witness, the adaptive
	// timeout and keeping the datapath's live paths when probes lose all
	// of them. It is the behaviour before those existed, for comparison
	// (config probes.hold_on_overload: false); it can drop traffic.
	Unguarded bool
	// DownAfter consecutive misses mark a path down (default 3).
	DownAfter int
	// LossWindow probes are kept for the loss ratio (default 50); a path
	// whose loss over the window exceeds LossThreshold (default 0.2) is down.
	LossWindow    int
	LossThreshold float64
	// MaxRTT marks a path down when its average RTT over the window
	// exceeds it (0: off).
	MaxRTT time.Duration
	// HoldDown: a down path must answer every probe for this long before
	// it is used again (default 2s).
	HoldDown time.Duration
	// FlapLimit state changes within FlapWindow (defaults 4 in 60s) make a
	// path "flapping": its hold-down is multiplied by 4 and an event raised.
	FlapLimit  int
	FlapWindow time.Duration
	// Publish, when set, is given the status of every path once per
	// PublishInterval (default 1s), from a goroutine of its own: satellite
	// serve hands it to the collector's metrics stream (history, alerts,
	// exporters). It must not block.
	Publish         func(at time.Time, paths []PathStatus)
	PublishInterval time.Duration
	// Groups override the interval and the verdict thresholds for the
	// paths they select (the first matching group wins).
	Groups []Group
	// PacketOutShare is the share of each switch's packet-out rate limit
	// (controller.Config.PacketOutRate) that probes may use (default 0.5;
	// the rest is for ARP, DHCP and ICMP answers and LLDP). When the paths
	// starting at a switch would need more, their intervals are stretched
	// by the same factor, with a warning: probes that the limiter would
	// refuse are never sent, so they cannot count as lost.
	PacketOutShare float64
	Logger         *slog.Logger
}

// Group selects paths by the names of their hosts and the path number
// (empty or 0: any) and overrides settings for them (zero: keep the
// default).
type Group struct {
	Local, Remote string
	Path          int
	Interval      time.Duration
	DownAfter     int
	LossThreshold float64
	MaxRTT        time.Duration
	HoldDown      time.Duration
}

// settings are the effective settings of one path.
type settings struct {
	interval, timeout time.Duration
	downAfter         int
	lossThreshold     float64
	maxRTT, holdDown  time.Duration
}

// settingsFor resolves a path's settings from the defaults and the first
// group that selects it.
func (c *Config) settingsFor(local, remote string, path int) settings {
	st := settings{interval: c.Interval, timeout: c.Timeout, downAfter: c.DownAfter, lossThreshold: c.LossThreshold, maxRTT: c.MaxRTT, holdDown: c.HoldDown}
	for _, g := range c.Groups {
		if (g.Local != "" && g.Local != local) || (g.Remote != "" && g.Remote != remote) || (g.Path != 0 && g.Path != path) {
			continue
		}
		if g.Interval > 0 {
			st.interval = g.Interval
			if c.explicitTimeout == 0 {
				st.timeout = max(2*g.Interval, 50*time.Millisecond)
			}
		}
		if g.DownAfter > 0 {
			st.downAfter = g.DownAfter
		}
		if g.LossThreshold > 0 {
			st.lossThreshold = g.LossThreshold
		}
		if g.MaxRTT > 0 {
			st.maxRTT = g.MaxRTT
		}
		if g.HoldDown > 0 {
			st.holdDown = g.HoldDown
		}
		break
	}
	return st
}

// tick is the prober's loop period: the shortest interval of any group.
func (c *Config) tick() time.Duration {
	t := c.Interval
	for _, g := range c.Groups {
		if g.Interval > 0 && g.Interval < t {
			t = g.Interval
		}
	}
	return t
}

func (c *Config) defaults() {
	if c.Interval <= 0 {
		c.Interval = 30 * time.Millisecond
	}
	c.explicitTimeout = c.Timeout
	if c.Timeout <= 0 {
		c.Timeout = max(2*c.Interval, 50*time.Millisecond)
	}
	if c.TimeoutMax <= 0 {
		c.TimeoutMax = time.Second
	}
	if c.TimeoutMax < c.Timeout {
		c.TimeoutMax = c.Timeout
	}
	if c.LateLimit <= 0 {
		c.LateLimit = 100 * time.Millisecond
	}
	if c.EchoInterval <= 0 {
		c.EchoInterval = 250 * time.Millisecond
	}
	if c.DownAfter <= 0 {
		c.DownAfter = 3
	}
	if c.LossWindow <= 0 {
		c.LossWindow = 50
	}
	if c.LossThreshold <= 0 {
		c.LossThreshold = 0.2
	}
	if c.HoldDown <= 0 {
		c.HoldDown = 2 * time.Second
	}
	if c.FlapLimit <= 0 {
		c.FlapLimit = 4
	}
	if c.FlapWindow <= 0 {
		c.FlapWindow = time.Minute
	}
	if c.PublishInterval <= 0 {
		c.PublishInterval = time.Second
	}
	if c.PacketOutShare <= 0 || c.PacketOutShare > 1 {
		c.PacketOutShare = 0.5
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// PathKey names one underlay path from a host to another.
type PathKey struct {
	Local, Remote uint64
	Path          int
}

func (k PathKey) String() string { return fmt.Sprintf("%016x->%016x/p%d", k.Local, k.Remote, k.Path) }

// PathStatus is what the API shows for one path.
type PathStatus struct {
	Local      string    `json:"local"`
	Remote     string    `json:"remote"`
	LocalName  string    `json:"local_name"`
	RemoteName string    `json:"remote_name"`
	Path       int       `json:"path"`
	Port       uint32    `json:"port"`
	State      string    `json:"state"` // up, down
	Live       bool      `json:"live"`  // the datapath's view (BFD)
	Active     bool      `json:"active"`
	Flapping   bool      `json:"flapping"`
	Cause      string    `json:"cause,omitempty"`
	Since      time.Time `json:"since"`
	Sent       uint64    `json:"sent"`
	Received   uint64    `json:"received"`
	Loss       float64   `json:"loss"` // over the window
	RTTMinMs   float64   `json:"rtt_min_ms"`
	RTTAvgMs   float64   `json:"rtt_avg_ms"`
	RTTMaxMs   float64   `json:"rtt_max_ms"`
	RTTP99Ms   float64   `json:"rtt_p99_ms"`
	JitterMs   float64   `json:"jitter_ms"`
	Ignored    uint64    `json:"ignored"` // forged or stale replies
	// IntervalMs is the interval probes are sent at: the configured one,
	// or longer while the switch's packet-out budget is short.
	IntervalMs float64 `json:"interval_ms"`
	// Unsent counts probes that could not be sent (the switch's
	// packet-out limit or connection); they are not counted as lost.
	Unsent uint64 `json:"unsent"`
	// Held counts probes neither answered nor counted as lost: this host
	// or a datapath was late when they were due, or every path between the
	// two hosts lost them at the same moment and the datapaths' echoes did
	// not show both ends answering.
	Held uint64 `json:"held"`
	// RTOMs is the path's current probe timeout (smoothed RTT + 4 x
	// variation, within probes.timeout and probes.timeout_max).
	RTOMs float64 `json:"rto_ms"`
}

// pending is a probe on its way: when it was sent (signed into it) and
// when it counts as lost.
type pending struct{ sent, deadline time.Time }

// rec is what became of one probe, kept for the witness rule (a loss
// counts when another path's probe of the same moment came back).
type rec struct {
	seq                uint32
	sent, deadline, at time.Time // at: when the answer was read
	state              uint8
}

const (
	recNone uint8 = iota // not sent
	recPending
	recAnswered
	recLost
	recHeld
)

const histLen = 64

type path struct {
	set                settings
	interval           time.Duration // set.interval, stretched by the budget
	nextSend           time.Time
	key                PathKey
	localName, remName string
	port               uint32

	up, live     bool
	flapping     bool
	cause        string
	since        time.Time
	okSince      time.Time // start of the current run of answered probes
	consecMiss   int
	seq          uint32
	outstanding  map[uint32]pending
	results      []bool          // ring of the last LossWindow results
	rtts         []time.Duration // ring of the last LossWindow RTTs
	ri, rti      int
	sent, recv   uint64
	ignored      uint64
	unsent       uint64
	changes      []time.Time
	firstMiss    time.Time
	srtt, rttvar time.Duration // RFC 6298 estimators, 0 before the first answer
	hist         [histLen]rec
	held         uint64
}

// timeout is how long the path's next probe may take: smoothed RTT + 4 x
// variation within [Timeout, TimeoutMax] (the configured one unguarded or
// before the first answer).
func (p *path) timeout(c *Config) time.Duration {
	if c.Unguarded || p.srtt == 0 {
		return p.set.timeout
	}
	return min(max(p.srtt+4*p.rttvar, p.set.timeout), max(c.TimeoutMax, p.set.timeout))
}

// measure feeds one round trip into the estimators.
func (p *path) measure(rtt time.Duration) {
	if p.srtt == 0 {
		p.srtt, p.rttvar = max(rtt, 1), rtt/2
		return
	}
	d := p.srtt - rtt
	if d < 0 {
		d = -d
	}
	p.rttvar = (3*p.rttvar + d) / 4
	p.srtt = max((7*p.srtt+rtt)/8, 1)
}

func (p *path) record(seq uint32, pd pending) {
	p.hist[seq%histLen] = rec{seq: seq, sent: pd.sent, deadline: pd.deadline, state: recPending}
}

func (p *path) mark(seq uint32, state uint8) {
	if r := &p.hist[seq%histLen]; r.seq == seq {
		r.state = state
	}
}

// answered records when probe seq's answer was read.
func (p *path) answered(seq uint32, at time.Time) {
	if r := &p.hist[seq%histLen]; r.seq == seq {
		r.state, r.at = recAnswered, at
	}
}

// window tells what became of the path's probes sent in [from, to]: one
// came back at least margin before now, or one is still on its way within
// its timeout (or came back only just: answers delayed together, by a
// frozen datapath, come back in bursts, one path's before the other's).
func (p *path) window(from, to, now time.Time, margin time.Duration) (answered, waiting bool) {
	for _, r := range p.hist {
		if r.state == recNone || r.sent.Before(from) || r.sent.After(to) {
			continue
		}
		switch {
		case r.state == recAnswered && now.Sub(r.at) >= margin:
			answered = true
		case r.state == recAnswered, r.state == recPending && !now.After(r.deadline):
			waiting = true
		}
	}
	return answered, waiting
}

// Manager probes the paths and drives failover.
type Manager struct {
	cfg  Config
	ctl  Switches
	vm   Networks
	topo *topology.Model
	log  *slog.Logger
	sign *signer

	mu          sync.Mutex
	paths       map[PathKey]*path
	order       map[[2]uint64][]int // the path order last pushed per host pair
	lastRound   time.Time
	pausedUntil time.Time
	forged      uint64 // replies whose signature did not verify
	stall       chan time.Duration
	ready       map[uint64]bool      // switches holding the probe flows
	installAt   map[uint64]time.Time // next retry of a failed probe-flow install
	stretch     map[uint64]float64   // interval factor last logged per switch
	load        loadState
	kept        map[[2]uint64]bool // pairs whose traffic stays on datapath-live paths every probe lost
}

// Forged is the number of probe replies rejected for a bad signature.
func (m *Manager) Forged() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.forged
}

// Stall blocks the prober's loop for d, as a controller too busy to
// read its packet-ins would (tests use it: nothing may fail over).
func (m *Manager) Stall(d time.Duration) {
	select {
	case m.stall <- d:
	default:
	}
}

// PauseSending stops sending probes for d (what a busy controller looks
// like to the prober). Nothing unanswered during a pause counts as lost.
func (m *Manager) PauseSending(d time.Duration) {
	m.mu.Lock()
	m.pausedUntil = time.Now().Add(d)
	m.mu.Unlock()
}

// Networks is what the prober needs of the virtual networks
// (*vnet.Manager): the datapaths and their tunnel ports to probe, and the
// owner of the tunnel groups to tell when a path order changed.
type Networks interface {
	Config() (vnet.Config, uint64)
	TunnelPortName(remote string, path int) string
	PathOrderChanged(ctx context.Context, local, remote uint64, ports []uint32) error
}

// New returns a prober; register m.PathOrder with the vnet manager
// (vm.SetPathOrder) before running either.
func New(cfg Config, ctl Switches, vm Networks, topo *topology.Model) *Manager {
	cfg.defaults()
	return &Manager{cfg: cfg, ctl: ctl, vm: vm, topo: topo, log: cfg.Logger.With("component", "probes"),
		sign: newSigner(), paths: map[PathKey]*path{}, order: map[[2]uint64][]int{}, stall: make(chan time.Duration, 1), ready: map[uint64]bool{}, installAt: map[uint64]time.Time{}, stretch: map[uint64]float64{},
		load: loadState{spans: map[uint64][]lateSpan{}, echo: map[uint64]*echoState{}}, kept: map[[2]uint64]bool{}}
}

// Config returns the effective settings.
func (m *Manager) Config() Config { return m.cfg }

// PathOrder orders the paths from local to remote: usable paths (probes
// say up and the datapath says live) first, path 1 before path 2. When the
// probes say no path is up, the paths the datapath still says are live
// are kept, in the order last pushed: controller evidence alone never
// drops traffic. Only with no live path either is the list empty and the
// host pair's traffic dropped. Paths never probed yet count as usable.
func (m *Manager) PathOrder(local, remote uint64) []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.orderLocked(local, remote)
}

func (m *Manager) orderLocked(local, remote uint64) []int {
	var out []int
	known := false
	for p := 1; p <= vnet.Paths; p++ {
		ps, ok := m.paths[PathKey{local, remote, p}]
		if !ok {
			continue
		}
		known = true
		if ps.up && ps.live {
			out = append(out, p)
		}
	}
	if !known {
		return []int{1, 2}
	}
	if len(out) == 0 && !m.cfg.Unguarded {
		out = m.keptLocked(local, remote)
	}
	return out
}

// keptLocked is the live paths in the order last pushed, then the other
// live ones.
func (m *Manager) keptLocked(local, remote uint64) []int {
	var out []int
	seen := map[int]bool{}
	add := func(pn int) {
		if p, ok := m.paths[PathKey{local, remote, pn}]; ok && p.live && !seen[pn] {
			seen[pn] = true
			out = append(out, pn)
		}
	}
	for _, pn := range m.order[[2]uint64{local, remote}] {
		add(pn)
	}
	for pn := 1; pn <= vnet.Paths; pn++ {
		add(pn)
	}
	return out
}

// Paths returns the status of every path.
func (m *Manager) Paths() []PathStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]PathStatus, 0, len(m.paths))
	for _, p := range m.paths {
		out = append(out, m.statusLocked(p))
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Local != b.Local {
			return a.Local < b.Local
		}
		if a.Remote != b.Remote {
			return a.Remote < b.Remote
		}
		return a.Path < b.Path
	})
	return out
}

func (m *Manager) statusLocked(p *path) PathStatus {
	st := PathStatus{Local: fmt.Sprintf("%016x", p.key.Local), Remote: fmt.Sprintf("%016x", p.key.Remote),
		LocalName: p.localName, RemoteName: p.remName, Path: p.key.Path, Port: p.port, State: "down",
		Live: p.live, Flapping: p.flapping, Cause: p.cause, Since: p.since, Sent: p.sent, Received: p.recv, Ignored: p.ignored,
		IntervalMs: float64(max(p.interval, p.set.interval)) / 1e6, Unsent: p.unsent, Held: p.held,
		RTOMs: round2(float64(p.timeout(&m.cfg)) / 1e6)}
	if p.up {
		st.State = "up"
	}
	order, pushed := m.order[[2]uint64{p.key.Local, p.key.Remote}]
	if !pushed {
		order = m.orderLocked(p.key.Local, p.key.Remote)
	}
	st.Active = len(order) > 0 && order[0] == p.key.Path
	lost := 0
	for _, ok := range p.results {
		if !ok {
			lost++
		}
	}
	if len(p.results) > 0 {
		st.Loss = float64(lost) / float64(len(p.results))
	}
	if len(p.rtts) > 0 {
		sorted := append([]time.Duration(nil), p.rtts...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		var sum time.Duration
		for _, r := range sorted {
			sum += r
		}
		ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
		st.RTTMinMs, st.RTTMaxMs = ms(sorted[0]), ms(sorted[len(sorted)-1])
		st.RTTAvgMs = ms(sum / time.Duration(len(sorted)))
		st.RTTP99Ms = ms(sorted[int(math.Ceil(0.99*float64(len(sorted))))-1])
		var jit float64
		for i := 1; i < len(p.rtts); i++ {
			jit += math.Abs(ms(p.rtts[i]) - ms(p.rtts[i-1]))
		}
		if len(p.rtts) > 1 {
			st.JitterMs = jit / float64(len(p.rtts)-1)
		}
	}
	return st
}

// publish hands every path's status to Config.Publish once per
// PublishInterval until ctx ends.
func (m *Manager) publish(ctx context.Context) {
	t := time.NewTicker(m.cfg.PublishInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			m.cfg.Publish(now, m.Paths())
		}
	}
}

// Run probes until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	sub := m.ctl.Bus().Subscribe(8192, controller.SwitchUp, controller.PortModify, controller.PortAdd, controller.PortDelete, controller.PacketIn)
	defer sub.Close()
	if m.cfg.Publish != nil {
		pctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); m.publish(pctx) }()
		defer func() { stop(); <-done }()
	}
	for _, s := range m.ctl.Switches() {
		m.installFlows(ctx, s)
	}
	ectx, stopEcho := context.WithCancel(ctx)
	defer stopEcho()
	go m.echoLoop(ectx)
	tick := time.NewTicker(m.cfg.tick())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case d := <-m.stall:
			time.Sleep(d)
		case e := <-sub.C:
			m.event(ctx, e)
		case now := <-tick.C:
			m.mu.Lock()
			m.noteTick(m.lastRound, now, time.Now())
			m.mu.Unlock()
			// replies already received are counted before anything is
			// judged lost, however late this loop got to them
			for drained := false; !drained; {
				select {
				case e := <-sub.C:
					m.event(ctx, e)
				default:
					drained = true
				}
			}
			m.retryInstall(ctx, now)
			m.round(ctx, now)
		}
	}
}

// event handles one switch event: a switch that connects gets the probe
// flows, a probe reply is measured, a port change may change the paths.
func (m *Manager) event(ctx context.Context, e controller.Event) {
	switch e.Kind {
	case controller.SwitchUp:
		if s := m.ctl.Switch(e.DPID); s != nil {
			m.installFlows(ctx, s)
		}
	case controller.PacketIn:
		if controller.Cookie(e.PacketIn.Cookie).Kind() == controller.OwnerProbe {
			m.mu.Lock()
			m.noteEventDelay(e.Time, time.Now())
			m.mu.Unlock()
		}
		m.reply(ctx, e)
	default:
		m.portChange(ctx, e)
	}
}

// retryInstall installs the probe flows again, at most once a second, on
// connected switches where installing them failed: without them their
// paths are never probed.
func (m *Manager) retryInstall(ctx context.Context, now time.Time) {
	var todo []*controller.Session
	m.mu.Lock()
	for _, s := range m.ctl.Switches() {
		if id := s.DPID(); !m.ready[id] && !now.Before(m.installAt[id]) {
			m.installAt[id] = now.Add(time.Second)
			todo = append(todo, s)
		}
	}
	m.mu.Unlock()
	for _, s := range todo {
		ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
		m.installFlows(ictx, s)
		cancel()
	}
}

// tunnelID is the OXM tunnel_id field with value k.
func tunnelID(k uint64) ofp.XM {
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, k)
	return ofp.XM{Class: ofp.XMClassOpenflowBasic, Type: ofp.XMTypeTunnelID, Value: v}
}

// Flows are the probe flows of a switch's ingress table (installFlows).
func Flows() []controller.Flow {
	back := ofp.Instructions{&ofp.InstructionApplyActions{Actions: ofp.Actions{
		&ofp.ActionSetField{Field: tunnelID(KeyReply)},
		&ofp.ActionOutput{Port: ofp.PortIn, MaxLen: ofp.ContentLenNoBuffer}}}}
	punt := ofp.Instructions{&ofp.InstructionApplyActions{Actions: ofp.Actions{
		&ofp.ActionOutput{Port: ofp.PortController, MaxLen: ofp.ContentLenNoBuffer}}}}
	return []controller.Flow{
		{Table: 0, Priority: 65000, Cookie: controller.NewCookie(controller.OwnerProbe, 0, 1), Match: []ofp.XM{tunnelID(KeyRequest)}, Instructions: back},
		{Table: 0, Priority: 65000, Cookie: controller.NewCookie(controller.OwnerProbe, 0, 2), Match: []ofp.XM{tunnelID(KeyReply)}, Instructions: punt},
	}
}

// IntendedFlows returns the probe flows the switch should hold: none
// until they were installed on it (the flow audit, audit/).
func (m *Manager) IntendedFlows(dpid uint64) ([]controller.Flow, bool) {
	m.mu.Lock()
	ready := m.ready[dpid]
	m.mu.Unlock()
	if !ready {
		return nil, false
	}
	return Flows(), true
}

// installFlows puts the probe flows in a switch's ingress table: a probe
// request from a tunnel is sent back where it came from as a reply, a
// reply goes to the controller. Neither can reach an endpoint.
func (m *Manager) installFlows(ctx context.Context, s *controller.Session) {
	flows := Flows()
	if err := s.AddFlows(ctx, flows...); err != nil {
		m.log.Warn("installing probe flows failed", "dpid", fmt.Sprintf("%016x", s.DPID()), "err", err)
		return
	}
	m.mu.Lock()
	m.ready[s.DPID()] = true
	m.mu.Unlock()
}

// refreshPaths builds the path list from the virtual network datapaths
// and their tunnel ports.
func (m *Manager) refreshPaths() {
	cfg, _ := m.vm.Config()
	type dp struct {
		name string
		id   uint64
	}
	var dps []dp
	for _, d := range cfg.Datapaths {
		id, _ := vnet.ParseDPID(d.DPID)
		dps = append(dps, dp{d.Name, id})
	}
	seen := map[PathKey]bool{}
	for _, a := range dps {
		s := m.ctl.Switch(a.id)
		if s == nil {
			continue
		}
		ports := map[string]ofwire.Port{}
		for _, p := range s.Ports() {
			ports[p.Name] = p
		}
		for _, b := range dps {
			if a.id == b.id {
				continue
			}
			for p := 1; p <= vnet.Paths; p++ {
				port, ok := ports[m.vm.TunnelPortName(b.name, p)]
				if !ok {
					continue
				}
				k := PathKey{a.id, b.id, p}
				seen[k] = true
				if ps, ok := m.paths[k]; ok {
					ps.port = port.No
					continue
				}
				now := time.Now()
				m.paths[k] = &path{set: m.cfg.settingsFor(a.name, b.name, p), key: k, localName: a.name, remName: b.name, port: port.No, up: true,
					live:  port.State&ofwire.PortStateLive != 0,
					since: now, okSince: now, outstanding: map[uint32]pending{}}
			}
		}
	}
	for k := range m.paths {
		if !seen[k] {
			delete(m.paths, k)
		}
	}
}

// round sends one probe on every path and judges the misses.
func (m *Manager) round(ctx context.Context, now time.Time) {
	m.mu.Lock()
	m.refreshPaths()
	// After a stall of the controller (this loop ran late, or sending was
	// paused) the probes still out get a fresh deadline instead of
	// counting as lost: the path did not lose them, we were not looking.
	stalled := !m.lastRound.IsZero() && now.Sub(m.lastRound) > max(m.cfg.Timeout, 2*m.cfg.tick())
	paused := now.Before(m.pausedUntil)
	m.lastRound = now
	if stalled || paused {
		for _, p := range m.paths {
			for seq, pd := range p.outstanding {
				pd.deadline = now.Add(p.timeout(&m.cfg))
				p.outstanding[seq] = pd
				if r := &p.hist[seq%histLen]; r.seq == seq {
					r.deadline = pd.deadline
				}
			}
		}
	}
	m.updateLoad(now)
	if paused {
		m.mu.Unlock()
		return
	}
	type send struct {
		s     *controller.Session
		p     *path
		seq   uint32
		port  uint32
		frame []byte
	}
	var sends []send
	changed := m.expireLocked(now, func(dp uint64) time.Time {
		if s := m.ctl.Switch(dp); s != nil {
			return s.LastReceived()
		}
		return time.Time{}
	})
	factor := m.budgetLocked()
	for _, p := range m.paths {
		s := m.ctl.Switch(p.key.Local)
		if s == nil {
			continue
		}
		// both ends must be connected and hold the probe flows, or the probe
		// would be lost for a reason that is not the path's
		if remote := m.ctl.Switch(p.key.Remote); remote == nil || !m.ready[p.key.Remote] || !m.ready[p.key.Local] {
			continue
		}
		if now.Before(p.nextSend) {
			continue // this path's group probes less often
		}
		p.interval = time.Duration(float64(p.set.interval) * max(1, factor[p.key.Local]))
		p.nextSend = now.Add(p.interval - m.cfg.tick()/2)
		p.seq++
		pd := pending{sent: now, deadline: now.Add(p.timeout(&m.cfg))}
		p.outstanding[p.seq] = pd
		p.record(p.seq, pd)
		p.sent++
		sends = append(sends, send{s, p, p.seq, p.port, m.sign.encode(probe{Local: p.key.Local, Remote: p.key.Remote, Path: uint8(p.key.Path), Seq: p.seq, Sent: now})})
	}
	m.mu.Unlock()
	for pair := range changed {
		m.apply(ctx, pair[0], pair[1])
	}
	for _, sd := range sends {
		acts := ofp.Actions{
			&ofp.ActionSetField{Field: tunnelID(KeyRequest)},
			&ofp.ActionOutput{Port: ofp.PortNo(sd.port), MaxLen: ofp.ContentLenNoBuffer},
		}
		// never wait: a probe that cannot go now is simply not sent, and
		// then it is not a probe the path lost
		pctx, cancel := context.WithTimeout(ctx, time.Millisecond)
		err := sd.s.PacketOut(pctx, uint32(ofp.PortController), acts, sd.frame)
		cancel()
		if err != nil {
			m.mu.Lock()
			if _, ok := sd.p.outstanding[sd.seq]; ok {
				delete(sd.p.outstanding, sd.seq)
				sd.p.mark(sd.seq, recNone)
				sd.p.sent--
				sd.p.unsent++
			}
			m.mu.Unlock()
		}
	}
}

// budgetLocked returns, per switch, how much the intervals of the paths
// starting there must be stretched so that their probes stay within
// PacketOutShare of the switch's packet-out rate (1: not at all), and logs
// when that changes. m.mu is held.
func (m *Manager) budgetLocked() map[uint64]float64 {
	rate := m.ctl.Config().PacketOutRate * m.cfg.PacketOutShare
	need := map[uint64]float64{} // probes/s per switch
	paths := map[uint64]int{}
	for _, p := range m.paths {
		if p.set.interval > 0 {
			need[p.key.Local] += float64(time.Second) / float64(p.set.interval)
			paths[p.key.Local]++
		}
	}
	factor := make(map[uint64]float64, len(need))
	for dpid, n := range need {
		f := 1.0
		if rate > 0 && n > rate {
			f = n / rate
		}
		factor[dpid] = f
		last, logged := m.stretch[dpid]
		if !logged {
			last = 1
		}
		if f > 1 && (f > last*1.05 || f < last/1.05) {
			m.log.Warn("probe intervals stretched: the switch's packet-out budget is too small for its paths",
				"dpid", controller.FormatDPID(dpid), "paths", paths[dpid], "need_pps", int(n), "budget_pps", int(rate),
				"factor", fmt.Sprintf("%.2f", f), "hint", "raise controller.packet_out_rate or probes.interval (or an interval per path group)")
			m.stretch[dpid] = f
		} else if f == 1 && last > 1 {
			m.log.Info("probe intervals back to configured: the packet-out budget suffices again", "dpid", controller.FormatDPID(dpid), "paths", paths[dpid])
			delete(m.stretch, dpid)
		}
	}
	return factor
}

// fate is what an unanswered probe past its deadline counts as.
type fate int

const (
	fateWait fate = iota // not yet known
	fateLost             // the path lost it
	fateHeld             // neither answered nor lost: nobody can tell
)

// maxWait is how long an unanswered probe may wait for evidence either way
// before it is held.
const maxWait = 3 * time.Second

// fateOf decides about probe pd of path p, unanswered past its deadline.
// It is lost when another path between the same two hosts got a probe of
// the same moment through, or — when every path between them lost theirs
// — when both datapaths then answered an echo promptly (the network
// between them failed, not a host). It is held when this host or either
// datapath was late meanwhile, or when no evidence came within maxWait.
// m.mu is held.
func (m *Manager) fateOf(p *path, pd pending, now time.Time) fate {
	if m.cfg.Unguarded {
		return fateLost
	}
	if m.lateDuring(p.key.Local, p.key.Remote, pd.sent, now) {
		return fateHeld
	}
	waiting := false
	for pn := 1; pn <= vnet.Paths; pn++ {
		q, ok := m.paths[PathKey{p.key.Local, p.key.Remote, pn}]
		if !ok || pn == p.key.Path {
			continue
		}
		answered, w := q.window(pd.sent.Add(-m.cfg.tick()/2), pd.deadline, now, m.cfg.tick())
		if answered {
			return fateLost
		}
		waiting = waiting || w
	}
	if waiting {
		return fateWait
	}
	margin := max(p.timeout(&m.cfg), 2*m.cfg.tick())
	if m.echoFresh(p.key.Local, pd.deadline, now, margin) && m.echoFresh(p.key.Remote, pd.deadline, now, margin) {
		return fateLost
	}
	if now.Sub(pd.sent) > maxWait {
		return fateHeld
	}
	return fateWait
}

// expireLocked settles the probes past their deadline and returns the
// host pairs whose verdict changed. A probe is settled only once its local
// switch's connection has delivered something read after the deadline
// (lastRx): if nothing was read, the controller is behind, not the path.
// m.mu is held.
func (m *Manager) expireLocked(now time.Time, lastRx func(dp uint64) time.Time) map[[2]uint64]bool {
	changed := map[[2]uint64]bool{}
	rx := map[uint64]time.Time{}
	// oldest first, so that consecutive misses count in order
	type due struct {
		p   *path
		seq uint32
		pd  pending
	}
	var list []due
	waitingSince := map[uint64]time.Time{} // the oldest probe out per local switch
	for _, p := range m.paths {
		t, ok := rx[p.key.Local]
		if !ok {
			t = lastRx(p.key.Local)
			rx[p.key.Local] = t
		}
		for seq, pd := range p.outstanding {
			if w, ok := waitingSince[p.key.Local]; !ok || pd.sent.Before(w) {
				waitingSince[p.key.Local] = pd.sent
			}
			if now.After(pd.deadline) && t.After(pd.deadline) {
				list = append(list, due{p, seq, pd})
			}
		}
	}
	// A switch that sent nothing at all for longer than the limit while
	// its probes' answers were due is frozen or cut off from us: late.
	for dp, t := range rx {
		if w, ok := waitingSince[dp]; ok && now.Sub(w) > m.cfg.LateLimit && !t.IsZero() {
			m.noteLate(dp, t, now, now.Sub(t), "nothing read from the switch")
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].pd.sent.Before(list[j].pd.sent) })
	for _, d := range list {
		switch m.fateOf(d.p, d.pd, now) {
		case fateWait:
			continue
		case fateHeld:
			delete(d.p.outstanding, d.seq)
			d.p.mark(d.seq, recHeld)
			d.p.held++
			m.load.held++
		case fateLost:
			delete(d.p.outstanding, d.seq)
			d.p.mark(d.seq, recLost)
			m.result(d.p, false, 0, now)
			if d.p.consecMiss == 1 {
				d.p.firstMiss = d.pd.sent
			}
			if m.judge(d.p, now) {
				changed[[2]uint64{d.p.key.Local, d.p.key.Remote}] = true
			}
		}
	}
	return changed
}

// result records one probe outcome; the caller holds m.mu.
func (m *Manager) result(p *path, ok bool, rtt time.Duration, now time.Time) {
	if len(p.results) < m.cfg.LossWindow {
		p.results = append(p.results, ok)
	} else {
		p.results[p.ri] = ok
		p.ri = (p.ri + 1) % len(p.results)
	}
	if ok {
		p.measure(rtt)
		if len(p.rtts) < m.cfg.LossWindow {
			p.rtts = append(p.rtts, rtt)
		} else {
			p.rtts[p.rti] = rtt
			p.rti = (p.rti + 1) % len(p.rtts)
		}
		if p.consecMiss > 0 {
			p.okSince = now
		}
		p.consecMiss = 0
		return
	}
	if p.consecMiss == 0 {
		p.firstMiss = now.Add(-p.set.timeout)
	}
	p.consecMiss++
	p.okSince = time.Time{}
}

// judge updates a path's verdict; it reports whether it changed.
func (m *Manager) judge(p *path, now time.Time) bool {
	lost := 0
	for _, ok := range p.results {
		if !ok {
			lost++
		}
	}
	loss := 0.0
	if len(p.results) >= 10 {
		loss = float64(lost) / float64(len(p.results))
	}
	var avg time.Duration
	for _, r := range p.rtts {
		avg += r
	}
	if len(p.rtts) > 0 {
		avg /= time.Duration(len(p.rtts))
	}
	if p.up {
		var cause string
		switch {
		case p.consecMiss >= p.set.downAfter:
			cause = fmt.Sprintf("probe: %d probes in a row unanswered", p.consecMiss)
		case loss > p.set.lossThreshold:
			cause = fmt.Sprintf("probe: %.0f%% loss over the last %d probes", 100*loss, len(p.results))
		case p.set.maxRTT > 0 && avg > p.set.maxRTT:
			cause = fmt.Sprintf("probe: average RTT %s over %s", avg.Round(time.Microsecond), p.set.maxRTT)
		default:
			return false
		}
		m.transition(p, false, cause, now)
		return true
	}
	hold := p.set.holdDown
	if p.flapping {
		hold *= 4
	}
	if !p.okSince.IsZero() && now.Sub(p.okSince) >= hold && loss <= p.set.lossThreshold/2 {
		m.transition(p, true, fmt.Sprintf("probe: every probe answered for %s", hold), now)
		return true
	}
	return false
}

func (m *Manager) transition(p *path, up bool, cause string, now time.Time) {
	p.up, p.cause, p.since = up, cause, now
	p.changes = append(p.changes, now)
	for len(p.changes) > 0 && now.Sub(p.changes[0]) > m.cfg.FlapWindow {
		p.changes = p.changes[1:]
	}
	wasFlapping := p.flapping
	p.flapping = len(p.changes) >= m.cfg.FlapLimit
	state := "down"
	if up {
		state = "up"
	}
	m.log.Info("tunnel path "+state, "path", p.key.String(), "local", p.localName, "remote", p.remName, "cause", cause)
	if m.topo != nil {
		m.topo.AddEvent(topology.Event{Kind: "tunnel-path-" + state, Time: now, DPID: topology.DPID(p.key.Local), Port: p.port,
			Message: fmt.Sprintf("path %d from %s to %s is %s (%s)", p.key.Path, p.localName, p.remName, state, cause)})
		if p.flapping && !wasFlapping {
			m.topo.AddEvent(topology.Event{Kind: "tunnel-flapping", Time: now, DPID: topology.DPID(p.key.Local), Port: p.port,
				Message: fmt.Sprintf("path %d from %s to %s changed state %d times in %s: failback held down %s", p.key.Path, p.localName, p.remName, len(p.changes), m.cfg.FlapWindow, 4*p.set.holdDown)})
		}
	}
}

// reply handles a returned probe.
func (m *Manager) reply(ctx context.Context, e controller.Event) {
	pi := e.PacketIn
	if controller.Cookie(pi.Cookie).Kind() != controller.OwnerProbe {
		return
	}
	pr, err := m.sign.decode(pi.Data)
	m.mu.Lock()
	if err != nil {
		m.forged++
		m.mu.Unlock()
		return
	}
	p := m.paths[PathKey{pr.Local, pr.Remote, int(pr.Path)}]
	if p == nil || pr.Local != e.DPID || p.port != pi.InPort() {
		if p != nil {
			p.ignored++
		}
		m.mu.Unlock()
		return
	}
	pd, ok := p.outstanding[pr.Seq]
	if !ok || !pd.sent.Equal(pr.Sent) {
		p.ignored++ // late (already counted as a miss), replayed or forged sequence
		m.mu.Unlock()
		return
	}
	delete(p.outstanding, pr.Seq)
	p.answered(pr.Seq, e.Time)
	p.recv++
	m.result(p, true, e.Time.Sub(pd.sent), e.Time)
	changed := m.judge(p, e.Time)
	m.mu.Unlock()
	if changed {
		m.apply(ctx, pr.Local, pr.Remote)
	}
}

// portChange follows the datapath's view: a tunnel port losing LIVE (BFD)
// is a down path at once.
func (m *Manager) portChange(ctx context.Context, e controller.Event) {
	m.mu.Lock()
	var pair *[2]uint64
	for _, p := range m.paths {
		if p.key.Local != e.DPID || p.port != e.Port.No {
			continue
		}
		live := e.Port.State&ofwire.PortStateLive != 0 && e.Port.Up()
		if live == p.live {
			continue
		}
		p.live = live
		state := "not live"
		if live {
			state = "live"
		}
		m.log.Info("tunnel port "+state, "path", p.key.String(), "cause", "bfd")
		if m.topo != nil {
			m.topo.AddEvent(topology.Event{Kind: "tunnel-port-" + map[bool]string{true: "live", false: "dead"}[live], Time: e.Time,
				DPID: topology.DPID(p.key.Local), Port: p.port,
				Message: fmt.Sprintf("path %d from %s to %s: tunnel port %s (bfd)", p.key.Path, p.localName, p.remName, state)})
		}
		pair = &[2]uint64{p.key.Local, p.key.Remote}
	}
	m.mu.Unlock()
	if pair != nil {
		m.apply(ctx, pair[0], pair[1])
	}
}

// apply pushes the host pair's path order to the local switch: one group
// change, whatever the number of flows. The virtual network reconciler
// computes the same group from PathOrder, so it agrees.
func (m *Manager) apply(ctx context.Context, local, remote uint64) {
	start := time.Now()
	m.mu.Lock()
	order := m.orderLocked(local, remote)
	key := [2]uint64{local, remote}
	prev, had := m.order[key]
	usable := false
	for pn := 1; pn <= vnet.Paths; pn++ {
		if p, ok := m.paths[PathKey{local, remote, pn}]; ok && p.up && p.live {
			usable = true
		}
	}
	kept := len(order) > 0 && !usable && !m.cfg.Unguarded
	wasKept := m.kept[key]
	m.kept[key] = kept
	same := had && fmt.Sprint(prev) == fmt.Sprint(order)
	if same && kept == wasKept {
		m.mu.Unlock()
		return
	}
	var ports []uint32
	var firstMiss time.Time
	var cause string
	for _, pn := range order {
		ports = append(ports, m.paths[PathKey{local, remote, pn}].port)
	}
	for pn := 1; pn <= vnet.Paths; pn++ {
		if p, ok := m.paths[PathKey{local, remote, pn}]; ok && (!p.up || !p.live) {
			if firstMiss.IsZero() || (!p.firstMiss.IsZero() && p.firstMiss.Before(firstMiss)) {
				firstMiss = p.firstMiss
			}
			cause = p.cause
			if !p.live {
				cause = "bfd: tunnel port not live"
			}
		}
	}
	m.order[key] = order
	localName, remName := "", ""
	if p, ok := m.paths[PathKey{local, remote, 1}]; ok {
		localName, remName = p.localName, p.remName
	}
	m.mu.Unlock()

	if same {
		// the group stays; only whether the probes agree with it changed
		if kept {
			msg := fmt.Sprintf("%s -> %s: probes lost on all paths; datapath says live; traffic kept on path %d (%s)", localName, remName, order[0], cause)
			m.log.Warn(msg, "kind", "tunnel-kept")
			if m.topo != nil {
				m.topo.AddEvent(topology.Event{Kind: "tunnel-kept", Time: time.Now(), DPID: topology.DPID(local), Message: msg})
			}
		} else {
			m.log.Info("tunnel probes answer again: traffic stays where it is", "local", localName, "remote", remName, "order", fmt.Sprint(order))
		}
		return
	}
	if m.ctl.Switch(local) == nil {
		return
	}
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	// the virtual networks own the group: they rewrite it in this order
	if err := m.vm.PathOrderChanged(actx, local, remote, ports); err != nil {
		m.log.Warn("rewriting the tunnel group failed; the reconciler will retry", "local", localName, "remote", remName, "err", err)
	}
	took := time.Since(start)
	var what, kind string
	switch {
	case kept:
		kind, what = "tunnel-kept", fmt.Sprintf("probes lost on all paths; datapath says live; traffic kept on path %d", order[0])
	case !had && fmt.Sprint(order) == "[1 2]":
		return // first sight of a healthy pair: nothing moved
	case len(order) > 0 && len(prev) > 0 && order[0] == prev[0]:
		m.log.Info("tunnel backup path changed", "local", localName, "remote", remName, "order", fmt.Sprint(order))
		return // the active path stays: no traffic moved
	case len(order) == 0:
		kind, what = "tunnel-down", "both paths down: traffic dropped"
	case order[0] == 1 && (!had || len(prev) == 0 || prev[0] != 1):
		kind, what = "tunnel-failback", "traffic back on path 1"
		cause = "path 1 healthy again for the hold-down"
	default:
		kind, what = "tunnel-failover", fmt.Sprintf("traffic moved to path %d", order[0])
	}
	detect := ""
	if !firstMiss.IsZero() && kind == "tunnel-failover" {
		detect = fmt.Sprintf(", %s after the first lost probe", time.Since(firstMiss).Round(time.Millisecond))
	}
	msg := fmt.Sprintf("%s -> %s: %s (%s); group rewritten in %s%s", localName, remName, what, cause, took.Round(time.Millisecond), detect)
	m.log.Warn(msg, "kind", kind)
	if m.topo != nil {
		m.topo.AddEvent(topology.Event{Kind: kind, Time: time.Now(), DPID: topology.DPID(local), Message: msg})
	}
}
