package exporters_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/exporters"
	"github.com/satellite-sdn/satellite/exporters/exportertest"
	"github.com/satellite-sdn/satellite/exporters/influx"
	"github.com/satellite-sdn/satellite/exporters/testservers"
	"github.com/satellite-sdn/satellite/topology"
)

// The Grafana dashboard's queries run against a real InfluxDB holding
// what the exporter writes from collector batches, topology changes and
// alert events, and every panel gets data: the dashboard and the schema
// agree.
func TestGrafanaDashboardQueries(t *testing.T) {
	raw, err := os.ReadFile("../dashboards/grafana-satellite.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Query string `json:"query"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query string `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Annotations struct {
			List []struct {
				Query string `json:"query"`
			} `json:"list"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}

	srv := testservers.StartInflux(t, testservers.InfluxOptions{})
	srv.CreateDatabase(t, "satellite")
	e, err := influx.New(influx.Config{URL: srv.URL, Bucket: "satellite/autogen"}, exporters.Options{FlushInterval: 20 * time.Millisecond, Logger: exportertest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	now := time.Now().Add(-time.Minute)
	var ps []exporters.Point
	for i := 0; i < 6; i++ {
		at := now.Add(time.Duration(i) * 10 * time.Second).UnixNano()
		b := &collector.Batch{DPID: 1, Time: at}
		for p := uint32(1); p <= 2; p++ {
			b.Ports = append(b.Ports, collector.PortSample{DPID: 1, Port: p, Name: "vm" + string(rune('0'+p)), Time: at,
				Counters: collector.PortSample{}.Counters,
				Rates:    collector.PortRates{RxBps: 1e6 * float64(i), TxBps: 2e6, RxPps: 10, TxPps: 20, RxUtil: 1, TxUtil: 2}})
		}
		info := &collector.FlowInfo{Key: "flow/0000000000000001/abc", DPID: 1, Table: 1, Priority: 100, Cookie: controller.NewCookie(controller.OwnerAPI, 0, 7)}
		b.Flows = []collector.FlowSample{{Info: info, Time: at, Packets: uint64(i), Bytes: uint64(100 * i), Bps: 800, Pps: 1, History: true}}
		b.Tables = []collector.TableSample{{DPID: 1, Table: 0, Time: at, Active: 4, Lookups: uint64(i), Matched: uint64(i), LookupsPs: 5, MatchedPs: 5}}
		ps = exporters.BatchPoints(ps, b, func(uint64) string { return "br-int" })
	}
	link := topology.Link{Src: topology.Endpoint{DPID: 1, Port: 101}, Dst: topology.Endpoint{DPID: 2, Port: 101}, Kind: topology.LinkDirect, State: topology.LinkUp, LatencyMs: 0.3}
	ps = exporters.DeltaPoints(ps, topology.Delta{Time: now, Op: topology.OpSnapshot, Snapshot: &topology.Snapshot{Taken: now,
		Switches: []topology.Switch{{DPID: 1, Connected: true}, {DPID: 2, Connected: true}}, Links: []topology.Link{link}}})
	ps = exporters.DeltaPoints(ps, topology.Delta{Time: now.Add(30 * time.Second), Op: topology.OpEvent,
		Event: &topology.Event{Kind: "host-move", Time: now.Add(30 * time.Second), DPID: 1, Port: 2, Message: "02:00:00:00:01:01 moved"}})
	ps = append(ps, exporters.AlertPoint(alerts.Event{Kind: "firing", Time: now.Add(20 * time.Second), Alert: alerts.Alert{
		Rule: "rx-busy", Series: "port/0000000000000001/1", Metric: "rx_bps", Severity: "warning", Value: 5e6, Threshold: 1e6, Message: "port 1 receives 5 Mbit/s"}}))
	pt, nan := now.Add(40*time.Second).UnixNano(), math.NaN()
	ps = exporters.ProbePoints(ps, []collector.ProbeSample{
		{Local: 1, Remote: 2, LocalName: "h1", RemoteName: "h2", Path: 1, Port: 202, Time: pt, Up: true, Live: true, Active: true, Sent: 100, Received: 99, Loss: 0.01,
			RTTMinMs: 0.3, RTTAvgMs: 0.4, RTTMaxMs: 0.6, RTTP99Ms: 0.6, JitterMs: 0.05},
		{Local: 1, Remote: 2, LocalName: "h1", RemoteName: "h2", Path: 2, Port: 302, Time: pt, Sent: 100, Received: 0, Loss: 1,
			RTTMinMs: nan, RTTAvgMs: nan, RTTMaxMs: nan, RTTP99Ms: nan, JitterMs: nan},
	})
	e.Write(ps)
	exportertest.WaitFor(t, 30*time.Second, func() bool { return e.Status().Delivered == uint64(len(ps)) }, func() string { return "points not delivered" })

	expand := func(q string) string {
		r := strings.NewReplacer("$timeFilter", "time > now() - 1h", "$__interval", "10s", "$dpid", ".*", "$port", ".*")
		return r.Replace(q)
	}
	run := func(what, q string) {
		t.Helper()
		series, err := srv.Query("satellite", expand(q))
		if err != nil {
			t.Errorf("%s: %v\n%s", what, err, expand(q))
			return
		}
		n := 0
		for _, s := range series {
			for _, v := range s.Values {
				for _, x := range v[1:] {
					if x != nil {
						n++
					}
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no data\n%s", what, expand(q))
		}
	}
	panels := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			run("panel "+p.Title, tg.Query)
			panels++
		}
	}
	for _, v := range dash.Templating.List {
		run("variable "+v.Name, v.Query)
	}
	for _, a := range dash.Annotations.List {
		run("annotation", a.Query)
	}
	if panels < 10 {
		t.Errorf("only %d queries in the dashboard", panels)
	}
}
