package lldp_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/topology"
)

// fabric is a controller, topology tracker and discovery on TCP loopback,
// with n emulated switches of 4 ports cabled into a ring with chords:
// port 1 of switch i to port 2 of switch i+1, port 3 of switch i to port
// 4 of switch i+n/3 (mod n). Every port is cabled once, so the fabric has
// 2n cables, 4n directed links.
type fabric struct {
	ctl   *controller.Controller
	model *topology.Model
	disc  *lldp.Discovery
	sws   []*switchemu.Switch
	addr  string
	ctx   context.Context

	cancel func()
	wg     sync.WaitGroup
}

func newFabric(tb testing.TB, n int, dcfg lldp.DiscoveryConfig) *fabric {
	tb.Helper()
	if n < 2 {
		tb.Fatalf("a fabric needs at least 2 switches, not %d", n)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctl := controller.New(controller.Config{Logger: log, MaxHandshakes: 4096, MaxHandshakesPerSource: 4096})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &fabric{ctl: ctl, model: topology.New(topology.Options{}), addr: ln.Addr().String(), ctx: ctx, cancel: cancel}
	dcfg.Logger = log
	f.disc = lldp.NewDiscovery(dcfg, ctl, f.model, lldp.NewRandomSigner())
	f.wg.Add(3)
	go func() { defer f.wg.Done(); ctl.Serve(ctx, ln) }()
	go func() {
		defer f.wg.Done()
		topology.NewTracker(topology.TrackerConfig{Logger: log}, ctl, f.model).Run(ctx)
	}()
	go func() { defer f.wg.Done(); f.disc.Run(ctx) }()
	for i := 0; i < n; i++ {
		f.sws = append(f.sws, switchemu.New(switchemu.Config{DPID: uint64(i + 1), Ports: 4}))
	}
	chord := max(1, n/3)
	for i := 0; i < n; i++ {
		if err := switchemu.Connect(f.sws[i], 1, f.sws[(i+1)%n], 2); err != nil {
			tb.Fatal(err)
		}
		if err := switchemu.Connect(f.sws[i], 3, f.sws[(i+chord)%n], 4); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(f.close)
	return f
}

// dial connects every switch at once.
func (f *fabric) dial() {
	for _, sw := range f.sws {
		f.wg.Add(1)
		go func() { defer f.wg.Done(); sw.Dial(f.ctx, "tcp", f.addr) }()
	}
}

func (f *fabric) close() {
	f.cancel()
	f.wg.Wait()
}

// links counts the model's directed links that are up.
func (f *fabric) links() int {
	n := 0
	for _, l := range f.model.Links() {
		if l.State == topology.LinkUp {
			n++
		}
	}
	return n
}

// waitLinks polls until the model holds n links and returns how long it
// took, or fails after limit.
func (f *fabric) waitLinks(tb testing.TB, n int, limit time.Duration) time.Duration {
	tb.Helper()
	start := time.Now()
	for {
		got := f.links()
		if got == n {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			tb.Fatalf("%d of %d links after %s (%d switches connected, discovery %+v)", got, n, limit, len(f.ctl.Switches()), f.disc.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// A switch is probed as soon as it connects, and a port as soon as it
// comes up: with an interval of a minute, the schedule would take that
// long; events take no wait.
func TestDiscoveryReactsToEvents(t *testing.T) {
	interval := time.Minute
	f := newFabric(t, 8, lldp.DiscoveryConfig{Interval: interval})
	f.dial()
	took := f.waitLinks(t, 4*8, interval/4)
	t.Logf("32 links of 8 switches found %s after they were dialled (interval %s)", took.Round(time.Millisecond), interval)
	if st := f.disc.Stats(); st.Immediate == 0 {
		t.Fatalf("no immediate probe: %+v", st)
	}

	// unplug the cable between switch 1 port 1 and switch 2 port 2
	for _, e := range []struct {
		sw   int
		port uint32
	}{{0, 1}, {1, 2}} {
		if err := f.sws[e.sw].SetPortDown(e.port, true); err != nil {
			t.Fatal(err)
		}
	}
	f.waitLinks(t, 4*8-2, interval/4)
	before := f.disc.Stats().Immediate
	for _, e := range []struct {
		sw   int
		port uint32
	}{{0, 1}, {1, 2}} {
		if err := f.sws[e.sw].SetPortDown(e.port, false); err != nil {
			t.Fatal(err)
		}
	}
	took = f.waitLinks(t, 4*8, interval/4)
	t.Logf("restored link found %s after its ports came up", took.Round(time.Millisecond))
	if after := f.disc.Stats().Immediate; after < before+2 {
		t.Fatalf("immediate probes %d -> %d, want both ends probed", before, after)
	}
}

// A switch that connects while its neighbours' first probes toward it
// were lost (they connected first, it had no flows yet) is found in both
// directions at once: the probes it sends reach the neighbours, and each
// link found in one direction has its far end probed at once.
func TestDiscoveryFindsTheWayBack(t *testing.T) {
	interval := time.Minute
	f := newFabric(t, 4, lldp.DiscoveryConfig{Interval: interval})
	for _, sw := range f.sws[:3] {
		f.wg.Add(1)
		go func() { defer f.wg.Done(); sw.Dial(f.ctx, "tcp", f.addr) }()
	}
	// switches 1-3 share 2 ring cables (1-2, 2-3) and the chord 1-2 (n/3=1: i to i+1)
	for len(f.ctl.Switches()) < 3 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(400 * time.Millisecond) // the follow-ups are over
	probesBefore := f.disc.Stats().ProbesSent
	f.wg.Add(1)
	go func() { defer f.wg.Done(); f.sws[3].Dial(f.ctx, "tcp", f.addr) }()
	took := f.waitLinks(t, 16, interval/4)
	t.Logf("last switch: all links found %s after it was dialled, %d probes", took.Round(time.Millisecond), f.disc.Stats().ProbesSent-probesBefore)
}

// Settled ports are probed every steady interval, new ones every
// interval: the packet-outs a fabric costs at idle follow the steady
// interval.
func TestDiscoverySteadyInterval(t *testing.T) {
	interval, steady := 50*time.Millisecond, 500*time.Millisecond
	f := newFabric(t, 6, lldp.DiscoveryConfig{Interval: interval, SteadyInterval: steady, Misses: 3})
	f.dial()
	f.waitLinks(t, 24, 10*time.Second)
	time.Sleep(time.Duration(f.disc.Config().Misses)*interval + steady) // every port has settled
	count := func() (n uint64) {
		for _, sw := range f.sws {
			n += sw.PacketOuts.Load()
		}
		return n
	}
	start, c0 := time.Now(), count()
	time.Sleep(4 * steady)
	sent, took := count()-c0, time.Since(start)
	ports := 24.0
	perSteady := float64(sent) / ports / (float64(took) / float64(steady))
	t.Logf("%d packet-outs to %d ports in %s: %.2f per port per steady interval", sent, int(ports), took.Round(time.Millisecond), perSteady)
	// one per port per steady interval; probing at the interval would be 10
	if perSteady < 0.5 || perSteady > 2 {
		t.Fatalf("%.2f probes per port per steady interval, want about 1 (%d packet-outs)", perSteady, sent)
	}
	if n := f.links(); n != 24 {
		t.Fatalf("%d links with steady probing, want 24 kept", n)
	}
}
