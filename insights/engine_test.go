package insights

import (
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/topology"
)

type names map[uint64]string

func (n names) SwitchName(d uint64) string   { return n[d] }
func (n names) NetworkName(id uint32) string { return map[uint32]string{3: "net1"}[id] }

var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

func newTestEngine() *Engine {
	return New(Config{Interval: time.Second, Names: names{1: "h1", 2: "h2"}}, nil, nil)
}

// port returns a port sample at poll i (1 s apart).
func port(dpid uint64, no uint32, name string, i int, rx, tx float64) collector.PortSample {
	return collector.PortSample{Key: "port/" + dpidHex(dpid) + "/" + itoa(uint64(no)), DPID: dpid, Port: no, Name: name,
		Time:  t0.Add(time.Duration(i) * time.Second).UnixNano(),
		Rates: collector.PortRates{RxBps: rx, TxBps: tx, RxPps: rx / 9600, TxPps: tx / 9600}}
}

func portBatch(dpid uint64, i int, ps ...collector.PortSample) *collector.Batch {
	return &collector.Batch{Kind: collector.KindPort, DPID: dpid, Time: t0.Add(time.Duration(i) * time.Second).UnixNano(), Ports: ps}
}

func noisy(r *rand.Rand, v, frac float64) float64 { return v * (1 + frac*(2*r.Float64()-1)) }

func only(t *testing.T, e *Engine, kind, object, reason string) Item {
	t.Helper()
	items := e.Items()
	if len(items) == 0 {
		t.Fatalf("no items, want %s %q", kind, object)
	}
	it := items[0]
	if it.Kind != kind || it.Object != object || !strings.Contains(it.Reason, reason) {
		t.Fatalf("top item %+v, want %s %q with reason containing %q (all: %+v)", it, kind, object, reason, items)
	}
	return it
}

// Steady traffic with ±15 % noise, idle ports, and zero errors over
// half an hour of 1 s polls: nothing is reported.
func TestSteadyTrafficIsQuiet(t *testing.T) {
	e := newTestEngine()
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 1800; i++ {
		e.Observe(portBatch(1, i,
			port(1, 1, "vm1", i, noisy(r, 10e6, 0.15), noisy(r, 8e6, 0.15)),
			port(1, 2, "vm2", i, noisy(r, 50e3, 0.9), 0), // idle: ARP and ping
			port(1, 101, "lnk-h2", i, noisy(r, 3e6, 0.15), noisy(r, 3e6, 0.15))))
		if items := e.Items(); len(items) != 0 {
			t.Fatalf("poll %d: %+v", i, items)
		}
	}
	if got := e.Items(); got == nil {
		t.Fatal("Items is nil, want an empty list")
	}
}

func TestErrorsRaisedAndCleared(t *testing.T) {
	e := newTestEngine()
	mk := func(i int, rxErr float64) *collector.Batch {
		p := port(2, 103, "lnk-h3", i, 5e6, 5e6)
		p.Rates.RxErrors = rxErr
		return portBatch(2, i, p)
	}
	for i := 0; i < 20; i++ {
		e.Observe(mk(i, 0))
	}
	if n := len(e.Items()); n != 0 {
		t.Fatalf("%d items before the errors", n)
	}
	sub := e.Stream().Subscribe(8)
	defer sub.Close()
	e.Observe(mk(20, 40))
	it := only(t, e, KindErrors, "h2 port lnk-h3", "rx errors 40/s, baseline 0")
	if it.Score < 5 || it.Series != "port/0000000000000002/103" || it.Labels["port"] != "103" {
		t.Errorf("item %+v: want a score of at least 5 and the port's series and labels", it)
	}
	if ev := <-sub.C; ev.Kind != "raised" || ev.Item.Object != "h2 port lnk-h3" {
		t.Errorf("event %+v, want raised for h2 port lnk-h3", ev)
	}
	e.Observe(mk(21, 0))
	if len(e.Items()) != 1 {
		t.Fatal("cleared after one clean sample, want two")
	}
	e.Observe(mk(22, 0))
	if items := e.Items(); len(items) != 0 {
		t.Fatalf("still listed after the errors stopped: %+v", items)
	}
	if ev := <-sub.C; ev.Kind != "cleared" {
		t.Errorf("event %+v, want cleared", ev)
	}
	if h := e.History(); len(h) != 2 || h[0].Kind != "raised" || h[1].Kind != "cleared" {
		t.Errorf("history %+v", h)
	}
}

