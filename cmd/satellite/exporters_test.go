package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/exporters"
	"github.com/satellite-sdn/satellite/exporters/testservers"
)

// satellite serve with exporters configured: one destination is
// misconfigured (its database does not exist), the other works. The
// problem is logged clearly at start-up and shown by /api/v1/exporters,
// Satellite serves its API and collects regardless, the working exporter
// delivers the switch's port statistics, and once the database exists the
// other one catches up.
func TestServeWithExporters(t *testing.T) {
	ifx := testservers.StartInflux(t, testservers.InfluxOptions{})
	fwd := testservers.StartFluent(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "satellite.yaml")
	cfg := fmt.Sprintf(`openflow: ["tcp:127.0.0.1:0"]
http: {addr: "127.0.0.1:0", open_paths: [/healthz, /metrics]}
state_file: %s
collector: {interval: 500ms}
exporters:
  influx:
    url: %s
    bucket: nodb/autogen
    queue: {flush_interval: 100ms, retry_max: 500ms}
  fluent:
    address: %s
    queue: {flush_interval: 100ms}
`, filepath.Join(dir, "state.db"), ifx.URL, fwd.Addr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", cfgPath}, &stdout, &stderr) }()

	httpRE := regexp.MustCompile(`msg="http listening" addr=\S+ url=(http://\S+)`)
	ofRE := regexp.MustCompile(`msg="openflow listening" target=tcp:127.0.0.1:0 addr=(\S+)`)
	var url, ofAddr string
	wait := func(d time.Duration, what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: timed out\n%s", what, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait(20*time.Second, "serve reports its addresses", func() bool {
		if m := httpRE.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
		}
		if m := ofRE.FindStringSubmatch(stderr.String()); m != nil {
			ofAddr = m[1]
		}
		return url != "" && ofAddr != ""
	})
	logs := stderr.String()
	if !strings.Contains(logs, `level=ERROR msg="exporter cannot deliver yet; Satellite runs on, buffering and retrying" component=exporter exporter=influx`) ||
		!strings.Contains(logs, `database not found: \"nodb\"`) {
		t.Errorf("the misconfiguration is not in the start-up log:\n%s", logs)
	}
	if strings.Contains(logs, "exporter=fluent err=") {
		t.Errorf("the working exporter was reported:\n%s", logs)
	}

	token := useAdminToken(t)
	get := func(path string, v any) int {
		req, _ := http.NewRequest("GET", url+path, nil)
		if strings.HasPrefix(path, "/api/") {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if v != nil {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatalf("%s: %v: %s", path, err, b)
			}
		}
		return resp.StatusCode
	}
	if code := get("/healthz", nil); code != http.StatusOK { // open: http.open_paths
		t.Fatalf("/healthz: %d", code)
	}
	if resp, err := http.Get(url + "/api/v1/exporters"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/api/v1/exporters without a token: %v %v", resp, err)
	}
	swCtx, swCancel := context.WithCancel(context.Background())
	defer swCancel()
	go switchemu.New(switchemu.Config{DPID: 0x42, Ports: 3}).Dial(swCtx, "tcp", ofAddr)

	var st api.ExportersStatus
	byName := func() map[string]exporters.Status {
		m := map[string]exporters.Status{}
		for _, s := range st.Exporters {
			m[s.Name] = s
		}
		return m
	}
	wait(20*time.Second, "fluent delivers, influx is misconfigured", func() bool {
		get("/api/v1/exporters", &st)
		m := byName()
		return m["fluent"].State == exporters.StateOK && m["fluent"].Delivered > 0 &&
			m["influx"].State == exporters.StateMisconfigured && m["influx"].Queued > 0
	})
	if e := byName()["influx"].Error; !strings.Contains(e, `database not found: "nodb"`) || !strings.Contains(e, "create the database") {
		t.Errorf("influx error in /api/v1/exporters: %q", e)
	}
	wait(20*time.Second, "the Forward receiver logs the switch's ports", func() bool {
		recs, _ := fwd.Records()
		for _, r := range recs {
			if r.Tag == "satellite.port" && r.Fields["dpid"] == "0000000000000042" && r.Fields["port"] == "2" {
				return true
			}
		}
		return false
	})
	// /metrics: switches, exporter health, the collector
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"satellite_switches_connected 1", `satellite_export_up{exporter="influx",kind="influx"} 0`,
		`satellite_export_up{exporter="fluent",kind="fluent"} 1`, `satellite_collector_polls_total{kind="port"}`,
		`satellite_port_rx_bytes_total{dpid="0000000000000042",port="1"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// fix the server: the buffered points arrive
	ifx.CreateDatabase(t, "nodb")
	wait(20*time.Second, "influx recovers", func() bool {
		get("/api/v1/exporters", &st)
		m := byName()
		return m["influx"].State == exporters.StateOK && m["influx"].Queued == 0 && m["influx"].Delivered > 0
	})
	n, err := ifx.Count("nodb", "port_stats", "rx_bytes", `"dpid" = '0000000000000042'`)
	if err != nil || n == 0 {
		t.Errorf("port_stats in InfluxDB after the fix: %d, %v", n, err)
	}
	wait(10*time.Second, "the recovery is logged", func() bool {
		return strings.Contains(stderr.String(), `msg="exporter recovered" component=exporter exporter=influx`)
	})

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not stop:\n%s", stderr.String())
	}
}
