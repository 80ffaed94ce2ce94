package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/client"
	"github.com/satellite-sdn/satellite/web/webtest"
)

var t0 = time.Date(2026, 11, 23, 3, 47, 1, 250_000_000, time.UTC)

// fabric returns a model of two switches joined by a direct link (both
// directions) and a tunnel seen in one direction only, with two hosts and
// a security event.
func fabric() *topology.Model {
	m := topology.New(topology.Options{Now: func() time.Time { return t0 }})
	m.SwitchUp(topology.Switch{DPID: 1, Manufacturer: "Nicira, Inc.", Software: "3.1.0"}, []topology.Port{
		{Number: 1, Name: "vm1", Up: true, HWAddr: "0e:00:00:01:00:01"},
		{Number: 102, Name: "lnk-h2", Up: true},
		{Number: 202, Name: "gre-h2", Up: true, Tunnel: true},
	})
	m.SwitchUp(topology.Switch{DPID: 2, Manufacturer: "Nicira, Inc.", Software: "3.1.0"}, []topology.Port{
		{Number: 1, Name: "vm2", Up: true},
		{Number: 101, Name: "lnk-h1", Up: true},
		{Number: 201, Name: "gre-h1", Up: true, Tunnel: true},
	})
	m.LinkSeen(topology.Endpoint{DPID: 1, Port: 102}, topology.Endpoint{DPID: 2, Port: 101}, topology.LinkDirect, 400*time.Microsecond)
	m.LinkSeen(topology.Endpoint{DPID: 2, Port: 101}, topology.Endpoint{DPID: 1, Port: 102}, topology.LinkDirect, 600*time.Microsecond)
	m.LinkSeen(topology.Endpoint{DPID: 1, Port: 202}, topology.Endpoint{DPID: 2, Port: 201}, topology.LinkTunnel, 2*time.Millisecond)
	m.HostSeen("02:00:00:00:00:01", "10.0.0.1", topology.Endpoint{DPID: 1, Port: 1})
	m.HostSeen("02:00:00:00:00:02", "", topology.Endpoint{DPID: 2, Port: 1})
	m.AddEvent(topology.Event{Kind: "lldp-forged", DPID: 2, Port: 1, Message: "LLDP frame with a bad signature"})
	return m
}

func startTopology(t *testing.T, opts ...web.Option) (*webtest.Env, *topology.Model) {
	m := fabric()
	return webtest.Start(t, append([]web.Option{web.WithTopology(m)}, opts...)...), m
}

func TestTopologyNotEnabled(t *testing.T) {
	env := webtest.Start(t)
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/api/v1/links", ""}, {"GET", "/api/v1/hosts", ""}, {"GET", "/api/v1/topology", ""},
		{"GET", "/api/v1/topology/events", ""}, {"GET", "/api/v1/topology/snapshots", ""},
		{"POST", "/api/v1/topology/snapshots", `{"switches":[]}`}, {"GET", "/api/v1/topology/snapshots/s1", ""},
		{"DELETE", "/api/v1/topology/snapshots/s1", ""}, {"GET", "/api/v1/topology/diff?from=live", ""},
	} {
		do(t, env, r.method, r.path, r.body).wantError(t, 503, "", "topology is not enabled on this server")
	}
	do(t, env, "GET", "/api/v1/discovery", "").wantError(t, 503, "", "LLDP discovery is not enabled on this server")
	// a model alone does not enable discovery
	env, _ = startTopology(t)
	do(t, env, "GET", "/api/v1/discovery", "").wantError(t, 503, "", "LLDP discovery is not enabled")
}

