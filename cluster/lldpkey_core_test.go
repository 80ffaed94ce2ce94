package cluster_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/cluster/etcdtest"
	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/internal/core"
	"github.com/satellite-sdn/satellite/internal/testenv"
	"github.com/satellite-sdn/satellite/lldp"
)

// The instances of a cluster, as serve assembles them, sign their LLDP
// probes with the key in etcd: a probe one signs, the other believes. An
// instance with discovery.secret_file uses that file instead.
func TestInstancesShareLLDPKey(t *testing.T) {
	etcd := etcdtest.Start(t)
	start := func(name string, configure func(*config.Config)) *testenv.Core {
		return testenv.StartCore(t, testenv.CoreOptions{Configure: func(c *config.Config) {
			c.Cluster = config.Cluster{Name: "k", Etcd: etcd, Instance: name, Lease: config.Duration(2 * time.Second), DialTimeout: config.Duration(5 * time.Second)}
			if configure != nil {
				configure(c)
			}
		}, Options: core.Options{Without: []string{"probes", "collector", "alerts", "journal", "exporters", "discovery"}}})
	}
	a, b := start("sat-a", nil), start("sat-b", nil)
	file := filepath.Join(t.TempDir(), "lldp.key")
	if err := os.WriteFile(file, []byte("a key of the operator's own, 32b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := start("sat-c", func(c *config.Config) { c.Discovery.SecretFile = file })

	frame, err := a.Signer.Encode(lldp.Probe{DPID: 7, Port: 3}, []byte{2, 0, 0, 0, 0, 7}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := b.Signer.Verify(frame, time.Now(), time.Minute); err != nil || p.DPID != 7 || p.Port != 3 {
		t.Fatalf("sat-b verifying sat-a's probe: %+v, %v", p, err)
	}
	if _, err := c.Signer.Verify(frame, time.Now(), time.Minute); err == nil {
		t.Fatal("sat-c, with a secret_file of its own, believed a probe signed with the cluster's key")
	}
}
