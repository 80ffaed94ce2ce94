package collector

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// testFlow is one flow-stats entry to encode.
type testFlow struct {
	table   uint8
	prio    uint16
	cookie  uint64
	inPort  uint32
	pkts    uint64
	bytes   uint64
	durSec  uint32
	outPort uint32
}

// encodeFlows builds a flow-stats multipart body the way a switch does:
// fixed part, OXM match in_port=N padded to 8, apply-actions output.
func encodeFlows(flows ...testFlow) []byte {
	var body []byte
	for _, f := range flows {
		e := make([]byte, 48, 48+16+24)
		e[2] = f.table
		binary.BigEndian.PutUint32(e[4:], f.durSec)
		binary.BigEndian.PutUint16(e[12:], f.prio)
		binary.BigEndian.PutUint64(e[24:], f.cookie)
		binary.BigEndian.PutUint64(e[32:], f.pkts)
		binary.BigEndian.PutUint64(e[40:], f.bytes)
		e = append(e, 0, 1, 0, 12, 0x80, 0, 0, 4, byte(f.inPort>>24), byte(f.inPort>>16), byte(f.inPort>>8), byte(f.inPort), 0, 0, 0, 0)
		e = append(e, 0, 4, 0, 24, 0, 0, 0, 0, 0, 0, 0, 16, byte(f.outPort>>24), byte(f.outPort>>16), byte(f.outPort>>8), byte(f.outPort), 0xff, 0xff, 0, 0, 0, 0, 0, 0)
		binary.BigEndian.PutUint16(e, uint16(len(e)))
		body = append(body, e...)
	}
	return body
}

func newTestCollector(cfg Config) (*Collector, *switchState) {
	c := New(cfg, nil)
	return c, c.state(1)
}

