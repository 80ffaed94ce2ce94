package alerts_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/lab"
)

// TestMain doubles as a paced UDP sender: the lab test runs this test
// binary inside an endpoint's namespace with SAT_UDP_SEND set.
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

// udpFrameOverhead is what Ethernet, IPv4 and UDP add to a payload on the
// wire as switches count it (no FCS).
const udpFrameOverhead = 14 + 20 + 8

// udpSend sends UDP datagrams at steady rates. spec is "DST:PORT
// BPS:DURATION[,BPS:DURATION...] PAYLOAD", BPS counting whole frames; the
// rate changes without a gap. It prints, per segment, the frame bytes sent
// and the nanoseconds it took.
func udpSend(spec string) error {
	f := strings.Fields(spec)
	if len(f) != 3 {
		return fmt.Errorf("spec %q: want DST:PORT BPS:DURATION[,...] PAYLOAD", spec)
	}
	dst, err := net.ResolveUDPAddr("udp4", f[0])
	if err != nil {
		return err
	}
	payload, err := strconv.Atoi(f[2])
	if err != nil {
		return err
	}
	// not connected: ICMP port unreachable from the receiver is not
	// reported on later writes
	conn, err := net.ListenUDP("udp4", nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	buf := make([]byte, payload)
	for _, seg := range strings.Split(f[1], ",") {
		rate, durText, _ := strings.Cut(seg, ":")
		bps, err1 := strconv.ParseFloat(rate, 64)
		dur, err2 := time.ParseDuration(durText)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("segment %q: want BPS:DURATION", seg)
		}
		pps := bps / 8 / float64(payload+udpFrameOverhead)
		start := time.Now()
		sent := 0
		for {
			el := time.Since(start)
			if el >= dur {
				break
			}
			for due := int(el.Seconds() * pps); sent < due; sent++ {
				if _, err := conn.WriteToUDP(buf, dst); err != nil {
					return err
				}
			}
			time.Sleep(200 * time.Microsecond)
		}
		fmt.Printf("%d %d\n", sent*(payload+udpFrameOverhead), time.Since(start).Nanoseconds())
	}
	return nil
}

// sender runs udpSend inside a namespace.
type sender struct {
	done chan struct{}
	out  []byte
	err  error
}

type segment struct {
	bps float64
	dur time.Duration
}

func startSender(ctx context.Context, t *testing.T, topo *lab.Topology, ns, dst string, segs ...segment) *sender {
	t.Helper()
	cmd, err := topo.ExecCommand(ctx, ns, os.Args[0], "-test.run=^$")
	if err != nil {
		t.Fatal(err)
	}
	var spec []string
	for _, sg := range segs {
		spec = append(spec, fmt.Sprintf("%.0f:%s", sg.bps, sg.dur))
	}
	cmd.Env = append(os.Environ(), fmt.Sprintf("SAT_UDP_SEND=%s %s 1200", dst, strings.Join(spec, ",")))
	s := &sender{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.out, s.err = cmd.CombinedOutput()
	}()
	return s
}

// wait returns the rate the sender achieved in each segment, in bit/s of
// frames.
func (s *sender) wait(t *testing.T) []float64 {
	t.Helper()
	<-s.done
	if s.err != nil {
		t.Fatalf("sender: %v: %s", s.err, s.out)
	}
	var out []float64
	for _, line := range strings.Split(strings.TrimSpace(string(s.out)), "\n") {
		var bytes, ns float64
		if _, err := fmt.Sscan(line, &bytes, &ns); err != nil || ns == 0 {
			t.Fatalf("sender output %q: %v", s.out, err)
		}
		out = append(out, bytes*8/(ns/1e9))
	}
	return out
}

func within(got, want, tolerance float64) bool { return math.Abs(got-want) <= tolerance*want }

func medianOf(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return math.NaN()
	}
	return s[len(s)/2]
}

// rates returns the values of metric i of a series' raw points in [from, to].
func rates(t *testing.T, c *collector.Collector, key string, i int, from, to time.Time) []float64 {
	t.Helper()
	d, err := c.Series(key, collector.SeriesQuery{From: from, To: to, Resolution: collector.ResolutionRaw})
	if err != nil {
		t.Fatalf("series %s: %v", key, err)
	}
	var out []float64
	for _, p := range d.Points {
		out = append(out, p.V[i])
	}
	return out
}

