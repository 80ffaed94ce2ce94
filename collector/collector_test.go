package collector_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/internal/testenv"
)

// startCollector runs a collector on env's controller until the test ends.
func startCollector(t *testing.T, env *testenv.Controller, cfg collector.Config) *collector.Collector {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c := collector.New(cfg, env.Ctl)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// TestPortRatesFromEmulatedSwitch drives an emulated switch's counters at
// a known rate and checks the rates the collector reports.
func TestPortRatesFromEmulatedSwitch(t *testing.T) {
	env := testenv.StartController(t, controller.Config{})
	sw := env.Connect(switchemu.Config{DPID: 1, Ports: 2})
	c := startCollector(t, env, collector.Config{Interval: 200 * time.Millisecond})
	sub := c.Subscribe(256)
	defer sub.Close()

	// 8 Mbit/s and 1000 pps into port 1, out of port 2: 5000 bytes and 5
	// packets every 5 ms.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		start, sent := time.Now(), 0
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tk.C:
				// catch up on ticks the scheduler delayed, so the rate is exact
				for due := int(now.Sub(start) / (5 * time.Millisecond)); sent < due; sent++ {
					sw.Count(1, 5, 5000, 0, 0)
					sw.Count(2, 0, 0, 5, 5000)
				}
			}
		}
	}()
	var rx, tx, pps []float64
	deadline := time.After(15 * time.Second)
	for len(rx) < 8 {
		select {
		case b := <-sub.C:
			if b.Kind != collector.KindPort {
				continue
			}
			for _, p := range b.Ports {
				switch {
				case p.Port == 1 && !math.IsNaN(p.Rates.RxBps):
					rx = append(rx, p.Rates.RxBps)
					pps = append(pps, p.Rates.RxPps)
				case p.Port == 2 && !math.IsNaN(p.Rates.TxBps):
					tx = append(tx, p.Rates.TxBps)
				}
			}
		case <-deadline:
			t.Fatalf("only %d rated port samples in 15s; stats %+v", len(rx), c.Stats())
		}
	}
	if m := median(rx); math.Abs(m-8e6)/8e6 > 0.1 {
		t.Errorf("port 1 rx: median %.0f bit/s of %v, want 8 Mbit/s ±10%%", m, rx)
	}
	if m := median(tx); math.Abs(m-8e6)/8e6 > 0.1 {
		t.Errorf("port 2 tx: median %.0f bit/s, want 8 Mbit/s ±10%%", m)
	}
	if m := median(pps); math.Abs(m-1000)/1000 > 0.1 {
		t.Errorf("port 1 rx: median %.0f pps, want 1000 ±10%%", m)
	}
	p := c.Ports(collector.PortFilter{})
	if len(p) != 3 || p[0].Name != "p1" || p[0].SpeedKbps != 10_000_000 || p[2].Name != "br0" {
		t.Fatalf("ports %+v", p)
	}
	if u := p[0].Rates.RxUtil; !(u > 0.07 && u < 0.09) { // 8 Mbit/s of 10 Gbit/s
		t.Errorf("port 1 rx utilisation %v%%, want 0.08%%", u)
	}
	// history: a raw series with a point per poll
	d, err := c.Series(p[0].Key, collector.SeriesQuery{})
	if err != nil || len(d.Points) < 8 || d.Resolution != collector.ResolutionRaw || d.Labels["name"] != "p1" {
		t.Fatalf("series: %d points, %+v, %v", len(d.Points), d.Labels, err)
	}
	st := c.Stats()
	if st.Kinds["port"].Polls < 8 || st.Kinds["port"].Errors != 0 || len(st.Switches) != 1 || !st.Switches[0].Connected {
		t.Fatalf("stats %+v", st)
	}
}

