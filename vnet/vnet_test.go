package vnet_test

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/internal/core"
	"github.com/satellite-sdn/satellite/internal/testenv"
	"github.com/satellite-sdn/satellite/lab"
	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/vnet"
)

// TestMain lets the trunk and spoofing tests send raw frames from an
// endpoint's namespace (lab.SendFrame runs this binary there).
func TestMain(m *testing.M) {
	lab.ServeRawFrame()
	os.Exit(m.Run())
}

func (e *env) sendFrom(host, vm int, frame []byte) {
	e.t.Helper()
	if err := e.topo.SendFrame(e.ctx, e.ep(host, vm).Namespace, "eth0", frame); err != nil {
		e.t.Fatal(err)
	}
}

func tagged(vlan uint16, src, dst net.HardwareAddr, ls ...gopacket.SerializableLayer) []byte {
	et := layers.EthernetTypeARP
	if _, ok := ls[0].(*layers.IPv4); ok {
		et = layers.EthernetTypeIPv4
	}
	buf := gopacket.NewSerializeBuffer()
	all := append([]gopacket.SerializableLayer{
		&layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: vlan, Type: et},
	}, ls...)
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, all...); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

type env struct {
	t    *testing.T
	ctx  context.Context
	ctl  *controller.Controller
	mgr  *vnet.Manager
	topo *lab.Topology
	sock string
	dir  string
	stop func()
}

// startSatellite runs controller + topology + discovery + virtual networks
// like `satellite serve` does, with its state in dir.
func startSatellite(t *testing.T, sock, dir string) (*controller.Controller, *vnet.Manager, func()) {
	return startSatelliteTB(t, sock, dir)
}

func startSatelliteTB(t testing.TB, sock, dir string) (*controller.Controller, *vnet.Manager, func()) {
	t.Helper()
	s := startSatelliteFull(t, sock, dir)
	return s.ctl, s.mgr, s.stop
}

// satellite is what startSatelliteFull started.
type satellite struct {
	ctl   *controller.Controller
	mgr   *vnet.Manager
	model *topology.Model
	disc  *lldp.Discovery
	stop  func()
}

func startSatelliteFull(t testing.TB, sock, dir string) satellite {
	t.Helper()
	s := testenv.StartCore(t, testenv.CoreOptions{Dir: dir, KeepRunning: true, // the tests stop it, also across subtests
		Configure: func(c *config.Config) {
			c.OpenFlow = config.Targets{"unix:" + sock}
			c.Discovery.Interval = config.Duration(500 * time.Millisecond)
		},
		Options: core.Options{Without: []string{"probes", "collector", "alerts", "journal", "exporters"}}})
	return satellite{ctl: s.Controller, mgr: s.VNets, model: s.Model, disc: s.Discovery, stop: func() { _ = s.Stop() }}
}

func (e *env) ep(host, vm int) lab.Endpoint { return e.topo.Host(host).Endpoints[vm-1] }

// readdress gives a lab endpoint an address of a virtual network.
func (e *env) readdress(host, vm int, cidr string) {
	ns := e.ep(host, vm).Namespace
	e.run(ns, "ip", "addr", "flush", "dev", "eth0")
	if cidr != "" {
		e.run(ns, "ip", "addr", "add", cidr, "dev", "eth0")
	}
}

func (e *env) run(ns string, args ...string) string {
	e.t.Helper()
	out, err := e.topo.Exec(e.ctx, ns, args...)
	if err != nil {
		e.t.Fatalf("%s: %v: %v\n%s", ns, args, err, out)
	}
	return string(out)
}

func (e *env) ping(fromHost, fromVM int, ip string) (string, error) {
	out, err := e.topo.Exec(e.ctx, e.ep(fromHost, fromVM).Namespace, "ping", "-c", "3", "-i", "0.2", "-W", "1", ip)
	return string(out), err
}

func (e *env) mustPing(fromHost, fromVM int, ip string) string {
	e.t.Helper()
	var out string
	var err error
	for try := 0; try < 10; try++ { // the first pings may race the reconciliation
		if out, err = e.ping(fromHost, fromVM, ip); err == nil {
			return out
		}
		time.Sleep(300 * time.Millisecond)
	}
	e.t.Fatalf("h%d-vm%d cannot ping %s: %v\n%s", fromHost, fromVM, ip, err, out)
	return ""
}

// labConfig is the lab's three hosts: h1 and h2 in segment "a" (directly
// linked: MAC2MAC), h3 in segment "b" (GRE).
func labConfig(topo *lab.Topology) vnet.Config {
	var c vnet.Config
	for i, h := range topo.Hosts {
		seg := "a"
		if i == 2 {
			seg = "b"
		}
		c.Datapaths = append(c.Datapaths, vnet.Datapath{Name: h.Name, DPID: h.DPID, Segment: seg})
	}
	return c
}

func vif(name, network string, h *lab.Host, vm int, ip string) vnet.Interface {
	ep := h.Endpoints[vm-1]
	return vnet.Interface{Name: name, Network: network, Datapath: h.Name, Port: ep.Port, MAC: ep.MAC, IP: ip}
}

func byNumber(in vnet.Interface, no uint32) vnet.Interface {
	in.Port, in.PortNo = "", no
	return in
}

