package lldp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netrack/openflow/ofp"
	"golang.org/x/time/rate"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/topology"
)

// Switches is what discovery needs of the controller (*controller.Controller):
// its event bus and its switch sessions.
type Switches interface {
	Bus() *controller.Bus
	Switch(dpid uint64) *controller.Session
	Switches() []*controller.Session
}

// DiscoveryConfig tunes link discovery.
type DiscoveryConfig struct {
	// Interval between two probes of the same port while it is new
	// (default 1s). Probes are spread evenly over the interval in 10
	// slots (probeSlots), not sent in one burst; events are not waited
	// for: a switch that connects and a port that comes up are probed at
	// once (see ImmediateRate).
	Interval time.Duration
	// SteadyInterval is how often a settled port is probed: one whose
	// link is confirmed (its probes came back twice), or one that has
	// been up for Misses intervals without a link (it faces a host). New
	// ports and links seen only once are probed every Interval. It is
	// rounded to a whole number of intervals; 0 means Interval (every
	// port every Interval, the heaviest setting).
	//
	// The trade-off: a port going down removes its links at once, and a
	// port coming up is probed at once, whatever this is. It only sets
	// how soon a silent failure is found, a link that stops passing
	// probes while both its ports stay up (a broken middlebox, a flow
	// dropping LLDP): after Misses x SteadyInterval.
	SteadyInterval time.Duration
	// Misses is how many probe intervals (steady intervals for settled
	// ports) a link may go unseen before it is removed (default 3). A port
	// going down removes its links at once.
	Misses int
	// ImmediateRate caps the probes sent at once on events (a switch
	// connecting, a port coming up, the far end of a link found in one
	// direction) over all switches, in probes per second (default 10000,
	// burst a tenth of a second's worth). Each switch's probes are paced
	// by its own packet-out limit as well, so a thousand switches
	// connecting at once cost a bounded burst, not a flood.
	ImmediateRate float64
	// MaxAge is the age ceiling (default 30s): a correctly signed probe
	// sent longer ago is stale and dropped. It is generous on purpose: a
	// probe received twice is a replay however young it is (ReplayGuard),
	// so a slow switch or controller never turns genuine probes into
	// security events.
	MaxAge time.Duration
	// TTL written into the frames (default 120s).
	TTL time.Duration
	// SystemName written into the frames (default "satellite").
	SystemName string
	// EdgePort, when set, names the ports that face VMs (those that carry
	// a virtual-network interface): no probe is sent out of them, tenants
	// see no infrastructure frames, and an LLDP frame arriving on one is
	// an lldp-edge-port security event, never a link (two VMs relaying
	// probes to each other cannot make a fake link).
	EdgePort func(dpid uint64, port uint32) bool
	// SecurityEventEvery limits security events to one per port and kind
	// in this period (default 10s); every frame is still counted.
	SecurityEventEvery time.Duration
	Logger             *slog.Logger
}

