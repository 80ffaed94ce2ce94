package audit

import (
	"fmt"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// deadTracker follows the packet counters of one switch's owned flows
// between audits: a flow is dead when its counter has not moved for the
// window (and the flow is at least that old) while another flow of the
// same virtual network on the switch counted packets in that window, so
// the network is in use. Drop flows and flows with timeouts are left
// out: a drop flow that never counts is good news.
type deadTracker struct {
	flows map[string]*deadState
	// active: per network id, when one of its flows last counted
	active map[uint32]time.Time
}

type deadState struct {
	packets uint64
	changed time.Time
	seen    bool
}

func newDeadTracker() *deadTracker {
	return &deadTracker{flows: map[string]*deadState{}, active: map[uint32]time.Time{}}
}

// observe records the counters of flows read at now and returns the dead
// ones (window <= 0: none).
func (d *deadTracker) observe(flows []ofwire.FlowStats, now time.Time, window time.Duration) []Entry {
	for _, st := range d.flows {
		st.seen = false
	}
	keys := make([]string, len(flows))
	for i := range flows {
		fs := &flows[i]
		ck := controller.Cookie(fs.Cookie)
		if !vnetKind(ck.Kind()) || ck.Scope() == 0 {
			continue
		}
		k := FlowKey(fs.Table, fs.Priority, fs.Match)
		keys[i] = k
		st := d.flows[k]
		if st == nil {
			st = &deadState{packets: fs.PacketCount, changed: now}
			d.flows[k] = st
			if fs.PacketCount > 0 {
				// it counted before we knew it: at some time in its life
				d.touch(ck.Scope(), now.Add(-time.Duration(fs.DurationSec)*time.Second))
			}
		} else if fs.PacketCount != st.packets {
			st.packets, st.changed = fs.PacketCount, now
			d.touch(ck.Scope(), now)
		}
		st.seen = true
	}
	for k, st := range d.flows {
		if !st.seen {
			delete(d.flows, k)
		}
	}
	if window <= 0 {
		return nil
	}
	var out []Entry
	for i := range flows {
		fs := &flows[i]
		if keys[i] == "" || fs.IdleTimeout != 0 || fs.HardTimeout != 0 || len(fs.Instructions) == 0 {
			continue
		}
		st := d.flows[keys[i]]
		ck := controller.Cookie(fs.Cookie)
		age := time.Duration(fs.DurationSec) * time.Second
		if now.Sub(st.changed) < window || age < window {
			continue
		}
		if a, ok := d.active[ck.Scope()]; !ok || now.Sub(a) >= window {
			continue // the network carried nothing here either: not in use
		}
		e := flowEntry(Dead, fs, keys[i])
		e.Detail = fmt.Sprintf("no packet for %s while its network carried traffic on this switch", now.Sub(st.changed).Round(time.Second))
		out = append(out, e)
	}
	sortEntries(out)
	return out
}

func (d *deadTracker) touch(net uint32, t time.Time) {
	if t.After(d.active[net]) {
		d.active[net] = t
	}
}

// vnetKind: the owner kinds of the virtual networks' flows.
func vnetKind(k controller.OwnerKind) bool {
	switch k {
	case controller.OwnerNetwork, controller.OwnerInterface, controller.OwnerRouter,
		controller.OwnerSecGroup, controller.OwnerTunnel:
		return true
	}
	return false
}
