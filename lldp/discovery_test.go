package lldp_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/internal/core"
	"github.com/satellite-sdn/satellite/internal/testenv"
	"github.com/satellite-sdn/satellite/lab"
	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/topology"
)

// TestMain lets the forged-LLDP test send raw frames from an endpoint's
// namespace (lab.SendFrame runs this binary there).
func TestMain(m *testing.M) {
	lab.ServeRawFrame()
	os.Exit(m.Run())
}

type env struct {
	ctl    *controller.Controller
	model  *topology.Model
	disc   *lldp.Discovery
	signer *lldp.Signer
	topo   *lab.Topology
	ctx    context.Context
}

func start(t *testing.T, cfg lab.Config, dcfg lldp.DiscoveryConfig) *env {
	t.Helper()
	signer := lldp.NewRandomSigner()
	sat := testenv.StartCore(t, testenv.CoreOptions{
		Configure: func(c *config.Config) {
			c.Discovery.ForgetDownAfter = 0 // a cut link leaves the model
			if dcfg.Interval > 0 {
				c.Discovery.Interval = config.Duration(dcfg.Interval)
			}
		},
		Options: core.Options{Signer: signer, Without: []string{"probes", "collector", "alerts", "journal", "exporters"},
			Tune: core.Tune{Discovery: func(c *lldp.DiscoveryConfig) {
				edge, log := c.EdgePort, c.Logger
				*c = dcfg // the test's discovery settings, as they are
				c.EdgePort, c.Logger = edge, log
			}}}})
	ctl, model, disc, ctx, sock := sat.Controller, sat.Model, sat.Discovery, sat.Context(), sat.Sock
	cfg.Controllers = []string{"unix:" + sock}
	topo := lab.Start(t, cfg)
	return &env{ctl: ctl, model: model, disc: disc, signer: signer, topo: topo, ctx: ctx}
}

// expectedLinks lists every directed link the lab should show: both
// directions of every direct link and of every tunnel.
func expectedLinks(topo *lab.Topology) map[string]string {
	want := map[string]string{}
	add := func(a, b lab.LinkEnd, kind string) {
		want[fmt.Sprintf("%s/%d>%s/%d", a.DPID, a.OFPort, b.DPID, b.OFPort)] = kind
		want[fmt.Sprintf("%s/%d>%s/%d", b.DPID, b.OFPort, a.DPID, a.OFPort)] = kind
	}
	for _, l := range topo.Links {
		add(l.A, l.B, topology.LinkDirect)
	}
	for _, tn := range topo.Tunnels {
		add(tn.A, tn.B, topology.LinkTunnel)
	}
	return want
}

func linkSet(m *topology.Model) map[string]string {
	got := map[string]string{}
	for _, l := range m.Links() {
		got[fmt.Sprintf("%s/%d>%s/%d", l.Src.DPID, l.Src.Port, l.Dst.DPID, l.Dst.Port)] = l.Kind
	}
	return got
}