func TestLinks(t *testing.T) {
	env, _ := startTopology(t)
	var links []api.Link
	r := do(t, env, "GET", "/api/v1/links", "")
	r.decode(t, 200, &links)
	if len(links) != 3 {
		t.Fatalf("links %s", r.body)
	}
	want := api.Link{
		Src:  api.LinkEnd{DPID: "0000000000000001", Port: 102, Name: "lnk-h2"},
		Dst:  api.LinkEnd{DPID: "0000000000000002", Port: 101, Name: "lnk-h1"},
		Kind: "direct", State: "up", LatencyMs: 0.4, FirstSeen: t0, LastSeen: t0,
	}
	if !reflect.DeepEqual(links[0], want) {
		t.Fatalf("first link %+v, want %+v", links[0], want)
	}
	if l := links[1]; l.Src.Port != 202 || l.Kind != "tunnel" || !l.Unidirectional || l.LatencyMs != 2 || l.Dst.Name != "gre-h1" {
		t.Fatalf("tunnel %+v", l)
	}
	if l := links[2]; l.Src.DPID != "0000000000000002" || l.Unidirectional || l.LatencyMs != 0.6 {
		t.Fatalf("reverse link %+v", l)
	}
	if !strings.Contains(string(r.body), `"first_seen":"2026-11-23T03:47:01.25Z"`) {
		t.Fatalf("times not RFC 3339 UTC in %s", r.body)
	}

	do(t, env, "GET", "/api/v1/links?kind=tunnel", "").decode(t, 200, &links)
	if len(links) != 1 || links[0].Kind != "tunnel" {
		t.Fatalf("kind=tunnel: %+v", links)
	}
	do(t, env, "GET", "/api/v1/links?kind=direct&dpid=00:02", "").decode(t, 200, &links)
	if len(links) != 2 {
		t.Fatalf("kind=direct&dpid=2 (from or to): %+v", links)
	}
	r = do(t, env, "GET", "/api/v1/links?dpid=3", "")
	r.decode(t, 200, &links)
	if string(r.body) != "[]\n" {
		t.Fatalf("no match must be [], got %s", r.body)
	}
	do(t, env, "GET", "/api/v1/links?kind=gre", "").wantError(t, 400, "kind", `kind "gre": want direct or tunnel`)
	do(t, env, "GET", "/api/v1/links?kind=", "").wantError(t, 400, "kind", `kind "": want direct or tunnel`)
	do(t, env, "GET", "/api/v1/links?dpid=xyz", "").wantError(t, 400, "dpid", `datapath id "xyz"`)
	do(t, env, "GET", "/api/v1/links?kind=direct&kind=tunnel", "").wantError(t, 400, "kind", "given 2 times")
	do(t, env, "GET", "/api/v1/links?state=up", "").wantError(t, 400, "state", "unknown query parameter \"state\" (want kind, dpid)")
	do(t, env, "POST", "/api/v1/links", "{}").wantError(t, 405, "", "method POST is not allowed")
}

func TestHosts(t *testing.T) {
	env, m := startTopology(t)
	var hosts []api.Host
	r := do(t, env, "GET", "/api/v1/hosts", "")
	r.decode(t, 200, &hosts)
	want := []api.Host{
		{MAC: "02:00:00:00:00:01", IPs: []string{"10.0.0.1"}, DPID: "0000000000000001", Port: 1, PortName: "vm1", FirstSeen: t0, LastSeen: t0},
		{MAC: "02:00:00:00:00:02", IPs: []string{}, DPID: "0000000000000002", Port: 1, PortName: "vm2", FirstSeen: t0, LastSeen: t0},
	}
	if !reflect.DeepEqual(hosts, want) {
		t.Fatalf("hosts %s", r.body)
	}
	if !strings.Contains(string(r.body), `"ips":[]`) {
		t.Fatalf("a host without addresses must have ips [], got %s", r.body)
	}
	do(t, env, "GET", "/api/v1/hosts?dpid=2", "").decode(t, 200, &hosts)
	if len(hosts) != 1 || hosts[0].MAC != "02:00:00:00:00:02" {
		t.Fatalf("dpid=2: %+v", hosts)
	}
	for _, form := range []string{"02:00:00:00:00:01", "02-00-00-00-00-01", "0200.0000.0001"} {
		do(t, env, "GET", "/api/v1/hosts?mac="+form, "").decode(t, 200, &hosts)
		if len(hosts) != 1 || hosts[0].MAC != "02:00:00:00:00:01" {
			t.Fatalf("mac=%s: %+v", form, hosts)
		}
	}
	do(t, env, "GET", "/api/v1/hosts?mac=02:00:00:00:00:01&dpid=2", "").decode(t, 200, &hosts)
	if len(hosts) != 0 {
		t.Fatalf("mac and dpid select both: %+v", hosts)
	}
	// a move shows at once
	m.HostSeen("02:00:00:00:00:01", "", topology.Endpoint{DPID: 2, Port: 1})
	do(t, env, "GET", "/api/v1/hosts?mac=02:00:00:00:00:01", "").decode(t, 200, &hosts)
	if hosts[0].DPID != "0000000000000002" || hosts[0].PortName != "vm2" {
		t.Fatalf("after the move %+v", hosts)
	}
	do(t, env, "GET", "/api/v1/hosts?mac=02:00:00:00:00", "").wantError(t, 400, "mac", `mac "02:00:00:00:00": want an Ethernet address`)
	do(t, env, "GET", "/api/v1/hosts?mac=00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01", "").wantError(t, 400, "mac", "want an Ethernet address")
	do(t, env, "GET", "/api/v1/hosts?dpid=", "").wantError(t, 400, "dpid", "datapath id")
	do(t, env, "GET", "/api/v1/hosts?ip=10.0.0.1", "").wantError(t, 400, "ip", "unknown query parameter")
}

