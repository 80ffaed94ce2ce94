package cluster

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"reflect"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/satellite-sdn/satellite/cluster/etcdtest"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/vnet"
)

func newVNet(t *testing.T, cli *clientv3.Client, run bool) (*vnet.Manager, *Store) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	s := openStore(t, cli, "c1", StoreOptions{Logger: log})
	m, err := vnet.NewManager(s, controller.New(controller.Config{Logger: log}), nil, vnet.Options{Logger: log, Settle: -1})
	if err != nil {
		t.Fatal(err)
	}
	if run {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); m.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return m, s
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A change applied through one instance takes effect in the others; a
// change made against a stale revision is refused, and the retry starts
// from the stored configuration.
func TestManagersConverge(t *testing.T) {
	ep := etcdtest.Start(t)
	a, _ := newVNet(t, dial(t, ep), true)
	b, _ := newVNet(t, dial(t, ep), true)
	stale, _ := newVNet(t, dial(t, ep), false) // does not watch: stays at what it loaded
	want, err := a.Apply(sampleConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "b takes revision 1", func() bool {
		c, rev := b.Config()
		return rev == 1 && reflect.DeepEqual(c, want)
	})
	_, err = stale.Apply(sampleConfig(2))
	if !errors.Is(err, vnet.ErrConflict) {
		t.Fatalf("a change against revision 0: want a conflict, got %v", err)
	}
	if _, rev := stale.Config(); rev != 1 {
		t.Fatalf("after the conflict the instance has revision %d, want the stored 1", rev)
	}
	if _, err := stale.Apply(sampleConfig(2)); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	two, _ := stale.Config() // as stored: validation fills in the defaults
	if two.Networks[0].Name != "net2" {
		t.Fatalf("stale instance has %+v", two)
	}
	for name, m := range map[string]*vnet.Manager{"a": a, "b": b} {
		eventually(t, name+" takes revision 2", func() bool {
			c, rev := m.Config()
			return rev == 2 && reflect.DeepEqual(c, two)
		})
	}
}

// A lease written by one instance is in the others' leases.
func TestLeasesConverge(t *testing.T) {
	ep := etcdtest.Start(t)
	a, sa := newVNet(t, dial(t, ep), true)
	b, _ := newVNet(t, dial(t, ep), true)
	if _, err := a.Apply(sampleConfig(1)); err != nil {
		t.Fatal(err)
	}
	l := vnet.Lease{Network: "net1", MAC: "02:00:00:00:00:01", IP: "10.0.0.10", Expires: time.Now().Add(time.Hour).UTC().Truncate(time.Second), State: vnet.LeaseBound}
	if err := sa.UpdateLeases([]vnet.Lease{l}, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b has the lease", func() bool {
		ls := b.Leases()
		return len(ls) == 1 && ls[0].IP == l.IP && ls[0].MAC == l.MAC && ls[0].State == vnet.LeaseBound
	})
	if err := sa.UpdateLeases(nil, []vnet.Lease{l}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b forgets the lease", func() bool { return len(b.Leases()) == 0 })
}
