package ui_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/ui"
)

func fabric() *topology.Model {
	m := topology.New(topology.Options{})
	m.SwitchUp(topology.Switch{DPID: 1, Remote: "127.0.0.1:1", Software: "3.1.0"}, []topology.Port{
		{Number: 1, Name: "vm1", Up: true}, {Number: 102, Name: "lnk-h2", Up: true}, {Number: 202, Name: "gre-h2", Up: true, Tunnel: true},
		{Number: topology.LocalPort, Name: "br-int", Up: true},
	})
	m.SwitchUp(topology.Switch{DPID: 2}, []topology.Port{
		{Number: 1, Name: "vm1", Up: true}, {Number: 101, Name: "lnk-h1", Up: true}, {Number: 201, Name: "gre-h1", Up: true, Tunnel: true},
	})
	a, b := topology.Endpoint{DPID: 1, Port: 102}, topology.Endpoint{DPID: 2, Port: 101}
	m.LinkSeen(a, b, topology.LinkDirect, time.Millisecond)
	m.LinkSeen(b, a, topology.LinkDirect, time.Millisecond)
	m.LinkSeen(topology.Endpoint{DPID: 1, Port: 202}, topology.Endpoint{DPID: 2, Port: 201}, topology.LinkTunnel, time.Millisecond)
	m.HostSeen("02:00:00:00:01:01", "10.0.1.1", topology.Endpoint{DPID: 1, Port: 1})
	m.AddEvent(topology.Event{Kind: "lldp-forged", DPID: 2, Port: 1, Message: `forged <script>alert("x")</script> probe`})
	return m
}

// serve runs the UI behind the API server, as satellite serve does.
func serve(t *testing.T, m *topology.Model) *httptest.Server {
	t.Helper()
	opts := []web.Option{web.WithUI(ui.New(ui.Options{Model: m, Version: "v9.9.9"}))}
	if m != nil {
		opts = append(opts, web.WithTopology(m))
	}
	srv := httptest.NewServer(web.New(controller.New(controller.Config{}), append([]web.Option{web.WithoutAuth()}, opts...)...))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestPages(t *testing.T) {
	m := fabric()
	srv := serve(t, m)

	for path, to := range map[string]string{"/": "/ui/", "/ui/": "/ui/topology"} {
		resp, _ := get(t, srv.URL+path)
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != to {
			t.Errorf("GET %s: %d to %q, want 302 to %s", path, resp.StatusCode, resp.Header.Get("Location"), to)
		}
	}

	resp, body := get(t, srv.URL+"/ui/topology")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("topology page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`<b id="n-switches">2</b>`, `<b id="n-links">1</b>`, `<b id="n-tunnels">1</b>`, `<b id="n-hosts">1</b>`,
		`data-topology="true"`, `v9.9.9`, `class="active" aria-current="page">Topology`,
		`<td class="mono">0000000000000001</td><td>127.0.0.1:1</td><td>3</td>`, // LOCAL is not counted
	} {
		if !strings.Contains(body, want) {
			t.Errorf("topology page lacks %s", want)
		}
	}
	if !strings.Contains(body, `data-version="`+strconv.FormatUint(m.Version(), 10)+`"`) {
		t.Errorf("topology page does not carry the model version %d", m.Version())
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}

	_, body = get(t, srv.URL+"/ui/events")
	if strings.Contains(body, `<script>alert`) || !strings.Contains(body, `forged &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; probe`) {
		t.Errorf("the event message is not escaped:\n%s", body)
	}
	if !strings.Contains(body, `<span class="badge security">lldp-forged</span>`) || !strings.Contains(body, `0000000000000002/1`) {
		t.Errorf("events page lacks the event row")
	}
	// the script names the switch and port of each row (h2/vm1): the row
	// carries them apart; times are UTC to the second, as on every page
	if !strings.Contains(body, `data-dpid="0000000000000002" data-port="1"`) || !strings.Contains(body, `<td class="what">`) {
		t.Errorf("events rows lack their dpid and port for the names")
	}
	if !regexp.MustCompile(`<td class="t mono">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</td>`).MatchString(body) {
		t.Errorf("event times are not UTC to the second")
	}

	_, body = get(t, srv.URL+"/ui/metrics")
	for _, want := range []string{`id="m-switch"`, `id="m-charts"`, `data-range="15m"`, `vendor/uPlot.iife.min.js`, `charts.js`, `class="active" aria-current="page">Metrics`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics page lacks %s", want)
		}
	}
	_, body = get(t, srv.URL+"/ui/alerts")
	for _, want := range []string{`id="rule-form"`, `data-field="selector.dpid"`, `data-field="value"`, `id="a-active"`, `id="a-history"`, `alerts.js`, `<option>&gt;=</option>`} {
		if !strings.Contains(body, want) {
			t.Errorf("alerts page lacks %s", want)
		}
	}

	resp, body = get(t, srv.URL+"/ui/nope")
	if resp.StatusCode != 404 || !strings.Contains(body, "There is no page <code>/ui/nope</code>") {
		t.Errorf("unknown page: %d", resp.StatusCode)
	}
	// the API's own routes and errors are untouched
	resp, body = get(t, srv.URL+"/api/v1/nope")
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(body, `"error"`) {
		t.Errorf("API 404: %d %s", resp.StatusCode, body)
	}
}

func TestPagesWithoutTopology(t *testing.T) {
	srv := serve(t, nil)
	for _, p := range []string{"/ui/topology", "/ui/events"} {
		resp, body := get(t, srv.URL+p)
		if resp.StatusCode != 200 || !strings.Contains(body, "Topology is not enabled") || !strings.Contains(body, `data-topology="false"`) {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}

var assetRE = regexp.MustCompile(`(?:src|href)="(/ui/assets/[^"?]+)\?v=([0-9a-f]+)"`)

func TestAssets(t *testing.T) {
	srv := serve(t, fabric())
	_, body := get(t, srv.URL+"/ui/topology")
	refs := assetRE.FindAllStringSubmatch(body, -1)
	seen := map[string]bool{}
	for _, r := range refs {
		seen[r[1]] = true
		resp, b := get(t, srv.URL+r[1]+"?v="+r[2])
		if resp.StatusCode != 200 || len(b) == 0 {
			t.Fatalf("%s: %d, %d bytes", r[1], resp.StatusCode, len(b))
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("%s with its hash: Cache-Control %q", r[1], cc)
		}
		resp, _ = get(t, srv.URL+r[1]+"?v=stale")
		if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s with a stale hash: Cache-Control %q", r[1], cc)
		}
	}
	for _, want := range []string{"/ui/assets/app.css", "/ui/assets/stream.js", "/ui/assets/topology.js", "/ui/assets/vendor/cytoscape.min.js"} {
		if !seen[want] {
			t.Errorf("the topology page does not load %s", want)
		}
	}
	resp, _ := get(t, srv.URL+"/ui/assets/app.css")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("app.css content type %q", ct)
	}
	for _, p := range []string{"/ui/assets/missing.js", "/ui/assets/%2e%2e/ui.go", "/ui/assets/vendor/"} {
		if resp, _ := get(t, srv.URL+p); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
	// the vendored libraries ship with their licences
	for _, p := range []string{"/ui/assets/vendor/cytoscape.LICENSE", "/ui/assets/vendor/uPlot.LICENSE"} {
		if resp, b := get(t, srv.URL+p); resp.StatusCode != 200 || !strings.Contains(b, "Permission is hereby granted") {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}