// TestFlowsOwnersAndChurn checks flows installed through the controller
// are identified with their owners and disappear when deleted.
func TestFlowsOwnersAndChurn(t *testing.T) {
	env := testenv.StartController(t, controller.Config{})
	env.Connect(switchemu.Config{DPID: 7, Ports: 2})
	c := startCollector(t, env, collector.Config{Interval: 100 * time.Millisecond})
	s := env.Ctl.Switch(7)
	var flows []controller.Flow
	for i, spec := range []string{"table=1,priority=10,in_port=1,actions=output:2", "table=1,priority=10,in_port=2,actions=output:1", "table=0,priority=0,actions=goto_table:1"} {
		f, err := controller.ParseFlow(spec)
		if err != nil {
			t.Fatal(err)
		}
		f.Cookie = []controller.Cookie{
			controller.NewCookie(controller.OwnerInterface, 5, 21), controller.NewCookie(controller.OwnerInterface, 5, 22),
			controller.NewCookie(controller.OwnerCore, 0, 1),
		}[i]
		flows = append(flows, f)
	}
	if err := s.AddFlows(context.Background(), flows...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 flows", 5*time.Second, func() bool { return len(c.Flows(collector.FlowFilter{})) == 3 })
	got := map[string]string{}
	for _, f := range c.Flows(collector.FlowFilter{}) {
		got[f.Info.Cookie.String()] = fmt.Sprintf("table=%d,priority=%d,%s", f.Info.Table, f.Info.Priority, f.Info.Match())
	}
	want := map[string]string{"interface:21@net:5": "table=1,priority=10,in_port=1", "interface:22@net:5": "table=1,priority=10,in_port=2", "core:1": "table=0,priority=0,"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("flows %v, want %v", got, want)
	}
	n5 := uint32(5)
	if got := c.Flows(collector.FlowFilter{Network: &n5}); len(got) != 2 {
		t.Fatalf("network 5: %d flows", len(got))
	}
	if err := s.DeleteFlows(context.Background(), controller.OwnedBy(controller.OwnerInterface, 5)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the interface flows to go", 5*time.Second, func() bool { return len(c.Flows(collector.FlowFilter{})) == 1 })
	// tables in use are tracked, the 252 empty ones are not
	waitFor(t, "table samples", 5*time.Second, func() bool { return len(c.Tables(nil)) > 0 })
	for _, tb := range c.Tables(nil) {
		if tb.Active == 0 && tb.Lookups == 0 && tb.Table > 1 {
			t.Errorf("unused table %d tracked", tb.Table)
		}
	}
}

// TestSlowSwitchIsSkippedNotQueued stalls a switch: its requests go
// unanswered, so every tick until the timeout finds them outstanding and
// is skipped and counted, and nothing piles up.
func TestSlowSwitchIsSkippedNotQueued(t *testing.T) {
	env := testenv.StartController(t, controller.Config{})
	_, link := env.ConnectLink(switchemu.Config{DPID: 3, Ports: 1})
	c := startCollector(t, env, collector.Config{Interval: 100 * time.Millisecond, Timeout: time.Second, SkipTables: true, SkipGroups: true})
	waitFor(t, "a first poll", 5*time.Second, func() bool { return c.Stats().Kinds["port"].Polls > 0 })
	link.Stall()
	time.Sleep(1500 * time.Millisecond)
	st := c.Stats()
	ks := st.Switches[0].Kinds["port"]
	// ~15 ticks in 1.5 s; at most 2 requests can have been sent (one timed
	// out after 1 s, the next one outstanding): the rest were skipped.
	if ks.Skipped < 8 || ks.Errors > 2 {
		t.Fatalf("port polls of a stalled switch: %+v", ks)
	}
	if st.Kinds["flow"].Skipped < 8 {
		t.Fatalf("flow polls: %+v", st.Kinds["flow"])
	}
}

// TestSlowSubscriberLosesOldSamples checks the stream never blocks polling
// and counts what a subscriber that does not read loses.
func TestSlowSubscriberLosesOldSamples(t *testing.T) {
	env := testenv.StartController(t, controller.Config{})
	env.Connect(switchemu.Config{DPID: 1, Ports: 4})
	c := startCollector(t, env, collector.Config{Interval: 100 * time.Millisecond, SkipFlows: true, SkipTables: true, SkipGroups: true})
	slow := c.Subscribe(2)
	defer slow.Close()
	waitFor(t, "10 polls", 10*time.Second, func() bool { return c.Stats().Kinds["port"].Polls >= 10 })
	// 5 samples (4 ports + LOCAL) per poll; the queue holds 2 batches
	if slow.Dropped() < 5*5 || slow.Dropped()%5 != 0 || c.Stats().StreamDropped != slow.Dropped() {
		t.Fatalf("dropped %d samples, stats %d", slow.Dropped(), c.Stats().StreamDropped)
	}
	// what is left are the newest batches
	first := <-slow.C
	second := <-slow.C
	if first.Time >= second.Time || time.Since(time.Unix(0, second.Time)) > time.Second {
		t.Fatalf("kept batches at %v and %v", time.Unix(0, first.Time), time.Unix(0, second.Time))
	}
}

// TestSwitchDown checks a disconnected switch's ports leave the latest
// view but keep their history.
func TestSwitchDown(t *testing.T) {
	env := testenv.StartController(t, controller.Config{})
	_, link := env.ConnectLink(switchemu.Config{DPID: 9, Ports: 1})
	c := startCollector(t, env, collector.Config{Interval: 100 * time.Millisecond})
	waitFor(t, "ports", 5*time.Second, func() bool { return len(c.Ports(collector.PortFilter{})) == 2 })
	key := c.Ports(collector.PortFilter{})[0].Key
	link.Close()
	waitFor(t, "the switch to go", 5*time.Second, func() bool { return len(c.Ports(collector.PortFilter{})) == 0 })
	d, err := c.Series(key, collector.SeriesQuery{})
	if err != nil || d.Present || len(d.Points) == 0 {
		t.Fatalf("history after disconnect: %v present %v points %d", err, d.Present, len(d.Points))
	}
	if st := c.Stats(); st.Switches[0].Connected {
		t.Fatal("switch still connected in stats")
	}
}
