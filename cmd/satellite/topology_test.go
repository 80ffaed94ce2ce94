package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

// fabric is a model of two switches joined by a direct link (both
// directions) and a tunnel seen one way, with two hosts and an event.
func fabric() *topology.Model { return fabricWith(topology.Options{}) }

func fabricWith(opt topology.Options) *topology.Model {
	m := topology.New(opt)
	m.SwitchUp(topology.Switch{DPID: 1, Manufacturer: "Nicira, Inc.", Software: "3.1.0"}, []topology.Port{
		{Number: 1, Name: "vm1", Up: true}, {Number: 102, Name: "lnk-h2", Up: true}, {Number: 202, Name: "gre-h2", Up: true, Tunnel: true},
	})
	m.SwitchUp(topology.Switch{DPID: 2}, []topology.Port{
		{Number: 1, Name: "vm2", Up: true}, {Number: 101, Name: "lnk-h1", Up: true}, {Number: 201, Name: "gre-h1", Up: true, Tunnel: true},
	})
	m.LinkSeen(topology.Endpoint{DPID: 1, Port: 102}, topology.Endpoint{DPID: 2, Port: 101}, topology.LinkDirect, 400*time.Microsecond)
	m.LinkSeen(topology.Endpoint{DPID: 2, Port: 101}, topology.Endpoint{DPID: 1, Port: 102}, topology.LinkDirect, 600*time.Microsecond)
	m.LinkSeen(topology.Endpoint{DPID: 1, Port: 202}, topology.Endpoint{DPID: 2, Port: 201}, topology.LinkTunnel, 2*time.Millisecond)
	m.HostSeen("02:00:00:00:00:01", "10.0.0.1", topology.Endpoint{DPID: 1, Port: 1})
	m.HostSeen("02:00:00:00:00:02", "", topology.Endpoint{DPID: 2, Port: 1})
	m.AddEvent(topology.Event{Kind: "lldp-forged", DPID: 2, Port: 1, Message: "LLDP frame with a bad signature"})
	return m
}

