package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, env *webtest.Env, method, path, body string) response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, env.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// get does a request, checks the status and decodes the JSON body into v.
func (r response) decode(t *testing.T, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
	if v != nil {
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatalf("decoding %s: %v", r.body, err)
		}
	}
}

// wantError checks an error response: status, message containing msg,
// and field.
func (r response) wantError(t *testing.T, status int, field, msg string) {
	t.Helper()
	var e api.Error
	r.decode(t, status, &e)
	if e.Field != field || !strings.Contains(e.Error, msg) {
		t.Fatalf("error %+v, want field %q and a message containing %q", e, field, msg)
	}
	var raw map[string]any
	_ = json.Unmarshal(r.body, &raw)
	if _, has := raw["field"]; field == "" && has {
		t.Fatalf("field present but empty in %s", r.body)
	}
}

func TestHealth(t *testing.T) {
	env := webtest.Start(t, web.WithVersion("1.2.3"))
	var h api.Health
	do(t, env, "GET", "/healthz", "").decode(t, 200, &h)
	if h.Status != "ok" || h.Switches != 0 || h.Version != "1.2.3" || h.UptimeS < 0 {
		t.Fatalf("%+v", h)
	}
	env.Connect(switchemu.Config{DPID: 1, Ports: 1})
	do(t, env, "GET", "/healthz", "").decode(t, 200, &h)
	if h.Switches != 1 {
		t.Fatalf("%+v", h)
	}
	do(t, env, "GET", "/healthz?verbose=1", "").wantError(t, 400, "verbose", `unknown query parameter "verbose"`)
	do(t, env, "POST", "/healthz", "{}").wantError(t, 405, "", "method POST is not allowed")
}

func TestListSwitches(t *testing.T) {
	env := webtest.Start(t)
	var list []api.Switch
	do(t, env, "GET", "/api/v1/switches", "").decode(t, 200, &list)
	if list == nil || len(list) != 0 {
		t.Fatalf("want an empty list, got %v", list)
	}
	before := time.Now().Add(-time.Second)
	env.Connect(switchemu.Config{DPID: 0xabc, Ports: 2})
	env.Connect(switchemu.Config{DPID: 1, Ports: 3})
	r := do(t, env, "GET", "/api/v1/switches", "")
	r.decode(t, 200, &list)
	if len(list) != 2 || list[0].DPID != "0000000000000001" || list[1].DPID != "0000000000000abc" {
		t.Fatalf("switches not sorted by dpid: %s", r.body)
	}
	s := list[0]
	if s.Manufacturer != "Satellite" || s.Software != "switchemu 1.0" || s.Hardware != "switchemu" || s.NTables != 254 ||
		!strings.HasPrefix(s.Remote, "127.0.0.1:") || s.ConnectedAt.Before(before) || s.ConnectedAt.After(time.Now()) {
		t.Fatalf("switch %+v", s)
	}
	if !strings.Contains(string(r.body), `"connected_at":"`+s.ConnectedAt.Format(time.RFC3339)+`"`) {
		t.Fatalf("connected_at is not RFC 3339 in %s", r.body)
	}
	if len(s.Ports) != 4 {
		t.Fatalf("ports %+v", s.Ports)
	}
	p1 := s.Ports[0]
	if p1.Number != 1 || p1.Name != "p1" || p1.State != "up" || p1.AdminDown || p1.LinkDown || !p1.Live ||
		p1.HWAddr != "0e:00:00:01:00:01" || p1.CurrSpeedKbps != 1e7 || p1.Reserved != "" {
		t.Fatalf("port 1 %+v", p1)
	}
	local := s.Ports[3]
	if local.Number != 0xfffffffe || local.Reserved != "local" || local.Name != "br0" {
		t.Fatalf("local port %+v", local)
	}
	if s.Session.RxMessages == 0 || s.Session.TxMessages == 0 {
		t.Fatalf("session counters %+v", s.Session)
	}
	do(t, env, "GET", "/api/v1/switches?all=1", "").wantError(t, 400, "all", "unknown query parameter")
	do(t, env, "DELETE", "/api/v1/switches", "").wantError(t, 405, "", "allowed: GET, HEAD")
}

