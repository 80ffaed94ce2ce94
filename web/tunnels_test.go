package web_test

import (
	"path/filepath"
	"testing"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/probes"
	"github.com/satellite-sdn/satellite/vnet"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

func TestTunnelsRoute(t *testing.T) {
	env := webtest.Start(t)
	do(t, env, "GET", "/api/v1/tunnels", "").wantError(t, 503, "", "tunnel probes are not enabled")

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
	env = webtest.Start(t, web.WithProbes(pm))
	var got api.Tunnels
	do(t, env, "GET", "/api/v1/tunnels", "").decode(t, 200, &got)
	if got.IntervalMs != 30 || got.DownAfter != 3 || got.HoldDownS != 2 || got.Paths == nil {
		t.Fatalf("tunnels %+v", got)
	}
	do(t, env, "GET", "/api/v1/tunnels?state=sideways", "").wantError(t, 400, "state", "want up or down")
	do(t, env, "GET", "/api/v1/tunnels?local=zz", "").wantError(t, 400, "local", "")
	do(t, env, "GET", "/api/v1/tunnels?color=red", "").wantError(t, 400, "color", "unknown query parameter")
}