func (c *DiscoveryConfig) defaults() {
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.SteadyInterval < c.Interval {
		c.SteadyInterval = c.Interval
	}
	if c.Misses <= 0 {
		c.Misses = 3
	}
	if c.ImmediateRate <= 0 {
		c.ImmediateRate = 10000
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.TTL <= 0 {
		c.TTL = 120 * time.Second
	}
	if c.SystemName == "" {
		c.SystemName = "satellite"
	}
	if c.SecurityEventEvery <= 0 {
		c.SecurityEventEvery = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Discovery sends signed LLDP probes out of every live port of every
// switch and turns the probes that come back into links in the model.
type Discovery struct {
	cfg    DiscoveryConfig
	ctl    Switches
	model  *topology.Model
	signer *Signer
	log    *slog.Logger

	stats    discoveryCounters
	replays  *ReplayGuard
	lastSent atomic.Int64 // the last send time signed, unix ns
	mu       sync.Mutex
	lastSec  map[secKey]time.Time
	hold     func() (bool, string) // the prober's judge of this host's load
	held     string                // why link removal is held now ("": it is not)
	since    time.Time
	logged   bool                      // the hold was logged; said again only after a quiet half minute
	lastOff  time.Time                 // when the last hold ended
	silent   map[topology.LinkKey]bool // silent links kept because their switch's other links are silent too
	late     atomic.Int64              // unix ns of the probe loop's last send later than a quarter interval
	early    []early                   // probes waiting for the model to know their ports (Run's goroutine only)

	steady  int             // SteadyInterval in whole intervals (at least 1)
	burstRL *rate.Limiter   // ImmediateRate over all switches
	ctx     context.Context // Run's, for the immediate rounds
	pmu     sync.Mutex      // guards ports and bursts
	ports   map[topology.Endpoint]*portState
	bursts  map[uint64]*burst
}

type secKey struct {
	ep   topology.Endpoint
	kind string
}

type discoveryCounters struct {
	sent, sendErrors, received, accepted  atomic.Uint64
	unsigned, badSignature, stale, future atomic.Uint64
	replayed, malformed, unknownSource    atomic.Uint64
	edgePort                              atomic.Uint64
	heldRemovals, immediate               atomic.Uint64
}

// Stats are discovery's counters.
type Stats struct {
	ProbesSent    uint64 `json:"probes_sent"`
	SendErrors    uint64 `json:"send_errors"`
	Received      uint64 `json:"received"`
	Accepted      uint64 `json:"accepted"`
	Unsigned      uint64 `json:"unsigned"`
	BadSignature  uint64 `json:"bad_signature"`
	Stale         uint64 `json:"stale"`
	Replayed      uint64 `json:"replayed"`
	EdgePort      uint64 `json:"edge_port"`
	Future        uint64 `json:"future"`
	Malformed     uint64 `json:"malformed"`
	UnknownSource uint64 `json:"unknown_source"`
	// HeldRemovals counts checks that kept a silent link: its switch's
	// other links were silent too, or this host was overloaded.
	HeldRemovals uint64 `json:"held_removals"`
	// Immediate counts the probes sent at once on an event (a switch
	// connecting, a port coming up) rather than on the schedule.
	Immediate uint64 `json:"probes_immediate"`
}

// NewDiscovery returns a discovery loop; signer holds the controller's
// LLDP secret.
func NewDiscovery(cfg DiscoveryConfig, ctl Switches, model *topology.Model, signer *Signer) *Discovery {
	cfg.defaults()
	steady := int((cfg.SteadyInterval + cfg.Interval/2) / cfg.Interval)
	perBurst := max(1, int(cfg.ImmediateRate/10))
	return &Discovery{cfg: cfg, ctl: ctl, model: model, signer: signer, replays: NewReplayGuard(cfg.MaxAge),
		log: cfg.Logger.With("component", "discovery"), lastSec: make(map[secKey]time.Time), silent: map[topology.LinkKey]bool{},
		steady: max(1, steady), burstRL: rate.NewLimiter(rate.Limit(cfg.ImmediateRate), perBurst), ctx: context.Background(),
		ports: map[topology.Endpoint]*portState{}, bursts: map[uint64]*burst{}}
}

// Config returns the effective settings.
func (d *Discovery) Config() DiscoveryConfig { return d.cfg }

// Stats returns the counters.
func (d *Discovery) Stats() Stats {
	s := &d.stats
	return Stats{ProbesSent: s.sent.Load(), SendErrors: s.sendErrors.Load(), Received: s.received.Load(),
		Accepted: s.accepted.Load(), Unsigned: s.unsigned.Load(), BadSignature: s.badSignature.Load(),
		Stale: s.stale.Load(), Replayed: s.replayed.Load(), EdgePort: s.edgePort.Load(), Future: s.future.Load(), Malformed: s.malformed.Load(), UnknownSource: s.unknownSource.Load(),
		HeldRemovals: s.heldRemovals.Load(), Immediate: s.immediate.Load()}
}

// SetHold gives discovery the prober's judge of this host's load (see
// probes.Manager.Held): while it reports true, no link is removed for
// missed probes. A port going down still removes its links at once.
func (d *Discovery) SetHold(hold func() (bool, string)) {
	d.mu.Lock()
	d.hold = hold
	d.mu.Unlock()
}

// Held reports whether link removal by missed probes is held now, why,
// and since when.
func (d *Discovery) Held() (string, time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.held, d.since
}

// Run probes and listens until ctx ends.
func (d *Discovery) Run(ctx context.Context) error {
	sub := d.ctl.Bus().Subscribe(8192, controller.PacketIn)
	defer sub.Close()
	// Switch and port events come on their own queue, so that a flood of
	// packet-ins never costs us the news that a port came up.
	events := d.ctl.Bus().Subscribe(8192, controller.SwitchUp, controller.SwitchDown,
		controller.PortAdd, controller.PortModify, controller.PortDelete)
	defer events.Close()
	d.pmu.Lock()
	d.ctx = ctx
	d.pmu.Unlock()
	for _, s := range d.ctl.Switches() {
		d.switchUp(s, time.Now())
	}
	go d.probeLoop(ctx)
	go func() {
		for e := range events.C {
			d.event(e)
		}
	}()
	expire := time.NewTicker(d.cfg.Interval / 4)
	defer expire.Stop()
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-expire.C:
			d.expire(now)
		case e := <-sub.C:
			d.packetIn(e, time.Now())
		case now := <-retry:
			retry = nil
			d.retryEarly(now)
		}
		if retry == nil && len(d.early) > 0 {
			retry = time.After(earlyRetry)
		}
	}
}

// earlyRetry is how often probes that arrived before the model knew
// their ports are looked at again.
const earlyRetry = 5 * time.Millisecond

// early is a verified probe that arrived before the topology model knew
// one of its ports (the tracker had not yet taken in a switch that has
// just connected); it is kept for an interval and counted as an unknown
// source only if the model never learns the ports.
type early struct {
	src, at  topology.Endpoint
	latency  time.Duration
	received time.Time
}

// maxEarly bounds the probes kept waiting for the model.
const maxEarly = 1 << 14

// retryEarly takes in the early probes whose ports the model now knows.
func (d *Discovery) retryEarly(now time.Time) {
	kept := d.early[:0]
	for _, e := range d.early {
		switch {
		case d.link(e.src, e.at, e.latency, now):
		case now.Sub(e.received) < d.cfg.Interval:
			kept = append(kept, e)
		default:
			d.stats.unknownSource.Add(1)
		}
	}
	clear(d.early[len(kept):])
	d.early = kept
}

// link records a verified probe from src received on at as a link; false
// when the model does not know both ports.
func (d *Discovery) link(src, at topology.Endpoint, latency time.Duration, now time.Time) bool {
	srcPort, ok1 := d.model.Port(src)
	dstPort, ok2 := d.model.Port(at)
	if !ok1 || !ok2 {
		return false
	}
	kind := topology.LinkDirect
	if srcPort.Tunnel || dstPort.Tunnel {
		kind = topology.LinkTunnel
	}
	d.stats.accepted.Add(1)
	if d.model.LinkSeen(src, at, kind, latency) {
		d.log.Info("link discovered", "src", src.String(), "dst", at.String(), "kind", kind)
	}
	d.answered(src, at, now)
	return true
}

// window is how long a link may go unseen: Misses steady intervals (a
// settled port is probed once per steady interval), plus a quarter
// interval of scheduling slack.
func (d *Discovery) window() time.Duration {
	return time.Duration(d.cfg.Misses*d.steady)*d.cfg.Interval + d.cfg.Interval/4
}

// expire removes the links whose probes were missed: a link survives
// Misses steady intervals without a probe, plus a quarter interval of
// scheduling slack. Nothing is removed while this host is overloaded (the prober's
// judge, or this loop's own probes went out late), and a link is removed
// only while its switch's other links still answer.
func (d *Discovery) expire(now time.Time) {
	window := d.window()
	cutoff := now.Add(-window)
	d.mu.Lock()
	hold := d.hold
	d.mu.Unlock()
	why := ""
	if hold != nil {
		if h, w := hold(); h {
			why = w
		}
	}
	if late := time.Unix(0, d.late.Load()); why == "" && now.Sub(late) < window {
		why = "host overloaded: LLDP probes went out late"
	}
	d.mu.Lock()
	switch {
	case why != "" && d.held == "":
		d.held, d.since = why, now
		if !d.logged {
			d.logged = true
			d.log.Warn("link removal by missed probes held", "cause", why, "hint", "links still go at once when their port goes down")
		}
	case why != "":
		d.held = why
	case d.held != "":
		d.held, d.lastOff = "", now
	case d.logged && now.Sub(d.lastOff) >= 30*time.Second:
		d.logged = false
		d.log.Info("link removal by missed probes resumes")
	}
	d.mu.Unlock()
	if why != "" {
		return
	}
	gone, kept := d.model.ExpireLinksWitnessed(cutoff)
	for _, l := range gone {
		delete(d.silent, l.Key())
		d.log.Info("link lost: probes missed", "src", l.Src.String(), "dst", l.Dst.String(), "kind", l.Kind)
	}
	now2 := map[topology.LinkKey]bool{}
	for _, l := range kept {
		d.stats.heldRemovals.Add(1)
		now2[l.Key()] = true
		if !d.silent[l.Key()] {
			d.log.Info("link silent, kept: every other link of its switch is silent too (the switch or this host is slow, not the link)",
				"src", l.Src.String(), "dst", l.Dst.String(), "kind", l.Kind)
		}
	}
	d.silent = now2
}

type target struct {
	s    *controller.Session
	port uint32
	mac  []byte
}

// targets lists the live ports due in this round: every port that is
// new or has an unconfirmed link, and the settled ports whose turn it is
// (each settled port once every steady rounds, their turns spread over
// the rounds).
func (d *Discovery) targets(round uint64, now time.Time) []target {
	var out []target
	live := map[topology.Endpoint]bool{}
	d.pmu.Lock()
	defer d.pmu.Unlock()
	for _, s := range d.ctl.Switches() {
		for _, p := range s.Ports() {
			if p.No > uint32(ofp.PortMax) || !p.Up() {
				continue
			}
			ep := topology.Endpoint{DPID: topology.DPID(s.DPID()), Port: p.No}
			live[ep] = true
			st := d.portLocked(ep, now)
			if d.steady > 1 && d.settled(st, now) && (round+uint64(st.phase))%uint64(d.steady) != 0 {
				continue
			}
			out = append(out, target{s: s, port: p.No, mac: p.HWAddr})
		}
	}
	for ep := range d.ports {
		if !live[ep] {
			delete(d.ports, ep)
		}
	}
	return out
}

// probeSlots is how many times per interval the scheduled probes go
// out: the due probes are spread evenly over this many slots, and one
// slot's probes are sent back to back. Every packet-out wakes
// ovs-vswitchd's main loop, which then runs every bridge it has (about
// 0.8 ms of its CPU per wakeup with 60 bridges, measured), so a few probes
// per wakeup cost the switch far less than one each; a handful of
// 100-byte frames per slot is no burst.
const probeSlots = 10

// probeLoop sends one probe per due port per interval, spread evenly
// over probeSlots slots.
func (d *Discovery) probeLoop(ctx context.Context) {
	for round := uint64(0); ctx.Err() == nil; round++ {
		start := time.Now()
		ts := d.targets(round, start)
		if len(ts) == 0 { // nothing due (or no switch): switches and ports that come up are probed at once anyway
			sleep(ctx, time.Until(start.Add(d.cfg.Interval)))
			continue
		}
		slots := min(len(ts), probeSlots)
		step := d.cfg.Interval / time.Duration(slots)
		for i, t := range ts {
			due := start.Add(time.Duration(i*slots/len(ts)) * step)
			if !sleep(ctx, time.Until(due)) {
				return
			}
			if now := time.Now(); now.Sub(due) > d.cfg.Interval/4 {
				d.late.Store(now.UnixNano())
			}
			d.send(ctx, t)
		}
		sleep(ctx, time.Until(start.Add(d.cfg.Interval)))
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (d *Discovery) send(ctx context.Context, t target) bool {
	if !t.s.Writable() {
		return false // another instance of the cluster masters the switch: it probes (docs/cluster.md)
	}
	if d.cfg.EdgePort != nil && d.cfg.EdgePort(t.s.DPID(), t.port) {
		return false // a VM's port: no LLDP to tenants
	}
	frame, err := d.signer.Encode(Probe{DPID: t.s.DPID(), Port: t.port, SystemName: d.cfg.SystemName, Sent: d.sendTime()}, t.mac, d.cfg.TTL)
	if err != nil {
		d.stats.sendErrors.Add(1)
		d.log.Warn("encoding an LLDP probe failed", "dpid", fmt.Sprintf("%016x", t.s.DPID()), "port", t.port, "err", err)
		return false
	}
	pctx, cancel := context.WithTimeout(ctx, d.cfg.Interval/2)
	defer cancel()
	err = t.s.PacketOut(pctx, uint32(ofp.PortController), ofp.Actions{&ofp.ActionOutput{Port: ofp.PortNo(t.port)}}, frame)
	if err != nil {
		d.stats.sendErrors.Add(1)
		d.log.Debug("LLDP probe not sent", "dpid", fmt.Sprintf("%016x", t.s.DPID()), "port", t.port, "err", err)
		return false
	}
	d.stats.sent.Add(1)
	return true
}

// sendTime returns now, or just after the last send time if the clock has
// not moved on (or stepped back): every probe gets its own send time, which
// together with its port is the identity the replay guard remembers.
func (d *Discovery) sendTime() time.Time {
	for {
		last := d.lastSent.Load()
		now := time.Now().UnixNano()
		if now <= last {
			now = last + 1
		}
		if d.lastSent.CompareAndSwap(last, now) {
			return time.Unix(0, now)
		}
	}
}

func (d *Discovery) packetIn(e controller.Event, now time.Time) {
	data := e.PacketIn.Data
	if len(data) < 14 || data[12] != 0x88 || data[13] != 0xcc {
		return
	}
	d.stats.received.Add(1)
	at := topology.Endpoint{DPID: topology.DPID(e.DPID), Port: e.PacketIn.InPort()}
	if d.cfg.EdgePort != nil && d.cfg.EdgePort(e.DPID, at.Port) {
		d.rejected(at, fmt.Errorf("%w: %s carries a virtual-network interface: it faces a VM, not a switch", ErrEdgePort, at), now)
		return
	}
	p, err := d.signer.Verify(data, now, d.cfg.MaxAge)
	if err != nil {
		d.rejected(at, err, now)
		return
	}
	if first, replayed := d.replays.Check(p.ID(), Receipt{DPID: e.DPID, Port: at.Port, At: now}); replayed {
		d.rejected(at, fmt.Errorf("%w: probe of %s sent %v ago, first received on %s %v ago",
			ErrReplayed, topology.Endpoint{DPID: topology.DPID(p.DPID), Port: p.Port}, now.Sub(p.Sent).Round(time.Millisecond),
			topology.Endpoint{DPID: topology.DPID(first.DPID), Port: first.Port}, now.Sub(first.At).Round(time.Millisecond)), now)
		return
	}
	src := topology.Endpoint{DPID: topology.DPID(p.DPID), Port: p.Port}
	if d.link(src, at, now.Sub(p.Sent), now) {
		return
	}
	if d.ctl != nil && d.ctl.Switch(p.DPID) != nil && len(d.early) < maxEarly {
		d.early = append(d.early, early{src: src, at: at, latency: now.Sub(p.Sent), received: now})
		return
	}
	d.stats.unknownSource.Add(1)
}

// rejected counts a frame that failed verification and raises a security
// event (rate limited per port and kind).
func (d *Discovery) rejected(at topology.Endpoint, err error, now time.Time) {
	var kind, what string
	switch {
	case errors.Is(err, ErrUnsigned):
		d.stats.unsigned.Add(1)
		kind, what = "lldp-unsigned", "unsigned LLDP frame (a foreign LLDP speaker or a forgery)"
	case errors.Is(err, ErrBadSignature):
		d.stats.badSignature.Add(1)
		kind, what = "lldp-forged", "LLDP frame with a bad signature (forged or tampered with)"
	case errors.Is(err, ErrEdgePort):
		d.stats.edgePort.Add(1)
		kind, what = "lldp-edge-port", "LLDP frame from a VM's port (relayed or forged: a port with an interface never carries a switch link)"
	case errors.Is(err, ErrReplayed):
		d.stats.replayed.Add(1)
		kind, what = "lldp-replayed", "signed LLDP probe received a second time (replayed or relayed)"
	case errors.Is(err, ErrStale):
		d.stats.stale.Add(1)
		kind, what = "lldp-stale", "signed LLDP frame older than max_age (held back far too long, or recorded and sent later)"
	case errors.Is(err, ErrFuture):
		d.stats.future.Add(1)
		kind, what = "lldp-future", "signed LLDP frame from the future (clock skew or forgery)"
	case errors.Is(err, ErrNotLLDP):
		return
	default:
		d.stats.malformed.Add(1)
		kind, what = "lldp-malformed", "malformed LLDP frame"
	}
	k := secKey{at, kind}
	d.mu.Lock()
	last, seen := d.lastSec[k]
	raise := !seen || now.Sub(last) >= d.cfg.SecurityEventEvery
	if raise {
		d.lastSec[k] = now
	}
	d.mu.Unlock()
	if !raise {
		return
	}
	d.log.Warn("rejected LLDP frame: no link created", "kind", kind, "at", at.String(), "err", err)
	d.model.AddEvent(topology.Event{Kind: kind, Time: now, DPID: at.DPID, Port: at.Port,
		Message: fmt.Sprintf("%s received on %s: %v", what, at, err)})
}
