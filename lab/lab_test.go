package lab

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ---------------------------------------------------------------- no root needed

func TestNormalizeDefaults(t *testing.T) {
	c, err := Config{Hosts: 3}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if c.Prefix != "sat-" || c.Dir != "/run/sat-lab" || c.VMs != 2 || c.Links != "chain" ||
		c.BFDIntervalMS != 300 || c.UnderlayMTU != 1600 || c.OFVersions != "OpenFlow13" || c.FailMode != "secure" {
		t.Fatalf("defaults: %+v", c)
	}
	if c.HostNS(2) != "sat-h2" || c.VMNS(2, 1) != "sat-h2-vm1" || c.UnderlayNS() != "sat-ul" {
		t.Fatal("namespace names")
	}
	if c.VMIP(3, 2) != "10.0.3.2" || VMMAC(12, 2) != "02:00:00:00:0c:02" || UnderlayMAC(12, 2) != "02:fe:02:00:00:0c" {
		t.Fatal("addresses")
	}
	if VMOFPort(2) != 2 || LinkOFPort(3) != 103 || TunnelOFPort(3, 1) != 203 || TunnelOFPort(3, 2) != 303 {
		t.Fatal("ofports")
	}
	c.DPIDBase = 0x100
	if DPIDString(c.DPID(1)) != "0000000000000101" {
		t.Fatal("dpid")
	}
	if c, _ := (Config{Hosts: 1, VMs: -5}).Normalize(); c.vms() != 0 {
		t.Fatal("negative VMs must mean none")
	}
}

func TestNormalizeRejects(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Hosts: 0}, "hosts must be"},
		{Config{Hosts: 33}, "hosts must be"},
		{Config{Hosts: 1, Prefix: "Sat-"}, "prefix"},
		{Config{Hosts: 1, Prefix: "satellite-"}, "prefix"},
		{Config{Hosts: 1, Prefix: "sat"}, "prefix"},
		{Config{Hosts: 1, Links: "star"}, "links"},
		{Config{Hosts: 1, VMs: 100}, "vms"},
		{Config{Hosts: 1, Controllers: []string{"tcp:127.0.0.1:6653"}}, "not reachable from the host namespaces"},
		{Config{Hosts: 1, Controllers: []string{"unix:relative.sock"}}, "absolute"},
		{Config{Hosts: 1, Controllers: []string{"udp:1.2.3.4:5"}}, "unsupported"},
		{Config{Hosts: 1, Dir: "run/x"}, "absolute"},
		{Config{Hosts: 1, OverlayNet: "10.0.0"}, "overlay"},
		{Config{Hosts: 1, OFVersions: "OpenFlow13,OF14"}, "OF versions"},
	} {
		if _, err := c.cfg.Normalize(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want error containing %q", c.cfg, err, c.want)
		}
	}
	c, err := Config{Hosts: 1, Controllers: []string{"unix:/tmp/a.sock,tcp:10.250.0.254:6653", "none"}}.Normalize()
	if err != nil || !reflect.DeepEqual(c.Controllers, []string{"unix:/tmp/a.sock", "tcp:10.250.0.254:6653"}) || !c.needsMgmt() {
		t.Fatalf("controller list: %v %v", c.Controllers, err)
	}
}

func TestLinkPairs(t *testing.T) {
	for _, c := range []struct {
		links string
		n     int
		want  [][2]int
	}{
		{"chain", 3, [][2]int{{1, 2}, {2, 3}}},
		{"ring", 3, [][2]int{{1, 2}, {2, 3}, {1, 3}}},
		{"ring", 2, [][2]int{{1, 2}}},
		{"full", 3, [][2]int{{1, 2}, {1, 3}, {2, 3}}},
		{"none", 3, nil},
		{"chain", 1, nil},
	} {
		cfg, err := Config{Hosts: c.n, Links: c.links}.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.linkPairs(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s/%d: %v, want %v", c.links, c.n, got, c.want)
		}
	}
	cfg, _ := Config{Hosts: 4, Links: "ring"}.Normalize()
	if got := cfg.linkPeers(1); !reflect.DeepEqual(got, []int{2, 4}) {
		t.Errorf("ring peers of h1: %v", got)
	}
}

