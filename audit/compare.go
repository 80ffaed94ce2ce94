// Package audit compares what Satellite intends every switch to hold (the
// virtual networks' compiled program, discovery's ingress flows, the
// tunnel probes' flows, their groups and meters) with what the switch
// holds, and analyses the tables themselves: flows that can never match
// (shadowed), owned flows that never count a packet while their network
// carries traffic (dead), and per virtual network the destinations some
// switch cannot forward to (black holes) and forwarding cycles (loops).
// See docs/audit.md.
package audit

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// Entry kinds.
const (
	Missing   = "missing"   // intended, not on the switch
	Modified  = "modified"  // same table, priority and match; other instructions or owner
	Extra     = "extra"     // a cookie of ours that no object claims any more
	Foreign   = "foreign"   // nobody here installed it
	Shadowed  = "shadowed"  // higher-priority flows cover its whole match: it can never match
	Dead      = "dead"      // owned, no packet over the window while its network carries traffic
	BlackHole = "blackhole" // a destination of a network some switch of it cannot forward to
	Loop      = "loop"      // a forwarding cycle
)

// Kinds lists every kind, in the order reports show them.
var Kinds = []string{Missing, Modified, Extra, Foreign, Shadowed, Dead, BlackHole, Loop}

// drift kinds: the switch differs from the intent (what the reconciler
// repairs, and foreign flows).
func isDrift(kind string) bool {
	return kind == Missing || kind == Modified || kind == Extra || kind == Foreign
}

