package vnet

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// owned reports whether a flow cookie belongs to the virtual networks.
func owned(c controller.Cookie) bool {
	switch c.Kind() {
	case controller.OwnerNetwork, controller.OwnerInterface, controller.OwnerRouter,
		controller.OwnerSecGroup, controller.OwnerTunnel, controller.OwnerFloating:
		return true
	}
	return false
}

// ownedGroup reports whether a group id is one of ours (see GroupID).
func ownedGroup(id uint32) bool { return id&0xf0000000 == 0x10000000 }

// OwnedFlow, OwnedGroup and OwnedMeter report whether a flow cookie, a
// group id or a meter id belongs to the virtual networks (what the
// reconciler keeps converged; the flow audit's intent).
func OwnedFlow(c controller.Cookie) bool { return owned(c) }

// OwnedGroup: see OwnedFlow.
func OwnedGroup(id uint32) bool { return ownedGroup(id) }

// OwnedMeter: see OwnedFlow.
func OwnedMeter(id uint32) bool { return ownedMeter(id) }

// flowKey identifies a flow in a switch: table, priority and match.
func flowKey(table uint8, prio uint16, match []ofp.XM) string {
	m := append([]ofp.XM(nil), match...)
	sort.SliceStable(m, func(i, j int) bool {
		if m[i].Class != m[j].Class {
			return m[i].Class < m[j].Class
		}
		return m[i].Type < m[j].Type
	})
	return fmt.Sprintf("%d/%d/%s", table, prio, controller.FormatMatch(m))
}

// instrKey renders instructions in OpenFlow's execution order, which is
// also the order switches report them in.
func instrKey(inst ofp.Instructions) string {
	order := map[ofp.InstructionType]int{
		ofp.InstructionTypeMeter: 0, ofp.InstructionTypeApplyActions: 1, ofp.InstructionTypeClearActions: 2,
		ofp.InstructionTypeWriteActions: 3, ofp.InstructionTypeWriteMetadata: 4, ofp.InstructionTypeGotoTable: 5,
	}
	in := append(ofp.Instructions(nil), inst...)
	sort.SliceStable(in, func(i, j int) bool { return order[in[i].Type()] < order[in[j].Type()] })
	return controller.FormatInstructions(in)
}

// Changes counts what a reconciliation did.
type Changes struct {
	Added          int `json:"flows_added"`
	Modified       int `json:"flows_modified"`
	Deleted        int `json:"flows_deleted"`
	GroupsAdded    int `json:"groups_added"`
	GroupsModified int `json:"groups_modified"`
	GroupsDeleted  int `json:"groups_deleted"`
	MetersAdded    int `json:"meters_added"`
	MetersModified int `json:"meters_modified"`
	MetersDeleted  int `json:"meters_deleted"`
	// MetersFailed: the switch refused the meters (it has none?): the
	// flows were installed without them.
	MetersFailed string `json:"meters_failed,omitempty"`
}

func (c *Changes) add(d Changes) {
	c.Added += d.Added
	c.Modified += d.Modified
	c.Deleted += d.Deleted
	c.GroupsAdded += d.GroupsAdded
	c.GroupsModified += d.GroupsModified
	c.GroupsDeleted += d.GroupsDeleted
	c.MetersAdded += d.MetersAdded
	c.MetersModified += d.MetersModified
	c.MetersDeleted += d.MetersDeleted
	if d.MetersFailed != "" {
		c.MetersFailed = d.MetersFailed
	}
}

func (c Changes) String() string {
	s := fmt.Sprintf("flows +%d ~%d -%d, groups +%d ~%d -%d", c.Added, c.Modified, c.Deleted, c.GroupsAdded, c.GroupsModified, c.GroupsDeleted)
	if c.MetersAdded+c.MetersModified+c.MetersDeleted > 0 {
		s += fmt.Sprintf(", meters +%d ~%d -%d", c.MetersAdded, c.MetersModified, c.MetersDeleted)
	}
	if c.MetersFailed != "" {
		s += " (without meters: " + c.MetersFailed + ")"
	}
	return s
}

// Empty reports whether nothing had to change (a switch without meters,
// programmed without them, counts as unchanged).
func (c Changes) Empty() bool { c.MetersFailed = ""; return c == Changes{} }

// Reconcile makes the switch hold exactly prog's flows and groups among
// those the virtual networks own, changing only what differs: flows whose
// match and actions are already right are not touched, so their traffic
// never stops and their counters keep counting.
func Reconcile(ctx context.Context, s *controller.Session, prog *Program) (Changes, error) {
	return reconcile(ctx, s, prog, nil, nil)
}

