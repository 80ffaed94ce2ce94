package web_test

import (
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/diagnostics"
	"github.com/satellite-sdn/satellite/vnet"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

// TestTraceRoute: POST /api/v1/trace over an emulated switch that holds
// the virtual networks' flows but not the topology's ingress flows (no
// tracker runs here): the packet misses table 0, and the intent
// comparison names the missing ingress flow.
func TestTraceRoute(t *testing.T) {
	tracer := &diagnostics.Tracer{}
	env := webtest.Start(t, web.WithTracer(tracer))
	sw := env.Connect(switchemu.Config{DPID: 1, Ports: 2})
	store, err := vnet.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	mgr, err := vnet.NewManager(store, env.Ctl, nil, vnet.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Settle: -1})
	if err != nil {
		t.Fatal(err)
	}
	tracer.Ctl, tracer.VNet, tracer.Source = env.Ctl, mgr, diagnostics.NewSource(env.Ctl, -1)
	if _, err := mgr.Apply(vnet.Config{
		Datapaths: []vnet.Datapath{{Name: "h1", DPID: "1"}},
		Networks:  []vnet.Network{{Name: "net1", Subnet: "10.1.0.0/24"}},
		Interfaces: []vnet.Interface{
			{Name: "a1", Network: "net1", Datapath: "h1", Port: "p1", MAC: "02:00:00:00:01:01", IP: "10.1.0.11"},
			{Name: "a2", Network: "net1", Datapath: "h1", Port: "p2", MAC: "02:00:00:00:01:02", IP: "10.1.0.12"},
		},
	}); err != nil {
		t.Fatal(err)
	}
	if err := mgr.ReconcileNow(t.Context()); err != nil {
		t.Fatal(err)
	}

	var res struct {
		Verdict string `json:"verdict"`
		Hops    []struct {
			DPID   string `json:"dpid"`
			Switch string `json:"switch"`
			Table  int    `json:"table"`
			InPort int    `json:"in_port"`
			Flow   *struct {
				Priority int    `json:"priority"`
				Match    string `json:"match"`
				Actions  string `json:"actions"`
				Cookie   string `json:"cookie"`
				Owner    struct {
					Kind, Network, Name string
					ID                  int `json:"id"`
				} `json:"owner"`
			} `json:"flow"`
			Out, Headers, Note string
		} `json:"hops"`
		Drop *struct {
			DPID   string `json:"dpid"`
			Table  int    `json:"table"`
			Reason string `json:"reason"`
			Object string `json:"object"`
		} `json:"drop"`
		Intent struct {
			Verdict     string   `json:"verdict"`
			Differences []string `json:"differences"`
		} `json:"intent"`
	}
	r := do(t, env, "POST", api.TracePath, `{"from": "a1", "to": "a2"}`)
	r.decode(t, 200, &res)
	if res.Verdict != "dropped" || len(res.Hops) != 1 || res.Hops[0].Flow != nil || res.Hops[0].Switch != "h1" || res.Hops[0].InPort != 1 ||
		res.Drop == nil || res.Drop.DPID != "0000000000000001" || res.Drop.Table != 0 || !strings.Contains(res.Drop.Reason, "table miss") {
		t.Fatalf("want a table miss in table 0:\n%s", r.body)
	}
	if res.Intent.Verdict != "delivered" || !strings.Contains(strings.Join(res.Intent.Differences, "\n"), "h1 table 0: intended flow priority=0 (discovery ingress) is missing on the switch") {
		t.Fatalf("the intent comparison should name the missing ingress flow:\n%s", r.body)
	}

	for _, c := range []struct {
		body, field, msg string
		status           int
	}{
		{`{"from": "nosuch", "to": "a2"}`, "from", `unknown interface "nosuch"`, 404},
		{`{"from": "a1", "to": "192.168.9.9"}`, "to", "IP 192.168.9.9 is in no network", 422},
		{`{"from": "a1", "to": "a2", "proto": "tcp"}`, "dport", "tcp needs dport", 400},
		{`{"from": "a1", "to": "a2", "live": true, "src_ip": "10.1.0.99"}`, "live", "live traces send as the interface itself", 400},
		{`{"from": "a1", "to": "a2", "live": true, "proto": "arp"}`, "live", "live traces inject icmp, tcp or udp", 400},
		{`{"from": "a1", "to": "a2", "colour": "red"}`, "colour", "unknown field", 400},
		{``, "", "request body is empty", 400},
	} {
		do(t, env, "POST", api.TracePath, c.body).wantError(t, c.status, c.field, c.msg)
	}

	// the switch goes away: a clear 503, not a trace over stale tables
	sw.Conn().Close()
	env.WaitSwitch(1, false)
	do(t, env, "POST", api.TracePath, `{"from": "a1", "to": "a2"}`).wantError(t, 503, "", "switch h1 (0000000000000001) of interface \"a1\" is not connected")
}
