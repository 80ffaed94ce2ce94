package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/probes"
	"github.com/satellite-sdn/satellite/vnet"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

func TestTunnelsCommand(t *testing.T) {
	store, err := vnet.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	base := webtest.Start(t)
	vm, err := vnet.NewManager(store, base.Ctl, nil, vnet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := webtest.Start(t, web.WithProbes(probes.New(probes.Config{}, base.Ctl, vm, nil)))
	t.Setenv(EnvServer, env.URL)
	if out := ok(t, "tunnels"); !strings.Contains(out, "no tunnel paths") {
		t.Fatalf("tunnels: %q", out)
	}
	var got api.Tunnels
	if err := json.Unmarshal([]byte(ok(t, "tunnels", "-o", "json")), &got); err != nil || got.IntervalMs != 30 {
		t.Fatalf("tunnels -o json: %+v %v", got, err)
	}
	fails(t, 1, `satellite: "sideways": want up or down`, "tunnels", "--state", "sideways")
}

// A prober whose loop stalls (a starved host) says so in satellite health
// and satellite tunnels, with the measured lateness.
func TestOverloadShownInHealthAndTunnels(t *testing.T) {
	store, err := vnet.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	base := webtest.Start(t)
	vm, err := vnet.NewManager(store, base.Ctl, nil, vnet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pm := probes.New(probes.Config{}, base.Ctl, vm, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); pm.Run(ctx) }()
	defer func() { cancel(); <-done }()
	env := webtest.Start(t, web.WithProbes(pm))
	t.Setenv(EnvServer, env.URL)
	if out := ok(t, "health"); strings.Contains(out, "degraded") {
		t.Fatalf("degraded before any stall: %q", out)
	}
	time.Sleep(100 * time.Millisecond)
	pm.Stall(300 * time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := ok(t, "health")
		if strings.HasPrefix(out, "degraded: ") && strings.Contains(out, "\ndegraded: host overloaded, verdicts held: prober tick late") &&
			strings.Contains(out, "lateness (worst, last 10-20 s): prober tick ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health never degraded: %q", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out := ok(t, "tunnels"); !strings.HasPrefix(out, "degraded: host overloaded, verdicts held since ") {
		t.Fatalf("tunnels: %q", out)
	}
	var got api.Tunnels
	if err := json.Unmarshal([]byte(ok(t, "tunnels", "-o", "json")), &got); err != nil || got.Load.TickLateMs < 250 || !got.Guarded {
		t.Fatalf("tunnels -o json: %+v %v", got, err)
	}
}
