package exporters_test

import (
	"math"
	"sort"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
	"github.com/satellite-sdn/satellite/exporters"
	"github.com/satellite-sdn/satellite/topology"
)

func tagMap(t *testing.T, p exporters.Point) map[string]string {
	t.Helper()
	if !sort.SliceIsSorted(p.Tags, func(i, j int) bool { return p.Tags[i].Key < p.Tags[j].Key }) {
		t.Errorf("%s: tags not sorted: %v", p.Measurement, p.Tags)
	}
	m := map[string]string{}
	for _, tg := range p.Tags {
		m[tg.Key] = tg.Value
	}
	return m
}

func fieldMap(p exporters.Point) map[string]any {
	m := map[string]any{}
	for _, f := range p.Fields {
		m[f.Key] = f.Value.Any()
	}
	return m
}

func TestBatchPoints(t *testing.T) {
	at := time.Unix(1700000000, 5).UnixNano()
	b := &collector.Batch{DPID: 1, Time: at,
		Ports: []collector.PortSample{{DPID: 1, Port: topology.LocalPort, Name: "br-int", Time: at,
			Counters: ofwire.PortStats{RxBytes: 10, TxBytes: 20, RxPackets: 1, TxPackets: 2, RxDropped: collector.Unsupported},
			Rates:    collector.PortRates{RxBps: 80, TxBps: math.NaN(), RxPps: 1, TxPps: 2, RxDrops: math.NaN(), RxUtil: math.NaN(), TxUtil: math.Inf(1)}}},
		Flows: []collector.FlowSample{
			{Info: &collector.FlowInfo{Key: "flow/0000000000000001/9f", DPID: 1, Table: 1, Priority: 100, Cookie: controller.NewCookie(controller.OwnerNetwork, 3, 12)}, Time: at, Packets: 5, Bytes: 500, Bps: math.NaN(), Pps: 1, History: true},
			{Info: &collector.FlowInfo{Key: "flow/0000000000000001/a0", DPID: 1, Table: 0, Priority: 0, Cookie: 0x1234}, Time: at, Packets: 1, Bytes: 60, History: true},
			// a flow without a history of its own: only in its table's sum
			{Info: &collector.FlowInfo{Key: "flow/0000000000000001/a1", DPID: 1, Table: 10, Priority: 5, Cookie: 0}, Time: at, Packets: 9, Bytes: 900},
		},
		Others: []collector.OthersSample{{Key: "flow/0000000000000001/others-10", DPID: 1, Table: 10, Time: at, Flows: 1, Bps: 80, Pps: math.NaN()}},
		Groups: []collector.GroupSample{{DPID: 1, Group: 7, Time: at, RefCount: 2, Packets: 3, Bytes: 4, Bps: 1, Pps: 2}},
	}
	ps := exporters.BatchPoints(nil, b, func(d uint64) string { return map[uint64]string{1: "br-int"}[d] })
	if len(ps) != 5 {
		t.Fatalf("%d points", len(ps))
	}
	port := ps[0]
	if got := tagMap(t, port); got["dpid"] != "0000000000000001" || got["port"] != "LOCAL" || got["port_name"] != "br-int" || got["switch"] != "br-int" {
		t.Errorf("port tags %v", got)
	}
	f := fieldMap(port)
	if f["rx_bytes"] != uint64(10) || f["rx_bps"] != 80.0 || f["tx_pps"] != 2.0 {
		t.Errorf("port fields %v", f)
	}
	for _, absent := range []string{"rx_dropped", "tx_bps", "rx_drops_ps", "rx_util_pct", "tx_util_pct"} {
		if _, ok := f[absent]; ok {
			t.Errorf("%s present although unsupported or unknown: %v", absent, f)
		}
	}
	if !port.Time.Equal(time.Unix(1700000000, 5)) {
		t.Errorf("time %s", port.Time)
	}
	nf := tagMap(t, ps[1])
	if nf["owner"] != "network" || nf["owner_id"] != "12" || nf["network"] != "3" || nf["table"] != "1" || nf["priority"] != "100" || nf["flow"] != "9f" {
		t.Errorf("flow tags %v", nf)
	}
	if _, ok := fieldMap(ps[1])["bps"]; ok {
		t.Errorf("NaN rate exported")
	}
	ff := tagMap(t, ps[2])
	if ff["owner"] != "foreign" || ff["owner_id"] != "" || ff["network"] != "" {
		t.Errorf("foreign flow tags %v", ff)
	}
	if o, f := tagMap(t, ps[3]), fieldMap(ps[3]); ps[3].Measurement != "flow_others" || o["table"] != "10" || o["switch"] != "br-int" ||
		f["flows"] != uint64(1) || f["bps"] != 80.0 || len(f) != 2 {
		t.Errorf("others %v %v %v", ps[3].Measurement, o, f)
	}
	if g := tagMap(t, ps[4]); ps[4].Measurement != "group_stats" || g["group"] != "7" {
		t.Errorf("group %v %v", ps[4].Measurement, g)
	}
}