func TestRandomPrefix(t *testing.T) {
	seen := map[string]bool{}
	for k := 0; k < 50; k++ {
		p := RandomPrefix("st")
		if !prefixRE.MatchString(p) || len(p) != 7 {
			t.Fatalf("bad prefix %q", p)
		}
		seen[p] = true
	}
	if len(seen) < 45 {
		t.Fatalf("prefixes not random enough: %d distinct of 50", len(seen))
	}
}

func TestOVSMap(t *testing.T) {
	m := ovsMap([]byte(`["map",[["forwarding","true"],["state","up"]]]`))
	if m["state"] != "up" || m["forwarding"] != "true" {
		t.Fatal(m)
	}
	if len(ovsMap([]byte(`["set",[]]`))) != 0 {
		t.Fatal("empty set")
	}
}

// ---------------------------------------------------------------- real OVS (root)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// flows replaces br-int's flow table on host i.
func flows(t *testing.T, ctx context.Context, topo *Topology, i int, fl ...string) {
	t.Helper()
	if _, err := topo.OVS(ctx, i, "ovs-ofctl", "-O", "OpenFlow13", "del-flows", "br-int"); err != nil {
		t.Fatal(err)
	}
	for _, f := range fl {
		if _, err := topo.OVS(ctx, i, "ovs-ofctl", "-O", "OpenFlow13", "add-flow", "br-int", f); err != nil {
			t.Fatal(err)
		}
	}
}

// pingOK pings dst from endpoint namespace ns and wants every reply.
func pingOK(t *testing.T, ctx context.Context, topo *Topology, ns, dst, what string) {
	t.Helper()
	out, err := topo.Exec(ctx, ns, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", dst)
	if err != nil || !strings.Contains(string(out), " 0% packet loss") {
		t.Fatalf("%s: ping %s from %s failed: %v\n%s", what, dst, ns, err, out)
	}
}

// pingAfterRestore allows a state change (link or path restored) up to 5 s
// to take effect, then wants every reply like pingOK.
func pingAfterRestore(t *testing.T, ctx context.Context, topo *Topology, ns, dst, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := topo.Exec(ctx, ns, "ping", "-n", "-q", "-c", "1", "-W", "1", dst); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no ping reply from %s to %s within 5 s", what, ns, dst)
		}
	}
	pingOK(t, ctx, topo, ns, dst, what)
}

// pingFails wants one ping from ns to dst to go unanswered.
func pingFails(t *testing.T, ctx context.Context, topo *Topology, ns, dst, what string) {
	t.Helper()
	if out, err := topo.Exec(ctx, ns, "ping", "-n", "-q", "-c", "1", "-W", "1", dst); err == nil {
		t.Fatalf("%s: ping %s from %s succeeded, want failure\n%s", what, dst, ns, out)
	}
}

var portDescRE = regexp.MustCompile(`(?m)^ *([0-9]+|LOCAL)\(([^)]+)\):`)

// portsDesc returns name -> ofport from `ovs-ofctl dump-ports-desc br-int`.
func portsDesc(t *testing.T, ctx context.Context, topo *Topology, i int) map[string]int {
	t.Helper()
	out, err := topo.OVS(ctx, i, "ovs-ofctl", "-O", "OpenFlow13", "dump-ports-desc", "br-int")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, sm := range portDescRE.FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.Atoi(sm[1])
		m[sm[2]] = n
	}
	return m
}

