package collector

import (
	"math"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller"
)

// A switch with many foreign flows: the owned ones and the busiest foreign
// ones keep a history, the rest are summed per table; the ranking follows
// the traffic and frees the history of flows that fall behind.
func TestFlowHistoryOwnedAndBusiestForeign(t *testing.T) {
	c, sw := newTestCollector(Config{Interval: time.Second, FlowHistoryForeign: 5})
	const owned, foreign = 8, 60
	rate := make([]uint64, owned+foreign) // bytes per second of each flow
	for i := range rate {
		rate[i] = uint64(1000 + 10*i) // the last foreign flows are the busiest
	}
	var total [owned + foreign]uint64
	t0 := time.Now().Add(-time.Minute).UnixNano() // points in the past, where queries look
	poll := func(p int) {
		t.Helper()
		flows := make([]testFlow, 0, len(rate))
		for i := range rate {
			total[i] += rate[i]
			f := testFlow{table: 10, prio: 100, inPort: uint32(i + 1), bytes: total[i], pkts: total[i] / 100, durSec: uint32(p), outPort: 1}
			if i < owned {
				f.table, f.cookie = 1, uint64(controller.NewCookie(controller.OwnerAPI, 0, uint32(i)))
			}
			flows = append(flows, f)
		}
		if _, err := c.ingestFlows(sw, t0+int64(p)*int64(time.Second), encodeFlows(flows...)); err != nil {
			t.Fatal(err)
		}
	}
	for p := 1; p <= 5; p++ {
		poll(p)
	}
	withHistory := func() (own, fgn map[uint32]bool) {
		own, fgn = map[uint32]bool{}, map[uint32]bool{}
		for _, fs := range c.Flows(FlowFilter{}) {
			d, err := c.Series(fs.Info.Key, SeriesQuery{Resolution: ResolutionRaw})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := d.Labels["history"]; ok {
				if len(d.Points) != 0 || d.Labels["summed_in"] != OthersKey(1, fs.Info.Table) {
					t.Fatalf("flow without history: %d points, labels %v", len(d.Points), d.Labels)
				}
				continue
			}
			if len(d.Points) < 1 {
				t.Fatalf("%s keeps a history but has no points", fs.Info.Key)
			}
			for i := range rate {
				if fs.Bytes == total[i] {
					if i < owned {
						own[uint32(i)] = true
					} else {
						fgn[uint32(i)] = true
					}
				}
			}
		}
		return own, fgn
	}
	own, fgn := withHistory()
	if len(own) != owned {
		t.Fatalf("%d of %d owned flows keep a history", len(own), owned)
	}
	for i := owned + foreign - 5; i < owned+foreign; i++ {
		if !fgn[uint32(i)] {
			t.Fatalf("busiest foreign flow %d has no history; with history: %v", i, fgn)
		}
	}
	// the first polls kept the first foreign flows seen (under the limit
	// when they were created); the ranking keeps at most 2N
	if len(fgn) > 10 {
		t.Fatalf("%d foreign flows keep a history, want at most 10", len(fgn))
	}

	// the others series sums the flows without history of table 10
	d, err := c.Series(OthersKey(1, 10), SeriesQuery{Resolution: ResolutionRaw})
	if err != nil {
		t.Fatal(err)
	}
	var want float64
	for i := owned; i < owned+foreign; i++ {
		if !fgn[uint32(i)] {
			want += float64(rate[i]) * 8
		}
	}
	last := d.Points[len(d.Points)-1].V[0]
	if math.Abs(float64(last)-want) > want*1e-3 || d.Labels["flows"] != "50" && d.Labels["flows"] != "55" {
		t.Fatalf("others series: last %v want %v, labels %v", last, want, d.Labels)
	}

	// a quiet foreign flow becomes the busiest: it gains a history, and
	// the flows pushed below the 2N busiest lose theirs
	memBefore := c.Stats().MemoryBytes
	for i := owned; i < owned+15; i++ {
		rate[i] = 1_000_000 + uint64(i)
	}
	for p := 6; p <= 8; p++ {
		poll(p)
	}
	_, fgn = withHistory()
	for i := owned + 10; i < owned+15; i++ {
		if !fgn[uint32(i)] {
			t.Fatalf("newly busiest foreign flow %d has no history: %v", i, fgn)
		}
	}
	for i := owned + foreign - 5; i < owned+foreign; i++ {
		if fgn[uint32(i)] {
			t.Fatalf("flow %d fell below the busiest 10 and still has a history: %v", i, fgn)
		}
	}
	if len(fgn) > 10 {
		t.Fatalf("%d foreign flows keep a history, want at most 10", len(fgn))
	}
	st := c.Stats()
	if fk := st.Switches[0].Kinds["flow"]; fk.WithHistory != owned+len(fgn) {
		t.Fatalf("stats say %d flows with history, want %d", fk.WithHistory, owned+len(fgn))
	}
	t.Logf("memory estimate %d -> %d bytes", memBefore, st.MemoryBytes)
}