func TestTopologyExportAndEvents(t *testing.T) {
	env, m := startTopology(t)
	r := do(t, env, "GET", "/api/v1/topology", "")
	var snap topology.Snapshot
	r.decode(t, 200, &snap)
	want, _ := json.Marshal(m.Snapshot())
	if got := bytes.TrimSpace(r.body); !bytes.Equal(got, want) {
		t.Fatalf("snapshot\n got %s\nwant %s", got, want)
	}
	// the export reads back strictly
	if _, err := topology.ReadSnapshot(bytes.NewReader(r.body)); err != nil {
		t.Fatal(err)
	}
	if snap.Version != m.Version() || len(snap.Switches) != 2 || len(snap.Ports) != 6 || len(snap.Links) != 3 || len(snap.Hosts) != 2 {
		t.Fatalf("snapshot %+v", snap)
	}
	do(t, env, "GET", "/api/v1/topology?version=3", "").wantError(t, 400, "version", `unknown query parameter "version" (want at)`)

	var events []topology.Event
	m.HostSeen("02:00:00:00:00:01", "", topology.Endpoint{DPID: 2, Port: 1})
	do(t, env, "GET", "/api/v1/topology/events", "").decode(t, 200, &events)
	if len(events) != 2 || events[0].Kind != "lldp-forged" || events[0].DPID != 2 || events[0].Port != 1 || !events[0].Time.Equal(t0) ||
		events[1].Kind != "host-move" || !strings.Contains(events[1].Message, "moved from 0000000000000001/1 to 0000000000000002/1") {
		t.Fatalf("events %+v", events)
	}
	do(t, env, "GET", "/api/v1/topology/events?kind=host-move", "").decode(t, 200, &events)
	if len(events) != 1 || events[0].Kind != "host-move" {
		t.Fatalf("kind=host-move: %+v", events)
	}
	r = do(t, env, "GET", "/api/v1/topology/events?kind=lldp-replayed", "")
	if r.decode(t, 200, &events); string(r.body) != "[]\n" {
		t.Fatalf("no such events: %s", r.body)
	}
	do(t, env, "GET", "/api/v1/topology/events?kind=", "").wantError(t, 400, "kind", "kind is empty")
	do(t, env, "GET", "/api/v1/topology/events?since=1", "").wantError(t, 400, "since", "unknown query parameter")
}

