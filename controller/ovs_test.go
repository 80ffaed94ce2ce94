package controller_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/lab"
)

// TestOVS runs the controller against a real three-host Open vSwitch lab.
// The subtests share one lab and run in order.
func TestOVS(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "of.sock")
	logs := &logBuffer{}
	ctl := controller.New(controller.Config{
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(logs), &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	ln, err := controller.Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); ctl.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-served
		if t.Failed() {
			t.Logf("controller log (tail):\n%s", tail(logs.String(), 60))
		}
	})
	events := ctl.Bus().Subscribe(4096)
	defer events.Close()

	topo := lab.Start(t, lab.Config{Hosts: 3, Controllers: []string{"unix:" + sock}})

	t.Run("every bridge connects with its dpid and ports", func(t *testing.T) {
		for _, h := range topo.Hosts {
			s := waitFor(t, 20*time.Second, func() *controller.Session { return ctl.Switch(h.DatapathID) })
			got := map[string]uint32{}
			for _, p := range s.Ports() {
				got[p.Name] = p.No
			}
			for _, p := range h.Ports {
				if no, ok := got[p.Name]; !ok || no != uint32(p.OFPort) {
					t.Errorf("%s: port %s: controller has ofport %d (present %v), lab says %d", h.Name, p.Name, no, ok, p.OFPort)
				}
			}
			if got["br-int"] != 0xfffffffe {
				t.Errorf("%s: LOCAL port br-int missing: %v", h.Name, got)
			}
			if !strings.Contains(s.Desc().Manufacturer, "Nicira") && !strings.Contains(s.Desc().Software, ".") {
				t.Errorf("%s: switch description %+v", h.Name, s.Desc())
			}
		}
		if n := len(ctl.Switches()); n != 3 {
			t.Fatalf("%d switches connected, want 3", n)
		}
	})

	h1 := topo.Host(1)
	s1 := ctl.Switch(h1.DatapathID)
	if s1 == nil {
		t.Fatal("h1 not connected")
	}
	ovs := func(t *testing.T, host int, args ...string) string {
		t.Helper()
		out, err := topo.OVS(ctx, host, args[0], args[1:]...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	t.Run("flow appears in ovs-ofctl with its cookie", func(t *testing.T) {
		f, err := controller.ParseFlow("table=0,priority=1234,ip,nw_dst=192.0.2.0/24,actions=drop")
		if err != nil {
			t.Fatal(err)
		}
		f.Cookie = controller.NewCookie(controller.OwnerAPI, 7, 42)
		if err := s1.AddFlows(ctx, f); err != nil {
			t.Fatal(err)
		}
		dump := ovs(t, 1, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int")
		want := fmt.Sprintf("cookie=0x%x", uint64(f.Cookie))
		if !strings.Contains(dump, want) || !strings.Contains(dump, "priority=1234") || !strings.Contains(dump, "nw_dst=192.0.2.0/24") {
			t.Fatalf("dump-flows lacks %s priority=1234 nw_dst=192.0.2.0/24:\n%s", want, dump)
		}
	})

	t.Run("port and flow stats match ovs-ofctl after traffic", func(t *testing.T) {
		var flows []controller.Flow
		for _, spec := range []string{"priority=100,in_port=1,actions=output:2", "priority=100,in_port=2,actions=output:1"} {
			f, err := controller.ParseFlow(spec)
			if err != nil {
				t.Fatal(err)
			}
			f.Cookie = controller.NewCookie(controller.OwnerAPI, 0, 100)
			flows = append(flows, f)
		}
		if err := s1.AddFlows(ctx, flows...); err != nil {
			t.Fatal(err)
		}
		vm1, vm2 := h1.Endpoints[0], h1.Endpoints[1]
		out, err := topo.Exec(ctx, vm1.Namespace, "ping", "-c", "20", "-i", "0.05", "-W", "1", vm2.IP)
		if err != nil {
			t.Fatalf("ping %s -> %s: %v\n%s", vm1.Name, vm2.Name, err, out)
		}
		time.Sleep(1500 * time.Millisecond) // OVS refreshes flow counters about once a second

		ports, err := s1.PortStats(ctx, controller.PortAny)
		if err != nil {
			t.Fatal(err)
		}
		dump := ovs(t, 1, "ovs-ofctl", "-O", "OpenFlow13", "dump-ports", "br-int")
		for _, ps := range ports {
			if ps.PortNo != 1 && ps.PortNo != 2 {
				continue
			}
			rx, tx := ofctlPortCounters(t, dump, ps.PortNo)
			if ps.RxPackets != rx[0] || ps.RxBytes != rx[1] || ps.TxPackets != tx[0] || ps.TxBytes != tx[1] {
				t.Errorf("port %d: session rx=%d/%d tx=%d/%d, ovs-ofctl rx=%v tx=%v", ps.PortNo, ps.RxPackets, ps.RxBytes, ps.TxPackets, ps.TxBytes, rx, tx)
			}
			if ps.RxPackets < 20 {
				t.Errorf("port %d saw %d packets, the ping sent 20 each way", ps.PortNo, ps.RxPackets)
			}
		}
		fstats, err := s1.FlowStats(ctx, controller.FlowFilter{Table: controller.TableAll, Cookie: uint64(flows[0].Cookie), CookieMask: controller.CookieMaskAll})
		if err != nil {
			t.Fatal(err)
		}
		fdump := ovs(t, 1, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int", fmt.Sprintf("cookie=0x%x/-1", uint64(flows[0].Cookie)))
		if len(fstats) != 2 {
			t.Fatalf("%d flows with the cookie, want 2", len(fstats))
		}
		for _, fs := range fstats {
			m := controller.FormatMatch(fs.Match)
			re := regexp.MustCompile(`n_packets=(\d+), n_bytes=(\d+),.*` + regexp.QuoteMeta(m) + ` `)
			sm := re.FindStringSubmatch(fdump)
			if sm == nil {
				t.Fatalf("flow %s not in dump:\n%s", m, fdump)
			}
			if strconv.FormatUint(fs.PacketCount, 10) != sm[1] || strconv.FormatUint(fs.ByteCount, 10) != sm[2] {
				t.Errorf("flow %s: session %d/%d, ovs-ofctl %s/%s", m, fs.PacketCount, fs.ByteCount, sm[1], sm[2])
			}
			if fs.PacketCount < 20 {
				t.Errorf("flow %s counted %d packets", m, fs.PacketCount)
			}
		}
	})

	t.Run("multipart reply of thousands of flows is reassembled", func(t *testing.T) {
		const n = 4000
		flows := make([]controller.Flow, n)
		for i := range flows {
			f, err := controller.ParseFlow(fmt.Sprintf("table=5,priority=10,ip,nw_src=10.%d.%d.%d,actions=drop", 200+i/65536, i/256%256, i%256))
			if err != nil {
				t.Fatal(err)
			}
			f.Cookie = controller.NewCookie(controller.OwnerAPI, 9, uint32(i))
			flows[i] = f
		}
		if err := s1.AddFlows(ctx, flows...); err != nil {
			t.Fatal(err)
		}
		got, err := s1.FlowStats(ctx, controller.FlowFilter{Table: 5})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("flow stats returned %d flows, OVS holds %d", len(got), n)
		}
		agg := ovs(t, 1, "ovs-ofctl", "-O", "OpenFlow13", "dump-aggregate", "br-int", "table=5")
		if !strings.Contains(agg, fmt.Sprintf("flow_count=%d", n)) {
			t.Fatalf("ovs-ofctl dump-aggregate: %s", agg)
		}
		if err := s1.DeleteFlows(ctx, controller.OwnedBy(controller.OwnerAPI, 9)); err != nil {
			t.Fatal(err)
		}
		agg = ovs(t, 1, "ovs-ofctl", "-O", "OpenFlow13", "dump-aggregate", "br-int", "table=5")
		if !strings.Contains(agg, "flow_count=0") {
			t.Fatalf("delete by cookie left flows: %s", agg)
		}
	})

	t.Run("role request and group buckets", func(t *testing.T) {
		r, err := s1.SetRole(ctx, controller.RoleMaster, 1)
		if err != nil {
			t.Fatal(err)
		}
		if r.Role != controller.RoleMaster {
			t.Fatalf("role reply %+v", r)
		}
		g := controller.Group{ID: 42, Type: controller.GroupFastFailover, Buckets: []ofwire.Bucket{
			{WatchPort: 202, Actions: ofp.Actions{&ofp.ActionOutput{Port: 202}}},
			{WatchPort: 302, Actions: ofp.Actions{&ofp.ActionOutput{Port: 302}}},
		}}
		if err := s1.AddGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		gd, err := s1.GroupDesc(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(gd) != 1 || len(gd[0].Buckets) != 2 || gd[0].Buckets[1].WatchPort != 302 || controller.FormatActions(gd[0].Buckets[1].Actions) != "output:302" {
			t.Fatalf("group desc from OVS: %+v", gd)
		}
		if err := s1.DeleteGroup(ctx, 42); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("port added with ovs-vsctl produces a port-add event", func(t *testing.T) {
		ovs(t, 1, "ovs-vsctl", "add-port", "br-int", "tp0", "--", "set", "interface", "tp0", "type=internal", "ofport_request=77")
		e := waitEvent(t, events, 10*time.Second, func(e controller.Event) bool {
			return e.Kind == controller.PortAdd && e.DPID == h1.DatapathID && e.Port.Name == "tp0"
		})
		if e.Port.No != 77 {
			t.Fatalf("port-add for tp0 with number %d", e.Port.No)
		}
		if _, ok := s1.Port(77); !ok {
			t.Fatal("session's port table lacks tp0")
		}
		ovs(t, 1, "ovs-vsctl", "del-port", "br-int", "tp0")
		waitEvent(t, events, 10*time.Second, func(e controller.Event) bool {
			return e.Kind == controller.PortDelete && e.DPID == h1.DatapathID && e.Port.No == 77
		})
	})

	t.Run("a rogue connection with a live dpid gets nothing and the direct link loses no pings", func(t *testing.T) {
		h2 := topo.Host(2)
		s2 := ctl.Switch(h2.DatapathID)
		var f1, f2 []controller.Flow
		cookie := controller.NewCookie(controller.OwnerAPI, 3, 13)
		for _, spec := range []string{
			fmt.Sprintf("priority=200,in_port=%d,actions=output:%d", lab.VMOFPort(1), lab.LinkOFPort(2)),
			fmt.Sprintf("priority=200,in_port=%d,actions=output:%d", lab.LinkOFPort(2), lab.VMOFPort(1)),
		} {
			f, _ := controller.ParseFlow(spec)
			f.Cookie = cookie
			f1 = append(f1, f)
		}
		for _, spec := range []string{
			fmt.Sprintf("priority=200,in_port=%d,actions=output:%d", lab.VMOFPort(1), lab.LinkOFPort(1)),
			fmt.Sprintf("priority=200,in_port=%d,actions=output:%d", lab.LinkOFPort(1), lab.VMOFPort(1)),
		} {
			f, _ := controller.ParseFlow(spec)
			f.Cookie = cookie
			f2 = append(f2, f)
		}
		if err := s1.AddFlows(ctx, f1...); err != nil {
			t.Fatal(err)
		}
		if err := s2.AddFlows(ctx, f2...); err != nil {
			t.Fatal(err)
		}
		defer s1.DeleteFlows(ctx, controller.OwnedBy(controller.OwnerAPI, 3))
		defer s2.DeleteFlows(ctx, controller.OwnedBy(controller.OwnerAPI, 3))
		before := ctl.SecurityStats()
		type pingResult struct {
			out []byte
			err error
		}
		pinged := make(chan pingResult, 1)
		go func() {
			out, err := topo.Exec(ctx, h1.Endpoints[0].Namespace, "ping", "-c", "100", "-i", "0.03", "-W", "1", h2.Endpoints[0].IP)
			pinged <- pingResult{out, err}
		}()
		const attempts = 15
		var rogueFlowMods uint64
		for i := 0; i < attempts; i++ {
			rogue := switchemu.New(switchemu.Config{DPID: h1.DatapathID, Ports: 4})
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
			err := rogue.Dial(rctx, "unix", sock)
			timedOut := rctx.Err() != nil
			rcancel()
			if timedOut {
				t.Fatalf("rogue %d was not disconnected within 5s (%v)", i, err)
			}
			rogueFlowMods += rogue.FlowMods.Load()
			time.Sleep(150 * time.Millisecond)
		}
		res := <-pinged
		if res.err != nil {
			t.Fatalf("ping over the direct link: %v\n%s", res.err, res.out)
		}
		m := regexp.MustCompile(`(\d+) received, ([\d.]+)% packet loss`).FindStringSubmatch(string(res.out))
		if m == nil {
			t.Fatalf("ping output:\n%s", res.out)
		}
		after := ctl.SecurityStats()
		t.Logf("%d rogue HELLO+FEATURES_REPLY with h1's dpid during 100 pings h1-vm1 -> h2-vm1 over the direct link: %s%% loss, %d refused as switch-conflict, %d flow-mods to the rogue",
			attempts, m[2], after.Conflicts-before.Conflicts, rogueFlowMods)
		if m[2] != "0" {
			t.Errorf("the direct link lost %s%% of its pings during the rogue connections", m[2])
		}
		if after.Conflicts-before.Conflicts != attempts || after.Takeovers != before.Takeovers {
			t.Errorf("security stats before %+v after %+v", before, after)
		}
		if rogueFlowMods != 0 {
			t.Errorf("the rogue sessions received %d flow-mods", rogueFlowMods)
		}
		if ctl.Switch(h1.DatapathID) != s1 || s1.Barrier(ctx) != nil {
			t.Fatal("h1's real session was replaced or disturbed")
		}
		e := waitEvent(t, events, 5*time.Second, func(e controller.Event) bool {
			return e.Kind == controller.Security && e.Security.Kind == controller.SecSwitchConflict && e.DPID == h1.DatapathID
		})
		t.Logf("security event: %s", e.Reason)
		dump := ovs(t, 1, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int", fmt.Sprintf("cookie=0x%x/-1", uint64(cookie)))
		if strings.Count(dump, "priority=200") != 2 {
			t.Fatalf("h1 lost its flows:\n%s", dump)
		}
	})

	t.Run("a frozen switch is detected by keepalive and reconnects", func(t *testing.T) {
		h2 := topo.Host(2)
		if err := syscall.Kill(h2.VSwitchdPID, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		e := waitEvent(t, events, 20*time.Second, func(e controller.Event) bool {
			return e.Kind == controller.SwitchDown && e.DPID == h2.DatapathID
		})
		took := time.Since(start)
		// budget: the default 10 missed echoes at 1 s, plus slack; and
		// not before: a switch stalled for less is slow, not dead
		if !strings.Contains(e.Reason, "keepalive") || took > 13*time.Second || took < 9*time.Second {
			t.Fatalf("switch-down after %s with reason %q", took, e.Reason)
		}
		t.Logf("frozen ovs-vswitchd detected after %s", took.Round(time.Millisecond))
		// KillSwitch waits until the process is gone, so StartHost cannot
		// mistake the dying daemon for a running one
		if err := topo.KillSwitch(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if err := topo.StartHost(ctx, 2); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, events, 20*time.Second, func(e controller.Event) bool {
			return e.Kind == controller.SwitchUp && e.DPID == h2.DatapathID
		})
		s2 := ctl.Switch(h2.DatapathID)
		if s2 == nil || s2.Barrier(ctx) != nil {
			t.Fatal("h2's new session does not answer")
		}
		if s1.Barrier(ctx) != nil || ctl.Switch(topo.Host(3).DatapathID).Barrier(ctx) != nil {
			t.Fatal("the other switches were disturbed")
		}
	})
}

func waitFor[T comparable](t *testing.T, d time.Duration, f func() T) T {
	t.Helper()
	var zero T
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if v := f(); v != zero {
			return v
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("condition not met within %s", d)
	return zero
}

func waitEvent(t *testing.T, sub *controller.Subscription, d time.Duration, match func(controller.Event) bool) controller.Event {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e := <-sub.C:
			if match(e) {
				return e
			}
		case <-timeout:
			t.Fatalf("expected event not seen within %s", d)
		}
	}
}

// ofctlPortCounters parses "port  N: rx pkts=.., bytes=.. ... tx pkts=.., bytes=.." from dump-ports.
func ofctlPortCounters(t *testing.T, dump string, port uint32) (rx, tx [2]uint64) {
	t.Helper()
	re := regexp.MustCompile(`(?s)port\s+` + strconv.Itoa(int(port)) + `: rx pkts=(\d+), bytes=(\d+).*?tx pkts=(\d+), bytes=(\d+)`)
	m := re.FindStringSubmatch(dump)
	if m == nil {
		t.Fatalf("port %d not in dump-ports:\n%s", port, dump)
	}
	n := func(s string) uint64 { v, _ := strconv.ParseUint(s, 10, 64); return v }
	return [2]uint64{n(m[1]), n(m[2])}, [2]uint64{n(m[3]), n(m[4])}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var _ = os.Getenv
