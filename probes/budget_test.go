package probes

import (
	"context"
	"github.com/satellite-sdn/satellite/internal/testlog"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/vnet"
)

// syncBuffer is the shared test log buffer.
type syncBuffer = testlog.Buffer

// budgetEnv connects three emulated switches h1..h3 with two tunnel ports
// to each other host (4 paths per switch) to a controller whose packet-out
// limit is rate/s with the given burst, and returns a probe manager over
// them whose rounds the test drives by hand.
func budgetEnv(t *testing.T, rate float64, burst int, cfg Config) (*Manager, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	ctl := controller.New(controller.Config{Logger: log, PacketOutRate: rate, PacketOutBurst: burst})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go ctl.Serve(ctx, ln)
	hosts := []string{"h1", "h2", "h3"}
	var dps []vnet.Datapath
	for i, h := range hosts {
		sw := switchemu.New(switchemu.Config{DPID: uint64(i + 1)})
		no := uint32(100)
		for _, r := range hosts {
			if r == h {
				continue
			}
			for p := 1; p <= vnet.Paths; p++ {
				no++
				if err := sw.AddPort(no, "gre-"+r+"-p"+string(rune('0'+p))); err != nil {
					t.Fatal(err)
				}
			}
		}
		go sw.Dial(ctx, "tcp", ln.Addr().String())
		dps = append(dps, vnet.Datapath{Name: h, DPID: controller.FormatDPID(uint64(i + 1)),
			TunnelIPs: []string{"192.168.10." + string(rune('1'+i)), "192.168.20." + string(rune('1'+i))}})
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(ctl.Switches()) < len(hosts) {
		if time.Now().After(deadline) {
			t.Fatal("the emulated switches did not connect")
		}
		time.Sleep(5 * time.Millisecond)
	}
	store, err := vnet.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	vm, err := vnet.NewManager(store, ctl, topology.New(topology.Options{}), vnet.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vm.Apply(vnet.Config{Datapaths: dps}); err != nil {
		t.Fatal(err)
	}
	cfg.Logger = log
	m := New(cfg, ctl, vm, nil)
	for i := range hosts {
		m.ready[uint64(i+1)] = true // as if the probe flows were installed
	}
	return m, logs
}

// Four paths per switch at 10 ms need 400 probes/s; with a packet-out
// limit of 200/s and half of it for probes, the intervals stretch 4x,
// with one warning per switch naming the numbers and what to change.
func TestProbeIntervalsStretchToTheBudget(t *testing.T) {
	m, logs := budgetEnv(t, 200, 200, Config{Interval: 10 * time.Millisecond})
	ctx := context.Background()
	now := time.Now()
	for i := 0; i < 5; i++ {
		m.round(ctx, now)
		now = now.Add(10 * time.Millisecond)
	}
	ps := m.Paths()
	if len(ps) != 12 {
		t.Fatalf("%d paths, want 12 (3 hosts x 2 remotes x 2 paths)", len(ps))
	}
	for _, p := range ps {
		if p.IntervalMs != 40 {
			t.Errorf("path %s->%s/%d probes every %.1f ms, want 40 (10 ms stretched 4x)", p.LocalName, p.RemoteName, p.Path, p.IntervalMs)
		}
		// 5 rounds 10 ms apart at a 40 ms interval: 2 probes
		if p.Sent+p.Unsent != 2 {
			t.Errorf("path %s->%s/%d: %d sent + %d unsent, want 2 probes", p.LocalName, p.RemoteName, p.Path, p.Sent, p.Unsent)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "probe intervals stretched"); n != 3 {
		t.Fatalf("%d stretch warnings, want one per switch (3):\n%s", n, out)
	}
	for _, w := range []string{"need_pps=400", "budget_pps=100", "factor=4.00", "packet_out_rate"} {
		if !strings.Contains(out, w) {
			t.Errorf("the warning does not say %q:\n%s", w, out)
		}
	}

	// a budget that suffices: no stretch
	m2, logs2 := budgetEnv(t, 2000, 500, Config{Interval: 10 * time.Millisecond})
	m2.round(ctx, time.Now())
	for _, p := range m2.Paths() {
		if p.IntervalMs != 10 {
			t.Errorf("with budget to spare a path probes every %.1f ms, want 10", p.IntervalMs)
		}
	}
	if strings.Contains(logs2.String(), "stretched") {
		t.Errorf("stretched with budget to spare:\n%s", logs2.String())
	}
}

// Probes the packet-out limiter refuses are not sent, and a probe that
// was never sent is not one the path lost: with a burst of 2 per switch
// and no time for tokens to return, 2 of each switch's 4 probes of a round
// stay unsent, and none of them is waiting for an answer or counted as a
// miss.
func TestUnsentProbesAreNotLosses(t *testing.T) {
	m, _ := budgetEnv(t, 0.001, 2, Config{Interval: 10 * time.Millisecond, PacketOutShare: 1})
	ctx := context.Background()
	now := time.Now()
	m.round(ctx, now)
	var sent, unsent uint64
	for _, p := range m.Paths() {
		sent += p.Sent
		unsent += p.Unsent
	}
	if sent != 6 || unsent != 6 {
		t.Fatalf("%d sent, %d unsent; want 6 (3 switches x the burst of 2) and 6", sent, unsent)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	waiting := 0
	for _, p := range m.paths {
		waiting += len(p.outstanding)
		if p.consecMiss != 0 || len(p.results) != 0 {
			t.Errorf("path %v counted results %v, misses %d for probes it never got", p.key, p.results, p.consecMiss)
		}
	}
	if waiting != 6 {
		t.Fatalf("%d probes waiting for an answer, want the 6 sent", waiting)
	}
}

// The probe flows reach every switch: one whose switch-up event is
// handled, and the others on the next tick, as when their install failed
// or their event was taken while the loop drained replies.
func TestProbeFlowsInstalledOnEveryPath(t *testing.T) {
	m, _ := budgetEnv(t, 2000, 500, Config{Interval: 10 * time.Millisecond})
	ctx := context.Background()
	m.mu.Lock()
	m.ready = map[uint64]bool{}
	m.mu.Unlock()
	m.event(ctx, controller.Event{Kind: controller.SwitchUp, DPID: 2})
	now := time.Now()
	m.retryInstall(ctx, now)
	for id := uint64(1); id <= 3; id++ {
		m.mu.Lock()
		ready := m.ready[id]
		m.mu.Unlock()
		if !ready {
			t.Fatalf("switch %d: probe flows not installed", id)
		}
		flows, err := m.ctl.Switch(id).FlowStats(ctx, controller.AllFlows)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range flows {
			if controller.Cookie(f.Cookie).Kind() == controller.OwnerProbe {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("switch %d holds %d probe flows, want 2", id, n)
		}
	}
	// and every path is probed
	m.round(ctx, now)
	for _, p := range m.Paths() {
		if p.Sent != 1 {
			t.Errorf("path %s->%s/%d: %d probes sent, want 1", p.LocalName, p.RemoteName, p.Path, p.Sent)
		}
	}
}
