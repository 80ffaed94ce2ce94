package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

// metricsEnv is a controller with one emulated switch (dpid 1, 2 ports),
// a collector polling every 100 ms, an alert engine and the API with both.
type metricsEnv struct {
	*webtest.Env
	sw   *switchemu.Switch
	coll *collector.Collector
	eng  *alerts.Engine
}

func startMetrics(t *testing.T, rules ...alerts.Rule) *metricsEnv {
	t.Helper()
	base := webtest.Start(t)
	sw := base.Connect(switchemu.Config{DPID: 1, Ports: 2})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	coll := collector.New(collector.Config{Interval: 100 * time.Millisecond, Logger: log}, base.Ctl)
	eng, err := alerts.New(alerts.Config{Rules: rules, Interval: 50 * time.Millisecond, Logger: log}, alerts.Sources{Collector: coll, Controller: base.Ctl})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); coll.Run(ctx) }()
	go func() { defer wg.Done(); eng.Run(ctx) }()
	srv := httptest.NewServer(web.New(base.Ctl, web.WithLogger(log), web.WithoutAuth(), web.WithCollector(coll), web.WithAlerts(eng)))
	t.Cleanup(func() { srv.Close(); cancel(); wg.Wait() })
	env := *base
	env.URL = srv.URL
	return &metricsEnv{Env: &env, sw: sw, coll: coll, eng: eng}
}

// traffic counts bytes out of port 2 of the emulated switch at about
// bps until the test ends.
func (m *metricsEnv) traffic(t *testing.T, bps float64) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				m.sw.Count(2, 0, 0, 10, uint64(bps/8/200))
				m.sw.Count(1, 10, uint64(bps/8/200), 0, 0)
			}
		}
	}()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMetricsRoutesNeedACollector(t *testing.T) {
	env := webtest.Start(t)
	for _, p := range []string{"/api/v1/metrics/ports", "/api/v1/metrics/flows", "/api/v1/metrics/series?key=port/0000000000000001/1", "/api/v1/metrics/stats"} {
		do(t, env, "GET", p, "").wantError(t, 503, "", "statistics collection is not enabled")
	}
	for _, p := range []string{"/api/v1/alerts", "/api/v1/alerts/rules", "/api/v1/alerts/history"} {
		do(t, env, "GET", p, "").wantError(t, 503, "", "alerts are not enabled")
	}
}

func TestMetricsPorts(t *testing.T) {
	m := startMetrics(t)
	m.traffic(t, 8e6)
	var ports []api.PortMetrics
	waitUntil(t, "port rates", func() bool {
		do(t, m.Env, "GET", "/api/v1/metrics/ports?dpid=1&port=2", "").decode(t, 200, &ports)
		return len(ports) == 1 && ports[0].Rates.TxBps != nil && *ports[0].Rates.TxBps > 0
	})
	p := ports[0]
	if p.Key != "port/0000000000000001/2" || p.Name != "p2" || p.DPID != "0000000000000001" || p.SpeedKbps != 10_000_000 ||
		p.Counters.TxBytes == nil || *p.Counters.TxBytes == 0 || p.Rates.TxUtil == nil || p.Rates.RxBps == nil || *p.Rates.RxBps != 0 {
		t.Fatalf("port 2: %+v", p)
	}
	if *p.Rates.TxBps < 4e6 || *p.Rates.TxBps > 16e6 {
		t.Fatalf("tx rate %v, want about 8 Mbit/s", *p.Rates.TxBps)
	}
	do(t, m.Env, "GET", "/api/v1/metrics/ports", "").decode(t, 200, &ports)
	if len(ports) != 3 || ports[2].Reserved != "local" {
		t.Fatalf("all ports: %+v", ports)
	}
	do(t, m.Env, "GET", "/api/v1/metrics/ports?port=local", "").decode(t, 200, &ports)
	if len(ports) != 1 || ports[0].Port != 0xfffffffe {
		t.Fatalf("local: %+v", ports)
	}
	do(t, m.Env, "GET", "/api/v1/metrics/ports?dpid=2", "").decode(t, 200, &ports)
	if len(ports) != 0 {
		t.Fatalf("dpid 2: %+v", ports)
	}
	do(t, m.Env, "GET", "/api/v1/metrics/ports?dpid=xyz", "").wantError(t, 400, "dpid", `datapath id "xyz"`)
	do(t, m.Env, "GET", "/api/v1/metrics/ports?port=0", "").wantError(t, 400, "port", "want a port number")
	do(t, m.Env, "GET", "/api/v1/metrics/ports?prot=1", "").wantError(t, 400, "prot", `unknown query parameter "prot" (want dpid, port)`)
	do(t, m.Env, "GET", "/api/v1/metrics/ports?dpid=1&dpid=2", "").wantError(t, 400, "dpid", "given 2 times")
}

