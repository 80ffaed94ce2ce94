package audit

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

func flow(t testing.TB, ck controller.Cookie, spec string) controller.Flow {
	t.Helper()
	f, err := controller.ParseFlow(spec)
	if err != nil {
		t.Fatalf("%s: %v", spec, err)
	}
	f.Cookie = ck
	return f
}

func stat(f controller.Flow, packets uint64) ofwire.FlowStats {
	return ofwire.FlowStats{Table: f.Table, Priority: f.Priority, Cookie: uint64(f.Cookie), Match: f.Match, Instructions: f.Instructions, PacketCount: packets, DurationSec: 3600}
}

func kinds(es []Entry) map[string]int {
	m := map[string]int{}
	for _, e := range es {
		m[e.Kind]++
	}
	return m
}

func TestCompare(t *testing.T) {
	ifc := controller.NewCookie(controller.OwnerInterface, 1, 7)
	want := []controller.Flow{
		flow(t, ifc, "table=2,priority=100,metadata=0x10000000000/0xffffff0000000000,dl_dst=02:00:00:00:00:01,actions=output:1"),
		flow(t, ifc, "table=2,priority=100,metadata=0x10000000000/0xffffff0000000000,dl_dst=02:00:00:00:00:02,actions=output:2"),
		flow(t, ifc, "table=2,priority=100,metadata=0x10000000000/0xffffff0000000000,dl_dst=02:00:00:00:00:03,actions=output:3"),
	}
	var have []ofwire.FlowStats
	have = append(have, stat(want[0], 5)) // as intended
	m := stat(want[1], 0)
	m.Instructions = flow(t, ifc, "actions=output:9").Instructions // modified
	have = append(have, m)
	// want[2] missing
	have = append(have, stat(flow(t, 0x1234, "table=0,priority=300,ip,actions=drop"), 0))                                             // foreign
	have = append(have, stat(flow(t, controller.NewCookie(controller.OwnerInterface, 1, 99), "table=2,priority=50,actions=drop"), 0)) // extra
	have = append(have, stat(flow(t, controller.NewCookie(controller.OwnerAPI, 0, 5), "table=0,priority=50,udp,actions=drop"), 0))    // api: taken as is
	in := Intent{Flows: want, Covers: vnetKind}
	got := Compare(in, State{Flows: have})
	k := kinds(got)
	if k[Missing] != 1 || k[Modified] != 1 || k[Foreign] != 1 || k[Extra] != 1 || len(got) != 4 {
		t.Fatalf("kinds %v, entries %+v", k, got)
	}
	for _, e := range got {
		if e.Kind == Modified && (e.Actions != "output:9" || e.Intended != "output:2") {
			t.Errorf("modified: actions %q intended %q", e.Actions, e.Intended)
		}
	}
	// the same flows as intended, the match fields in another order: no drift
	var same []ofwire.FlowStats
	for _, f := range want {
		s := stat(f, 0)
		s.Match = append(s.Match[1:len(s.Match):len(s.Match)], s.Match[0])
		same = append(same, s)
	}
	if got := Compare(in, State{Flows: same}); len(got) != 0 {
		t.Fatalf("converged switch: %+v", got)
	}
}

func TestShadowed(t *testing.T) {
	ifc := controller.NewCookie(controller.OwnerInterface, 1, 7)
	flows := []ofwire.FlowStats{
		stat(flow(t, ifc, "table=2,priority=100,ip,nw_dst=10.0.0.5,actions=output:1"), 0),
		stat(flow(t, ifc, "table=2,priority=100,ip,nw_dst=10.0.1.5,actions=output:1"), 0),
		stat(flow(t, ifc, "table=2,priority=90,ip,nw_dst=10.0.2.0/24,actions=output:1"), 0),
		stat(flow(t, 0, "table=2,priority=200,ip,nw_dst=10.0.0.0/24,actions=drop"), 0),  // covers the first
		stat(flow(t, 0, "table=2,priority=95,ip,nw_dst=10.0.2.0/23,actions=drop"), 0),   // covers the third
		stat(flow(t, 0, "table=2,priority=300,ip,nw_dst=10.0.1.5,tcp,actions=drop"), 0), // narrower: covers nothing
		stat(flow(t, 0, "table=3,priority=300,ip,actions=drop"), 0),                     // other table
	}
	got := FindShadowed(flows)
	if len(got) != 2 {
		t.Fatalf("want 2 shadowed, got %+v", got)
	}
	for _, e := range got {
		if e.Kind != Shadowed || e.By == "" {
			t.Errorf("entry %+v", e)
		}
	}
	if !strings.HasSuffix(got[0].Match, "nw_dst=10.0.0.5") && !strings.HasSuffix(got[1].Match, "nw_dst=10.0.0.5") {
		t.Errorf("the /24 drop shadows nw_dst=10.0.0.5: %+v", got)
	}
	// an equal-priority overlap is not shadowing (the switch's choice)
	eq := []ofwire.FlowStats{stat(flow(t, 0, "table=0,priority=5,ip,actions=drop"), 0), stat(flow(t, 0, "table=0,priority=5,ip,nw_src=1.2.3.4,actions=drop"), 0)}
	if got := FindShadowed(eq); len(got) != 0 {
		t.Errorf("equal priorities: %+v", got)
	}
	// the table-miss flow under a catch-all
	miss := []ofwire.FlowStats{stat(flow(t, 0, "table=0,priority=0,actions=drop"), 0), stat(flow(t, 0, "table=0,priority=1,actions=drop"), 0)}
	if got := FindShadowed(miss); len(got) != 1 || got[0].Priority != 0 {
		t.Errorf("catch-all: %+v", got)
	}
}

