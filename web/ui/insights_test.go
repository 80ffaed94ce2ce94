package ui_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/insights"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/ui"
)

// The insights page lists what is wrong (escaped), and the landing page
// is the insights page while it lists something, the topology otherwise.
func TestInsightsPageAndLanding(t *testing.T) {
	eng := insights.New(insights.Config{Interval: time.Second}, nil, nil)
	m := topology.New(topology.Options{})
	srv := httptest.NewServer(web.New(controller.New(controller.Config{}), web.WithoutAuth(), web.WithTopology(m), web.WithInsights(eng),
		web.WithUI(ui.New(ui.Options{Model: m, Insights: eng}))))
	t.Cleanup(srv.Close)

	resp, _ := get(t, srv.URL+"/ui/")
	if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || loc != "/ui/topology" {
		t.Fatalf("landing with nothing wrong: %d %q, want the topology", resp.StatusCode, loc)
	}
	_, body := get(t, srv.URL+"/ui/insights")
	for _, want := range []string{`id="i-items"`, `id="t-talkers"`, `<option value="networks">networks</option>`, `<b id="i-count">0</b>`, `id="i-empty">Nothing is wrong now`, `insights.js`, `class="active" aria-current="page">Insights`} {
		if !strings.Contains(body, want) {
			t.Errorf("empty insights page lacks %s", want)
		}
	}
	tm := time.Now().UnixNano()
	eng.Observe(&collector.Batch{Kind: collector.KindPort, DPID: 2, Time: tm, Ports: []collector.PortSample{{
		Key: "port/0000000000000002/3", DPID: 2, Port: 3, Name: "<b>x", Time: tm, Rates: collector.PortRates{RxErrors: 40}}}})
	resp, _ = get(t, srv.URL+"/ui/")
	if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || loc != "/ui/insights" {
		t.Fatalf("landing with a problem: %d %q, want the insights", resp.StatusCode, loc)
	}
	_, body = get(t, srv.URL+"/ui/insights")
	for _, want := range []string{`<b id="i-count">1</b>`, `0000000000000002 port &lt;b&gt;x`, `rx errors 40/s, baseline 0`, `href="/ui/metrics?key=port/0000000000000002/3"`, `id="i-empty" hidden`} {
		if !strings.Contains(body, want) {
			t.Errorf("insights page lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "port <b>x") {
		t.Error("the port name is not escaped")
	}
	// a UI without an engine: the page says so
	_, body = get(t, serve(t, m).URL+"/ui/insights")
	if !strings.Contains(body, "Insights are not enabled") {
		t.Error("no notice without an engine")
	}
}