func TestMetricsFlows(t *testing.T) {
	m := startMetrics(t)
	for i, spec := range []string{"table=0,priority=10,in_port=1,actions=output:2", "table=0,priority=10,in_port=2,actions=output:1"} {
		do(t, m.Env, "POST", "/api/v1/switches/1/flows", fmt.Sprintf(`{"flow": %q, "id": %d}`, spec, i+5)).decode(t, 201, nil)
	}
	var flows []api.FlowMetrics
	waitUntil(t, "2 flows", func() bool {
		do(t, m.Env, "GET", "/api/v1/metrics/flows", "").decode(t, 200, &flows)
		return len(flows) == 2
	})
	f := flows[0]
	if f.OwnerName != "api:5" {
		f = flows[1]
	}
	if f.Owner.Kind != "api" || f.OwnerName != "api:5" || f.Match != "in_port=1" || f.Cookie != "0x0300000000000005" || f.Table != 0 || f.Priority != 10 {
		t.Fatalf("flow %+v", f)
	}
	r := do(t, m.Env, "GET", "/api/v1/metrics/flows?owner=api&id=6&limit=5", "")
	r.decode(t, 200, &flows)
	if len(flows) != 1 || flows[0].OwnerName != "api:6" || r.header.Get("X-Total-Count") != "1" {
		t.Fatalf("id 6: %+v", flows)
	}
	r = do(t, m.Env, "GET", "/api/v1/metrics/flows?limit=1&sort=pps", "")
	r.decode(t, 200, &flows)
	if len(flows) != 1 || r.header.Get("X-Total-Count") != "2" {
		t.Fatalf("limit 1: %d flows, total %q", len(flows), r.header.Get("X-Total-Count"))
	}
	do(t, m.Env, "GET", "/api/v1/metrics/flows?owner=router", "").decode(t, 200, &flows)
	if len(flows) != 0 {
		t.Fatalf("router flows: %+v", flows)
	}
	do(t, m.Env, "GET", "/api/v1/metrics/flows?network=3", "").decode(t, 200, &flows)
	if len(flows) != 0 {
		t.Fatalf("network 3: %+v", flows)
	}
	do(t, m.Env, "GET", "/api/v1/metrics/flows?owner=nobody", "").wantError(t, 400, "owner", `unknown owner kind "nobody"`)
	do(t, m.Env, "GET", "/api/v1/metrics/flows?sort=size", "").wantError(t, 400, "sort", "want key, bps or pps")
	do(t, m.Env, "GET", "/api/v1/metrics/flows?limit=0", "").wantError(t, 400, "limit", "limit 0")
	do(t, m.Env, "GET", "/api/v1/metrics/flows?table=255", "").wantError(t, 400, "table", "from 0 to 254")
	do(t, m.Env, "GET", "/api/v1/metrics/flows?network=16777216", "").wantError(t, 400, "network", "virtual network id")

	var tables []api.TableMetrics
	waitUntil(t, "table 0", func() bool {
		do(t, m.Env, "GET", "/api/v1/metrics/tables?dpid=1", "").decode(t, 200, &tables)
		return len(tables) == 1 && tables[0].Active == 2
	})
}

