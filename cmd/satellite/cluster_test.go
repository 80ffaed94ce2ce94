package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/cluster"
	"github.com/satellite-sdn/satellite/cluster/etcdtest"
	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/vnet"
)

func writeClusterConfig(t *testing.T, dir string, endpoints []string, stateFile string) string {
	t.Helper()
	p := filepath.Join(dir, "satellite.yaml")
	eps, _ := json.Marshal(endpoints)
	text := fmt.Sprintf("state_file: %s\ncluster: {name: lab, etcd: %s, instance: sat1}\n", stateFile, eps)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A state file moves into etcd and back out unchanged, revision
// included; an occupied destination is refused unless --replace.
func TestClusterImportExport(t *testing.T) {
	t.Setenv("SATELLITE_CONFIG", "")
	t.Setenv("SATELLITE_STATE_FILE", "")
	dir := t.TempDir()
	state := filepath.Join(dir, "state.db")
	src, err := vnet.OpenBolt(state)
	if err != nil {
		t.Fatal(err)
	}
	cfg := vnet.Config{Datapaths: []vnet.Datapath{{Name: "h1", DPID: "0000000000000001"}},
		Networks: []vnet.Network{{ID: 1, Name: "net1", Subnet: "10.1.0.0/24", DHCP: true}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for prev := uint64(0); prev < 3; prev++ { // revision 3
		if _, err := src.Save(cfg, prev); err != nil {
			t.Fatal(err)
		}
	}
	leases := []vnet.Lease{
		{Network: "net1", MAC: "02:00:00:00:00:01", IP: "10.1.0.130", Expires: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), State: vnet.LeaseBound},
		{Network: "net1", MAC: "02:00:00:00:00:02", IP: "10.1.0.131", Expires: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), State: vnet.LeaseDeclined},
	}
	if err := src.UpdateLeases(leases, nil); err != nil {
		t.Fatal(err)
	}
	fails(t, 1, "stop the satellite that uses it", "cluster", "import", "--config", writeClusterConfig(t, dir, etcdtest.Start(t), state))
	src.Close()

	fails(t, 1, "no cluster configured: give the configuration file", "cluster", "import", "--state-file", state)
	ep := etcdtest.Start(t)
	conf := writeClusterConfig(t, dir, ep, state)
	wantLines(t, ok(t, "cluster", "import", "--config", conf), `imported .*state.db -> etcd cluster lab: revision 3, 1 networks, 2 leases`)
	fails(t, 1, "already has a configuration (revision 3)", "cluster", "import", "--config", conf)
	wantLines(t, ok(t, "cluster", "import", "--config", conf, "--replace", "-o", "json"), `"revision": 3`, `"leases": 2`)

	out := filepath.Join(dir, "exported.db")
	wantLines(t, ok(t, "cluster", "export", "--config", conf, "-f", out), `exported etcd cluster lab -> .*exported.db: revision 3, 1 networks, 2 leases`)
	fails(t, 1, "already holds a configuration (revision 3)", "cluster", "export", "--config", conf, "-f", out)
	ok(t, "cluster", "export", "--config", conf, "-f", out, "--replace")
	dst, err := vnet.OpenBolt(out)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	got, rev, err := dst.Load()
	if err != nil || rev != 3 || !reflect.DeepEqual(got, cfg) {
		t.Fatalf("exported: rev %d err %v\n%+v\nwant %+v", rev, err, got, cfg)
	}
	gl, err := dst.Leases()
	if err != nil || len(gl) != 2 {
		t.Fatalf("exported leases: %+v %v", gl, err)
	}
	for _, l := range gl {
		if !(reflect.DeepEqual(l, leases[0]) || reflect.DeepEqual(l, leases[1])) {
			t.Fatalf("exported lease %+v is none of %+v", l, leases)
		}
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("cluster: {name: lab}\n"), 0o644)
	fails(t, 1, "cluster.etcd: empty", "cluster", "export", "--config", bad)
	if !strings.Contains(ok(t, "help"), "cluster import") {
		t.Error("help does not list cluster import")
	}
}

// cluster status reads the instances, switches and etcd health straight
// from etcd: one real member registered (a controller without switches).
func TestClusterStatus(t *testing.T) {
	t.Setenv("SATELLITE_CONFIG", "")
	dir := t.TempDir()
	ep := etcdtest.Start(t)
	conf := writeClusterConfig(t, dir, ep, filepath.Join(dir, "state.db"))
	out := ok(t, "cluster", "status", "--config", conf)
	wantLines(t, out, `CLUSTER +lab`, `\(no instance registered\)`, `(?m)^http://127.0.0.1:\d+ +true +true +3\.`)
	cli, err := cluster.Dial(config.Cluster{Name: "lab", Etcd: ep, DialTimeout: config.Duration(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	m := cluster.NewMember(cli, controller.New(controller.Config{Mastership: true}), cluster.MemberOptions{Cluster: "lab", Instance: "sat1", API: "127.0.0.1:8080", Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for !m.Up() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	var st struct {
		Instances []struct {
			Name string  `json:"name"`
			API  string  `json:"api"`
			TTL  float64 `json:"lease_ttl_seconds"`
		} `json:"instances"`
		Switches []struct{ DPID, Master string } `json:"switches"`
		Etcd     []struct{ Healthy bool }        `json:"etcd"`
	}
	if err := json.Unmarshal([]byte(ok(t, "cluster", "status", "--config", conf, "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Instances) != 1 || st.Instances[0].Name != "sat1" || st.Instances[0].API != "127.0.0.1:8080" || st.Instances[0].TTL <= 0 ||
		st.Switches == nil || len(st.Etcd) != 1 || !st.Etcd[0].Healthy {
		t.Fatalf("status: %+v", st)
	}
	cancel()
	<-done // leaving revokes the lease: the instance is gone at once
	wantLines(t, ok(t, "cluster", "status", "--config", conf), `\(no instance registered\)`)
	fails(t, 1, "no cluster configured", "cluster", "status")
}

// satellite serve with a cluster section keeps its virtual networks in
// etcd, registers itself, and answers GET /api/v1/cluster.
func TestServeInCluster(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.db")
	t.Setenv("SATELLITE_STATE_FILE", state)
	ep := etcdtest.Start(t)
	conf := writeClusterConfig(t, dir, ep, state)
	t.Setenv("SATELLITE_CONFIG", conf)
	var stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--http", "127.0.0.1:0", "--openflow", "tcp:127.0.0.1:0"}, io.Discard, &stderr)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d:\n%s", code, stderr.String())
		}
	}()
	httpRE := regexp.MustCompile(`msg="http listening" addr=\S+ url=(http://\S+)`)
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == ""; time.Sleep(20 * time.Millisecond) {
		if m := httpRE.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", stderr.String())
		}
	}
	useAdminToken(t)
	var st struct {
		Cluster   string `json:"cluster"`
		Instances []struct {
			Name string `json:"name"`
		} `json:"instances"`
		Etcd []struct{ Healthy bool } `json:"etcd"`
	}
	ok(t, "--server", url, "network", "create", "net1", "--subnet", "10.1.0.0/24")
	get := func() {
		req, _ := http.NewRequest("GET", url+"/api/v1/cluster", nil)
		req.Header.Set("Authorization", "Bearer "+os.Getenv("SATELLITE_TOKEN"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET /api/v1/cluster: %s", resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		get()
		if len(st.Instances) == 1 || time.Now().After(deadline) {
			break
		}
	}
	if st.Cluster != "lab" || len(st.Instances) != 1 || st.Instances[0].Name != "sat1" || len(st.Etcd) != 1 || !st.Etcd[0].Healthy {
		t.Fatalf("GET /api/v1/cluster: %+v", st)
	}
	// the network is in etcd, not in the state file
	cli, err := cluster.Dial(config.Cluster{Name: "lab", Etcd: ep, DialTimeout: config.Duration(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	s, err := cluster.OpenStore(cli, "lab", cluster.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, rev, err := s.Load()
	if err != nil || rev != 1 || len(c.Networks) != 1 || c.Networks[0].Name != "net1" {
		t.Fatalf("etcd holds %+v rev %d err %v", c, rev, err)
	}
	if !strings.Contains(stderr.String(), `msg="virtual networks" state_file="none (etcd cluster lab)"`) {
		t.Errorf("no virtual networks line naming the cluster:\n%s", stderr.String())
	}
}