func TestTopologyCommands(t *testing.T) {
	m := fabric()
	disc := lldp.NewDiscovery(lldp.DiscoveryConfig{}, nil, m, lldp.NewRandomSigner())
	env := webtest.Start(t, web.WithTopology(m), web.WithDiscovery(disc))
	t.Setenv(EnvServer, env.URL)

	out := ok(t, "links")
	wantLines(t, out, `(?m)^SRC +DST +KIND +STATE +LATENCY +UNIDIR$`,
		`(?m)^0000000000000001/102 \(lnk-h2\) +0000000000000002/101 \(lnk-h1\) +direct +up +0\.4ms +no$`,
		`(?m)^0000000000000001/202 \(gre-h2\) +0000000000000002/201 \(gre-h1\) +tunnel +up +2ms +yes$`,
		`(?m)^0000000000000002/101 \(lnk-h1\) +0000000000000001/102 \(lnk-h2\) +direct +up +0\.6ms +no$`)
	if n := strings.Count(out, "\n"); n != 4 {
		t.Fatalf("links: %d lines\n%s", n, out)
	}
	out = ok(t, "links", "--kind", "tunnel")
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, "tunnel") {
		t.Fatalf("links --kind tunnel:\n%s", out)
	}
	wantLines(t, ok(t, "links", "--dpid", "3"), `^no links match\n$`)
	var links []api.Link
	if err := json.Unmarshal([]byte(ok(t, "links", "--dpid", "00:01", "--kind", "direct", "-o", "json")), &links); err != nil || len(links) != 2 {
		t.Fatalf("links -o json: %v %+v", err, links)
	}
	fails(t, 1, `satellite: kind "gre": want direct or tunnel`, "links", "--kind", "gre")
	fails(t, 1, `satellite: datapath id "zz"`, "links", "--dpid", "zz")

	out = ok(t, "hosts")
	wantLines(t, out, `(?m)^MAC +IPS +DPID +PORT +FIRST_SEEN +LAST_SEEN$`,
		`(?m)^02:00:00:00:00:01 +10\.0\.0\.1 +0000000000000001 +1 \(vm1\) +\d+s ago +\d+s ago$`,
		`(?m)^02:00:00:00:00:02 +- +0000000000000002 +1 \(vm2\) +\d+s ago +\d+s ago$`)
	out = ok(t, "hosts", "--mac", "02-00-00-00-00-02")
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, "02:00:00:00:00:02") {
		t.Fatalf("hosts --mac:\n%s", out)
	}
	wantLines(t, ok(t, "hosts", "--dpid", "5"), `^no hosts match\n$`)
	fails(t, 1, `satellite: mac "x": want an Ethernet address`, "hosts", "--mac", "x")

	m.HostSeen("02:00:00:00:00:01", "", topology.Endpoint{DPID: 2, Port: 1})
	out = ok(t, "events")
	wantLines(t, out, `(?m)^TIME +KIND +AT +MESSAGE$`,
		`(?m)^\d{4}-\d\d-\d\dT\S+ +lldp-forged +0000000000000002/1 +LLDP frame with a bad signature$`,
		`(?m)^\S+ +host-move +0000000000000002/1 +host 02:00:00:00:00:01 moved from 0000000000000001/1 to 0000000000000002/1$`)
	out = ok(t, "events", "--kind", "host-move")
	if strings.Count(out, "\n") != 2 || strings.Contains(out, "lldp-forged") {
		t.Fatalf("events --kind:\n%s", out)
	}
	wantLines(t, ok(t, "events", "--kind", "lldp-replayed"), `^no events\n$`)

	out = ok(t, "discovery")
	wantLines(t, out, `(?m)^interval: +1s `, `(?m)^misses: +3 `, `(?m)^max age: +30s `, `(?m)^ttl: +2m0s$`,
		`(?m)^system name: +satellite$`, `(?m)^probes sent: +0 \(0 send errors\)$`,
		`(?m)^rejected: +0 unsigned, 0 bad signature, 0 replayed, 0 stale, 0 future, 0 malformed$`)
	var d api.Discovery
	if err := json.Unmarshal([]byte(ok(t, "discovery", "-o", "json")), &d); err != nil || d.Misses != 3 || d.IntervalS != 1 {
		t.Fatalf("discovery -o json: %v %+v", err, d)
	}
}

