package vnet_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/lab"
	"github.com/satellite-sdn/satellite/vnet"
)

// serve starts a one-shot TCP server in an endpoint (busybox nc) that
// answers every connection with word; the returned function stops it.
func (e *env) serve(host, vm int, port, word string) func() {
	e.t.Helper()
	cmd, err := e.topo.ExecCommand(e.ctx, e.ep(host, vm).Namespace, "busybox", "nc", "-ll", "-p", port, "-e", "/bin/echo", word)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	return func() { cmd.Process.Kill(); cmd.Wait() }
}

// connect opens a TCP connection from an endpoint and returns what the
// server said ("" when no connection was made within 2 s).
func (e *env) connect(host, vm int, ip, port string) string {
	ctx, cancel := context.WithTimeout(e.ctx, 4*time.Second)
	defer cancel()
	cmd, err := e.topo.ExecCommand(ctx, e.ep(host, vm).Namespace, "busybox", "nc", "-w", "2", ip, port)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd.Stdin = strings.NewReader("")
	out, _ := cmd.Output()
	return strings.TrimSpace(string(out))
}

// TestExternalNetworkOnOVS: an "outside" endpoint (h1-vm1, the port of the
// external network ext1 on the gateway h1) stands in for the internet.
// net1 and net2 (behind r1) and net3 (behind r2, the same subnet as net1)
// reach it through SNAT, each router from its own gateway address; a
// floating IP makes a net1 VM reachable from the outside and is its
// source address; deleting it cuts it. The routers answer ping on all
// their addresses and send time exceeded and unreachable, so traceroute
// shows their hop. a1 and b1 are on h2, which reaches the gateway over
// GRE, and still does when one underlay path is cut.
func TestExternalNetworkOnOVS(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "of.sock")
	sat := startSatelliteFull(t, sock, dir)
	defer sat.stop()
	e := &env{t: t, ctx: context.Background(), ctl: sat.ctl, mgr: sat.mgr, sock: sock, dir: dir}
	// BFD on the tunnels: the fast-failover groups skip a cut path
	e.topo = lab.Start(t, lab.Config{Hosts: 2, BFD: true, BFDIntervalMS: 100, Controllers: []string{"unix:" + sock}})
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Fatal("busybox (nc, traceroute) is needed: apt-get install busybox")
	}
	h1, h2 := e.topo.Host(1), e.topo.Host(2)
	cfg := labConfig(e.topo)
	cfg.Datapaths[1].Segment = "b" // h2 reaches the gateway over GRE
	cfg.Networks = []vnet.Network{
		{Name: "ext1", Subnet: "10.99.0.0/24", Kind: vnet.KindExternal, Datapath: h1.Name, Port: h1.Endpoints[0].Port},
		{Name: "net1", Subnet: "10.1.0.0/24", Gateway: "10.1.0.1"},
		{Name: "net2", Subnet: "10.2.0.0/24", Gateway: "10.2.0.1"},
		{Name: "net3", Subnet: "10.1.0.0/24", Gateway: "10.1.0.1"},
	}
	cfg.Interfaces = []vnet.Interface{
		vif("a1", "net1", h2, 1, "10.1.0.11"),
		vif("b1", "net2", h2, 2, "10.2.0.12"),
		vif("c1", "net3", h1, 2, "10.1.0.11"), // the same address as a1, on the gateway host
	}
	cfg.Routers = []vnet.Router{
		{Name: "r1", Interfaces: []vnet.RouterInterface{{Network: "net1"}, {Network: "net2"}, {Network: "ext1", IP: "10.99.0.1"}}},
		{Name: "r2", Interfaces: []vnet.RouterInterface{{Network: "net3"}, {Network: "ext1", IP: "10.99.0.2"}}},
	}
	if _, err := e.mgr.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	e.readdress(1, 1, "10.99.0.100/24") // the outside: no route to the tenants
	for _, vm := range []struct {
		h, v     int
		cidr, gw string
	}{{2, 1, "10.1.0.11/24", "10.1.0.1"}, {2, 2, "10.2.0.12/24", "10.2.0.1"}, {1, 2, "10.1.0.11/24", "10.1.0.1"}} {
		e.readdress(vm.h, vm.v, vm.cidr)
		e.run(e.ep(vm.h, vm.v).Namespace, "ip", "route", "replace", "default", "via", vm.gw, "dev", "eth0", "onlink")
	}
	waitConverged(t, e.mgr, 2)
	if dpid, _ := vnet.ParseDPID(h1.DPID); !e.mgr.InterfacePort(dpid, uint32(h1.Endpoints[0].OFPort)) {
		t.Fatal("the external port is not an edge port: discovery would send LLDP to the outside")
	}

	// SNAT: each router's tenants leave from its gateway address
	for _, c := range []struct {
		h, v int
		from string
	}{{2, 1, "10.99.0.1"}, {1, 2, "10.99.0.2"}, {2, 2, "10.99.0.1"}} {
		stop := e.captureFilter(1, 1, "icmp")
		e.mustPing(c.h, c.v, "10.99.0.100")
		seen := stop()
		if !strings.Contains(seen, c.from+" > 10.99.0.100: ICMP echo request") || strings.Contains(seen, "10.1.0.11 >") || strings.Contains(seen, "10.2.0.12 >") {
			t.Fatalf("h%d-vm%d: the outside should see pings from %s only:\n%s", c.h, c.v, c.from, seen)
		}
	}
	stopSrv := e.serve(1, 1, "7001", "outside")
	if got := e.connect(2, 1, "10.99.0.100", "7001"); got != "outside" {
		t.Fatalf("a1's TCP connection to the outside through SNAT: got %q", got)
	}
	stopSrv()
	// the outside pings the gateway (the router answers) but cannot open
	// a connection to what is behind it
	if out, err := e.ping(1, 1, "10.99.0.1"); err != nil {
		t.Fatalf("the outside cannot ping r1's gateway address: %v\n%s", err, out)
	}
	stopSrv = e.serve(2, 1, "7002", "inside")
	if got := e.connect(1, 1, "10.99.0.1", "7002"); got != "" {
		t.Fatalf("the outside opened a connection through SNAT: %q", got)
	}

	// a floating IP: the outside reaches a1 at 10.99.0.50 (ping and TCP)
	// and sees a1's own connections come from it
	if _, err := e.mgr.Update(func(c *vnet.Config) error {
		c.FloatingIPs = append(c.FloatingIPs, vnet.FloatingIP{Network: "ext1", IP: "10.99.0.50", Interface: "a1"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitReconciled(t, e.mgr)
	stopIn := e.captureFilter(2, 1, "icmp")
	stopOut := e.captureFilter(1, 1, "icmp")
	e.mustPing(1, 1, "10.99.0.50")
	in, out := stopIn(), stopOut()
	if !strings.Contains(in, "10.99.0.100 > 10.1.0.11: ICMP echo request") {
		t.Fatalf("a1 should see the outside's pings to its floating IP:\n%s", in)
	}
	if !strings.Contains(out, "10.99.0.50 > 10.99.0.100: ICMP echo reply") {
		t.Fatalf("the outside should see replies from the floating IP:\n%s", out)
	}
	// the counters (the switch pushes datapath counters to its flows
	// within a second or so)
	waitFor(t, "the floating IP's counters to count 3 pings each way", 5*time.Second, func() bool {
		st, err := e.mgr.FloatingIPStats(e.ctx, "10.99.0.50")
		return err == nil && st.InPackets >= 3 && st.OutPackets >= 3 && st.InBytes >= 3*84 && st.OutBytes >= 3*84
	})
	if got := e.connect(1, 1, "10.99.0.50", "7002"); got != "inside" {
		t.Fatalf("the outside's TCP connection to the floating IP: got %q", got)
	}
	stopSrv()
	// the NAT flows read back as written: a pass changes nothing
	if err := e.mgr.ReconcileNow(e.ctx); err != nil {
		t.Fatal(err)
	}
	sts, _ := e.mgr.Status()
	for _, s := range sts {
		if s.LastChanges != (vnet.Changes{}).String() {
			t.Fatalf("%s: a pass over converged NAT flows changed %s", s.Name, s.LastChanges)
		}
	}
	if n := e.mgr.Neighbors("ext1"); n["10.99.0.100"] != e.ep(1, 1).MAC {
		t.Fatalf("the outside was not learned by ARP: %v", n)
	}
	stop := e.captureFilter(1, 1, "icmp")
	e.mustPing(2, 1, "10.99.0.100")
	if seen := stop(); !strings.Contains(seen, "10.99.0.50 > 10.99.0.100: ICMP echo request") {
		t.Fatalf("a1's pings should leave from its floating IP:\n%s", seen)
	}
	// c1 has the same address but is behind r2: still SNAT to r2's address
	stop = e.captureFilter(1, 1, "icmp")
	e.mustPing(1, 2, "10.99.0.100")
	if seen := stop(); !strings.Contains(seen, "10.99.0.2 > 10.99.0.100: ICMP echo request") {
		t.Fatalf("c1 (net3, behind r2) should leave from 10.99.0.2:\n%s", seen)
	}

	// a second connection through r1, unrelated to the floating IP: b1's
	// TCP to the outside through SNAT (its conntrack entry lingers closed)
	stopSrv = e.serve(1, 1, "7003", "outside")
	if got := e.connect(2, 2, "10.99.0.100", "7003"); got != "outside" {
		t.Fatalf("b1's TCP connection to the outside through SNAT: got %q", got)
	}
	stopSrv()
	cur, _ := e.mgr.Config()
	var natZone string
	for _, r := range cur.Routers {
		if r.Name == "r1" {
			natZone = fmt.Sprintf("zone=%d", vnet.NATZone(r.ID))
		}
	}
	ct := func() string {
		out, err := e.topo.OVS(e.ctx, 1, "ovs-appctl", "dpctl/dump-conntrack", natZone)
		if err != nil {
			t.Fatalf("dump-conntrack %s: %v %s", natZone, err, out)
		}
		return string(out)
	}
	before := ct()
	for _, want := range []string{"src=10.2.0.12,dst=10.99.0.100", "src=10.1.0.11,dst=10.99.0.100", "dst=10.99.0.50"} {
		if !strings.Contains(before, want) {
			t.Fatalf("r1's NAT zone should track %q before the move:\n%s", want, before)
		}
	}

	// moving the floating IP to b1 (net2, also behind r1) moves the traffic
	if _, err := e.mgr.Update(func(c *vnet.Config) error { c.FloatingIPs[0].Interface = "b1"; return nil }); err != nil {
		t.Fatal(err)
	}
	waitReconciled(t, e.mgr)
	// and cuts only the floating IP's connections (to it, and a1's own):
	// b1's connection through the same router survives (no zone flush)
	var after string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		after = ct()
		// TCP only: Open vSwitch 3.1's userspace tracker does not always
		// forget the ICMP entries a partial tuple matches when it is busy
		// (seen with the controller tests running beside); they time out
		if !strings.Contains(after, "tcp,orig=(src=10.99.0.100,dst=10.99.0.50") {
			break
		}
		if time.Now().After(deadline) {
			st, _ := e.mgr.Status()
			t.Fatalf("the connections of the moved floating IP are still tracked in r1's zone:\n%s\nstatus: %+v", after, st)
		}
	}
	if !strings.Contains(after, "src=10.2.0.12,dst=10.99.0.100") {
		t.Fatalf("b1's connection through r1 did not survive the floating IP move:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	stopA, stopB := e.captureFilter(2, 1, "icmp"), e.captureFilter(2, 2, "icmp")
	e.mustPing(1, 1, "10.99.0.50")
	a, b := stopA(), stopB()
	if !strings.Contains(b, "10.99.0.100 > 10.2.0.12: ICMP echo request") || strings.Contains(a, "10.99.0.100 >") {
		t.Fatalf("after the move, the floating IP should lead to b1 only:\nb1:\n%s\na1:\n%s", b, a)
	}

	// deleting the floating IP cuts it
	if _, err := e.mgr.Update(func(c *vnet.Config) error { c.FloatingIPs = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	waitReconciled(t, e.mgr)
	time.Sleep(300 * time.Millisecond)
	if out, err := e.ping(1, 1, "10.99.0.50"); err == nil {
		t.Fatalf("the deleted floating IP still answers:\n%s", out)
	}

	// the simulated router: ping of its addresses in other networks,
	// traceroute through it, host unreachable
	for _, ip := range []string{"10.2.0.1", "10.99.0.1"} {
		e.mustPing(2, 1, ip)
	}
	tr := e.run(e.ep(2, 1).Namespace, "busybox", "traceroute", "-n", "-q", "1", "-w", "1", "-m", "4", "10.2.0.12")
	if !regexp1(tr, `(?m)^ 1  10\.1\.0\.1 `) || !regexp1(tr, `(?m)^ 2  10\.2\.0\.12 `) {
		t.Fatalf("traceroute a1 -> b1 should show r1 (10.1.0.1) and then b1:\n%s", tr)
	}
	tr = e.run(e.ep(2, 1).Namespace, "busybox", "traceroute", "-n", "-q", "1", "-w", "1", "-m", "4", "10.99.0.100")
	if !regexp1(tr, `(?m)^ 1  10\.1\.0\.1 `) || !regexp1(tr, `(?m)^ 2  10\.99\.0\.100 `) {
		t.Fatalf("traceroute a1 -> the outside should show r1 (10.1.0.1) and then the outside:\n%s", tr)
	}
	if out, _ := e.ping(2, 1, "10.2.0.99"); !strings.Contains(out, "From 10.1.0.1") || !strings.Contains(out, "Destination Host Unreachable") {
		t.Fatalf("a ping to an address of net2 nobody has should be answered by r1 with host unreachable:\n%s", out)
	}

	// a1 (on h2) still reaches the outside when h2's first underlay path
	// to the gateway h1 is cut: its tunnel group fails over to path 2
	if err := e.topo.CutPath(e.ctx, 2, 1, 1); err != nil {
		t.Fatal(err)
	}
	defer e.topo.RestorePath(context.Background(), 2, 1, 1)
	time.Sleep(500 * time.Millisecond) // 3 BFD intervals and the port-status
	stop = e.captureFilter(1, 1, "icmp")
	e.mustPing(2, 1, "10.99.0.100")
	if seen := stop(); !strings.Contains(seen, "10.99.0.1 > 10.99.0.100: ICMP echo request") {
		t.Fatalf("after the path cut, a1 should still reach the outside through SNAT:\n%s", seen)
	}
}

func regexp1(s, re string) bool { return regexp.MustCompile(re).MatchString(s) }