func TestGetSwitchDPIDForms(t *testing.T) {
	env := webtest.Start(t)
	env.Connect(switchemu.Config{DPID: 0x1a, Ports: 1})
	for _, form := range []string{"000000000000001a", "1a", "1A", "0x1a", "0X001A", "00:00:00:00:00:00:00:1a", "00:1a"} {
		var s api.Switch
		do(t, env, "GET", "/api/v1/switches/"+form, "").decode(t, 200, &s)
		if s.DPID != "000000000000001a" {
			t.Fatalf("%s: %+v", form, s)
		}
	}
	r := do(t, env, "GET", "/api/v1/switches/ff", "")
	r.wantError(t, 404, "dpid", "switch 00000000000000ff is not connected")
	if got := strings.TrimSpace(string(r.body)); got != `{"error":"switch 00000000000000ff is not connected","field":"dpid"}` {
		t.Fatalf("404 body %s", got)
	}
	for _, bad := range []string{"xyz", "0x", "1:2", "00000000000000001", "00:00:00:00:00:00:00:00:01", "-1", "1a:2", "%20"} {
		do(t, env, "GET", "/api/v1/switches/"+bad, "").wantError(t, 400, "dpid", "want 1-16 hex digits")
	}
	do(t, env, "GET", "/api/v1/switches/1a?x=1", "").wantError(t, 400, "x", "this route takes none")
}

func TestUnknownRoutes(t *testing.T) {
	env := webtest.Start(t)
	do(t, env, "GET", "/", "").wantError(t, 404, "", "no route GET /")
	do(t, env, "GET", "/api/v2/switches", "").wantError(t, 404, "", "no route")
	do(t, env, "GET", "/api/v1/switches/1/bogus", "").wantError(t, 404, "", "no route GET /api/v1/switches/1/bogus")
	r := do(t, env, "PUT", "/api/v1/switches/1/flows", "{}")
	r.wantError(t, 405, "", "method PUT is not allowed")
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "POST") || !strings.Contains(allow, "DELETE") {
		t.Fatalf("Allow %q", allow)
	}
}