func TestIngestFlowsIdentityOwnerAndRates(t *testing.T) {
	c, sw := newTestCollector(Config{Interval: time.Second})
	sub := c.Subscribe(16)
	defer sub.Close()
	iface := uint64(controller.NewCookie(controller.OwnerInterface, 3, 12))
	api := uint64(controller.NewCookie(controller.OwnerAPI, 0, 7))
	t0 := time.Now().UnixNano()
	ingest := func(ts int64, flows ...testFlow) *Batch {
		b, err := c.ingestFlows(sw, ts, encodeFlows(flows...))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a := testFlow{table: 1, prio: 100, cookie: iface, inPort: 1, outPort: 2, pkts: 0, bytes: 0, durSec: 10}
	b := testFlow{table: 1, prio: 100, cookie: api, inPort: 2, outPort: 1, pkts: 5, bytes: 500, durSec: 10}
	ingest(t0, a, b)
	a.pkts, a.bytes, a.durSec = 1000, 1_250_000, 11 // 10 Mbit/s, 1000 pps
	b.pkts, b.bytes, b.durSec = 5, 500, 11
	batch := ingest(t0+sec, a, b)
	if batch == nil || len(batch.Flows) != 2 {
		t.Fatalf("batch %+v", batch)
	}
	flows := c.Flows(FlowFilter{})
	if len(flows) != 2 {
		t.Fatalf("%d flows", len(flows))
	}
	byOwner := map[string]FlowSample{}
	for _, f := range flows {
		byOwner[f.Info.Cookie.String()] = f
	}
	fa, fb := byOwner["interface:12@net:3"], byOwner["api:7"]
	if fa.Info == nil || fb.Info == nil {
		t.Fatalf("owners: %v", byOwner)
	}
	if !near(fa.Bps, 10e6) || !near(fa.Pps, 1000) || fb.Bps != 0 || fb.Pps != 0 {
		t.Fatalf("rates: a %v/%v b %v/%v", fa.Bps, fa.Pps, fb.Bps, fb.Pps)
	}
	if fa.Info.Match() != "in_port=1" || fb.Info.Match() != "in_port=2" || fa.Info.Table != 1 || fa.Info.Priority != 100 {
		t.Fatalf("identity: %q %q %+v", fa.Info.Match(), fb.Info.Match(), fa.Info)
	}
	if !strings.HasPrefix(fa.Info.Key, "flow/0000000000000001/") || fa.Info.Key == fb.Info.Key {
		t.Fatalf("keys %q %q", fa.Info.Key, fb.Info.Key)
	}
	// filters by owner and network
	kind := controller.OwnerInterface
	net3 := uint32(3)
	if got := c.Flows(FlowFilter{Owner: &kind}); len(got) != 1 || got[0].Info != fa.Info {
		t.Fatalf("owner filter: %v", got)
	}
	if got := c.Flows(FlowFilter{Network: &net3}); len(got) != 1 || got[0].Info != fa.Info {
		t.Fatalf("network filter: %v", got)
	}

	// b disappears; a stays.
	a.pkts, a.bytes = 2000, 2_500_000
	ingest(t0+2*sec, a)
	if got := c.Flows(FlowFilter{}); len(got) != 1 || got[0].Info != fa.Info {
		t.Fatalf("after b went: %v", got)
	}
	// b comes back (re-added: fresh counters, new duration): no rate on
	// its first sample, then normal rates; the same series (same key).
	b.pkts, b.bytes, b.durSec = 10, 1000, 0
	a.pkts, a.bytes = 3000, 3_750_000
	ingest(t0+3*sec, a, b)
	nb := byKey(c.Flows(FlowFilter{}), fb.Info.Key)
	if nb.Info != fb.Info || !math.IsNaN(nb.Bps) {
		t.Fatalf("b back: %+v", nb)
	}
	b.pkts, b.bytes, b.durSec = 110, 11000, 1
	ingest(t0+4*sec, a, b)
	nb = byKey(c.Flows(FlowFilter{}), fb.Info.Key)
	if !near(nb.Bps, 80_000) || !near(nb.Pps, 100) {
		t.Fatalf("b rates: %+v", nb)
	}
	// the same identity twice in one reply counts once
	ingest(t0+5*sec, a, a, b)
	if c.dupes.Load() != 1 {
		t.Fatalf("duplicates %d", c.dupes.Load())
	}
	// history of a: raw points at every poll, with NaN for the first
	d, err := c.Series(fa.Info.Key, SeriesQuery{From: time.Unix(0, t0-sec), To: time.Unix(0, t0+10*sec), Resolution: ResolutionRaw})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Points) != 6 || !math.IsNaN(d.Points[0].V[0]) || !near(d.Points[1].V[0], 10e6) || d.Labels["owner"] != "interface:12@net:3" || d.Labels["match"] != "in_port=1" {
		t.Fatalf("series: %+v", d)
	}
	// the stream got every batch
	got := 0
	for len(sub.C) > 0 {
		got += (<-sub.C).Len()
	}
	if got != 2+2+1+2+2+2 {
		t.Fatalf("stream samples %d", got)
	}
}

func byKey(fs []FlowSample, key string) FlowSample {
	for _, f := range fs {
		if f.Info.Key == key {
			return f
		}
	}
	return FlowSample{}
}

func TestIngestFlowsMalformedKeepsFlows(t *testing.T) {
	c, sw := newTestCollector(Config{})
	t0 := time.Now().UnixNano()
	body := encodeFlows(testFlow{table: 0, prio: 1, inPort: 1}, testFlow{table: 0, prio: 1, inPort: 2})
	if _, err := c.ingestFlows(sw, t0, body); err != nil {
		t.Fatal(err)
	}
	// the second entry is cut short: the first is processed, nothing is
	// declared gone on a partial reply
	bad := body[:len(body)-10]
	if _, err := c.ingestFlows(sw, t0+sec, bad); err == nil {
		t.Fatal("truncated body accepted")
	}
	if n := len(c.Flows(FlowFilter{})); n != 2 {
		t.Fatalf("%d flows present after a partial reply, want 2", n)
	}
}

