package web_test

import (
	"testing"

	"github.com/satellite-sdn/satellite/vnet"
)

// TestVNetFloatingIPs: an external network, a router with a gateway on
// it, and floating IPs through the API: chosen or given, moved by PUT,
// refused with the field named when wrong, in use, or for an interface
// no gateway router serves; deleting answers what was deleted.
func TestVNetFloatingIPs(t *testing.T) {
	e := startVNet(t)
	e.ok(t, "POST", "/api/v1/datapaths", dpBody, 201, nil)
	e.ok(t, "POST", "/api/v1/networks", net2Body, 201, nil)
	e.ok(t, "POST", "/api/v1/networks", netBody, 201, nil)
	e.ok(t, "POST", "/api/v1/interfaces", ifaceBody, 201, nil)
	e.ok(t, "POST", "/api/v1/interfaces", `{"name": "b1", "network": "net2", "datapath": "h1", "port": "p2", "ip": "10.2.0.12"}`, 201, nil)
	e.do(t, "POST", "/api/v1/networks", `{"name": "ext1", "subnet": "192.0.2.0/24", "kind": "external", "datapath": "h1"}`).
		wantError(t, 400, "port", "an external network needs the port")
	var ext vnet.Network
	e.ok(t, "POST", "/api/v1/networks", `{"name": "ext1", "subnet": "192.0.2.0/24", "gateway": "192.0.2.254", "kind": "external", "datapath": "h1", "port": "up1"}`, 201, &ext)
	if !ext.IsExternal() || ext.Port != "up1" {
		t.Fatalf("created %+v", ext)
	}
	e.do(t, "POST", "/api/v1/floating-ips", `{"network": "ext1", "interface": "a1"}`).
		wantError(t, 400, "interface", `which no router with a gateway on "ext1" serves`)
	e.ok(t, "POST", "/api/v1/routers", `{"name": "r1", "interfaces": [{"network": "net1"}, {"network": "ext1", "ip": "192.0.2.1"}]}`, 201, nil)

	var f vnet.FloatingIP
	r := e.ok(t, "POST", "/api/v1/floating-ips", `{"network": "ext1", "interface": "a1"}`, 201, &f)
	if f.IP != "192.0.2.2" || r.header.Get("Location") != "/api/v1/floating-ips/192.0.2.2" {
		t.Fatalf("chosen %+v %v", f, r.header)
	}
	for _, tc := range []struct {
		body   string
		status int
		field  string
		msg    string
	}{
		{`{"network": "ext1", "ip": "10.9.9.9", "interface": "a1"}`, 400, "ip", "10.9.9.9 is outside the subnet 192.0.2.0/24"},
		{`{"network": "ext1", "ip": "192.0.2.1", "interface": "b1"}`, 400, "ip", "already used by router r1"},
		{`{"network": "ext1", "ip": "192.0.2.2", "interface": "b1"}`, 409, "ip", `floating IP 192.0.2.2 is in use by interface "a1"`},
		{`{"network": "ext1", "ip": "192.0.2.9", "interface": "a1"}`, 400, "interface", `already has the floating IP 192.0.2.2`},
		{`{"network": "net1", "interface": "a1"}`, 400, "network", "is not an external network"},
		{`{"network": "ext1", "interface": "nope"}`, 400, "interface", `unknown interface "nope"`},
		{`{"interface": "a1"}`, 400, "network", "network is missing"},
	} {
		e.do(t, "POST", "/api/v1/floating-ips", tc.body).wantError(t, tc.status, tc.field, tc.msg)
	}
	// the interface cannot go while its floating IP leads to it
	e.do(t, "DELETE", "/api/v1/interfaces/a1", "").wantError(t, 409, "", "in use by floating IP 192.0.2.2")
	var list []vnet.FloatingIP
	e.ok(t, "GET", "/api/v1/floating-ips", "", 200, &list)
	if len(list) != 1 || list[0] != f {
		t.Fatalf("list %+v", list)
	}
	e.do(t, "PUT", "/api/v1/floating-ips/192.0.2.2", `{"network": "ext1", "interface": "b1"}`).
		wantError(t, 400, "interface", `network "net2", which no router`)
	var gone vnet.FloatingIP
	e.ok(t, "DELETE", "/api/v1/floating-ips/192.0.2.2", "", 200, &gone)
	if gone != f {
		t.Fatalf("deleted %+v", gone)
	}
	e.do(t, "GET", "/api/v1/floating-ips/192.0.2.2", "").wantError(t, 404, "name", "does not exist")
}
