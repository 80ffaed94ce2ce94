package exporters_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/internal/core"
	"github.com/satellite-sdn/satellite/internal/testenv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/exporters"
	"github.com/satellite-sdn/satellite/exporters/exportertest"
	"github.com/satellite-sdn/satellite/exporters/fluent"
	"github.com/satellite-sdn/satellite/exporters/influx"
	"github.com/satellite-sdn/satellite/exporters/testservers"
	"github.com/satellite-sdn/satellite/lab"
)

// The whole path with real parts only: Open vSwitch bridges in a lab, the
// controller, the statistics collector, the topology model and the alert
// engine feed the exporters; after traffic between two endpoints InfluxDB
// answers a query with the port_stats points and tags of their ports, the
// Forward receiver logged port records with the right tag and fields,
// Prometheus scraped the port counters from /metrics, and the alert the
// traffic set off reached all three.
func TestLabTrafficReachesAllDestinations(t *testing.T) {
	lab.RequireRoot(t)
	ifx := testservers.StartInflux(t, testservers.InfluxOptions{})
	ifx.CreateDatabase(t, "satellite")
	fwd := testservers.StartFluent(t)

	// an alert rule that fires on the ping's packets
	rule, err := alerts.DecodeRule([]byte(`{"name": "vm1-busy", "metric": "port_rx_pps", "selector": {"dpid": "1", "port": 1},
		"op": ">", "value": 1, "severity": "warning", "labels": {"team": "net"}}`))
	if err != nil {
		t.Fatal(err)
	}
	// Satellite as serve assembles it, its exporters set up by the
	// configuration: controller, topology, collector, alerts, exporters
	sat := testenv.StartCore(t, testenv.CoreOptions{
		Configure: func(c *config.Config) {
			c.Exporters.Influx.URL, c.Exporters.Influx.Bucket = ifx.URL, "satellite/autogen"
			c.Exporters.Influx.Queue.FlushInterval = config.Duration(100 * time.Millisecond)
			c.Exporters.Fluent.Address = fwd.Addr
			c.Exporters.Fluent.Queue.FlushInterval = config.Duration(100 * time.Millisecond)
			c.Exporters.Prometheus.Enabled = true
			c.Collector.Interval = config.Duration(500 * time.Millisecond)
			c.Alerts.Rules = []alerts.Rule{rule}
		},
		Options: core.Options{Without: []string{"probes", "journal"}}})
	ctl, sock, set := sat.Controller, sat.Sock, sat.Exporters.Set

	// /metrics for Prometheus
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	msrv := &http.Server{Handler: sat.Exporters.Prometheus.Handler()}
	go msrv.Serve(mln)
	t.Cleanup(func() { msrv.Close() })
	pr := testservers.StartPrometheus(t, time.Second, mln.Addr().String())

	topo := lab.Start(t, lab.Config{Hosts: 2, Controllers: []string{"unix:" + sock}})
	h1 := topo.Host(1)
	dpid := h1.DPID
	waitFor(t, 30*time.Second, func() bool { return len(ctl.Switches()) == 2 }, "2 switches connected")

	// forward between the two endpoints of host 1 (table 1: the tracker
	// owns table 0 and sends everything there), then ping
	bg := context.Background()
	for _, f := range []string{"table=1,priority=100,in_port=1,actions=output:2", "table=1,priority=100,in_port=2,actions=output:1"} {
		if _, err := topo.OVS(bg, 1, "ovs-ofctl", "-O", "OpenFlow13", "add-flow", "br-int", f); err != nil {
			t.Fatal(err)
		}
	}
	const pings = 20
	vm1 := h1.Endpoints[0]
	if out, err := topo.Exec(bg, vm1.Namespace, "ping", "-c", strconv.Itoa(pings), "-i", "0.05", "-W", "1", h1.Endpoints[1].IP); err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}

	// InfluxDB: port_stats of vm1's port with its tags, counters past the pings
	var rows []map[string]any
	var tags map[string]string
	waitFor(t, 30*time.Second, func() bool {
		series, err := ifx.Query("satellite", fmt.Sprintf(`SELECT last("rx_packets") AS rx, last("tx_packets") AS tx FROM "port_stats" WHERE "dpid" = '%s' AND "port" = '1' GROUP BY *`, dpid))
		if err != nil || len(series) != 1 {
			return false
		}
		rows, tags = series[0].Rows(), series[0].Tags
		rx, _ := rows[0]["rx"].(json.Number).Int64()
		return rx >= pings
	}, "InfluxDB port_stats of vm1's port with the ping's packets")
	if tags["port_name"] != "vm1" || tags["switch"] != "br-int" || tags["dpid"] != dpid || tags["port"] != "1" {
		t.Errorf("port_stats tags %v", tags)
	}
	t.Logf("InfluxDB: port_stats %v: %v", tags, rows[0])
	// rates are there too, as floats
	series, err := ifx.Query("satellite", `SHOW FIELD KEYS FROM "port_stats"`)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, r := range series[0].Rows() {
		types[r["fieldKey"].(string)] = r["fieldType"].(string)
	}
	if types["rx_packets"] != "integer" || types["rx_bps"] != "float" {
		t.Errorf("field types %v", types)
	}
	// topology: both switches connected
	waitFor(t, 20*time.Second, func() bool {
		n, _ := ifx.Count("satellite", "switch", "connected", "")
		return n >= 2
	}, "switch points in InfluxDB")

	// Fluent: satellite.port records of vm1's port
	waitFor(t, 30*time.Second, func() bool {
		recs, err := fwd.Records()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Tag == "satellite.port" && r.Fields["dpid"] == dpid && r.Fields["port"] == "1" && r.Fields["port_name"] == "vm1" {
				if rx, _ := r.Fields["rx_packets"].(int64); rx >= pings {
					t.Logf("Fluent: %s %s %v", r.Tag, r.Time, r.Fields)
					return true
				}
			}
		}
		return false
	}, "a satellite.port record of vm1's port with the ping's packets")

	// Prometheus: the counter with dp/port labels
	waitFor(t, 30*time.Second, func() bool {
		got, err := pr.Query(fmt.Sprintf(`satellite_port_rx_packets_total{dpid=%q,port="1",port_name="vm1",switch="br-int"} >= %d`, dpid, pings))
		return err == nil && len(got) == 1
	}, "Prometheus series satellite_port_rx_packets_total of vm1's port")
	// the alert the ping set off, in all three
	waitFor(t, 30*time.Second, func() bool {
		series, err := ifx.Query("satellite", `SELECT "active", "state", "message" FROM "alert" WHERE "rule" = 'vm1-busy' AND "state" = 'firing' GROUP BY *`)
		if err != nil || len(series) == 0 {
			return false
		}
		t.Logf("InfluxDB: alert %v %v", series[0].Tags, series[0].Rows()[0])
		return series[0].Tags["severity"] == "warning" && series[0].Tags["team"] == "net"
	}, "a firing alert point in InfluxDB")
	waitFor(t, 30*time.Second, func() bool {
		recs, _ := fwd.Records()
		for _, r := range recs {
			if r.Tag == "satellite.alert" && r.Fields["rule"] == "vm1-busy" && r.Fields["state"] == "firing" && r.Fields["active"] == int64(1) {
				return true
			}
		}
		return false
	}, "a satellite.alert record")
	waitFor(t, 30*time.Second, func() bool {
		got, err := pr.Query(`satellite_alert_active{rule="vm1-busy",severity="warning"}`)
		return err == nil && len(got) == 1
	}, "satellite_alert_active in Prometheus")
	if got, err := pr.Query(`satellite_export_delivered_points_total{exporter="influx"} > 0`); err != nil || len(got) != 1 {
		t.Errorf("exporter health in Prometheus: %v %v", got, err)
	}
	for _, st := range set.Statuses() {
		if st.State != exporters.StateOK || st.Dropped != 0 {
			t.Errorf("exporter %s: %+v", st.Name, st)
		}
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool, what string) {
	t.Helper()
	exportertest.WaitFor(t, d, cond, func() string { return what })
}