func diffSets(want, got map[string]string) string {
	var missing, extra []string
	for k, v := range want {
		if got[k] != v {
			missing = append(missing, k+" "+v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k+" "+v)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return fmt.Sprintf("missing %v, unexpected %v", missing, extra)
}

// waitLinks waits until the model holds exactly want and returns how long it took.
func waitLinks(t *testing.T, m *topology.Model, want map[string]string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := linkSet(m)
		if len(got) == len(want) && diffSets(want, got) == "missing [], unexpected []" {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("links after %s: %s", limit, diffSets(want, got))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitSwitches(t *testing.T, e *env, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(e.ctl.Switches()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d switches connected", len(e.ctl.Switches()), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDiscoveryLineOfThree(t *testing.T) {
	interval := 500 * time.Millisecond
	e := start(t, lab.Config{Hosts: 3, Links: "chain"}, lldp.DiscoveryConfig{Interval: interval})
	waitSwitches(t, e, 3)
	want := expectedLinks(e.topo)
	if len(want) != 4+12 {
		t.Fatalf("lab describes %d directed links, want 4 direct + 12 tunnel", len(want))
	}
	took := waitLinks(t, e.model, want, 2*interval+interval/2)
	t.Logf("all %d links found %s after the last switch connected (interval %s)", len(want), took.Round(time.Millisecond), interval)

	t.Run("cutting a direct link removes it at the port-status", func(t *testing.T) {
		sub := e.model.Subscribe(e.model.Version(), 1024)
		defer sub.Close()
		if err := e.topo.CutLink(e.ctx, 1, 2); err != nil {
			t.Fatal(err)
		}
		cut := map[string]string{}
		for k, v := range want {
			cut[k] = v
		}
		delete(cut, "0000000000000001/102>0000000000000002/101")
		delete(cut, "0000000000000002/101>0000000000000001/102")
		waitLinks(t, e.model, cut, interval/2) // far less than the 3 missed probes expiry would take
		if err := e.topo.RestoreLink(e.ctx, 1, 2); err != nil {
			t.Fatal(err)
		}
		took := waitLinks(t, e.model, want, 2*interval+interval/2)
		t.Logf("restored link rediscovered after %s", took.Round(time.Millisecond))
	})

	t.Run("a link added at runtime is discovered", func(t *testing.T) {
		h1, h3 := e.topo.Host(1), e.topo.Host(3)
		mustRun(t, "ip", "link", "add", "lnk-x3", "netns", h1.Namespace, "type", "veth", "peer", "name", "lnk-x1", "netns", h3.Namespace)
		mustRun(t, "ip", "-n", h1.Namespace, "link", "set", "lnk-x3", "up")
		mustRun(t, "ip", "-n", h3.Namespace, "link", "set", "lnk-x1", "up")
		ovs(t, e, 1, "ovs-vsctl", "add-port", "br-int", "lnk-x3", "--", "set", "interface", "lnk-x3", "ofport_request=133")
		ovs(t, e, 3, "ovs-vsctl", "add-port", "br-int", "lnk-x1", "--", "set", "interface", "lnk-x1", "ofport_request=131")
		want["0000000000000001/133>0000000000000003/131"] = topology.LinkDirect
		want["0000000000000003/131>0000000000000001/133"] = topology.LinkDirect
		took := waitLinks(t, e.model, want, 3*interval)
		t.Logf("runtime link discovered after %s", took.Round(time.Millisecond))
	})

	t.Run("a link that loses one direction becomes unidirectional", func(t *testing.T) {
		// h2 stops passing LLDP that arrives on lnk-h1 to the controller
		ovs(t, e, 2, "ovs-ofctl", "-O", "OpenFlow13", "add-flow", "br-int", "table=0,priority=65534,dl_type=0x88cc,actions=CONTROLLER:65535")
		ovs(t, e, 2, "ovs-ofctl", "-O", "OpenFlow13", "del-flows", "br-int", fmt.Sprintf("cookie=0x%x/-1", uint64(controller.NewCookie(controller.OwnerDiscovery, 0, topology.CookieLLDP))))
		ovs(t, e, 2, "ovs-ofctl", "-O", "OpenFlow13", "add-flow", "br-int", "table=0,priority=65535,in_port=101,dl_type=0x88cc,actions=drop")
		lost := "0000000000000001/102>0000000000000002/101"
		start := time.Now()
		for {
			var rev *topology.Link
			for _, l := range e.model.Links() {
				if l.Src.DPID == 2 && l.Src.Port == 101 && l.Dst.DPID == 1 {
					rev = &l
				}
			}
			if _, still := linkSet(e.model)[lost]; !still && rev != nil && rev.Unidirectional {
				break
			}
			if time.Since(start) > time.Duration(e.disc.Config().Misses+2)*interval {
				t.Fatalf("after %s: links %v", time.Since(start), linkSet(e.model))
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("one-way loss detected after %s (3 missed probes)", time.Since(start).Round(time.Millisecond))
		ovs(t, e, 2, "ovs-ofctl", "-O", "OpenFlow13", "del-flows", "br-int", "table=0,in_port=101,dl_type=0x88cc")
		waitLinks(t, e.model, want, 3*interval)
	})

	t.Run("endpoints become hosts and a moved endpoint is reported", func(t *testing.T) {
		h1 := e.topo.Host(1)
		vm1, vm2 := h1.Endpoints[0], h1.Endpoints[1]
		// ARP from both endpoints reaches the controller through the ingress flows
		e.topo.Exec(e.ctx, vm1.Namespace, "ping", "-c", "1", "-W", "1", vm2.IP)
		e.topo.Exec(e.ctx, vm2.Namespace, "ping", "-c", "1", "-W", "1", vm1.IP)
		waitHost(t, e.model, vm1.MAC, 1, uint32(vm1.OFPort), vm1.IP)
		waitHost(t, e.model, vm2.MAC, 1, uint32(vm2.OFPort), vm2.IP)
		for _, h := range e.model.Hosts() {
			if h.Port > 100 {
				t.Fatalf("host learned on a switch-to-switch port: %+v", h)
			}
		}
		// move vm2's cable from h1's bridge to h3's
		h3 := e.topo.Host(3)
		ovs(t, e, 1, "ovs-vsctl", "del-port", "br-int", vm2.Port)
		mustRun(t, "ip", "-n", h1.Namespace, "link", "set", vm2.Port, "down")
		mustRun(t, "ip", "-n", h1.Namespace, "link", "set", vm2.Port, "name", "moved0")
		mustRun(t, "ip", "-n", h1.Namespace, "link", "set", "moved0", "netns", h3.Namespace)
		mustRun(t, "ip", "-n", h3.Namespace, "link", "set", "moved0", "up")
		ovs(t, e, 3, "ovs-vsctl", "add-port", "br-int", "moved0", "--", "set", "interface", "moved0", "ofport_request=50")
		deadline := time.Now().Add(10 * time.Second)
		for {
			e.topo.Exec(e.ctx, vm2.Namespace, "ping", "-c", "1", "-W", "1", "10.0.3.1")
			if h := host(e.model, vm2.MAC); h != nil && h.DPID == 3 && h.Port == 50 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("host %s not seen on h3 port 50: %+v", vm2.MAC, host(e.model, vm2.MAC))
			}
		}
		found := false
		for _, ev := range e.model.Events() {
			if ev.Kind == "host-move" && strings.Contains(ev.Message, vm2.MAC) {
				found = true
			}
		}
		if !found {
			t.Fatalf("no host-move event: %+v", e.model.Events())
		}
	})

	t.Run("a switch stalled for 3 s delays probes: no replay, no stale frame, same session", func(t *testing.T) {
		// The probes h1 sends to h2 while h2's ovs-vswitchd is stopped reach
		// the controller seconds late, when it runs again. Late is not
		// replayed: a 2 s age limit used to call them replays. Nor is a
		// stalled switch dead: its session survives the stall (the
		// keepalive's default dead time is 10 s).
		before := e.disc.Stats()
		events := len(e.model.Events())
		sess := e.ctl.Switch(e.topo.Host(2).DatapathID)
		if sess == nil {
			t.Fatal("h2 not connected")
		}
		pid := vswitchdPID(t, e, 2)
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * interval)
		select {
		case <-sess.Done():
			t.Fatal("h2's session was dropped by a 3 s stall")
		default:
		}
		if now := e.ctl.Switch(e.topo.Host(2).DatapathID); now != sess {
			t.Fatalf("h2's session was replaced during the stall")
		}
		after := e.disc.Stats()
		if after.Replayed != before.Replayed || after.Stale != before.Stale {
			t.Fatalf("delayed probes rejected: replayed %d -> %d, stale %d -> %d", before.Replayed, after.Replayed, before.Stale, after.Stale)
		}
		for _, ev := range e.model.Events()[events:] {
			if strings.HasPrefix(ev.Kind, "lldp-") {
				t.Fatalf("security event for delayed probes: %+v", ev)
			}
		}
		if after.Accepted <= before.Accepted {
			t.Fatalf("no probe accepted after the stall: %+v", after)
		}
		waitLinks(t, e.model, want, 4*interval)
	})

	t.Run("forged, replayed and stale LLDP from an endpoint create no link", func(t *testing.T) {
		h2 := e.topo.Host(2)
		vm := h2.Endpoints[0]
		before := linkSet(e.model)
		// forged: claims to come from h1's lnk-h2, signed with another secret
		other := lldp.NewRandomSigner()
		forged, err := other.Encode(lldp.Probe{DPID: 1, Port: 102}, mustMAC(vm.MAC), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		sendFrom(t, e, vm.Namespace, forged)
		waitEvent(t, e.model, "lldp-forged", 2, uint32(vm.OFPort))
		// replayed: a genuine probe captured as it crossed lnk-h1 into h2
		// and sent again from an endpoint at once, well inside max_age
		captured := captureProbe(t, e, 2, 101)
		sendFrom(t, e, vm.Namespace, captured)
		waitEvent(t, e.model, "lldp-replayed", 2, uint32(vm.OFPort))
		// stale: a genuine frame that was never received, sent after max_age
		old, err := e.signer.Encode(lldp.Probe{DPID: 1, Port: 102, Sent: time.Now().Add(-e.disc.Config().MaxAge - time.Second)}, mustMAC(vm.MAC), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		sendFrom(t, e, vm.Namespace, old)
		waitEvent(t, e.model, "lldp-stale", 2, uint32(vm.OFPort))
		if d := diffSets(before, linkSet(e.model)); d != "missing [], unexpected []" {
			t.Fatalf("links changed: %s", d)
		}
		st := e.disc.Stats()
		if st.BadSignature == 0 || st.Replayed == 0 || st.Stale == 0 {
			t.Fatalf("counters %+v", st)
		}
	})
}

// captureProbe returns an LLDP frame as the controller received it on
// dpid/port: what a tap on that link would have recorded.
func captureProbe(t *testing.T, e *env, dpid uint64, port uint32) []byte {
	t.Helper()
	sub := e.ctl.Bus().Subscribe(1024, controller.PacketIn)
	defer sub.Close()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-sub.C:
			d := ev.PacketIn.Data
			if ev.DPID == dpid && ev.PacketIn.InPort() == port && len(d) > 14 && d[12] == 0x88 && d[13] == 0xcc {
				return append([]byte(nil), d...)
			}
		case <-timeout:
			t.Fatalf("no LLDP probe received on %016x/%d in 5 s", dpid, port)
		}
	}
}

func vswitchdPID(t *testing.T, e *env, host int) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.topo.Config.HostDir(host), "ovs-vswitchd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestDiscoveryRingOfFour(t *testing.T) {
	interval := 500 * time.Millisecond
	e := start(t, lab.Config{Hosts: 4, Links: "ring", VMs: -1}, lldp.DiscoveryConfig{Interval: interval})
	waitSwitches(t, e, 4)
	want := expectedLinks(e.topo)
	if len(want) != 8+24 {
		t.Fatalf("lab describes %d directed links, want 8 direct + 24 tunnel", len(want))
	}
	took := waitLinks(t, e.model, want, 2*interval+interval/2)
	t.Logf("ring of 4: all %d links found after %s", len(want), took.Round(time.Millisecond))
	for _, l := range e.model.Links() {
		if l.Unidirectional || l.State != topology.LinkUp || l.LatencyMs < 0 {
			t.Fatalf("link %+v", l)
		}
	}
}

// On real Open vSwitch, with the interval of a second and the steady
// interval of three that `satellite serve` uses: the links are found
// when the switches connect and a restored link when its ports come up,
// not on the probe schedule (which would take up to an interval, or a
// steady interval for ports that had settled).
func TestDiscoveryReactsAtOnce(t *testing.T) {
	interval := time.Second
	e := start(t, lab.Config{Hosts: 2, Links: "chain", VMs: -1}, lldp.DiscoveryConfig{Interval: interval, SteadyInterval: 3 * interval})
	waitSwitches(t, e, 2)
	want := expectedLinks(e.topo)
	took := waitLinks(t, e.model, want, interval/2)
	t.Logf("all %d links found %s after both switches connected", len(want), took.Round(time.Millisecond))

	time.Sleep(time.Duration(e.disc.Config().Misses)*interval + interval/2) // the ports have settled
	if err := e.topo.CutLink(e.ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	cut := map[string]string{}
	for k, v := range want {
		cut[k] = v
	}
	delete(cut, "0000000000000001/102>0000000000000002/101")
	delete(cut, "0000000000000002/101>0000000000000001/102")
	waitLinks(t, e.model, cut, interval/2)
	before := e.disc.Stats().Immediate
	start := time.Now()
	if err := e.topo.RestoreLink(e.ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	waitLinks(t, e.model, want, interval/2)
	t.Logf("restored link rediscovered %s after its ports were set up (interval %s, steady %s)",
		time.Since(start).Round(time.Millisecond), interval, e.disc.Config().SteadyInterval)
	if after := e.disc.Stats().Immediate; after < before+2 {
		t.Fatalf("immediate probes %d -> %d: the ports that came up were not probed at once", before, after)
	}
}

func mustRun(t *testing.T, args ...string) {
	t.Helper()
	out, err := execCommand(args...)
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

func ovs(t *testing.T, e *env, host int, args ...string) {
	t.Helper()
	if out, err := e.topo.OVS(e.ctx, host, args[0], args[1:]...); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

func host(m *topology.Model, mac string) *topology.Host {
	for _, h := range m.Hosts() {
		if h.MAC == mac {
			return &h
		}
	}
	return nil
}

func waitHost(t *testing.T, m *topology.Model, mac string, dpid topology.DPID, port uint32, ip string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h := host(m, mac)
		if h != nil && h.DPID == dpid && h.Port == port && len(h.IPs) > 0 && h.IPs[0] == ip {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("host %s: %+v, want dpid %s port %d ip %s", mac, h, dpid, port, ip)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitEvent(t *testing.T, m *topology.Model, kind string, dpid topology.DPID, port uint32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, ev := range m.Events() {
			if ev.Kind == kind && ev.DPID == dpid && ev.Port == port {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s event for %s/%d: %+v", kind, dpid, port, m.Events())
}

func sendFrom(t *testing.T, e *env, netns string, frame []byte) {
	t.Helper()
	if err := e.topo.SendFrame(e.ctx, netns, "eth0", frame); err != nil {
		t.Fatal(err)
	}
}

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func execCommand(args ...string) ([]byte, error) {
	return exec.Command(args[0], args[1:]...).CombinedOutput()
}