func TestTopologyExportImportDiff(t *testing.T) {
	m := fabric()
	env := webtest.Start(t, web.WithTopology(m))
	t.Setenv(EnvServer, env.URL)
	dir := t.TempDir()

	// export to stdout and to a file
	stdout := ok(t, "topology", "export")
	snap, err := topology.ReadSnapshot(strings.NewReader(stdout))
	if err != nil || snap.Version != m.Version() || len(snap.Links) != 3 || len(snap.Hosts) != 2 {
		t.Fatalf("export: %v %+v", err, snap)
	}
	before := filepath.Join(dir, "before.json")
	wantLines(t, ok(t, "topology", "export", "-f", before),
		`^exported version \d+ \(2 switches, 6 ports, 3 links, 2 hosts\) to `+regexp.QuoteMeta(before)+`\n$`)
	// the same export (but for the time it was taken) in the file
	b, err := os.ReadFile(before)
	if err != nil {
		t.Fatal(err)
	}
	taken := regexp.MustCompile(`(?m)^  "taken": .*$`)
	if got, want := taken.ReplaceAllString(string(b), ""), taken.ReplaceAllString(stdout, ""); got != want {
		t.Fatalf("export file differs from stdout:\n%s\n%s", got, want)
	}

	// import, list
	wantLines(t, ok(t, "topology", "list"), `^no snapshots stored`)
	if out := ok(t, "topology", "import", before); out != "s1\n" {
		t.Fatalf("import printed %q", out)
	}
	var info api.SnapshotInfo
	if err := json.Unmarshal([]byte(ok(t, "topology", "import", before, "-o", "json")), &info); err != nil || info.ID != "s2" || info.Links != 3 {
		t.Fatalf("import -o json: %v %+v", err, info)
	}
	wantLines(t, ok(t, "topology", "list"), `(?m)^ID +VERSION +TAKEN +STORED +SWITCHES +PORTS +LINKS +HOSTS$`,
		`(?m)^s1 +\d+ +\S+ +\d+s ago +2 +6 +3 +2$`, `(?m)^s2 `)

	// nothing changed yet
	wantLines(t, ok(t, "topology", "diff", "s1"), `^no differences\n$`)
	wantLines(t, ok(t, "topology", "diff", before, "live"), `^no differences\n$`)

	// the direct link's port goes down, host 1 moves, host 3 arrives, a switch leaves
	m.PortUpdate(topology.Port{DPID: 1, Number: 102, Name: "lnk-h2", Up: false})
	m.HostSeen("02:00:00:00:00:01", "10.0.0.11", topology.Endpoint{DPID: 2, Port: 1})
	m.HostSeen("02:00:00:00:00:03", "10.0.0.3", topology.Endpoint{DPID: 1, Port: 1})
	m.SwitchUp(topology.Switch{DPID: 3, Software: "3.2.0"}, []topology.Port{{Number: 7, Name: "vm7", Up: true}})
	after := filepath.Join(dir, "after.json")
	ok(t, "topology", "export", "-f", after)

	wantDiff := []string{
		`(?m)^\+ switch 0000000000000003 \(3\.2\.0\)$`,
		`(?m)^\+ port 0000000000000003/7 \(vm7\) \(edge, up\)$`,
		`(?m)^~ port 0000000000000001/102 \(lnk-h2\): up -> down, kind link -> edge$`,
		`(?m)^~ port 0000000000000002/101 \(lnk-h1\): kind link -> edge$`,
		`(?m)^- link 0000000000000001/102 -> 0000000000000002/101 direct$`,
		`(?m)^- link 0000000000000002/101 -> 0000000000000001/102 direct$`,
		`(?m)^\+ host 02:00:00:00:00:03 at 0000000000000001/1 \(10\.0\.0\.3\)$`,
		`(?m)^~ host 02:00:00:00:00:01: moved 0000000000000001/1 -> 0000000000000002/1, ips 10\.0\.0\.1 -> 10\.0\.0\.1,10\.0\.0\.11$`,
	}
	for _, args := range [][]string{
		{"s1"}, {"s1", "live"}, // on the server
		{before}, {"s1", after}, {before, "live"}, // a file and the server
		{before, after}, // offline
	} {
		out := ok(t, append([]string{"topology", "diff"}, args...)...)
		wantLines(t, out, wantDiff...)
		if n := strings.Count(out, "\n"); n != len(wantDiff) {
			t.Errorf("diff %v: %d lines, want %d:\n%s", args, n, len(wantDiff), out)
		}
	}
	// the other way round
	wantLines(t, ok(t, "topology", "diff", "live", "s1"), `(?m)^- switch 0000000000000003 \(3\.2\.0\)$`,
		`(?m)^\+ link 0000000000000001/102 -> 0000000000000002/101 direct$`, `(?m)^- host 02:00:00:00:00:03 at 0000000000000001/1 \(10\.0\.0\.3\)$`,
		`(?m)^~ port 0000000000000001/102 \(lnk-h2\): down -> up, kind edge -> link$`)
	var d topology.Diff
	if err := json.Unmarshal([]byte(ok(t, "topology", "diff", "s1", "-o", "json")), &d); err != nil ||
		len(d.Links.Removed) != 2 || len(d.Hosts.Added) != 1 || len(d.Switches.Added) != 1 {
		t.Fatalf("diff -o json: %v %+v", err, d)
	}
	if err := json.Unmarshal([]byte(ok(t, "topology", "diff", before, after, "-o", "json")), &d); err != nil || len(d.Links.Removed) != 2 {
		t.Fatalf("offline diff -o json: %v %+v", err, d)
	}

	// errors
	fails(t, 1, `satellite: snapshot "s9" is not stored on this server`, "topology", "diff", "s9")
	fails(t, 1, `satellite: snapshot "s9" is not stored`, "topology", "diff", before, "s9")
	fails(t, 1, "missing.json: no such file or directory", "topology", "diff", filepath.Join(dir, "missing.json"))
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"switches":[],"flows":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	fails(t, 1, `satellite: `+bad+`: topology snapshot: json: unknown field "flows"`, "topology", "diff", bad, after)
	fails(t, 1, `bad.json: topology snapshot: json: unknown field "flows"`, "topology", "import", bad)
	fails(t, 1, "no such file or directory", "topology", "import", filepath.Join(dir, "missing.json"))
	fails(t, 2, "want 1 to 2 arguments (A [B]), got 0", "topology", "diff")
	fails(t, 2, "want 1 to 2 arguments (A [B]), got 3", "topology", "diff", "a", "b", "c")
	fails(t, 2, "want 1 argument(s) (FILE), got 0", "topology", "import")
	fails(t, 2, "Usage: satellite topology export [-f FILE]", "topology")
	fails(t, 2, "satellite topology diff A [B]", "topology", "frob") // an unknown subcommand
	if code, _, errOut := sat(t, "topology", "diff", "-h"); code != 0 || !strings.Contains(errOut, "Usage: satellite topology diff A [B] [flags]") {
		t.Fatalf("topology diff -h: %d %q", code, errOut)
	}
}