// checkPorts verifies that every port of the topology exists on its bridge
// with the deterministic ofport, and the datapath ids.
func checkPorts(t *testing.T, ctx context.Context, topo *Topology) {
	t.Helper()
	c := topo.Config
	for _, h := range topo.Hosts {
		got := portsDesc(t, ctx, topo, h.Index)
		want := map[string]int{}
		for j := 1; j <= c.vms(); j++ {
			want[VMPort(j)] = VMOFPort(j)
		}
		for _, k := range c.linkPeers(h.Index) {
			want[LinkPort(k)] = LinkOFPort(k)
		}
		for k := 1; k <= c.Hosts; k++ {
			if k != h.Index {
				want[TunnelPort(k, 1)] = TunnelOFPort(k, 1)
				want[TunnelPort(k, 2)] = TunnelOFPort(k, 2)
			}
		}
		if len(h.Ports) != len(want) {
			t.Errorf("h%d: topology lists %d ports, want %d", h.Index, len(h.Ports), len(want))
		}
		for _, p := range h.Ports {
			if want[p.Name] == 0 || p.OFPort != want[p.Name] {
				t.Errorf("h%d: topology port %s ofport %d, want %d", h.Index, p.Name, p.OFPort, want[p.Name])
			}
			if got[p.Name] != p.OFPort {
				t.Errorf("h%d: port %s has ofport %d on the switch, topology says %d", h.Index, p.Name, got[p.Name], p.OFPort)
			}
		}
		for _, e := range h.Endpoints {
			if got[e.Port] != e.OFPort || e.OFPort == 0 {
				t.Errorf("h%d: endpoint %s port %s ofport %d, switch %d", h.Index, e.Name, e.Port, e.OFPort, got[e.Port])
			}
		}
		wantDPID := DPIDString(c.DPID(h.Index))
		out, err := topo.OVS(ctx, h.Index, "ovs-vsctl", "get", "bridge", "br-int", "datapath_id")
		if err != nil {
			t.Fatal(err)
		}
		if d := strings.Trim(strings.TrimSpace(string(out)), `"`); d != wantDPID || h.DPID != wantDPID || h.DatapathID != c.DPID(h.Index) {
			t.Errorf("h%d: dpid ovsdb %s, topology %s/%d, want %s", h.Index, d, h.DPID, h.DatapathID, wantDPID)
		}
		out, err = topo.OVS(ctx, h.Index, "ovs-ofctl", "-O", "OpenFlow13", "show", "br-int")
		if err != nil || !strings.Contains(string(out), "dpid:"+wantDPID) {
			t.Errorf("h%d: ovs-ofctl show: %v\n%s", h.Index, err, out)
		}
	}
	for _, l := range topo.Links {
		if l.A.OFPort != LinkOFPort(l.B.Host) || l.B.OFPort != LinkOFPort(l.A.Host) {
			t.Errorf("link %+v: wrong ofports", l)
		}
	}
	for _, tu := range topo.Tunnels {
		if tu.A.OFPort != TunnelOFPort(tu.B.Host, tu.Path) || tu.B.OFPort != TunnelOFPort(tu.A.Host, tu.Path) {
			t.Errorf("tunnel %+v: wrong ofports", tu)
		}
	}
}