// Seen is what a reconciliation read from the switch before it changed
// anything: the flow audit compares it with the program (see Auditor).
type Seen struct {
	Flows  []ofwire.FlowStats
	Groups []ofwire.GroupDesc
	Meters []controller.Meter
	// MetersRead: the switch answered the meter request (it has meters).
	MetersRead bool
	// Read is when the flows were read.
	Read time.Time
	// Settling: the start-up window was open, so the pass only added what
	// was missing (Options.Settle).
	Settling bool
}

// inherited protects, during the start-up window (Options.Settle), the
// flows and groups a switch held before this run of Satellite touched
// them: they are neither changed nor deleted, only what is missing is
// added. What this run installed itself stays free to change.
type inherited struct {
	ours   map[string]bool // flow keys this run added or changed
	groups map[uint32]bool // group ids this run added or changed
}

func newInherited() *inherited {
	return &inherited{ours: map[string]bool{}, groups: map[uint32]bool{}}
}

// reconcile is Reconcile; with keep (non-nil) the flows and groups
// inherited from before this run are left as they are.
// seen (non-nil) receives what the switch held before the pass.
func reconcile(ctx context.Context, s *controller.Session, prog *Program, keep *inherited, seen *Seen) (Changes, error) {
	var ch Changes
	kept := func(k string) bool { return keep != nil && !keep.ours[k] }
	keptGroup := func(id uint32) bool { return keep != nil && !keep.groups[id] }
	mine := func(k string) {
		if keep != nil {
			keep.ours[k] = true
		}
	}
	mineGroup := func(id uint32) {
		if keep != nil {
			keep.groups[id] = true
		}
	}
	// groups first: flows refer to them
	have, err := s.GroupDesc(ctx)
	if err != nil {
		return ch, fmt.Errorf("reading groups: %w", err)
	}
	if seen != nil {
		seen.Groups = have
		if len(prog.Meters) > 0 {
			ms, err := s.Meters(ctx) // a switch without meters has none
			seen.Meters, seen.MetersRead = ms, err == nil
		}
	}
	haveG := map[uint32]ofwire.GroupDesc{}
	for _, g := range have {
		if ownedGroup(g.GroupID) {
			haveG[g.GroupID] = g
		}
	}
	wantG := map[uint32]bool{}
	for _, g := range prog.Groups {
		wantG[g.ID] = true
		old, ok := haveG[g.ID]
		switch {
		case !ok:
			if err := s.AddGroup(ctx, g); err != nil {
				return ch, err
			}
			mineGroup(g.ID)
			ch.GroupsAdded++
		case groupKey(old.Type, old.Buckets) == groupKey(g.Type, g.Buckets):
		case keptGroup(g.ID):
		default:
			if err := s.ModifyGroup(ctx, g); err != nil {
				return ch, err
			}
			mineGroup(g.ID)
			ch.GroupsModified++
		}
	}

	// meters next: flows refer to them too. A switch without meters gets
	// the flows without their meter instruction: policing is a
	// protection, never a reason to leave a switch unprogrammed.
	flows := prog.Flows
	mch, err := reconcileMeters(ctx, s, prog.Meters, keep != nil)
	ch.MetersAdded, ch.MetersModified = mch.MetersAdded, mch.MetersModified
	if err != nil {
		flows = withoutMeters(flows)
		ch.MetersFailed = err.Error()
	}

	stats, err := s.FlowStats(ctx, controller.AllFlows)
	if err != nil {
		return ch, fmt.Errorf("reading flows: %w", err)
	}
	if seen != nil {
		seen.Flows, seen.Read = stats, time.Now()
	}
	type actual struct {
		cookie controller.Cookie
		instr  string
		match  []ofp.XM
		prio   uint16
		table  uint8
	}
	haveF := map[string]actual{}
	for _, fs := range stats {
		ck := controller.Cookie(fs.Cookie)
		if !owned(ck) {
			continue
		}
		haveF[flowKey(fs.Table, fs.Priority, fs.Match)] = actual{ck, instrKey(fs.Instructions), fs.Match, fs.Priority, fs.Table}
	}
	var add, modify []controller.Flow
	want := map[string]bool{}
	for _, f := range flows {
		k := flowKey(f.Table, f.Priority, f.Match)
		if want[k] {
			continue // the compiler produced the same flow twice; the first wins
		}
		want[k] = true
		a, ok := haveF[k]
		switch {
		case !ok:
			add = append(add, f)
		case kept(k):
		case a.cookie != f.Cookie:
			add = append(add, f) // ADD replaces a flow with the same match and priority
		case a.instr != instrKey(f.Instructions):
			modify = append(modify, f)
		}
	}
	if len(add) > 0 {
		if err := s.AddFlows(ctx, add...); err != nil {
			return ch, err
		}
		for _, f := range add {
			mine(flowKey(f.Table, f.Priority, f.Match))
		}
		ch.Added = len(add)
	}
	if len(modify) > 0 {
		if err := s.ModifyFlowsStrict(ctx, modify...); err != nil {
			return ch, err
		}
		for _, f := range modify {
			mine(flowKey(f.Table, f.Priority, f.Match))
		}
		ch.Modified = len(modify)
	}
	keys := make([]string, 0, len(haveF))
	for k := range haveF {
		if !want[k] && !kept(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		a := haveF[k]
		if err := s.DeleteFlows(ctx, controller.FlowFilter{Table: a.table, Strict: true, Priority: a.prio, Match: a.match,
			Cookie: uint64(a.cookie), CookieMask: controller.CookieMaskAll}); err != nil {
			return ch, err
		}
		ch.Deleted++
	}
	for id := range haveG {
		if !wantG[id] && !keptGroup(id) {
			if err := s.DeleteGroup(ctx, id); err != nil {
				return ch, err
			}
			ch.GroupsDeleted++
		}
	}
	if keep == nil && ch.MetersFailed == "" {
		// stale meters go last: deleting a meter deletes its flows
		n, err := deleteStaleMeters(ctx, s, prog.Meters)
		ch.MetersDeleted += n
		if err != nil {
			return ch, err
		}
	}
	return ch, nil
}

// reconcileMeters adds and modifies the meters of the program (during the
// start-up window too: a flow needs its meter).
func reconcileMeters(ctx context.Context, s *controller.Session, want []controller.Meter, settling bool) (Changes, error) {
	var ch Changes
	if len(want) == 0 {
		return ch, nil
	}
	have, err := s.Meters(ctx)
	if err != nil {
		return ch, fmt.Errorf("reading meters: %w", err)
	}
	haveM := map[uint32]controller.Meter{}
	for _, m := range have {
		haveM[m.ID] = m
	}
	var add, modify []controller.Meter
	for _, m := range want {
		old, ok := haveM[m.ID]
		switch {
		case !ok:
			add = append(add, m)
		case old != m && !settling:
			modify = append(modify, m)
		}
	}
	if len(add) > 0 {
		if err := s.AddMeters(ctx, add...); err != nil {
			return ch, err
		}
		ch.MetersAdded = len(add)
	}
	if len(modify) > 0 {
		if err := s.ModifyMeters(ctx, modify...); err != nil {
			return ch, err
		}
		ch.MetersModified = len(modify)
	}
	return ch, nil
}

func deleteStaleMeters(ctx context.Context, s *controller.Session, want []controller.Meter) (int, error) {
	have, err := s.Meters(ctx)
	if err != nil {
		return 0, nil // a switch without meters has none to delete
	}
	wantM := map[uint32]bool{}
	for _, m := range want {
		wantM[m.ID] = true
	}
	var stale []uint32
	for _, m := range have {
		if ownedMeter(m.ID) && !wantM[m.ID] {
			stale = append(stale, m.ID)
		}
	}
	if len(stale) == 0 {
		return 0, nil
	}
	return len(stale), s.DeleteMeters(ctx, stale...)
}

// withoutMeters returns the flows with their meter instructions removed.
func withoutMeters(flows []controller.Flow) []controller.Flow {
	out := make([]controller.Flow, len(flows))
	for i, f := range flows {
		out[i] = f
		var inst ofp.Instructions
		for _, in := range f.Instructions {
			if _, ok := in.(*ofp.InstructionMeter); !ok {
				inst = append(inst, in)
			}
		}
		out[i].Instructions = inst
	}
	return out
}

func groupKey(typ uint8, buckets []ofwire.Bucket) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", typ)
	for _, bk := range buckets {
		wp := bk.WatchPort
		if wp == uint32(ofp.PortAny) {
			wp = 0
		}
		fmt.Fprintf(&b, "|%d/%d/%s", bk.Weight, wp, controller.FormatActions(bk.Actions))
	}
	return b.String()
}