func TestTopologyDiffOffline(t *testing.T) {
	// no server anywhere: two files are compared locally
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv(EnvServer, "http://"+addr)
	dir := t.TempDir()
	m := fabric()
	write := func(name string) string {
		t.Helper()
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := topology.WriteSnapshot(f, m.Snapshot()); err != nil {
			t.Fatal(err)
		}
		return f.Name()
	}
	a := write("a.json")
	wantLines(t, ok(t, "topology", "diff", a, a), `^no differences\n$`)
	m.SwitchDown(2)
	b := write("b.json")
	out := ok(t, "topology", "diff", a, b)
	wantLines(t, out, `(?m)^- switch 0000000000000002$`, `(?m)^- port 0000000000000002/101 \(lnk-h1\)$`,
		`(?m)^- link 0000000000000001/202 -> 0000000000000002/201 tunnel$`, `(?m)^~ port 0000000000000001/102 \(lnk-h2\): kind link -> edge$`)
	if strings.Contains(out, "gre-h2") || strings.Contains(out, "host") {
		t.Fatalf("a tunnel port stays a tunnel port, hosts stay:\n%s", out)
	}
	// a file named like a snapshot id is given with a path
	if err := os.Rename(b, filepath.Join(dir, "s1")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	wantLines(t, ok(t, "topology", "diff", "a.json", "./s1"), `(?m)^- switch 0000000000000002$`)
	// needing the server without one is an error
	fails(t, 1, "is `satellite serve` running at http://"+addr+"?", "topology", "diff", "a.json")
}

func TestTopologyNotEnabled(t *testing.T) {
	env := webtest.Start(t)
	t.Setenv(EnvServer, env.URL)
	for _, args := range [][]string{{"links"}, {"hosts"}, {"events"}, {"topology", "export"}, {"topology", "diff", "s1"}, {"topology", "list"}} {
		fails(t, 1, "satellite: topology is not enabled on this server", args...)
	}
	fails(t, 1, "satellite: LLDP discovery is not enabled on this server", "discovery")
}
