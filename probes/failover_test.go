package probes_test

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/internal/core"
	"github.com/satellite-sdn/satellite/internal/testenv"
	"github.com/satellite-sdn/satellite/lab"
	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/probes"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/vnet"
)

type env struct {
	t     *testing.T
	tb    testing.TB
	ctx   context.Context
	ctl   *controller.Controller
	model *topology.Model
	vm    *vnet.Manager
	pm    *probes.Manager
	topo  *lab.Topology
	disc  *lldp.Discovery // with envOpts.discovery
	logs  *testenv.LogBuffer
}

// envOpts shape the scenario: which hosts get an endpoint in net1 (host i
// is 10.1.0.1i), and whether LLDP discovery runs.
type envOpts struct {
	bfdMS     int
	pcfg      probes.Config
	hosts     []int
	discovery bool
}

func start(t *testing.T, bfd bool, pcfg probes.Config) *env {
	t.Helper()
	ms := 0
	if bfd {
		ms = 300 // the lab's default: BFD notices a cut after about 900 ms
	}
	e := startB(t, ms, pcfg)
	e.t = t
	return e
}

// startB builds the scenario; bfdMS 0 means BFD off.
func startB(t testing.TB, bfdMS int, pcfg probes.Config) *env {
	t.Helper()
	return startEnv(t, envOpts{bfdMS: bfdMS, pcfg: pcfg, hosts: []int{1, 3}})
}

func startEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	bfdMS, pcfg := o.bfdMS, o.pcfg
	log, logs := testenv.Logger(slog.LevelInfo)
	pcfg.Logger = log
	without := []string{"collector", "alerts", "journal", "exporters"}
	if !o.discovery {
		without = append(without, "discovery")
	}
	sat := testenv.StartCore(t, testenv.CoreOptions{Options: core.Options{Logger: log, Without: without,
		Tune: core.Tune{Probes: func(c *probes.Config) { *c = pcfg }}}})
	ctx := sat.Context()
	ctl, model, vm, pm, sock := sat.Controller, sat.Model, sat.VNets, sat.Prober, sat.Sock
	var disc *lldp.Discovery
	if o.discovery {
		disc = sat.Discovery
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("satellite log:\n%s", logs.String())
		}
	})
	topo := lab.Start(t, lab.Config{Hosts: 3, BFD: bfdMS > 0, BFDIntervalMS: max(bfdMS, 100), Controllers: []string{"unix:" + sock}})
	e := &env{tb: t, ctx: ctx, ctl: ctl, model: model, vm: vm, pm: pm, topo: topo, disc: disc, logs: logs}
	// net1 with endpoints on the hosts (h1 and h3); no segments, so they talk over GRE
	var cfg vnet.Config
	for _, h := range topo.Hosts {
		cfg.Datapaths = append(cfg.Datapaths, vnet.Datapath{Name: h.Name, DPID: h.DPID})
	}
	cfg.Networks = []vnet.Network{{Name: "net1", Subnet: "10.1.0.0/24"}}
	for _, h := range o.hosts {
		ep := topo.Host(h).Endpoints[0]
		cfg.Interfaces = append(cfg.Interfaces, vnet.Interface{Name: fmt.Sprintf("a%d", h), Network: "net1", Datapath: topo.Host(h).Name,
			Port: ep.Port, MAC: ep.MAC, IP: fmt.Sprintf("10.1.0.1%d", h)})
		e.run(ep.Namespace, "ip", "addr", "flush", "dev", "eth0")
		e.run(ep.Namespace, "ip", "addr", "add", fmt.Sprintf("10.1.0.1%d/24", h), "dev", "eth0")
	}
	if _, err := vm.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for i, a := range o.hosts {
		for _, b := range o.hosts[i+1:] {
			for {
				if out, err := topo.Exec(ctx, topo.Host(a).Endpoints[0].Namespace, "ping", "-c", "1", "-W", "1", fmt.Sprintf("10.1.0.1%d", b)); err == nil {
					break
				} else if time.Now().After(deadline) {
					t.Fatalf("no connectivity h%d -> h%d: %v\n%s", a, b, err, out)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	// all paths measured and up
	for {
		ps := pm.Paths()
		up := 0
		for _, p := range ps {
			if p.State == "up" && p.Received > 5 {
				up++
			}
		}
		if up == 12 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("paths not all up: %+v", ps)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return e
}

func (e *env) run(ns string, args ...string) {
	e.tb.Helper()
	if out, err := e.topo.Exec(context.Background(), ns, args...); err != nil {
		e.tb.Fatalf("%v: %v\n%s", args, err, out)
	}
}

// pingRun pings at 10 ms intervals for d and returns the sequence numbers
// answered.
func (e *env) pingRun(d time.Duration, during func()) (sent int, answered []int) {
	n := int(d / (10 * time.Millisecond))
	cmd, err := e.topo.ExecCommand(context.Background(), e.topo.Host(1).Endpoints[0].Namespace, "ping", "-i", "0.01", "-c", strconv.Itoa(n), "-W", "1", "10.1.0.13")
	if err != nil {
		e.tb.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		e.tb.Fatal(err)
	}
	if during != nil {
		during()
	}
	cmd.Wait()
	for _, m := range regexp.MustCompile(`icmp_seq=(\d+)`).FindAllStringSubmatch(out.String(), -1) {
		s, _ := strconv.Atoi(m[1])
		answered = append(answered, s)
	}
	sort.Ints(answered)
	return n, answered
}

// longestGap is the longest run of unanswered pings, in milliseconds.
func longestGap(sent int, answered []int) (ms int, lost int) {
	got := map[int]bool{}
	for _, s := range answered {
		got[s] = true
	}
	run := 0
	for s := 1; s <= sent; s++ {
		if got[s] {
			run = 0
			continue
		}
		lost++
		run++
		if run*10 > ms {
			ms = run * 10
		}
	}
	return ms, lost
}

func (e *env) events(kind string) []topology.Event {
	var out []topology.Event
	for _, ev := range e.model.Events() {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func (e *env) failoverAndBack(t *testing.T, maxGap time.Duration) {
	e.t = t
	sent, answered := e.pingRun(4*time.Second, func() {
		time.Sleep(time.Second)
		if err := e.topo.CutPath(e.ctx, 1, 1, 3); err != nil {
			t.Fatal(err)
		}
	})
	gap, lost := longestGap(sent, answered)
	t.Logf("path 1 h1<->h3 cut: longest gap %d ms, %d of %d pings lost", gap, lost, sent)
	if len(e.events("tunnel-failover")) == 0 {
		t.Fatalf("no failover event: %+v", e.model.Events())
	}
	if gap == 0 || time.Duration(gap)*time.Millisecond > maxGap {
		t.Fatalf("gap %d ms (want > 0 and <= %s)", gap, maxGap)
	}
	if len(answered) == 0 || answered[len(answered)-1] < sent-5 {
		t.Fatalf("the ping did not resume on path 2: last answered %v of %d", answered[len(answered)-5:], sent)
	}
	for _, p := range e.pm.Paths() {
		if p.LocalName == "h1" && p.RemoteName == "h3" && p.Path == 2 && !p.Active {
			t.Fatalf("path 2 h1->h3 not active: %+v", p)
		}
	}
	if err := e.topo.RestorePath(e.ctx, 1, 1, 3); err != nil {
		t.Fatal(err)
	}
	hold := e.pm.Config().HoldDown
	sent, answered = e.pingRun(hold+2*time.Second, nil)
	if _, lost := longestGap(sent, answered); lost > 0 {
		t.Fatalf("failback lost %d pings", lost)
	}
	if len(e.events("tunnel-failback")) == 0 {
		t.Fatalf("no failback after the hold-down: %+v", e.model.Events())
	}
	for _, p := range e.pm.Paths() {
		if p.LocalName == "h1" && p.RemoteName == "h3" && p.Path == 1 && !p.Active {
			t.Fatalf("path 1 h1->h3 not active again: %+v", p)
		}
	}
}

func TestFailoverByProbesWithoutBFD(t *testing.T) {
	e := start(t, false, probes.Config{HoldDown: time.Second})
	t.Run("cut and restore", func(t *testing.T) { e.failoverAndBack(t, 400*time.Millisecond) })
	t.Run("a paused or stalled prober causes no failover", func(t *testing.T) {
		e.t = t
		before := len(e.events("tunnel-failover")) + len(e.events("tunnel-path-down"))
		sent, answered := e.pingRun(4*time.Second, func() {
			for i := 0; i < 3; i++ {
				time.Sleep(300 * time.Millisecond)
				e.pm.PauseSending(400 * time.Millisecond)
				time.Sleep(500 * time.Millisecond)
				e.pm.Stall(300 * time.Millisecond) // replies queue up unread
			}
		})
		if _, lost := longestGap(sent, answered); lost > 0 {
			t.Fatalf("%d pings lost while the prober paused", lost)
		}
		if after := len(e.events("tunnel-failover")) + len(e.events("tunnel-path-down")); after != before {
			t.Fatalf("pausing the prober caused %d path-down/failover events: %+v", after-before, e.model.Events())
		}
	})
	t.Run("both paths cut, the datapath says live: traffic kept, never dropped", func(t *testing.T) {
		ev := e.bothCut(t, "tunnel-kept")
		if !strings.Contains(ev.Message, "probes lost on all paths; datapath says live; traffic kept") {
			t.Fatalf("event %q", ev.Message)
		}
		if got := e.pm.PathOrder(e.topo.Host(1).DatapathID, e.topo.Host(3).DatapathID); len(got) == 0 {
			t.Fatal("the traffic was dropped on probe evidence alone")
		}
		if n := len(e.events("tunnel-down")); n != 0 {
			t.Fatalf("%d tunnel-down events", n)
		}
		t.Logf("%s", ev.Message)
	})
}

// bothCut cuts both paths between h1 and h3 and waits for the event of
// the given kind; it restores them at the end of the test.
func (e *env) bothCut(t *testing.T, kind string) topology.Event {
	e.t = t
	for p := 1; p <= 2; p++ {
		if err := e.topo.CutPath(e.ctx, 1, p, 3); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for p := 1; p <= 2; p++ {
			e.topo.RestorePath(context.Background(), 1, p, 3)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, ev := range e.model.Events() {
			if ev.Kind == kind && strings.HasPrefix(ev.Message, "h1 -> h3: ") {
				return ev
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %s event for h1 -> h3 after cutting both paths:\n%+v\n%+v", kind, e.model.Events(), e.pm.Paths())
	return topology.Event{}
}

func TestFailoverWithBFD(t *testing.T) {
	e := start(t, true, probes.Config{HoldDown: time.Second})
	t.Run("cut and restore", func(t *testing.T) { e.failoverAndBack(t, 400*time.Millisecond) })
	t.Run("a lossy path that BFD does not catch", func(t *testing.T) {
		e.t = t
		// path 1 between h1 and h3 drops about a third of the time, in bursts
		// far shorter than BFD's detection time (3 x 300 ms)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					e.topo.RestorePath(context.Background(), 1, 1, 3)
					return
				default:
				}
				e.topo.CutPath(context.Background(), 1, 1, 3)
				time.Sleep(40 * time.Millisecond)
				e.topo.RestorePath(context.Background(), 1, 1, 3)
				time.Sleep(80 * time.Millisecond)
			}
		}()
		deadline := time.Now().Add(8 * time.Second)
		var moved bool
		for !moved && time.Now().Before(deadline) {
			for _, p := range e.pm.Paths() {
				if p.LocalName == "h1" && p.RemoteName == "h3" && p.Path == 2 && p.Active {
					moved = true
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		close(stop)
		<-done
		if !moved {
			t.Fatalf("traffic stayed on the lossy path: %+v", e.pm.Paths())
		}
		for _, p := range e.pm.Paths() {
			if p.LocalName == "h1" && p.RemoteName == "h3" && p.Path == 1 {
				if !p.Live {
					t.Fatalf("BFD took the port down: this test needs loss BFD does not see: %+v", p)
				}
				if !strings.Contains(p.Cause, "loss") && !strings.Contains(p.Cause, "unanswered") {
					t.Fatalf("cause %q", p.Cause)
				}
				t.Logf("lossy path judged down by probes: %s (loss %.0f%%)", p.Cause, 100*p.Loss)
			}
		}
	})
	t.Run("both paths cut and the datapath agrees: dropped", func(t *testing.T) {
		ev := e.bothCut(t, "tunnel-down")
		t.Logf("%s", ev.Message)
		if got := e.pm.PathOrder(e.topo.Host(1).DatapathID, e.topo.Host(3).DatapathID); len(got) != 0 {
			t.Fatalf("order %v with no live path", got)
		}
	})
}

// waitActive waits until traffic from h1 to h3 is on the given path.
func (e *env) waitActive(t testing.TB, path int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range e.pm.Paths() {
			if p.LocalName == "h1" && p.RemoteName == "h3" && p.Path == path && p.Active && p.Live {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("path %d h1->h3 never became active: %+v", path, e.pm.Paths())
}
