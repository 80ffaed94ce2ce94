package diagnostics

import (
	"fmt"
	"testing"
)

// benchSwitch is a switch holding n flows shaped like the virtual
// networks' pipeline: per-port classification in table 1, per-MAC L2 in
// table 4 and per-interface output in table 6. MAC i lives on port
// 1000+i of switch home(i); other MACs go out of port uplink.
func benchSwitch(b testing.TB, dpid uint64, n int, local func(i int) bool, downlink, uplink uint32) *Tables {
	var specs []string
	specs = append(specs, "table=0,priority=0,actions=goto_table:1", "table=1,priority=0,actions=drop", "table=4,priority=0,actions=drop")
	specs = append(specs, fmt.Sprintf("table=1,priority=200,in_port=%d,actions=write_metadata:0x10000000000/0xffffff0000000000,goto_table:4", downlink))
	per := (n - len(specs)) / 3
	for i := 0; i < per; i++ {
		mac := fmt.Sprintf("02:00:%02x:%02x:%02x:01", i>>16&0xff, i>>8&0xff, i&0xff)
		port := 1000 + i
		specs = append(specs, fmt.Sprintf("table=1,priority=200,in_port=%d,dl_src=%s,actions=write_metadata:0x10000000000/0xffffff0000000000,goto_table:4", port, mac))
		if local(i) {
			specs = append(specs, fmt.Sprintf("table=4,priority=100,metadata=0x10000000000/0xffffff0000000000,dl_dst=%s,actions=write_metadata:0x%x/0xffffffff,goto_table:6", mac, i+1))
		} else {
			specs = append(specs, fmt.Sprintf("table=4,priority=100,metadata=0x10000000000/0xffffff0000000000,dl_dst=%s,actions=output:%d", mac, uplink))
		}
		specs = append(specs, fmt.Sprintf("table=6,priority=100,metadata=0x%x/0xffffffff,actions=output:%d", i+1, port))
	}
	return NewTables(dpid, fmt.Sprintf("s%d", dpid), parseFlows(b, specs...), nil, nil)
}

// BenchmarkLookup10k: one packet through one switch of 10,000 flows whose
// destination flow is the last of its table.
func BenchmarkLookup10k(b *testing.B) {
	tb := benchSwitch(b, 1, 10000, func(int) bool { return true }, 1, 1)
	last := len(tb.Table(4)) - 2
	p := Packet{InPort: 1000, EthType: EthIPv4, IPProto: ProtoICMP, TTL: 64}
	p.EthSrc, _ = ParseMAC("02:00:00:00:00:01")
	p.EthDst, _ = ParseMAC(fmt.Sprintf("02:00:%02x:%02x:%02x:01", last>>16&0xff, last>>8&0xff, last&0xff))
	r := tb.Run(p)
	if len(r.Emits) != 1 {
		b.Fatalf("benchmark packet not delivered: %+v", r.Drops)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tb.Run(p)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

// BenchmarkTrace3Hops7k: a trace across three switches of 7,000 flows
// each (s1 -> s2 -> s3 over direct links), tables already read.
func BenchmarkTrace3Hops7k(b *testing.B) {
	const n = 7000
	target := 2000
	sw := map[uint64]*Tables{
		1: benchSwitch(b, 1, n, func(i int) bool { return i != target }, 1, 1),
		2: benchSwitch(b, 2, n, func(i int) bool { return i != target }, 1, 2),
		3: benchSwitch(b, 3, n, func(i int) bool { return true }, 1, 1),
	}
	fab := &Fabric{Switches: sw, Links: map[Endpoint]Endpoint{{1, 1}: {2, 1}, {2, 1}: {1, 1}, {2, 2}: {3, 1}, {3, 1}: {2, 2}}}
	p := Packet{EthType: EthIPv4, IPProto: ProtoICMP, TTL: 64}
	p.EthSrc, _ = ParseMAC("02:00:00:00:05:01") // interface 5 of s1
	p.EthDst, _ = ParseMAC(fmt.Sprintf("02:00:%02x:%02x:%02x:01", target>>16&0xff, target>>8&0xff, target&0xff))
	// s2 forwards the target's MAC on to s3 out of port 2 (its "uplink" for
	// traffic from s1 is port 2 here)
	start := Endpoint{1, 1000 + 5}
	tr := fab.Trace(start, p)
	if tr.Verdict != Delivered || tr.Outcomes[0].Switch != "s3" {
		b.Fatalf("benchmark trace: %s %s", tr.Verdict, tr.Summary)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fab.Trace(start, p)
	}
}

// BenchmarkOneTable10k: one table of 10,000 flows (in_port + dl_dst),
// the packet matching the lowest-priority one: a full scan per packet.
func BenchmarkOneTable10k(b *testing.B) {
	specs := make([]string, 0, 10000)
	for i := 0; i < 10000; i++ {
		specs = append(specs, fmt.Sprintf("table=0,priority=%d,in_port=1,dl_dst=02:00:00:%02x:%02x:01,actions=output:2", 20000-i, i>>8&0xff, i&0xff))
	}
	tb := NewTables(1, "s1", parseFlows(b, specs...), nil, ports(1, 2))
	p := Packet{InPort: 1, EthType: EthIPv4, IPProto: ProtoICMP, TTL: 64}
	p.EthDst, _ = ParseMAC(fmt.Sprintf("02:00:00:%02x:%02x:01", 9999>>8&0xff, 9999&0xff))
	if r := tb.Run(p); len(r.Emits) != 1 || r.Steps[0].Flow.Priority != 20000-9999 {
		b.Fatalf("benchmark packet: %+v", r)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tb.Run(p)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}
