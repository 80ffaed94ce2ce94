package diagnostics

import (
	"fmt"
	"sort"
	"strings"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// Reserved OpenFlow ports.
const (
	PortIn         = uint32(ofp.PortIn)
	PortTable      = uint32(ofp.PortTable)
	PortNormal     = uint32(ofp.PortNormal)
	PortFlood      = uint32(ofp.PortFlood)
	PortAll        = uint32(ofp.PortAll)
	PortController = uint32(ofp.PortController)
	PortLocal      = uint32(ofp.PortLocal)
	PortAny        = uint32(ofp.PortAny)
)

// Bounds that make every run terminate whatever the tables hold.
const (
	maxGroupDepth = 8     // groups chaining to groups
	maxActions    = 10000 // actions executed in one switch
	maxEmits      = 512   // packets one switch may send out
)

// Flow is one flow entry of a table.
type Flow struct {
	Table        uint8
	Priority     uint16
	Cookie       uint64
	Match        []ofp.XM
	Instructions ofp.Instructions

	m   []cfield // compiled match
	bad string   // a match field the simulator does not know
	seq int      // position in the dump (ties between equal priorities)
}

type cfield struct {
	f         uint8
	val, mask uint64
}

// MatchString renders the match in ovs-ofctl syntax.
func (f *Flow) MatchString() string { return controller.FormatMatch(f.Match) }

// ActionsString renders the instructions in ovs-ofctl syntax.
func (f *Flow) ActionsString() string { return controller.FormatInstructions(f.Instructions) }

// String is "table=T,priority=P,MATCH,actions=ACTIONS".
func (f *Flow) String() string {
	m := f.MatchString()
	if m != "" {
		m += ","
	}
	return fmt.Sprintf("table=%d,priority=%d,%sactions=%s", f.Table, f.Priority, m, f.ActionsString())
}

// Key identifies a flow in its switch: table, priority and match, in any
// field order.
func (f *Flow) Key() string {
	parts := make([]string, 0, len(f.Match))
	for _, xm := range f.Match {
		parts = append(parts, controller.FormatMatch([]ofp.XM{xm}))
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d/%d/%s", f.Table, f.Priority, strings.Join(parts, ","))
}

func bytesVal(b []byte) uint64 {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}

func (f *Flow) compile() {
	f.m = f.m[:0]
	for _, xm := range f.Match {
		t := uint8(xm.Type)
		size := 0
		switch {
		case xm.Class == ofp.XMClassOpenflowBasic && int(t) < len(fieldSize):
			size = int(fieldSize[t])
		case xm.Class == ofp.XMClassNicira1 && t == fCtState:
			size = 4
		case xm.Class == ofp.XMClassNicira1 && t == fCtZone:
			size = 2
		}
		if size == 0 || len(xm.Value) != size || (len(xm.Mask) != 0 && len(xm.Mask) != len(xm.Value)) {
			f.bad = controller.FormatMatch([]ofp.XM{xm})
			continue
		}
		mask := ^uint64(0) >> (64 - 8*uint(size))
		if len(xm.Mask) > 0 {
			mask = bytesVal(xm.Mask)
		}
		f.m = append(f.m, cfield{f: t, val: bytesVal(xm.Value) & mask, mask: mask})
	}
}

func (f *Flow) matches(p *Packet) bool {
	for _, c := range f.m {
		v, ok := p.get(c.f)
		if !ok || v&c.mask != c.val {
			return false
		}
	}
	return true
}

// Group is one group entry.
type Group struct {
	ID      uint32
	Type    uint8
	Buckets []ofwire.Bucket
}

// Port is a switch port as the simulator needs it.
type Port struct {
	No   uint32
	Name string
	Up   bool // administratively and physically up
	Live bool // usable by fast-failover groups
}

// Tables are one switch's flow and group tables and ports.
type Tables struct {
	DPID   uint64
	Name   string
	flows  [256][]*Flow // per table, highest priority first
	Groups map[uint32]*Group
	Ports  map[uint32]Port
	all    []*Flow
}

// NewTables builds a switch's tables. Flows of equal priority keep their
// order (the switch's choice between overlapping equal-priority flows is
// undefined in OpenFlow; the simulator takes the first dumped).
func NewTables(dpid uint64, name string, flows []Flow, groups []Group, ports []Port) *Tables {
	t := &Tables{DPID: dpid, Name: name, Groups: map[uint32]*Group{}, Ports: map[uint32]Port{}}
	for i := range flows {
		f := flows[i]
		f.seq = i
		f.compile()
		t.flows[f.Table] = append(t.flows[f.Table], &f)
		t.all = append(t.all, &f)
	}
	for i := range t.flows {
		fl := t.flows[i]
		sort.SliceStable(fl, func(a, b int) bool { return fl[a].Priority > fl[b].Priority })
	}
	for i := range groups {
		g := groups[i]
		t.Groups[g.ID] = &g
	}
	for _, p := range ports {
		t.Ports[p.No] = p
	}
	return t
}

// WithPorts returns the tables with another port state (flows shared).
func (t *Tables) WithPorts(ports []Port) *Tables {
	c := *t
	c.Ports = map[uint32]Port{}
	for _, p := range ports {
		c.Ports[p.No] = p
	}
	return &c
}

// Flows returns every flow, in dump order.
func (t *Tables) Flows() []*Flow { return t.all }

// Table returns one table's flows, highest priority first.
func (t *Tables) Table(n uint8) []*Flow { return t.flows[n] }

// Find returns the flow with the same key (table, priority, match), if any.
func (t *Tables) Find(f *Flow) *Flow {
	k := f.Key()
	for _, g := range t.flows[f.Table] {
		if g.Priority == f.Priority && g.Key() == k {
			return g
		}
	}
	return nil
}

// Lookup returns the highest-priority flow of table n matching p (nil on a
// table miss) and a note when a flow with a field the simulator does not
// know could have matched first.
func (t *Tables) Lookup(n uint8, p *Packet) (*Flow, string) {
	var note string
	for _, f := range t.flows[n] {
		if f.matches(p) {
			if f.bad != "" {
				if note == "" {
					note = fmt.Sprintf("flow priority %d matches on %s, which the simulator does not evaluate; assumed not to match", f.Priority, f.bad)
				}
				continue
			}
			return f, note
		}
	}
	return nil, note
}

// Step is one table lookup.
type Step struct {
	Table  uint8
	InPort uint32
	Flow   *Flow  // nil: table miss
	After  Packet // headers after the flow's instructions
	Out    string // where the packet goes next from here
	Notes  []string
}

// Emit is a packet the switch sends: out of a port, or to the controller.
type Emit struct {
	Port   uint32 // a port number or PortController, PortLocal, PortNormal
	Packet Packet
	Step   int    // the step that sent it
	Via    string // how: "output:2", "group 5 bucket 1 (watch port 201, live)", "flood"
}

// Drop is a copy of the packet the switch dropped, and why.
type Drop struct {
	Step   int
	Table  uint8
	Kind   string // DropMiss, DropFlow, DropTTL, DropPortDown, DropNoBucket, DropInvalid
	Reason string
	Port   uint32 // DropPortDown: the port the switch sends to
}

// Drop kinds.
const (
	DropMiss     = "miss"      // no flow matched
	DropFlow     = "flow"      // the matching flow's actions end without output
	DropTTL      = "ttl"       // dec_ttl on a TTL of 0 or 1
	DropPortDown = "port-down" // output to a port that is down or missing
	DropNoBucket = "no-bucket" // a group with no live bucket
	DropInvalid  = "invalid"   // something the switch would not do (goto backwards, ...)
)

// SwitchResult is what one switch does with one packet.
type SwitchResult struct {
	Steps []Step
	Emits []Emit
	Drops []Drop
}

// run holds one switch's execution state.
type run struct {
	t       *Tables
	res     *SwitchResult
	inPort  uint32
	step    int
	actions int
	aset    actionSet
	recirc  int // the table a ct action recirculates to (-1: none)
	recircs int // recirculations so far (bounded)
}

// maxRecirc bounds ct recirculations per switch: a flow that
// recirculates into itself must not make a trace run for ever.
const maxRecirc = 8

// Run sends p through the switch's pipeline from table 0.
func (t *Tables) Run(p Packet) SwitchResult {
	return t.RunFrom(0, p)
}

// RunFrom sends p through the pipeline starting at table start.
func (t *Tables) RunFrom(start uint8, p Packet) SwitchResult {
	var res SwitchResult
	r := &run{t: t, res: &res, inPort: p.InPort, recirc: -1}
	table := int(start)
	for table < 256 {
		f, note := t.Lookup(uint8(table), &p)
		st := Step{Table: uint8(table), InPort: r.inPort, Flow: f}
		if note != "" {
			st.Notes = append(st.Notes, note)
		}
		res.Steps = append(res.Steps, st)
		r.step = len(res.Steps) - 1
		if f == nil {
			res.Steps[r.step].After = p
			res.Steps[r.step].Out = "drop (table miss)"
			r.drop(DropMiss, fmt.Sprintf("table miss: no flow in table %d matches", table))
			return res
		}
		next, ok := r.instructions(f, &p)
		res.Steps[r.step].After = p
		if !ok {
			return res
		}
		if r.recirc >= 0 {
			// the ct action sent the packet through the connection tracker
			// and on into a table (the same one is allowed: it is not a goto)
			to := r.recirc
			r.recirc = -1
			if r.recircs++; r.recircs > maxRecirc {
				r.drop(DropInvalid, fmt.Sprintf("more than %d conntrack recirculations on this switch", maxRecirc))
				return res
			}
			r.out(fmt.Sprintf("ct: recirculated to table %d", to))
			table = to
			continue
		}
		if next < 0 {
			// end of the pipeline: the action set
			if r.aset.empty() {
				if len(res.Emits) == 0 || res.Emits[len(res.Emits)-1].Step != r.step {
					if res.Steps[r.step].Out == "" {
						res.Steps[r.step].Out = "drop"
					}
					if !r.droppedHere() {
						r.drop(DropFlow, fmt.Sprintf("dropped by the flow in table %d (priority %d, actions=%s)", table, f.Priority, f.ActionsString()))
					}
				}
				return res
			}
			r.note("action set: " + r.aset.String())
			r.aset.execute(r, &p)
			return res
		}
		if next <= table {
			r.drop(DropInvalid, fmt.Sprintf("goto_table:%d from table %d goes backwards (a switch rejects such flows)", next, table))
			return res
		}
		r.out(fmt.Sprintf("goto_table:%d", next))
		table = next
	}
	return res
}

func (r *run) note(s string) {
	r.res.Steps[r.step].Notes = append(r.res.Steps[r.step].Notes, s)
}

func (r *run) out(s string) {
	st := &r.res.Steps[r.step]
	if st.Out == "" {
		st.Out = s
	} else {
		st.Out += "; " + s
	}
}

func (r *run) droppedHere() bool {
	d := r.res.Drops
	return len(d) > 0 && d[len(d)-1].Step == r.step
}

func (r *run) drop(kind, reason string) {
	r.res.Drops = append(r.res.Drops, Drop{Step: r.step, Table: r.res.Steps[r.step].Table, Kind: kind, Reason: reason})
}

// instructions executes a flow's instructions in OpenFlow 1.3 order
// (meter, apply, clear, write, metadata, goto). It returns the next table
// (-1 for none) and false when the packet is gone (TTL expired).
func (r *run) instructions(f *Flow, p *Packet) (int, bool) {
	next := -1
	order := []ofp.InstructionType{ofp.InstructionTypeMeter, ofp.InstructionTypeApplyActions, ofp.InstructionTypeClearActions,
		ofp.InstructionTypeWriteActions, ofp.InstructionTypeWriteMetadata, ofp.InstructionTypeGotoTable}
	for _, typ := range order {
		for _, in := range f.Instructions {
			if in.Type() != typ {
				continue
			}
			switch in := in.(type) {
			case *ofp.InstructionMeter:
				r.note(fmt.Sprintf("meter %d is not simulated (the switch may rate-limit this packet)", in.Meter))
			case *ofp.InstructionApplyActions:
				if !r.actionList(in.Actions, p, 0, "") {
					return -1, false
				}
			case *ofp.InstructionClearActions:
				r.aset = actionSet{}
			case *ofp.InstructionWriteActions:
				for _, a := range in.Actions {
					r.aset.write(a)
				}
			case *ofp.InstructionWriteMetadata:
				p.Metadata = p.Metadata&^in.MetadataMask | in.Metadata&in.MetadataMask
			case *ofp.InstructionGotoTable:
				next = int(in.Table)
			}
		}
	}
	for _, in := range f.Instructions {
		if raw, ok := in.(*ofwire.RawInstruction); ok {
			r.note(fmt.Sprintf("instruction type %d is not simulated", raw.Typ))
		}
	}
	return next, true
}

// actionList applies actions in order; false means the packet is gone.
func (r *run) actionList(acts ofp.Actions, p *Packet, depth int, via string) bool {
	for _, a := range acts {
		r.actions++
		if r.actions > maxActions {
			r.note(fmt.Sprintf("stopped after %d actions", maxActions))
			return false
		}
		if !r.action(a, p, depth, via) {
			return false
		}
	}
	return true
}

func (r *run) action(a ofp.Action, p *Packet, depth int, via string) bool {
	switch a := a.(type) {
	case *ofp.ActionOutput:
		r.output(uint32(a.Port), *p, via)
	case *ofp.ActionGroup:
		r.group(uint32(a.Group), p, depth)
	case *ofp.ActionSetField:
		t := uint8(a.Field.Type)
		if a.Field.Class != ofp.XMClassOpenflowBasic || int(t) >= len(fieldSize) || fieldSize[t] == 0 {
			r.note("set_field " + controller.FormatMatch([]ofp.XM{a.Field}) + " is not simulated")
			return true
		}
		v := bytesVal(a.Field.Value)
		if t == fVLANVID {
			v &^= vidPresent
		}
		if !p.set(t, v) {
			r.note(fmt.Sprintf("set_field on %s: the packet has no such header; unchanged", controller.FormatMatch([]ofp.XM{a.Field})))
		}
	case *ofp.ActionPushVLAN:
		if p.NVLAN >= 2 {
			r.note("push_vlan: more than two VLAN tags are not simulated")
			return true
		}
		p.VLAN[1], p.PCP[1] = p.VLAN[0], p.PCP[0]
		if p.NVLAN == 0 {
			p.VLAN[0], p.PCP[0] = 0, 0
		}
		p.NVLAN++
	case *ofp.ActionPopVLAN:
		if p.NVLAN == 0 {
			r.note("pop_vlan on an untagged packet")
			return true
		}
		p.VLAN[0], p.PCP[0] = p.VLAN[1], p.PCP[1]
		p.VLAN[1], p.PCP[1] = 0, 0
		p.NVLAN--
	case *ofp.ActionDecNetworkTTL:
		if !p.isIP() {
			return true
		}
		if p.TTL <= 1 {
			r.out("drop (TTL expired)")
			r.drop(DropTTL, fmt.Sprintf("TTL expired: dec_ttl on a packet with TTL %d", p.TTL))
			return false
		}
		p.TTL--
	case *ofp.ActionSetNetworkTTL:
		if p.isIP() {
			p.TTL = a.TTL
		}
	case *ofp.ActionSetQueue:
	case *ofp.ActionCopyTTLIn, *ofp.ActionCopyTTLOut:
	case *ofwire.ActionCT:
		r.conntrack(a, p)
	default:
		r.note(fmt.Sprintf("action %s is not simulated", controller.FormatActions(ofp.Actions{a})))
	}
	return true
}

// conntrack simulates Open vSwitch's ct action for the traced packet,
// which is taken to be the first of a new connection: tracked and new in
// the zone (a reply, or a packet of an existing connection, would be
// established there; the live trace shows what the switch really has).
// With a table the packet continues there after this flow's actions.
func (r *run) conntrack(a *ofwire.ActionCT, p *Packet) {
	if p.CtState&ofwire.CTTrk == 0 || p.CtZone != a.Zone {
		p.CtState = ofwire.CTTrk | ofwire.CTNew
	}
	p.CtZone = a.Zone
	what := fmt.Sprintf("conntrack zone %d: the traced packet opens a new connection (ct_state=+trk+new)", a.Zone)
	if a.Commit {
		what += ", committed"
	}
	r.note(what)
	if a.Table != ofwire.CTNoTable {
		r.recirc = int(a.Table)
	}
}

func (r *run) emit(port uint32, p Packet, via string) {
	if len(r.res.Emits) >= maxEmits {
		r.note(fmt.Sprintf("more than %d copies; the rest are not followed", maxEmits))
		return
	}
	r.res.Emits = append(r.res.Emits, Emit{Port: port, Packet: p, Step: r.step, Via: via})
}

func (r *run) portName(no uint32) string {
	if p, ok := r.t.Ports[no]; ok && p.Name != "" {
		return fmt.Sprintf("%d (%s)", no, p.Name)
	}
	return fmt.Sprint(no)
}

func (r *run) output(port uint32, p Packet, via string) {
	how := "output:" + controller.FormatActions(ofp.Actions{&ofp.ActionOutput{Port: ofp.PortNo(port)}})[len("output:"):]
	if via != "" {
		how = via + " " + how
	}
	switch port {
	case PortIn:
		r.out("output:IN_PORT " + r.portName(r.inPort))
		r.sendPort(r.inPort, p, how)
	case PortController:
		r.out("output:CONTROLLER")
		r.emit(PortController, p, how)
	case PortLocal:
		r.out("output:LOCAL")
		r.emit(PortLocal, p, how)
	case PortNormal:
		r.out("output:NORMAL")
		r.note("NORMAL (the switch's own L2 learning) is not simulated; the trace ends here")
		r.emit(PortNormal, p, how)
	case PortFlood, PortAll:
		nos := make([]uint32, 0, len(r.t.Ports))
		for no := range r.t.Ports {
			if no != r.inPort && no != PortLocal {
				nos = append(nos, no)
			}
		}
		sort.Slice(nos, func(i, j int) bool { return nos[i] < nos[j] })
		r.out(fmt.Sprintf("%s (%d ports)", strings.ToLower(formatReserved(port)), len(nos)))
		for _, no := range nos {
			if pt := r.t.Ports[no]; pt.Up {
				r.emit(no, p, how)
			}
		}
	case PortTable, PortAny:
		r.out("drop")
		r.drop(DropInvalid, fmt.Sprintf("output to %s is only valid in packet-out", formatReserved(port)))
	default:
		if port == r.inPort {
			r.out("output:" + r.portName(port) + " skipped (the input port; only IN_PORT sends back)")
			r.drop(DropInvalid, fmt.Sprintf("output to port %s, the packet's input port, is skipped (OpenFlow sends back only with output:IN_PORT)", r.portName(port)))
			return
		}
		r.out("output:" + r.portName(port))
		r.sendPort(port, p, how)
	}
}

func formatReserved(port uint32) string {
	return strings.TrimPrefix(controller.FormatActions(ofp.Actions{&ofp.ActionOutput{Port: ofp.PortNo(port)}}), "output:")
}

func (r *run) sendPort(port uint32, p Packet, how string) {
	pt, ok := r.t.Ports[port]
	switch {
	case !ok && len(r.t.Ports) > 0:
		r.drop(DropPortDown, fmt.Sprintf("output to port %d, which the switch does not have", port))
		r.res.Drops[len(r.res.Drops)-1].Port = port
	case ok && !pt.Up:
		r.drop(DropPortDown, fmt.Sprintf("port %s is down", r.portName(port)))
		r.res.Drops[len(r.res.Drops)-1].Port = port
	default:
		r.emit(port, p, how)
	}
}

// live reports whether a fast-failover bucket may be used.
func (r *run) live(b ofwire.Bucket, depth int) bool {
	ok := true
	if b.WatchPort != 0 && b.WatchPort != PortAny {
		p, has := r.t.Ports[b.WatchPort]
		ok = has && p.Up && p.Live
	}
	if ok && b.WatchGroup != 0 && b.WatchGroup != uint32(ofp.GroupAny) {
		g := r.t.Groups[b.WatchGroup]
		ok = g != nil && depth < maxGroupDepth && r.groupLive(g, depth+1)
	}
	return ok
}

func (r *run) groupLive(g *Group, depth int) bool {
	for _, b := range g.Buckets {
		if r.live(b, depth) {
			return true
		}
	}
	return false
}

func (r *run) watchText(b ofwire.Bucket) string {
	if b.WatchPort == 0 || b.WatchPort == PortAny {
		return ""
	}
	state := "down"
	if p, ok := r.t.Ports[b.WatchPort]; ok && p.Up && p.Live {
		state = "live"
	}
	return fmt.Sprintf(", watch port %s %s", r.portName(b.WatchPort), state)
}

func (r *run) group(id uint32, p *Packet, depth int) {
	g := r.t.Groups[id]
	if g == nil {
		r.out(fmt.Sprintf("group:%d (missing)", id))
		r.drop(DropInvalid, fmt.Sprintf("group %d does not exist on the switch", id))
		return
	}
	if depth >= maxGroupDepth {
		r.drop(DropInvalid, fmt.Sprintf("group %d: groups chained deeper than %d", id, maxGroupDepth))
		return
	}
	bucket := func(i int) {
		r.out(fmt.Sprintf("group:%d bucket %d", id, i+1))
		q := *p
		r.actionList(g.Buckets[i].Actions, &q, depth+1, fmt.Sprintf("group %d bucket %d%s:", id, i+1, r.watchText(g.Buckets[i])))
	}
	switch g.Type {
	case controller.GroupAll:
		r.note(fmt.Sprintf("group %d (all): %d buckets", id, len(g.Buckets)))
		for i := range g.Buckets {
			bucket(i)
		}
	case controller.GroupIndirect:
		if len(g.Buckets) == 0 {
			r.drop(DropNoBucket, fmt.Sprintf("indirect group %d has no bucket", id))
			return
		}
		bucket(0)
	case controller.GroupSelect:
		var live []int
		var weight int
		for i, b := range g.Buckets {
			if r.live(b, depth) && b.Weight > 0 {
				live = append(live, i)
				weight += int(b.Weight)
			}
		}
		if len(live) == 0 {
			r.out(fmt.Sprintf("group:%d (no live bucket)", id))
			r.drop(DropNoBucket, fmt.Sprintf("select group %d has no live bucket of non-zero weight", id))
			return
		}
		h := int(selectHash(p) % uint64(weight))
		chosen := live[0]
		for _, i := range live {
			if h < int(g.Buckets[i].Weight) {
				chosen = i
				break
			}
			h -= int(g.Buckets[i].Weight)
		}
		r.note(fmt.Sprintf("group %d (select): the switch hashes the packet over %d live buckets; simulated bucket %d (the switch may pick another)", id, len(live), chosen+1))
		bucket(chosen)
	case controller.GroupFastFailover:
		var dead []string
		for i, b := range g.Buckets {
			if r.live(b, depth) {
				if len(dead) > 0 {
					r.note(fmt.Sprintf("group %d (fast failover): bucket %d used; not live: %s", id, i+1, strings.Join(dead, ", ")))
				}
				bucket(i)
				return
			}
			dead = append(dead, fmt.Sprintf("bucket %d%s", i+1, r.watchText(b)))
		}
		r.out(fmt.Sprintf("group:%d (no live bucket)", id))
		if len(dead) == 0 {
			dead = []string{"it has no buckets"}
		}
		r.drop(DropNoBucket, fmt.Sprintf("no live bucket in fast-failover group %d (%s)", id, strings.Join(dead, "; ")))
	default:
		r.drop(DropInvalid, fmt.Sprintf("group %d has unknown type %d", id, g.Type))
	}
}

// selectHash is a stable stand-in for the switch's select-group hash.
func selectHash(p *Packet) uint64 {
	h := uint64(14695981039346656037)
	for _, v := range []uint64{p.EthSrc, p.EthDst, uint64(p.IPSrc), uint64(p.IPDst), uint64(p.L4Src), uint64(p.L4Dst), uint64(p.IPProto)} {
		h ^= v
		h *= 1099511628211
	}
	return h
}

// actionSet is the OpenFlow 1.3 action set: at most one action of each
// type (one set_field per field), executed in the specification's order.
type actionSet struct {
	copyIn, pop, push, copyOut, decTTL, setTTL, queue, group, output ofp.Action
	sets                                                             []ofp.Action
	other                                                            []ofp.Action
}

func (s *actionSet) empty() bool {
	return s.copyIn == nil && s.pop == nil && s.push == nil && s.copyOut == nil && s.decTTL == nil && s.setTTL == nil &&
		s.queue == nil && s.group == nil && s.output == nil && len(s.sets) == 0 && len(s.other) == 0
}

func (s *actionSet) write(a ofp.Action) {
	switch a := a.(type) {
	case *ofp.ActionCopyTTLIn:
		s.copyIn = a
	case *ofp.ActionPopVLAN:
		s.pop = a
	case *ofp.ActionPushVLAN:
		s.push = a
	case *ofp.ActionCopyTTLOut:
		s.copyOut = a
	case *ofp.ActionDecNetworkTTL:
		s.decTTL = a
	case *ofp.ActionSetNetworkTTL:
		s.setTTL = a
	case *ofp.ActionSetQueue:
		s.queue = a
	case *ofp.ActionGroup:
		s.group = a
	case *ofp.ActionOutput:
		s.output = a
	case *ofp.ActionSetField:
		for i, x := range s.sets {
			if x.(*ofp.ActionSetField).Field.Type == a.Field.Type {
				s.sets[i] = a
				return
			}
		}
		s.sets = append(s.sets, a)
	default:
		s.other = append(s.other, a)
	}
}

func (s *actionSet) list() ofp.Actions {
	var out ofp.Actions
	for _, a := range []ofp.Action{s.copyIn, s.pop, s.push, s.copyOut, s.decTTL, s.setTTL} {
		if a != nil {
			out = append(out, a)
		}
	}
	out = append(out, s.sets...)
	out = append(out, s.other...)
	if s.queue != nil {
		out = append(out, s.queue)
	}
	if s.group != nil {
		out = append(out, s.group) // output is ignored when there is a group
	} else if s.output != nil {
		out = append(out, s.output)
	}
	return out
}

func (s *actionSet) String() string { return controller.FormatActions(s.list()) }

func (s *actionSet) execute(r *run, p *Packet) {
	acts := s.list()
	if s.group == nil && s.output == nil {
		r.out("drop (the action set has no output)")
		r.drop(DropFlow, "the action set ends without output or group")
		return
	}
	r.actionList(acts, p, 0, "action set")
}
