package lldp

import (
	"context"
	"fmt"
	"time"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/topology"
)

// followUps are the delays after a switch connects or a port comes up at
// which its ports that have not been answered yet are probed once more:
// the first probes can be lost while the far switch still lacks its LLDP
// flow (it connected at the same moment), or while the topology model
// does not know the new ports yet.
var followUps = []time.Duration{50 * time.Millisecond, 250 * time.Millisecond}

// portState is what discovery knows about one live port.
type portState struct {
	since    time.Time // when it came up, or its switch connected, or discovery first saw it
	answered int       // probes sent from it that came back since then
	lastAns  time.Time // when the last of them came back
	reversed time.Time // when it was last probed because a probe arrived on it
	phase    uint32    // its turn among the steady rounds
}

// portLocked returns the state of a live port, made new if unknown.
// Call with pmu held.
func (d *Discovery) portLocked(ep topology.Endpoint, now time.Time) *portState {
	st := d.ports[ep]
	if st == nil {
		x := uint64(ep.DPID)*0x9e3779b97f4a7c15 ^ uint64(ep.Port)*0xbf58476d1ce4e5b9
		x ^= x >> 31
		st = &portState{since: now, phase: uint32(x % uint64(d.steady))}
		d.ports[ep] = st
	}
	return st
}

// settled reports whether a port is probed at the steady interval: it
// has been up for Misses intervals, and its link (if any) is not one
// seen only once within the window. Call with pmu held.
func (d *Discovery) settled(st *portState, now time.Time) bool {
	if now.Sub(st.since) < time.Duration(d.cfg.Misses)*d.cfg.Interval {
		return false
	}
	return !(st.answered == 1 && now.Sub(st.lastAns) < d.window())
}

// answered records a probe sent from src that arrived on at. When at has
// not had a probe of its own answered since it came up, the link is
// known in one direction only: at is probed at once (at most once per
// interval, with the follow-ups), which finds the way back without
// waiting for the schedule, for instance when at's switch connected
// before src's and its first probes were lost.
func (d *Discovery) answered(src, at topology.Endpoint, now time.Time) {
	d.pmu.Lock()
	st := d.portLocked(src, now)
	st.answered++
	st.lastAns = now
	rt := d.portLocked(at, now)
	reverse := rt.answered == 0 && now.Sub(rt.reversed) >= d.cfg.Interval
	since := rt.since
	if reverse {
		rt.reversed = now
		d.queueLocked(uint64(at.DPID), at.Port)
	}
	d.pmu.Unlock()
	if reverse {
		d.followUp(uint64(at.DPID), []uint32{at.Port}, since)
	}
}

// event reacts to switch and port events: a switch that connects has its
// ports probed at once, so has a port that comes up; a port that goes
// down or away is forgotten (it starts anew when it comes back).
func (d *Discovery) event(e controller.Event) {
	now := time.Now()
	switch e.Kind {
	case controller.SwitchUp:
		if s := d.ctl.Switch(e.DPID); s != nil {
			d.switchUp(s, now)
		}
	case controller.SwitchDown:
		if d.ctl.Switch(e.DPID) != nil { // already replaced by a new session
			return
		}
		d.pmu.Lock()
		for ep := range d.ports {
			if uint64(ep.DPID) == e.DPID {
				delete(d.ports, ep)
			}
		}
		delete(d.bursts, e.DPID)
		d.pmu.Unlock()
	case controller.PortAdd, controller.PortModify, controller.PortDelete:
		p := e.Port
		if p == nil || p.No > uint32(ofp.PortMax) {
			return
		}
		ep := topology.Endpoint{DPID: topology.DPID(e.DPID), Port: p.No}
		up := e.Kind != controller.PortDelete && p.Up()
		probe := false
		d.pmu.Lock()
		st := d.ports[ep]
		switch {
		case !up:
			delete(d.ports, ep)
		case e.Kind == controller.PortAdd || st == nil:
			delete(d.ports, ep)
			d.portLocked(ep, now)
			probe = true
		default:
			// up and known: either it was up before (a change of config or
			// speed), or the schedule listed it between its coming up and
			// this event; unanswered, it is probed either way
			probe = st.answered == 0
		}
		if probe {
			d.queueLocked(e.DPID, p.No)
		}
		since := now
		if st := d.ports[ep]; st != nil {
			since = st.since
		}
		d.pmu.Unlock()
		if probe {
			d.followUp(e.DPID, []uint32{p.No}, since)
		}
	}
}

