package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/internal/app"
	"github.com/satellite-sdn/satellite/internal/apptest"
	"github.com/satellite-sdn/satellite/lab"
	"github.com/satellite-sdn/satellite/vnet"
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
	// Satellite as serve runs it (the core, the API with its credentials
	// and the UI), with the statistics polled every second (for live
	// rates and charts) and a link_down rule
	sat := apptest.Start(t, apptest.Options{
		Options: app.Options{Version: "e2e", Without: []string{"exporters"}},
		Configure: func(c *config.Config) {
			c.Collector.Interval = config.Duration(time.Second)
			c.Alerts.Rules = append(c.Alerts.Rules, linkCutRule)
		}})
	ctl, model, mgr, prober, token := sat.Controller, sat.Model, sat.VNets, sat.Prober, sat.Token
	if prober == nil || sat.Alerts == nil || sat.Collector == nil || sat.Journal == nil {
		t.Fatal("the default configuration has no probes, alerts, statistics or journal")
	}
	ctx := sat.Context()

	topo := lab.Start(t, lab.Config{Hosts: 3, Controllers: []string{"unix:" + sat.Sock}})
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
		"SATELLITE_URL":       sat.URL,
		"SATELLITE_TOKEN":     token,
		"SATELLITE_CONTROL":   controlServer(t, topo),
		"SATELLITE_ARTIFACTS": dir,
		"SATELLITE_EXPECT":    string(expect),
		"CHROMIUM":            Chromium,
	})
}