func TestIngestPortsRenameResetAndUtil(t *testing.T) {
	c, sw := newTestCollector(Config{})
	names := map[uint32]string{1: "vm1", 2: "vm2"}
	desc := func(no uint32) (ofwire.Port, bool) {
		n, ok := names[no]
		return ofwire.Port{No: no, Name: n, CurrSpeed: 10_000_000}, ok
	}
	t0 := time.Now().UnixNano()
	ps := func(no uint32, rxB, txB uint64) ofwire.PortStats {
		return ofwire.PortStats{PortNo: no, RxBytes: rxB, TxBytes: txB, RxPackets: rxB / 100, TxPackets: txB / 100,
			RxDropped: Unsupported, TxDropped: 0, RxErrors: 0, TxErrors: 0}
	}
	c.ingestPorts(sw, t0, []ofwire.PortStats{ps(1, 0, 0), ps(2, 0, 0)}, desc)
	c.ingestPorts(sw, t0+sec, []ofwire.PortStats{ps(1, 125_000_000, 0), ps(2, 0, 125_000_000)}, desc)
	ports := c.Ports(PortFilter{})
	if len(ports) != 2 {
		t.Fatalf("%d ports", len(ports))
	}
	p1, p2 := ports[0].Rates, ports[1].Rates
	if !near(p1.RxBps, 1e9) || !near(p1.RxUtil, 10) || p1.TxBps != 0 || !near(p2.TxBps, 1e9) || !near(p2.TxUtil, 10) {
		t.Fatalf("rates %+v %+v", p1, p2)
	}
	if !math.IsNaN(p1.RxDrops) || p1.TxDrops != 0 || ports[0].Name != "vm1" || ports[0].Key != "port/0000000000000001/1" {
		t.Fatalf("port 1: %+v", ports[0])
	}
	// port 2 is deleted and the number reused by another interface whose
	// counters happen to be higher: the rename drops the baseline
	names[2] = "vm9"
	c.ingestPorts(sw, t0+2*sec, []ofwire.PortStats{ps(1, 250_000_000, 0), ps(2, 0, 900_000_000)}, desc)
	p := c.Ports(PortFilter{})[1]
	if p.Name != "vm9" || !math.IsNaN(p.Rates.TxBps) || c.renames.Load() != 1 {
		t.Fatalf("after rename: %+v (renames %d)", p, c.renames.Load())
	}
	// port 1 vanishes from the reply (deleted): not listed; when it comes
	// back its first sample has no rate even though counters are higher
	c.ingestPorts(sw, t0+3*sec, []ofwire.PortStats{ps(2, 0, 900_000_000)}, desc)
	if got := c.Ports(PortFilter{}); len(got) != 1 || got[0].Port != 2 {
		t.Fatalf("after delete: %+v", got)
	}
	c.ingestPorts(sw, t0+4*sec, []ofwire.PortStats{ps(1, 300_000_000, 0), ps(2, 0, 900_000_000)}, desc)
	if p := c.Ports(PortFilter{})[0]; p.Port != 1 || !math.IsNaN(p.Rates.RxBps) {
		t.Fatalf("port 1 back: %+v", p)
	}
}

