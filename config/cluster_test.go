package config

import (
	"strings"
	"testing"
	"time"
)

func TestCluster(t *testing.T) {
	clearEnv(t)
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.Enabled() || time.Duration(c.Cluster.Lease) != 3*time.Second || c.Cluster.InstanceName() == "" {
		t.Fatalf("defaults: %+v", c.Cluster)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	p := writeFile(t, "cluster: {name: fabric1, etcd: [\"http://127.0.0.1:2379\", \"https://[::1]:2379\"], instance: sat2, lease: 5s}\n")
	if c, err = Load(p); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !c.Cluster.Enabled() || c.Cluster.Name != "fabric1" || len(c.Cluster.Etcd) != 2 || c.Cluster.InstanceName() != "sat2" ||
		time.Duration(c.Cluster.Lease) != 5*time.Second || c.Source("cluster.lease") != p {
		t.Fatalf("from file: %+v", c.Cluster)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"cluster: {etcd: [\"http://127.0.0.1:2379\"]}", "cluster.name: empty while cluster.etcd is set"},
		{"cluster: {name: \"a b\", etcd: [\"http://127.0.0.1:2379\"]}", "cluster.name: \"a b\""},
		{"cluster: {name: f}", "cluster.etcd: empty"},
		{"cluster: {name: f, etcd: [\"127.0.0.1:2379\"]}", "cluster.etcd[0]"},
		{"cluster: {name: f, etcd: [\"http://127.0.0.1\"]}", "cluster.etcd[0]"},
		{"cluster: {name: f, etcd: [\"http://127.0.0.1:2379\"], lease: 1500ms}", "cluster.lease: 1.5s; want whole seconds"},
		{"cluster: {name: f, etcd: [\"http://127.0.0.1:2379\"], lease: 1s}", "cluster.lease"},
		{"cluster: {name: f, etcd: [\"http://127.0.0.1:2379\"], instance: \"x/y\"}", "cluster.instance"},
	} {
		c, err := Load(writeFile(t, tc.yaml+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want an error with %q, got %v", tc.yaml, tc.want, err)
		}
	}
	if _, err := Load(writeFile(t, "cluster: {name: f, members: [x]}\n")); err == nil || !strings.Contains(err.Error(), `unknown setting "cluster.members"`) {
		t.Fatalf("unknown key: %v", err)
	}
}