func finite(v []float64) []float64 {
	var out []float64
	for _, x := range v {
		if !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	return out
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// TestOVSRatesAlertsAndResets runs the collector and the alert engine
// against a real Open vSwitch bridge with two endpoints:
//
//   - a paced UDP stream at 30 then 15 Mbit/s from vm1 to vm2 is reported
//     on the right ports (vm1's port receives it, vm2's sends it) and on
//     the right flow (in_port=1, owned by interface 1 of network 7),
//     within 10 % of the rate sent; the other direction stays near zero;
//   - the rule "port tx > 20M for 2s, clear 10M" goes pending, then
//     firing, stays firing while the rate hovers at 15M, and resolves when
//     the traffic stops; the webhook receives both transitions;
//   - the flow deleted and re-added (its counters restart) and vm2's port
//     deleted and re-added give no negative or absurd rate.
func TestOVSRatesAlertsAndResets(t *testing.T) {
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
	// OVS pushes datapath statistics to OpenFlow rules when it revalidates
	// (at most every 500 ms by default); every 100 ms keeps flow rates
	// from being quantised at a 1 s poll interval.
	if out, err := topo.OVS(ctx, 1, "ovs-vsctl", "set", "Open_vSwitch", ".", "other_config:max-revalidator=100"); err != nil {
		t.Fatalf("ovs-vsctl: %v %s", err, out)
	}
	var sess *controller.Session
	deadline := time.Now().Add(20 * time.Second)
	for sess = ctl.Switch(h.DatapathID); sess == nil; sess = ctl.Switch(h.DatapathID) {
		if time.Now().After(deadline) {
			t.Fatal("the bridge did not connect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	vm1, vm2 := h.Endpoints[0], h.Endpoints[1]
	flowSpecs := []string{
		fmt.Sprintf("table=0,priority=100,in_port=%d,actions=output:%d", vm1.OFPort, vm2.OFPort),
		fmt.Sprintf("table=0,priority=100,in_port=%d,actions=output:%d", vm2.OFPort, vm1.OFPort),
	}
	var flows []controller.Flow
	for i, spec := range flowSpecs {
		f, err := controller.ParseFlow(spec)
		if err != nil {
			t.Fatal(err)
		}
		f.Cookie = controller.NewCookie(controller.OwnerInterface, 7, uint32(i+1))
		flows = append(flows, f)
	}
	if err := sess.AddFlows(ctx, flows...); err != nil {
		t.Fatal(err)
	}
	if out, err := topo.Exec(ctx, vm1.Namespace, "ping", "-c", "1", "-W", "2", vm2.IP); err != nil {
		t.Fatalf("ping vm1 -> vm2: %v\n%s", err, out)
	}

	coll := collector.New(collector.Config{Interval: time.Second, Logger: log}, ctl)
	hook := newHookRecorder(t)
	dpid := fmt.Sprintf("%016x", h.DatapathID)
	eng, err := alerts.New(alerts.Config{Logger: log, Interval: 200 * time.Millisecond,
		Webhook: alerts.WebhookConfig{URL: hook.srv.URL},
		Rules: []alerts.Rule{{Name: "vm2-busy", Metric: alerts.MetricPortTxBps, Selector: alerts.Selector{DPID: dpid, Port: u32(uint32(vm2.OFPort))},
			Op: ">", Value: th(20e6), Clear: th(10e6), For: alerts.Duration(2 * time.Second)}},
	}, alerts.Sources{Collector: coll, Controller: ctl})
	if err != nil {
		t.Fatal(err)
	}
	events := eng.Stream().Subscribe(64)
	defer events.Close()
	wg.Add(2)
	go func() { defer wg.Done(); coll.Run(ctx) }()
	go func() { defer wg.Done(); eng.Run(ctx) }()

	port1 := fmt.Sprintf("port/%s/%d", dpid, vm1.OFPort)
	port2 := fmt.Sprintf("port/%s/%d", dpid, vm2.OFPort)
	flowKey := func(id uint32) string {
		for _, f := range coll.Flows(collector.FlowFilter{}) {
			if f.Info.Cookie == controller.NewCookie(controller.OwnerInterface, 7, id) {
				return f.Info.Key
			}
		}
		return ""
	}
	for flowKey(1) == "" || len(coll.Ports(collector.PortFilter{})) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("nothing collected: %+v", coll.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	dst := net.JoinHostPort(vm2.IP, "9")

	// checkPhase compares what the collector saw between from and to
	// (the steady part of a phase) with the rate sent.
	checkPhase := func(name string, sent float64, from, to time.Time) {
		t.Helper()
		rx1 := finite(rates(t, coll, port1, 0, from, to)) // rx_bps of vm1's port
		tx2 := finite(rates(t, coll, port2, 1, from, to)) // tx_bps of vm2's port
		tx1 := finite(rates(t, coll, port1, 1, from, to))
		f1 := finite(rates(t, coll, flowKey(1), 0, from, to))
		f2 := finite(rates(t, coll, flowKey(2), 0, from, to))
		if len(rx1) < 3 || len(tx2) < 3 || len(f1) < 3 {
			t.Fatalf("%s: too few samples: rx1 %v tx2 %v flow %v", name, rx1, tx2, f1)
		}
		t.Logf("%s: sent %.2f Mbit/s; port %d rx %.2f, port %d tx %.2f (medians), flow in_port=%d %.2f (mean) Mbit/s",
			name, sent/1e6, vm1.OFPort, medianOf(rx1)/1e6, vm2.OFPort, medianOf(tx2)/1e6, vm1.OFPort, mean(f1)/1e6)
		if !within(medianOf(rx1), sent, 0.1) {
			t.Errorf("%s: port %d rx %v, want %.0f ±10%%", name, vm1.OFPort, rx1, sent)
		}
		if !within(medianOf(tx2), sent, 0.1) {
			t.Errorf("%s: port %d tx %v, want %.0f ±10%%", name, vm2.OFPort, tx2, sent)
		}
		if !within(mean(f1), sent, 0.1) {
			t.Errorf("%s: flow in_port=%d %v, want %.0f ±10%%", name, vm1.OFPort, f1, sent)
		}
		// the reverse direction carries at most a few ICMP errors
		if m := medianOf(tx1); m > 0.01*sent {
			t.Errorf("%s: port %d tx %v, want about 0", name, vm1.OFPort, tx1)
		}
		if m := medianOf(finite(f2)); len(f2) > 0 && m > 0.01*sent {
			t.Errorf("%s: flow in_port=%d %v, want about 0", name, vm2.OFPort, f2)
		}
	}
	next := func(kind string, limit time.Duration) alerts.Event {
		t.Helper()
		timeout := time.After(limit)
		for {
			select {
			case ev := <-events.C:
				if ev.Kind == kind {
					return ev
				}
				t.Fatalf("alert %s at %s, want %s", ev.Kind, ev.Time.Format("15:04:05.000"), kind)
			case <-timeout:
				t.Fatalf("no %s alert within %s; active %+v", kind, limit, eng.Active())
			}
		}
	}

	// Phase A: 30 Mbit/s for 7 s. The alert goes pending, then fires 2 s
	// later. Phase B, without a gap: 15 Mbit/s for 5 s, between the clear
	// (10M) and fire (20M) thresholds: the alert stays firing.
	start := time.Now()
	s := startSender(ctx, t, topo, vm1.Namespace, dst, segment{30e6, 7 * time.Second}, segment{15e6, 5 * time.Second})
	pending := next(alerts.StatePending, 5*time.Second)
	firing := next(alerts.StateFiring, 5*time.Second)
	if d := firing.Time.Sub(pending.Time); d < 2*time.Second || d > 4*time.Second {
		t.Errorf("pending at %s, firing at %s: want the 2s of `for` between", pending.Time, firing.Time)
	}
	// near the end of the 15 Mbit/s segment, still sending: firing, and
	// nothing happened since it fired
	time.Sleep(time.Until(start.Add(11500 * time.Millisecond)))
	if a := eng.Active(); len(a) != 1 || a[0].State != alerts.StateFiring || len(events.C) != 0 {
		t.Fatalf("after 4.5 s at 15 Mbit/s: active %+v, %d new events, history %+v", a, len(events.C), eng.History())
	}
	sent := s.wait(t)
	if len(sent) != 2 {
		t.Fatalf("sender: %v", sent)
	}
	checkPhase("30 Mbit/s", sent[0], start.Add(1500*time.Millisecond), start.Add(6500*time.Millisecond))
	checkPhase("15 Mbit/s", sent[1], start.Add(8500*time.Millisecond), start.Add(11500*time.Millisecond))

	// Phase C: silence; the alert resolves.
	resolved := next(alerts.StateResolved, 5*time.Second)
	if resolved.Alert.Rule != "vm2-busy" || resolved.Alert.Series != port2 {
		t.Fatalf("resolved %+v", resolved)
	}
	deadline = time.Now().Add(10 * time.Second)
	for len(hook.statuses("vm2-busy")) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("webhook got %v", hook.statuses("vm2-busy"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := hook.statuses("vm2-busy"); strings.Join(got, ",") != "firing,resolved" {
		t.Fatalf("webhook got %v, want firing then resolved", got)
	}

	// Phase D: 10 Mbit/s while the flow and then vm2's port are deleted
	// and re-added.
	resetsBefore := coll.Stats().Resets
	start = time.Now()
	s = startSender(ctx, t, topo, vm1.Namespace, dst, segment{10e6, 8 * time.Second})
	time.Sleep(2500 * time.Millisecond)
	del := flows[0]
	if err := sess.DeleteFlows(ctx, controller.FlowFilter{Table: 0, Strict: true, Priority: del.Priority, Match: del.Match,
		Cookie: uint64(del.Cookie), CookieMask: controller.CookieMaskAll}); err != nil {
		t.Fatal(err)
	}
	if err := sess.AddFlows(ctx, del); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	// two transactions, a poll apart: OVS reports the port deleted, then
	// added (in one transaction it would keep the port as it was)
	if out, err := topo.OVS(ctx, 1, "ovs-vsctl", "del-port", "br-int", vm2.Port); err != nil {
		t.Fatalf("deleting %s: %v %s", vm2.Port, err, out)
	}
	time.Sleep(1200 * time.Millisecond)
	portReadded := time.Now()
	if out, err := topo.OVS(ctx, 1, "ovs-vsctl", "add-port", "br-int", vm2.Port,
		"--", "set", "interface", vm2.Port, fmt.Sprintf("ofport_request=%d", vm2.OFPort)); err != nil {
		t.Fatalf("re-adding %s: %v %s", vm2.Port, err, out)
	}
	sentD := s.wait(t)[0]
	time.Sleep(1500 * time.Millisecond)
	end := time.Now()
	check := func(what string, v []float64) {
		for _, x := range v {
			if !math.IsNaN(x) && (x < 0 || x > 1.5*sentD) {
				t.Errorf("%s: rate %v among %v after a reset, want 0..%.0f", what, x, v, 1.5*sentD)
			}
		}
	}
	check("port "+port2+" tx", rates(t, coll, port2, 1, start, end))
	check("port "+port1+" rx", rates(t, coll, port1, 0, start, end))
	check("flow in_port=1", rates(t, coll, flowKey(1), 0, start, end))
	after := rates(t, coll, port2, 1, portReadded, end)
	if len(after) < 2 || !math.IsNaN(after[0]) || len(finite(after)) == 0 {
		t.Errorf("port %s re-added: samples %v, want the first without a rate (baseline dropped), then rates", port2, after)
	}
	if n := coll.Stats().Resets - resetsBefore; n == 0 {
		t.Errorf("no counter reset detected (the flow's counters restarted)")
	}
	t.Logf("resets detected in phase D: %d; port %d tx after re-add: %v", coll.Stats().Resets-resetsBefore, vm2.OFPort, after)
}

func u32(v uint32) *uint32 { return &v }

func th(v float64) *alerts.Threshold {
	x := alerts.Threshold(v)
	return &x
}
