package e2e

import (
	"encoding/json"
	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/internal/apptest"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/lab"
	"github.com/satellite-sdn/satellite/vnet"
)

// TestTracePanelOnOVS: the topology page's Trace form traces a1 -> a3
// (h1 to h3 over GRE) and draws the path on the graph; a trace that is
// dropped marks the switch red and says why; bad input shows the API's
// message (trace.e2e.mjs).
func TestTracePanelOnOVS(t *testing.T) {
	browserReady(t)
	dir := artifacts(t)
	// Satellite as serve runs it; tracing is an operator's
	sat := apptest.Start(t, apptest.Options{
		Configure: func(c *config.Config) {
			c.Discovery.Interval = config.Duration(500 * time.Millisecond)
			c.VNet.TraceMaxAge = 0 // always read the tables
		}})
	mgr, sock, token := sat.VNets, sat.Sock, sat.Token
	topo := lab.Start(t, lab.Config{Hosts: 3, Controllers: []string{"unix:" + sock}})
	cfg := vnet.Config{Networks: []vnet.Network{{Name: "net1", Subnet: "10.1.0.0/24"}}}
	for i, h := range topo.Hosts {
		cfg.Datapaths = append(cfg.Datapaths, vnet.Datapath{Name: h.Name, DPID: h.DPID})
		ep := h.Endpoints[0]
		cfg.Interfaces = append(cfg.Interfaces, vnet.Interface{Name: "a" + string(rune('1'+i)), Network: "net1", Datapath: h.Name, Port: ep.Port, MAC: ep.MAC,
			IP: "10.1.0.1" + string(rune('1'+i))})
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
	expect, _ := json.Marshal(map[string]any{"h1": topo.Host(1).DPID, "h3": topo.Host(3).DPID})
	runScript(t, "trace.e2e.mjs", map[string]string{
		"SATELLITE_URL":       sat.URL,
		"SATELLITE_TOKEN":     token, // signed in: the page and its API calls use the cookie
		"SATELLITE_ARTIFACTS": dir,
		"SATELLITE_EXPECT":    string(expect),
		"CHROMIUM":            Chromium,
	})
}