// An interface that stops sending while its peer still sends to it is
// reported on the first sample that shows it, above a plain drop.
func TestStoppedSending(t *testing.T) {
	e := newTestEngine()
	r := rand.New(rand.NewSource(2))
	i := 0
	for ; i < 60; i++ {
		e.Observe(portBatch(1, i, port(1, 1, "vm1", i, noisy(r, 10e6, 0.1), noisy(r, 10e6, 0.1))))
	}
	e.Observe(portBatch(1, i, port(1, 1, "vm1", i, 0, 10e6)))
	it := only(t, e, KindStopped, "h1 port vm1", "stopped sending: rx 0 bit/s, baseline ")
	if it.Baseline < 9e6 || it.Baseline > 11e6 {
		t.Errorf("baseline %v, want about 10 Mbit/s", it.Baseline)
	}
	if !strings.Contains(it.Reason, "while 10 Mbit/s is still sent to it") {
		t.Errorf("reason %q", it.Reason)
	}
	if len(e.Items()) != 1 {
		t.Errorf("items %+v, want only the stopped interface", e.Items())
	}
	// both directions stop: a plain drop of each direction, no longer
	// "stopped sending"
	for j := 1; j <= 3; j++ {
		e.Observe(portBatch(1, i+j, port(1, 1, "vm1", i+j, 0, 0)))
	}
	items := e.Items()
	if len(items) != 2 || items[0].Kind != KindTrafficDown || items[1].Kind != KindTrafficDown {
		t.Fatalf("items %+v, want rx and tx traffic down", items)
	}
	if !strings.Contains(items[0].Reason, "traffic down 100 %") {
		t.Errorf("reason %q", items[0].Reason)
	}
}

func TestIdlePortsAndRisesFromIdleAreNotReported(t *testing.T) {
	e := newTestEngine()
	for i := 0; i < 30; i++ {
		e.Observe(portBatch(1, i, port(1, 1, "vm1", i, 1e3, 1e3)))
	}
	// from idle to busy: a new workload, not an anomaly
	for i := 30; i < 40; i++ {
		e.Observe(portBatch(1, i, port(1, 1, "vm1", i, 50e6, 50e6)))
	}
	if items := e.Items(); len(items) != 0 {
		t.Fatalf("%+v", items)
	}
}

func TestSuddenRise(t *testing.T) {
	e := newTestEngine()
	for i := 0; i < 30; i++ {
		e.Observe(portBatch(1, i, port(1, 1, "vm1", i, 1e6, 1e6)))
	}
	e.Observe(portBatch(1, 30, port(1, 1, "vm1", 30, 1e6, 20e6)))
	if len(e.Items()) != 0 {
		t.Fatal("a rise is raised after one sample, want two")
	}
	e.Observe(portBatch(1, 31, port(1, 1, "vm1", 31, 1e6, 20e6)))
	only(t, e, KindTrafficRise, "h1 port vm1", "x its baseline: 20 Mbit/s, baseline 1")
}

func probe(i int, rtt, loss float64) *collector.Batch {
	tm := t0.Add(time.Duration(i) * time.Second).UnixNano()
	return &collector.Batch{Kind: collector.KindProbe, Time: tm, Probes: []collector.ProbeSample{{
		Key: "probe/0000000000000001/0000000000000003/2", Local: 1, Remote: 3, LocalName: "h1", RemoteName: "h3", Path: 2,
		Time: tm, Up: true, RTTAvgMs: rtt, Loss: loss}}}
}

