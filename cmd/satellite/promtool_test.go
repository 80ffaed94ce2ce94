package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller/switchemu"
)

// TestMetricsPromtool: what /metrics serves (switches, ports, flows,
// tables, the collector, the exporters, the tunnel probes) passes
// `promtool check metrics`: base units (_seconds, _bytes), counters
// ending in _total, no _count suffix on a gauge. promtool comes with
// Debian's prometheus package (scripts/testservers.sh); the test skips
// without it, and fails under CI=true.
func TestMetricsPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not installed (CI=true: this check must run); apt-get install prometheus")
		}
		t.Skip("promtool is not installed; apt-get install prometheus")
	}
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "satellite.yaml")
	if err := os.WriteFile(cfgFile, []byte("http: {addr: \"127.0.0.1:0\", open_paths: [/metrics]}\ncollector: {interval: 200ms}\nexporters: {prometheus: {enabled: true}}\nprobes: {enabled: true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SATELLITE_STATE_FILE", filepath.Join(dir, "state.db"))
	r := startServe(t, cfgFile)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go switchemu.New(switchemu.Config{DPID: 0x42, Ports: 3}).Dial(ctx, "tcp", r.ofAddr)
	var body []byte
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(r.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && strings.Contains(string(body), "satellite_port_rx_bytes_total{") && strings.Contains(string(body), "satellite_collector_") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics: %d\n%s", resp.StatusCode, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(string(body))
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	t.Logf("promtool check metrics: clean (%d lines, %d series)", strings.Count(string(body), "\n"), strings.Count(string(body), "\n")-2*strings.Count(string(body), "# TYPE"))
}