func TestDiscoverySettings(t *testing.T) {
	m := fabric()
	d := lldp.NewDiscovery(lldp.DiscoveryConfig{Interval: 500 * time.Millisecond, Misses: 4}, nil, m, lldp.NewRandomSigner())
	env := webtest.Start(t, web.WithTopology(m), web.WithDiscovery(d))
	var got api.Discovery
	r := do(t, env, "GET", "/api/v1/discovery", "")
	r.decode(t, 200, &got)
	want := api.Discovery{IntervalS: 0.5, Misses: 4, MaxAgeS: 30, TTLS: 120, SystemName: "satellite", SecurityEventEveryS: 10}
	if got != want {
		t.Fatalf("discovery %+v, want %+v", got, want)
	}
	for _, key := range []string{`"probes_sent":0`, `"bad_signature":0`, `"unknown_source":0`} {
		if !strings.Contains(string(r.body), key) {
			t.Fatalf("counters lack %s: %s", key, r.body)
		}
	}
	do(t, env, "GET", "/api/v1/discovery?x=1", "").wantError(t, 400, "x", "unknown query parameter")
}

// postSnapshot imports a snapshot and returns its info.
func postSnapshot(t *testing.T, env *webtest.Env, body string) api.SnapshotInfo {
	t.Helper()
	var info api.SnapshotInfo
	r := do(t, env, "POST", "/api/v1/topology/snapshots", body)
	r.decode(t, 201, &info)
	if loc := r.header.Get("Location"); loc != "/api/v1/topology/snapshots/"+info.ID {
		t.Fatalf("Location %q for %+v", loc, info)
	}
	return info
}