func TestMetricsSeries(t *testing.T) {
	m := startMetrics(t)
	m.traffic(t, 8e6)
	key := "port/0000000000000001/2"
	var s api.Series
	waitUntil(t, "5 points", func() bool {
		r := do(t, m.Env, "GET", "/api/v1/metrics/series?key="+key, "")
		if r.status == 404 {
			return false // not polled yet
		}
		r.decode(t, 200, &s)
		return len(s.Points) >= 5
	})
	if s.Kind != "port" || s.Resolution != "raw" || s.StepS != 0.1 || len(s.Metrics) != 8 || s.Metrics[1] != "tx_bps" || !s.Present || s.Labels["name"] != "p2" {
		t.Fatalf("series %+v", s)
	}
	last := s.Points[len(s.Points)-1]
	if len(last.V) != 8 || last.V[1] == nil || *last.V[1] <= 0 || s.Points[0].V[1] != nil {
		t.Fatalf("points: first %+v, last %+v (the first poll has no rate)", s.Points[0], last)
	}
	// the switch of a key as everywhere: a short datapath id works too
	var short api.Series
	do(t, m.Env, "GET", "/api/v1/metrics/series?key=port/1/2", "").decode(t, 200, &short)
	if short.Key != key || len(short.Points) < 5 {
		t.Fatalf("port/1/2: key %q, %d points", short.Key, len(short.Points))
	}
	// re-aggregated to 1 s, a window given as RFC 3339 and as relative times
	from := url.QueryEscape(time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))
	do(t, m.Env, "GET", "/api/v1/metrics/series?key="+key+"&from="+from+"&to=now&step=1s", "").decode(t, 200, &s)
	if s.StepS != 1 || len(s.Points) == 0 || len(s.Points) > 3 {
		t.Fatalf("step 1s: %d points, step %v", len(s.Points), s.StepS)
	}
	do(t, m.Env, "GET", "/api/v1/metrics/series?key="+key+"&from=-10m&resolution=downsampled", "").decode(t, 200, &s)
	if s.Resolution != "downsampled" || s.StepS != 60 || len(s.Points) < 1 || len(s.Points) > 2 { // the open minute (and the last)
		t.Fatalf("downsampled: %+v", s)
	}
	for q, want := range map[string][2]string{
		"":                                  {"key", "key is missing"},
		"key=port/zz/2":                     {"key", "16 hex digits"},
		"key=port/0000000000000001/9":       {"key", "no series"},
		"key=" + key + "&from=yesterday":    {"from", `from "yesterday": want RFC 3339`},
		"key=" + key + "&from=-1m&to=-2m":   {"to", "is before from"},
		"key=" + key + "&step=0":            {"step", "positive duration"},
		"key=" + key + "&step=500ms":        {"step", "at least 1s"},
		"key=" + key + "&from=-24h&step=1s": {"step", "the limit is 10000"},
		"key=" + key + "&resolution=fine":   {"resolution", "want raw or downsampled"},
	} {
		status := 400
		if want[1] == "no series" {
			status = 404
		}
		do(t, m.Env, "GET", "/api/v1/metrics/series?"+q, "").wantError(t, status, want[0], want[1])
	}
}

func TestMetricsStats(t *testing.T) {
	m := startMetrics(t)
	var st api.MetricsStats
	waitUntil(t, "polls", func() bool {
		do(t, m.Env, "GET", "/api/v1/metrics/stats", "").decode(t, 200, &st)
		return st.Kinds["port"].Polls >= 3 && st.Kinds["flow"].Polls >= 3
	})
	if st.IntervalS != 0.1 || st.RawPoints < 36000 || st.DownsampledPoints != 1441 || len(st.Switches) != 1 || !st.Switches[0].Connected ||
		st.Switches[0].Kinds["port"].Series != 3 || st.Switches[0].Kinds["port"].LastPoll == nil || st.MemoryBytes <= 0 || st.StreamSubscribers != 1 {
		t.Fatalf("stats %+v", st)
	}
	do(t, m.Env, "GET", "/api/v1/metrics/stats?x=1", "").wantError(t, 400, "x", "takes none")
}