// FlowHistoryMax bounds owned flows too.
func TestFlowHistoryMax(t *testing.T) {
	c, sw := newTestCollector(Config{Interval: time.Second, FlowHistoryForeign: -1, FlowHistoryMax: 3})
	flows := make([]testFlow, 0, 10)
	for i := 0; i < 10; i++ {
		flows = append(flows, testFlow{table: 1, prio: 10, cookie: uint64(controller.NewCookie(controller.OwnerAPI, 0, uint32(i))), inPort: uint32(i + 1), bytes: 100, outPort: 1})
	}
	t0 := time.Now().Add(-time.Minute).UnixNano() // points in the past, where queries look
	for p := 1; p <= 2; p++ {
		if _, err := c.ingestFlows(sw, t0+int64(p)*int64(time.Second), encodeFlows(flows...)); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, fs := range c.Flows(FlowFilter{}) {
		if fs.Info.Cookie.Kind() == controller.OwnerAPI {
			if d, _ := c.Series(fs.Info.Key, SeriesQuery{Resolution: ResolutionRaw}); d.Labels["history"] == "" {
				n++
			}
		}
	}
	if n != 3 {
		t.Fatalf("%d owned flows keep a history, want 3", n)
	}
}

// Flow polls yield to the switch: a dump that took long pushes the next
// one out, a table that changes fast doubles the interval, a stable one
// returns to it.
func TestScheduleFlowsYields(t *testing.T) {
	c, sw := newTestCollector(Config{Interval: time.Second, FlowPollMaxInterval: 8 * time.Second})
	setSize := func(n int) {
		sw.mu[KindFlow].Lock()
		sw.flowOrder = make([]*flowSeries, n)
		sw.mu[KindFlow].Unlock()
	}
	next := func() time.Duration {
		return time.Until(time.Unix(0, sw.flowNext.Load())).Round(100 * time.Millisecond)
	}

	setSize(1000)
	c.scheduleFlows(sw, 10*time.Millisecond)
	if n := next(); n > 600*time.Millisecond {
		t.Fatalf("a quick dump of a new small table defers the next by %v", n)
	}
	c.scheduleFlows(sw, 10*time.Millisecond) // same size: steady
	if n := next(); n > 600*time.Millisecond {
		t.Fatalf("steady small table: next poll in %v", n)
	}
	// a slow dump of a small table is this host's scheduling, not the
	// switch's work: the interval holds
	c.scheduleFlows(sw, 400*time.Millisecond)
	if n := next(); n > 600*time.Millisecond {
		t.Fatalf("after a slow dump of 1,000 flows the next poll is in %v, want the interval", n)
	}
	// a small table that doubles does not stretch the interval either
	setSize(2000)
	c.scheduleFlows(sw, time.Millisecond)
	if got := time.Duration(sw.flowInterval.Load()); got != time.Second {
		t.Fatalf("a small table growing: flow interval %v", got)
	}
	// a big table's dump of 400 ms: the next one no sooner than 20 x 400 ms
	setSize(20_000)
	c.scheduleFlows(sw, time.Millisecond) // (it grew: the interval doubles once)
	setSize(20_000)
	c.scheduleFlows(sw, 400*time.Millisecond)
	if n := next(); n < 7*time.Second || n > 8*time.Second {
		t.Fatalf("after a 400 ms dump of 20,000 flows the next poll is in %v, want 8 s - 0.5 s", n)
	}
	// a growing big table: 2 s, 4 s, 8 s, then the ceiling
	want := []time.Duration{2, 4, 8, 8}
	for i, size := range []int{40_000, 80_000, 160_000, 320_000} {
		setSize(size)
		c.scheduleFlows(sw, time.Millisecond)
		if got := time.Duration(sw.flowInterval.Load()); got != want[i]*time.Second {
			t.Fatalf("growth step %d: flow interval %v, want %v", i, got, want[i]*time.Second)
		}
	}
	c.scheduleFlows(sw, time.Millisecond) // stable again
	if got := time.Duration(sw.flowInterval.Load()); got != time.Second {
		t.Fatalf("stable table: flow interval %v, want the interval", got)
	}
	// turned off
	c2, sw2 := newTestCollector(Config{Interval: time.Second, FlowPollFactor: -1})
	c2.scheduleFlows(sw2, time.Hour)
	if sw2.flowNext.Load() != 0 {
		t.Fatal("FlowPollFactor -1 still defers flow polls")
	}
}

// A table being loaded (the table polls see its flow count jump) defers
// flow dumps until it holds still.
func TestTableChangingDefersFlowDumps(t *testing.T) {
	_, sw := newTestCollector(Config{Interval: time.Second})
	if !tableChanging(sw) {
		t.Fatal("before any table poll, flows are dumped: the table may be being loaded")
	}
	set := func(prev, now int64) {
		sw.activePrev.Store(prev)
		sw.activeNow.Store(now)
	}
	for _, c := range []struct {
		prev, now int64
		want      bool
	}{
		{-1, 500, false},          // one table poll, a small table: dump
		{-1, 50_000, true},        // one table poll, a big table: wait for the next
		{0, 50_000, true},         // loading
		{50_000, 120_000, true},   // still loading
		{120_000, 120_000, false}, // done
		{120_000, 121_500, false}, // a little churn: 1.25 %
		{100, 900, false},         // small tables never defer
		{200_000, 0, true},        // cleared
	} {
		set(c.prev, c.now)
		if got := tableChanging(sw); got != c.want {
			t.Errorf("%d -> %d flows: changing %v, want %v", c.prev, c.now, got, c.want)
		}
	}
}
