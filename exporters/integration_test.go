package exporters_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/exporters"
	"github.com/satellite-sdn/satellite/exporters/exportertest"
	"github.com/satellite-sdn/satellite/exporters/fluent"
	"github.com/satellite-sdn/satellite/exporters/influx"
	"github.com/satellite-sdn/satellite/exporters/prom"
	"github.com/satellite-sdn/satellite/exporters/testservers"
	"github.com/satellite-sdn/satellite/lab"
	"github.com/satellite-sdn/satellite/topology"
)

// The whole path with real parts only: Open vSwitch bridges in a lab, the
// controller, the statistics collector and the topology model feed the
// exporters; after traffic between two endpoints InfluxDB answers a query
// with the port_stats points and tags of their ports, the Forward
// receiver logged port records with the right tag and fields, and
// Prometheus scraped the port counters from /metrics.
func TestLabTrafficReachesAllDestinations(t *testing.T) {
	lab.RequireRoot(t)
	ifx := testservers.StartInflux(t, testservers.InfluxOptions{})
	ifx.CreateDatabase(t, "satellite")
	fwd := testservers.StartFluent(t)

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opt := exporters.Options{FlushInterval: 100 * time.Millisecond, Logger: exportertest.Logger()}
	ie, err := influx.New(influx.Config{URL: ifx.URL, Bucket: "satellite/autogen"}, opt)
	if err != nil {
		t.Fatal(err)
	}
	fe, err := fluent.New(fluent.Config{Address: fwd.Addr}, opt)
	if err != nil {
		t.Fatal(err)
	}
	sink := prom.New(prom.Config{})
	set := exporters.NewSet([]*exporters.Exporter{ie, fe}, sink)
	sink.Registry().MustRegister(prom.ExporterMetrics(set))

	// controller, topology, collector, exporters
	sock := filepath.Join(t.TempDir(), "of.sock")
	ctl := controller.New(controller.Config{Logger: log})
	ln, err := controller.Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	model := topology.New(topology.Options{})
	coll := collector.New(collector.Config{Interval: 500 * time.Millisecond, Logger: log}, ctl)
	var running []chan struct{}
	goRun := func(f func()) {
		done := make(chan struct{})
		running = append(running, done)
		go func() { defer close(done); f() }()
	}
	goRun(func() { _ = ctl.Serve(ctx, ln) })
	goRun(func() { topology.NewTracker(topology.TrackerConfig{Logger: log}, ctl, model).Run(ctx) })
	goRun(func() { coll.Run(ctx) })
	goRun(func() { exporters.RunCollector(ctx, coll, exporters.ControllerNames(ctl), set) })
	goRun(func() { exporters.RunTopology(ctx, model, set, log) })
	goRun(func() { set.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		for _, d := range running {
			<-d
		}
	})

	// /metrics for Prometheus
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	msrv := &http.Server{Handler: sink.Handler()}
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
