package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/audit"
	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/lab"
	"github.com/satellite-sdn/satellite/vnet"
	"github.com/satellite-sdn/satellite/web/client"
)

// TestAuditOnOVS is the flow audit's proof on a real Open vSwitch lab (two
// hosts, directly linked; net1 with a1 and a3 on h1, a2 on h2): flows
// deleted by hand, one changed with mod-flows, a foreign flow and a flow
// shadowing an interface's flow each show as their kind in `satellite
// audit` (exit status 1); the black hole the deletion makes and a loop
// made with hand-added flows are found by the analysis of the tables;
// --fix repairs what is Satellite's, with the drift and the repair in the
// journal; with audit.foreign: remove the foreign flows are gone.
func TestAuditOnOVS(t *testing.T) {
	lab.RequireRoot(t)
	dir := t.TempDir()
	t.Setenv(config.EnvStateFile, filepath.Join(dir, "lib", "state.db"))
	cfgFile := filepath.Join(dir, "satellite.yaml")
	// no periodic resync: the test changes flows by hand and audits before
	// anything repairs them; --fix converges
	base := "discovery: {interval: 250ms}\nprobes: {enabled: false}\nvnet: {resync: 1h, settle: 1s, settle_quiet: 200ms}\n"
	if err := os.WriteFile(cfgFile, []byte(base+"audit: {foreign: report}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "of.sock")
	s := startServeOn(t, cfgFile, "unix:"+sock)
	topo := lab.Start(t, lab.Config{Hosts: 2, Controllers: []string{"unix:" + sock}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	h1, h2 := topo.Host(1), topo.Host(2)
	ep := func(h *lab.Host, vm int) lab.Endpoint { return h.Endpoints[vm-1] }
	cfg := vnet.Config{
		Datapaths: []vnet.Datapath{{Name: h1.Name, DPID: h1.DPID, Segment: "a"}, {Name: h2.Name, DPID: h2.DPID, Segment: "a"}},
		Networks:  []vnet.Network{{Name: "net1", Subnet: "10.1.0.0/24", Gateway: "10.1.0.1"}},
		Interfaces: []vnet.Interface{
			{Name: "a1", Network: "net1", Datapath: h1.Name, Port: ep(h1, 1).Port, MAC: ep(h1, 1).MAC, IP: "10.1.0.11"},
			{Name: "a3", Network: "net1", Datapath: h1.Name, Port: ep(h1, 2).Port, MAC: ep(h1, 2).MAC, IP: "10.1.0.13"},
			{Name: "a2", Network: "net1", Datapath: h2.Name, Port: ep(h2, 1).Port, MAC: ep(h2, 1).MAC, IP: "10.1.0.12"},
		},
	}
	b, _ := json.Marshal(cfg)
	file := filepath.Join(dir, "vnet.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ok(t, "apply", "-f", file)

	type result struct {
		code    int
		entries []audit.Entry
		stderr  string
	}
	auditJSON := func(args ...string) result {
		t.Helper()
		code, out, errOut := sat(t, append([]string{"audit", "-o", "json"}, args...)...)
		var es []audit.Entry
		if err := json.Unmarshal([]byte(out), &es); err != nil {
			t.Fatalf("satellite audit -o json %v: exit %d: %v\n%s\n%s", args, code, err, out, errOut)
		}
		return result{code, es, errOut}
	}
	find := func(r result, kind, sw string) []audit.Entry {
		var out []audit.Entry
		for _, e := range r.entries {
			if e.Kind == kind && (sw == "" || e.Switch == sw) && !e.Repaired {
				out = append(out, e)
			}
		}
		return out
	}
	ofctl := func(h int, args ...string) string {
		t.Helper()
		out, err := topo.OVS(ctx, h, "ovs-ofctl", append([]string{"-O", "OpenFlow13"}, args...)...)
		if err != nil {
			t.Fatalf("h%d ovs-ofctl %v: %v\n%s", h, args, err, out)
		}
		return string(out)
	}

	// converged: nothing to report, exit 0
	deadline := time.Now().Add(45 * time.Second)
	for {
		code, out, errOut := sat(t, "audit")
		if code == 0 && strings.Count(out, "(on-demand): ok\n") == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the audit of a converged lab: exit %d\n%s\n%s\nvnet status:\n%s", code, out, errOut, ok(t, "vnet", "status"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	wantLines(t, ok(t, "audit", h1.Name), `(?m)^h1 \(`+h1.DPID+`\): \d+ flows, \d+ intended, read \S+ \(on-demand\): ok$`)

	// the drift, by hand
	a1MAC, a3MAC := ep(h1, 1).MAC, ep(h1, 2).MAC
	l2 := fmt.Sprint(vnet.TableL2)
	ofctl(2, "del-flows", h2.Bridge, "table="+l2+",dl_dst="+a1MAC)                               // a1's L2 flow on its remote switch: missing, and a black hole
	ofctl(1, "mod-flows", h1.Bridge, "table="+l2+",dl_dst="+a1MAC+",actions=drop")               // modified
	ofctl(1, "add-flow", h1.Bridge, "table=0,priority=1,udp,tp_dst=9999,actions=drop")           // foreign
	ofctl(1, "add-flow", h1.Bridge, "table="+l2+",priority=60000,dl_dst="+a3MAC+",actions=drop") // foreign, shadows a3's L2 flow
	r := auditJSON()
	if r.code != 1 || !strings.Contains(r.stderr, "satellite: audit: ") {
		t.Fatalf("want exit 1 with a summary, got %d %q", r.code, r.stderr)
	}
	describe := func(r result) string {
		var b strings.Builder
		for _, e := range r.entries {
			fmt.Fprintf(&b, "%s %s table %d priority %d %s %s: %s (repaired %v)\n", e.Kind, e.Switch, e.Table, e.Priority, e.Match, e.Owner, e.Detail, e.Repaired)
		}
		return b.String()
	}
	if m := find(r, audit.Missing, h2.Name); len(m) == 0 || m[0].Owner != "interface a1" || m[0].Network != "net1" || m[0].Table != vnet.TableL2 {
		t.Errorf("want a1's L2 flow missing on h2:\n%s", describe(r))
	}
	if m := find(r, audit.Modified, h1.Name); len(m) == 0 || m[0].Actions != "drop" || m[0].Intended == "" || m[0].Owner != "interface a1" {
		t.Errorf("want a1's L2 flow modified on h1:\n%s", describe(r))
	}
	if f := find(r, audit.Foreign, h1.Name); len(f) != 2 || f[0].Owner != "foreign" {
		t.Errorf("want the two hand-added flows foreign on h1:\n%s", describe(r))
	}
	if sh := find(r, audit.Shadowed, h1.Name); len(sh) != 1 || sh[0].Owner != "interface a3" || !strings.Contains(sh[0].By, "priority=60000") {
		t.Errorf("want a3's L2 flow shadowed on h1 by the priority 60000 flow:\n%s", describe(r))
	}
	holes := find(r, audit.BlackHole, "")
	var a2ToA1 bool
	for _, e := range holes {
		a2ToA1 = a2ToA1 || (strings.HasPrefix(e.Detail, "from a2 ") && strings.Contains(e.Detail, " to a1:") && e.Switch == h2.Name)
	}
	if !a2ToA1 {
		t.Errorf("want the black hole a2 -> a1 on h2:\n%s\n%s", describe(r), ok(t, "audit", "--last", "-o", "table"))
	}
	// the table
	code, out, _ := sat(t, "audit")
	if code != 1 {
		t.Fatalf("satellite audit: exit %d\n%s", code, out)
	}
	t.Logf("satellite audit after the changes by hand:\n%s", out)
	wantLines(t, out, `(?m)^missing +h2 +`+l2+` +\d+ +\S*dl_dst=`+a1MAC+`\S* +interface a1 `, `(?m)^shadowed +h1 +`+l2+` `, `(?m)^foreign +h1 +0 +1 `)

	// exported: the running total per switch and kind
	req, _ := http.NewRequest("GET", s.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+os.Getenv(client.EnvToken))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`satellite_flow_drift_total{dpid="` + h2.DPID + `",kind="missing",switch="h2"} 1`,
		`satellite_flow_drift_total{dpid="` + h1.DPID + `",kind="foreign",switch="h1"} 2`} {
		if !strings.Contains(string(metrics), want+"\n") { // exactly: the first programming of the switches is no drift
			t.Errorf("/metrics lacks %s:\n%s", want, grepLines(string(metrics), "flow_drift"))
		}
	}

	// --fix: what is Satellite's is repaired, journaled as drift and repair
	r = auditJSON("--fix")
	if len(find(r, audit.Missing, "")) != 0 || len(find(r, audit.Modified, "")) != 0 || len(find(r, audit.BlackHole, h2.Name)) != 0 {
		t.Errorf("after --fix:\n%s", describe(r))
	}
	if r.code != 1 || len(find(r, audit.Foreign, h1.Name)) != 2 || len(find(r, audit.Shadowed, h1.Name)) != 1 {
		t.Errorf("after --fix the foreign flows stay (audit.foreign: report), exit %d:\n%s", r.code, describe(r))
	}
	var evs []api.Event
	if err := json.Unmarshal([]byte(ok(t, "events", "--since", "5m", "--kind", "flow-drift,flow-repair,flow-shadowed,network-blackhole", "-o", "json")), &evs); err != nil {
		t.Fatal(err)
	}
	var drift, repair, shadow, hole bool
	var all strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&all, "%s %s %s %s\n", e.Kind, e.Severity, e.Message, e.Data)
		var d struct {
			Kind, Switch, Owner string
			Table               uint8
		}
		_ = json.Unmarshal(e.Data, &d)
		switch e.Kind {
		case "flow-drift":
			drift = drift || (d.Kind == audit.Missing && d.Switch == h2.Name && d.Owner == "interface a1" && d.Table == vnet.TableL2 && e.Severity == "critical")
		case "flow-repair":
			repair = repair || (strings.Contains(e.Message, "of network net1 on h2") && strings.Contains(e.Message, "removed by someone else at "))
		case "flow-shadowed":
			shadow = true
		case "network-blackhole":
			hole = true
		}
	}
	if !drift || !repair || !shadow || !hole {
		t.Errorf("journal: drift %v repair %v shadowed %v black hole %v:\n%s", drift, repair, shadow, hole, all.String())
	}

	// a loop made by hand: a1's packets to a2 go to h2 over the direct
	// link, and back and forth
	link1, link2 := 0, 0
	for _, p := range h1.Ports {
		if p.Kind == "link" && p.PeerHost == 2 {
			link1, link2 = p.OFPort, p.PeerOFPort
		}
	}
	if link1 == 0 {
		t.Fatalf("no direct link h1-h2 in %+v", h1.Ports)
	}
	ofctl(1, "add-flow", h1.Bridge, fmt.Sprintf("table=0,priority=65000,in_port=%d,ip,nw_dst=10.1.0.12,actions=output:%d", ep(h1, 1).OFPort, link1))
	ofctl(1, "add-flow", h1.Bridge, fmt.Sprintf("table=0,priority=65000,in_port=%d,ip,nw_dst=10.1.0.12,actions=in_port", link1))
	ofctl(2, "add-flow", h2.Bridge, fmt.Sprintf("table=0,priority=65000,in_port=%d,ip,nw_dst=10.1.0.12,actions=in_port", link2))
	r = auditJSON()
	var loop bool
	for _, e := range find(r, audit.Loop, "") {
		loop = loop || strings.HasPrefix(e.Detail, "from a1 ") && strings.Contains(e.Detail, " to a2:")
	}
	t.Logf("with the loop:\n%s", describe(r))
	if !loop || r.code != 1 {
		t.Errorf("want the loop a1 -> a2, exit 1 (got %d):\n%s", r.code, describe(r))
	}
	s.stop()

	// audit.foreign: remove: the next reconciliation deletes them
	if err := os.WriteFile(cfgFile, []byte(base+"audit: {foreign: remove}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	startServeOn(t, cfgFile, "unix:"+sock)
	foreign := func() int {
		n := 0
		for _, h := range []int{1, 2} {
			for _, l := range strings.Split(ofctl(h, "dump-flows", topo.Host(h).Bridge), "\n") {
				if strings.Contains(l, "cookie=0x0,") || strings.Contains(l, "cookie=0x0 ") {
					n++
				}
			}
		}
		return n
	}
	if n := foreign(); n != 5 {
		t.Fatalf("want the 5 hand-added flows before, got %d", n)
	}
	deadline = time.Now().Add(45 * time.Second)
	for foreign() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("foreign flows left under audit.foreign: remove:\nh1\n%s\nh2\n%s", ofctl(1, "dump-flows", h1.Bridge), ofctl(2, "dump-flows", h2.Bridge))
		}
		sat(t, "audit", "--fix")
		time.Sleep(500 * time.Millisecond)
	}
	r = auditJSON()
	if r.code != 0 || len(r.entries) != 0 {
		t.Errorf("after removing the foreign flows: exit %d\n%s", r.code, describe(r))
	}
	wantLines(t, ok(t, "events", "--since", "5m", "--kind", "flow-repair"), `removed \d foreign flows? from h[12] \(table \S+; policy audit.foreign: remove\)`)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
