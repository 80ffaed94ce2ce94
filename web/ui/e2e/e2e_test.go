// Package e2e runs the web UI in headless Chromium against Satellite on
// a real Open vSwitch lab. The browser is Debian's chromium
// (/usr/bin/chromium), driven by the pinned playwright-core of
// package.json; no browser is ever downloaded. The Go test starts
// Satellite and the lab, then runs the node scripts in this directory,
// which drive the pages and call back into the test (a small control
// server) to cut and restore links. Screenshots go to $SATELLITE_ARTIFACTS
// (default: artifacts/ here).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/internal/apptest"
	"github.com/satellite-sdn/satellite/internal/testlog"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/internal/auth"
	"github.com/satellite-sdn/satellite/lab"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/client"
	"github.com/satellite-sdn/satellite/web/ui"
)

// Chromium is the Debian browser the tests drive.
const Chromium = "/usr/bin/chromium"

// need skips the test (or fails it under CI=true) when something the
// browser tests need is missing.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	msg := what + " (scripts/deps.sh installs chromium, nodejs and npm; make test does it)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI is set, so this is a failure, not a skip")
	}
	t.Skip(msg)
}

var npmOnce sync.Once
var npmErr error

// browserReady checks for node and chromium and installs playwright-core
// from the lock file when node_modules lacks it.
func browserReady(t *testing.T) {
	t.Helper()
	_, err := os.Stat(Chromium)
	need(t, err == nil, "Chromium is not installed at "+Chromium)
	_, err = exec.LookPath("node")
	need(t, err == nil, "node is not installed")
	out, err := exec.Command("node", "--version").Output()
	var major int
	_, _ = fmt.Sscanf(strings.TrimSpace(string(out)), "v%d.", &major)
	need(t, err == nil && major >= 20, fmt.Sprintf("node %s is too old: playwright-core needs node 20 or later", strings.TrimSpace(string(out))))
	npmOnce.Do(func() {
		if _, err := os.Stat("node_modules/playwright-core/package.json"); err == nil {
			return
		}
		if _, err := exec.LookPath("npm"); err != nil {
			npmErr = fmt.Errorf("npm is not installed")
			return
		}
		out, err := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error").CombinedOutput()
		if err != nil {
			npmErr = fmt.Errorf("npm ci: %v\n%s", err, out)
		}
	})
	if npmErr != nil {
		need(t, false, npmErr.Error())
	}
}

// artifacts returns the directory for screenshots.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SATELLITE_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	dir, err := filepath.Abs(filepath.Join(dir, t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots and browser logs: %s", dir)
	return dir
}

// satellite is Satellite as satellite serve wires it (controller,
// topology tracker, LLDP discovery, statistics collector polling every
// second, alert engine, API, UI) on a unix OpenFlow socket and a loopback
// HTTP port.
type satellite struct {
	token string // an operator's token; the browser scripts get it as their session cookie
	ctl   *controller.Controller
	model *topology.Model
	api   *web.Server
	url   string
	sock  string
	logs  *syncBuffer
	ctx   context.Context
}

// syncBuffer is the shared test log buffer.
type syncBuffer = testlog.Buffer

func startSatellite(t *testing.T) *satellite {
	t.Helper()
	s := apptest.Start(t, apptest.Options{ // the token is an operator's
		Configure: func(c *config.Config) { c.Collector.Interval = config.Duration(time.Second) }})
	return &satellite{token: s.Token, ctl: s.Controller, model: s.Model, api: s.API, url: s.URL, sock: s.Sock, logs: s.Logs, ctx: s.Context()}
}