func TestSnapshotsImportListGetDeleteDiff(t *testing.T) {
	env, m := startTopology(t)
	var list []api.SnapshotInfo
	r := do(t, env, "GET", "/api/v1/topology/snapshots", "")
	if r.decode(t, 200, &list); string(r.body) != "[]\n" {
		t.Fatalf("empty store: %s", r.body)
	}
	export := do(t, env, "GET", "/api/v1/topology", "").body
	before := time.Now().Add(-time.Second)
	info := postSnapshot(t, env, string(export))
	if info.ID != "s1" || info.Version != m.Version() || !info.Taken.Equal(t0) || info.Switches != 2 || info.Ports != 6 ||
		info.Links != 3 || info.Hosts != 2 || info.Stored.Before(before) || info.Stored.After(time.Now()) {
		t.Fatalf("import %+v", info)
	}
	var got topology.Snapshot
	r = do(t, env, "GET", "/api/v1/topology/snapshots/s1", "")
	r.decode(t, 200, &got)
	if !bytes.Equal(r.body, export) {
		t.Fatalf("stored snapshot differs from the export:\n%s\n%s", r.body, export)
	}

	// no change yet
	var d topology.Diff
	do(t, env, "GET", "/api/v1/topology/diff?from=s1", "").decode(t, 200, &d)
	if !d.Empty() || d.FromVersion != info.Version || d.ToVersion != m.Version() {
		t.Fatalf("diff against live, unchanged: %+v", d)
	}
	// the direct link's port goes down, a host arrives
	m.PortUpdate(topology.Port{DPID: 1, Number: 102, Name: "lnk-h2", Up: false})
	m.HostSeen("02:00:00:00:00:03", "10.0.0.3", topology.Endpoint{DPID: 1, Port: 1})
	r = do(t, env, "GET", "/api/v1/topology/diff?from=s1&to=live", "")
	r.decode(t, 200, &d)
	if len(d.Links.Removed) != 2 || len(d.Links.Added) != 0 || len(d.Hosts.Added) != 1 || d.Hosts.Added[0].MAC != "02:00:00:00:00:03" ||
		len(d.Ports.Changed) != 2 || d.Ports.Changed[0].Before.Up == d.Ports.Changed[0].After.Up {
		t.Fatalf("diff %s", r.body)
	}
	for _, key := range []string{`"switches":{"added":[],"removed":[],"changed":[]}`, `"from_version":`, `"to_version":`} {
		if !strings.Contains(string(r.body), key) {
			t.Fatalf("diff lacks %s: %s", key, r.body)
		}
	}
	// the other way round
	do(t, env, "GET", "/api/v1/topology/diff?from=live&to=s1", "").decode(t, 200, &d)
	if len(d.Links.Added) != 2 || len(d.Hosts.Removed) != 1 {
		t.Fatalf("reverse diff %+v", d)
	}
	// two stored snapshots
	live := do(t, env, "GET", "/api/v1/topology", "").body
	if s2 := postSnapshot(t, env, string(live)); s2.ID != "s2" {
		t.Fatalf("second id %+v", s2)
	}
	do(t, env, "GET", "/api/v1/topology/diff?from=s1&to=s2", "").decode(t, 200, &d)
	if len(d.Links.Removed) != 2 || len(d.Hosts.Added) != 1 {
		t.Fatalf("s1 -> s2 %+v", d)
	}
	do(t, env, "GET", "/api/v1/topology/diff?from=live&to=live", "").decode(t, 200, &d)
	if !d.Empty() {
		t.Fatalf("live -> live %+v", d)
	}
	do(t, env, "GET", "/api/v1/topology/snapshots", "").decode(t, 200, &list)
	if len(list) != 2 || list[0].ID != "s1" || list[1].ID != "s2" || list[1].Hosts != 3 {
		t.Fatalf("list %+v", list)
	}

	// bad diff parameters
	do(t, env, "GET", "/api/v1/topology/diff", "").wantError(t, 400, "from", "from is missing: want a stored snapshot id (s1) or live")
	do(t, env, "GET", "/api/v1/topology/diff?to=s1", "").wantError(t, 400, "from", "from is missing")
	do(t, env, "GET", "/api/v1/topology/diff?from=", "").wantError(t, 400, "from", "from is empty")
	do(t, env, "GET", "/api/v1/topology/diff?from=s1&to=", "").wantError(t, 400, "to", "to is empty")
	do(t, env, "GET", "/api/v1/topology/diff?from=s9", "").wantError(t, 404, "from", `snapshot "s9" is not stored on this server`)
	do(t, env, "GET", "/api/v1/topology/diff?from=s1&to=s9", "").wantError(t, 404, "to", `snapshot "s9" is not stored`)
	do(t, env, "GET", "/api/v1/topology/diff?from=s1&with=s2", "").wantError(t, 400, "with", "unknown query parameter")

	// delete
	var del api.SnapshotInfo
	do(t, env, "DELETE", "/api/v1/topology/snapshots/s1", "").decode(t, 200, &del)
	if del != info {
		t.Fatalf("deleted %+v, want %+v", del, info)
	}
	do(t, env, "GET", "/api/v1/topology/snapshots/s1", "").wantError(t, 404, "id", `snapshot "s1" is not stored`)
	do(t, env, "DELETE", "/api/v1/topology/snapshots/s1", "").wantError(t, 404, "id", `snapshot "s1" is not stored`)
	do(t, env, "GET", "/api/v1/topology/diff?from=s1", "").wantError(t, 404, "from", `snapshot "s1"`)
	do(t, env, "GET", "/api/v1/topology/snapshots", "").decode(t, 200, &list)
	if len(list) != 1 || list[0].ID != "s2" {
		t.Fatalf("after delete %+v", list)
	}
	// ids are not reused
	if s3 := postSnapshot(t, env, string(live)); s3.ID != "s3" {
		t.Fatalf("id after a delete %+v", s3)
	}
	do(t, env, "GET", "/api/v1/topology/snapshots/s2?full=1", "").wantError(t, 400, "full", "unknown query parameter")
	do(t, env, "PUT", "/api/v1/topology/snapshots/s2", "{}").wantError(t, 405, "", "allowed: DELETE, GET, HEAD")
}