func TestDead(t *testing.T) {
	d := newDeadTracker()
	now := time.Unix(1e9, 0)
	used := stat(flow(t, controller.NewCookie(controller.OwnerInterface, 1, 7), "table=2,priority=100,dl_dst=02:00:00:00:00:01,actions=output:1"), 10)
	idle := stat(flow(t, controller.NewCookie(controller.OwnerInterface, 1, 8), "table=2,priority=100,dl_dst=02:00:00:00:00:02,actions=output:2"), 0)
	drop := stat(flow(t, controller.NewCookie(controller.OwnerInterface, 1, 8), "table=1,priority=10,actions=drop"), 0)
	other := stat(flow(t, controller.NewCookie(controller.OwnerInterface, 2, 9), "table=2,priority=100,dl_dst=02:00:00:00:00:03,actions=output:3"), 0)
	w := time.Minute
	if got := d.observe([]ofwire.FlowStats{used, idle, drop, other}, now, w); len(got) != 0 {
		t.Fatalf("first look: %+v", got)
	}
	used.PacketCount = 20
	got := d.observe([]ofwire.FlowStats{used, idle, drop, other}, now.Add(2*w), w)
	if len(got) != 1 || got[0].Match != controller.FormatMatch(idle.Match) {
		t.Fatalf("want the idle flow of the used network dead, got %+v", got)
	}
	// network 1 quiet for a window too: nothing is dead
	if got := d.observe([]ofwire.FlowStats{used, idle, drop, other}, now.Add(4*w), w); len(got) != 0 {
		t.Fatalf("quiet network: %+v", got)
	}
}

// benchFlows are n flows like a large switch's: per network L2 flows,
// classification by port, a few security rules.
func benchFlows(b testing.TB, n int) ([]controller.Flow, []ofwire.FlowStats) {
	var want []controller.Flow
	for i := 0; len(want) < n; i++ {
		net := uint32(i/200 + 1)
		ck := controller.NewCookie(controller.OwnerInterface, net, uint32(i))
		switch i % 4 {
		case 0, 1:
			want = append(want, flow(b, ck, fmt.Sprintf("table=2,priority=100,metadata=0x%x/0xffffff0000000000,dl_dst=02:00:%02x:%02x:%02x:%02x,actions=output:%d", uint64(net)<<40, i>>24&0xff, i>>16&0xff, i>>8&0xff, i&0xff, i%60+1)))
		case 2:
			want = append(want, flow(b, ck, fmt.Sprintf("table=0,priority=100,in_port=%d,dl_src=02:00:%02x:%02x:%02x:%02x,actions=write_metadata:0x%x/0xffffff0000000000,goto_table:1", i%4000+1, i>>24&0xff, i>>16&0xff, i>>8&0xff, i&0xff, uint64(net)<<40)))
		case 3:
			want = append(want, flow(b, ck, fmt.Sprintf("table=1,priority=200,ip,metadata=0x%x/0xffffff0000000000,nw_dst=10.%d.%d.0/24,tcp,tp_dst=%d,actions=goto_table:2", uint64(net)<<40, i>>8&0xff, i&0xff, i%1000+1)))
		}
	}
	have := make([]ofwire.FlowStats, len(want))
	for i, f := range want {
		have[i] = stat(f, uint64(i))
	}
	return want, have
}

func TestBenchFlowsConverged(t *testing.T) {
	want, have := benchFlows(t, 2000)
	in := Intent{Flows: want, Covers: vnetKind}
	if got := Compare(in, State{Flows: have}); len(got) != 0 {
		t.Fatalf("converged: %d entries, first %+v", len(got), got[0])
	}
	if got := FindShadowed(have); len(got) != 0 {
		t.Fatalf("no flow of the benchmark set shadows another: %d, first %+v", len(got), got[0])
	}
}

// BenchmarkAudit10k audits a switch holding 10,000 flows after the dump:
// the comparison with the intent and the shadow analysis (see BENCHMARKS.md).
func BenchmarkAudit10k(b *testing.B) {
	want, have := benchFlows(b, 10000)
	have[10].Instructions = have[11].Instructions // one modified
	have = have[1:]                               // one missing
	in := Intent{Flows: want, Covers: vnetKind}
	d := newDeadTracker()
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		es := Compare(in, State{Flows: have})
		es = append(es, FindShadowed(have)...)
		es = append(es, d.observe(have, now, time.Minute)...)
		if len(es) != 2 {
			b.Fatalf("want 2 findings, got %d", len(es))
		}
	}
}
