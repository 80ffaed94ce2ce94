package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/insights"
	"github.com/satellite-sdn/satellite/vnet"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

// TestInsightsCommand: an emulated switch sends 8 Mbit/s out of port 2,
// polled every 100 ms; when the traffic stops, `satellite insights` lists
// the port with the drop, and -o json gives the same item.
func TestInsightsCommand(t *testing.T) {
	base := webtest.Start(t)
	sw := base.Connect(switchemu.Config{DPID: 1, Ports: 2})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	coll := collector.New(collector.Config{Interval: 100 * time.Millisecond, Logger: log}, base.Ctl)
	eng := insights.New(insights.Config{Interval: 100 * time.Millisecond, Logger: log}, coll, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var sending atomic.Bool
	sending.Store(true)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); coll.Run(ctx) }()
	go func() { defer wg.Done(); eng.Run(ctx) }()
	go func() {
		defer wg.Done()
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		start, counted := time.Now(), uint64(0)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				due := uint64(time.Since(start).Seconds() * 2000)
				if sending.Load() {
					sw.Count(2, 0, 0, due-counted, 500*(due-counted))
				}
				counted = due
			}
		}
	}()
	srv := httptest.NewServer(web.New(base.Ctl, web.WithLogger(log), web.WithoutAuth(), web.WithCollector(coll), web.WithInsights(eng)))
	t.Cleanup(func() { srv.Close(); cancel(); wg.Wait() })
	t.Setenv(EnvServer, srv.URL)

	// a second of steady traffic: nothing wrong
	time.Sleep(1500 * time.Millisecond)
	wantLines(t, ok(t, "insights"), `nothing wrong now`)
	// the top talker of the last second is port 2, about 8 Mbit/s (its
	// rx and tx added up)
	out := ok(t, "top", "--from", "-1s")
	wantLines(t, out, `top interfaces by bytes from`, `BYTES +PACKETS +MEAN BPS +OBJECT`, `[0-9.]+[kMG]?B +[0-9.]+[kMG]? +[0-9.]+ Mbit/s +0000000000000001 port p2`)
	var top api.TopTalkers
	if err := json.Unmarshal([]byte(ok(t, "top", "--from", "-1s", "-o", "json", "--by", "packets")), &top); err != nil || len(top.Talkers) == 0 {
		t.Fatalf("top json: %v %+v", err, top)
	}
	if tk := top.Talkers[0]; tk.Series != "port/0000000000000001/2" || tk.Bps < 6e6 || tk.Bps > 10e6 {
		t.Errorf("top talker %+v, want port 2 at about 8 Mbit/s", tk)
	}
	fails(t, 1, `what "everything": want one of flows, interfaces, hosts, networks`, "top", "--what", "everything")
	sending.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		out = ok(t, "insights")
		// (the first sample after the stop may be a partial interval)
		if strings.Contains(out, "p2  tx traffic down 100 %") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantLines(t, out, `SCORE +OBJECT +REASON +SINCE`, `[0-9.]+ +0000000000000001 port p2 +tx traffic down 100 % in [0-9.]+m?s: 0 bit/s, baseline [78](\.[0-9]+)? Mbit/s`)
	var res api.Insights
	if err := json.Unmarshal([]byte(ok(t, "insights", "-o", "json", "--kind", "traffic-down")), &res); err != nil || len(res.Items) != 1 {
		t.Fatalf("json: %v %+v", err, res)
	}
	if it := res.Items[0]; it.Series != "port/0000000000000001/2" || it.Labels["dpid"] != "0000000000000001" {
		t.Errorf("item %+v", it)
	}
	wantLines(t, ok(t, "insights", "--history"), `TIME +EVENT +SCORE +OBJECT +REASON`, `raised .*0000000000000001 port p2 +tx traffic down`)
	fails(t, 1, `kind "bogus": want one of errors`, "insights", "--kind", "bogus")
}

// TestNetworkShowTraffic: `satellite network show net1 --traffic` shows
// the network's interface with its port's rates (an emulated switch
// sending 8 Mbit/s out of the interface's port) and the switch serving it.
func TestNetworkShowTraffic(t *testing.T) {
	base := webtest.Start(t)
	sw := base.Connect(switchemu.Config{DPID: 1, Ports: 2})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := vnet.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	mgr, err := vnet.NewManager(store, base.Ctl, nil, vnet.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	coll := collector.New(collector.Config{Interval: 100 * time.Millisecond, Logger: log}, base.Ctl)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); coll.Run(ctx) }()
	go func() {
		defer wg.Done()
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
	srv := httptest.NewServer(web.New(base.Ctl, web.WithLogger(log), web.WithoutAuth(), web.WithCollector(coll), web.WithVirtualNetworks(mgr)))
	t.Cleanup(func() { srv.Close(); cancel(); wg.Wait() })
	t.Setenv(EnvServer, srv.URL)
	ok(t, "datapath", "create", "h1", "--dpid", "1")
	ok(t, "network", "create", "net1", "--subnet", "10.1.0.0/24")
	ok(t, "network", "create", "net2", "--subnet", "10.2.0.0/24")
	ok(t, "interface", "create", "web1", "--network", "net1", "--datapath", "h1", "--port", "p2", "--mac", "02:00:00:00:01:02", "--ip", "10.1.0.12")
	ok(t, "interface", "create", "db1", "--network", "net2", "--datapath", "h1", "--port", "p1", "--mac", "02:00:00:00:01:01", "--ip", "10.2.0.11")
	var out string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if out = ok(t, "network", "show", "net1", "--traffic"); strings.Contains(out, "Mbit/s") {
			break
		}
	}
	wantLines(t, out, `network net1 \(id [0-9]+\)`, `INTERFACE +SWITCH +PORT +RX +TX`, `web1 +h1 +p2 +0 bit/s +[0-9.]+ Mbit/s`, `SWITCH +FLOWS +FLOW TRAFFIC`, `h1 +[0-9]+ `)
	if strings.Contains(out, "db1") {
		t.Errorf("net2's interface in net1's view:\n%s", out)
	}
	var nt api.NetworkTraffic
	if err := json.Unmarshal([]byte(ok(t, "network", "show", "net2", "--traffic", "-o", "json")), &nt); err != nil || len(nt.Interfaces) != 1 || nt.Interfaces[0].Name != "db1" || nt.Interfaces[0].Series != "port/0000000000000001/1" {
		t.Fatalf("net2: %v %+v", err, nt)
	}
	fails(t, 1, `no network "net9"`, "network", "show", "net9", "--traffic")
}
