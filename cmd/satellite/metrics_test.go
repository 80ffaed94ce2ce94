package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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

// metricsServer runs a controller with one emulated switch sending
// traffic out of port 2, a collector, an alert engine and the API, and
// points the CLI at it.
func metricsServer(t *testing.T) *switchemu.Switch {
	t.Helper()
	base := webtest.Start(t)
	sw := base.Connect(switchemu.Config{DPID: 1, Ports: 2})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	coll := collector.New(collector.Config{Interval: 100 * time.Millisecond, Logger: log}, base.Ctl)
	eng, err := alerts.New(alerts.Config{Interval: 50 * time.Millisecond, Logger: log}, alerts.Sources{Collector: coll, Controller: base.Ctl})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); coll.Run(ctx) }()
	go func() { defer wg.Done(); eng.Run(ctx) }()
	go func() {
		defer wg.Done()
		// 2000 packets/s of 500 bytes (8 Mbit/s), counted by elapsed time
		// so that a late ticker on a busy machine does not lower the rate
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		start, counted := time.Now(), uint64(0)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				due := uint64(time.Since(start).Seconds() * 2000)
				sw.Count(2, 0, 0, due-counted, 500*(due-counted))
				counted = due
			}
		}
	}()
	srv := httptest.NewServer(web.New(base.Ctl, web.WithLogger(log), web.WithoutAuth(), web.WithCollector(coll), web.WithAlerts(eng)))
	t.Cleanup(func() { srv.Close(); cancel(); wg.Wait() })
	t.Setenv(EnvServer, srv.URL)
	return sw
}