func TestMaxSeriesEvictsTheLongestGone(t *testing.T) {
	c, sw := newTestCollector(Config{MaxSeries: 3})
	t0 := time.Now().UnixNano()
	f := func(in uint32) testFlow { return testFlow{prio: 1, inPort: in} }
	mustIngest := func(ts int64, flows ...testFlow) {
		if _, err := c.ingestFlows(sw, ts, encodeFlows(flows...)); err != nil {
			t.Fatal(err)
		}
	}
	mustIngest(t0, f(1), f(2), f(3))
	mustIngest(t0+sec, f(1), f(2))         // 3 gone at t0
	mustIngest(t0+2*sec, f(1))             // 2 gone at t0+1s
	mustIngest(t0+3*sec, f(1), f(4), f(5)) // 4 evicts 3, 5 evicts 2
	if c.series.Load() != 3 || c.evicted.Load() != 2 || c.refused.Load() != 0 {
		t.Fatalf("series %d evicted %d refused %d", c.series.Load(), c.evicted.Load(), c.refused.Load())
	}
	mustIngest(t0+4*sec, f(1), f(4), f(5), f(6)) // nothing gone: 6 is refused
	if c.refused.Load() != 1 || len(c.Flows(FlowFilter{})) != 3 {
		t.Fatalf("refused %d flows %d", c.refused.Load(), len(c.Flows(FlowFilter{})))
	}
	st := c.Stats()
	if st.Series != 3 || st.SeriesByKind["flow"] != 3 || st.MemoryBytes <= 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSweepForgetsGoneSeries(t *testing.T) {
	c, sw := newTestCollector(Config{RawRetention: time.Minute, DownsampledRetention: 2 * time.Minute})
	t0 := time.Now().UnixNano()
	c.ingestFlows(sw, t0, encodeFlows(testFlow{prio: 1, inPort: 1}, testFlow{prio: 1, inPort: 2}))
	c.ingestFlows(sw, t0+sec, encodeFlows(testFlow{prio: 1, inPort: 1}))
	mem := c.mem.Load()
	c.sweep(t0 + int64(time.Minute)) // flow 2 gone for less than 2 minutes: kept
	if c.series.Load() != 2 {
		t.Fatalf("series %d", c.series.Load())
	}
	c.sweep(t0 + int64(3*time.Minute))
	if c.series.Load() != 1 || c.mem.Load() >= mem {
		t.Fatalf("series %d, memory %d -> %d", c.series.Load(), mem, c.mem.Load())
	}
}

func TestSeriesQueryErrors(t *testing.T) {
	c, sw := newTestCollector(Config{})
	c.ingestPorts(sw, time.Now().UnixNano(), []ofwire.PortStats{{PortNo: 1}}, nil)
	for key, want := range map[string]error{
		"port/0000000000000001/1":  nil,
		"port/0000000000000001/2":  ErrNoSeries,
		"port/0000000000000002/1":  ErrNoSeries,
		"flow/0000000000000001/ab": ErrNoSeries,
		"port/1/1":                 ErrBadKey,
		"link/0000000000000001/1":  ErrBadKey,
		"port/0000000000000001":    ErrBadKey,
		"port/zzzzzzzzzzzzzzzz/1":  ErrBadKey,
	} {
		_, err := c.Series(key, SeriesQuery{})
		if (want == nil) != (err == nil) || (want != nil && !strings.Contains(err.Error(), want.Error())) {
			t.Errorf("%s: %v, want %v", key, err, want)
		}
	}
	now := time.Now()
	_, err := c.Series("port/0000000000000001/1", SeriesQuery{From: now.Add(-24 * time.Hour), To: now, Step: time.Second})
	if err == nil || !strings.Contains(err.Error(), "limit is 10000") {
		t.Fatalf("too many points: %v", err)
	}
}

// TestFlowOrderChanges checks that matching a reply against the previous
// reply's order never mixes flows up when the switch reorders, inserts
// and removes flows.
func TestFlowOrderChanges(t *testing.T) {
	c, sw := newTestCollector(Config{})
	t0 := time.Now().UnixNano()
	f := func(in uint32, bytes uint64) testFlow {
		return testFlow{prio: 10, inPort: in, cookie: uint64(in), bytes: bytes, pkts: bytes / 100, durSec: 5}
	}
	ingest := func(ts int64, flows ...testFlow) {
		if _, err := c.ingestFlows(sw, ts, encodeFlows(flows...)); err != nil {
			t.Fatal(err)
		}
	}
	ingest(t0, f(1, 0), f(2, 0), f(3, 0), f(4, 0))
	// each flow i sends i*1000 bytes/s
	ingest(t0+sec, f(1, 1000), f(2, 2000), f(3, 3000), f(4, 4000))
	// reordered, 2 removed, 5 inserted in the middle, 4 moved first
	ingest(t0+2*sec, f(4, 8000), f(1, 2000), f(5, 0), f(3, 6000))
	ingest(t0+3*sec, f(4, 12000), f(5, 5000), f(1, 3000), f(3, 9000))
	got := map[uint64]float64{}
	for _, fs := range c.Flows(FlowFilter{}) {
		got[uint64(fs.Info.Cookie)] = fs.Bps
	}
	want := map[uint64]float64{1: 8000, 3: 24000, 4: 32000, 5: 40000}
	if len(got) != len(want) {
		t.Fatalf("flows %v, want %v", got, want)
	}
	for k, v := range want {
		if !near(got[k], v) {
			t.Errorf("flow %d: %v bit/s, want %v", k, got[k], v)
		}
	}
	if c.Stats().Resets != 0 {
		t.Fatalf("resets %d: flows were mixed up", c.Stats().Resets)
	}
}
