package audit

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/diagnostics"
	"github.com/satellite-sdn/satellite/vnet"
)

// Tracer traces a packet over the switches' tables (diagnostics.Tracer).
type Tracer interface {
	Trace(ctx context.Context, r diagnostics.Request) (*diagnostics.Result, error)
}

// NetworkReport is the last analysis of the virtual networks: from one
// interface on each switch of a network to every other interface of it,
// a packet traced over the tables as they are (nothing is sent).
type NetworkReport struct {
	At time.Time `json:"at"`
	// Traced counts the traces run, Skipped those that could not run
	// (an interface without an address, a switch not connected, ...).
	Traced  int      `json:"traced"`
	Skipped []string `json:"skipped,omitempty"`
	Entries []Entry  `json:"entries"`
}

// maxTracesPerNetwork bounds one network's analysis.
const maxTracesPerNetwork = 256

// analyse runs the network analysis and stores it, with events for
// what it finds for the first time.
func (e *Engine) analyse(ctx context.Context) {
	e.netMu.Lock()
	defer e.netMu.Unlock()
	cfg, _ := e.vn.Config()
	rep := NetworkReport{At: e.opt.Now(), Entries: []Entry{}}
	start := time.Now()
	for _, n := range cfg.Networks {
		var ifs []vnet.Interface
		for _, in := range cfg.Interfaces {
			if in.Network == n.Name && in.Mode == vnet.ModeVIF {
				ifs = append(ifs, in)
			}
		}
		sort.Slice(ifs, func(i, j int) bool { return ifs[i].Name < ifs[j].Name })
		// one source per switch of the network
		var srcs []vnet.Interface
		dps := map[string]bool{}
		for _, in := range ifs {
			if !dps[in.Datapath] {
				dps[in.Datapath] = true
				srcs = append(srcs, in)
			}
		}
		count := 0
		for _, src := range srcs {
			for _, dst := range ifs {
				if dst.Name == src.Name || count >= maxTracesPerNetwork {
					continue
				}
				count++
				// the tables read since this run started serve every trace of it
				age := time.Since(start).Milliseconds()
				res, err := e.opt.Tracer.Trace(ctx, diagnostics.Request{From: src.Name, To: dst.Name, MaxAgeMs: &age})
				if err != nil {
					rep.Skipped = append(rep.Skipped, src.Name+" -> "+dst.Name+": "+err.Error())
					continue
				}
				rep.Traced++
				if en, ok := pathEntry(n.Name, src, dst, res); ok {
					rep.Entries = append(rep.Entries, en)
				}
			}
		}
	}
	e.mu.Lock()
	var fresh []Entry
	next := map[string]time.Time{}
	for i := range rep.Entries {
		en := &rep.Entries[i]
		k := en.Key()
		if t, ok := e.netFirst[k]; ok {
			en.Since = t
		} else {
			en.Since = rep.At
			fresh = append(fresh, *en)
		}
		next[k] = en.Since
	}
	e.netFirst = next
	e.network = rep
	for _, en := range fresh {
		e.countLocked(uint64(dpidOf(en.DPID)), []Entry{en})
	}
	e.mu.Unlock()
	e.events(fresh)
}

// pathEntry turns a trace that did not deliver into a black hole or a
// loop; drops by the network's own policy (security groups,
// anti-spoofing) are not black holes.
func pathEntry(network string, src, dst vnet.Interface, res *diagnostics.Result) (Entry, bool) {
	en := Entry{What: "path", Network: network, Owner: "network " + network, key: network + "|" + src.Name + ">" + dst.Name}
	switch res.Verdict {
	case diagnostics.Delivered, diagnostics.Flooded:
		return en, false
	case diagnostics.Looped:
		en.Kind = Loop
		en.Detail = "from " + src.Name + " (" + src.Datapath + ") to " + dst.Name + ": " + res.Summary
		if n := len(res.Hops); n > 0 {
			h := res.Hops[n-1]
			en.DPID, en.Switch, en.Table = h.DPID, h.Switch, h.Table
		}
		return en, true
	case diagnostics.Dropped:
		if d := res.Drop; d != nil {
			if strings.HasPrefix(d.Object, "security group") || strings.HasPrefix(d.Reason, "anti-spoofing") {
				return en, false
			}
			en.DPID, en.Switch, en.Table = d.DPID, d.Switch, d.Table
		}
		en.Kind = BlackHole
		en.Detail = "from " + src.Name + " (" + src.Datapath + ") to " + dst.Name + ": " + res.Summary
		return en, true
	}
	return en, false // sent to the controller (answered): not a forwarding fault
}
