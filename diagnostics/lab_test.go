package diagnostics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
	"github.com/satellite-sdn/satellite/lab"
	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/vnet"
)

// labEnv is Satellite (controller, topology, discovery, virtual networks)
// running against a three-host OVS lab: h1 and h2 directly linked in
// segment a, h3 in segment b behind GRE.
type labEnv struct {
	t      testing.TB
	ctx    context.Context
	ctl    *controller.Controller
	model  *topology.Model
	mgr    *vnet.Manager
	topo   *lab.Topology
	tracer *Tracer
}

func startLab(t testing.TB) *labEnv {
	dir := t.TempDir()
	sock := filepath.Join(dir, "of.sock")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("SAT_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctl := controller.New(controller.Config{Logger: log})
	ln, err := controller.Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	store, err := vnet.OpenBolt(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	model := topology.New(topology.Options{})
	// no periodic resync: the tests change flows by hand and trace before
	// anything repairs them
	mgr, err := vnet.NewManager(store, ctl, model, vnet.Options{Logger: log, Resync: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 4)
	go func() { ctl.Serve(ctx, ln); done <- struct{}{} }()
	go func() {
		topology.NewTracker(topology.TrackerConfig{Logger: log}, ctl, model).Run(ctx)
		done <- struct{}{}
	}()
	go func() {
		lldp.NewDiscovery(lldp.DiscoveryConfig{Logger: log, Interval: 500 * time.Millisecond}, ctl, model, lldp.NewRandomSigner()).Run(ctx)
		done <- struct{}{}
	}()
	go func() { mgr.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		for i := 0; i < 4; i++ {
			<-done
		}
		store.Close()
	})
	e := &labEnv{t: t, ctx: context.Background(), ctl: ctl, model: model, mgr: mgr}
	e.topo = lab.Start(t, lab.Config{Hosts: 3, Controllers: []string{"unix:" + sock}, BFD: true}) // BFD: tunnel liveness
	e.tracer = NewTracer(ctl, model, mgr, -1)                                                     // always read the tables
	return e
}

func (e *labEnv) ep(host, vm int) lab.Endpoint { return e.topo.Host(host).Endpoints[vm-1] }

func (e *labEnv) vif(name, network string, host, vm int, ip string) vnet.Interface {
	ep := e.ep(host, vm)
	return vnet.Interface{Name: name, Network: network, Datapath: e.topo.Host(host).Name, Port: ep.Port, MAC: ep.MAC, IP: ip}
}

func (e *labEnv) ovs(host int, tool string, args ...string) string {
	e.t.Helper()
	out, err := e.topo.OVS(e.ctx, host, tool, args...)
	if err != nil {
		e.t.Fatalf("h%d %s %v: %v\n%s", host, tool, args, err, out)
	}
	return string(out)
}

// waitReady waits until every switch is reconciled with nothing left to
// change and the direct link h1-h2 is known both ways.
func (e *labEnv) waitReady() {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, notes := e.mgr.Status()
		ok := len(st) == 3 && len(notes) == 0
		for _, s := range st {
			ok = ok && s.Connected && !s.Reconciled.IsZero() && s.Error == "" && !s.Settling
		}
		direct := 0 // h1 <-> h2, the segment's MAC2MAC link
		h1, h2 := e.topo.Host(1).DatapathID, e.topo.Host(2).DatapathID
		for _, l := range e.model.Links() {
			src, dst := uint64(l.Src.DPID), uint64(l.Dst.DPID)
			if l.Kind == topology.LinkDirect && (src == h1 && dst == h2 || src == h2 && dst == h1) {
				direct++
			}
		}
		if ok && direct == 2 {
			if err := e.mgr.ReconcileNow(e.ctx); err == nil {
				st, _ = e.mgr.Status()
				if st[0].LastChanges == (vnet.Changes{}).String() && st[1].LastChanges == st[0].LastChanges && st[2].LastChanges == st[0].LastChanges {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("lab not ready: %+v %v, links %+v", st, notes, e.model.Links())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (e *labEnv) trace(r Request) *Result {
	e.t.Helper()
	res, err := e.tracer.Trace(e.ctx, r)
	if err != nil {
		e.t.Fatalf("trace %+v: %v", r, err)
	}
	e.t.Log(dumpTrace(res))
	if path := os.Getenv("SAT_TRACE_EXAMPLES"); path != "" { // README examples
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "$ satellite trace %s %s\n", r.From, r.To)
			res.WriteText(f)
			fmt.Fprintln(f)
			f.Close()
		}
	}
	return res
}

func dumpTrace(r *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s -> %s: %s: %s\n", r.From, r.To, r.Verdict, r.Summary)
	for _, h := range r.Hops {
		fl := "MISS"
		if h.Flow != nil {
			fl = fmt.Sprintf("prio %d %s actions=%s [%s %s %s]", h.Flow.Priority, h.Flow.Match, h.Flow.Actions, h.Flow.Owner.Kind, h.Flow.Owner.Network, h.Flow.Owner.Name)
		}
		fmt.Fprintf(&b, "  %s t%d in %d: %s\n     -> %s\n     %s %s\n", h.Switch, h.Table, h.InPort, fl, h.Out, h.Headers, h.Note)
	}
	if r.Drop != nil {
		fmt.Fprintf(&b, "  drop: %+v\n", *r.Drop)
	}
	if r.Intent != nil {
		fmt.Fprintf(&b, "  intent %s: %s\n", r.Intent.Verdict, strings.Join(r.Intent.Differences, "\n    "))
	}
	return b.String()
}

func (e *labEnv) hostOf(dpid uint64) int {
	for _, h := range e.topo.Hosts {
		if h.DatapathID == dpid {
			return h.Index
		}
	}
	e.t.Fatalf("no lab host has dpid %016x", dpid)
	return 0
}

// oracle runs ovs-appctl ofproto/trace on every switch the trace entered,
// with the packet as it arrived there, and checks that OVS's actions agree
// with the simulator's: the same output ports, the tunnel id, or a drop.
func (e *labEnv) oracle(r *Result) {
	e.t.Helper()
	if len(r.visits) == 0 {
		e.t.Fatal("the trace entered no switch")
	}
	for _, v := range r.visits {
		host := e.hostOf(v.at.DPID)
		out := e.ovs(host, "ovs-appctl", "ofproto/trace", "br-int", v.pkt.String())
		var ports []uint32
		for _, em := range v.res.Emits {
			if em.Port != PortController {
				ports = append(ports, em.Port)
			}
		}
		// OVS's trace still outputs to a port that is down (the frame is
		// lost there); the simulator calls that a drop
		var downPorts []uint32
		for _, d := range v.res.Drops {
			if d.Kind == DropPortDown {
				downPorts = append(downPorts, d.Port)
			}
		}
		if len(ports) == 0 && len(downPorts) > 0 {
			for _, p := range downPorts {
				if !regexp.MustCompile(fmt.Sprintf(`output:%d\b`, p)).MatchString(out) {
					e.t.Fatalf("h%d: the simulator sends to the down port %d, OVS does not:\n%s", host, p, out)
				}
			}
			continue
		}
		dp := regexp.MustCompile(`(?m)^Datapath actions: (.*)$`).FindStringSubmatch(out)
		if dp == nil {
			e.t.Fatalf("h%d ofproto/trace has no datapath actions:\n%s", host, out)
		}
		if len(ports) == 0 {
			if strings.Contains(dp[1], "drop") || !regexp.MustCompile(`(^|,)\d+($|,)`).MatchString(dp[1]) {
				continue // OVS drops it too (or only sends it to the controller)
			}
			e.t.Fatalf("h%d: the simulator drops %s, OVS does %q:\n%s\n%s", host, v.pkt, dp[1], out, dumpTrace(r))
		}
		if strings.TrimSpace(dp[1]) == "drop" {
			e.t.Fatalf("h%d: the simulator outputs %v, OVS drops:\n%s\n%s", host, ports, out, dumpTrace(r))
		}
		for _, em := range v.res.Emits {
			if em.Port == PortController {
				continue
			}
			if !regexp.MustCompile(fmt.Sprintf(`output:%d\b`, em.Port)).MatchString(out) {
				e.t.Fatalf("h%d: the simulator outputs to port %d, OVS's trace does not:\n%s\n%s", host, em.Port, out, dumpTrace(r))
			}
			if em.Packet.TunID != 0 && em.Packet.TunID != v.pkt.TunID && !strings.Contains(out, fmt.Sprintf("0x%x->tun_id", em.Packet.TunID)) {
				e.t.Fatalf("h%d: the simulator sends tun_id 0x%x, OVS's trace does not set it:\n%s", host, em.Packet.TunID, out)
			}
		}
	}
}

// labNetworks is the lab's virtual networks: net1 on all three hosts,
// net2 (DHCP) on h2 joined to net1 by router r1, net3 overlapping net1.
func (e *labEnv) labNetworks() vnet.Config {
	cfg := vnet.Config{}
	for i, h := range e.topo.Hosts {
		seg := "a"
		if i == 2 {
			seg = "b"
		}
		cfg.Datapaths = append(cfg.Datapaths, vnet.Datapath{Name: h.Name, DPID: h.DPID, Segment: seg})
	}
	cfg.Networks = []vnet.Network{
		{Name: "net1", Subnet: "10.1.0.0/24", Gateway: "10.1.0.1"},
		{Name: "net2", Subnet: "10.2.0.0/24", Gateway: "10.2.0.1", DHCP: true},
		{Name: "net3", Subnet: "10.1.0.0/24"},
	}
	cfg.Interfaces = []vnet.Interface{
		e.vif("a1", "net1", 1, 1, "10.1.0.11"),
		e.vif("a2", "net1", 2, 1, "10.1.0.12"),
		e.vif("a3", "net1", 3, 1, "10.1.0.13"),
		e.vif("c1", "net3", 1, 2, "10.1.0.11"),
		e.vif("c3", "net3", 3, 2, "10.1.0.13"),
		e.vif("b2", "net2", 2, 2, "10.2.0.12"),
	}
	cfg.Routers = []vnet.Router{{Name: "r1", Interfaces: []vnet.RouterInterface{{Network: "net1"}, {Network: "net2"}}}}
	if _, err := e.mgr.Apply(cfg); err != nil {
		e.t.Fatal(err)
	}
	return cfg
}

func TestTraceOnOVS(t *testing.T) {
	e := startLab(t)
	cfg := e.labNetworks()
	e.waitReady()
	cfg, _ = e.mgr.Config()
	netID := map[string]uint32{}
	for _, n := range cfg.Networks {
		netID[n.Name] = n.ID
	}

	t.Run("MAC2MAC across the direct link", func(t *testing.T) {
		e.t = t
		r := e.trace(Request{From: "a1", To: "a2"})
		if r.Verdict != Delivered || !strings.Contains(r.Summary, `"a2"`) {
			t.Fatalf("want delivered to a2:\n%s", dumpTrace(r))
		}
		if !strings.Contains(dumpTrace(r), "direct link to h2 port") {
			t.Fatalf("no direct-link hop:\n%s", dumpTrace(r))
		}
		if len(r.Intent.Differences) != 0 || r.Intent.Verdict != Delivered {
			t.Fatalf("intent differs on a converged network: %v", r.Intent.Differences)
		}
		e.oracle(r)
	})

	t.Run("GRE to the other segment", func(t *testing.T) {
		e.t = t
		r := e.trace(Request{From: "a1", To: "a3"})
		d := dumpTrace(r)
		if r.Verdict != Delivered || !strings.Contains(r.Summary, `"a3"`) {
			t.Fatalf("want delivered to a3:\n%s", d)
		}
		want := fmt.Sprintf("GRE underlay path 1 to h3 (gre-h3-p1), tun_id=0x%x -> h3 port", netID["net1"])
		if !strings.Contains(d, want) {
			t.Fatalf("no %q:\n%s", want, d)
		}
		if len(r.Intent.Differences) != 0 {
			t.Fatalf("intent differs: %v", r.Intent.Differences)
		}
		e.oracle(r)
	})

	t.Run("routed between two networks", func(t *testing.T) {
		e.t = t
		r := e.trace(Request{From: "a1", To: "10.2.0.12"})
		d := dumpTrace(r)
		if r.Verdict != Delivered || !strings.Contains(r.Summary, `"b2"`) {
			t.Fatalf("want delivered to b2:\n%s", d)
		}
		var routed *Hop
		for i := range r.Hops {
			if r.Hops[i].Table == vnet.TableRoute && r.Hops[i].Flow != nil && r.Hops[i].Flow.Owner.Kind == "router" {
				routed = &r.Hops[i]
			}
		}
		if routed == nil || routed.Flow.Owner.Name != "r1" || !strings.Contains(routed.Headers, "nw_ttl=63") || !strings.Contains(routed.Headers, "dl_dst="+e.ep(2, 2).MAC) {
			t.Fatalf("no routing hop with TTL 63 and b2's MAC:\n%s", d)
		}
		var r1net1 string
		for _, ri := range cfg.Routers[0].Interfaces {
			if ri.Network == "net2" {
				r1net1 = ri.MAC
			}
		}
		if !strings.Contains(routed.Headers, "dl_src="+r1net1) {
			t.Fatalf("the routed packet should come from r1's net2 MAC %s:\n%s", r1net1, d)
		}
		e.oracle(r)
	})

	t.Run("overlapping networks resolve to different ports", func(t *testing.T) {
		e.t = t
		r1 := e.trace(Request{From: "a1", To: "10.1.0.13"})
		r3 := e.trace(Request{From: "c1", To: "10.1.0.13"})
		if r1.Verdict != Delivered || r3.Verdict != Delivered || !strings.Contains(r1.Summary, `"a3"`) || !strings.Contains(r3.Summary, `"c3"`) {
			t.Fatalf("want a3 and c3:\n%s\n%s", dumpTrace(r1), dumpTrace(r3))
		}
		p1, p3 := r1.Outcomes[0].Port, r3.Outcomes[0].Port
		if p1 == p3 || p1 != uint32(e.ep(3, 1).OFPort) || p3 != uint32(e.ep(3, 2).OFPort) {
			t.Fatalf("net1 and net3's 10.1.0.13 should be different ports: %d and %d", p1, p3)
		}
		e.oracle(r1)
		e.oracle(r3)
	})

	t.Run("ARP answered by the controller, ARP for nobody", func(t *testing.T) {
		e.t = t
		r := e.trace(Request{From: "a1", To: "10.1.0.12", Proto: "arp"})
		if r.Verdict != Controller || !strings.Contains(r.Summary, "ARP reply: 10.1.0.12 is-at "+e.ep(2, 1).MAC) {
			t.Fatalf("want the controller's ARP reply:\n%s", dumpTrace(r))
		}
		r = e.trace(Request{From: "a1", To: "10.1.0.99"})
		if r.Verdict != Dropped || r.Drop == nil || !strings.Contains(r.Drop.Reason, "no one owns") {
			t.Fatalf("want ARP for an address nobody owns:\n%s", dumpTrace(r))
		}
		e.oracle(r)
	})

	t.Run("a spoofed source", func(t *testing.T) {
		e.t = t
		r := e.trace(Request{From: "a1", To: "a2", SrcIP: "10.1.0.99"})
		if r.Verdict != Dropped || r.Drop == nil || r.Drop.Table != vnet.TableClassify || !strings.Contains(r.Drop.Reason, "anti-spoofing") || r.Drop.Object != "interface a1" {
			t.Fatalf("want anti-spoofing on a1:\n%s", dumpTrace(r))
		}
		e.oracle(r)
	})

	t.Run("a security group without the rule", func(t *testing.T) {
		e.t = t
		if _, err := e.mgr.Update(func(c *vnet.Config) error {
			c.SecurityGroups = []vnet.SecurityGroup{{Name: "ssh", Rules: []vnet.Rule{{Direction: "ingress", Protocol: "tcp", PortMin: 22, RemoteCIDR: "10.2.0.0/24"}}}}
			for i := range c.Interfaces {
				if c.Interfaces[i].Name == "a1" {
					c.Interfaces[i].SecurityGroups = []string{"ssh"}
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		e.waitReady()
		r := e.trace(Request{From: "a3", To: "a1"})
		if r.Verdict != Dropped || r.Drop == nil || r.Drop.Switch != "h1" || r.Drop.Table != vnet.TableIngress || r.Drop.Object != "security group ssh" ||
			!strings.Contains(r.Drop.Reason, "no ingress rule that admits icmp from 10.1.0.13") {
			t.Fatalf("want the security group's drop:\n%s", dumpTrace(r))
		}
		e.oracle(r)
		ok := e.trace(Request{From: "b2", To: "a1", Proto: "tcp", DPort: 22})
		if ok.Verdict != Delivered {
			t.Fatalf("tcp/22 from net2 should pass:\n%s", dumpTrace(ok))
		}
		e.oracle(ok)
		if _, err := e.mgr.Update(func(c *vnet.Config) error {
			c.SecurityGroups = nil
			for i := range c.Interfaces {
				c.Interfaces[i].SecurityGroups = nil
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		e.waitReady()
	})

	t.Run("a flow deleted by hand", func(t *testing.T) {
		e.t = t
		mac := e.ep(3, 1).MAC
		e.ovs(3, "ovs-ofctl", "-O", "OpenFlow13", "del-flows", "br-int", fmt.Sprintf("table=%d,dl_dst=%s", vnet.TableL2, mac))
		r := e.trace(Request{From: "a1", To: "a3"})
		d := dumpTrace(r)
		if r.Verdict != Dropped || r.Drop == nil || r.Drop.Switch != "h3" || r.Drop.Table != vnet.TableL2 || !strings.Contains(r.Drop.Reason, "no interface in network net1 has MAC "+mac) {
			t.Fatalf("want a drop on h3 table 4:\n%s", d)
		}
		if r.Intent.Verdict != Delivered || !containsAll(r.Intent.Differences, "h3 table 4: intended flow priority=100", "dl_dst="+mac, "(interface a3 in net1) is missing on the switch") {
			t.Fatalf("the intent comparison should name the missing flow:\n%s", d)
		}
		e.oracle(r)
		e.waitReady() // the reconciler puts it back
		if r := e.trace(Request{From: "a1", To: "a3"}); r.Verdict != Delivered {
			t.Fatalf("not repaired:\n%s", dumpTrace(r))
		}
	})

	t.Run("a foreign higher-priority drop flow", func(t *testing.T) {
		e.t = t
		e.ovs(1, "ovs-ofctl", "-O", "OpenFlow13", "add-flow", "br-int", "table=1,priority=300,ip,nw_dst=10.1.0.12,actions=drop")
		defer e.ovs(1, "ovs-ofctl", "-O", "OpenFlow13", "del-flows", "br-int", "table=1,ip,nw_dst=10.1.0.12")
		r := e.trace(Request{From: "a1", To: "a2"})
		d := dumpTrace(r)
		if r.Verdict != Dropped || r.Drop == nil || r.Drop.Switch != "h1" || r.Drop.Table != vnet.TableClassify || !strings.HasPrefix(r.Drop.Object, "foreign") ||
			!strings.Contains(r.Drop.Reason, "foreign flow") {
			t.Fatalf("want a drop by the foreign flow:\n%s", d)
		}
		if !containsAll(r.Intent.Differences, "extra foreign flow priority 300 on h1 table 1", "shadows the interface flow") {
			t.Fatalf("the intent comparison should name the foreign flow:\n%s", d)
		}
		e.oracle(r)
	})

	t.Run("live traces agree with the simulation", func(t *testing.T) {
		e.t = t
		for _, c := range []struct{ from, to string }{{"a1", "a2"}, {"a1", "a3"}, {"a1", "10.2.0.12"}} {
			start := time.Now()
			r := e.trace(Request{From: c.from, To: c.to, Live: true})
			t.Logf("live trace %s -> %s took %s", c.from, c.to, time.Since(start))
			if r.Live == nil || !r.Live.Agrees || len(r.Live.Observed) != len(r.visits) || len(r.Live.Observed) < 2 {
				t.Fatalf("want an agreeing live trace:\n%s\n%+v", dumpTrace(r), r.Live)
			}
			if c.to == "a3" && !strings.Contains(r.Live.Observed[1], "h3 port 201 (gre-h1-p1)") {
				t.Fatalf("a1 -> a3 should enter h3 from path 1: %v", r.Live.Observed)
			}
		}
		e.noTraceFlows()
	})

	t.Run("a port down", func(t *testing.T) {
		e.t = t
		e.ovs(2, "ovs-ofctl", "-O", "OpenFlow13", "mod-port", "br-int", e.ep(2, 1).Port, "down")
		defer e.ovs(2, "ovs-ofctl", "-O", "OpenFlow13", "mod-port", "br-int", e.ep(2, 1).Port, "up")
		waitFor(t, "the controller to see h2 vm1 down", func() bool {
			p, ok := e.ctl.Switch(e.topo.Host(2).DatapathID).Port(uint32(e.ep(2, 1).OFPort))
			return ok && !p.Up()
		})
		r := e.trace(Request{From: "a1", To: "a2"})
		if r.Verdict != Dropped || r.Drop == nil || r.Drop.Switch != "h2" || !strings.Contains(r.Drop.Reason, fmt.Sprintf("port %d (%s) is down", e.ep(2, 1).OFPort, e.ep(2, 1).Port)) {
			t.Fatalf("want port down on h2:\n%s", dumpTrace(r))
		}
		e.oracle(r)
	})

	t.Run("tunnel failover and both paths down", func(t *testing.T) {
		e.t = t
		cut := func(path int) {
			if err := e.topo.CutPath(e.ctx, 1, path, 3); err != nil {
				t.Fatal(err)
			}
			port := fmt.Sprintf("gre-h3-p%d", path)
			live := func(want bool) func() bool {
				return func() bool {
					for _, p := range e.ctl.Switch(e.topo.Host(1).DatapathID).Ports() {
						if p.Name == port {
							return (p.State&ofwire.PortStateLive != 0) == want
						}
					}
					return false
				}
			}
			t.Cleanup(func() {
				e.topo.RestorePath(e.ctx, 1, path, 3)
				waitFor(t, "BFD to bring "+port+" back", live(true))
			})
			waitFor(t, "BFD to take "+port+" down", live(false))
		}
		cut(1)
		r := e.trace(Request{From: "a1", To: "a3", Live: true})
		if r.Live == nil || !r.Live.Agrees || len(r.Live.Observed) != 2 || !strings.Contains(r.Live.Observed[1], "h3 port 301 (gre-h1-p2)") {
			t.Fatalf("the live trace should show path 2:\n%s\n%+v", dumpTrace(r), r.Live)
		}
		e.noTraceFlows()
		if r.Verdict != Delivered || !strings.Contains(dumpTrace(r), fmt.Sprintf("GRE underlay path 2 to h3 (gre-h3-p2), tun_id=0x%x", netID["net1"])) ||
			!strings.Contains(dumpTrace(r), "bucket 2") {
			t.Fatalf("want the fast-failover group's path 2:\n%s", dumpTrace(r))
		}
		e.oracle(r)
		cut(2)
		r = e.trace(Request{From: "a1", To: "a3"})
		if r.Verdict != Dropped || r.Drop == nil || r.Drop.Switch != "h1" || !strings.Contains(r.Drop.Reason, "tunnel path down: no live bucket") {
			t.Fatalf("want no live bucket:\n%s", dumpTrace(r))
		}
		e.oracle(r)
	})

	t.Run("DHCP discover answered by the controller", func(t *testing.T) {
		e.t = t
		r := e.trace(Request{From: "b2", Proto: "dhcp"})
		if r.Verdict != Controller || !strings.Contains(r.Summary, "DHCP: the controller answers for network net2") {
			t.Fatalf("want the controller's DHCP answer:\n%s", dumpTrace(r))
		}
		e.oracle(r)
		r = e.trace(Request{From: "a1", Proto: "dhcp"})
		if r.Verdict != Dropped || r.Drop == nil || !strings.Contains(r.Drop.Reason, "network net1 has DHCP off") {
			t.Fatalf("net1 has no DHCP:\n%s", dumpTrace(r))
		}
	})

	t.Run("a trunk VLAN", func(t *testing.T) {
		e.t = t
		ep := e.ep(3, 2)
		if _, err := e.mgr.Update(func(c *vnet.Config) error {
			c.Interfaces = append(c.Interfaces, vnet.Interface{Name: "t10", Network: "net1", Datapath: "h3", Port: ep.Port, VLAN: 10, MAC: ep.MAC, IP: "10.1.0.23"})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		e.waitReady()
		r := e.trace(Request{From: "a1", To: "t10"})
		last := r.Hops[len(r.Hops)-1]
		if r.Verdict != Delivered || !strings.Contains(r.Summary, `"t10"`) || !strings.Contains(last.Headers, "dl_vlan=10") {
			t.Fatalf("want delivery tagged with VLAN 10:\n%s", dumpTrace(r))
		}
		e.oracle(r)
		r = e.trace(Request{From: "t10", To: "a1"})
		if r.Verdict != Delivered || !strings.HasPrefix(r.Packet, "in_port=2,dl_vlan=10") {
			t.Fatalf("want a tagged packet from the trunk delivered:\n%s", dumpTrace(r))
		}
		e.oracle(r)
		if _, err := e.mgr.Update(func(c *vnet.Config) error {
			c.Interfaces = c.Interfaces[:len(c.Interfaces)-1]
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		e.waitReady()
	})

	t.Run("an interface whose MAC is not the endpoint's", func(t *testing.T) {
		e.t = t
		// the endpoint speaks (ARP), so the topology learns its real MAC
		e.topo.Exec(e.ctx, e.ep(2, 1).Namespace, "ping", "-c", "1", "-W", "1", e.ep(1, 1).IP)
		waitFor(t, "h2 vm1 to be learned", func() bool {
			for _, h := range e.model.Hosts() {
				if h.MAC == e.ep(2, 1).MAC {
					return true
				}
			}
			return false
		})
		if _, err := e.mgr.Update(func(c *vnet.Config) error {
			for i := range c.Interfaces {
				if c.Interfaces[i].Name == "a2" {
					c.Interfaces[i].MAC = "02:00:00:00:99:99"
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		e.waitReady()
		r := e.trace(Request{From: "a1", To: "a2"})
		if r.Verdict != Dropped || r.Drop == nil || r.Drop.Object != "interface a2" ||
			!strings.Contains(r.Drop.Reason, "configured with MAC 02:00:00:00:99:99, but the endpoint on h2 port 1 (vm1) uses "+e.ep(2, 1).MAC) {
			t.Fatalf("want the MAC mismatch:\n%s", dumpTrace(r))
		}
		if _, err := e.mgr.Update(func(c *vnet.Config) error {
			for i := range c.Interfaces {
				if c.Interfaces[i].Name == "a2" {
					c.Interfaces[i].MAC = e.ep(2, 1).MAC
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		e.waitReady()
	})

	t.Run("bad input", func(t *testing.T) {
		e.t = t
		for _, c := range []struct {
			r      Request
			status int
			msg    string
		}{
			{Request{From: "nosuch", To: "a2"}, 404, `unknown interface "nosuch"`},
			{Request{From: "a1", To: "192.168.77.1"}, 422, "IP 192.168.77.1 is in no network"},
			{Request{From: "a1", To: "a2", Proto: "sctp"}, 400, `proto "sctp"`},
			{Request{From: "h9:1", To: "a2"}, 404, `unknown switch "h9"`},
		} {
			_, err := e.tracer.Trace(e.ctx, c.r)
			var re *RequestError
			if !errors.As(err, &re) || re.Status != c.status || !strings.Contains(re.Msg, c.msg) {
				t.Errorf("%+v: got %v, want %d %q", c.r, err, c.status, c.msg)
			}
		}
		// SWITCH:PORT with a port name works like the interface
		r := e.trace(Request{From: "h1:" + e.ep(1, 1).Port, To: "a2"})
		if r.Verdict != Delivered {
			t.Fatalf("h1:vm1 -> a2:\n%s", dumpTrace(r))
		}
	})
}

// noTraceFlows checks that no live trace left a flow behind.
func (e *labEnv) noTraceFlows() {
	e.t.Helper()
	for i := 1; i <= 3; i++ {
		out := e.ovs(i, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int", fmt.Sprintf("cookie=0x%x/0xff00000000000000", uint64(controller.OwnerTrace)<<56))
		if strings.Contains(out, "priority=") {
			e.t.Fatalf("h%d still has trace flows:\n%s", i, out)
		}
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func containsAll(list []string, subs ...string) bool {
	for _, s := range list {
		ok := true
		for _, sub := range subs {
			ok = ok && strings.Contains(s, sub)
		}
		if ok {
			return true
		}
	}
	return false
}
