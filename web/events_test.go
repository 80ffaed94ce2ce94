package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/vnet"

	"github.com/satellite-sdn/satellite/internal/auth"
	"github.com/satellite-sdn/satellite/journal"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

// A cut link stays in GET /api/v1/links as down; the journal fed by the
// model lists the link-down in GET /api/v1/events, filtered and paged.
func TestEventsAndDownLinks(t *testing.T) {
	now := time.Now()
	m := topology.New(topology.Options{KeepDownLinks: time.Hour})
	j, err := journal.Open(journal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := journal.NewFeeder(j, journal.Sources{Model: m}, nil)
	go f.Run(ctx)
	env := webtest.Start(t, web.WithTopology(m), web.WithJournal(j))

	a, b := topology.Endpoint{DPID: 1, Port: 2}, topology.Endpoint{DPID: 2, Port: 2}
	m.SwitchUp(topology.Switch{DPID: 1}, []topology.Port{{Number: 2, Name: "h1-eth2", Up: true}, {Number: topology.LocalPort, Name: "h1", Up: true}})
	m.SwitchUp(topology.Switch{DPID: 2}, []topology.Port{{Number: 2, Name: "h2-eth2", Up: true}, {Number: topology.LocalPort, Name: "h2", Up: true}})
	m.LinkSeen(a, b, topology.LinkDirect, 0)
	m.LinkSeen(b, a, topology.LinkDirect, 0)
	m.PortUpdate(topology.Port{DPID: 1, Number: 2, Name: "h1-eth2", Up: false})

	var links []api.Link
	do(t, env, "GET", "/api/v1/links", "").decode(t, 200, &links)
	if len(links) != 2 {
		t.Fatalf("links %+v", links)
	}
	for _, l := range links {
		if l.State != "down" || l.DownSince == nil || l.DownSince.Before(now.Add(-time.Second)) {
			t.Fatalf("a cut link stays as down with its time: %+v", l)
		}
	}

	var evs []api.Event
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = j.Sync()
		do(t, env, "GET", "/api/v1/events?since=5m&kind=link-down", "").decode(t, 200, &evs)
		if len(evs) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(evs) != 2 || evs[0].Kind != "link-down" || evs[0].Severity != "critical" || !strings.Contains(evs[0].Message, "is down") {
		t.Fatalf("link-down events %+v", evs)
	}
	// by switch: a dpid or a bridge name
	var by []api.Event
	do(t, env, "GET", "/api/v1/events?switch=h2", "").decode(t, 200, &by)
	for _, e := range by {
		if e.DPID != 2 {
			t.Fatalf("switch=h2 returned %+v", e)
		}
	}
	if len(by) == 0 {
		t.Fatal("switch=h2: nothing")
	}
	var all []api.Event
	do(t, env, "GET", "/api/v1/events", "").decode(t, 200, &all)
	if len(all) < 8 {
		t.Fatalf("all events: %+v", all)
	}
	// paging: limit alone takes the newest, after follows
	var page []api.Event
	r := do(t, env, "GET", "/api/v1/events?limit=2", "")
	r.decode(t, 200, &page)
	if len(page) != 2 || page[1].Seq != all[len(all)-1].Seq {
		t.Fatalf("newest 2: %+v", page)
	}
	r = do(t, env, "GET", "/api/v1/events?limit=3", "")
	r = do(t, env, "GET", fmt.Sprintf("/api/v1/events?limit=3&after=%s", r.header.Get("X-Next-After")), "")
	r.decode(t, 200, &page)
	if len(page) != 0 {
		t.Fatalf("after the newest: %+v", page)
	}
	do(t, env, "GET", "/api/v1/events?since=yesterday", "").wantError(t, 400, "since", "want an RFC 3339 time")
	do(t, env, "GET", "/api/v1/events?switch=nosuch", "").wantError(t, 400, "switch", `switch "nosuch"`)
	do(t, env, "GET", "/api/v1/events?kind=", "").wantError(t, 400, "kind", "kind is empty")
	do(t, env, "GET", "/api/v1/events?color=red", "").wantError(t, 400, "color", "unknown query parameter")

	// the topology as it was: before the cut (the feeder's first
	// checkpoint held the switches alone, the changes after it the links)
	var snap topology.Snapshot
	do(t, env, "GET", "/api/v1/topology?at="+all[len(all)-1].Time.Add(time.Millisecond).Format(time.RFC3339Nano), "").decode(t, 200, &snap)
	if len(snap.Links) != 2 || snap.Links[0].State != "down" || len(snap.Switches) != 2 {
		t.Fatalf("topology at the last event: %+v", snap)
	}
	do(t, env, "GET", "/api/v1/topology?at=2020-01-01T00:00:00Z", "").wantError(t, 404, "at", "the journal has no checkpoint at or before that time")
	do(t, env, "GET", "/api/v1/topology?at=noon", "").wantError(t, 400, "at", "want an RFC 3339 time")
	do(t, env, "GET", "/api/v1/topology?at=", "").wantError(t, 400, "at", "at is empty")

	// no journal: 503
	env = webtest.Start(t, web.WithTopology(m))
	do(t, env, "GET", "/api/v1/events", "").wantError(t, 503, "", "the journal is off")
	do(t, env, "GET", "/api/v1/topology?at=1h", "").wantError(t, 503, "at", "the journal is off")
}

// A change through the API that took effect is journaled as config-change,
// with who and from where; a refused one is not.
func TestConfigChangeJournaled(t *testing.T) {
	j, err := journal.Open(journal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	m := topology.New(topology.Options{})
	env := webtest.StartSecure(t, web.Security{}, web.WithTopology(m), web.WithJournal(j))
	admin := append([]string{"Content-Type", "application/json"}, bearer(env.Tokens[auth.RoleAdmin])...)
	req(t, env, "POST", "/api/v1/topology/snapshots", `{"switches":[{"dpid":"1","connected":true,"since":"2026-01-01T00:00:00Z"}],"ports":[],"links":[],"hosts":[]}`, admin...).decode(t, 201, nil)
	req(t, env, "POST", "/api/v1/topology/snapshots", `{"switches":[]}`, bearer(env.Tokens[auth.RoleViewer])...)
	_ = j.Sync()
	recs, err := j.Read(journal.Query{Kinds: []string{"config-change"}})
	if err != nil || len(recs) != 1 {
		t.Fatalf("config changes: %v %+v", err, recs)
	}
	if r := recs[0]; r.Object != "POST /api/v1/topology/snapshots" || !strings.Contains(r.Message, "(admin) from 127.0.0.1:") || !strings.Contains(r.Message, ": 201") {
		t.Fatalf("record %+v", r)
	}
}

// A change to one object is journaled with its old and new values as the
// API shows them: created (new only), changed (both), deleted (old only);
// a change refused is not journaled and costs no read.
func TestConfigChangeOldAndNewValues(t *testing.T) {
	j, err := journal.Open(journal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	store, err := vnet.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctl := webtest.Start(t)
	mgr, err := vnet.NewManager(store, ctl.Ctl, nil, vnet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := webtest.StartSecure(t, web.Security{}, web.WithVirtualNetworks(mgr), web.WithJournal(j))
	admin := append([]string{"Content-Type", "application/json"}, bearer(env.Tokens[auth.RoleAdmin])...)
	req(t, env, "POST", "/api/v1/networks", `{"name": "net1", "subnet": "10.1.0.0/24"}`, admin...).decode(t, 201, nil)
	req(t, env, "PUT", "/api/v1/networks/net1", `{"name": "net1", "subnet": "10.2.0.0/24"}`, admin...).decode(t, 200, nil)
	req(t, env, "PUT", "/api/v1/networks/net1", `{"name": "net1", "subnet": "10.3.0.0/24"}`, bearer(env.Tokens[auth.RoleViewer])...)
	req(t, env, "DELETE", "/api/v1/networks/net1", "", admin...).decode(t, 200, nil)
	_ = j.Sync()
	recs, err := j.Read(journal.Query{Kinds: []string{"config-change"}})
	if err != nil || len(recs) != 3 {
		t.Fatalf("config changes: %v %+v", err, recs)
	}
	type values struct {
		Old *vnet.Network `json:"old"`
		New *vnet.Network `json:"new"`
	}
	var got []values
	for _, r := range recs {
		var v values
		if err := json.Unmarshal(r.Data, &v); err != nil {
			t.Fatalf("%s: data %s: %v", r.Object, r.Data, err)
		}
		got = append(got, v)
	}
	if got[0].Old != nil || got[0].New == nil || got[0].New.Subnet != "10.1.0.0/24" {
		t.Errorf("create: %+v", got[0])
	}
	if got[1].Old == nil || got[1].Old.Subnet != "10.1.0.0/24" || got[1].New == nil || got[1].New.Subnet != "10.2.0.0/24" {
		t.Errorf("update: old %+v new %+v", got[1].Old, got[1].New)
	}
	if got[2].Old == nil || got[2].Old.Subnet != "10.2.0.0/24" || got[2].New != nil {
		t.Errorf("delete: old %+v new %+v", got[2].Old, got[2].New)
	}
}