// Entry is one finding.
type Entry struct {
	Kind string `json:"kind"`
	// What is flow, group, meter or path (black holes and loops).
	What     string `json:"what"`
	DPID     string `json:"dpid"`
	Switch   string `json:"switch,omitempty"`
	Table    uint8  `json:"table"`
	Priority uint16 `json:"priority"`
	Match    string `json:"match"`
	// Actions are the instructions on the switch ("" when missing).
	Actions string `json:"actions,omitempty"`
	// Intended are the instructions Satellite intends (missing, modified).
	Intended string `json:"intended,omitempty"`
	Cookie   string `json:"cookie,omitempty"`
	// Owner names the object: "interface vm1", "tunnel to h2", "foreign".
	Owner   string `json:"owner"`
	Network string `json:"network,omitempty"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// ID is the group or meter id.
	ID uint32 `json:"id,omitempty"`
	// By is the flow that shadows this one.
	By     string `json:"by,omitempty"`
	Detail string `json:"detail"`
	// Since is when the audit first saw this finding.
	Since time.Time `json:"since"`
	// Repaired: the reconciliation (or the foreign policy) that found it
	// fixed it in the same pass.
	Repaired bool `json:"repaired,omitempty"`

	cookie controller.Cookie
	key    string
	match  []ofp.XM
}

// Key identifies a finding across audits (for Since and for events).
func (e *Entry) Key() string {
	return e.Kind + "|" + e.placeKey()
}

// placeKey identifies the flow, group or meter (CompareInPlace's keys).
func (e *Entry) placeKey() string { return e.What + "|" + e.key }

// Intent is what Satellite intends one switch to hold.
type Intent struct {
	Flows  []controller.Flow
	Groups []controller.Group
	Meters []controller.Meter
	// Covers reports the owner kinds Flows stands for completely: a flow
	// of such a kind on the switch that Flows lacks is extra. Flows of
	// other Satellite kinds (API flows, traces, ...) are taken as they are.
	Covers func(controller.OwnerKind) bool
	// OwnedGroup and OwnedMeter: the ids Groups and Meters stand for.
	OwnedGroup func(uint32) bool
	OwnedMeter func(uint32) bool
}

// State is what a switch holds.
type State struct {
	Flows  []ofwire.FlowStats
	Groups []ofwire.GroupDesc
	// Meters: nil when the switch was not asked or has none.
	Meters      []controller.Meter
	MetersKnown bool
}

// FlowKey identifies a flow in a switch: table, priority and match, the
// match fields in any order, compared byte for byte.
func FlowKey(table uint8, prio uint16, match []ofp.XM) string {
	var buf [64]byte
	b := append(buf[:0], table, byte(prio>>8), byte(prio))
	var idx [16]uint8
	order := idx[:0]
	if len(match) > len(idx) {
		m := append([]ofp.XM(nil), match...)
		sort.Slice(m, func(i, j int) bool { return fieldID(m[i]) < fieldID(m[j]) })
		match = m
	}
	for i := range match { // insertion sort of the few fields, by id
		order = append(order, uint8(i))
		for j := len(order) - 1; j > 0 && fieldID(match[order[j-1]]) > fieldID(match[order[j]]); j-- {
			order[j-1], order[j] = order[j], order[j-1]
		}
	}
	for _, i := range order {
		xm := &match[i]
		b = binary.BigEndian.AppendUint32(b, fieldID(*xm))
		b = append(b, byte(len(xm.Value)), byte(len(xm.Mask)))
		b = append(b, xm.Value...)
		b = append(b, xm.Mask...)
	}
	return string(b)
}

func fieldID(xm ofp.XM) uint32 { return uint32(xm.Class)<<8 | uint32(xm.Type) }

// instrKey renders instructions in OpenFlow's execution order, which is
// also the order switches report them in.
func instrKey(inst ofp.Instructions) string {
	if len(inst) > 1 {
		order := func(t ofp.InstructionType) int {
			switch t {
			case ofp.InstructionTypeMeter:
				return 0
			case ofp.InstructionTypeApplyActions:
				return 1
			case ofp.InstructionTypeClearActions:
				return 2
			case ofp.InstructionTypeWriteActions:
				return 3
			case ofp.InstructionTypeWriteMetadata:
				return 4
			}
			return 5
		}
		inst = append(ofp.Instructions(nil), inst...)
		sort.SliceStable(inst, func(i, j int) bool { return order(inst[i].Type()) < order(inst[j].Type()) })
	}
	return controller.FormatInstructions(inst)
}

// Compare returns the drift of one switch: missing, modified, extra and
// foreign flows, and missing, modified and extra groups and meters. The
// entries are in table, priority order; their DPID, Switch, Owner and
// Network are left for the caller to fill.
func Compare(in Intent, st State) []Entry {
	out, _ := CompareInPlace(in, st)
	return out
}

// CompareInPlace is Compare that also returns what the switch holds as
// intended: key (Entry.Key without the kind) -> intended instructions.
func CompareInPlace(in Intent, st State) ([]Entry, map[string]string) {
	var out []Entry
	inPlace := make(map[string]string, len(in.Flows))
	want := make(map[string]int, len(in.Flows))
	wantKeys := make([]string, len(in.Flows))
	for i := range in.Flows {
		f := &in.Flows[i]
		k := FlowKey(f.Table, f.Priority, f.Match)
		wantKeys[i] = k
		if _, dup := want[k]; !dup {
			want[k] = i // the compiler produced the same flow twice: the first wins (as the reconciler)
		}
	}
	seen := make(map[string]bool, len(want))
	for i := range st.Flows {
		fs := &st.Flows[i]
		k := FlowKey(fs.Table, fs.Priority, fs.Match)
		ck := controller.Cookie(fs.Cookie)
		kind := ck.Kind()
		wi, ok := want[k]
		if ok {
			seen[k] = true
			w := &in.Flows[wi]
			have := instrKey(fs.Instructions)
			intended := instrKey(w.Instructions)
			if have == intended && ck == w.Cookie {
				inPlace["flow|"+k] = intended
				continue
			}
			e := flowEntry(Modified, fs, k)
			e.Intended = intended
			e.Actions = have
			switch {
			case ck != w.Cookie && have != intended:
				e.Detail = fmt.Sprintf("owner %s and actions differ: intended owner %s, actions=%s", ck, w.Cookie, intended)
			case ck != w.Cookie:
				e.Detail = fmt.Sprintf("owner %s on the switch, intended %s", ck, w.Cookie)
			default:
				e.Detail = "actions=" + have + " on the switch, intended actions=" + intended
			}
			e.cookie = w.Cookie // the intended owner names it
			out = append(out, e)
			continue
		}
		switch {
		case kind == controller.OwnerForeign:
			e := flowEntry(Foreign, fs, k)
			e.Detail = fmt.Sprintf("not installed by Satellite (cookie 0x%x)", fs.Cookie)
			out = append(out, e)
		case in.Covers != nil && in.Covers(kind):
			e := flowEntry(Extra, fs, k)
			e.Detail = "owned by Satellite (" + ck.String() + ") but not intended by any object"
			out = append(out, e)
		}
	}
	for i := range in.Flows {
		f := &in.Flows[i]
		k := wantKeys[i]
		if seen[k] || want[k] != i {
			continue
		}
		seen[k] = true
		e := Entry{Kind: Missing, What: "flow", Table: f.Table, Priority: f.Priority, Match: controller.FormatMatch(f.Match),
			Intended: instrKey(f.Instructions), Cookie: f.Cookie.String(), cookie: f.Cookie, key: k, match: f.Match,
			Detail: "intended, not on the switch"}
		out = append(out, e)
	}
	out = append(out, compareGroups(in, st, inPlace)...)
	out = append(out, compareMeters(in, st, inPlace)...)
	sortEntries(out)
	return out, inPlace
}

func flowEntry(kind string, fs *ofwire.FlowStats, key string) Entry {
	return Entry{Kind: kind, What: "flow", Table: fs.Table, Priority: fs.Priority, Match: controller.FormatMatch(fs.Match),
		Actions: instrKey(fs.Instructions), Cookie: controller.Cookie(fs.Cookie).String(), Packets: fs.PacketCount, Bytes: fs.ByteCount,
		cookie: controller.Cookie(fs.Cookie), key: key, match: fs.Match}
}

func groupKey(typ uint8, buckets []ofwire.Bucket) string {
	var b strings.Builder
	fmt.Fprintf(&b, "type=%d", typ)
	for _, bk := range buckets {
		wp := bk.WatchPort
		if wp == uint32(ofp.PortAny) {
			wp = 0
		}
		fmt.Fprintf(&b, " bucket(weight=%d,watch_port=%d,actions=%s)", bk.Weight, wp, controller.FormatActions(bk.Actions))
	}
	return b.String()
}

func compareGroups(in Intent, st State, inPlace map[string]string) []Entry {
	if in.OwnedGroup == nil {
		return nil
	}
	var out []Entry
	want := map[uint32]controller.Group{}
	for _, g := range in.Groups {
		want[g.ID] = g
	}
	have := map[uint32]bool{}
	for _, g := range st.Groups {
		if !in.OwnedGroup(g.GroupID) {
			continue
		}
		have[g.GroupID] = true
		key := fmt.Sprintf("group/%d", g.GroupID)
		w, ok := want[g.GroupID]
		hk := groupKey(g.Type, g.Buckets)
		switch {
		case !ok:
			out = append(out, Entry{Kind: Extra, What: "group", ID: g.GroupID, Actions: hk, key: key, Owner: "virtual networks",
				Detail: fmt.Sprintf("group %#x is in the virtual networks' range but no tunnel needs it", g.GroupID)})
		case hk != groupKey(w.Type, w.Buckets):
			out = append(out, Entry{Kind: Modified, What: "group", ID: g.GroupID, Actions: hk, Intended: groupKey(w.Type, w.Buckets), key: key,
				Owner: "virtual networks", Detail: fmt.Sprintf("group %#x has other buckets than intended", g.GroupID)})
		default:
			inPlace["group|"+key] = hk
		}
	}
	for _, g := range in.Groups {
		if !have[g.ID] {
			out = append(out, Entry{Kind: Missing, What: "group", ID: g.ID, Intended: groupKey(g.Type, g.Buckets), key: fmt.Sprintf("group/%d", g.ID),
				Owner: "virtual networks", Detail: fmt.Sprintf("group %#x is intended, not on the switch", g.ID)})
		}
	}
	return out
}

func compareMeters(in Intent, st State, inPlace map[string]string) []Entry {
	if in.OwnedMeter == nil || !st.MetersKnown {
		return nil
	}
	var out []Entry
	want := map[uint32]controller.Meter{}
	for _, m := range in.Meters {
		want[m.ID] = m
	}
	have := map[uint32]bool{}
	text := func(m controller.Meter) string { return fmt.Sprintf("pps=%d,burst=%d", m.PPS, m.Burst) }
	for _, m := range st.Meters {
		if !in.OwnedMeter(m.ID) {
			continue
		}
		have[m.ID] = true
		key := fmt.Sprintf("meter/%d", m.ID)
		w, ok := want[m.ID]
		switch {
		case !ok:
			out = append(out, Entry{Kind: Extra, What: "meter", ID: m.ID, Actions: text(m), key: key, Owner: "virtual networks",
				Detail: fmt.Sprintf("meter %d is in the virtual networks' range but no interface needs it", m.ID)})
		case m != w:
			out = append(out, Entry{Kind: Modified, What: "meter", ID: m.ID, Actions: text(m), Intended: text(w), key: key,
				Owner: "virtual networks", Detail: fmt.Sprintf("meter %d: %s on the switch, intended %s", m.ID, text(m), text(w))})
		default:
			inPlace["meter|"+key] = text(m)
		}
	}
	for _, m := range in.Meters {
		if !have[m.ID] {
			out = append(out, Entry{Kind: Missing, What: "meter", ID: m.ID, Intended: text(m), key: fmt.Sprintf("meter/%d", m.ID),
				Owner: "virtual networks", Detail: fmt.Sprintf("meter %d is intended, not on the switch", m.ID)})
		}
	}
	return out
}

func kindOrder(k string) int {
	for i, n := range Kinds {
		if n == k {
			return i
		}
	}
	return len(Kinds)
}

func sortEntries(es []Entry) {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := &es[i], &es[j]
		if a.What != b.What {
			return a.What == "flow" || (b.What != "flow" && a.What < b.What)
		}
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		return kindOrder(a.Kind) < kindOrder(b.Kind)
	})
}