// TestDataPath proves the data path of a 3-host lab with static flows: same
// bridge, direct link (and its cut), GRE path 1 (and its cuts).
func TestDataPath(t *testing.T) {
	t0 := time.Now()
	topo := Start(t, Config{Hosts: 3})
	t.Logf("3-host lab (BFD off) up in %.2fs", time.Since(t0).Seconds())
	ctx := testCtx(t)
	if len(topo.Hosts) != 3 || len(topo.Links) != 2 || len(topo.Tunnels) != 6 {
		t.Fatalf("topology: %d hosts, %d links, %d tunnels", len(topo.Hosts), len(topo.Links), len(topo.Tunnels))
	}
	checkPorts(t, ctx, topo)
	for _, h := range topo.Hosts {
		if h.VSwitchdPID == 0 || h.OVSDBPID == 0 {
			t.Fatalf("h%d daemons not running: %+v", h.Index, h)
		}
	}
	vm11 := topo.Hosts[0].Endpoints[0]
	if vm11.Namespace != topo.Config.Prefix+"h1-vm1" || vm11.IP != "10.0.1.1" || vm11.MAC != "02:00:00:00:01:01" {
		t.Fatalf("endpoint h1-vm1: %+v", vm11)
	}
	h21 := topo.Hosts[1].Endpoints[0].IP

	// same bridge
	flows(t, ctx, topo, 1, "in_port=1,actions=output:2", "in_port=2,actions=output:1")
	pingOK(t, ctx, topo, "h1-vm1", "10.0.1.2", "same bridge")

	// direct link h1 <-> h2
	flows(t, ctx, topo, 1, "in_port=1,actions=output:102", "in_port=102,actions=output:1")
	flows(t, ctx, topo, 2, "in_port=1,actions=output:101", "in_port=101,actions=output:1")
	pingOK(t, ctx, topo, "h1-vm1", h21, "direct link")
	if err := topo.CutLink(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	out, _ := topo.OVS(ctx, 1, "ovs-ofctl", "-O", "OpenFlow13", "dump-ports-desc", "br-int")
	if !regexp.MustCompile(`102\(lnk-h2\)[^\n]*\n(?:[^\n]*\n)*?\s+state:\s+LINK_DOWN`).Match(out) {
		t.Errorf("lnk-h2 not LINK_DOWN after CutLink:\n%s", out)
	}
	pingFails(t, ctx, topo, "h1-vm1", h21, "direct link cut")
	if err := topo.RestoreLink(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	pingAfterRestore(t, ctx, topo, "h1-vm1", h21, "direct link restored")
	if err := topo.CutLink(ctx, 1, 3); err == nil {
		t.Error("CutLink(1,3) on a chain: want error")
	}

	// GRE path 1 (path 2 accepted back, as a fast-failover would use it)
	flows(t, ctx, topo, 1, "in_port=1,actions=output:202", "in_port=202,actions=output:1", "in_port=302,actions=output:1")
	flows(t, ctx, topo, 2, "in_port=1,actions=output:201", "in_port=201,actions=output:1", "in_port=301,actions=output:1")
	pingOK(t, ctx, topo, "h1-vm1", h21, "GRE path 1 (first packets included: next hops pre-resolved)")
	if _, err := topo.Exec(ctx, "h1-vm1", "ping", "-q", "-c", "1", "-W", "1", "-s", "1472", "-M", "do", h21); err != nil {
		t.Errorf("1500-byte packet through GRE: %v", err)
	}

	if err := topo.CutPath(ctx, 1, 1, 2); err != nil { // h1 <-> h2 only, by flows
		t.Fatal(err)
	}
	pingFails(t, ctx, topo, "h1-vm1", h21, "GRE after CutPath(h1, 1, h2)")
	if err := topo.RestorePath(ctx, 1, 1, 2); err != nil {
		t.Fatal(err)
	}
	pingAfterRestore(t, ctx, topo, "h1-vm1", h21, "GRE after RestorePath(h1, 1, h2)")

	if err := topo.CutPath(ctx, 1, 1, 0); err != nil { // h1's uplink on path 1
		t.Fatal(err)
	}
	pingFails(t, ctx, topo, "h1-vm1", h21, "GRE after CutPath(h1, 1)")
	// path 2 still works
	flows(t, ctx, topo, 1, "in_port=1,actions=output:302", "in_port=302,actions=output:1")
	flows(t, ctx, topo, 2, "in_port=1,actions=output:301", "in_port=301,actions=output:1")
	pingOK(t, ctx, topo, "h1-vm1", h21, "GRE path 2 while path 1 is cut")
	if err := topo.CutPath(ctx, 0, 2, 0); err != nil { // switch 2 for all
		t.Fatal(err)
	}
	pingFails(t, ctx, topo, "h1-vm1", h21, "GRE path 2 after CutPath(all, 2)")
	if err := topo.RestoreAll(ctx); err != nil {
		t.Fatal(err)
	}
	pingAfterRestore(t, ctx, topo, "h1-vm1", h21, "GRE path 2 after RestoreAll")
	flows(t, ctx, topo, 1, "in_port=1,actions=output:202", "in_port=202,actions=output:1")
	flows(t, ctx, topo, 2, "in_port=1,actions=output:201", "in_port=201,actions=output:1")
	pingAfterRestore(t, ctx, topo, "h1-vm1", h21, "GRE path 1 after RestoreAll")
	t.Logf("data path test done in %.2fs", time.Since(t0).Seconds())
}

// TestUpIdempotent: Up on a running lab changes nothing, and Up repairs
// damage (a deleted veth, a dead switch daemon, a cut link).
func TestUpIdempotent(t *testing.T) {
	topo := Start(t, Config{Hosts: 2, VMs: 1})
	ctx := testCtx(t)
	cfg := topo.Config
	again, err := Up(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := string(topo.JSON()), string(again.JSON()); a != b {
		t.Fatalf("second Up changed the topology:\n%s\n---\n%s", a, b)
	}
	// damage: endpoint veth gone, h2's vswitchd killed, direct link cut
	if err := ipBatch(ctx, cfg.HostNS(1), []string{"link del vm1"}); err != nil {
		t.Fatal(err)
	}
	if err := topo.KillSwitch(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := topo.CutLink(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	fixed, err := Up(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if fixed.Hosts[1].VSwitchdPID == 0 || fixed.Hosts[1].VSwitchdPID == topo.Hosts[1].VSwitchdPID {
		t.Fatalf("h2 vswitchd not restarted: %d -> %d", topo.Hosts[1].VSwitchdPID, fixed.Hosts[1].VSwitchdPID)
	}
	fixed.Hosts[1].VSwitchdPID = topo.Hosts[1].VSwitchdPID
	if a, b := string(topo.JSON()), string(fixed.JSON()); a != b {
		t.Fatalf("repairing Up: topology differs:\n%s\n---\n%s", a, b)
	}
	checkPorts(t, ctx, fixed)
	flows(t, ctx, fixed, 1, "in_port=1,actions=output:102", "in_port=102,actions=output:1")
	flows(t, ctx, fixed, 2, "in_port=1,actions=output:101", "in_port=101,actions=output:1")
	pingAfterRestore(t, ctx, fixed, "h1-vm1", "10.0.2.1", "direct link after repair")
}

// TestStopStartHost: the vswitchd pid changes, the bridge comes back with
// its ports and dpid, and forwards again once flows are back.
func TestStopStartHost(t *testing.T) {
	topo := Start(t, Config{Hosts: 2, VMs: 1})
	ctx := testCtx(t)
	old := topo.Hosts[1].VSwitchdPID
	if err := topo.StopHost(ctx, 2); err != nil {
		t.Fatal(err)
	}
	st, err := topo.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Hosts[1].VSwitchdPID != 0 || st.Hosts[1].OVSDBPID == 0 {
		t.Fatalf("after StopHost: vswitchd %d ovsdb %d", st.Hosts[1].VSwitchdPID, st.Hosts[1].OVSDBPID)
	}
	if !procGone(old) {
		t.Fatalf("old vswitchd %d still running", old)
	}
	if _, err := topo.OVS(ctx, 2, "ovs-ofctl", "-O", "OpenFlow13", "show", "br-int"); err == nil {
		t.Fatal("br-int answers OpenFlow while vswitchd is stopped")
	}
	if err := topo.StartHost(ctx, 2); err != nil {
		t.Fatal(err)
	}
	st, err = topo.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := st.Hosts[1].VSwitchdPID; p == 0 || p == old {
		t.Fatalf("vswitchd pid after StartHost: %d (was %d)", p, old)
	}
	checkPorts(t, ctx, st)
	// crash and restart, then prove forwarding over GRE (restart lost the
	// flows and the neighbour cache; StartHost re-resolves the next hops)
	if err := topo.KillSwitch(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := topo.StartHost(ctx, 2); err != nil {
		t.Fatal(err)
	}
	flows(t, ctx, topo, 1, "in_port=1,actions=output:202", "in_port=202,actions=output:1")
	flows(t, ctx, topo, 2, "in_port=1,actions=output:201", "in_port=201,actions=output:1")
	pingOK(t, ctx, topo, "h1-vm1", "10.0.2.1", "GRE after kill + StartHost")
}

// TestBFD: with BFD the cut tunnel port loses LIVE, the other path keeps it,
// and LIVE comes back after the restore.
func TestBFD(t *testing.T) {
	topo := Start(t, Config{Hosts: 2, VMs: -1, Links: LinksNone, BFD: true, BFDIntervalMS: 100})
	ctx := testCtx(t)
	for _, h := range topo.Hosts {
		for _, p := range h.Ports {
			if p.Kind == KindTunnel && p.BFDState != "up" {
				t.Errorf("h%d %s: bfd state %q after Up, want up", h.Index, p.Name, p.BFDState)
			}
		}
	}
	live := func(ofport int) bool {
		out, err := topo.OVS(ctx, 1, "ovs-ofctl", "-O", "OpenFlow13", "dump-ports-desc", "br-int")
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(fmt.Sprintf(`(?s) %d\([^)]*\):.*?state:([^\n]*)\n`, ofport))
		m := re.FindSubmatch(out)
		return m != nil && strings.Contains(string(m[1]), "LIVE")
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timeout waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !live(202) || !live(302) {
		t.Fatal("tunnel ports not LIVE after Up")
	}
	t0 := time.Now()
	if err := topo.CutPath(ctx, 1, 1, 0); err != nil {
		t.Fatal(err)
	}
	waitFor("gre-h2-p1 to lose LIVE", func() bool { return !live(202) })
	t.Logf("LIVE cleared %v after the cut (BFD 100 ms)", time.Since(t0).Round(time.Millisecond))
	if !live(302) {
		t.Error("gre-h2-p2 lost LIVE, path 2 was not cut")
	}
	if err := topo.RestorePath(ctx, 1, 1, 0); err != nil {
		t.Fatal(err)
	}
	waitFor("gre-h2-p1 to be LIVE again", func() bool { return live(202) })
}

// TestControllers: OVS connects to a unix-socket controller (through the
// symlink in its run directory) and to a tcp controller on the management
// network, and says hello in OpenFlow 1.3.
func TestControllers(t *testing.T) {
	RequireRoot(t)
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	mgmt := fmt.Sprintf("10.250.%d", 1+rand.IntN(250))
	port := 20000 + rand.IntN(20000)
	topo := Start(t, Config{Hosts: 2, VMs: -1, Links: LinksNone, MgmtNet: mgmt,
		Controllers: []string{"unix:" + sock, fmt.Sprintf("tcp:%s.254:%d", mgmt, port)}})
	ctx := testCtx(t)
	if topo.Mgmt == nil || topo.Mgmt.Gateway != mgmt+".254" || topo.Hosts[1].MgmtIP != mgmt+".2" {
		t.Fatalf("mgmt network: %+v %q", topo.Mgmt, topo.Hosts[1].MgmtIP)
	}
	tl, err := net.Listen("tcp", fmt.Sprintf("%s.254:%d", mgmt, port))
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	hello := func(l net.Listener, what string) {
		t.Helper()
		for n := 0; n < 2; n++ { // one connection per host
			done := make(chan error, 1)
			go func() {
				c, err := l.Accept()
				if err != nil {
					done <- err
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				var h [8]byte
				if _, err := io.ReadFull(c, h[:]); err != nil {
					done <- err
					return
				}
				if h[0] != 4 || h[1] != 0 || binary.BigEndian.Uint16(h[2:]) < 8 {
					done <- fmt.Errorf("not an OpenFlow 1.3 HELLO: % x", h)
					return
				}
				done <- nil
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			case <-time.After(15 * time.Second):
				l.Close()
				t.Fatalf("%s: no connection from OVS within 15 s", what)
			}
		}
	}
	hello(ul, "unix controller")
	hello(tl, "tcp controller")
	st, err := topo.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Hosts[0].Controllers; len(got) != 2 {
		t.Fatalf("controllers in OVSDB: %+v", got)
	}
	// Up again with the same controllers must not touch them (a change
	// would flush the flows): a flow survives.
	if _, err := topo.OVS(ctx, 1, "ovs-ofctl", "-O", "OpenFlow13", "add-flow", "br-int", "priority=7,actions=drop"); err != nil {
		t.Fatal(err)
	}
	if _, err := Up(ctx, topo.Config, io.Discard); err != nil {
		t.Fatal(err)
	}
	out, err := topo.OVS(ctx, 1, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int")
	if err != nil || !strings.Contains(string(out), "priority=7") {
		t.Fatalf("flow gone after a converging Up: %v\n%s", err, out)
	}
}

// TestDown: nothing is left - namespaces, root links, processes, state dir,
// also a process started inside an endpoint, and also after a "crash" that
// lost the state directory.
func TestDown(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			// a tcp controller brings the management network (root links);
			// nothing listens on its gateway address, so OVS just retries
			mgmt := fmt.Sprintf("10.250.%d", 1+rand.IntN(250))
			topo := Start(t, Config{Hosts: 2, VMs: 1, MgmtNet: mgmt, Controllers: []string{"tcp:" + mgmt + ".254:6653"}})
			ctx := testCtx(t)
			cfg := topo.Config
			var pids []int
			for _, h := range topo.Hosts {
				pids = append(pids, h.VSwitchdPID, h.OVSDBPID)
			}
			stray, err := topo.ExecCommand(ctx, "h1-vm1", "sleep", "300")
			if err != nil {
				t.Fatal(err)
			}
			if err := stray.Start(); err != nil {
				t.Fatal(err)
			}
			waited := make(chan error, 1)
			go func() { waited <- stray.Wait() }()
			if links, _ := ownedRootLinks(ctx, cfg.Prefix); len(links) != 3 {
				t.Fatalf("root links before down: %v", links)
			}
			if crash {
				// the state dir with all pidfiles is gone; Down must still
				// find the daemons (by command line) and everything else
				if err := os.RemoveAll(cfg.Dir); err != nil {
					t.Fatal(err)
				}
			}
			t0 := time.Now()
			if err := Down(ctx, Config{Prefix: cfg.Prefix}, io.Discard); err != nil {
				t.Fatal(err)
			}
			t.Logf("down in %.2fs", time.Since(t0).Seconds())
			select {
			case <-waited:
			case <-time.After(5 * time.Second):
				t.Error("process inside h1-vm1 survived Down")
			}
			if ns := ownedNetns(cfg.Prefix); len(ns) > 0 {
				t.Errorf("namespaces left: %v", ns)
			}
			if links, _ := ownedRootLinks(ctx, cfg.Prefix); len(links) > 0 {
				t.Errorf("root links left: %v", links)
			}
			for _, p := range pids {
				if !procGone(p) {
					t.Errorf("daemon %d still running: %v", p, procCmdline(p))
				}
			}
			ents, _ := os.ReadDir("/proc")
			for _, e := range ents {
				if pid, err := strconv.Atoi(e.Name()); err == nil && !procGone(pid) {
					cl := strings.Join(procCmdline(pid), " ")
					if strings.Contains(cl, cfg.Dir) || strings.Contains(cl, "/run/netns/"+cfg.Prefix) {
						t.Errorf("process %d left: %s", pid, cl)
					}
				}
			}
			if _, err := os.Stat(cfg.Dir); !os.IsNotExist(err) {
				t.Errorf("state dir %s still there (%v)", cfg.Dir, err)
			}
			if _, err := os.Stat(cfg.lockPath()); !os.IsNotExist(err) {
				t.Errorf("lock file %s still there", cfg.lockPath())
			}
			// a second Down of nothing is fine
			if err := Down(ctx, Config{Prefix: cfg.Prefix}, io.Discard); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDownRefusesForeignDir: a state dir without the marker is never
// removed, and Up refuses to use it.
func TestDownRefusesForeignDir(t *testing.T) {
	RequireRoot(t)
	dir := filepath.Join("/run", RandomPrefix("sf")+"foreign")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "precious"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	cfg := Config{Prefix: RandomPrefix("sf"), Dir: dir, Hosts: 1}
	if _, err := Up(ctx, cfg, io.Discard); err == nil || !strings.Contains(err.Error(), "not a lab state directory") {
		t.Fatalf("Up into a foreign dir: %v", err)
	}
	if err := Down(ctx, cfg, io.Discard); err == nil || !strings.Contains(err.Error(), "no "+markerFile) {
		t.Fatalf("Down of a foreign dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "precious")); err != nil {
		t.Fatal("foreign file removed")
	}
}

// TestStartReapsOrphans: a lab left by a test process that died is removed
// by the next Start; a lab without an owner file (a developer's) is not.
func TestStartReapsOrphans(t *testing.T) {
	RequireRoot(t)
	ctx := testCtx(t)
	small := Config{Hosts: 1, VMs: -1, Links: LinksNone}
	orphan, mine := small, small
	orphan.Prefix, mine.Prefix = RandomPrefix("so"), RandomPrefix("sd")
	for _, c := range []Config{orphan, mine} {
		t.Cleanup(func() { _ = Down(context.Background(), c, nil) })
		if _, err := Up(ctx, c, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	oc, _ := orphan.Normalize()
	if err := os.WriteFile(filepath.Join(oc.Dir, ownerFile), []byte("999999999 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	Start(t, small)
	if ns := ownedNetns(orphan.Prefix); len(ns) > 0 {
		t.Errorf("orphaned lab not removed: %v", ns)
	}
	if ns := ownedNetns(mine.Prefix); len(ns) == 0 {
		t.Error("a lab without owner file was removed")
	}
}