func TestSnapshotImportBadInput(t *testing.T) {
	env, _ := startTopology(t, web.WithMaxSnapshotBytes(4096))
	sw := `{"dpid":"0000000000000001","connected":true,"since":"2026-11-23T03:47:01Z"}`
	for _, tc := range []struct {
		body, field, msg string
		status           int
	}{
		{"", "", "request body is empty; want a snapshot as GET /api/v1/topology returns it", 400},
		{" \n\t", "", "request body is empty", 400},
		{"{", "", "request body is not valid JSON", 400},
		{`{"switches": [}`, "", "request body is not valid JSON (at byte 15)", 400},
		{`{"switches":[]} {}`, "", "request body has data after the JSON object", 400},
		{`{"switches":[]} x`, "", "request body has data after the JSON object", 400},
		{`[]`, "", "request body is a JSON array; want a snapshot", 400},
		{`"snapshot"`, "", "request body is a JSON string", 400},
		{`17`, "", "request body is a JSON number", 400},
		{`null`, "", "no switches, ports, links or hosts: is this a snapshot file?", 400},
		{`{}`, "", "no switches, ports, links or hosts", 400},
		{`{"version": 3}`, "", "no switches, ports, links or hosts", 400},
		{`{"switches":[], "flows":[]}`, "flows", `unknown field "flows" in the snapshot`, 400},
		{`{"switches":[{"dpid":"1","colour":"red"}]}`, "colour", `unknown field "colour"`, 400},
		{`{"switches":[{"dpid":"xyz"}]}`, "", `datapath id "xyz": want 1-16 hex digits`, 400},
		{`{"switches":[{"dpid":5}]}`, "", "dpid: want a hex string", 400},
		{`{"version":"3","switches":[]}`, "version", "version: got JSON string, want a whole number", 400},
		{`{"switches":[` + sw + `],"links":[{"src":{"dpid":"1","port":-1}}]}`, "links.src.port", "got JSON number -1", 400},
		{`{"taken":"yesterday","switches":[]}`, "", "parsing time", 400},
		{`{"switches":[` + strings.Repeat(sw+",", 60) + sw + `]}`, "", "request body exceeds the snapshot limit of 4096 bytes", 413},
	} {
		r := do(t, env, "POST", "/api/v1/topology/snapshots", tc.body)
		t.Run(fmt.Sprintf("%.40s", tc.body), func(t *testing.T) { r.wantError(t, tc.status, tc.field, tc.msg) })
	}
	do(t, env, "POST", "/api/v1/topology/snapshots?id=s7", `{"switches":[]}`).wantError(t, 400, "id", "unknown query parameter")
	var list []api.SnapshotInfo
	do(t, env, "GET", "/api/v1/topology/snapshots", "").decode(t, 200, &list)
	if len(list) != 0 {
		t.Fatalf("bad imports were stored: %+v", list)
	}
	// a minimal snapshot: absent lists read as empty ones
	info := postSnapshot(t, env, `{"switches":[`+sw+`]}`)
	r := do(t, env, "GET", "/api/v1/topology/snapshots/"+info.ID, "")
	if !strings.Contains(string(r.body), `"ports":[],"links":[],"hosts":[]`) {
		t.Fatalf("lists must not be null: %s", r.body)
	}
}