func TestPortsAndStats(t *testing.T) {
	env := webtest.Start(t)
	sw := env.Connect(switchemu.Config{DPID: 2, Ports: 2})
	sw.Count(1, 10, 1000, 20, 2000)
	sw.Count(2, math.MaxUint64, 0, 0, 0) // an all-ones counter: unsupported
	if err := sw.SetPortDown(2, true); err != nil {
		t.Fatal(err)
	}
	var ports []api.Port
	deadline := time.Now().Add(5 * time.Second)
	for {
		do(t, env, "GET", "/api/v1/switches/2/ports", "").decode(t, 200, &ports)
		if len(ports) == 3 && ports[1].State == "down" || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if p := ports[1]; p.Number != 2 || p.State != "down" || !p.LinkDown || p.AdminDown || p.Live {
		t.Fatalf("port 2 after link down: %+v", p)
	}

	var stats []api.PortStats
	r := do(t, env, "GET", "/api/v1/switches/2/ports/stats", "")
	r.decode(t, 200, &stats)
	if len(stats) != 3 {
		t.Fatalf("stats %s", r.body)
	}
	s1 := stats[0]
	if s1.Number != 1 || s1.Name != "p1" || s1.State != "up" || *s1.RxPackets != 10 || *s1.RxBytes != 1000 || *s1.TxPackets != 20 ||
		*s1.TxBytes != 2000 || *s1.RxErrors != 0 {
		t.Fatalf("port 1 stats %s", r.body)
	}
	if stats[1].RxPackets != nil || !strings.Contains(string(r.body), `"rx_packets":null`) || stats[1].State != "down" {
		t.Fatalf("all-ones counter not null: %s", r.body)
	}
	if stats[2].Reserved != "local" || stats[2].Name != "br0" {
		t.Fatalf("local port stats %+v", stats[2])
	}

	do(t, env, "GET", "/api/v1/switches/2/ports/stats?port=1", "").decode(t, 200, &stats)
	if len(stats) != 1 || stats[0].Number != 1 {
		t.Fatalf("port=1: %+v", stats)
	}
	do(t, env, "GET", "/api/v1/switches/2/ports/stats?port=local", "").decode(t, 200, &stats)
	if len(stats) != 1 || stats[0].Number != 0xfffffffe {
		t.Fatalf("port=local: %+v", stats)
	}
	for _, bad := range []string{"abc", "0", "-1", "4294967295"} {
		do(t, env, "GET", "/api/v1/switches/2/ports/stats?port="+bad, "").wantError(t, 400, "port", "want a port number")
	}
	do(t, env, "GET", "/api/v1/switches/2/ports/stats?port=1&port=2", "").wantError(t, 400, "port", "given 2 times")
	do(t, env, "GET", "/api/v1/switches/2/ports/stats?prot=1", "").wantError(t, 400, "prot", `unknown query parameter "prot" (want port)`)
	do(t, env, "GET", "/api/v1/switches/3/ports/stats", "").wantError(t, 404, "dpid", "not connected")
	do(t, env, "GET", "/api/v1/switches/3/ports", "").wantError(t, 404, "dpid", "not connected")
	do(t, env, "GET", "/api/v1/switches/zz/ports/stats", "").wantError(t, 400, "dpid", "hex")
}

func TestFlowsLifecycle(t *testing.T) {
	env := webtest.Start(t)
	sw := env.Connect(switchemu.Config{DPID: 3, Ports: 2})
	sess := env.Ctl.Switch(3)
	// a flow of another owner and a foreign one
	core := controller.Flow{Table: 0, Priority: 0, Cookie: controller.NewCookie(controller.OwnerCore, 0, 1),
		Instructions: ofp.Instructions{&ofp.InstructionApplyActions{Actions: ofp.Actions{&ofp.ActionOutput{Port: ofp.PortController}}}}}
	foreign := controller.Flow{Table: 1, Priority: 5, Cookie: 0x42}
	if err := sess.AddFlows(context.Background(), core, foreign); err != nil {
		t.Fatal(err)
	}

	// POST with an id
	var f api.Flow
	r := do(t, env, "POST", "/api/v1/switches/3/flows", `{"flow":"table=0,priority=100,in_port=1,dl_type=0x0800,nw_dst=10.0.0.0/8,actions=output:2","id":7}`)
	r.decode(t, 201, &f)
	if f.Cookie != "0x0300000000000007" || f.Owner != (api.Owner{Kind: "api", ID: 7}) || f.Priority != 100 || f.Table != 0 ||
		f.Match != "in_port=1,dl_type=0x800,nw_dst=10.0.0.0/8" || f.Actions != "output:2" {
		t.Fatalf("created %s", r.body)
	}
	if loc := r.header.Get("Location"); loc != "/api/v1/switches/0000000000000003/flows?owner=api&id=7" {
		t.Fatalf("Location %q", loc)
	}
	// POST without an id: the next free one
	do(t, env, "POST", "/api/v1/switches/3/flows", `{"flow":"table=1,priority=10,actions=drop"}`).decode(t, 201, &f)
	if f.Owner.ID != 8 || f.Cookie != "0x0300000000000008" {
		t.Fatalf("allocated %+v", f)
	}
	if n := len(sw.Flows()); n != 4 {
		t.Fatalf("switch has %d flows", n)
	}

	// GET all, sorted by table then priority (descending)
	var flows []api.Flow
	r = do(t, env, "GET", "/api/v1/switches/3/flows", "")
	r.decode(t, 200, &flows)
	if len(flows) != 4 {
		t.Fatalf("flows %s", r.body)
	}
	order := []string{flows[0].Owner.Kind, flows[1].Owner.Kind, flows[2].Owner.Kind, flows[3].Owner.Kind}
	if !reflect.DeepEqual(order, []string{"api", "core", "api", "foreign"}) {
		t.Fatalf("order %v: %s", order, r.body)
	}
	if c := flows[1]; c.Actions != "output:CONTROLLER" || c.Match != "" || c.Cookie != "0x0100000000000001" || c.Owner.ID != 1 {
		t.Fatalf("core flow %+v", c)
	}
	if fo := flows[3]; fo.Owner != (api.Owner{Kind: "foreign"}) || fo.Cookie != "0x0000000000000042" || fo.Actions != "drop" {
		t.Fatalf("foreign flow %+v", fo)
	}
	if flows[0].DurationS < 0 || flows[0].Packets != 0 {
		t.Fatalf("counters %+v", flows[0])
	}

	// filters
	for q, want := range map[string]int{
		"owner=api": 2, "owner=api&id=7": 1, "owner=api&id=99": 0, "owner=core": 1, "owner=foreign": 1,
		"table=1": 2, "table=0&owner=api": 1, "owner=api&network=0": 2, "owner=api&network=5": 0, "table=9": 0,
	} {
		do(t, env, "GET", "/api/v1/switches/3/flows?"+q, "").decode(t, 200, &flows)
		if len(flows) != want {
			t.Errorf("?%s: %d flows, want %d", q, len(flows), want)
		}
	}
	for q, field := range map[string]string{
		"table=255": "table", "table=x": "table", "table=-1": "table", "owner=bogus": "owner", "owner=": "owner",
		"id=7": "id", "network=1": "network", "owner=api&id=x": "id", "owner=api&network=16777216": "network",
		"owner=foreign&id=1": "id", "onwer=api": "onwer",
	} {
		do(t, env, "GET", "/api/v1/switches/3/flows?"+q, "").wantError(t, 400, field, "")
	}
	do(t, env, "GET", "/api/v1/switches/3/flows?owner=bogus", "").wantError(t, 400, "owner", `unknown owner kind "bogus"`)

	// DELETE one id
	var del api.DeleteResult
	r = do(t, env, "DELETE", "/api/v1/switches/3/flows?owner=api&id=7", "")
	r.decode(t, 200, &del)
	if del.Deleted != "requested" || del.Matched != 1 || del.Owner != "api" || del.ID == nil || *del.ID != 7 || del.Table != nil {
		t.Fatalf("delete %s", r.body)
	}
	if n := len(sw.Flows()); n != 3 {
		t.Fatalf("after delete id=7: %d flows", n)
	}
	// DELETE with no parameters removes every API flow, and only those
	do(t, env, "DELETE", "/api/v1/switches/3/flows", "").decode(t, 200, &del)
	if del.Owner != "api" || del.Matched != 1 {
		t.Fatalf("delete all api %+v", del)
	}
	for _, fl := range sw.Flows() {
		if controller.Cookie(fl.Cookie).Kind() == controller.OwnerAPI {
			t.Fatalf("API flow left: %+v", fl)
		}
	}
	if n := len(sw.Flows()); n != 2 {
		t.Fatalf("core and foreign flows must stay: %d", n)
	}
	// another owner only when named
	do(t, env, "DELETE", "/api/v1/switches/3/flows?owner=foreign&table=1", "").decode(t, 200, &del)
	if del.Owner != "foreign" || del.Matched != 1 || del.Table == nil || *del.Table != 1 || len(sw.Flows()) != 1 {
		t.Fatalf("delete foreign %+v, %d left", del, len(sw.Flows()))
	}
	do(t, env, "DELETE", "/api/v1/switches/3/flows?owner=api&id=-1", "").wantError(t, 400, "id", "whole number")
	do(t, env, "DELETE", "/api/v1/switches/3/flows?owner=nobody", "").wantError(t, 400, "owner", "unknown owner kind")
	do(t, env, "DELETE", "/api/v1/switches/3/flows?id=1&onwer=core", "").wantError(t, 400, "onwer", "unknown query parameter")
	do(t, env, "DELETE", "/api/v1/switches/4/flows", "").wantError(t, 404, "dpid", "not connected")
	do(t, env, "GET", "/api/v1/switches/4/flows", "").wantError(t, 404, "dpid", "not connected")
	if n := len(sw.Flows()); n != 1 {
		t.Fatalf("rejected deletes changed the table: %d flows", n)
	}
}

func TestFlowIDAllocation(t *testing.T) {
	env := webtest.Start(t)
	env.Connect(switchemu.Config{DPID: 5, Ports: 1})
	var f api.Flow
	do(t, env, "POST", "/api/v1/switches/5/flows", `{"flow":"priority=1,actions=drop"}`).decode(t, 201, &f)
	if f.Owner.ID != 1 {
		t.Fatalf("first id %d", f.Owner.ID)
	}
	do(t, env, "POST", "/api/v1/switches/5/flows", `{"flow":"priority=2,actions=drop","id":4294967295}`).decode(t, 201, &f)
	do(t, env, "POST", "/api/v1/switches/5/flows", `{"flow":"priority=3,actions=drop"}`).decode(t, 201, &f)
	if f.Owner.ID != 2 {
		t.Fatalf("id after the largest is taken: %d", f.Owner.ID)
	}
	// id 0 is an id like any other
	do(t, env, "POST", "/api/v1/switches/5/flows", `{"flow":"priority=4,actions=drop","id":0}`).decode(t, 201, &f)
	if f.Cookie != "0x0300000000000000" {
		t.Fatalf("id 0: %+v", f)
	}
	// concurrent allocations get different ids
	done := make(chan uint32, 8)
	for i := 0; i < 8; i++ {
		go func(i int) {
			var f api.Flow
			body := fmt.Sprintf(`{"flow":"priority=%d,actions=drop"}`, 100+i)
			resp, err := http.Post(env.URL+"/api/v1/switches/5/flows", "application/json", strings.NewReader(body))
			if err == nil {
				_ = json.NewDecoder(resp.Body).Decode(&f)
				resp.Body.Close()
			}
			done <- f.Owner.ID
		}(i)
	}
	seen := map[uint32]bool{}
	for i := 0; i < 8; i++ {
		id := <-done
		if seen[id] || id == 0 {
			t.Fatalf("id %d allocated twice (or not at all)", id)
		}
		seen[id] = true
	}
}

func TestAddFlowBadInput(t *testing.T) {
	env := webtest.Start(t, web.WithMaxBodyBytes(4096))
	sw := env.Connect(switchemu.Config{DPID: 6, Ports: 1})
	for _, tc := range []struct {
		body, field, msg string
		status           int
	}{
		{``, "", "request body is empty", 400},
		{`{"flow": "actions=drop"`, "", "not valid JSON", 400},
		{`{"flow": "actions=drop"} x`, "", "data after the JSON object", 400},
		{`{"flow": "actions=drop"}{}`, "", "data after the JSON object", 400},
		{`["actions=drop"]`, "", "want an object", 400},
		{`"actions=drop"`, "", "want an object", 400},
		{`{"flow": "actions=drop", "cookie": 5}`, "cookie", `unknown field "cookie"`, 400},
		{`{"flow": 5}`, "flow", "want a string", 400},
		{`{"flow": "actions=drop", "id": -1}`, "id", "want a whole number from 0 to 4294967295", 400},
		{`{"flow": "actions=drop", "id": 4294967296}`, "id", "want a whole number", 400},
		{`{"flow": "actions=drop", "id": "7"}`, "id", "want a whole number", 400},
		{`{"flow": "actions=drop", "id": 1.5}`, "id", "want a whole number", 400},
		{`{}`, "flow", "flow is missing or empty", 400},
		{`{"flow": "  "}`, "flow", "flow is missing or empty", 400},
		{`{"flow": "priority=1"}`, "flow", "has no actions=", 400},
		{`{"flow": "nw_dst=300.0.0.1,actions=drop"}`, "flow", "", 400},
		{`{"flow": "bogus=1,actions=drop"}`, "flow", `unknown match field "bogus"`, 400},
		{`{"flow": "cookie=0x5,actions=drop"}`, "flow", "cookie", 400},
		{`{"flow": "actions=teleport"}`, "flow", `unknown action "teleport"`, 400},
		{`{"flow": "` + strings.Repeat("x", 5000) + `"}`, "", "request body exceeds the limit of 4096 bytes", 413},
	} {
		do(t, env, "POST", "/api/v1/switches/6/flows", tc.body).wantError(t, tc.status, tc.field, tc.msg)
	}
	do(t, env, "POST", "/api/v1/switches/6/flows?id=1", `{"flow":"actions=drop"}`).wantError(t, 400, "id", "unknown query parameter")
	do(t, env, "POST", "/api/v1/switches/nope/flows", `{"flow":"actions=drop"}`).wantError(t, 400, "dpid", "hex digits")
	do(t, env, "POST", "/api/v1/switches/7/flows", `{"flow":"actions=drop"}`).wantError(t, 404, "dpid", "switch 0000000000000007 is not connected")
	if n := len(sw.Flows()); n != 0 {
		t.Fatalf("bad requests installed %d flows", n)
	}
}

func TestGroupsAndTables(t *testing.T) {
	env := webtest.Start(t)
	env.Connect(switchemu.Config{DPID: 8, Ports: 3})
	sess := env.Ctl.Switch(8)
	ctx := context.Background()
	var groups []api.Group
	do(t, env, "GET", "/api/v1/switches/8/groups", "").decode(t, 200, &groups)
	if groups == nil || len(groups) != 0 {
		t.Fatalf("want an empty list: %v", groups)
	}
	out := func(p uint32) ofp.Actions { return ofp.Actions{&ofp.ActionOutput{Port: ofp.PortNo(p)}} }
	if err := sess.AddGroup(ctx, controller.Group{ID: 2, Type: controller.GroupFastFailover, Buckets: []ofwire.Bucket{
		{WatchPort: 1, Actions: out(1)}, {WatchPort: 2, Actions: out(2)}}}); err != nil {
		t.Fatal(err)
	}
	if err := sess.AddGroup(ctx, controller.Group{ID: 1, Type: controller.GroupAll, Buckets: []ofwire.Bucket{{Actions: out(3)}}}); err != nil {
		t.Fatal(err)
	}
	r := do(t, env, "GET", "/api/v1/switches/8/groups", "")
	r.decode(t, 200, &groups)
	if len(groups) != 2 || groups[0].ID != 1 || groups[0].Type != "all" || groups[1].Type != "ff" {
		t.Fatalf("groups %s", r.body)
	}
	b := groups[1].Buckets
	if len(b) != 2 || b[0].WatchPort == nil || *b[0].WatchPort != 1 || b[0].WatchGroup != nil || b[1].Actions != "output:2" {
		t.Fatalf("ff buckets %s", r.body)
	}
	if groups[0].Buckets[0].WatchPort != nil || groups[0].Buckets[0].Actions != "output:3" {
		t.Fatalf("all bucket %+v", groups[0].Buckets[0])
	}

	do(t, env, "POST", "/api/v1/switches/8/flows", `{"flow":"table=3,actions=drop"}`).decode(t, 201, nil)
	var tables []api.Table
	do(t, env, "GET", "/api/v1/switches/8/tables", "").decode(t, 200, &tables)
	if len(tables) != 254 || tables[0].Table != 0 || tables[3].ActiveCount != 1 || tables[0].ActiveCount != 0 {
		t.Fatalf("tables %d %+v", len(tables), tables[:4])
	}
	do(t, env, "GET", "/api/v1/switches/9/groups", "").wantError(t, 404, "dpid", "not connected")
	do(t, env, "GET", "/api/v1/switches/9/tables", "").wantError(t, 404, "dpid", "not connected")
	do(t, env, "GET", "/api/v1/switches/8/tables?x=1", "").wantError(t, 400, "x", "")
	do(t, env, "GET", "/api/v1/switches/8/groups?x=1", "").wantError(t, 400, "x", "")
	do(t, env, "GET", "/api/v1/switches/-/groups", "").wantError(t, 400, "dpid", "")
	do(t, env, "POST", "/api/v1/switches/8/tables", "{}").wantError(t, 405, "", "allowed: GET, HEAD")
}

func TestSwitchTimeoutIs504(t *testing.T) {
	env := webtest.Start(t, web.WithRequestTimeout(200*time.Millisecond))
	_, link := env.ConnectLink(switchemu.Config{DPID: 9, Ports: 1})
	do(t, env, "GET", "/api/v1/switches/9/tables", "").decode(t, 200, nil)
	link.Stall()
	start := time.Now()
	do(t, env, "GET", "/api/v1/switches/9/flows", "").wantError(t, 504, "", "switch 0000000000000009 did not answer within 200ms")
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("504 after %s", took)
	}
	do(t, env, "POST", "/api/v1/switches/9/flows", `{"flow":"actions=drop","id":1}`).wantError(t, 504, "", "did not answer")
}

