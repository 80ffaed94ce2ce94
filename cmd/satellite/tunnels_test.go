package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

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
	var got web.Tunnels
	if err := json.Unmarshal([]byte(ok(t, "tunnels", "-o", "json")), &got); err != nil || got.IntervalMs != 30 {
		t.Fatalf("tunnels -o json: %+v %v", got, err)
	}
	fails(t, 1, `satellite: "sideways": want up or down`, "tunnels", "--state", "sideways")
}