// portKey identifies a port_stats point: switch, port and time.
type portKey struct {
	dpid, port string
	t          int64
}

// recorder remembers the port_stats points handed to the exporters and
// passes them on (port_stats only when portsOnly).
type recorder struct {
	mu   sync.Mutex
	keys []portKey
	next exporters.Sink
}

func (r *recorder) Write(ps []exporters.Point) {
	out := ps[:0:0]
	r.mu.Lock()
	for i := range ps {
		if ps[i].Measurement != "port_stats" {
			continue
		}
		r.keys = append(r.keys, portKey{ps[i].Tag("dpid"), ps[i].Tag("port"), ps[i].Time.UnixNano()})
		out = append(out, ps[i])
	}
	r.mu.Unlock()
	r.next.Write(out)
}

func (r *recorder) all() []portKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]portKey(nil), r.keys...)
}

// InfluxDB and the Forward receiver both die for 30 s while the real
// collector polls a lab every 250 ms. Afterwards every port_stats point
// of the outage is in InfluxDB and in the receiver's log, with its time;
// exporters with a buffer too small for the outage dropped the oldest
// points and counted exactly those; and the collector kept polling on
// time, without skipped or failed polls.
func TestLabOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s outage; skipped with -short")
	}
	t.Parallel() // mostly waiting: overlap it with the package's other tests
	lab.RequireRoot(t)
	ifx := testservers.StartInflux(t, testservers.InfluxOptions{})
	ifx.CreateDatabase(t, "full")
	ifx.CreateDatabase(t, "small")
	fwdFull := testservers.StartFluent(t)
	fwdSmall := testservers.StartFluent(t)

	const small = 300
	opt := exporters.Options{FlushInterval: 100 * time.Millisecond, Logger: exportertest.Logger(), BatchPoints: 100}
	opt.Backoff.Initial, opt.Backoff.Max = 50*time.Millisecond, 500*time.Millisecond
	mk := func(e *exporters.Exporter, err error) *exporters.Exporter {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	iFull := mk(influx.New(influx.Config{URL: ifx.URL, Bucket: "full/autogen"}, opt))
	fFull := mk(fluent.New(fluent.Config{Address: fwdFull.Addr}, opt))
	opt.BufferPoints = small
	iSmall := mk(influx.New(influx.Config{URL: ifx.URL, Bucket: "small/autogen"}, opt))
	fSmall := mk(fluent.New(fluent.Config{Address: fwdSmall.Addr}, opt))
	set := exporters.NewSet([]*exporters.Exporter{iFull, fFull, iSmall, fSmall})
	rec := &recorder{next: set}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sock := filepath.Join(t.TempDir(), "of.sock")
	ctl := controller.New(controller.Config{Logger: log})
	ln, err := controller.Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	feedCtx, stopFeed := context.WithCancel(ctx)
	const interval = 250 * time.Millisecond
	coll := collector.New(collector.Config{Interval: interval, SkipTables: true, SkipGroups: true, Logger: log}, ctl)
	var running []chan struct{}
	goRun := func(f func()) {
		done := make(chan struct{})
		running = append(running, done)
		go func() { defer close(done); f() }()
	}
	goRun(func() { _ = ctl.Serve(ctx, ln) })
	goRun(func() { coll.Run(ctx) })
	goRun(func() { exporters.RunCollector(feedCtx, coll, exporters.ControllerNames(ctl), rec) })
	goRun(func() { set.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		for _, d := range running {
			<-d
		}
	})
	lab.Start(t, lab.Config{Hosts: 2, Controllers: []string{"unix:" + sock}})
	waitFor(t, 30*time.Second, func() bool { return len(ctl.Switches()) == 2 }, "2 switches connected")
	polls := func() (uint64, uint64, uint64) {
		k := coll.Stats().Kinds["port"]
		return k.Polls, k.Skipped, k.Errors
	}

	time.Sleep(3 * time.Second)
	ifx.Kill()
	fwdFull.Kill()
	fwdSmall.Kill()
	p0, _, _ := polls()
	t0 := time.Now()
	time.Sleep(30 * time.Second)
	p1, _, _ := polls()
	outage := time.Since(t0)
	for _, s := range set.Statuses() {
		if s.State != exporters.StateDown || s.Queued == 0 {
			t.Errorf("during the outage: %+v", s)
		}
	}
	if err := ifx.Start(); err != nil {
		t.Fatal(err)
	}
	if err := fwdFull.Start(); err != nil {
		t.Fatal(err)
	}
	if err := fwdSmall.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	stopFeed()
	exportertest.WaitFor(t, 60*time.Second, func() bool {
		for _, s := range set.Statuses() {
			if s.Queued != 0 {
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprintf("%+v", set.Statuses()) })

	// the collector's polls were not held up by the outage: they kept
	// their rate, and the exporters' feed took every batch the collector
	// published (none lost on its stream). Skips and errors come from Open
	// vSwitch answering late on a loaded machine, not from the exporters:
	// a few are tolerated.
	pAll, skipped, errs := polls()
	lost := coll.Stats().StreamDropped
	expected := float64(2) * outage.Seconds() / interval.Seconds()
	t.Logf("collector: %d port polls during the %s outage (%.0f expected for 2 switches every %s), %d in all, %d skipped, %d failed, %d samples lost on its stream",
		p1-p0, outage.Round(time.Millisecond), expected, interval, pAll, skipped, errs, lost)
	if float64(p1-p0) < 0.8*expected || float64(skipped+errs) > 0.02*float64(pAll) || lost != 0 {
		t.Errorf("polls during the outage: %d of %.0f expected, %d skipped, %d failed, %d samples lost", p1-p0, expected, skipped, errs, lost)
	}

	keys := rec.all()
	want := map[portKey]bool{}
	for _, k := range keys {
		want[k] = true
	}
	if len(want) != len(keys) {
		t.Fatalf("the collector produced duplicate port_stats points: %d keys, %d distinct", len(keys), len(want))
	}
	influxKeys := func(db string) map[portKey]int {
		series, err := ifx.Query(db, `SELECT "rx_packets" FROM "port_stats" GROUP BY "dpid", "port"`)
		if err != nil {
			t.Fatal(err)
		}
		got := map[portKey]int{}
		for _, s := range series {
			for _, r := range s.Rows() {
				ts, _ := r["time"].(json.Number).Int64()
				got[portKey{s.Tags["dpid"], s.Tags["port"], ts}]++
			}
		}
		return got
	}
	fluentKeys := func(srv *testservers.Fluent) map[portKey]int {
		recs, err := srv.Records()
		if err != nil {
			t.Fatal(err)
		}
		got := map[portKey]int{}
		for _, r := range recs {
			if r.Tag == "satellite.port" {
				d, _ := r.Fields["dpid"].(string)
				p, _ := r.Fields["port"].(string)
				got[portKey{d, p, r.Time.UnixNano()}]++
			}
		}
		return got
	}
	// missing returns the points produced that got does not hold, in
	// production order, and how many got holds that were never produced.
	missing := func(got map[portKey]int) (miss []int, unknown int) {
		for i, k := range keys {
			if got[k] == 0 {
				miss = append(miss, i)
			}
		}
		for k := range got {
			if !want[k] {
				unknown++
			}
		}
		return miss, unknown
	}
	check := func(name string, got map[portKey]int, e *exporters.Exporter, full bool) {
		st := e.Status()
		miss, unknown := missing(got)
		t.Logf("%s: %d port_stats points produced, %d stored, %d missing, %d unknown; exporter delivered %d, dropped %d",
			name, len(keys), len(got), len(miss), unknown, st.Delivered, st.Dropped)
		if unknown != 0 {
			t.Errorf("%s: %d stored points were never produced", name, unknown)
		}
		if st.Received != uint64(len(keys)) {
			t.Errorf("%s: received %d points, %d produced", name, st.Received, len(keys))
		}
		if full {
			if len(miss) != 0 || st.Dropped != 0 {
				t.Errorf("%s: %d points of the outage lost (dropped %d)", name, len(miss), st.Dropped)
			}
			return
		}
		// too small: the missing points are the oldest of the outage, one
		// run, as many as counted (a record may have reached the Forward
		// receiver unacknowledged just before it died: at most a batch)
		if st.Dropped == 0 || len(miss) == 0 {
			t.Errorf("%s: nothing dropped with a buffer of %d", name, small)
			return
		}
		if miss[len(miss)-1]-miss[0]+1 != len(miss) {
			t.Errorf("%s: the missing points are not one run of the oldest: %d..%d, %d points", name, miss[0], miss[len(miss)-1], len(miss))
		}
		if d := int(st.Dropped) - len(miss); d < 0 || (strings.HasPrefix(name, "influx") && d != 0) || d > opt.BatchPoints {
			t.Errorf("%s: %d points missing, %d counted as dropped", name, len(miss), st.Dropped)
		}
	}
	check("influx full buffer", influxKeys("full"), iFull, true)
	check("influx small buffer", influxKeys("small"), iSmall, false)
	// the debug exporter prints asynchronously: let it catch up
	exportertest.WaitFor(t, 30*time.Second, func() bool {
		return len(fluentKeys(fwdFull)) >= len(keys) && uint64(len(fluentKeys(fwdSmall))) >= fSmall.Status().Delivered
	}, func() string { return "the Forward receivers' logs lag" })
	check("fluent full buffer", fluentKeys(fwdFull), fFull, true)
	check("fluent small buffer", fluentKeys(fwdSmall), fSmall, false)
}