func TestDeltaAlertProbePoints(t *testing.T) {
	now := time.Unix(1700000100, 0)
	link := topology.Link{Src: topology.Endpoint{DPID: 1, Port: 101}, Dst: topology.Endpoint{DPID: 2, Port: topology.LocalPort}, Kind: "direct", State: topology.LinkUp, LatencyMs: 0.5}
	ps := exporters.DeltaPoints(nil, topology.Delta{Time: now, Op: topology.OpAdd, Link: &link})
	ps = exporters.DeltaPoints(ps, topology.Delta{Time: now, Op: topology.OpRemove, Link: &link})
	ps = exporters.DeltaPoints(ps, topology.Delta{Time: now, Op: topology.OpUpdate, Port: &topology.Port{DPID: 1, Number: 3, Name: "vm3", Up: true, Live: true, Kind: "edge", SpeedKbps: 1000}})
	ps = exporters.DeltaPoints(ps, topology.Delta{Time: now, Op: topology.OpRemove, Switch: &topology.Switch{DPID: 2, Connected: true}})
	ps = exporters.DeltaPoints(ps, topology.Delta{Time: now, Op: topology.OpAdd, Host: &topology.Host{MAC: "x"}}) // hosts are not exported
	if len(ps) != 4 {
		t.Fatalf("%d points: %+v", len(ps), ps)
	}
	up, down := fieldMap(ps[0]), fieldMap(ps[1])
	if up["up"] != int64(1) || up["latency_ms"] != 0.5 || up["state"] != "up" || down["up"] != int64(0) || down["state"] != "down" {
		t.Errorf("link up %v, removed %v", up, down)
	}
	if tg := tagMap(t, ps[0]); tg["dst_port"] != "LOCAL" || tg["src_dpid"] != "0000000000000001" || tg["kind"] != "direct" {
		t.Errorf("link tags %v", tg)
	}
	if f := fieldMap(ps[2]); f["up"] != int64(1) || f["speed_kbps"] != uint64(1000) || tagMap(t, ps[2])["port_name"] != "vm3" {
		t.Errorf("port %v", f)
	}
	if f := fieldMap(ps[3]); f["connected"] != int64(0) {
		t.Errorf("removed switch %v", f)
	}

	a := exporters.AlertPoint(alerts.Event{Kind: "resolved", Time: now, Alert: alerts.Alert{Rule: "r", Severity: "critical", Series: "port/1/2",
		Metric: "rx_bps", Value: 3, Threshold: 5, Message: "ok again", Labels: map[string]string{"team": "net", "rule": "shadowed"}}})
	at, af := tagMap(t, a), fieldMap(a)
	if at["rule"] != "r" || at["team"] != "net" || af["active"] != int64(0) || af["state"] != "resolved" || af["message"] != "ok again" || af["threshold"] != 5.0 {
		t.Errorf("alert %v %v", at, af)
	}

	// tunnel probe samples, as a KindProbe batch of the collector
	nan := math.NaN()
	pp := exporters.BatchPoints(nil, &collector.Batch{Kind: collector.KindProbe, Time: now.UnixNano(), Probes: []collector.ProbeSample{
		{Local: 1, Remote: 2, LocalName: "h1", RemoteName: "h2", Path: 2, Port: 302, Time: now.UnixNano(), Sent: 9, Received: 0, Loss: 1,
			RTTMinMs: nan, RTTAvgMs: nan, RTTMaxMs: nan, RTTP99Ms: nan, JitterMs: nan},
		{Local: 1, Remote: 2, Path: 1, Port: 202, Time: now.UnixNano(), Up: true, Live: true, Active: true, Sent: 9, Received: 9, RTTAvgMs: 0.25, RTTP99Ms: 0.5},
	}}, nil)
	if len(pp) != 2 || pp[0].Measurement != "tunnel_probe" || !pp[0].Time.Equal(now) {
		t.Fatalf("probe points %v", pp)
	}
	pf := fieldMap(pp[0])
	if pf["up"] != int64(0) || pf["loss"] != 1.0 || pf["sent"] != uint64(9) {
		t.Errorf("probe %v", pf)
	}
	if _, ok := pf["rtt_avg_ms"]; ok {
		t.Errorf("RTT of a path that never answered: %v", pf)
	}
	if tg := tagMap(t, pp[0]); tg["path"] != "2" || tg["local"] != "0000000000000001" || tg["remote"] != "0000000000000002" || tg["local_name"] != "h1" || tg["port"] != "302" {
		t.Errorf("probe tags %v", tg)
	}
	if f := fieldMap(pp[1]); f["up"] != int64(1) || f["active"] != int64(1) || f["rtt_avg_ms"] != 0.25 || f["rtt_p99_ms"] != 0.5 {
		t.Errorf("probe %v", f)
	}
	if _, ok := tagMap(t, pp[1])["local_name"]; ok {
		t.Errorf("empty name tag: %v", pp[1].Tags)
	}
}
