package prom_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/exporters"
	"github.com/satellite-sdn/satellite/exporters/exportertest"
	"github.com/satellite-sdn/satellite/exporters/influx"
	"github.com/satellite-sdn/satellite/exporters/prom"
	"github.com/satellite-sdn/satellite/exporters/testservers"
)

// serve serves h on a free loopback port until the test ends and
// returns host:port.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

var at = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

func testPoints() []exporters.Point {
	return []exporters.Point{
		exportertest.PortPoint(5, 3, 16), // dpid 3, port 2, rx_bytes 5000
		{Measurement: "link", Tags: []exporters.Tag{{Key: "dst_dpid", Value: "0000000000000002"}, {Key: "dst_port", Value: "101"},
			{Key: "kind", Value: "direct"}, {Key: "src_dpid", Value: "0000000000000001"}, {Key: "src_port", Value: "102"}},
			Fields: []exporters.Field{{Key: "up", Value: exporters.Int(1)}, {Key: "state", Value: exporters.String("up")}, {Key: "latency_ms", Value: exporters.Float(0.42)}}, Time: at},
		{Measurement: "alert", Tags: []exporters.Tag{{Key: "metric", Value: "rx_drops"}, {Key: "rule", Value: "drops"}, {Key: "series", Value: "port/0000000000000001/2"}, {Key: "severity", Value: "warning"}},
			Fields: []exporters.Field{{Key: "active", Value: exporters.Int(1)}, {Key: "state", Value: exporters.String("firing")}, {Key: "value", Value: exporters.Float(12)}}, Time: at},
	}
}