func TestTunnelRTTDriftAndLoss(t *testing.T) {
	e := newTestEngine()
	r := rand.New(rand.NewSource(3))
	for i := 0; i < 100; i++ {
		e.Observe(probe(i, noisy(r, 10, 0.3), 0))
	}
	if len(e.Items()) != 0 {
		t.Fatalf("%+v", e.Items())
	}
	e.Observe(probe(100, 30, 0))
	e.Observe(probe(101, 31, 0))
	it := only(t, e, KindRTT, "path h1->h3 p2", "x its baseline: 31 ms, baseline ")
	if it.Baseline < 9 || it.Baseline > 11 {
		t.Errorf("baseline %v, want about 10", it.Baseline)
	}
	for i := 102; i < 110; i++ {
		e.Observe(probe(i, 10, 0.5))
	}
	only(t, e, KindLoss, "path h1->h3 p2", "probe loss 50 %, baseline 0 %")
	// unanswered windows (NaN RTT) change nothing of the RTT baseline
	e.Observe(probe(110, math.NaN(), 1))
}

func TestAsymmetricLink(t *testing.T) {
	e := newTestEngine()
	link := topology.Link{Src: topology.Endpoint{DPID: 1, Port: 102}, Dst: topology.Endpoint{DPID: 2, Port: 101}, State: "up"}
	e.ObserveTopology(topology.Delta{Op: topology.OpSnapshot, Time: t0, Snapshot: &topology.Snapshot{Links: []topology.Link{link}}})
	if !link.Up() {
		t.Fatal("the test link is not up; fix the test's link state")
	}
	for i := 0; i < 20; i++ {
		e.Observe(portBatch(1, i, port(1, 102, "lnk-h2", i, 0, 10e6)))
		e.Observe(portBatch(2, i, port(2, 101, "lnk-h1", i, 10e6, 0)))
	}
	if len(e.Items()) != 0 {
		t.Fatalf("%+v", e.Items())
	}
	for i := 20; i < 22; i++ {
		e.Observe(portBatch(1, i, port(1, 102, "lnk-h2", i, 0, 10e6)))
		e.Observe(portBatch(2, i, port(2, 101, "lnk-h1", i, 2e6, 0)))
	}
	// the far port's rx is also a traffic drop; the link finding names both ends
	var found bool
	for _, it := range e.Items() {
		if it.Kind == KindAsymmetric {
			found = true
			if it.Object != "link h1 lnk-h2 -> h2 lnk-h1" || it.Reason != "h1 sends 10 Mbit/s on it, h2 receives 2 Mbit/s (80 % missing)" {
				t.Errorf("item %+v", it)
			}
		}
	}
	if !found {
		t.Fatalf("no asymmetric link in %+v", e.Items())
	}
	e.ObserveTopology(topology.Delta{Op: topology.OpRemove, Time: t0, Link: &link})
	for _, it := range e.Items() {
		if it.Kind == KindAsymmetric {
			t.Errorf("still listed after the link went: %+v", it)
		}
	}
}

func TestHostMovesOften(t *testing.T) {
	e := newTestEngine()
	mac := "02:00:00:00:01:01"
	at := func(dpid uint64, i int) topology.Delta {
		return topology.Delta{Op: topology.OpUpdate, Time: t0.Add(time.Duration(i) * time.Minute),
			Host: &topology.Host{MAC: mac, IPs: []string{"10.0.1.1"}, DPID: topology.DPID(dpid), Port: 1}}
	}
	e.ObserveTopology(at(1, 0))
	e.ObserveTopology(at(2, 1))
	e.ObserveTopology(at(1, 2))
	if len(e.Items()) != 0 {
		t.Fatalf("two moves reported: %+v", e.Items())
	}
	e.ObserveTopology(at(2, 3))
	only(t, e, KindMoves, "host 02:00:00:00:01:01 (10.0.1.1)", "moved 3 times in 10m0s, now at h2 port 1")
	e.Tick(t0.Add(15 * time.Minute))
	if len(e.Items()) != 0 {
		t.Fatalf("still listed once the moves aged out: %+v", e.Items())
	}
}

func flowBatch(dpid uint64, i int, bps float64) *collector.Batch {
	tm := t0.Add(time.Duration(i) * time.Second).UnixNano()
	info := &collector.FlowInfo{Key: "flow/" + dpidHex(dpid) + "/1", DPID: dpid, Cookie: controller.NewCookie(controller.OwnerInterface, 3, 12)}
	other := &collector.FlowInfo{Key: "flow/" + dpidHex(dpid) + "/2", DPID: dpid, Cookie: controller.NewCookie(controller.OwnerForeign, 0, 0)}
	return &collector.Batch{Kind: collector.KindFlow, DPID: dpid, Time: tm, Flows: []collector.FlowSample{
		{Info: info, Time: tm, Bps: bps}, {Info: other, Time: tm, Bps: 1e9}}}
}