func TestVirtualNetworksOnOVS(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "of.sock")
	sat := startSatelliteFull(t, sock, dir)
	ctl, mgr, stop := sat.ctl, sat.mgr, sat.stop
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	e := &env{t: t, ctx: context.Background(), ctl: ctl, mgr: mgr, sock: sock, dir: dir}

	// the configuration is applied BEFORE the switches connect
	e.topo = lab.Start(t, lab.Config{Hosts: 3, Controllers: []string{"unix:" + sock}})
	h1, h2, h3 := e.topo.Host(1), e.topo.Host(2), e.topo.Host(3)
	cfg := labConfig(e.topo)
	cfg.Networks = []vnet.Network{
		{Name: "net1", Subnet: "10.1.0.0/24", Gateway: "10.1.0.1"},
		{Name: "net2", Subnet: "10.2.0.0/24", Gateway: "10.2.0.1", DHCP: true, DNS: []string{"10.2.0.53"}},
		{Name: "net3", Subnet: "10.1.0.0/24"}, // the same subnet as net1
	}
	cfg.Interfaces = []vnet.Interface{
		vif("a1", "net1", h1, 1, "10.1.0.11"),
		byNumber(vif("a2", "net1", h2, 1, "10.1.0.12"), uint32(h2.Endpoints[0].OFPort)), // bound by dpid + port number
		vif("a3", "net1", h3, 1, "10.1.0.13"),
		vif("c1", "net3", h1, 2, "10.1.0.11"),
		vif("c3", "net3", h3, 2, "10.1.0.13"),
		vif("b2", "net2", h2, 2, ""), // leased through DHCP
		{Name: "svc", Network: "net1", Mode: vnet.ModeSimulated, IP: "10.1.0.200"},
	}
	cfg.Routers = []vnet.Router{{Name: "r1", Interfaces: []vnet.RouterInterface{{Network: "net1"}, {Network: "net2"}}}}
	if _, err := mgr.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	e.readdress(1, 1, "10.1.0.11/24")
	e.readdress(2, 1, "10.1.0.12/24")
	e.readdress(3, 1, "10.1.0.13/24")
	e.readdress(1, 2, "10.1.0.11/24")
	e.readdress(3, 2, "10.1.0.13/24")
	e.readdress(2, 2, "")
	for _, h := range []int{1, 2, 3} {
		for _, vm := range []int{1, 2} {
			e.run(e.ep(h, vm).Namespace, "ip", "route", "replace", "default", "via", map[bool]string{true: "10.1.0.1", false: "10.2.0.1"}[!(h == 2 && vm == 2)], "dev", "eth0", "onlink")
		}
	}
	waitConverged(t, mgr, 3)

	t.Run("net1 same segment MAC2MAC and across segments over GRE", func(t *testing.T) {
		e.t = t
		e.mustPing(1, 1, "10.1.0.12") // h1 -> h2: direct link, no encapsulation
		e.mustPing(2, 1, "10.1.0.11")
		e.mustPing(1, 1, "10.1.0.13") // h1 -> h3: GRE
		e.mustPing(3, 1, "10.1.0.11")
		e.mustPing(3, 1, "10.1.0.12")
		// the h1->h2 flow for a2's MAC outputs to the direct link, h1->h3 uses the tunnel group
		dump := e.ovsFlows(1, "table=4")
		if !regexp.MustCompile(`dl_dst=` + e.ep(2, 1).MAC + ` actions=output:102`).MatchString(dump) {
			t.Fatalf("no MAC2MAC flow to h2 over lnk-h2 (port 102):\n%s", dump)
		}
		if !regexp.MustCompile(`dl_dst=` + e.ep(3, 1).MAC + ` actions=set_field:0x\w+->tun_id,group:`).MatchString(dump) {
			t.Fatalf("no GRE flow to h3:\n%s", dump)
		}
	})

	t.Run("overlapping net3 is isolated from net1", func(t *testing.T) {
		e.t = t
		capture := e.capture(3, 1)    // a3 is 10.1.0.13 in net1
		e.mustPing(1, 2, "10.1.0.13") // c1 -> c3, same addresses as net1's a1 -> a3
		got := capture()
		if strings.Contains(got, "ICMP") || strings.Contains(got, "ARP") {
			t.Fatalf("net1's a3 saw net3 traffic:\n%s", got)
		}
	})

	t.Run("an ARP flood from a VM is policed by its meter; the neighbour loses no ping", func(t *testing.T) {
		e.t = t
		cfg, _ := mgr.Config()
		var a1 uint32
		for _, in := range cfg.Interfaces {
			if in.Name == "a1" {
				a1 = in.ID
			}
		}
		mid := vnet.MeterID(a1)
		s1 := ctl.Switch(h1.DatapathID)
		meter := func() controller.MeterStats {
			ms, err := s1.MeterStats(e.ctx)
			if err != nil {
				t.Fatalf("meter stats: %v", err)
			}
			for _, m := range ms {
				if m.ID == mid {
					return m
				}
			}
			t.Fatalf("no meter %#x for a1 on h1: %+v", mid, ms)
			return controller.MeterStats{}
		}
		if dump := e.ovsFlows(1, "table=0,in_port=1"); !strings.Contains(dump, fmt.Sprintf("meter:%d", mid)) {
			t.Fatalf("a1's table-0 copies are not metered:\n%s", dump)
		}
		before := meter()
		pinBefore := s1.Stats()
		// the neighbour (c1, h1 vm2, net3) pings c3 across GRE while a1 floods
		pinged := make(chan string, 1)
		go func() {
			out, _ := e.topo.Exec(e.ctx, e.ep(1, 2).Namespace, "ping", "-c", "100", "-i", "0.03", "-W", "1", "10.1.0.13")
			pinged <- string(out)
		}()
		const flood = 300000 // about 2.5 s, as long as most of the neighbour's ping
		script := fmt.Sprintf(`
import socket, struct, random
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
src = bytes.fromhex(%q)
for i in range(%d):
    tpa = bytes([10, 1, random.randint(2, 250), random.randint(1, 250)])
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + src + bytes([10, 1, 0, 11]) + bytes(6) + tpa
    s.send(b"\xff" * 6 + src + b"\x08\x06" + arp)
`, strings.ReplaceAll(e.ep(1, 1).MAC, ":", ""), flood)
		start := time.Now()
		if out, err := e.topo.Exec(e.ctx, e.ep(1, 1).Namespace, "python3", "-c", script); err != nil {
			t.Fatalf("ARP flood: %v\n%s", err, out)
		}
		took := time.Since(start)
		out := <-pinged
		time.Sleep(1200 * time.Millisecond) // meter and flow counters
		after := meter()
		pinAfter := s1.Stats()
		loss := regexp.MustCompile(`([\d.]+)% packet loss`).FindStringSubmatch(out)
		passed := after.Packets - before.Packets - (after.Dropped - before.Dropped)
		t.Logf("%d ARP frames from a1 in %s: meter %#x saw %d, dropped %d, passed %d to the controller (100/s + 100 burst); controller-side drops %d; neighbour's ping loss %s%%",
			flood, took.Round(time.Millisecond), mid, after.Packets-before.Packets, after.Dropped-before.Dropped, passed,
			pinAfter.PacketInDropped-pinBefore.PacketInDropped, loss[1])
		if loss == nil || loss[1] != "0" {
			t.Errorf("the neighbour lost pings during the flood:\n%s", out)
		}
		// (the userspace datapath itself drops part of a burst this fast
		// before any flow sees it)
		if after.Packets-before.Packets < 5000 {
			t.Errorf("the meter saw %d of %d frames: the flood did not reach it", after.Packets-before.Packets, flood)
		}
		if limit := uint64(100*(took.Seconds()+2) + 100); passed > limit {
			t.Errorf("%d packet-ins passed the meter in %s, want at most %d", passed, took, limit)
		}
	})

	t.Run("an LLDP flood from a VM makes no link and costs the neighbour no ping", func(t *testing.T) {
		e.t = t
		s1 := ctl.Switch(h1.DatapathID)
		pinBefore := s1.Stats()
		edgeBefore := sat.disc.Stats().EdgePort
		links := len(sat.model.Links())
		pinged := make(chan string, 1)
		go func() {
			out, _ := e.topo.Exec(e.ctx, e.ep(1, 2).Namespace, "ping", "-c", "100", "-i", "0.03", "-W", "1", "10.1.0.13")
			pinged <- string(out)
		}()
		const flood = 300000
		// LLDP frames claiming every chassis and port (unsigned: a naive
		// forger) at line rate from a1's port
		script := fmt.Sprintf(`
import socket, struct, random
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
src = bytes.fromhex(%q)
for i in range(%d):
    chassis = b"\x07" + ("dpid:%%016x" %% random.randint(1, 8)).encode()
    port = b"\x07" + str(random.randint(1, 400)).encode()
    tlv = lambda t, v: struct.pack("!H", t << 9 | len(v)) + v
    s.send(b"\x01\x80\xc2\x00\x00\x0e" + src + b"\x88\xcc" + tlv(1, chassis) + tlv(2, port) + tlv(3, b"\x00\x78") + b"\x00\x00")
`, strings.ReplaceAll(e.ep(1, 1).MAC, ":", ""), flood)
		start := time.Now()
		if out, err := e.topo.Exec(e.ctx, e.ep(1, 1).Namespace, "python3", "-c", script); err != nil {
			t.Fatalf("LLDP flood: %v\n%s", err, out)
		}
		took := time.Since(start)
		out := <-pinged
		time.Sleep(500 * time.Millisecond)
		pinAfter := s1.Stats()
		loss := regexp.MustCompile(`([\d.]+)% packet loss`).FindStringSubmatch(out)
		t.Logf("%d LLDP frames from a1 in %s: %d reached discovery as lldp-edge-port, %d packet-ins dropped by the controller's per-port allowance; neighbour's ping loss %s%%",
			flood, took.Round(time.Millisecond), sat.disc.Stats().EdgePort-edgeBefore, pinAfter.PacketInDropped-pinBefore.PacketInDropped, loss[1])
		if loss == nil || loss[1] != "0" {
			t.Errorf("the neighbour lost pings during the flood:\n%s", out)
		}
		if sat.disc.Stats().EdgePort == edgeBefore {
			t.Error("no frame of the flood was reported as LLDP on a VM's port")
		}
		if n := len(sat.model.Links()); n != links {
			t.Errorf("links %d -> %d during the flood", links, n)
		}
	})

	t.Run("router joins net1 and net2; gateways answer", func(t *testing.T) {
		e.t = t
		// b2 gets its address by DHCP first
		script := filepath.Join(dir, "udhcpc.sh")
		os.WriteFile(script, []byte("#!/bin/sh\nenv | grep -E '^(ip|router|dns|subnet|lease|staticroutes)=' > "+filepath.Join(dir, "dhcp-$1.env")+"\n[ \"$1\" = bound ] && ip addr add $ip/$mask dev $interface\nexit 0\n"), 0o755)
		out, err := e.topo.Exec(e.ctx, e.ep(2, 2).Namespace, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "5", "-T", "1", "-s", script)
		if err != nil {
			t.Fatalf("udhcpc: %v\n%s", err, out)
		}
		// the very first packet from the leased address passes: the
		// switch admits the address before the answer goes out (one ping,
		// no retry)
		if out, err := e.topo.Exec(e.ctx, e.ep(2, 2).Namespace, "ping", "-c", "1", "-W", "2", "10.2.0.1"); err != nil {
			t.Fatalf("the first packet after the DHCP lease was lost: %v\n%s", err, out)
		}
		env, _ := os.ReadFile(filepath.Join(dir, "dhcp-bound.env"))
		for _, want := range []string{"ip=10.2.0.128", "router=10.2.0.1", "dns=10.2.0.53", "subnet=255.255.255.0"} {
			if !strings.Contains(string(env), want) {
				t.Fatalf("DHCP lease lacks %s:\n%s\n%s", want, env, out)
			}
		}
		e.run(e.ep(2, 2).Namespace, "ip", "route", "replace", "default", "via", "10.2.0.1", "dev", "eth0")
		e.mustPing(1, 1, "10.1.0.1")   // gateway of net1
		e.mustPing(3, 1, "10.1.0.200") // a simulated interface
		e.mustPing(2, 2, "10.2.0.1")   // gateway of net2
		out1 := e.mustPing(1, 1, "10.2.0.128")
		if !strings.Contains(out1, "ttl=63") {
			t.Fatalf("routed ping without TTL decrement:\n%s", out1)
		}
		e.mustPing(2, 2, "10.1.0.13") // net2 -> net1 on another host
		if _, err := e.ping(1, 2, "10.2.0.128"); err == nil {
			t.Fatal("net3 is not attached to the router but reached net2")
		}
	})

	t.Run("applying the same configuration again changes nothing", func(t *testing.T) {
		e.t = t
		before := e.ovsFlowsRaw(1)
		cur, _ := mgr.Config()
		if _, err := mgr.Apply(cur); err != nil {
			t.Fatal(err)
		}
		if err := mgr.ReconcileNow(e.ctx); err != nil {
			t.Fatal(err)
		}
		st, _ := mgr.Status()
		for _, s := range st {
			if s.LastChanges != (vnet.Changes{}).String() {
				t.Fatalf("%s: a second reconciliation changed %s", s.Name, s.LastChanges)
			}
		}
		if after := e.ovsFlowsRaw(1); countFlows(after) != countFlows(before) {
			t.Fatalf("flow count changed %d -> %d", countFlows(before), countFlows(after))
		}
	})

	t.Run("stateless security group allows tcp/22 from net2 only", func(t *testing.T) {
		e.t = t
		stateless := false
		if _, err := mgr.Update(func(c *vnet.Config) error {
			c.SecurityGroups = append(c.SecurityGroups, vnet.SecurityGroup{Name: "ssh", Stateful: &stateless, Rules: []vnet.Rule{
				{Protocol: "tcp", PortMin: 22, RemoteCIDR: "10.2.0.0/24"},
				{Direction: "egress", Protocol: "tcp", RemoteCIDR: "10.2.0.0/24"}, // a1 may only send TCP to net2
			}})
			for i := range c.Interfaces {
				if c.Interfaces[i].Name == "a1" {
					c.Interfaces[i].SecurityGroups = []string{"ssh"}
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		waitReconciled(t, mgr)
		server, err := e.topo.ExecCommand(e.ctx, e.ep(1, 1).Namespace, "busybox", "nc", "-l", "-p", "22")
		if err != nil {
			t.Fatal(err)
		}
		if err := server.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { server.Process.Kill(); server.Wait() }()
		time.Sleep(200 * time.Millisecond)
		if out, err := e.ping(2, 2, "10.1.0.11"); err == nil {
			t.Fatalf("ping passed the security group:\n%s", out)
		}
		out, err := e.topo.Exec(e.ctx, e.ep(2, 2).Namespace, "sh", "-c", "echo hello | busybox nc -w 2 10.1.0.11 22")
		if err != nil {
			t.Fatalf("tcp/22 from net2 blocked: %v\n%s", err, out)
		}
		// egress: a1 may not ping anybody any more, not even in its own network
		if out, err := e.ping(1, 1, "10.1.0.13"); err == nil {
			t.Fatalf("a1 pinged past its egress rules:\n%s", out)
		}
		// from net1 (not in 10.2.0.0/24, not in the group) tcp/22 is blocked too
		if out, err := e.topo.Exec(e.ctx, e.ep(3, 1).Namespace, "sh", "-c", "echo hello | busybox nc -w 1 10.1.0.11 22"); err == nil {
			t.Fatalf("tcp/22 from net1 passed:\n%s", out)
		}
		// undo for the next subtests
		if _, err := mgr.Update(func(c *vnet.Config) error {
			for i := range c.Interfaces {
				c.Interfaces[i].SecurityGroups = nil
			}
			c.SecurityGroups = nil
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		waitReconciled(t, mgr)
	})

	t.Run("stateful security group: tcp/22 in, replies to a1's own traffic, cut on rule removal, zones per network", func(t *testing.T) {
		e.t = t
		setRules := func(rules ...vnet.Rule) {
			t.Helper()
			if _, err := mgr.Update(func(c *vnet.Config) error {
				c.SecurityGroups = []vnet.SecurityGroup{{Name: "guard", Rules: rules}} // stateful by default
				for i := range c.Interfaces {
					if n := c.Interfaces[i].Name; n == "a1" || n == "c1" {
						c.Interfaces[i].SecurityGroups = []string{"guard"}
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			waitReconciled(t, mgr)
		}
		ssh := vnet.Rule{Protocol: "tcp", PortMin: 22}
		setRules(ssh)
		defer func() {
			if _, err := mgr.Update(func(c *vnet.Config) error {
				for i := range c.Interfaces {
					c.Interfaces[i].SecurityGroups = nil
				}
				c.SecurityGroups = nil
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			waitReconciled(t, mgr)
		}()
		// the switch reports the ct flows as they were written: once the
		// start-up window is over, a pass changes nothing
		for try := 0; ; try++ {
			if err := mgr.ReconcileNow(e.ctx); err != nil {
				t.Fatal(err)
			}
			st, _ := mgr.Status()
			var changed []string
			for _, s := range st {
				if s.Settling || s.LastChanges != (vnet.Changes{}).String() {
					changed = append(changed, fmt.Sprintf("%s: %s (settling %v)", s.Name, s.LastChanges, s.Settling))
				}
			}
			if len(changed) == 0 {
				break
			}
			if try == 20 {
				t.Fatalf("reconciliations of the ct flows keep changing them: %v", changed)
			}
			time.Sleep(500 * time.Millisecond)
		}
		if dump := e.ovsFlows(1, "table=5"); !strings.Contains(dump, "ct_state=+new+trk,ct_zone=1,tcp") || !strings.Contains(dump, "actions=ct(commit,zone=1),goto_table:6") {
			t.Fatalf("no stateful ingress flows on h1 as ovs-ofctl prints them:\n%s", dump)
		}
		// a1 pings out (MAC2MAC and over GRE): the replies come back
		e.mustPing(1, 1, "10.1.0.12")
		e.mustPing(1, 1, "10.1.0.13")
		// others cannot ping a1
		if out, err := e.ping(3, 1, "10.1.0.11"); err == nil {
			t.Fatalf("a3 pinged the guarded a1:\n%s", out)
		}
		// a1 opens a TCP connection out; data flows both ways
		srv, err := e.topo.ExecCommand(e.ctx, e.ep(3, 1).Namespace, "sh", "-c", "echo pong | busybox nc -l -p 5001")
		if err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		srv.Stdout = &got
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		out, err := e.topo.Exec(e.ctx, e.ep(1, 1).Namespace, "sh", "-c", "echo ping | busybox nc -w 2 10.1.0.13 5001")
		srv.Wait()
		if err != nil || !strings.Contains(string(out), "pong") || !strings.Contains(got.String(), "ping") {
			t.Fatalf("a1's outgoing TCP connection: %v, a1 got %q, a3 got %q", err, out, got.String())
		}
		// related: the ICMP port-unreachable for a1's UDP datagram reaches a1
		probe := "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(2)\ns.connect(('10.1.0.13',5999))\ns.send(b'x')\ntry:\n  s.recv(10); print('data')\nexcept ConnectionRefusedError: print('refused')\nexcept socket.timeout: print('timeout')\n"
		if out := e.run(e.ep(1, 1).Namespace, "python3", "-c", probe); !strings.Contains(out, "refused") {
			t.Fatalf("the ICMP error for a1's datagram did not come back (related traffic): %s", out)
		}
		// tcp/22 in: a long-lived connection from a2 ticks into a file
		file := filepath.Join(e.dir, "ssh-in")
		in, err := e.topo.ExecCommand(e.ctx, e.ep(1, 1).Namespace, "sh", "-c", "exec busybox nc -l -p 22 > "+file)
		if err != nil {
			t.Fatal(err)
		}
		stdin, keepOpen := io.Pipe() // the server's stdin stays open: it sends no FIN
		in.Stdin = stdin
		if err := in.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { keepOpen.Close(); in.Process.Kill(); in.Wait() }()
		time.Sleep(200 * time.Millisecond)
		cl, err := e.topo.ExecCommand(e.ctx, e.ep(2, 1).Namespace, "sh", "-c", "while true; do echo tick; sleep 0.2; done | busybox nc 10.1.0.11 22")
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cl.Process.Kill(); cl.Wait() }()
		size := func() int64 {
			st, err := os.Stat(file)
			if err != nil {
				return 0
			}
			return st.Size()
		}
		grows := func() bool {
			a := size()
			time.Sleep(1500 * time.Millisecond)
			return size() > a
		}
		debug := func() string {
			ct, _ := e.topo.OVS(e.ctx, 1, "ovs-appctl", "dpctl/dump-conntrack", "-m")
			return string(ct) + e.ovsFlowsStats(1, "table=5") + e.ovsFlowsStats(1, "table=2")
		}
		if !grows() || size() < 20 {
			t.Fatalf("the tcp/22 connection into a1 carries nothing (%d bytes)\n%s", size(), debug())
		}
		// a change that still allows it: the connection lives on
		setRules(ssh, vnet.Rule{Protocol: "icmp"})
		if !grows() {
			t.Fatalf("a rule change that still allows tcp/22 cut the connection (%d bytes)\n%s", size(), debug())
		}
		// overlapping networks, same 5-tuple: a1 (net1) sends UDP 40000 -> a3:5000;
		// a3's answer comes back to a1, the same tuple from c3 (net3) does not reach c1
		udp := func(host, vm int, script string) *strings.Builder {
			cmd, err := e.topo.ExecCommand(e.ctx, e.ep(host, vm).Namespace, "python3", "-c", script)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			cmd.Stdout = &b
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			return &b
		}
		recv := "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',40000))\ns.settimeout(4)\n%s\ntry:\n  while True: print(s.recv(100).decode(), flush=True)\nexcept Exception: pass\n"
		send := "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',5000))\ns.sendto(b'%s',('10.1.0.11',40000))\n"
		a1got := udp(1, 1, fmt.Sprintf(recv, "s.sendto(b'hi',('10.1.0.13',5000))"))
		c1got := udp(1, 2, fmt.Sprintf(recv, ""))
		time.Sleep(500 * time.Millisecond)
		e.run(e.ep(3, 2).Namespace, "python3", "-c", fmt.Sprintf(send, "from-net3"))
		e.run(e.ep(3, 1).Namespace, "python3", "-c", fmt.Sprintf(send, "from-net1"))
		time.Sleep(4500 * time.Millisecond)
		if !strings.Contains(a1got.String(), "from-net1") {
			t.Errorf("a1 did not get the UDP answer to its own datagram: %q", a1got.String())
		}
		if c1got.String() != "" {
			t.Errorf("c1 (net3) got %q: net1's connection state leaked into net3", c1got.String())
		}
		// removing the rule cuts the open connection (zone 1 flushed)
		setRules(vnet.Rule{Protocol: "icmp"})
		time.Sleep(500 * time.Millisecond)
		if grows() {
			ct, _ := e.topo.OVS(e.ctx, 1, "ovs-appctl", "dpctl/dump-conntrack", "zone=1")
			t.Fatalf("the tcp/22 connection survived the removal of its rule (%d bytes); conntrack:\n%s", size(), ct)
		}
		// and a new one is refused
		if out, err := e.topo.Exec(e.ctx, e.ep(2, 1).Namespace, "sh", "-c", "echo hello | busybox nc -w 1 10.1.0.11 22"); err == nil {
			t.Fatalf("a new tcp/22 connection passed after the rule was removed:\n%s", out)
		}
	})

	t.Run("a trunk port with two VLANs reaches two networks", func(t *testing.T) {
		e.t = t
		ep := e.ep(3, 2) // c3's port becomes a trunk: vlan 10 in net1, vlan 20 in net2
		if _, err := mgr.Update(func(c *vnet.Config) error {
			kept := c.Interfaces[:0]
			for _, in := range c.Interfaces {
				if in.Name != "c3" {
					kept = append(kept, in)
				}
			}
			c.Interfaces = append(kept,
				vnet.Interface{Name: "t10", Network: "net1", Datapath: "h3", Port: ep.Port, VLAN: 10, MAC: ep.MAC, IP: "10.1.0.23"},
				vnet.Interface{Name: "t20", Network: "net2", Datapath: "h3", Port: ep.Port, VLAN: 20, MAC: ep.MAC, IP: "10.2.0.23"})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		waitReconciled(t, mgr)
		mac := mustMAC(ep.MAC)
		a1 := mustMAC(e.ep(1, 1).MAC)
		capture := e.captureFilter(3, 2, "vlan")
		for _, p := range []struct {
			vlan     uint16
			src, dst string
			dstMAC   net.HardwareAddr
		}{{10, "10.1.0.23", "10.1.0.11", a1}, {20, "10.2.0.23", "10.2.0.128", mustMAC(e.ep(2, 2).MAC)}} {
			e.sendFrom(3, 2, tagged(p.vlan, mac, layers.EthernetBroadcast, &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
				HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest, SourceHwAddress: mac, SourceProtAddress: net.ParseIP(p.src).To4(),
				DstHwAddress: make([]byte, 6), DstProtAddress: net.ParseIP(p.dst).To4()}))
			e.sendFrom(3, 2, tagged(p.vlan, mac, p.dstMAC,
				&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.ParseIP(p.src).To4(), DstIP: net.ParseIP(p.dst).To4()},
				&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: p.vlan},
				gopacket.Payload([]byte("trunk"))))
		}
		time.Sleep(1500 * time.Millisecond)
		got := capture()
		for _, want := range []string{
			"vlan 10, p 0, ethertype ARP (0x0806), Reply 10.1.0.11 is-at " + e.ep(1, 1).MAC,
			"vlan 10, p 0, ethertype IPv4 (0x0800), 10.1.0.11 > 10.1.0.23: ICMP echo reply",
			"vlan 20, p 0, ethertype ARP (0x0806), Reply 10.2.0.128 is-at " + e.ep(2, 2).MAC,
			"vlan 20, p 0, ethertype IPv4 (0x0800), 10.2.0.128 > 10.2.0.23: ICMP echo reply",
		} {
			if !strings.Contains(got, want) {
				t.Fatalf("trunk capture lacks %q:\n%s", want, got)
			}
		}
	})

	t.Run("a spoofed source address is dropped and counted", func(t *testing.T) {
		e.t = t
		capture := e.captureFilter(2, 1, "icmp")
		src, dst := mustMAC(e.ep(1, 1).MAC), mustMAC(e.ep(2, 1).MAC)
		buf := gopacket.NewSerializeBuffer()
		gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			&layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeIPv4},
			&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.ParseIP("10.1.0.99").To4(), DstIP: net.ParseIP("10.1.0.12").To4()},
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 9, Seq: 1})
		for i := 0; i < 5; i++ {
			e.sendFrom(1, 1, buf.Bytes())
		}
		time.Sleep(1500 * time.Millisecond) // flow counters refresh about once a second
		if got := capture(); strings.Contains(got, "10.1.0.99") {
			t.Fatalf("spoofed packets arrived:\n%s", got)
		}
		dump := e.ovsFlowsStats(1, "table=1,in_port=1")
		m := regexp.MustCompile(`n_packets=(\d+),.*priority=100,in_port=1 actions=drop`).FindStringSubmatch(dump)
		if m == nil || m[1] == "0" {
			t.Fatalf("the anti-spoofing drop flow did not count the packets:\n%s", dump)
		}
	})

	t.Run("DHCP server packets from a VM are dropped", func(t *testing.T) {
		e.t = t
		capture := e.captureFilter(2, 1, "udp")
		src, dst := mustMAC(e.ep(1, 1).MAC), mustMAC(e.ep(2, 1).MAC)
		udpFrame := func(dstMAC net.HardwareAddr, dstIP string, sport, dport layers.UDPPort) []byte {
			buf := gopacket.NewSerializeBuffer()
			ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP("10.1.0.11").To4(), DstIP: net.ParseIP(dstIP).To4()}
			udp := &layers.UDP{SrcPort: sport, DstPort: dport}
			udp.SetNetworkLayerForChecksum(ip)
			gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
				&layers.Ethernet{SrcMAC: src, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload("offer: take 10.1.0.66, gateway 10.1.0.11"))
			return buf.Bytes()
		}
		for i := 0; i < 5; i++ {
			e.sendFrom(1, 1, udpFrame(dst, "10.1.0.12", 67, 68))
			e.sendFrom(1, 1, udpFrame(mustMAC("ff:ff:ff:ff:ff:ff"), "255.255.255.255", 67, 68))
		}
		e.sendFrom(1, 1, udpFrame(dst, "10.1.0.12", 5067, 5068)) // other UDP goes through
		time.Sleep(1500 * time.Millisecond)
		got := capture()
		if strings.Contains(got, ".67 >") || strings.Contains(got, "bootps") {
			t.Fatalf("DHCP server packets from a1 reached a2:\n%s", got)
		}
		if !strings.Contains(got, ".5067 > 10.1.0.12.5068") {
			t.Fatalf("the control packet did not arrive (is the capture working?):\n%s", got)
		}
		dump := e.ovsFlowsStats(1, "table=1,in_port=1,udp")
		m := regexp.MustCompile(`n_packets=(\d+),.*priority=210,udp,in_port=1,tp_src=67,tp_dst=68 actions=drop`).FindStringSubmatch(dump)
		if m == nil || m[1] != "10" {
			t.Fatalf("the DHCP server drop flow did not count 10 packets:\n%s", dump)
		}
	})

	t.Run("a VM's port gets no LLDP, its LLDP makes no link, and a MAC it spoofs is not learned", func(t *testing.T) {
		vm := e.ep(1, 1) // interface a1
		port := uint32(vm.OFPort)
		// no probe goes out to the VM: capture for 3 probe intervals
		out, _ := e.topo.Exec(e.ctx, vm.Namespace, "timeout", "2", "tcpdump", "-c", "1", "-i", "eth0", "-nn", "ether", "proto", "0x88cc")
		if strings.Contains(string(out), "LLDP") || strings.Contains(string(out), "0x88cc") {
			t.Fatalf("an LLDP probe reached the VM:\n%s", out)
		}
		// a genuine probe, captured off a link, relayed into the VM's port:
		// refused as coming from a VM's port, no link
		links := len(sat.model.Links())
		before := sat.disc.Stats().EdgePort
		captured := captureLLDP(t, ctl, 2)
		if err := e.topo.SendFrame(e.ctx, vm.Namespace, "eth0", captured); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "an lldp-edge-port event", 5*time.Second, func() bool { return sat.disc.Stats().EdgePort > before })
		for _, l := range sat.model.Links() {
			if uint64(l.Dst.DPID) == 1 && l.Dst.Port == port || uint64(l.Src.DPID) == 1 && l.Src.Port == port {
				t.Fatalf("a link on the VM's port: %+v", l)
			}
		}
		if n := len(sat.model.Links()); n != links {
			t.Fatalf("links %d -> %d", links, n)
		}
		// the VM sends ARP from a3's MAC (h3's vm1): the data path drops it,
		// and a3 must not move to h1
		spoof := arpFrom(t, e.ep(3, 1).MAC, "10.1.0.13", "10.1.0.12")
		for i := 0; i < 3; i++ {
			if err := e.topo.SendFrame(e.ctx, vm.Namespace, "eth0", spoof); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(300 * time.Millisecond)
		for _, h := range sat.model.Hosts() {
			if strings.EqualFold(h.MAC, e.ep(3, 1).MAC) && uint64(h.DPID) == 1 {
				t.Fatalf("the spoofed MAC was learned on h1: %+v", h)
			}
		}
		for _, ev := range sat.model.Events() {
			if ev.Kind == "host-move" && strings.Contains(ev.Message, e.ep(3, 1).MAC) {
				t.Fatalf("a false host move: %+v", ev)
			}
		}
		// ... and the operator hears of it: the port of one interface sent
		// from another MAC than the configured one (an event, once, and a
		// vnet status problem)
		spoofed := strings.ToLower(e.ep(3, 1).MAC)
		mismatches := 0
		for _, ev := range sat.model.Events() {
			if ev.Kind == "interface-mac-mismatch" && strings.Contains(ev.Message, "sends from "+spoofed) {
				mismatches++
			}
		}
		_, notes := mgr.Status()
		if mismatches != 1 || !strings.Contains(strings.Join(notes, "\n"), "its port sends from MAC "+spoofed) {
			t.Fatalf("MAC mismatch: %d events, notes %q", mismatches, notes)
		}
	})

	t.Run("restart of Satellite loses no ping and reinstalls no flow", func(t *testing.T) {
		e.t = t
		durBefore := e.flowDurations(1)
		cmd, err := e.topo.ExecCommand(e.ctx, e.ep(1, 1).Namespace, "ping", "-i", "0.01", "-c", "400", "-W", "1", "10.1.0.13")
		if err != nil {
			t.Fatal(err)
		}
		var outBuf strings.Builder
		cmd.Stdout = &outBuf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		stop()
		stopped = true
		time.Sleep(500 * time.Millisecond) // the switches keep forwarding alone (fail_mode=secure)
		ctl2, mgr2, stop2 := startSatellite(t, sock, dir)
		// the restarted Satellite serves the subtests that follow
		ctl, mgr, stop, stopped = ctl2, mgr2, stop2, false
		e.ctl, e.mgr = ctl2, mgr2
		waitConverged(t, mgr2, 3)
		cmd.Wait()
		out := outBuf.String()
		if !strings.Contains(out, " 0% packet loss") {
			t.Fatalf("pings lost across the restart:\n%s", lastLines(out, 3))
		}
		// once every switch and link is back the start-up window closes
		// and a full pass runs: from the restart on, not one flow or group
		// may have been added, changed or deleted on any switch (a pass
		// made while the restarted Satellite did not know the direct links
		// yet must not have replaced the MAC2MAC flows)
		waitSettled(t, mgr2, 3)
		st, _ := mgr2.Status()
		for _, s := range st {
			if s.Total != (vnet.Changes{}) {
				t.Fatalf("%s: the restart changed the switch: %+v (last pass %s)", s.Name, s.Total, s.LastChanges)
			}
		}
		durAfter := e.flowDurations(1)
		if durAfter <= durBefore {
			t.Fatalf("flow ages did not keep growing (%d -> %d): flows were reinstalled", durBefore, durAfter)
		}
	})

	t.Run("a released lease goes to another client", func(t *testing.T) {
		e.t = t
		// (on the restarted Satellite: b2's lease came back from the state
		// file.) net2's range shrinks to b2's address; c1 (h1-vm2) moves to
		// net2 and leases its address: the range is exhausted
		if _, err := mgr.Update(func(c *vnet.Config) error {
			for i := range c.Networks {
				if c.Networks[i].Name == "net2" {
					c.Networks[i].DHCPStart, c.Networks[i].DHCPEnd = "10.2.0.128", "10.2.0.128"
				}
			}
			for i := range c.Interfaces {
				if c.Interfaces[i].Name == "c1" {
					c.Interfaces[i].Network, c.Interfaces[i].IP = "net2", ""
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		waitReconciled(t, mgr)
		e.readdress(1, 2, "")
		// the script records the address bound in $OUT and configures it
		script := filepath.Join(dir, "udhcpc-release.sh")
		os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = bound ] && echo \"$ip\" > \"$OUT\" && ip addr replace $ip/$mask dev $interface\nexit 0\n"), 0o755)
		udhcpc := func(host, vm int, args ...string) (string, error) {
			out := filepath.Join(dir, fmt.Sprintf("bound-h%d-vm%d", host, vm))
			os.Remove(out)
			_, err := e.topo.Exec(e.ctx, e.ep(host, vm).Namespace, append([]string{"env", "OUT=" + out,
				"busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "3", "-T", "1", "-s", script}, args...)...)
			b, _ := os.ReadFile(out)
			return strings.TrimSpace(string(b)), err
		}
		if ip, err := udhcpc(1, 2); err == nil || ip != "" {
			t.Fatalf("c1 got %q from an exhausted range (%v)", ip, err)
		}
		leaseOf := func(ip string) vnet.Lease {
			for _, l := range mgr.Leases() {
				if l.IP == ip {
					return l
				}
			}
			return vnet.Lease{}
		}
		if l := leaseOf("10.2.0.128"); l.MAC != e.ep(2, 2).MAC || l.State != vnet.LeaseBound {
			t.Fatalf("b2's lease after the restart: %+v", l)
		}
		// b2 renews its lease with a udhcpc that stays, then releases it
		// (SIGUSR2; udhcpc -q -R would quit before it is bound and send
		// no release)
		b2ns := e.ep(2, 2).Namespace
		pidfile, bound := filepath.Join(dir, "udhcpc-b2.pid"), filepath.Join(dir, "bound-b2")
		client, err := e.topo.ExecCommand(e.ctx, b2ns, "env", "OUT="+bound, "busybox", "udhcpc", "-i", "eth0", "-f", "-T", "1", "-p", pidfile, "-s", script)
		if err != nil {
			t.Fatal(err)
		}
		if err := client.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { client.Process.Kill(); client.Wait() }()
		deadline := time.Now().Add(10 * time.Second)
		for b, _ := os.ReadFile(bound); strings.TrimSpace(string(b)) != "10.2.0.128"; b, _ = os.ReadFile(bound) {
			if time.Now().After(deadline) {
				t.Fatalf("b2's udhcpc is not bound to 10.2.0.128: %q", b)
			}
			time.Sleep(50 * time.Millisecond)
		}
		e.run(b2ns, "sh", "-c", "kill -USR2 $(cat "+pidfile+")")
		deadline = time.Now().Add(5 * time.Second)
		for l := leaseOf("10.2.0.128"); l.State != vnet.LeaseReleased || l.MAC != e.ep(2, 2).MAC; l = leaseOf("10.2.0.128") {
			if time.Now().After(deadline) {
				t.Fatalf("no DHCPRELEASE arrived from b2: %+v", l)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// the released address goes to c1 at once
		if ip, err := udhcpc(1, 2); err != nil || ip != "10.2.0.128" {
			t.Fatalf("c1 after b2's release: %q %v", ip, err)
		}
		if l := leaseOf("10.2.0.128"); l.MAC != e.ep(1, 2).MAC || l.State != vnet.LeaseBound {
			t.Fatalf("10.2.0.128 after c1's request: %+v", l)
		}
		// c1 reaches its gateway from its leased address (once the lease's
		// reconciliation is done: mustPing retries)
		e.mustPing(1, 2, "10.2.0.1")
		// b2 still has the address configured, but the anti-spoofing flows
		// no longer let it send from it
		if out, err := e.ping(2, 2, "10.2.0.1"); err == nil {
			t.Fatalf("b2 still sends from the address it released:\n%s", out)
		}
	})
}

// waitSettled waits until the manager's start-up window is over and a
// full pass has run on n switches.
func waitSettled(t *testing.T, mgr *vnet.Manager, n int) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for {
		st, _ := mgr.Status()
		ok := len(st) == n
		for _, s := range st {
			ok = ok && s.Connected && !s.Reconciled.IsZero() && !s.Settling
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the start-up window did not close: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitConverged(t *testing.T, mgr *vnet.Manager, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, notes := mgr.Status()
		ok := len(st) == n
		for _, s := range st {
			ok = ok && s.Connected && !s.Reconciled.IsZero() && s.Error == "" && len(notes) == 0
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not converged: %+v %v", st, notes)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *env) ovsFlowsRaw(host int) string {
	out, err := e.topo.OVS(e.ctx, host, "ovs-ofctl", "-O", "OpenFlow13", "--no-stats", "dump-flows", "br-int")
	if err != nil {
		e.t.Fatal(err)
	}
	return string(out)
}

func (e *env) ovsFlows(host int, filter string) string {
	out, err := e.topo.OVS(e.ctx, host, "ovs-ofctl", "-O", "OpenFlow13", "--no-stats", "dump-flows", "br-int", filter)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(out)
}

func (e *env) ovsFlowsStats(host int, filter string) string {
	out, err := e.topo.OVS(e.ctx, host, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int", filter)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(out)
}

// flowDurations sums the ages (seconds) of h's virtual-network flows.
func (e *env) flowDurations(host int) int {
	out, err := e.topo.OVS(e.ctx, host, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int", "table=4")
	if err != nil {
		e.t.Fatal(err)
	}
	sum := 0
	for _, m := range regexp.MustCompile(`duration=(\d+)\.`).FindAllStringSubmatch(string(out), -1) {
		var d int
		fmt.Sscan(m[1], &d)
		sum += d
	}
	return sum
}

func countFlows(dump string) int { return strings.Count(dump, "priority=") }

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// capture starts tcpdump in an endpoint and returns a function that stops
// it and returns what it saw.
func (e *env) capture(host, vm int) func() string { return e.captureFilter(host, vm, "arp or icmp") }

func (e *env) captureFilter(host, vm int, filter string) func() string {
	e.t.Helper()
	cmd, err := e.topo.ExecCommand(e.ctx, e.ep(host, vm).Namespace, "tcpdump", "-e", "-n", "-l", "-i", "eth0", filter)
	if err != nil {
		e.t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	return func() string {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		return out.String()
	}
}

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// waitReconciled waits for a reconciliation that started after now.
func waitReconciled(t *testing.T, mgr *vnet.Manager) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(15 * time.Second)
	for {
		st, _ := mgr.Status()
		ok := true
		for _, s := range st {
			ok = ok && s.Reconciled.After(start) && s.Error == ""
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reconciliation: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestConfigBeforeOrAfterConnectConverge applies one configuration before
// the switches connect (lab A) and after (lab B): both converge to the
// same flow tables.
func TestConfigBeforeOrAfterConnectConverge(t *testing.T) {
	lab.RequireRoot(t)
	ctx := context.Background()
	config := func(hosts []lab.Host) vnet.Config {
		topo := &lab.Topology{Hosts: hosts}
		c := labConfig(topo)
		c.Networks = []vnet.Network{{Name: "net1", Subnet: "10.1.0.0/24", Gateway: "10.1.0.1"}, {Name: "net2", Subnet: "10.2.0.0/24", Gateway: "10.2.0.1"}}
		c.Interfaces = []vnet.Interface{
			vif("a1", "net1", &hosts[0], 1, "10.1.0.11"), vif("a2", "net1", &hosts[1], 1, "10.1.0.12"),
			vif("a3", "net1", &hosts[2], 1, "10.1.0.13"), vif("b3", "net2", &hosts[2], 2, "10.2.0.13"),
		}
		c.Routers = []vnet.Router{{Name: "r1", Interfaces: []vnet.RouterInterface{{Network: "net1"}, {Network: "net2"}}}}
		return c
	}
	dumps := func(topo *lab.Topology) []string {
		var out []string
		for i := range topo.Hosts {
			raw, err := topo.OVS(ctx, i+1, "ovs-ofctl", "-O", "OpenFlow13", "--no-stats", "--sort", "dump-flows", "br-int")
			if err != nil {
				t.Fatal(err)
			}
			groups, err := topo.OVS(ctx, i+1, "ovs-ofctl", "-O", "OpenFlow13", "dump-groups", "br-int")
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(raw)+string(groups)), "\n")
			sort.Strings(lines) // equal priorities are listed in no fixed order
			out = append(out, strings.Join(lines, "\n"))
		}
		return out
	}
	// stable returns the dumps once two reads 1.5 s apart agree (links found, reconciled)
	stable := func(topo *lab.Topology, mgr *vnet.Manager) []string {
		waitConverged(t, mgr, 3)
		prev := dumps(topo)
		for i := 0; i < 20; i++ {
			time.Sleep(1500 * time.Millisecond)
			cur := dumps(topo)
			if strings.Join(cur, "") == strings.Join(prev, "") && strings.Contains(cur[0], "actions=output:102") {
				return cur
			}
			prev = cur
		}
		t.Fatal("flow tables did not settle")
		return nil
	}

	// A: configuration first, then the switches
	dirA := t.TempDir()
	sockA := filepath.Join(dirA, "of.sock")
	_, mgrA, stopA := startSatellite(t, sockA, dirA)
	hosts := make([]lab.Host, 3)
	for i := range hosts {
		hosts[i] = lab.Host{Name: fmt.Sprintf("h%d", i+1), DPID: fmt.Sprintf("%016x", i+1),
			Endpoints: []lab.Endpoint{{Port: "vm1", MAC: lab.VMMAC(i+1, 1)}, {Port: "vm2", MAC: lab.VMMAC(i+1, 2)}}}
	}
	if _, err := mgrA.Apply(config(hosts)); err != nil {
		t.Fatal(err)
	}
	topoA := lab.Start(t, lab.Config{Hosts: 3, Controllers: []string{"unix:" + sockA}})
	before := stable(topoA, mgrA)
	stopA()
	if err := topoA.Down(ctx); err != nil {
		t.Fatal(err)
	}

	// B: the switches first, then the configuration
	dirB := t.TempDir()
	sockB := filepath.Join(dirB, "of.sock")
	_, mgrB, stopB := startSatellite(t, sockB, dirB)
	defer stopB()
	topoB := lab.Start(t, lab.Config{Hosts: 3, Controllers: []string{"unix:" + sockB}})
	waitConverged(t, mgrB, 0)
	if _, err := mgrB.Apply(config(topoB.Hosts)); err != nil {
		t.Fatal(err)
	}
	after := stable(topoB, mgrB)
	for i := range before {
		if before[i] != after[i] {
			t.Fatalf("h%d differs:\n--- config before connect\n%s\n--- config after connect\n%s", i+1, before[i], after[i])
		}
	}
	if n := strings.Count(before[0], "priority="); n < 30 {
		t.Fatalf("only %d flows on h1: the comparison proves little", n)
	}
}

// captureLLDP returns an LLDP frame as the controller received it on a
// switch-to-switch port of dpid (port > 100 in the lab): what a tap on
// that link would record.
func captureLLDP(t *testing.T, ctl *controller.Controller, dpid uint64) []byte {
	t.Helper()
	sub := ctl.Bus().Subscribe(1024, controller.PacketIn)
	defer sub.Close()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-sub.C:
			d := ev.PacketIn.Data
			if ev.DPID == dpid && ev.PacketIn.InPort() > 100 && len(d) > 14 && d[12] == 0x88 && d[13] == 0xcc {
				return append([]byte(nil), d...)
			}
		case <-timeout:
			t.Fatalf("no LLDP received on a link of %016x in 5 s", dpid)
		}
	}
}

// arpFrom builds a broadcast ARP request from mac/ip asking for target.
func arpFrom(t *testing.T, mac, ip, target string) []byte {
	t.Helper()
	hw, err := net.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	f := append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, hw...)
	f = append(f, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1)
	f = append(f, hw...)
	f = append(f, net.ParseIP(ip).To4()...)
	f = append(f, 0, 0, 0, 0, 0, 0)
	f = append(f, net.ParseIP(target).To4()...)
	return f
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
