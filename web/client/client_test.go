package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/web/client"
	"github.com/satellite-sdn/satellite/web/webtest"
)

func TestClient(t *testing.T) {
	env := webtest.Start(t)
	env.Connect(switchemu.Config{DPID: 0x10, Ports: 2})
	ctx := context.Background()
	c, err := client.New(env.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := c.Switch(ctx, "00:10")
	if err != nil || sw.DPID != "0000000000000010" || len(sw.Ports) != 3 {
		t.Fatalf("%+v %v", sw, err)
	}
	id := uint32(3)
	f, err := c.AddFlow(ctx, "10", "priority=9,actions=drop", &id)
	if err != nil || f.Owner.ID != 3 {
		t.Fatalf("%+v %v", f, err)
	}
	table := uint8(0)
	flows, err := c.Flows(ctx, "10", client.FlowQuery{Owner: "api", ID: &id, Table: &table})
	if err != nil || len(flows) != 1 {
		t.Fatalf("%+v %v", flows, err)
	}
	res, err := c.DeleteFlows(ctx, "10", client.FlowQuery{ID: &id, Owner: "api"})
	if err != nil || res.Matched != 1 || res.Deleted != "requested" {
		t.Fatalf("%+v %v", res, err)
	}
	// API errors carry status, message and field
	_, err = c.AddFlow(ctx, "10", "actions=bogus", nil)
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Field != "flow" || ae.Message != `unknown action "bogus"` {
		t.Fatalf("%#v", err)
	}
	// a dpid with path characters stays one path segment
	_, err = c.Switch(ctx, "10/flows")
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Field != "dpid" {
		t.Fatalf("%#v", err)
	}
	ps, err := c.PortStats(ctx, "10", "local")
	if err != nil || len(ps) != 1 || ps[0].Reserved != "local" {
		t.Fatalf("%+v %v", ps, err)
	}
	if g, err := c.Groups(ctx, "10"); err != nil || len(g) != 0 {
		t.Fatalf("%+v %v", g, err)
	}
	if tb, err := c.Tables(ctx, "10"); err != nil || len(tb) != 254 {
		t.Fatalf("%d %v", len(tb), err)
	}
	if p, err := c.Ports(ctx, "10"); err != nil || len(p) != 3 {
		t.Fatalf("%+v %v", p, err)
	}
	if h, err := c.Health(ctx); err != nil || h.Switches != 1 {
		t.Fatalf("%+v %v", h, err)
	}
}

func TestNotSatellite(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte("<html>hello</html>"))
			return
		}
		http.Error(w, "teapot", http.StatusTeapot)
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Switches(context.Background()); err == nil || err.Error() != "GET /api/v1/switches: 418 I'm a teapot: teapot (is "+srv.URL+" a Satellite server?)" {
		t.Fatalf("%v", err)
	}
	if _, err := c.Health(context.Background()); err == nil {
		t.Fatal("HTML accepted as health")
	}
	for _, bad := range []string{"ftp://x", "http://", "://"} {
		if _, err := client.New(bad, nil); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if c, _ := client.New("", nil); c.URL() != client.DefaultServer {
		t.Fatal(c.URL())
	}
	if c, _ := client.New("localhost:9", nil); c.URL() != "http://localhost:9" {
		t.Fatal(c.URL())
	}
}
