package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/internal/apptest"
	"github.com/satellite-sdn/satellite/lab"
	"github.com/satellite-sdn/satellite/vnet"
)

// TestAuditPanelOnOVS: after a1's L2 flow is deleted by hand on h2 and a
// foreign flow added on h1, the topology page shows a drift badge on both
// switches, and h1's panel has an Audit section listing the foreign flow
// (audit.e2e.mjs).
func TestAuditPanelOnOVS(t *testing.T) {
	browserReady(t)
	dir := artifacts(t)
	sat := apptest.Start(t, apptest.Options{
		Configure: func(c *config.Config) {
			c.Discovery.Interval = config.Duration(500 * time.Millisecond)
			c.VNet.Resync = config.Duration(time.Hour) // the changes by hand stay until the test ends
		}})
	mgr, aud := sat.VNets, sat.Audit
	topo := lab.Start(t, lab.Config{Hosts: 2, Controllers: []string{"unix:" + sat.Sock}})
	cfg := vnet.Config{Networks: []vnet.Network{{Name: "net1", Subnet: "10.1.0.0/24"}}}
	for i, h := range topo.Hosts {
		cfg.Datapaths = append(cfg.Datapaths, vnet.Datapath{Name: h.Name, DPID: h.DPID})
		ep := h.Endpoints[0]
		cfg.Interfaces = append(cfg.Interfaces, vnet.Interface{Name: fmt.Sprintf("a%d", i+1), Network: "net1", Datapath: h.Name, Port: ep.Port, MAC: ep.MAC,
			IP: fmt.Sprintf("10.1.0.1%d", i+1)})
	}
	if _, err := mgr.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the virtual network on every switch", func() bool {
		st, notes := mgr.Status()
		ok := len(st) == 2 && len(notes) == 0
		for _, s := range st {
			ok = ok && s.Connected && !s.Reconciled.IsZero() && s.Error == "" && !s.Settling
		}
		return ok
	})
	// converged: the audit of both switches is clean
	waitFor(t, 30*time.Second, "a clean audit", func() bool {
		o := aud.AuditAll(sat.Context())
		return o.OK && len(o.Switches) == 2
	})
	h1, h2 := topo.Host(1), topo.Host(2)
	ofctl := func(h *lab.Host, args ...string) {
		if out, err := topo.OVS(sat.Context(), h.Index, "ovs-ofctl", append([]string{"-O", "OpenFlow13"}, args...)...); err != nil {
			t.Fatalf("%s ovs-ofctl %v: %v\n%s", h.Name, args, err, out)
		}
	}
	ofctl(h2, "del-flows", h2.Bridge, fmt.Sprintf("table=%d,dl_dst=%s", vnet.TableL2, h1.Endpoints[0].MAC))
	ofctl(h1, "add-flow", h1.Bridge, "table=0,priority=1,udp,tp_dst=9999,actions=drop")
	if o := aud.AuditAll(sat.Context()); o.OK {
		t.Fatalf("the audit found nothing: %+v", o)
	}
	expect, _ := json.Marshal(map[string]any{"h1": h1.DPID, "h2": h2.DPID})
	runScript(t, "audit.e2e.mjs", map[string]string{
		"SATELLITE_URL":       sat.URL,
		"SATELLITE_TOKEN":     sat.Token,
		"SATELLITE_ARTIFACTS": dir,
		"SATELLITE_EXPECT":    string(expect),
		"CHROMIUM":            Chromium,
	})
}