func TestSwitchDisconnectDuringRequestIs503(t *testing.T) {
	env := webtest.Start(t)
	_, link := env.ConnectLink(switchemu.Config{DPID: 11, Ports: 1})
	link.Stall()
	go func() {
		time.Sleep(100 * time.Millisecond)
		link.Close()
	}()
	do(t, env, "GET", "/api/v1/switches/b/ports/stats", "").wantError(t, 503, "", "switch 000000000000000b disconnected")
}

func TestSwitchGoneIs404(t *testing.T) {
	env := webtest.Start(t)
	sw := env.Connect(switchemu.Config{DPID: 10, Ports: 1})
	sw.Conn().Close()
	env.WaitSwitch(10, false)
	do(t, env, "GET", "/api/v1/switches/a/flows", "").wantError(t, 404, "dpid", "switch 000000000000000a is not connected")
	var list []api.Switch
	do(t, env, "GET", "/api/v1/switches", "").decode(t, 200, &list)
	if len(list) != 0 {
		t.Fatalf("%+v", list)
	}
}

func TestPanicIs500(t *testing.T) {
	env := webtest.Start(t)
	env.API.HandleForTest("GET /api/v1/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	do(t, env, "GET", "/api/v1/panic", "").wantError(t, 500, "", "internal error while serving GET /api/v1/panic")
	if !strings.Contains(env.Logs.String(), "boom") {
		t.Fatalf("panic not logged:\n%s", env.Logs.String())
	}
	// the server keeps serving
	do(t, env, "GET", "/healthz", "").decode(t, 200, nil)
}

func TestRequestsAreLoggedAtDebug(t *testing.T) {
	env := webtest.Start(t)
	do(t, env, "GET", "/healthz", "").decode(t, 200, nil)
	logs := env.Logs.String()
	if !strings.Contains(logs, `level=DEBUG msg="http request" component=http method=GET path=/healthz status=200`) {
		t.Fatalf("no request log line:\n%s", logs)
	}
}

func TestSwitchRejectingAFlowIs422(t *testing.T) {
	env := webtest.Start(t)
	sw := env.Connect(switchemu.Config{DPID: 9, Ports: 1})
	sw.RejectFlowMods.Store(true)
	do(t, env, "POST", "/api/v1/switches/9/flows", `{"flow":"priority=5,actions=drop","id":3}`).wantError(t, 422, "", "switch error")
	sw.RejectFlowMods.Store(false)
	do(t, env, "POST", "/api/v1/switches/9/flows", `{"flow":"priority=5,actions=drop","id":3}`)
	if n := len(sw.Flows()); n != 1 {
		t.Fatalf("after the switch recovered: %d flows", n)
	}
}
