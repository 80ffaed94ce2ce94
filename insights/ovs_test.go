package insights_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/insights"
	"github.com/satellite-sdn/satellite/lab"
)

// TestMain doubles as a paced UDP sender: the lab test runs this test
// binary inside an endpoint's namespace with SAT_UDP_SEND="DST:PORT BPS
// PAYLOAD"; it sends until killed.
func TestMain(m *testing.M) {
	if spec := os.Getenv("SAT_UDP_SEND"); spec != "" {
		if err := udpSend(spec); err != nil {
			fmt.Fprintln(os.Stderr, "udp send:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func udpSend(spec string) error {
	f := strings.Fields(spec)
	if len(f) != 3 {
		return fmt.Errorf("spec %q: want DST:PORT BPS PAYLOAD", spec)
	}
	dst, err := net.ResolveUDPAddr("udp4", f[0])
	if err != nil {
		return err
	}
	bps, err1 := strconv.ParseFloat(f[1], 64)
	payload, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return fmt.Errorf("spec %q: want DST:PORT BPS PAYLOAD", spec)
	}
	conn, err := net.ListenUDP("udp4", nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	buf := make([]byte, payload)
	pps := bps / 8 / float64(payload+14+20+8)
	start, sent := time.Now(), 0
	for {
		for due := int(time.Since(start).Seconds() * pps); sent < due; sent++ {
			// errors (an ICMP port unreachable, a full buffer) do not stop it
			_, _ = conn.WriteToUDP(buf, dst)
		}
		time.Sleep(500 * time.Microsecond)
	}
}

type labNames map[uint64]string

func (n labNames) SwitchName(d uint64) string { return n[d] }
func (n labNames) NetworkName(uint32) string  { return "" }

// TestOVSWhatIsWrongNow runs the collector (1 s polls) and the insights
// engine against a real Open vSwitch bridge with two endpoints that send
// each other 5 Mbit/s of UDP all along:
//
//   - a quiet window of steady traffic: the list stays empty at every
//     check (no false positives);
//   - vm2's MTU lowered below the frames sent to it: the bridge's sends
//     to vm2 are dropped (the veth counts them as tx drops); "h1 port
//     vm2: tx drops" is at the top of the list within two polling
//     intervals, and clears once the MTU is back;
//   - vm1's sender stopped while vm2 still sends to it: "h1 port vm1:
//     stopped sending ... while ... is still sent to it" is at the top
//     within two polling intervals.
func TestOVSWhatIsWrongNow(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "of.sock")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctl := controller.New(controller.Config{Logger: log})
	ln, err := controller.Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Add(1)
	go func() { defer wg.Done(); ctl.Serve(ctx, ln) }()

	topo := lab.Start(t, lab.Config{Hosts: 1, Controllers: []string{"unix:" + sock}})
	h := topo.Host(1)
	var sess *controller.Session
	deadline := time.Now().Add(20 * time.Second)
	for sess = ctl.Switch(h.DatapathID); sess == nil; sess = ctl.Switch(h.DatapathID) {
		if time.Now().After(deadline) {
			t.Fatal("the bridge did not connect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	vm1, vm2 := h.Endpoints[0], h.Endpoints[1]
	for _, spec := range []string{
		fmt.Sprintf("table=0,priority=100,in_port=%d,actions=output:%d", vm1.OFPort, vm2.OFPort),
		fmt.Sprintf("table=0,priority=100,in_port=%d,actions=output:%d", vm2.OFPort, vm1.OFPort),
	} {
		f, err := controller.ParseFlow(spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := sess.AddFlows(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := topo.Exec(ctx, vm1.Namespace, "ping", "-c", "1", "-W", "2", vm2.IP); err != nil {
		t.Fatalf("ping vm1 -> vm2: %v\n%s", err, out)
	}

	const interval = time.Second
	coll := collector.New(collector.Config{Interval: interval, Logger: log}, ctl)
	eng := insights.New(insights.Config{Interval: interval, Names: labNames{h.DatapathID: h.Name}, Logger: log}, coll, nil)
	wg.Add(2)
	go func() { defer wg.Done(); coll.Run(ctx) }()
	go func() { defer wg.Done(); eng.Run(ctx) }()

	send := func(from lab.Endpoint, to string) (stop func()) {
		sctx, scancel := context.WithCancel(ctx)
		cmd, err := topo.ExecCommand(sctx, from.Namespace, os.Args[0], "-test.run=^$")
		if err != nil {
			t.Fatal(err)
		}
		cmd.Env = append(os.Environ(), "SAT_UDP_SEND="+net.JoinHostPort(to, "9")+" 5000000 1200")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		var once sync.Once
		stop = func() { once.Do(func() { scancel(); <-done }) }
		t.Cleanup(stop)
		return stop
	}
	stop1 := send(vm1, vm2.IP)
	send(vm2, vm1.IP)

	// warm-up: the baselines learn the steady traffic
	time.Sleep(8 * interval)

	// a quiet window: nothing wrong at any check
	quiet := 30 * time.Second
	if v := os.Getenv("SAT_INSIGHTS_QUIET"); v != "" {
		if quiet, err = time.ParseDuration(v); err != nil {
			t.Fatalf("SAT_INSIGHTS_QUIET=%q: %v", v, err)
		}
	}
	checks := 0
	for end := time.Now().Add(quiet); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		checks++
		if items := eng.Items(); len(items) != 0 {
			t.Fatalf("steady traffic, %s into the quiet window: %+v", quiet-time.Until(end), items)
		}
	}
	st := eng.Stats()
	t.Logf("quiet window: %s of steady traffic, %d checks, no item; %d samples judged, %d lost", quiet, checks, st.Samples, st.SamplesLost)

	// waitTop waits for the top item to be kind on object and returns it
	// with how long it took.
	waitTop := func(what, kind, object string) (insights.Item, time.Duration) {
		t.Helper()
		start := time.Now()
		for limit := start.Add(10 * interval); ; time.Sleep(20 * time.Millisecond) {
			items := eng.Items()
			if len(items) > 0 && items[0].Kind == kind && items[0].Object == object {
				took := time.Since(start)
				t.Logf("%s: at the top after %s: %s: %s (score %.1f); all: %d item(s)", what, took.Round(time.Millisecond), items[0].Object, items[0].Reason, items[0].Score, len(items))
				for _, it := range items[1:] {
					t.Logf("  also: %s: %s (score %.1f)", it.Object, it.Reason, it.Score)
				}
				return items[0], took
			}
			if time.Now().After(limit) {
				t.Fatalf("%s: no %s item for %q at the top within 10 intervals: %+v", what, kind, object, items)
			}
		}
	}
	// settled returns the item again once a whole interval after the
	// change was polled (the first sample is a partial one)
	settled := func(kind, object string) insights.Item {
		t.Helper()
		time.Sleep(interval + interval/2)
		for _, it := range eng.Items() {
			if it.Kind == kind && it.Object == object {
				return it
			}
		}
		t.Fatalf("the %s item for %q went: %+v", kind, object, eng.Items())
		return insights.Item{}
	}
	// within two polling intervals, with a little slack for the poll's
	// own round trip and the test's 20 ms checks
	within := 2*interval + 300*time.Millisecond

	// drops: vm2 refuses the frames sent to it
	if out, err := topo.Exec(ctx, vm2.Namespace, "ip", "link", "set", "dev", vm2.IfName, "mtu", "1000"); err != nil {
		t.Fatalf("mtu: %v %s", err, out)
	}
	it, took := waitTop("vm2 refuses its frames", insights.KindDrops, "h1 port vm2")
	if took > within {
		t.Errorf("drops listed after %s, want within %s", took, within)
	}
	it = settled(insights.KindDrops, "h1 port vm2")
	t.Logf("settled: %s", it.Reason)
	if !strings.HasPrefix(it.Reason, "tx drops ") || !strings.HasSuffix(it.Reason, "/s, baseline 0") || it.Value < 300 {
		t.Errorf("reason %q (value %v), want tx drops of about 500/s (5 Mbit/s of 1242-byte frames), baseline 0", it.Reason, it.Value)
	}
	if out, err := topo.Exec(ctx, vm2.Namespace, "ip", "link", "set", "dev", vm2.IfName, "mtu", "1500"); err != nil {
		t.Fatalf("mtu: %v %s", err, out)
	}
	for limit := time.Now().Add(10 * interval); ; time.Sleep(100 * time.Millisecond) {
		items := eng.Items()
		drops := false
		for _, it := range items {
			drops = drops || it.Kind == insights.KindDrops
		}
		if !drops {
			break
		}
		if time.Now().After(limit) {
			t.Fatalf("drops still listed 10 intervals after the MTU was restored: %+v", items)
		}
	}

	// vm1 stops sending; vm2 goes on
	stop1()
	it, took = waitTop("vm1 stopped sending", insights.KindStopped, "h1 port "+vm1.Port)
	if took > within {
		t.Errorf("stopped sending listed after %s, want within %s", took, within)
	}
	it = settled(insights.KindStopped, "h1 port "+vm1.Port)
	t.Logf("settled: %s", it.Reason)
	if top := eng.Items()[0]; top.Kind != insights.KindStopped {
		t.Errorf("top item %s: %s, want the interface that stopped sending above what it causes", top.Object, top.Reason)
	}
	if !strings.HasPrefix(it.Reason, "stopped sending: rx ") || it.Value > 50e3 || !strings.Contains(it.Reason, "Mbit/s is still sent to it") {
		t.Errorf("reason %q", it.Reason)
	}
	if it.Baseline < 4e6 || it.Baseline > 6e6 {
		t.Errorf("baseline %v, want about 5 Mbit/s", it.Baseline)
	}
}
