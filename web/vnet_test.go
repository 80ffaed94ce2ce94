package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/vnet"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/client"
	"github.com/satellite-sdn/satellite/web/webtest"
)

// vnetEnv is an API with virtual networks over a controller (no switches
// unless the test connects some) and a bolt store in a temporary
// directory.
type vnetEnv struct {
	*webtest.Env // the controller; Connect adds emulated switches
	api          *webtest.Env
	mgr          *vnet.Manager
	store        *vnet.BoltStore
}

func startVNet(t *testing.T, leases ...vnet.Lease) *vnetEnv {
	t.Helper()
	ctlEnv := webtest.Start(t)
	store, err := vnet.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, l := range leases {
		if err := store.SaveLease(l); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mgr, err := vnet.NewManager(store, ctlEnv.Ctl, nil, vnet.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(ctlEnv.Ctl, web.WithLogger(log), web.WithoutAuth(), web.WithVirtualNetworks(mgr)))
	t.Cleanup(srv.Close)
	return &vnetEnv{Env: ctlEnv, api: &webtest.Env{URL: srv.URL}, mgr: mgr, store: store}
}

func (e *vnetEnv) do(t *testing.T, method, path, body string) response {
	t.Helper()
	return do(t, e.api, method, path, body)
}

// ok does a request and decodes a successful answer.
func (e *vnetEnv) ok(t *testing.T, method, path, body string, status int, v any) response {
	t.Helper()
	r := e.do(t, method, path, body)
	r.decode(t, status, v)
	return r
}

func (e *vnetEnv) revision() uint64 {
	_, rev := e.mgr.Config()
	return rev
}

const (
	netBody   = `{"name": "net1", "subnet": "10.1.0.0/24", "gateway": "10.1.0.1", "dhcp": true, "dns": ["10.1.0.53"]}`
	net2Body  = `{"name": "net2", "subnet": "10.2.0.0/24", "gateway": "10.2.0.1"}`
	dpBody    = `{"name": "h1", "dpid": "1", "segment": "a"}`
	ifaceBody = `{"name": "a1", "network": "net1", "datapath": "h1", "port": "p1", "mac": "02:00:00:00:01:01", "ip": "10.1.0.11"}`
)

func TestVNetObjects(t *testing.T) {
	e := startVNet(t)

	// datapaths
	var dp vnet.Datapath
	r := e.ok(t, "POST", "/api/v1/datapaths", dpBody, 201, &dp)
	if dp.DPID != "0000000000000001" || dp.Segment != "a" || r.header.Get("Location") != "/api/v1/datapaths/h1" {
		t.Fatalf("created %+v %v", dp, r.header)
	}
	e.do(t, "POST", "/api/v1/datapaths", dpBody).wantError(t, 409, "name", `datapath "h1" already exists (PUT /api/v1/datapaths/h1 replaces it)`)
	e.do(t, "POST", "/api/v1/datapaths", `{"name": "h2", "dpid": "1"}`).wantError(t, 400, "dpid", `datapath "h2": dpid: already used by datapath "h1"`)
	e.do(t, "POST", "/api/v1/datapaths", `{"name": "H2", "dpid": "2"}`).wantError(t, 400, "name", `datapath "H2": name: want 1-63 lower-case letters`)
	e.do(t, "POST", "/api/v1/datapaths", `{"dpid": "2"}`).wantError(t, 400, "name", "name is missing")

	// networks: defaults filled in, ids kept by PUT
	var n vnet.Network
	r = e.ok(t, "POST", "/api/v1/networks", netBody, 201, &n)
	if n.ID != 1 || n.DHCPStart != "10.1.0.128" || n.DHCPEnd != "10.1.0.254" || n.LeaseSeconds != 3600 || r.header.Get("Location") != "/api/v1/networks/net1" {
		t.Fatalf("created %+v", n)
	}
	e.ok(t, "POST", "/api/v1/networks", net2Body, 201, &n)
	if n.ID != 2 {
		t.Fatalf("net2 %+v", n)
	}
	for _, tc := range []struct{ body, field, msg string }{
		{`{"name": "n3", "subnet": "10.3.0.0/33"}`, "subnet", `network "n3": subnet: "10.3.0.0/33" is not an IPv4 CIDR like 10.1.0.0/24`},
		{`{"name": "n3", "subnet": "10.3.0.1/24"}`, "subnet", "has host bits set; did you mean 10.3.0.0/24?"},
		{`{"name": "n3", "subnet": "10.3.0.0/24", "gateway": "10.4.0.1"}`, "gateway", "10.4.0.1 is outside the subnet 10.3.0.0/24"},
		{`{"name": "n3", "subnet": "10.3.0.0/24", "dns": ["x"]}`, "dns", `"x" is not an IP address`},
		{`{"name": "n3", "subnet": "10.3.0.0/24", "id": 2}`, "id", `2 already used by network "net2"`},
		{`{"name": "n3", "subnet": 5}`, "subnet", "subnet: got JSON number, want a string"},
		{`{"name": "n3", "subnet": "10.3.0.0/24", "gatway": "10.3.0.1"}`, "gatway", `unknown field "gatway"`},
		{`{"name": "n3"`, "", "request body is not valid JSON"},
		{``, "", "request body is empty"},
	} {
		e.do(t, "POST", "/api/v1/networks", tc.body).wantError(t, 400, tc.field, tc.msg)
	}
	var nets []vnet.Network
	e.ok(t, "GET", "/api/v1/networks", "", 200, &nets)
	if len(nets) != 2 || nets[0].Name != "net1" || nets[1].Name != "net2" {
		t.Fatalf("list %+v", nets)
	}
	e.ok(t, "GET", "/api/v1/networks/net2", "", 200, &n)
	if n.Name != "net2" || n.Gateway != "10.2.0.1" {
		t.Fatalf("get %+v", n)
	}
	e.do(t, "GET", "/api/v1/networks/nope", "").wantError(t, 404, "name", `network "nope" does not exist (see GET /api/v1/networks)`)
	e.do(t, "GET", "/api/v1/networks?x=1", "").wantError(t, 400, "x", `unknown query parameter "x"`)
	e.ok(t, "PUT", "/api/v1/networks/net2", `{"subnet": "10.2.0.0/24", "gateway": "10.2.0.1", "dns": ["10.2.0.53"]}`, 200, &n)
	if n.ID != 2 || n.Name != "net2" || !reflect.DeepEqual(n.DNS, []string{"10.2.0.53"}) {
		t.Fatalf("put %+v", n)
	}
	e.do(t, "PUT", "/api/v1/networks/net2", `{"name": "net9", "subnet": "10.2.0.0/24"}`).wantError(t, 400, "name", "renaming is not supported")
	e.do(t, "PUT", "/api/v1/networks/nope", `{"subnet": "10.2.0.0/24"}`).wantError(t, 404, "name", `network "nope" does not exist`)
	e.do(t, "PATCH", "/api/v1/networks/net2", `{}`).wantError(t, 405, "", "method PATCH is not allowed on /api/v1/networks/net2 (allowed: DELETE, GET, HEAD, PUT)")

	// interfaces: what is wrong is explained
	var in vnet.Interface
	e.ok(t, "POST", "/api/v1/interfaces", ifaceBody, 201, &in)
	if in.ID != 1 || in.Mode != "vif" || in.MAC != "02:00:00:00:01:01" {
		t.Fatalf("created %+v", in)
	}
	for _, tc := range []struct{ body, field, msg string }{
		{`{"name": "a2", "network": "net1", "datapath": "h1", "port": "p2", "ip": "10.2.0.12"}`, "ip", `interface "a2": ip: 10.2.0.12 is outside the subnet 10.1.0.0/24`},
		{`{"name": "a2", "network": "net1", "datapath": "h1", "port": "p2", "ip": "10.1.0.11"}`, "ip", `10.1.0.11 is already used by interface a1 in network "net1"`},
		{`{"name": "a2", "network": "net1", "datapath": "h1", "port": "p2", "mac": "02:00:00:00:01:01"}`, "mac", `02:00:00:00:01:01 is already used by interface a1 in network "net1"`},
		{`{"name": "a2", "network": "net1", "datapath": "h1", "port": "p2", "mac": "01:00:00:00:00:01"}`, "mac", "is not a unicast MAC address"},
		{`{"name": "a2", "network": "net7", "datapath": "h1", "port": "p2"}`, "network", `unknown network "net7"`},
		{`{"name": "a2", "network": "net1", "datapath": "h7", "port": "p2"}`, "datapath", `unknown datapath "h7"`},
		{`{"name": "a2", "network": "net1", "datapath": "h1", "port": "p1"}`, "port", `port p1 on h1 (vlan 0) is already bound to interface "a1"`},
		{`{"name": "a2", "network": "net2", "datapath": "h1", "port": "p2"}`, "ip", `network "net2" has no DHCP: give the interface a static address`},
		{`{"name": "a2", "network": "net1", "datapath": "h1", "port": "p2", "security_groups": ["web"]}`, "security_groups", `unknown security group "web"`},
		{`{"name": "a2", "network": "net1", "datapath": "h1", "port": "p2", "vlan": 5000}`, "vlan", "5000; want 1..4094"},
	} {
		e.do(t, "POST", "/api/v1/interfaces", tc.body).wantError(t, 400, tc.field, tc.msg)
	}
	// the same MAC in another network is fine
	e.ok(t, "POST", "/api/v1/interfaces", `{"name": "b1", "network": "net2", "datapath": "h1", "port": "p2", "mac": "02:00:00:00:01:01", "ip": "10.2.0.11"}`, 201, &in)
	// a change that would break another object: 422, saying which
	e.do(t, "PUT", "/api/v1/networks/net1", `{"subnet": "10.5.0.0/24"}`).wantError(t, 422, "",
		`this change to network "net1" would make interface "a1" invalid: ip: 10.1.0.11 is outside the subnet 10.5.0.0/24`)
	rev := e.revision()
	e.ok(t, "PUT", "/api/v1/interfaces/b1", `{"network": "net2", "datapath": "h1", "port": "p2", "ip": "10.2.0.12"}`, 200, &in)
	if in.ID != 2 || in.IP != "10.2.0.12" || in.MAC == "02:00:00:00:01:01" || e.revision() != rev+1 {
		t.Fatalf("put: %+v (a MAC left out is generated), revision %d", in, e.revision())
	}

	// routers
	var rt vnet.Router
	e.ok(t, "POST", "/api/v1/routers", `{"name": "r1", "interfaces": [{"network": "net1"}, {"network": "net2", "ip": "10.2.0.1"}]}`, 201, &rt)
	if rt.ID != 1 || len(rt.Interfaces) != 2 || rt.Interfaces[0].IP != "10.1.0.1" || rt.Interfaces[0].MAC == "" {
		t.Fatalf("router %+v", rt)
	}
	e.do(t, "POST", "/api/v1/routers", `{"name": "r2", "interfaces": [{"network": "net1"}]}`).wantError(t, 400, "interfaces",
		`router "r2": interfaces: 10.1.0.1 in network "net1" is already used by router r1`)
	e.ok(t, "POST", "/api/v1/routers", `{"name": "r0"}`, 201, &rt)
	if rt.Interfaces == nil {
		t.Fatal("a router's interfaces are [] rather than null")
	}

	// security groups: ids assigned
	var g vnet.SecurityGroup
	e.ok(t, "POST", "/api/v1/security-groups", `{"name": "web"}`, 201, &g)
	if g.ID != 1 || g.Rules == nil {
		t.Fatalf("group %+v", g)
	}
	e.ok(t, "POST", "/api/v1/security-groups", `{"name": "db", "rules": [{"protocol": "tcp", "port_min": 5432, "remote_group": "web"}]}`, 201, &g)
	if g.ID != 2 || g.Rules[0].Direction != "ingress" || g.Rules[0].PortMax != 5432 {
		t.Fatalf("group %+v", g)
	}
	e.do(t, "POST", "/api/v1/security-groups", `{"name": "x", "rules": [{"protocol": "sctp"}]}`).wantError(t, 400, "protocol",
		`security group "x" rule 1: protocol: "sctp"; want tcp, udp, icmp or any`)
	e.ok(t, "PUT", "/api/v1/interfaces/a1", `{"network": "net1", "datapath": "h1", "port": "p1", "mac": "02:00:00:00:01:01", "ip": "10.1.0.11", "security_groups": ["web"]}`, 200, &in)

	// deletes: refused while in use (409, saying by what), then allowed
	e.do(t, "DELETE", "/api/v1/networks/net1", "").wantError(t, 409, "", `network "net1" is in use by interface "a1" and router "r1"; delete them or change them first`)
	e.do(t, "DELETE", "/api/v1/security-groups/web", "").wantError(t, 409, "", `security group "web" is in use by interface "a1" and rule 1 of security group "db"`)
	e.do(t, "DELETE", "/api/v1/datapaths/h1", "").wantError(t, 409, "", `datapath "h1" is in use by interface "a1" and interface "b1"`)
	e.do(t, "DELETE", "/api/v1/networks/nope", "").wantError(t, 404, "name", `network "nope" does not exist`)
	rev = e.revision()
	e.ok(t, "DELETE", "/api/v1/routers/r1", "", 200, &rt)
	e.ok(t, "DELETE", "/api/v1/interfaces/a1", "", 200, &in)
	if rt.Name != "r1" || in.Name != "a1" || e.revision() != rev+2 {
		t.Fatalf("deleted %+v %+v, revision %d", rt, in, e.revision())
	}
	e.ok(t, "DELETE", "/api/v1/networks/net1", "", 200, &n)
	e.ok(t, "DELETE", "/api/v1/security-groups/db", "", 200, &g)
	e.ok(t, "DELETE", "/api/v1/security-groups/web", "", 200, &g)
	e.ok(t, "DELETE", "/api/v1/interfaces/b1", "", 200, &in)
	e.ok(t, "DELETE", "/api/v1/datapaths/h1", "", 200, &dp)
	var dps []vnet.Datapath
	e.ok(t, "GET", "/api/v1/datapaths", "", 200, &dps)
	if len(dps) != 0 || dps == nil {
		t.Fatalf("datapaths %+v", dps)
	}
}

func TestVNetRouterAndGroupParts(t *testing.T) {
	e := startVNet(t)
	for _, b := range []struct{ path, body string }{
		{"/api/v1/datapaths", dpBody}, {"/api/v1/networks", netBody}, {"/api/v1/networks", net2Body},
		{"/api/v1/networks", `{"name": "net3", "subnet": "10.3.0.0/24", "gateway": "10.3.0.1"}`},
		{"/api/v1/interfaces", ifaceBody}, {"/api/v1/routers", `{"name": "r1", "interfaces": [{"network": "net1"}]}`},
		{"/api/v1/security-groups", `{"name": "web"}`},
	} {
		e.ok(t, "POST", b.path, b.body, 201, nil)
	}

	// router interfaces
	var ri vnet.RouterInterface
	r := e.ok(t, "POST", "/api/v1/routers/r1/interfaces", `{"network": "net2"}`, 201, &ri)
	if ri.IP != "10.2.0.1" || ri.MAC == "" || r.header.Get("Location") != "/api/v1/routers/r1/interfaces/net2" {
		t.Fatalf("added %+v %v", ri, r.header)
	}
	e.do(t, "POST", "/api/v1/routers/r1/interfaces", `{"network": "net2"}`).wantError(t, 409, "network", `router "r1" already has an interface in network net2`)
	e.do(t, "POST", "/api/v1/routers/r1/interfaces", `{"ip": "10.2.0.1"}`).wantError(t, 400, "network", "network is missing")
	e.do(t, "POST", "/api/v1/routers/r1/interfaces", `{"network": "net9"}`).wantError(t, 400, "interfaces", `router "r1": interfaces: unknown network "net9"`)
	e.do(t, "POST", "/api/v1/routers/r9/interfaces", `{"network": "net2"}`).wantError(t, 404, "name", `router "r9" does not exist`)
	e.ok(t, "POST", "/api/v1/routers/r1/interfaces", `{"network": "net3"}`, 201, nil)
	var ris []vnet.RouterInterface
	e.ok(t, "GET", "/api/v1/routers/r1/interfaces", "", 200, &ris)
	if len(ris) != 3 || ris[1].Network != "net2" {
		t.Fatalf("interfaces %+v", ris)
	}
	e.ok(t, "PUT", "/api/v1/routers/r1/interfaces/net2", `{"ip": "10.2.0.254"}`, 200, &ri)
	if ri.Network != "net2" || ri.IP != "10.2.0.254" {
		t.Fatalf("put %+v", ri)
	}
	e.do(t, "PUT", "/api/v1/routers/r1/interfaces/net2", `{"network": "net1"}`).wantError(t, 400, "network", "the body's network net1 differs from the path's net2")
	e.ok(t, "GET", "/api/v1/routers/r1/interfaces/net2", "", 200, &ri)
	e.do(t, "GET", "/api/v1/routers/r1/interfaces/net7", "").wantError(t, 404, "network", `router "r1" has no interface in network net7`)

	// routes: the destination is a CIDR in the path, escaped or not
	var route vnet.Route
	r = e.ok(t, "POST", "/api/v1/routers/r1/routes", `{"destination": "10.9.0.0/16", "next_hop": "10.1.0.11"}`, 201, &route)
	if route.NextHop != "10.1.0.11" || r.header.Get("Location") != "/api/v1/routers/r1/routes/10.9.0.0/16" {
		t.Fatalf("route %+v %v", route, r.header)
	}
	e.do(t, "POST", "/api/v1/routers/r1/routes", `{"destination": "10.9.0.0/16", "next_hop": "10.1.0.12"}`).wantError(t, 409, "destination", `router "r1" already has a route to 10.9.0.0/16`)
	e.do(t, "POST", "/api/v1/routers/r1/routes", `{"destination": "10.8.0.0/16", "next_hop": "10.7.0.1"}`).wantError(t, 400, "routes[1].next_hop", "10.7.0.1 is not in any of the router's networks")
	e.do(t, "POST", "/api/v1/routers/r1/routes", `{"destination": "10.8.0.0/33", "next_hop": "10.1.0.1"}`).wantError(t, 400, "routes[1].destination", `"10.8.0.0/33" is not an IPv4 CIDR`)
	e.ok(t, "GET", "/api/v1/routers/r1/routes/10.9.0.0/16", "", 200, &route)
	e.ok(t, "GET", "/api/v1/routers/r1/routes/10.9.0.0%2F16", "", 200, &route)
	e.do(t, "GET", "/api/v1/routers/r1/routes/10.9.0.0", "").wantError(t, 400, "destination", `destination "10.9.0.0": want an IPv4 CIDR`)
	e.do(t, "GET", "/api/v1/routers/r1/routes/10.10.0.0/16", "").wantError(t, 404, "destination", `router "r1" has no route to 10.10.0.0/16`)
	e.ok(t, "PUT", "/api/v1/routers/r1/routes/10.9.0.0/16", `{"next_hop": "10.2.0.20"}`, 200, &route)
	if route.Destination != "10.9.0.0/16" || route.NextHop != "10.2.0.20" {
		t.Fatalf("put route %+v", route)
	}
	// the route needs the interface in net2
	e.do(t, "DELETE", "/api/v1/routers/r1/interfaces/net2", "").wantError(t, 409, "",
		`route 10.9.0.0/16 via 10.2.0.20 of router "r1" needs the interface in network "net2"; delete the route first`)
	e.ok(t, "DELETE", "/api/v1/routers/r1/interfaces/net3", "", 200, &ri)
	e.ok(t, "DELETE", "/api/v1/routers/r1/routes/10.9.0.0%2F16", "", 200, &route)
	e.ok(t, "DELETE", "/api/v1/routers/r1/interfaces/net2", "", 200, &ri)
	var rt vnet.Router
	e.ok(t, "GET", "/api/v1/routers/r1", "", 200, &rt)
	if len(rt.Interfaces) != 1 || len(rt.Routes) != 0 {
		t.Fatalf("router %+v", rt)
	}

	// rules, by number
	var rule vnet.Rule
	r = e.ok(t, "POST", "/api/v1/security-groups/web/rules", `{"protocol": "tcp", "port_min": 22, "remote_cidr": "10.2.0.0/24"}`, 201, &rule)
	if rule.Direction != "ingress" || rule.PortMax != 22 || r.header.Get("Location") != "/api/v1/security-groups/web/rules/1" {
		t.Fatalf("rule %+v %v", rule, r.header)
	}
	e.do(t, "POST", "/api/v1/security-groups/web/rules", `{"direction": "ingress", "protocol": "tcp", "port_min": 22, "port_max": 22, "remote_cidr": "10.2.0.0/24"}`).
		wantError(t, 409, "n", `security group "web" already has rule 1`)
	e.do(t, "POST", "/api/v1/security-groups/web/rules", `{"protocol": "tcp", "port_min": 90, "port_max": 80}`).wantError(t, 400, "port_min",
		`security group "web" rule 2: port_min: want 1 <= port_min <= port_max`)
	r = e.ok(t, "POST", "/api/v1/security-groups/web/rules", `{"protocol": "icmp"}`, 201, &rule)
	if r.header.Get("Location") != "/api/v1/security-groups/web/rules/2" {
		t.Fatalf("location %v", r.header)
	}
	var rules []vnet.Rule
	e.ok(t, "GET", "/api/v1/security-groups/web/rules", "", 200, &rules)
	if len(rules) != 2 || rules[1].Protocol != "icmp" {
		t.Fatalf("rules %+v", rules)
	}
	e.ok(t, "PUT", "/api/v1/security-groups/web/rules/2", `{"protocol": "udp", "port_min": 53}`, 200, &rule)
	if rule.Protocol != "udp" || rule.PortMax != 53 {
		t.Fatalf("put rule %+v", rule)
	}
	e.do(t, "GET", "/api/v1/security-groups/web/rules/3", "").wantError(t, 404, "n", `security group "web" has no rule 3`)
	e.do(t, "GET", "/api/v1/security-groups/web/rules/01", "").wantError(t, 400, "n", `rule "01": want a rule number`)
	e.do(t, "DELETE", "/api/v1/security-groups/web/rules/0", "").wantError(t, 400, "n", `rule "0": want a rule number`)
	e.ok(t, "DELETE", "/api/v1/security-groups/web/rules/1", "", 200, &rule)

	// stateful by default, shown; stateless on request
	var sg vnet.SecurityGroup
	e.ok(t, "GET", "/api/v1/security-groups/web", "", 200, &sg)
	if sg.Stateful == nil || !*sg.Stateful {
		t.Fatalf("group %+v: want stateful shown as true", sg)
	}
	sg.Stateful = new(bool)
	body, _ := json.Marshal(sg)
	e.ok(t, "PUT", "/api/v1/security-groups/web", string(body), 200, &sg)
	var again vnet.SecurityGroup
	e.ok(t, "GET", "/api/v1/security-groups/web", "", 200, &again)
	if again.Stateful == nil || *again.Stateful || len(again.Rules) != len(sg.Rules) {
		t.Fatalf("after PUT stateful false: %+v", again)
	}
	e.do(t, "PUT", "/api/v1/security-groups/web", `{"stateful": "yes"}`).wantError(t, 400, "stateful", "want bool")
	e.ok(t, "GET", "/api/v1/security-groups/web/rules/1", "", 200, &rule)
	if rule.Protocol != "udp" {
		t.Fatalf("after deleting rule 1, rule 1 is %+v", rule)
	}
}

func TestVNetAutoNetwork(t *testing.T) {
	e := startVNet(t)
	e.ok(t, "POST", "/api/v1/networks", `{"name": "lab", "subnet": "10.0.0.0/16"}`, 201, nil)
	var res vnet.AutoResult
	r := e.ok(t, "POST", "/api/v1/networks/auto", "", 201, &res)
	if !res.Created || res.Network.Subnet != "10.1.0.0/24" || res.Network.Gateway != "10.1.0.1" || !res.Network.DHCP || len(res.Network.DNS) != 0 ||
		res.Router.Name != "default-router" || res.Router.Interfaces[0].IP != "10.1.0.1" || r.header.Get("Location") != "/api/v1/networks/default" {
		t.Fatalf("auto %+v", res)
	}
	rev := e.revision()
	var again vnet.AutoResult
	e.ok(t, "POST", "/api/v1/networks/auto", `{"dns": ["10.1.0.53"]}`, 200, &again)
	if again.Created || again.Revision != rev || !reflect.DeepEqual(again.Network, res.Network) || e.revision() != rev {
		t.Fatalf("again %+v", again)
	}
	e.do(t, "POST", "/api/v1/networks/auto", `{"dns": "x"}`).wantError(t, 400, "dns", "dns: got JSON string")
	// a network named auto is an ordinary network
	e.do(t, "GET", "/api/v1/networks/auto", "").wantError(t, 404, "name", `network "auto" does not exist`)

	e2 := startVNet(t)
	e2.do(t, "POST", "/api/v1/networks/auto", `{"dns": ["nope"]}`).wantError(t, 400, "dns", `network "default": dns: "nope" is not an IP address`)
	e2.ok(t, "POST", "/api/v1/networks/auto", `{"dns": ["192.0.2.53"]}`, 201, &res)
	if res.Network.Subnet != "10.0.0.0/24" || res.Network.DNS[0] != "192.0.2.53" {
		t.Fatalf("auto %+v", res)
	}
}

func TestVNetTrunksAndLeases(t *testing.T) {
	expires := time.Date(2031, 1, 2, 3, 4, 5, 600, time.UTC)
	past := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	e := startVNet(t, vnet.Lease{Network: "net1", MAC: "02:00:00:00:01:02", IP: "10.1.0.128", Expires: expires},
		vnet.Lease{Network: "net1", MAC: "02:00:00:00:09:09", IP: "10.1.0.129", Expires: expires, State: vnet.LeaseBound},
		vnet.Lease{Network: "net1", MAC: "02:00:00:00:09:0a", IP: "10.1.0.130", Expires: past, State: vnet.LeaseBound}, // long expired
		vnet.Lease{Network: "net1", MAC: "02:00:00:00:09:0b", IP: "10.1.0.131", Expires: past, State: vnet.LeaseReleased},
		vnet.Lease{Network: "net1", MAC: "02:00:00:00:09:0c", IP: "10.1.0.132", Expires: expires, State: vnet.LeaseDeclined},
		vnet.Lease{Network: "net1", MAC: "02:00:00:00:09:0d", IP: "10.1.0.133", Expires: past, State: vnet.LeaseDeclined}) // quarantine over: not listed
	var res vnet.ApplyResult
	e.ok(t, "PUT", "/api/v1/vnet/config", `{
		"datapaths": [{"name": "h1", "dpid": "1"}, {"name": "h2", "dpid": "2"}],
		"networks": [{"name": "net1", "subnet": "10.1.0.0/24", "dhcp": true}, {"name": "net2", "subnet": "10.2.0.0/24", "dhcp": true}],
		"interfaces": [
			{"name": "t10", "network": "net1", "datapath": "h1", "port": "trunk", "vlan": 10, "mac": "02:00:00:00:01:02"},
			{"name": "t20", "network": "net2", "datapath": "h1", "port": "trunk", "vlan": 20},
			{"name": "n1", "network": "net2", "datapath": "h1", "port": "trunk"},
			{"name": "u1", "network": "net1", "datapath": "h1", "port": "p1"},
			{"name": "t30", "network": "net2", "datapath": "h2", "port": "up", "vlan": 30}
		]}`, 200, &res)
	var trunks []api.Trunk
	e.ok(t, "GET", "/api/v1/trunks", "", 200, &trunks)
	want := []api.Trunk{
		{Datapath: "h1", Port: "trunk", VLANs: []api.TrunkVLAN{{VLAN: 10, Network: "net1", Interface: "t10"}, {VLAN: 20, Network: "net2", Interface: "t20"}},
			Native: &api.TrunkVLAN{Network: "net2", Interface: "n1"}},
		{Datapath: "h2", Port: "up", VLANs: []api.TrunkVLAN{{VLAN: 30, Network: "net2", Interface: "t30"}}},
	}
	if !reflect.DeepEqual(trunks, want) {
		t.Fatalf("trunks %+v", trunks)
	}
	e.ok(t, "GET", "/api/v1/trunks?datapath=h2", "", 200, &trunks)
	if len(trunks) != 1 || trunks[0].Port != "up" {
		t.Fatalf("trunks of h2 %+v", trunks)
	}
	e.do(t, "GET", "/api/v1/trunks?datapath=h9", "").wantError(t, 404, "datapath", `datapath "h9" does not exist`)

	var leases []api.Lease
	e.ok(t, "GET", "/api/v1/leases", "", 200, &leases)
	if len(leases) != 5 || leases[0].Interface != "t10" || leases[0].IP != "10.1.0.128" || !leases[0].Expires.Equal(expires.Truncate(time.Second)) || leases[1].Interface != "" {
		t.Fatalf("leases %+v", leases)
	}
	for i, want := range []string{"bound", "bound", "expired", "released", "declined"} {
		if leases[i].State != want || leases[i].IP != fmt.Sprintf("10.1.0.%d", 128+i) {
			t.Fatalf("lease %d: %+v, want %s", i, leases[i], want)
		}
	}
	var st api.VNetStatus
	e.ok(t, "GET", "/api/v1/vnet/status", "", 200, &st)
	if st.Leases != 2 {
		t.Fatalf("status counts %d leases, want the 2 bound ones", st.Leases)
	}
	e.ok(t, "GET", "/api/v1/leases?network=net2", "", 200, &leases)
	if len(leases) != 0 || leases == nil {
		t.Fatalf("leases of net2 %+v", leases)
	}
	e.do(t, "GET", "/api/v1/leases?network=net9", "").wantError(t, 404, "network", `network "net9" does not exist`)
}

func TestVNetStatusAndFlows(t *testing.T) {
	e := startVNet(t)
	e.Connect(switchemu.Config{DPID: 1, Ports: 2})
	var res vnet.ApplyResult
	e.ok(t, "PUT", "/api/v1/vnet/config", `{
		"datapaths": [{"name": "h1", "dpid": "1"}, {"name": "h2", "dpid": "2"}],
		"networks": [{"name": "net1", "subnet": "10.1.0.0/24", "gateway": "10.1.0.1"}],
		"interfaces": [
			{"name": "a1", "network": "net1", "datapath": "h1", "port": "p1", "mac": "02:00:00:00:01:01", "ip": "10.1.0.11"},
			{"name": "a2", "network": "net1", "datapath": "h2", "port": "vm1", "ip": "10.1.0.12"}],
		"routers": [{"name": "r1", "interfaces": [{"network": "net1"}]}]}`, 200, &res)
	var st api.VNetStatus
	e.ok(t, "GET", "/api/v1/vnet/status", "", 200, &st)
	if st.Revision != 1 || len(st.Datapaths) != 2 || !st.Datapaths[0].Connected || st.Datapaths[1].Connected || st.Datapaths[0].Reconciled != nil ||
		st.Networks != 1 || st.Interfaces != 2 || st.Routers != 1 || st.Notes == nil {
		t.Fatalf("status %+v", st)
	}
	if err := e.mgr.ReconcileNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.ok(t, "GET", "/api/v1/vnet/status", "", 200, &st)
	h1 := st.Datapaths[0]
	if h1.Name != "h1" || h1.DPID != "0000000000000001" || h1.Reconciled == nil || h1.Flows == 0 || !strings.HasPrefix(h1.LastChanges, "flows +") || h1.Error != "" {
		t.Fatalf("h1 after reconciling: %+v", h1)
	}
	if len(st.Notes) != 2 || !strings.Contains(strings.Join(st.Notes, "\n"), `interface "a2": port vm1 not present on datapath h2`) {
		t.Fatalf("notes %q", st.Notes)
	}

	var prog api.VNetProgram
	for _, id := range []string{"h1", "1", "0x1", "0000000000000001", "00:00:00:00:00:00:00:01"} {
		e.ok(t, "GET", "/api/v1/vnet/flows/"+id, "", 200, &prog)
		if prog.Datapath != "h1" || prog.DPID != "0000000000000001" || !prog.Connected || len(prog.Flows) != h1.Flows {
			t.Fatalf("%s: %+v", id, prog)
		}
	}
	var found bool
	for _, f := range prog.Flows {
		if f.Flow == "table=1,priority=200,in_port=1,dl_src=02:00:00:00:01:01,dl_type=0x800,nw_src=10.1.0.11,actions=write_metadata:0x10000000000/0xffffff8000000000,goto_table:2" {
			found = f.Owner.Kind == "interface" && f.Owner.Network == 1 && f.Owner.ID == 1 && f.Cookie == "0x0500000100000001" &&
				f.Match == "in_port=1,dl_src=02:00:00:00:01:01,dl_type=0x800,nw_src=10.1.0.11" && f.Actions == "write_metadata:0x10000000000/0xffffff8000000000,goto_table:2"
		}
	}
	if !found {
		b, _ := json.MarshalIndent(prog.Flows, "", " ")
		t.Fatalf("no anti-spoofing flow for a1:\n%s", b)
	}
	for i := 1; i < len(prog.Flows); i++ {
		a, b := prog.Flows[i-1], prog.Flows[i]
		if a.Table > b.Table || (a.Table == b.Table && a.Priority < b.Priority) {
			t.Fatalf("flows out of order at %d: %+v %+v", i, a, b)
		}
	}
	// the switch holds what the program says
	if n := len(e.Ctl.Switch(1).Ports()); n == 0 {
		t.Fatal("no ports")
	}
	e.ok(t, "GET", "/api/v1/vnet/flows/h2", "", 200, &prog)
	if prog.Connected || prog.Datapath != "h2" || prog.Groups == nil || len(prog.Groups) != 0 {
		t.Fatalf("h2 (not connected: no tunnel ports, no groups): %+v", prog)
	}
	e.do(t, "GET", "/api/v1/vnet/flows/7", "").wantError(t, 404, "dpid", "no datapath with id 0000000000000007 is configured")
	e.do(t, "GET", "/api/v1/vnet/flows/h9", "").wantError(t, 400, "dpid", `"h9" is neither the name of a datapath nor a datapath id`)
}

func TestVNetConfigImportExport(t *testing.T) {
	e := startVNet(t)
	doc := `datapaths:
  - {name: h1, dpid: "1"}
networks:
  - {name: net1, subnet: 10.1.0.0/24, gateway: 10.1.0.1, dhcp: true}
interfaces:
  - {name: a1, network: net1, datapath: h1, port: vm1, ip: 10.1.0.11}
routers:
  - {name: r1, interfaces: [{network: net1}]}
`
	put := func(body, ctype string) response {
		req, _ := http.NewRequest("PUT", e.api.URL+"/api/v1/vnet/config", strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{status: resp.StatusCode, header: resp.Header, body: b}
	}
	var res vnet.ApplyResult
	put(doc, "application/yaml").decode(t, 200, &res)
	if !res.Changed || res.Revision != 1 || !reflect.DeepEqual(res.Changes, []string{"+ datapath h1", "+ network net1", "+ interface a1", "+ router r1"}) {
		t.Fatalf("apply %+v", res)
	}
	// a body without a content type (or text/plain, as a cross-site form
	// sends) is refused before the handler: no CSRF
	for _, ct := range []string{"", "text/plain"} {
		if r := put(doc, ct); r.status != http.StatusUnsupportedMediaType || !strings.Contains(string(r.body), "application/yaml") {
			t.Fatalf("Content-Type %q: %d %s", ct, r.status, r.body)
		}
	}
	// idempotent: the same document
	put(doc, "application/x-yaml").decode(t, 200, &res)
	if res.Changed || res.Revision != 1 || res.Changes == nil || len(res.Changes) != 0 {
		t.Fatalf("apply again %+v", res)
	}

	// export as YAML and JSON; both apply back unchanged
	r := e.do(t, "GET", "/api/v1/vnet/config?format=yaml", "")
	if r.status != 200 || r.header.Get("Content-Type") != "application/yaml" || r.header.Get("Satellite-Revision") != "1" ||
		!strings.Contains(string(r.body), "    name: a1\n") || !strings.Contains(string(r.body), "security_groups: []\n") {
		t.Fatalf("yaml export %d %v\n%s", r.status, r.header, r.body)
	}
	put(string(r.body), "text/yaml; charset=utf-8").decode(t, 200, &res)
	if res.Changed {
		t.Fatalf("applying the YAML export changed %v", res.Changes)
	}
	var c vnet.Config
	r = e.ok(t, "GET", "/api/v1/vnet/config", "", 200, &c)
	if len(c.Interfaces) != 1 || c.Interfaces[0].MAC == "" || c.Networks[0].ID != 1 || c.SecurityGroups == nil {
		t.Fatalf("json export %+v", c)
	}
	put(string(r.body), "application/json").decode(t, 200, &res)
	if res.Changed {
		t.Fatalf("applying the JSON export changed %v", res.Changes)
	}

	// a change
	put(strings.Replace(doc, "ip: 10.1.0.11", "ip: 10.1.0.12", 1), "application/yaml").decode(t, 200, &res)
	if !res.Changed || res.Revision != 2 || !reflect.DeepEqual(res.Changes, []string{"~ interface a1"}) {
		t.Fatalf("change %+v", res)
	}

	// bad documents
	put("networks: [{name: n, subnet: 10.0.0.0/24, gatway: 10.0.0.1}]\n", "application/yaml").wantError(t, 400, "", `line 1: unknown field "gatway" in a network`)
	put(`{"networks": [{"name": "n", "subnet": "10.0.0.0/24"}]}`, "application/yaml").decode(t, 200, &res) // JSON is YAML
	put(`{"networks": 1}`, "application/json").wantError(t, 400, "", "line 1: networks: got JSON number, want a list")
	put(`networks: []`, "application/json").wantError(t, 400, "", "not valid JSON")
	put(``, "application/yaml").wantError(t, 400, "", "the configuration is empty")
	put(`{}`, "application/xml").wantError(t, 415, "", `Content-Type "application/xml": want application/json or application/yaml`)
	put(`{"interfaces": [{"name": "x", "network": "nope", "datapath": "h1", "port": "p"}]}`, "application/json").wantError(t, 400, "network", `interface "x": network: unknown network "nope"`)
	e.do(t, "GET", "/api/v1/vnet/config?format=xml", "").wantError(t, 400, "format", `format "xml": want json or yaml`)

	// the empty configuration removes everything
	put(`{}`, "application/json").decode(t, 200, &res)
	if !res.Changed || len(res.Changes) != 1 || res.Changes[0] != "- network n" {
		t.Fatalf("empty %+v", res)
	}
}

func TestVNetNotEnabled(t *testing.T) {
	env := webtest.Start(t)
	for _, p := range []string{"/api/v1/datapaths", "/api/v1/networks/x", "/api/v1/routers/r/routes", "/api/v1/trunks", "/api/v1/leases",
		"/api/v1/vnet/status", "/api/v1/vnet/flows/1", "/api/v1/vnet/config"} {
		do(t, env, "GET", p, "").wantError(t, 503, "", "virtual networks are not enabled on this server")
	}
	for _, p := range []string{"/api/v1/networks", "/api/v1/networks/auto", "/api/v1/routers/r/interfaces"} {
		do(t, env, "POST", p, "{}").wantError(t, 503, "", "virtual networks are not enabled on this server")
	}
	do(t, env, "PUT", "/api/v1/vnet/config", "{}").wantError(t, 503, "", "virtual networks are not enabled")
	do(t, env, "DELETE", "/api/v1/interfaces/a", "").wantError(t, 503, "", "virtual networks are not enabled")
}

func TestVNetClient(t *testing.T) {
	e := startVNet(t)
	ctx := context.Background()
	c, err := client.New(e.api.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDatapath(ctx, vnet.Datapath{Name: "h1", DPID: "1"}); err != nil {
		t.Fatal(err)
	}
	n, err := c.CreateNetwork(ctx, vnet.Network{Name: "net1", Subnet: "10.1.0.0/24", Gateway: "10.1.0.1"})
	if err != nil || n.ID != 1 {
		t.Fatalf("%+v %v", n, err)
	}
	n.DNS = []string{"10.1.0.53"}
	if n, err = c.UpdateNetwork(ctx, "net1", n); err != nil || n.DNS[0] != "10.1.0.53" {
		t.Fatalf("%+v %v", n, err)
	}
	if _, err := c.CreateInterface(ctx, vnet.Interface{Name: "a1", Network: "net1", Datapath: "h1", Port: "vm1", IP: "10.1.0.11"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRouter(ctx, vnet.Router{Name: "r1"}); err != nil {
		t.Fatal(err)
	}
	if ri, err := c.AddRouterInterface(ctx, "r1", vnet.RouterInterface{Network: "net1"}); err != nil || ri.IP != "10.1.0.1" {
		t.Fatalf("%+v %v", ri, err)
	}
	if _, err := c.AddRoute(ctx, "r1", vnet.Route{Destination: "10.9.0.0/16", NextHop: "10.1.0.11"}); err != nil {
		t.Fatal(err)
	}
	if rt, err := c.DeleteRoute(ctx, "r1", "10.9.0.0/16"); err != nil || rt.NextHop != "10.1.0.11" {
		t.Fatalf("%+v %v", rt, err)
	}
	if _, err := c.CreateSecurityGroup(ctx, vnet.SecurityGroup{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	if r, err := c.AddRule(ctx, "web", vnet.Rule{Protocol: "tcp", PortMin: 80}); err != nil || r.PortMax != 80 {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := c.DeleteRule(ctx, "web", 1); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteNetwork(ctx, "net1")
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 409 {
		t.Fatalf("%#v", err)
	}
	cfg, err := c.VNetConfig(ctx)
	if err != nil || len(cfg.Networks) != 1 {
		t.Fatalf("%+v %v", cfg, err)
	}
	if res, err := c.ApplyVNetConfig(ctx, cfg); err != nil || res.Changed {
		t.Fatalf("%+v %v", res, err)
	}
	if res, err := c.AutoNetwork(ctx, nil); err != nil || !res.Created || res.Network.Subnet != "10.0.0.0/24" {
		t.Fatalf("%+v %v", res, err)
	}
	if st, err := c.VNetStatus(ctx); err != nil || len(st.Datapaths) != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	if p, err := c.VNetFlows(ctx, "h1"); err != nil || p.DPID != "0000000000000001" {
		t.Fatalf("%+v %v", p, err)
	}
	if tr, err := c.Trunks(ctx, ""); err != nil || len(tr) != 0 {
		t.Fatalf("%+v %v", tr, err)
	}
	if l, err := c.Leases(ctx, "net1"); err != nil || len(l) != 0 {
		t.Fatalf("%+v %v", l, err)
	}
	for _, del := range []func() error{
		func() error { _, err := c.DeleteRouterInterface(ctx, "r1", "net1"); return err },
		func() error { _, err := c.DeleteInterface(ctx, "a1"); return err },
		func() error { _, err := c.DeleteRouter(ctx, "r1"); return err },
		func() error { _, err := c.DeleteRouter(ctx, "default-router"); return err },
		func() error { _, err := c.DeleteNetwork(ctx, "net1"); return err },
		func() error { _, err := c.DeleteSecurityGroup(ctx, "web"); return err },
		func() error { _, err := c.DeleteDatapath(ctx, "h1"); return err },
	} {
		if err := del(); err != nil {
			t.Fatal(err)
		}
	}
	if l, err := c.Networks(ctx); err != nil || len(l) != 1 || l[0].Name != "default" {
		t.Fatalf("%+v %v", l, err)
	}
}

// Switches are named as operators name them: wherever the API takes a
// datapath id, the name of a virtual-network datapath works too.
func TestSwitchesByName(t *testing.T) {
	e := startVNet(t)
	e.Connect(switchemu.Config{DPID: 0x1f, Ports: 2})
	e.ok(t, "PUT", "/api/v1/vnet/config", `{"datapaths": [{"name": "h1", "dpid": "1f"}, {"name": "h2", "dpid": "2"}]}`, 200, nil)
	var byName, byID []api.Port
	e.ok(t, "GET", "/api/v1/switches/h1/ports", "", 200, &byName)
	e.ok(t, "GET", "/api/v1/switches/1f/ports", "", 200, &byID)
	if len(byName) != 3 || len(byName) != len(byID) { // 2 ports and LOCAL
		t.Fatalf("ports of h1: %d, of 1f: %d", len(byName), len(byID))
	}
	e.do(t, "GET", "/api/v1/switches/h9/ports", "").wantError(t, 400, "dpid", "nor the name of a datapath (h1, h2)")
	e.do(t, "GET", "/api/v1/switches/h2/ports", "").wantError(t, 404, "dpid", "switch 0000000000000002 is not connected")
}