// A real Prometheus scrapes /metrics and answers queries with the
// expected series: port counters with dp/port labels, link state and
// latency, alert state, and the exporters' own health.
func TestPrometheusScrapes(t *testing.T) {
	sink := prom.New(prom.Config{})
	sink.Write(testPoints())
	sink.Write(exportertest.ProbePoints(time.Now()))
	// an InfluxDB exporter whose server is not there, for the health metrics
	e, err := influx.New(influx.Config{URL: "http://127.0.0.1:1", Bucket: "x/autogen"}, exporters.Options{Name: "influx-a", Logger: exportertest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	set := exporters.NewSet([]*exporters.Exporter{e}, sink)
	set.Write([]exporters.Point{exportertest.PortPoint(1, 1, 1)})
	sink.Registry().MustRegister(prom.ExporterMetrics(set))
	addr := serve(t, sink.Handler())

	text := scrape(t, addr)
	for _, want := range []string{
		`satellite_port_rx_bytes_total{dpid="0000000000000003",port="2",port_name="vm2",switch="br-int"} 5000`,
		`# TYPE satellite_port_rx_bytes_total counter`,
		`# TYPE satellite_port_rx_bps gauge`,
		`satellite_link_latency_seconds{dst_dpid="0000000000000002",dst_port="101",kind="direct",src_dpid="0000000000000001",src_port="102"} 0.00042`,
		`satellite_export_queue_points{exporter="influx-a",kind="influx"} 1`,
		`satellite_tunnel_probe_rtt_avg_seconds{local="0000000000000001",local_name="h1",path="1",port="202",remote="0000000000000002",remote_name="h2"} 0.0004`,
		`satellite_tunnel_probe_loss{local="0000000000000001",local_name="h1",path="2",port="302",remote="0000000000000002",remote_name="h2"} 1`,
		`# TYPE satellite_tunnel_probe_sent_total counter`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, "satellite_link_state") || strings.Contains(text, "satellite_alert_state") {
		t.Errorf("string fields became metrics")
	}
	// base units, counters _total, no _count gauge: promtool's lint
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "" {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	} else if os.Getenv("CI") == "true" {
		t.Error("promtool is not installed (CI=true: this check must run)")
	}

	srv := testservers.StartPrometheus(t, time.Second, addr)
	query := func(q string) []testservers.Sample {
		var got []testservers.Sample
		exportertest.WaitFor(t, 30*time.Second, func() bool {
			var err error
			got, err = srv.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			return len(got) > 0
		}, func() string {
			tg, _ := srv.Targets()
			return fmt.Sprintf("no result for %s; targets: %v", q, tg)
		})
		return got
	}
	if got := query(`up{job="satellite"}`); got[0].Value != "1" {
		t.Fatalf("scrape target not up: %+v", got)
	}
	got := query(`satellite_port_rx_bytes_total{dpid="0000000000000003",port="2"}`)
	if got[0].Value != "5000" || got[0].Labels["port_name"] != "vm2" || got[0].Labels["switch"] != "br-int" {
		t.Errorf("port counter: %+v", got)
	}
	if got := query(`satellite_link_up{src_dpid="0000000000000001",dst_dpid="0000000000000002"}`); got[0].Value != "1" {
		t.Errorf("link state: %+v", got)
	}
	if got := query(`satellite_alert_active{rule="drops",severity="warning"}`); got[0].Value != "1" || got[0].Labels["series"] != "port/0000000000000001/2" {
		t.Errorf("alert state: %+v", got)
	}
	if got := query(`satellite_tunnel_probe_active{local_name="h1",remote_name="h2"} == 1`); len(got) != 1 || got[0].Labels["path"] != "1" {
		t.Errorf("active tunnel path: %+v", got)
	}
	if got := query(`satellite_export_up{exporter="influx-a"}`); got[0].Value != "0" {
		t.Errorf("exporter health: %+v", got)
	}
	if got := query(`go_goroutines`); len(got) == 0 {
		t.Errorf("no Go runtime metrics")
	}
	// an update is seen by the next scrape
	p := exportertest.PortPoint(5, 3, 16)
	p.Fields[0].Value = exporters.Uint(9999)
	sink.Write([]exporters.Point{p})
	exportertest.WaitFor(t, 30*time.Second, func() bool {
		got, _ := srv.Query(`satellite_port_rx_bytes_total{dpid="0000000000000003",port="2"}`)
		return len(got) == 1 && got[0].Value == "9999"
	}, func() string { return "the new counter value was not scraped" })
}

// The number of series is bounded: series beyond MaxSeries are refused
// and counted; series not updated for StaleAfter go away.
func TestPrometheusCardinality(t *testing.T) {
	now := at
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sink := prom.New(prom.Config{MaxSeries: 100, StaleAfter: time.Minute, Now: clock, Measurements: []string{"port_stats"}})
	var ps []exporters.Point
	for s := int64(0); s < 48; s++ { // 48 ports x 6 numeric fields = 288 series
		ps = append(ps, exportertest.PortPoint(s, 3, 16))
	}
	ps = append(ps, testPoints()[1:]...) // not port_stats: ignored
	sink.Write(ps)
	if n := sink.Series(); n != 100 {
		t.Fatalf("%d series, want the 100 allowed", n)
	}
	addr := serve(t, sink.Handler())
	text := scrape(t, addr)
	if !strings.Contains(text, "satellite_export_prometheus_series_refused_total 188") {
		t.Errorf("refused count missing:\n%s", grep(text, "refused"))
	}
	if strings.Contains(text, "satellite_link_") {
		t.Errorf("link exported although only port_stats is selected")
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	text = scrape(t, addr)
	if strings.Contains(text, "satellite_port_rx_bytes_total{") || !strings.Contains(text, "satellite_export_prometheus_series_expired_total 100") {
		t.Errorf("stale series not removed:\n%s", grep(text, "satellite_"))
	}
	if n := sink.Series(); n != 0 {
		t.Errorf("%d series left", n)
	}
	// room again for new series
	sink.Write(ps[:1])
	if n := sink.Series(); n != 6 {
		t.Errorf("%d series after a new point, want 6", n)
	}
}

func grep(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
