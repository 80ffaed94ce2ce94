package diagnostics

import (
	"fmt"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/topology"
)

// intendedKinds are the owners whose flows the virtual networks' program
// and the ingress flows stand for; flows of other Satellite subsystems
// (probes, API, ...) are taken from the switch as they are.
func intendedByProgram(k controller.OwnerKind) bool {
	switch k {
	case controller.OwnerNetwork, controller.OwnerInterface, controller.OwnerRouter, controller.OwnerSecGroup,
		controller.OwnerTunnel, controller.OwnerFloating, controller.OwnerDiscovery, controller.OwnerForeign:
		return true
	}
	return false
}

// intended returns the tables Satellite intends a switch to hold: the
// virtual networks' compiled program (what the reconciler installs), the
// topology's ingress flows, and the switch's own flows of other subsystems.
func (v *view) intendedLoader() func(dpid uint64) *Tables {
	progs, _ := v.t.VNet.Programs()
	return func(dpid uint64) *Tables {
		real, ok := v.snapshot(dpid)
		if !ok {
			return nil
		}
		var flows []Flow
		for _, f := range topology.IngressFlows() {
			flows = append(flows, Flow{Table: f.Table, Priority: f.Priority, Cookie: uint64(f.Cookie), Match: f.Match, Instructions: f.Instructions})
		}
		var groups []Group
		if p := progs[dpid]; p != nil {
			for _, f := range p.Flows {
				flows = append(flows, Flow{Table: f.Table, Priority: f.Priority, Cookie: uint64(f.Cookie), Match: f.Match, Instructions: f.Instructions})
			}
			for _, g := range p.Groups {
				groups = append(groups, Group{ID: g.ID, Type: g.Type, Buckets: g.Buckets})
			}
		}
		for _, f := range real.Flows {
			if !intendedByProgram(controller.Cookie(f.Cookie).Kind()) {
				flows = append(flows, Flow{Table: f.Table, Priority: f.Priority, Cookie: f.Cookie, Match: f.Match, Instructions: f.Instructions})
			}
		}
		for _, g := range real.Groups {
			if g.GroupID&0xf0000000 != 0x10000000 {
				groups = append(groups, Group{ID: g.GroupID, Type: g.Type, Buckets: g.Buckets})
			}
		}
		ports := make([]Port, 0, len(real.Tables.Ports))
		for _, p := range real.Tables.Ports {
			ports = append(ports, p)
		}
		return NewTables(dpid, v.name(dpid), flows, groups, ports)
	}
}

// intent traces the packet over the intended tables and compares.
func (v *view) intent(real *Fabric, rt *Trace, start Endpoint, p Packet, dst destination) *Intent {
	want := v.fabric(dst, nil)
	load := v.intendedLoader()
	want.Load = load
	wt := want.Trace(start, p)
	in := &Intent{Verdict: wt.Verdict, Summary: wt.Summary, Differences: []string{}}
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			in.Differences = append(in.Differences, s)
		}
	}
	flowText := func(f *Flow, o Owner) string {
		s := fmt.Sprintf("priority=%d", f.Priority)
		if m := f.MatchString(); m != "" {
			s += "," + m
		}
		return s + " (" + ownerText(o) + ")"
	}
	// intended hops whose flow the switch lacks or holds differently
	for _, h := range wt.Hops {
		if h.flow == nil {
			continue
		}
		rtab := real.tables(h.dpid)
		if rtab == nil {
			continue
		}
		got := rtab.Find(h.flow)
		switch {
		case got == nil:
			add(fmt.Sprintf("%s table %d: intended flow %s is missing on the switch", h.Switch, h.Table, flowText(h.flow, v.owner(h.flow.Cookie))))
		case got.ActionsString() != h.flow.ActionsString():
			add(fmt.Sprintf("%s table %d: flow %s has actions=%s on the switch, intended actions=%s", h.Switch, h.Table,
				flowText(h.flow, v.owner(h.flow.Cookie)), got.ActionsString(), h.flow.ActionsString()))
		}
	}
	// flows the real trace used that are not intended
	for _, h := range rt.Hops {
		if h.flow == nil {
			continue
		}
		wtab := want.tables(h.dpid)
		if wtab == nil || wtab.Find(h.flow) != nil {
			continue
		}
		o := v.owner(h.flow.Cookie)
		shadowed := ""
		for _, w := range wt.Hops {
			if w.dpid == h.dpid && w.Table == h.Table && w.flow != nil && w.flow.Priority < h.flow.Priority {
				shadowed = " and shadows the " + v.owner(w.flow.Cookie).Kind + " flow " + flowText(w.flow, v.owner(w.flow.Cookie))
			}
		}
		if o.Kind == "foreign" {
			add(fmt.Sprintf("extra foreign flow priority %d on %s table %d (%s, actions=%s, cookie 0x%x) is not Satellite's%s",
				h.flow.Priority, h.Switch, h.Table, orAll(h.flow.MatchString()), h.flow.ActionsString(), h.flow.Cookie, shadowed))
		} else {
			add(fmt.Sprintf("%s table %d: flow %s is on the switch but not intended%s", h.Switch, h.Table, flowText(h.flow, o), shadowed))
		}
	}
	if wt.Verdict != rt.Verdict || wt.Summary != rt.Summary {
		add(fmt.Sprintf("intended: %s; on the switches: %s", wt.Summary, rt.Summary))
	}
	return in
}
