package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/audit"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/diagnostics"
	"github.com/satellite-sdn/satellite/lab"
	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/vnet"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/auth"
	"github.com/satellite-sdn/satellite/web/ui"
)

// TestAuditPanelOnOVS: after a1's L2 flow is deleted by hand on h2 and a
// foreign flow added on h1, the topology page shows a drift badge on both
// switches, and h1's panel has an Audit section listing the foreign flow
// (audit.e2e.mjs).
func TestAuditPanelOnOVS(t *testing.T) {
	browserReady(t)
	dir := artifacts(t)
	sock := filepath.Join(t.TempDir(), "of.sock")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctl := controller.New(controller.Config{Logger: log})
	ln, err := controller.Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	store, err := vnet.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	model := topology.New(topology.Options{})
	mgr, err := vnet.NewManager(store, ctl, model, vnet.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 4)
	go func() { _ = ctl.Serve(ctx, ln); done <- struct{}{} }()
	go func() {
		topology.NewTracker(topology.TrackerConfig{Logger: log}, ctl, model).Run(ctx)
		done <- struct{}{}
	}()
	go func() {
		lldp.NewDiscovery(lldp.DiscoveryConfig{Logger: log, Interval: 500 * time.Millisecond}, ctl, model, lldp.NewRandomSigner()).Run(ctx)
		done <- struct{}{}
	}()
	go func() { _ = mgr.Run(ctx); done <- struct{}{} }()
	tokens, err := auth.OpenTokenStore(filepath.Join(t.TempDir(), "tokens.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tokens.Close() })
	token, _, err := tokens.Create("e2e", auth.RoleOperator, "e2e", false) // tracing is an operator's
	if err != nil {
		t.Fatal(err)
	}
	tracer := diagnostics.NewTracer(ctl, model, mgr, -1)
	aud := audit.New(ctl, mgr, audit.Options{Logger: log, Events: model, Tracer: tracer})
	mgr.SetAuditor(aud)
	api := web.New(ctl, web.WithLogger(log), web.WithSecurity(web.Security{Tokens: tokens}), web.WithTopology(model), web.WithVirtualNetworks(mgr),
		web.WithTracer(tracer), web.WithAudit(aud),
		web.WithUI(ui.New(ui.Options{Model: model, Version: "e2e", Logger: log})))
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		api.Close()
		srv.Close()
		cancel()
		for i := 0; i < 4; i++ {
			<-done
		}
		store.Close()
	})
	topo := lab.Start(t, lab.Config{Hosts: 2, Controllers: []string{"unix:" + sock}})
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
		ok := len(st) == 2 && len(notes) == 0
		for _, s := range st {
			ok = ok && s.Connected && !s.Reconciled.IsZero() && s.Error == "" && !s.Settling
		}
		return ok
	})
	// converged: the audit of both switches is clean
	waitFor(t, 30*time.Second, "a clean audit", func() bool {
		o := aud.AuditAll(context.Background())
		return o.OK && len(o.Switches) == 2
	})
	h1, h2 := topo.Host(1), topo.Host(2)
	ofctl := func(h *lab.Host, args ...string) {
		if out, err := topo.OVS(context.Background(), h.Index, "ovs-ofctl", append([]string{"-O", "OpenFlow13"}, args...)...); err != nil {
			t.Fatalf("%s ovs-ofctl %v: %v\n%s", h.Name, args, err, out)
		}
	}
	ofctl(h2, "del-flows", h2.Bridge, fmt.Sprintf("table=%d,dl_dst=%s", vnet.TableL2, h1.Endpoints[0].MAC))
	ofctl(h1, "add-flow", h1.Bridge, "table=0,priority=1,udp,tp_dst=9999,actions=drop")
	if o := aud.AuditAll(context.Background()); o.OK {
		t.Fatalf("the audit found nothing: %+v", o)
	}
	expect, _ := json.Marshal(map[string]any{"h1": h1.DPID, "h2": h2.DPID})
	runScript(t, "audit.e2e.mjs", map[string]string{
		"SATELLITE_URL":       srv.URL,
		"SATELLITE_TOKEN":     token,
		"SATELLITE_ARTIFACTS": dir,
		"SATELLITE_EXPECT":    string(expect),
		"CHROMIUM":            Chromium,
	})
}