// waitFor polls cond every 50 ms until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// controlServer lets the browser scripts act on the lab: POST
// /cut-link?a=1&b=2, /restore-link?a=1&b=2, /cut-path?a=1&b=3&path=2.
func controlServer(t *testing.T, topo *lab.Topology) string {
	t.Helper()
	mux := http.NewServeMux()
	op := func(f func(context.Context, int, int) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var a, b int
			if _, err := fmt.Sscan(r.URL.Query().Get("a")+" "+r.URL.Query().Get("b"), &a, &b); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if err := f(r.Context(), a, b); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			t.Logf("control: %s %d-%d", r.URL.Path, a, b)
			w.WriteHeader(http.StatusNoContent)
		}
	}
	mux.HandleFunc("POST /cut-link", op(topo.CutLink))
	mux.HandleFunc("POST /restore-link", op(topo.RestoreLink))
	// /cut-path?a=1&b=3&path=2: the underlay path between two hosts
	mux.HandleFunc("POST /cut-path", func(w http.ResponseWriter, r *http.Request) {
		var a, b, p int
		q := r.URL.Query()
		if _, err := fmt.Sscan(q.Get("a")+" "+q.Get("b")+" "+q.Get("path"), &a, &b, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := topo.CutPath(r.Context(), a, p, b); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		t.Logf("control: cut path %d between h%d and h%d", p, a, b)
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// runScript runs a node script of this directory with the environment,
// streaming its output into the test log.
func runScript(t *testing.T, script string, env map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, testWriter{t})
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v", script, err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.t.Log(line)
	}
	return len(p), nil
}

// TestTopologyPageOnOVS: the topology page shows the lab's switches,
// links and hosts; a click on a switch shows its ports and flow table;
// a cut link turns red within 2 s without a reload and the events page
// logs it (topology.e2e.mjs). Then the metrics page charts a port with
// live traffic, and a rule created in the alerts page (after the form
// showed the API's validation errors) fires and shows in the page
// (alerts.e2e.mjs).
func TestTopologyPageOnOVS(t *testing.T) {
	browserReady(t)
	sat := startSatellite(t)
	topo := lab.Start(t, lab.Config{Hosts: 3, Controllers: []string{"unix:" + sat.sock}})
	dir := artifacts(t)
	waitFor(t, 20*time.Second, "3 switches connected", func() bool { return len(sat.ctl.Switches()) == 3 })

	// live traffic between the two endpoints of every host: forwarding
	// flows through the API, then pings (their ARP makes the hosts known)
	api, err := client.New(sat.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	api.SetToken(sat.token)
	ctx := sat.ctx
	var hosts int
	for i := 1; i <= 3; i++ {
		h := topo.Host(i)
		for _, spec := range []string{"table=1,priority=100,in_port=1,actions=output:2", "table=1,priority=100,in_port=2,actions=output:1"} {
			if _, err := api.AddFlow(ctx, h.DPID, spec, nil); err != nil {
				t.Fatal(err)
			}
		}
		vm1, vm2 := h.Endpoints[0], h.Endpoints[1]
		hosts += len(h.Endpoints)
		for _, p := range [][2]lab.Endpoint{{vm1, vm2}, {vm2, vm1}} {
			if out, err := topo.Exec(ctx, p[0].Namespace, "ping", "-c", "2", "-i", "0.2", "-W", "1", p[1].IP); err != nil {
				t.Logf("ping %s -> %s: %v\n%s", p[0].Name, p[1].IP, err, out)
			}
		}
		// and keep some traffic going for the port rates
		if cmd, err := topo.ExecCommand(ctx, vm1.Namespace, "ping", "-q", "-i", "0.1", vm2.IP); err == nil {
			if err := cmd.Start(); err == nil {
				t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			}
		}
	}
	directs, tunnels := len(topo.Links), len(topo.Tunnels)
	waitFor(t, 15*time.Second, "every link and host in the model", func() bool {
		return len(sat.model.Links()) == 2*(directs+tunnels) && len(sat.model.Hosts()) == hosts
	})

	// the direct link h1-h2, as the page names its edge
	var cut lab.Link
	for _, l := range topo.Links {
		if (l.A.Host == 1 && l.B.Host == 2) || (l.A.Host == 2 && l.B.Host == 1) {
			cut = l
		}
	}
	ends := []string{fmt.Sprintf("%s/%d", cut.A.DPID, cut.A.OFPort), fmt.Sprintf("%s/%d", cut.B.DPID, cut.B.OFPort)}
	if ends[1] < ends[0] {
		ends[0], ends[1] = ends[1], ends[0]
	}
	expect, _ := json.Marshal(map[string]any{
		"switches": 3, "links": directs, "tunnels": tunnels, "hosts": hosts,
		"switch": topo.Host(1).DPID, "switchPorts": portNames(topo.Host(1)),
		"cutEdge": "ln:" + ends[0] + "|" + ends[1], "cutA": cut.A.Host, "cutB": cut.B.Host,
	})
	env := map[string]string{
		"SATELLITE_URL":       sat.url,
		"SATELLITE_CONTROL":   controlServer(t, topo),
		"SATELLITE_ARTIFACTS": dir,
		"SATELLITE_EXPECT":    string(expect),
		"CHROMIUM":            Chromium,
		"SATELLITE_TOKEN":     sat.token, // signed in: the pages, their API calls and the stream use the cookie
	}
	runScript(t, "topology.e2e.mjs", env)
	runScript(t, "alerts.e2e.mjs", env)
}

func portNames(h *lab.Host) []string {
	var out []string
	for _, p := range h.Ports {
		out = append(out, p.Name)
	}
	return out
}

// fabricModel builds a synthetic fabric: n switches on a torus-like grid
// (each linked to its right and lower neighbour, both directions), hosts
// hosts per switch.
func fabricModel(n, hostsPer int) (*topology.Model, [][2]topology.Endpoint) {
	m := topology.New(topology.Options{Replay: 65536})
	cols := 1
	for cols*cols < n {
		cols++
	}
	right := func(i int) int { return (i/cols)*cols + (i%cols+1)%cols }
	down := func(i int) int { return (i + cols) % n }
	for i := 0; i < n; i++ {
		ports := []topology.Port{{Number: topology.LocalPort, Name: "br-int", Up: true}}
		for h := 1; h <= hostsPer; h++ {
			ports = append(ports, topology.Port{Number: uint32(h), Name: fmt.Sprintf("vm%d", h), Up: true, SpeedKbps: 10_000_000})
		}
		for p := 101; p <= 104; p++ {
			ports = append(ports, topology.Port{Number: uint32(p), Name: fmt.Sprintf("lnk%d", p-100), Up: true, SpeedKbps: 10_000_000})
		}
		m.SwitchUp(topology.Switch{DPID: topology.DPID(i + 1), Remote: "192.0.2.1:6653", Software: "synthetic"}, ports)
	}
	var pairs [][2]topology.Endpoint
	seen := map[[2]int]bool{}
	for i := 0; i < n; i++ {
		for k, j := range []int{right(i), down(i)} {
			if j == i || j >= n || seen[[2]int{min(i, j), max(i, j)}] {
				continue
			}
			seen[[2]int{min(i, j), max(i, j)}] = true
			a := topology.Endpoint{DPID: topology.DPID(i + 1), Port: uint32(101 + 2*k)}
			b := topology.Endpoint{DPID: topology.DPID(j + 1), Port: uint32(102 + 2*k)}
			m.LinkSeen(a, b, topology.LinkDirect, time.Millisecond)
			m.LinkSeen(b, a, topology.LinkDirect, time.Millisecond)
			pairs = append(pairs, [2]topology.Endpoint{a, b})
		}
		for h := 1; h <= hostsPer; h++ {
			mac := fmt.Sprintf("02:%02x:%02x:%02x:00:%02x", (i>>16)&0xff, (i>>8)&0xff, i&0xff, h)
			m.HostSeen(mac, fmt.Sprintf("10.%d.%d.%d", (i>>8)&0xff, i&0xff, h), topology.Endpoint{DPID: topology.DPID(i + 1), Port: uint32(h)})
		}
	}
	return m, pairs
}

// TestLargeTopologyRender loads a 1000-switch fabric (about 2000 links
// and 2000 hosts) into the topology page, three times, and measures the
// time to a drawn graph, the longest main-thread task, and how fast a
// burst of 100 link failures shows. The page must not freeze: the
// numbers go to the log and artefacts (BENCHMARKS.md quotes them).
func TestLargeTopologyRender(t *testing.T) {
	browserReady(t)
	const switches, hostsPer = 1000, 2
	m, pairs := fabricModel(switches, hostsPer)
	snap := m.Snapshot()
	size, _ := json.Marshal(snap)
	t.Logf("fabric: %d switches, %d ports, %d directed links, %d hosts, version %d, snapshot %.1f MB of JSON",
		len(snap.Switches), len(snap.Ports), len(snap.Links), len(snap.Hosts), snap.Version, float64(len(size))/1e6)
	api := web.New(controller.New(controller.Config{}), web.WithoutAuth(), web.WithTopology(m), web.WithUI(ui.New(ui.Options{Model: m, Version: "bench"})))
	srv := httptest.NewServer(api)
	t.Cleanup(func() { api.Close(); srv.Close() })

	// POST /flap?n=N takes the first end of N links down (as a port-status would)
	mux := http.NewServeMux()
	var cut []string
	mux.HandleFunc("POST /flap", func(w http.ResponseWriter, r *http.Request) {
		var n int
		if _, err := fmt.Sscan(r.URL.Query().Get("n"), &n); err != nil || n > len(pairs) {
			http.Error(w, "bad n", http.StatusBadRequest)
			return
		}
		ids := make([]string, 0, n)
		for _, p := range pairs[:n] {
			m.PortUpdate(topology.Port{DPID: p[0].DPID, Number: p[0].Port, Name: "lnk", Up: false})
			ends := []string{p[0].String(), p[1].String()}
			if ends[1] < ends[0] {
				ends[0], ends[1] = ends[1], ends[0]
			}
			ids = append(ids, "ln:"+ends[0]+"|"+ends[1])
		}
		cut = ids
		_ = json.NewEncoder(w).Encode(ids)
	})
	mux.HandleFunc("POST /restore", func(w http.ResponseWriter, r *http.Request) {
		for _, p := range pairs {
			m.PortUpdate(topology.Port{DPID: p[0].DPID, Number: p[0].Port, Name: fmt.Sprintf("lnk%d", p[0].Port-100), Up: true, SpeedKbps: 10_000_000})
			m.LinkSeen(p[0], p[1], topology.LinkDirect, time.Millisecond)
			m.LinkSeen(p[1], p[0], topology.LinkDirect, time.Millisecond)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	ctl := httptest.NewServer(mux)
	t.Cleanup(ctl.Close)
	dir := artifacts(t)
	expect, _ := json.Marshal(map[string]any{"switches": switches, "links": len(pairs), "hosts": len(snap.Hosts), "hostsPerSwitch": hostsPer, "runs": 3})
	runScript(t, "render.e2e.mjs", map[string]string{
		"SATELLITE_URL": srv.URL, "SATELLITE_CONTROL": ctl.URL, "SATELLITE_ARTIFACTS": dir,
		"SATELLITE_EXPECT": string(expect), "CHROMIUM": Chromium,
	})
	_ = cut
}

// TestLoginInBrowser: the UI behind authentication, in Chromium: the
// login page, the cookie, the stream with it, a viewer's read-only
// alerts page, signing out, an operator's form (login.e2e.mjs).
func TestLoginInBrowser(t *testing.T) {
	browserReady(t)
	dir := t.TempDir()
	store, err := auth.OpenTokenStore(filepath.Join(dir, "tokens.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	audit, err := auth.OpenAuditLog(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	viewer, _, _ := store.Create("e2e-viewer", auth.RoleViewer, "e2e", false)
	operator, _, _ := store.Create("e2e-operator", auth.RoleOperator, "e2e", false)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctl := controller.New(controller.Config{Logger: log})
	m := topology.New(topology.Options{})
	coll := collector.New(collector.Config{Logger: log}, ctl)
	rules, err := alerts.OpenRuleStore(filepath.Join(dir, "rules.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer rules.Close()
	eng, err := alerts.New(alerts.Config{Logger: log, Store: rules}, alerts.Sources{Collector: coll, Controller: ctl, Model: m})
	if err != nil {
		t.Fatal(err)
	}
	api := web.New(ctl, web.WithLogger(log), web.WithSecurity(web.Security{Tokens: store, Audit: audit}), web.WithTopology(m),
		web.WithCollector(coll), web.WithAlerts(eng), web.WithUI(ui.New(ui.Options{Model: m, Version: "e2e"})))
	srv := httptest.NewServer(api)
	t.Cleanup(func() { api.Close(); srv.Close() })
	// a stored rule (config-file rules have no buttons for anyone)
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/alerts/rules", strings.NewReader(`{"name": "e2e-rule", "metric": "switch_down"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+operator)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("creating the rule: %v %v", resp, err)
	}
	runScript(t, "login.e2e.mjs", map[string]string{
		"SATELLITE_URL": srv.URL, "SATELLITE_ARTIFACTS": artifacts(t), "CHROMIUM": Chromium,
		"SATELLITE_VIEWER_TOKEN": viewer, "SATELLITE_OPERATOR_TOKEN": operator,
	})
	es, _ := audit.Entries()
	var logins []string
	for _, e := range es {
		if e.Path == web.LoginPath {
			logins = append(logins, fmt.Sprintf("%d %s", e.Status, e.User))
		}
	}
	if strings.Join(logins, ",") != "401 ,303 e2e-viewer,303 e2e-operator" {
		t.Errorf("logins in the audit log: %v", logins)
	}
}
