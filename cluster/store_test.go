package cluster

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/satellite-sdn/satellite/cluster/etcdtest"
	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/vnet"
)

func dial(t *testing.T, endpoints []string) *clientv3.Client {
	t.Helper()
	cli, err := Dial(config.Cluster{Name: "t", Etcd: endpoints, DialTimeout: config.Duration(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func openStore(t *testing.T, cli *clientv3.Client, name string, opt StoreOptions) *Store {
	t.Helper()
	s, err := OpenStore(cli, name, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sampleConfig(n int) vnet.Config {
	return vnet.Config{
		Datapaths: []vnet.Datapath{{Name: "h1", DPID: "0000000000000001"}},
		Networks:  []vnet.Network{{ID: uint32(n), Name: fmt.Sprintf("net%d", n), Subnet: "10.0.0.0/24", DHCP: true}},
	}
}

// storeContract checks what vnet.Store promises, on any implementation.
func storeContract(t *testing.T, s vnet.Store) {
	c, rev, err := s.Load()
	if err != nil || rev != 0 || len(c.Networks) != 0 {
		t.Fatalf("empty store: %+v rev %d err %v", c, rev, err)
	}
	if _, err := s.Save(sampleConfig(1), 1); !errors.Is(err, vnet.ErrConflict) {
		t.Fatalf("save against revision 1 of an empty store: want a conflict, got %v", err)
	}
	rev, err = s.Save(sampleConfig(1), 0)
	if err != nil || rev != 1 {
		t.Fatalf("first save: rev %d err %v", rev, err)
	}
	if rev, err = s.Save(sampleConfig(2), 1); err != nil || rev != 2 {
		t.Fatalf("second save: rev %d err %v", rev, err)
	}
	if _, err := s.Save(sampleConfig(3), 1); !errors.Is(err, vnet.ErrConflict) {
		t.Fatalf("stale save: want a conflict, got %v", err)
	}
	c, rev, err = s.Load()
	if err != nil || rev != 2 || !reflect.DeepEqual(c, sampleConfig(2)) {
		t.Fatalf("load: %+v rev %d err %v", c, rev, err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := vnet.Lease{Network: "net1", MAC: "02:00:00:00:00:01", IP: "10.0.0.10", Expires: t0, State: vnet.LeaseBound}
	b := vnet.Lease{Network: "net1", MAC: "02:00:00:00:00:02", IP: "10.0.0.11", Expires: t0, State: vnet.LeaseOffered}
	if err := s.UpdateLeases([]vnet.Lease{a, b}, nil); err != nil {
		t.Fatal(err)
	}
	a2 := a
	a2.State, a2.MAC = vnet.LeaseReleased, "02:00:00:00:00:03"
	// b removed, a replaced, and an address both removed and saved: saved
	if err := s.UpdateLeases([]vnet.Lease{a2}, []vnet.Lease{{Network: "net1", IP: b.IP}, {Network: "net1", IP: a.IP}}); err != nil {
		t.Fatal(err)
	}
	ls, err := s.Leases()
	if err != nil || len(ls) != 1 || !reflect.DeepEqual(ls[0], a2) {
		t.Fatalf("leases: %+v err %v", ls, err)
	}
}

func TestStoreContract(t *testing.T) {
	ep := etcdtest.Start(t)
	t.Run("etcd", func(t *testing.T) { storeContract(t, openStore(t, dial(t, ep), "c1", StoreOptions{})) })
	t.Run("bolt", func(t *testing.T) {
		s, err := vnet.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		storeContract(t, s)
	})
}

func waitChanged(t *testing.T, s *Store, want bool) {
	t.Helper()
	select {
	case <-s.Changed():
		if !want {
			t.Fatal("a change was signalled that is the store's own")
		}
	case <-time.After(time.Second):
		if want {
			t.Fatal("no change signalled within 1s")
		}
	}
}

// Two instances on one etcd: a write by one is signalled to the other
// (not to itself), conflicting saves are refused, clusters are apart.
func TestStoreShared(t *testing.T) {
	ep := etcdtest.Start(t)
	a := openStore(t, dial(t, ep), "c1", StoreOptions{})
	b := openStore(t, dial(t, ep), "c1", StoreOptions{})
	other := openStore(t, dial(t, ep), "c2", StoreOptions{})
	if _, err := a.Save(sampleConfig(1), 0); err != nil {
		t.Fatal(err)
	}
	waitChanged(t, b, true)
	if _, rev, _ := b.Load(); rev != 1 {
		t.Fatalf("b sees revision %d, want 1", rev)
	}
	waitChanged(t, a, false)
	if _, err := b.Save(sampleConfig(2), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Save(sampleConfig(3), 1); !errors.Is(err, vnet.ErrConflict) {
		t.Fatalf("a saves over b's change: want a conflict, got %v", err)
	}
	waitChanged(t, a, true)
	if err := b.UpdateLeases([]vnet.Lease{{Network: "net2", IP: "10.0.0.5", MAC: "02:00:00:00:00:05", State: vnet.LeaseBound}}, nil); err != nil {
		t.Fatal(err)
	}
	waitChanged(t, a, true)
	waitChanged(t, b, false)
	if c, rev, err := other.Load(); err != nil || rev != 0 || len(c.Networks) != 0 {
		t.Fatalf("another cluster sees %+v rev %d err %v", c, rev, err)
	}
	waitChanged(t, other, false)
}

// More records than one transaction may hold are written in several.
func TestStoreManyLeases(t *testing.T) {
	ep := etcdtest.Start(t)
	s := openStore(t, dial(t, ep), "c1", StoreOptions{MaxTxnOps: 16})
	var save []vnet.Lease
	for i := 0; i < 100; i++ {
		save = append(save, vnet.Lease{Network: "net1", IP: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), MAC: fmt.Sprintf("02:00:00:00:00:%02x", i), State: vnet.LeaseBound})
	}
	if err := s.UpdateLeases(save, nil); err != nil {
		t.Fatal(err)
	}
	ls, err := s.Leases()
	if err != nil || len(ls) != 100 {
		t.Fatalf("%d leases, err %v", len(ls), err)
	}
	if err := s.UpdateLeases(nil, save[:60]); err != nil {
		t.Fatal(err)
	}
	ls, _ = s.Leases()
	var ips []string
	for _, l := range ls {
		ips = append(ips, l.IP)
	}
	sort.Strings(ips)
	if len(ips) != 40 || !strings.HasPrefix(ips[0], "10.0.0.") {
		t.Fatalf("after removing 60: %v", ips)
	}
}

func TestStoreSchema(t *testing.T) {
	ep := etcdtest.Start(t)
	cli := dial(t, ep)
	if _, err := cli.Put(t.Context(), Prefix("c9")+"vnet/schema", "99"); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(cli, "c9", StoreOptions{}); err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Fatalf("want a schema error, got %v", err)
	}
}

func TestDialUnreachable(t *testing.T) {
	_, err := Dial(config.Cluster{Name: "t", Etcd: []string{"http://127.0.0.1:1"}, DialTimeout: config.Duration(300 * time.Millisecond)})
	if err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Fatalf("want an error saying etcd does not answer, got %v", err)
	}
}