func TestMetricsCommands(t *testing.T) {
	metricsServer(t)
	deadline := time.Now().Add(10 * time.Second)
	var out string
	for {
		out = ok(t, "metrics", "ports", "--dpid", "1", "--port", "2")
		if strings.Contains(out, "M\t") || strings.Contains(out, "M ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rate in:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantLines(t, out, `DPID +PORT +NAME +RX BPS +TX BPS`, `0000000000000001 +2 +p2 +0 +[0-9.]+M +0 +[0-9.]+k .* port/0000000000000001/2`)
	var ports []api.PortMetrics
	if err := json.Unmarshal([]byte(ok(t, "metrics", "ports", "-o", "json")), &ports); err != nil || len(ports) != 3 {
		t.Fatalf("ports json: %v %d", err, len(ports))
	}
	out = ok(t, "metrics", "series", "port/0000000000000001/2", "--from", "-1m", "--step", "1s")
	wantLines(t, out, `port/0000000000000001/2 \(dpid=0000000000000001 name=p2 port=2 .*raw points every 1s; present\)`, `TIME\s+RX_BPS\s+TX_BPS`)
	wantLines(t, ok(t, "metrics", "stats"), `port polls:\s+[1-9][0-9]* \(0 skipped`, `switch 0000000000000001:\s+connected; port 3 series`)
	wantLines(t, ok(t, "metrics", "flows"), `no flow statistics match`)
	fails(t, 1, `no series "port/0000000000000001/7"`, "metrics", "series", "port/0000000000000001/7")
	fails(t, 1, `sort "size": want key, bps or pps`, "metrics", "flows", "--sort", "size")
	fails(t, 1, `datapath id "zz"`, "metrics", "ports", "--dpid", "zz")
	fails(t, 2, "Usage: satellite metrics ports", "metrics")
	fails(t, 2, "want 1 argument(s) (KEY)", "metrics", "series")
}

func TestAlertAndRuleCommands(t *testing.T) {
	metricsServer(t)
	wantLines(t, ok(t, "rules", "list"), `no rules`)
	wantLines(t, ok(t, "alerts"), `no active alerts`)
	out := ok(t, "rules", "add", "--name", "busy", "--metric", "port_tx_bps", "--dpid", "1", "--port", "2", "--op", "gt", "--value", "1M",
		"--clear", "500k", "--for", "200ms", "--severity", "critical", "--label", "team=net")
	wantLines(t, out, `added rule busy: port_tx_bps > 1.0M for 200ms`)
	fails(t, 1, `a rule named "busy" exists; PUT /api/v1/alerts/rules/busy replaces it (use --replace to replace it)`,
		"rules", "add", "--name", "busy", "--metric", "port_tx_bps", "--op", ">", "--value", "1")
	// local validation gives the same errors as the server
	fails(t, 1, `metric: unknown metric "port_tx_bsp"`, "rules", "add", "--name", "x", "--metric", "port_tx_bsp", "--op", ">", "--value", "1")
	fails(t, 1, `op: unknown operator "=>"`, "rules", "add", "--name", "x", "--metric", "port_tx_bps", "--op", "=>", "--value", "1")
	fails(t, 1, "for: -1s is negative", "rules", "add", "--name", "x", "--metric", "port_tx_bps", "--op", ">", "--value", "1", "--for", "-1s")
	fails(t, 1, `--value: "lots" is not a number`, "rules", "add", "--name", "x", "--metric", "port_tx_bps", "--op", ">", "--value", "lots")
	fails(t, 1, "value: 20 is above 1; probe_loss is a fraction from 0 to 1", "rules", "add", "--name", "x", "--metric", "probe_loss", "--op", ">", "--value", "20%")
	wantLines(t, ok(t, "rules", "add", "--name", "slow-path", "--metric", "probe_rtt_ms", "--dpid", "1", "--remote", "3", "--path", "1", "--op", "gt", "--value", "5", "--for", "10s"),
		`added rule slow-path: probe_rtt_ms > 5 for 10s`)
	wantLines(t, ok(t, "rules", "list"), `slow-path +probe_rtt_ms +dpid=1,remote=3,path=1 +> 5 +10s`)
	ok(t, "rules", "delete", "slow-path")

	// rules from a file, with --replace for the one that exists
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, []byte(`
rules:
  - {name: busy, metric: port_tx_bps, selector: {dpid: "1", port: 2}, op: ">", value: 1M, clear: 500k, for: 200ms, severity: critical}
  - {name: sw-down, metric: switch_down, for: 5s}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	fails(t, 1, "use --replace", "rules", "add", "-f", file)
	wantLines(t, ok(t, "rules", "add", "-f", file, "--replace"), `added rule busy`, `added rule sw-down: switch_down == 1 for 5s`)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("- {name: a, metric: port_tx_bps, op: '>', value: 1}\n- {name: b, metric: nope}\n"), 0o644)
	fails(t, 1, `rule 2 (b): metric: unknown metric "nope"`, "rules", "add", "-f", bad)
	fails(t, 1, `no rule "a"`, "rules", "show", "a") // a file with a bad rule adds none
	wantLines(t, ok(t, "rules", "list"), `busy +port_tx_bps +dpid=1,port=2 +> 1.0M +200ms +500.0k +critical +api`, `sw-down +switch_down +all +== 1 +5s`)
	wantLines(t, ok(t, "rules", "show", "busy"), `fires when:\s+port_tx_bps > 1.0M for 200ms`, `clears when:\s+no longer > 500.0k`)

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(ok(t, "alerts", "--state", "firing", "--rule", "busy"), "firing") {
		if time.Now().After(deadline) {
			t.Fatalf("no firing alert: %s", ok(t, "alerts"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantLines(t, ok(t, "alerts"), `firing +critical +busy +port/0000000000000001/2 +[0-9.]+M +> 1.0M`)
	wantLines(t, ok(t, "alerts", "history"), `firing +critical +busy +port/0000000000000001/2`)
	wantLines(t, ok(t, "rules", "delete", "busy"), `deleted rule busy`)
	wantLines(t, ok(t, "alerts", "history", "--rule", "busy", "--limit", "1"), `resolved +critical +busy .*rule deleted`)
	fails(t, 1, `no rule "busy"`, "rules", "show", "busy")
	fails(t, 1, "--limit applies to the history", "alerts", "--limit", "3")
	fails(t, 1, `unknown argument "later"`, "alerts", "later")
	fails(t, 2, "Usage: satellite rules list", "rules", "edit")
}

// TestServeStatisticsAndAlerts runs `satellite serve` with collector and
// alerts settings in its config file and checks they are wired: config
// rules are listed, ports are polled at the configured interval, and a
// switch that disconnects fires the config file's switch_down rule.
func TestServeStatisticsAndAlerts(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "satellite.yaml")
	if err := os.WriteFile(cfgFile, []byte(`
state_file: `+filepath.Join(dir, "state.db")+`
collector: {interval: 200ms, history: {raw: 10m, downsampled: 1h, step: 1m}}
alerts:
  interval: 100ms
  rules:
    - {name: switch-gone, metric: switch_down, severity: critical}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfgFile, "--http", "127.0.0.1:0", "--openflow", "tcp:127.0.0.1:0"}, &stdout, &stderr)
	}()
	httpRE := regexp.MustCompile(`msg="http listening" addr=\S+ url=(http://\S+)`)
	ofRE := regexp.MustCompile(`msg="openflow listening" target=tcp:127.0.0.1:0 addr=(\S+)`)
	var url, ofAddr string
	deadline := time.Now().Add(10 * time.Second)
	for url == "" || ofAddr == "" {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not report its addresses:\n%s", stderr.String())
		}
		if m := httpRE.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
		}
		if m := ofRE.FindStringSubmatch(stderr.String()); m != nil {
			ofAddr = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Setenv(EnvServer, url)
	useAdminToken(t)
	wantLines(t, ok(t, "rules", "list"), `switch-gone +switch_down +all +== 1 +0s +1 +critical +config`)
	swCtx, swCancel := context.WithCancel(context.Background())
	go switchemu.New(switchemu.Config{DPID: 0x42, Ports: 2}).Dial(swCtx, "tcp", ofAddr)
	for !strings.Contains(ok(t, "metrics", "ports"), "0000000000000042") {
		if time.Now().After(deadline) {
			t.Fatalf("no port statistics:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantLines(t, ok(t, "metrics", "stats"), `interval:\s+200ms`, `history:\s+10m0s raw \(3335 points\), 1h0m0s in steps of 1m0s \(61 points\)`)
	swCancel() // the switch goes away
	for !strings.Contains(ok(t, "alerts"), "firing") {
		if time.Now().After(deadline) {
			t.Fatalf("switch_down did not fire: %s", ok(t, "alerts"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantLines(t, ok(t, "alerts"), `firing +critical +switch-gone +switch/0000000000000042`)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("serve did not stop:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), `msg="alert firing" component=alerts rule=switch-gone`) {
		t.Errorf("no log line for the firing alert:\n%s", stderr.String())
	}
}
