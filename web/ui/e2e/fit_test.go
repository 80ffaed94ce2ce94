package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/journal"
	"github.com/satellite-sdn/satellite/lab"
	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/probes"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/vnet"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/auth"
	"github.com/satellite-sdn/satellite/web/ui"
)

// linkCutRule is the alert rule of TestPagesFitOnOVS: one alert per cut
// link, with a description the alerts page shows.
var linkCutRule = alerts.Rule{Name: "link-cut", Metric: alerts.MetricLinkDown, Severity: "critical",
	Description: "a link between switches is down: check the cable or the peer"}

// TestPagesFitOnOVS opens every page and panel at 1280x800 and 1920x1080
// against Satellite as serve wires it (virtual networks naming the
// switches h1-h3 and interfaces a1-a3 on net1, tunnel probes, statistics,
// alerts, the journal) on a three-host OVS lab, and checks that nothing
// is clipped or overflows, that labels use names, and that a reload keeps
// the graph where it was (fit.e2e.mjs). Screenshots of every page and
// panel at both sizes go to the artifacts directory.
func TestPagesFitOnOVS(t *testing.T) {
	browserReady(t)
	dir := artifacts(t)
	sock := filepath.Join(t.TempDir(), "of.sock")
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctl := controller.New(controller.Config{Logger: log})
	ln, err := controller.Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	store, err := vnet.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	model := topology.New(topology.Options{KeepDownLinks: time.Hour})
	mgr, err := vnet.NewManager(store, ctl, model, vnet.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	jr, err := journal.Open(journal.Options{Dir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	coll := collector.New(collector.Config{Interval: time.Second, Logger: log}, ctl)
	prober := probes.New(probes.Config{Logger: log, Publish: func(at time.Time, paths []probes.PathStatus) { coll.PublishProbes(at, probeSamples(paths)) },
		PublishInterval: collector.ProbeInterval}, ctl, mgr, model)
	mgr.SetPathOrder(prober.PathOrder)
	disc := lldp.NewDiscovery(lldp.DiscoveryConfig{Logger: log}, ctl, model, lldp.NewRandomSigner())
	disc.SetHold(prober.Held)
	eng, err := alerts.New(alerts.Config{Logger: log, Rules: []alerts.Rule{linkCutRule}}, alerts.Sources{Collector: coll, Controller: ctl, Model: model})
	if err != nil {
		t.Fatal(err)
	}
	feeder := journal.NewFeeder(jr, journal.Sources{Model: model, Controller: ctl}, log)
	feeder.AddAlerts(eng)
	ctx, cancel := context.WithCancel(context.Background())
	runs := []func(context.Context){
		func(ctx context.Context) { _ = ctl.Serve(ctx, ln) },
		func(ctx context.Context) {
			topology.NewTracker(topology.TrackerConfig{Logger: log}, ctl, model).Run(ctx)
		},
		func(ctx context.Context) { _ = mgr.Run(ctx) },
		func(ctx context.Context) { _ = prober.Run(ctx) }, func(ctx context.Context) { _ = disc.Run(ctx) }, coll.Run, eng.Run, feeder.Run,
	}
	done := make(chan struct{}, len(runs))
	for _, run := range runs {
		go func() { run(ctx); done <- struct{}{} }()
	}
	tokens, err := auth.OpenTokenStore(filepath.Join(t.TempDir(), "tokens.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tokens.Close() })
	token, _, err := tokens.Create("e2e", auth.RoleOperator, "e2e", false)
	if err != nil {
		t.Fatal(err)
	}
	api := web.New(ctl, web.WithLogger(log), web.WithSecurity(web.Security{Tokens: tokens}), web.WithVersion("e2e"),
		web.WithTopology(model), web.WithDiscovery(disc), web.WithVirtualNetworks(mgr), web.WithProbes(prober),
		web.WithCollector(coll), web.WithAlerts(eng), web.WithJournal(jr),
		web.WithUI(ui.New(ui.Options{Model: model, Journal: jr, Version: "e2e", Logger: log})))
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		api.Close()
		srv.Close()
		cancel()
		for range runs {
			<-done
		}
		jr.Close()
		store.Close()
		if t.Failed() {
			t.Logf("satellite log:\n%s", logs.String())
		}
	})

	topo := lab.Start(t, lab.Config{Hosts: 3, Controllers: []string{"unix:" + sock}})
	waitFor(t, 20*time.Second, "3 switches connected", func() bool { return len(ctl.Switches()) == 3 })
	cfg := vnet.Config{Networks: []vnet.Network{{Name: "net1", Subnet: "10.1.0.0/24"}}}
	for _, h := range topo.Hosts {
		cfg.Datapaths = append(cfg.Datapaths, vnet.Datapath{Name: h.Name, DPID: h.DPID})
		ep := h.Endpoints[0]
		ip := fmt.Sprintf("10.1.0.1%d", h.Index)
		cfg.Interfaces = append(cfg.Interfaces, vnet.Interface{Name: fmt.Sprintf("a%d", h.Index), Network: "net1", Datapath: h.Name, Port: ep.Port, MAC: ep.MAC, IP: ip})
		for _, args := range [][]string{{"ip", "addr", "flush", "dev", ep.IfName}, {"ip", "addr", "add", ip + "/24", "dev", ep.IfName}} {
			if out, err := topo.Exec(ctx, ep.Namespace, args...); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out)
			}
		}
	}
	if _, err := mgr.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the virtual network on every switch", func() bool {
		st, notes := mgr.Status()
		ok := len(st) == 3 && len(notes) == 0
		for _, s := range st {
			ok = ok && s.Connected && !s.Reconciled.IsZero() && s.Error == "" && !s.Settling
		}
		return ok
	})
	// traffic a1 -> a3 (GRE) and a1 -> a2, kept going for the rates and
	// the charts; the pings make the hosts known
	a1 := topo.Host(1).Endpoints[0]
	for _, to := range []string{"10.1.0.13", "10.1.0.12"} {
		waitFor(t, 20*time.Second, "a1 reaches "+to, func() bool {
			_, err := topo.Exec(ctx, a1.Namespace, "ping", "-c", "1", "-W", "1", to)
			return err == nil
		})
		if cmd, err := topo.ExecCommand(ctx, a1.Namespace, "ping", "-q", "-i", "0.2", to); err == nil {
			if err := cmd.Start(); err == nil {
				t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			}
		}
	}
	waitFor(t, 20*time.Second, "the tunnel probes of every path", func() bool {
		n := 0
		for _, p := range prober.Paths() {
			if p.State == "up" && p.Received > 0 {
				n++
			}
		}
		return n >= 12 // 3 pairs, 2 paths, both directions
	})
	waitFor(t, 15*time.Second, "the hosts a1 to a3 in the model", func() bool { return len(model.Hosts()) >= 3 })

	var cut lab.Link
	for _, l := range topo.Links {
		if (l.A.Host == 1 && l.B.Host == 2) || (l.A.Host == 2 && l.B.Host == 1) {
			cut = l
		}
	}
	names := map[string]string{}
	for _, h := range topo.Hosts {
		names[h.DPID] = h.Name
	}
	expect, _ := json.Marshal(map[string]any{
		"names": names, "h1": topo.Host(1).DPID, "h3": topo.Host(3).DPID, "cutA": cut.A.Host, "cutB": cut.B.Host,
		"host": a1.MAC, "iface": "a1", "network": "net1", "rule": linkCutRule.Name, "description": linkCutRule.Description,
	})
	runScript(t, "fit.e2e.mjs", map[string]string{
		"SATELLITE_URL":       srv.URL,
		"SATELLITE_TOKEN":     token,
		"SATELLITE_CONTROL":   controlServer(t, topo),
		"SATELLITE_ARTIFACTS": dir,
		"SATELLITE_EXPECT":    string(expect),
		"CHROMIUM":            Chromium,
	})
}

