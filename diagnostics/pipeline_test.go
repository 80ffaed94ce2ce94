package diagnostics

import (
	"strings"
	"testing"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

func parseFlows(t testing.TB, specs ...string) []Flow {
	t.Helper()
	out := make([]Flow, 0, len(specs))
	for i, s := range specs {
		f, err := controller.ParseFlow(s)
		if err != nil {
			t.Fatalf("flow %q: %v", s, err)
		}
		out = append(out, Flow{Table: f.Table, Priority: f.Priority, Cookie: uint64(i + 1), Match: f.Match, Instructions: f.Instructions})
	}
	return out
}

func ports(nos ...uint32) []Port {
	var out []Port
	for _, n := range nos {
		out = append(out, Port{No: n, Name: "p" + string(rune('0'+n%10)), Up: true, Live: true})
	}
	return out
}

func icmpPacket(in uint32, src, dst string) Packet {
	s, _ := ParseIPv4(src)
	d, _ := ParseIPv4(dst)
	return Packet{InPort: in, EthSrc: 0x020000000101, EthDst: 0x020000000201, EthType: EthIPv4, IPProto: ProtoICMP,
		IPSrc: s, IPDst: d, TTL: 64, ICMPType: 8}
}

func outPorts(r SwitchResult) []uint32 {
	var out []uint32
	for _, e := range r.Emits {
		out = append(out, e.Port)
	}
	return out
}

func TestPriorityMaskAndGoto(t *testing.T) {
	tb := NewTables(1, "s1", parseFlows(t,
		"table=0,priority=10,ip,nw_dst=10.0.0.0/8,actions=goto_table:2",
		"table=0,priority=20,ip,nw_dst=10.1.0.0/16,actions=write_metadata:0x5/0xff,goto_table:1",
		"table=0,priority=0,actions=drop",
		"table=1,priority=5,metadata=0x5/0xf,actions=output:3",
		"table=2,priority=5,actions=output:4",
	), nil, ports(1, 2, 3, 4))
	r := tb.Run(icmpPacket(1, "10.1.2.3", "10.1.9.9"))
	if got := outPorts(r); len(got) != 1 || got[0] != 3 {
		t.Fatalf("10.1.0.0/16 should win (priority 20) and metadata 0x5 match in table 1: outputs %v, steps %+v", got, r.Steps)
	}
	if r.Steps[0].Flow.Priority != 20 || r.Steps[1].Table != 1 || r.Steps[0].Out != "goto_table:1" {
		t.Fatalf("steps: %+v", r.Steps)
	}
	if r.Steps[1].After.Metadata != 5 {
		t.Fatalf("metadata after write_metadata: %#x", r.Steps[1].After.Metadata)
	}
	r = tb.Run(icmpPacket(1, "10.1.2.3", "10.2.9.9"))
	if got := outPorts(r); len(got) != 1 || got[0] != 4 {
		t.Fatalf("10.2.9.9 should take the /8: %v", got)
	}
	r = tb.Run(icmpPacket(1, "10.1.2.3", "11.0.0.1"))
	if len(r.Emits) != 0 || len(r.Drops) != 1 || r.Drops[0].Kind != DropFlow {
		t.Fatalf("11.0.0.1 should be dropped by the priority-0 flow: %+v", r)
	}
	// a miss in table 1 (metadata does not match)
	tb2 := NewTables(1, "s1", parseFlows(t, "table=0,priority=1,actions=goto_table:1", "table=1,priority=1,metadata=0x7,actions=output:2"), nil, ports(1, 2))
	r = tb2.Run(icmpPacket(1, "1.1.1.1", "2.2.2.2"))
	if len(r.Drops) != 1 || r.Drops[0].Kind != DropMiss || r.Drops[0].Table != 1 || r.Steps[1].Flow != nil {
		t.Fatalf("want a table miss in table 1: %+v", r)
	}
}

func TestSetFieldVLANAndTTL(t *testing.T) {
	tb := NewTables(1, "s1", parseFlows(t,
		"table=0,priority=1,in_port=1,actions=dec_ttl,set_field:02:00:00:00:09:09->dl_dst,push_vlan:0x8100,set_field:10->dl_vlan,output:2,pop_vlan,output:3",
		"table=0,priority=1,in_port=4,dl_vlan=10,actions=pop_vlan,output:2",
	), nil, ports(1, 2, 3, 4))
	r := tb.Run(icmpPacket(1, "10.0.0.1", "10.0.0.2"))
	if len(r.Emits) != 2 {
		t.Fatalf("want 2 outputs: %+v", r)
	}
	a, b := r.Emits[0].Packet, r.Emits[1].Packet
	if a.NVLAN != 1 || a.VLAN[0] != 10 || a.TTL != 63 || MAC(a.EthDst) != "02:00:00:00:09:09" {
		t.Fatalf("first copy: %s", a)
	}
	if b.NVLAN != 0 || b.TTL != 63 {
		t.Fatalf("second copy (after pop_vlan): %s", b)
	}
	in := icmpPacket(4, "10.0.0.1", "10.0.0.2")
	in.NVLAN, in.VLAN[0] = 1, 10
	r = tb.Run(in)
	if len(r.Emits) != 1 || r.Emits[0].Packet.NVLAN != 0 {
		t.Fatalf("tagged input: %+v", r)
	}
	in.VLAN[0] = 11
	if r = tb.Run(in); len(r.Emits) != 0 {
		t.Fatal("vlan 11 matched dl_vlan=10")
	}
	// TTL 1: dec_ttl drops
	p := icmpPacket(1, "10.0.0.1", "10.0.0.2")
	p.TTL = 1
	r = tb.Run(p)
	if len(r.Emits) != 0 || len(r.Drops) != 1 || r.Drops[0].Kind != DropTTL {
		t.Fatalf("TTL 1: %+v", r)
	}
}

func TestActionSetAndClear(t *testing.T) {
	fl := []Flow{
		{Table: 0, Priority: 1, Instructions: ofp.Instructions{
			&ofp.InstructionWriteActions{Actions: ofp.Actions{&ofp.ActionOutput{Port: 2}, &ofp.ActionSetField{Field: ofp.XM{Class: ofp.XMClassOpenflowBasic, Type: fEthDst, Value: ofp.XMValue{2, 0, 0, 0, 0, 7}}}}},
			&ofp.InstructionGotoTable{Table: 1}}},
		// table 1 replaces the output in the set and applies nothing itself
		{Table: 1, Priority: 1, Match: parseFlows(t, "in_port=1,actions=drop")[0].Match, Instructions: ofp.Instructions{
			&ofp.InstructionWriteActions{Actions: ofp.Actions{&ofp.ActionOutput{Port: 3}}}}},
		{Table: 1, Priority: 1, Match: parseFlows(t, "in_port=4,actions=drop")[0].Match, Instructions: ofp.Instructions{&ofp.InstructionClearActions{}}},
	}
	tb := NewTables(1, "s", fl, nil, ports(1, 2, 3, 4))
	r := tb.Run(icmpPacket(1, "1.1.1.1", "2.2.2.2"))
	if got := outPorts(r); len(got) != 1 || got[0] != 3 || MAC(r.Emits[0].Packet.EthDst) != "02:00:00:00:00:07" {
		t.Fatalf("action set: want output 3 with the rewritten dl_dst: %+v", r.Emits)
	}
	if r = tb.Run(icmpPacket(4, "1.1.1.1", "2.2.2.2")); len(r.Emits) != 0 || r.Drops[0].Kind != DropFlow {
		t.Fatalf("clear_actions should leave nothing: %+v", r)
	}
}

func TestGroups(t *testing.T) {
	out := func(p uint32) ofp.Actions { return ofp.Actions{&ofp.ActionOutput{Port: ofp.PortNo(p)}} }
	groups := []Group{
		{ID: 1, Type: controller.GroupFastFailover, Buckets: []ofwire.Bucket{{WatchPort: 2, Actions: out(2)}, {WatchPort: 3, Actions: out(3)}}},
		{ID: 2, Type: controller.GroupAll, Buckets: []ofwire.Bucket{{Actions: out(2)}, {Actions: out(3)}, {Actions: out(4)}}},
		{ID: 3, Type: controller.GroupIndirect, Buckets: []ofwire.Bucket{{Actions: ofp.Actions{&ofp.ActionGroup{Group: 1}}}}},
		{ID: 4, Type: controller.GroupSelect, Buckets: []ofwire.Bucket{{Weight: 1, Actions: out(2)}, {Weight: 1, Actions: out(3)}}},
		{ID: 5, Type: controller.GroupIndirect, Buckets: []ofwire.Bucket{{Actions: ofp.Actions{&ofp.ActionGroup{Group: 5}}}}}, // a loop
	}
	fl := parseFlows(t,
		"table=0,priority=1,in_port=1,icmp,actions=group:1",
		"table=0,priority=1,in_port=1,tcp,actions=group:2",
		"table=0,priority=1,in_port=1,udp,actions=group:3",
		"table=0,priority=1,in_port=4,actions=group:4",
		"table=0,priority=1,in_port=5,actions=group:5",
	)
	ps := ports(1, 2, 3, 4, 5)
	tb := NewTables(1, "s", fl, groups, ps)
	if got := outPorts(tb.Run(icmpPacket(1, "1.1.1.1", "2.2.2.2"))); len(got) != 1 || got[0] != 2 {
		t.Fatalf("fast failover with both live: %v", got)
	}
	ps[1].Live = false // port 2 not live
	tb = NewTables(1, "s", fl, groups, ps)
	if got := outPorts(tb.Run(icmpPacket(1, "1.1.1.1", "2.2.2.2"))); len(got) != 1 || got[0] != 3 {
		t.Fatalf("fast failover with port 2 dead: %v", got)
	}
	ps[2].Up = false
	tb = NewTables(1, "s", fl, groups, ps)
	r := tb.Run(icmpPacket(1, "1.1.1.1", "2.2.2.2"))
	if len(r.Emits) != 0 || len(r.Drops) == 0 || r.Drops[0].Kind != DropNoBucket || !strings.Contains(r.Drops[0].Reason, "no live bucket") {
		t.Fatalf("no live bucket: %+v", r)
	}
	tb = NewTables(1, "s", fl, groups, ports(1, 2, 3, 4, 5))
	tcp := icmpPacket(1, "1.1.1.1", "2.2.2.2")
	tcp.IPProto = ProtoTCP
	if got := outPorts(tb.Run(tcp)); len(got) != 3 {
		t.Fatalf("all group: %v", got)
	}
	udp := tcp
	udp.IPProto = ProtoUDP
	if got := outPorts(tb.Run(udp)); len(got) != 1 || got[0] != 2 {
		t.Fatalf("indirect -> fast failover: %v", got)
	}
	if got := outPorts(tb.Run(icmpPacket(4, "1.1.1.1", "2.2.2.2"))); len(got) != 1 {
		t.Fatalf("select: %v", got)
	}
	r = tb.Run(icmpPacket(5, "1.1.1.1", "2.2.2.2"))
	if len(r.Drops) == 0 || r.Drops[0].Kind != DropInvalid {
		t.Fatalf("a group chaining to itself must end: %+v", r)
	}
}

func TestReservedPorts(t *testing.T) {
	tb := NewTables(1, "s", parseFlows(t,
		"table=0,priority=1,in_port=1,actions=flood",
		"table=0,priority=1,in_port=2,actions=in_port",
		"table=0,priority=1,in_port=3,actions=output:3",
		"table=0,priority=1,in_port=4,actions=controller,output:9",
	), nil, ports(1, 2, 3, 4))
	if got := outPorts(tb.Run(icmpPacket(1, "1.1.1.1", "2.2.2.2"))); len(got) != 3 {
		t.Fatalf("flood: %v", got)
	}
	if got := outPorts(tb.Run(icmpPacket(2, "1.1.1.1", "2.2.2.2"))); len(got) != 1 || got[0] != 2 {
		t.Fatalf("in_port: %v", got)
	}
	r := tb.Run(icmpPacket(3, "1.1.1.1", "2.2.2.2"))
	if len(r.Emits) != 0 || r.Drops[0].Kind != DropInvalid {
		t.Fatalf("output to the input port is skipped: %+v", r)
	}
	r = tb.Run(icmpPacket(4, "1.1.1.1", "2.2.2.2"))
	if got := outPorts(r); len(got) != 1 || got[0] != PortController || r.Drops[0].Kind != DropPortDown {
		t.Fatalf("controller + missing port: %+v", r)
	}
}

// TestFloodStormEnds: two switches flooding each other over two links
// with dec_ttl make new headers on every visit; the trace still ends.
func TestFloodStormEnds(t *testing.T) {
	fl := parseFlows(t, "table=0,priority=1,actions=dec_ttl,flood")
	fab := &Fabric{
		Switches: map[uint64]*Tables{1: NewTables(1, "a", fl, nil, ports(1, 2, 3)), 2: NewTables(2, "b", fl, nil, ports(1, 2, 3))},
		Links:    map[Endpoint]Endpoint{{1, 1}: {2, 1}, {2, 1}: {1, 1}, {1, 2}: {2, 2}, {2, 2}: {1, 2}},
	}
	tr := fab.Trace(Endpoint{1, 3}, icmpPacket(3, "10.0.0.1", "10.0.0.2"))
	if tr.Verdict == "" || len(tr.Outcomes) == 0 {
		t.Fatalf("no verdict: %+v", tr)
	}
	if len(tr.visits) > maxVisits {
		t.Fatalf("%d visits", len(tr.visits))
	}
}

// Conntrack: an untracked packet goes through ct and is recirculated into
// the same table, tracked; the traced packet opens a new connection, so a
// flow admitting +new passes it and one matching +est alone would not; a
// flow that recirculates into itself ends.
func TestConntrack(t *testing.T) {
	tb := NewTables(1, "s1", parseFlows(t,
		"table=0,priority=100,ip,ct_state=-trk,actions=ct(zone=5,table=0)",
		"table=0,priority=90,ip,ct_state=+trk+est,actions=output:2",
		"table=0,priority=80,ip,ct_state=+trk+new,ct_zone=5,icmp,actions=ct(commit,zone=5),output:3",
		"table=0,priority=0,actions=drop",
	), nil, ports(1, 2, 3))
	r := tb.Run(icmpPacket(1, "10.0.0.1", "10.0.0.2"))
	if got := outPorts(r); len(got) != 1 || got[0] != 3 {
		t.Fatalf("a new ICMP connection should leave by port 3 (the +new rule): %v, steps %+v", got, r.Steps)
	}
	if len(r.Steps) != 2 || r.Steps[0].Out != "ct: recirculated to table 0" || r.Steps[1].After.CtState != ofwire.CTTrk|ofwire.CTNew || r.Steps[1].After.CtZone != 5 {
		t.Fatalf("steps %+v", r.Steps)
	}
	// a new UDP connection: tracked and new, but no rule admits it
	p := icmpPacket(1, "10.0.0.1", "10.0.0.2")
	p.IPProto, p.L4Src, p.L4Dst = ProtoUDP, 1000, 53
	if r := tb.Run(p); len(r.Emits) != 0 || len(r.Drops) != 1 {
		t.Fatalf("a new UDP connection should be dropped: %+v", r)
	}
	// a ct that recirculates for ever is cut off
	loop := NewTables(1, "s1", parseFlows(t, "table=0,priority=1,actions=ct(zone=1,table=0)"), nil, ports(1))
	r = loop.Run(icmpPacket(1, "10.0.0.1", "10.0.0.2"))
	if len(r.Drops) != 1 || !strings.Contains(r.Drops[0].Reason, "recirculations") {
		t.Fatalf("a recirculation loop should end: %+v", r.Drops)
	}
}
