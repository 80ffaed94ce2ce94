package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/lab"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/client"
)

// TestOVSThroughTheAPI drives a real three-host OVS lab through the HTTP
// API only: switches listed with dpids and ports, a flow installed by POST
// visible in ovs-ofctl with its cookie, a cut link shown as down.
func TestOVSThroughTheAPI(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "of.sock")
	ctl := controller.New(controller.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := controller.Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); ctl.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-served })
	srv := httptest.NewServer(web.New(ctl, web.WithoutAuth()))
	t.Cleanup(srv.Close)
	cl, err := client.New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}

	topo := lab.Start(t, lab.Config{Hosts: 3, Controllers: []string{"unix:" + sock}})

	var switches []api.Switch
	deadline := time.Now().Add(20 * time.Second)
	for len(switches) < 3 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if switches, err = cl.Switches(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(switches) != 3 {
		t.Fatalf("API lists %d switches, want 3", len(switches))
	}
	for i, sw := range switches {
		h := topo.Host(i + 1)
		if sw.DPID != h.DPID {
			t.Fatalf("switch %d: dpid %q, lab says %q", i, sw.DPID, h.DPID)
		}
		ports := map[string]api.Port{}
		for _, p := range sw.Ports {
			ports[p.Name] = p
		}
		for _, p := range h.Ports {
			got, ok := ports[p.Name]
			if !ok || got.Number != uint32(p.OFPort) || got.State != "up" {
				t.Errorf("%s port %s: API %+v (present %v), lab ofport %d", h.Name, p.Name, got, ok, p.OFPort)
			}
		}
	}

	id := uint32(77)
	f, err := cl.AddFlow(ctx, "1", "table=0,priority=321,udp,tp_dst=9999,actions=drop", &id)
	if err != nil {
		t.Fatal(err)
	}
	dump, err := topo.OVS(ctx, 1, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("cookie=0x%x,", uint64(controller.NewCookie(controller.OwnerAPI, 0, 77)))
	if f.Cookie == "" || !strings.Contains(string(dump), want) || !strings.Contains(string(dump), "tp_dst=9999") {
		t.Fatalf("flow %+v: dump-flows lacks %s:\n%s", f, want, dump)
	}
	flows, err := cl.Flows(ctx, "1", client.FlowQuery{Owner: "api"})
	if err != nil || len(flows) != 1 || flows[0].Owner.Kind != "api" || flows[0].Owner.ID != 77 {
		t.Fatalf("API flows %+v %v", flows, err)
	}

	if err := topo.CutLink(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		sw, err := cl.Switch(ctx, "1")
		if err != nil {
			t.Fatal(err)
		}
		state := ""
		for _, p := range sw.Ports {
			if p.Name == "lnk-h2" {
				state = p.State
			}
		}
		if state == "down" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lnk-h2 on h1 still %q after the link was cut", state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