// switchUp starts a switch anew: every live port is new and probed at
// once. First the switch is given the flow that sends LLDP to the
// controller (the same one the topology tracker installs; adding it again
// changes nothing) and a barrier: once it answers, the probes the
// neighbours send toward this switch come back, so the way back is found
// as soon as this switch's own probes reach them.
func (d *Discovery) switchUp(s *controller.Session, now time.Time) {
	dpid := s.DPID()
	var nos []uint32
	d.pmu.Lock()
	for ep := range d.ports {
		if uint64(ep.DPID) == dpid {
			delete(d.ports, ep)
		}
	}
	for _, p := range s.Ports() {
		if p.No > uint32(ofp.PortMax) || !p.Up() {
			continue
		}
		d.portLocked(topology.Endpoint{DPID: topology.DPID(dpid), Port: p.No}, now)
		nos = append(nos, p.No)
	}
	ctx := d.ctx
	d.pmu.Unlock()
	go func() {
		fctx, cancel := context.WithTimeout(ctx, d.cfg.Interval)
		err := s.AddFlows(fctx, lldpFlow)
		cancel()
		if err != nil {
			d.log.Debug("installing the LLDP flow failed; probing anyway", "dpid", fmt.Sprintf("%016x", dpid), "err", err)
		}
		d.pmu.Lock()
		for _, no := range nos {
			if d.ports[topology.Endpoint{DPID: topology.DPID(dpid), Port: no}] != nil {
				d.queueLocked(dpid, no)
			}
		}
		d.pmu.Unlock()
		d.followUp(dpid, nos, now)
	}()
}

// lldpFlow is the tracker's table-0 flow that sends LLDP to the controller.
var lldpFlow = func() controller.Flow {
	want := controller.NewCookie(controller.OwnerDiscovery, 0, topology.CookieLLDP)
	for _, f := range topology.IngressFlows() {
		if f.Cookie == want {
			return f
		}
	}
	panic("lldp: topology.IngressFlows has no LLDP flow") // caught by every test
}()

// followUp probes the ports again after each followUps delay, those of
// them still live and not answered since since.
func (d *Discovery) followUp(dpid uint64, nos []uint32, since time.Time) {
	if len(nos) == 0 {
		return
	}
	for _, after := range followUps {
		time.AfterFunc(after, func() {
			d.pmu.Lock()
			defer d.pmu.Unlock()
			if d.ctx.Err() != nil {
				return
			}
			for _, no := range nos {
				st := d.ports[topology.Endpoint{DPID: topology.DPID(dpid), Port: no}]
				if st != nil && st.answered == 0 && !st.since.After(since) {
					d.queueLocked(dpid, no)
				}
			}
		})
	}
}

// burst is one switch's queue of ports to probe at once.
type burst struct {
	queued  map[uint32]bool
	order   []uint32
	running bool
}

// queueLocked adds a port to its switch's immediate round, starting the
// round if none runs. Call with pmu held.
func (d *Discovery) queueLocked(dpid uint64, no uint32) {
	b := d.bursts[dpid]
	if b == nil {
		b = &burst{queued: map[uint32]bool{}}
		d.bursts[dpid] = b
	}
	if b.queued[no] {
		return
	}
	b.queued[no] = true
	b.order = append(b.order, no)
	if !b.running {
		b.running = true
		go d.runBurst(d.ctx, dpid, b)
	}
}

// runBurst sends a switch's immediate probes, one at a time: each waits
// for the limiter shared by all switches (ImmediateRate) and for the
// switch's own packet-out limiter, so one switch with many ports or a
// thousand switches at once are paced, and a slow switch holds up only
// its own round.
func (d *Discovery) runBurst(ctx context.Context, dpid uint64, b *burst) {
	for {
		d.pmu.Lock()
		if len(b.order) == 0 || d.bursts[dpid] != b || ctx.Err() != nil {
			b.running = false
			if d.bursts[dpid] == b && len(b.order) == 0 {
				delete(d.bursts, dpid)
			}
			d.pmu.Unlock()
			return
		}
		no := b.order[0]
		b.order = b.order[1:]
		delete(b.queued, no)
		d.pmu.Unlock()
		if err := d.burstRL.Wait(ctx); err != nil {
			continue
		}
		s := d.ctl.Switch(dpid)
		if s == nil {
			continue
		}
		p, ok := s.Port(no)
		if !ok || !p.Up() {
			continue
		}
		if d.send(ctx, target{s: s, port: no, mac: p.HWAddr}) {
			d.stats.immediate.Add(1)
		}
	}
}