func TestNetworkAndOwnerTrafficDown(t *testing.T) {
	e := newTestEngine()
	r := rand.New(rand.NewSource(4))
	i := 0
	for ; i < 60; i++ {
		// flow counters at a 1 s poll are ±50 % (OVS revalidation)
		e.Observe(flowBatch(1, i, noisy(r, 10e6, 0.5)))
		e.Observe(flowBatch(2, i, noisy(r, 2e6, 0.5)))
		e.Tick(t0.Add(time.Duration(i) * time.Second))
		if items := e.Items(); len(items) != 0 {
			t.Fatalf("poll %d: %+v", i, items)
		}
	}
	for j := 0; j < 6; j++ {
		e.Observe(flowBatch(1, i, 0))
		e.Observe(flowBatch(2, i, 0))
		e.Tick(t0.Add(time.Duration(i) * time.Second))
		i++
	}
	var objects []string
	for _, it := range e.Items() {
		objects = append(objects, it.Object+": "+it.Reason)
	}
	got := strings.Join(objects, "\n")
	for _, want := range []string{"network net1: traffic down", "h1 flows of interface 12 in network net1: traffic down", "h2 flows of interface 12 in network net1: traffic down"} {
		if !strings.Contains(got, want) {
			t.Errorf("items:\n%s\nwant one starting %q", got, want)
		}
	}
	// the foreign flow's 1 Gbit/s is neither a group nor part of the network
	if strings.Contains(got, "foreign") {
		t.Errorf("foreign flows judged: %s", got)
	}
}

func TestDailyProfileVetoesTheUsualChange(t *testing.T) {
	e := New(Config{Interval: time.Minute, Names: names{1: "h1"}}, nil, nil)
	// two days of a port that carries 10 Mbit/s by day and 0.5 Mbit/s
	// from 20:00 to 06:00, one sample a minute
	day := func(m int) float64 {
		if h := (m / 60) % 24; h >= 20 || h < 6 {
			return 0.5e6
		}
		return 10e6
	}
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	mk := func(m int, v float64) *collector.Batch {
		tm := start.Add(time.Duration(m) * time.Minute).UnixNano()
		return &collector.Batch{Kind: collector.KindPort, DPID: 1, Time: tm, Ports: []collector.PortSample{{
			Key: "port/0000000000000001/1", DPID: 1, Port: 1, Name: "vm1", Time: tm, Rates: collector.PortRates{RxBps: v, TxBps: v}}}}
	}
	var firstDay, secondDay int
	for m := 0; m < 3*24*60; m++ {
		e.Observe(mk(m, day(m)))
		if m == 20*60+5 {
			firstDay = len(e.Items())
		}
		if m == 2*24*60+20*60+5 {
			secondDay = len(e.Items())
		}
	}
	if firstDay == 0 {
		t.Error("the first evening's drop was not reported: without a profile it is a drop")
	}
	if secondDay != 0 {
		t.Errorf("the third evening's usual drop is reported %d times: the daily profile should know it", secondDay)
	}
	// an unusual drop at noon on the third day is still reported
	for m := 3*24*60 + 12*60; m < 3*24*60+12*60+3; m++ {
		e.Observe(mk(m, 0))
	}
	if len(e.Items()) == 0 {
		t.Error("a drop at noon on the fourth day is not reported")
	}
}

func TestMaxSeries(t *testing.T) {
	e := New(Config{MaxSeries: 2}, nil, nil)
	e.Observe(portBatch(1, 0, port(1, 1, "a", 0, 0, 0), port(1, 2, "b", 0, 0, 0), port(1, 3, "c", 0, 0, 0)))
	if s := e.Stats(); s.Series != 2 || s.Refused != 1 {
		t.Errorf("stats %+v, want 2 series and 1 refused", s)
	}
}