func TestSnapshotLimits(t *testing.T) {
	// snapshot imports have their own body limit, larger than other requests'
	env, _ := startTopology(t, web.WithMaxBodyBytes(1024), web.WithMaxSnapshots(2))
	sw := `{"dpid":"%x","connected":true,"since":"2026-11-23T03:47:01Z"}`
	var sws []string
	for i := 1; i <= 200; i++ {
		sws = append(sws, fmt.Sprintf(sw, i))
	}
	big := `{"switches":[` + strings.Join(sws, ",") + `]}`
	if len(big) < 10*1024 {
		t.Fatalf("test snapshot is only %d bytes", len(big))
	}
	if info := postSnapshot(t, env, big); info.ID != "s1" || info.Switches != 200 {
		t.Fatalf("big import %+v", info)
	}
	// other routes keep theirs
	do(t, env, "POST", "/api/v1/switches/1/flows", `{"flow":"`+strings.Repeat("x", 2000)+`"}`).wantError(t, 413, "", "exceeds the limit of 1024 bytes")
	// at most 2 kept: the oldest goes
	postSnapshot(t, env, `{"switches":[]}`)
	postSnapshot(t, env, `{"hosts":[]}`)
	var list []api.SnapshotInfo
	do(t, env, "GET", "/api/v1/topology/snapshots", "").decode(t, 200, &list)
	if len(list) != 2 || list[0].ID != "s2" || list[1].ID != "s3" {
		t.Fatalf("kept %+v", list)
	}
	do(t, env, "GET", "/api/v1/topology/snapshots/s1", "").wantError(t, 404, "id", `snapshot "s1" is not stored`)

	// concurrent imports get distinct ids, and the store stays bounded
	var wg sync.WaitGroup
	ids := make(chan string, 16)
	for range 16 {
		wg.Go(func() {
			var info api.SnapshotInfo
			r := do(t, env, "POST", "/api/v1/topology/snapshots", `{"links":[]}`)
			if err := json.Unmarshal(r.body, &info); err != nil || r.status != 201 {
				t.Errorf("concurrent import: %d %s", r.status, r.body)
			}
			ids <- info.ID
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %s given twice", id)
		}
		seen[id] = true
	}
	do(t, env, "GET", "/api/v1/topology/snapshots", "").decode(t, 200, &list)
	if len(list) != 2 || list[1].ID != "s19" {
		t.Fatalf("after concurrent imports %+v", list)
	}
}

// arpFrom is a broadcast ARP request from mac/ip.
func arpFrom(mac net.HardwareAddr, ip net.IP) []byte {
	b := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	b = append(b, mac...)
	b = append(b, 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1)
	b = append(b, mac...)
	b = append(b, ip.To4()...)
	b = append(b, 0, 0, 0, 0, 0, 0, 10, 0, 0, 254)
	return b
}

// TestTopologyFromSwitches runs the tracker and discovery on a real
// controller with emulated switches: a signed probe makes a link, a
// forged one an event, an ARP packet a host.
func TestTopologyFromSwitches(t *testing.T) {
	env := webtest.Start(t)
	log := slog.New(slog.NewTextHandler(env.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := topology.New(topology.Options{})
	signer := lldp.NewRandomSigner()
	disc := lldp.NewDiscovery(lldp.DiscoveryConfig{Interval: time.Hour, Logger: log}, env.Ctl, m, signer)
	apiSrv := httptest.NewServer(web.New(env.Ctl, web.WithLogger(log), web.WithoutAuth(), web.WithTopology(m), web.WithDiscovery(disc)))
	defer apiSrv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { _ = topology.NewTracker(topology.TrackerConfig{Logger: log}, env.Ctl, m).Run(ctx) })
	wg.Go(func() { _ = disc.Run(ctx) })
	tenv := &webtest.Env{URL: apiSrv.URL}

	sw1 := env.Connect(switchemu.Config{DPID: 1, Ports: 2})
	sw2 := env.Connect(switchemu.Config{DPID: 2, Ports: 2})
	waitFor(t, "the switches' ports in the model", func() bool {
		_, ok1 := m.Port(topology.Endpoint{DPID: 1, Port: 2})
		_, ok2 := m.Port(topology.Endpoint{DPID: 2, Port: 2})
		return ok1 && ok2
	})

	// a probe sent out of 1/2 arrives on 2/2
	frame, err := signer.Encode(lldp.Probe{DPID: 1, Port: 2}, net.HardwareAddr{0x0e, 0, 0, 1, 0, 2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := sw2.PacketIn(2, frame); err != nil {
		t.Fatal(err)
	}
	var links []api.Link
	waitFor(t, "the link", func() bool {
		do(t, tenv, "GET", "/api/v1/links", "").decode(t, 200, &links)
		return len(links) == 1
	})
	if l := links[0]; l.Src != (api.LinkEnd{DPID: "0000000000000001", Port: 2, Name: "p2"}) ||
		l.Dst != (api.LinkEnd{DPID: "0000000000000002", Port: 2, Name: "p2"}) || l.Kind != "direct" || !l.Unidirectional {
		t.Fatalf("link %+v", l)
	}

	// a probe signed with another secret is a forgery
	forged, err := lldp.NewRandomSigner().Encode(lldp.Probe{DPID: 1, Port: 1}, net.HardwareAddr{0x0e, 0, 0, 1, 0, 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := sw2.PacketIn(1, forged); err != nil {
		t.Fatal(err)
	}
	var events []topology.Event
	waitFor(t, "the lldp-forged event", func() bool {
		do(t, tenv, "GET", "/api/v1/topology/events?kind=lldp-forged", "").decode(t, 200, &events)
		return len(events) == 1
	})
	if e := events[0]; e.DPID != 2 || e.Port != 1 {
		t.Fatalf("event %+v", e)
	}
	var d api.Discovery
	do(t, tenv, "GET", "/api/v1/discovery", "").decode(t, 200, &d)
	if c := d.Counters; c.Received != 2 || c.Accepted != 1 || c.BadSignature != 1 || d.IntervalS != 3600 {
		t.Fatalf("discovery %+v", d)
	}

	// an ARP request from a host on 1/1
	if err := sw1.PacketIn(1, arpFrom(net.HardwareAddr{2, 0, 0, 0, 0, 0x0a}, net.IPv4(10, 0, 0, 10))); err != nil {
		t.Fatal(err)
	}
	var hosts []api.Host
	waitFor(t, "the host", func() bool {
		do(t, tenv, "GET", "/api/v1/hosts", "").decode(t, 200, &hosts)
		return len(hosts) == 1
	})
	if h := hosts[0]; h.MAC != "02:00:00:00:00:0a" || h.DPID != "0000000000000001" || h.Port != 1 || h.PortName != "p1" ||
		!reflect.DeepEqual(h.IPs, []string{"10.0.0.10"}) {
		t.Fatalf("host %+v", h)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 5s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTopologyClient(t *testing.T) {
	env, m := startTopology(t)
	cl, err := client.New(env.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	snap, err := cl.Topology(ctx)
	if err != nil || snap.Version != m.Version() {
		t.Fatalf("Topology: %v %+v", err, snap)
	}
	info, err := cl.ImportSnapshot(ctx, snap)
	if err != nil || info.ID != "s1" || info.Links != 3 {
		t.Fatalf("ImportSnapshot: %v %+v", err, info)
	}
	if list, err := cl.Snapshots(ctx); err != nil || len(list) != 1 || list[0] != info {
		t.Fatalf("Snapshots: %v %+v", err, list)
	}
	got, err := cl.Snapshot(ctx, "s1")
	if err != nil || !topology.Compare(snap, got).Empty() || got.Version != snap.Version {
		t.Fatalf("Snapshot: %v %+v", err, got)
	}
	m.SwitchDown(2)
	d, err := cl.TopologyDiff(ctx, "s1", "")
	if err != nil || len(d.Switches.Removed) != 1 || len(d.Links.Removed) != 3 {
		t.Fatalf("TopologyDiff: %v %+v", err, d)
	}
	links, err := cl.Links(ctx, client.LinkQuery{Kind: "direct"})
	if err != nil || len(links) != 0 {
		t.Fatalf("Links: %v %+v", err, links)
	}
	hosts, err := cl.Hosts(ctx, client.HostQuery{DPID: "2", MAC: "02:00:00:00:00:02"})
	if err != nil || len(hosts) != 1 {
		t.Fatalf("Hosts: %v %+v", err, hosts)
	}
	if events, err := cl.TopologyEvents(ctx, "lldp-forged"); err != nil || len(events) != 1 {
		t.Fatalf("TopologyEvents: %v %+v", err, events)
	}
	if del, err := cl.DeleteSnapshot(ctx, "s1"); err != nil || del != info {
		t.Fatalf("DeleteSnapshot: %v %+v", err, del)
	}
	var ae *client.APIError
	if _, err := cl.Snapshot(ctx, "s1"); !errors.As(err, &ae) || ae.Status != 404 || ae.Field != "id" {
		t.Fatalf("deleted snapshot: %v", err)
	}
	if _, err := cl.TopologyDiff(ctx, "s1/../x", "live"); !errors.As(err, &ae) || ae.Status != 404 || ae.Field != "from" {
		t.Fatalf("diff of an unknown id: %v", err)
	}
	if _, err := cl.Discovery(ctx); !errors.As(err, &ae) || ae.Status != 503 {
		t.Fatalf("Discovery without discovery: %v", err)
	}
}