// probeSamples converts the prober's path status into the collector's
// samples, as satellite serve does (RTTs unknown when nothing of the
// window was answered).
func probeSamples(paths []probes.PathStatus) []collector.ProbeSample {
	out := make([]collector.ProbeSample, 0, len(paths))
	for _, p := range paths {
		local, err1 := strconv.ParseUint(p.Local, 16, 64)
		remote, err2 := strconv.ParseUint(p.Remote, 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		s := collector.ProbeSample{Local: local, Remote: remote, LocalName: p.LocalName, RemoteName: p.RemoteName, Path: p.Path, Port: p.Port,
			Up: p.State == "up", Live: p.Live, Active: p.Active, Flapping: p.Flapping, Sent: p.Sent, Received: p.Received, Loss: p.Loss,
			RTTMinMs: p.RTTMinMs, RTTAvgMs: p.RTTAvgMs, RTTMaxMs: p.RTTMaxMs, RTTP99Ms: p.RTTP99Ms, JitterMs: p.JitterMs}
		if p.Received == 0 || p.Loss >= 1 {
			nan := math.NaN()
			s.RTTMinMs, s.RTTAvgMs, s.RTTMaxMs, s.RTTP99Ms, s.JitterMs = nan, nan, nan, nan, nan
		}
		out = append(out, s)
	}
	return out
}
