package config

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"time"
)

// Cluster makes this instance one of several that share their state
// through etcd (docs/cluster.md). Unset (no name): one instance with the
// state file, no etcd.
//
//	cluster: {name: fabric1, etcd: ["http://10.0.0.1:2379", "http://10.0.0.2:2379"], lease: 3s}
type Cluster struct {
	// Name of the cluster: the instances of one cluster share one etcd
	// key prefix (/satellite/NAME/). Empty: no cluster.
	Name string `yaml:"name"`
	// Etcd lists the client URLs of the etcd members (http:// or https://).
	Etcd []string `yaml:"etcd"`
	// Instance is this instance's name in the cluster (default: the host
	// name); unique among the instances of a cluster.
	Instance string `yaml:"instance"`
	// Lease is the time an instance that stops answering keeps its
	// switches before the others take them over (whole seconds, etcd
	// lease TTLs are in seconds).
	Lease Duration `yaml:"lease"`
	// DialTimeout bounds connecting to etcd at start-up.
	DialTimeout Duration `yaml:"dial_timeout"`
}

// DefaultClusterLease is the default mastership lease.
const DefaultClusterLease = 3 * time.Second

func defaultCluster() Cluster {
	return Cluster{Lease: Duration(DefaultClusterLease), DialTimeout: Duration(5 * time.Second)}
}

// Enabled reports whether the configuration names a cluster.
func (c Cluster) Enabled() bool { return c.Name != "" }

// InstanceName returns the instance's name: the one set, else the host
// name.
func (c Cluster) InstanceName() string {
	if c.Instance != "" {
		return c.Instance
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "satellite"
	}
	return h
}

var clusterNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func (c Config) validateCluster(bad func(setting, format string, args ...any)) {
	cl := c.Cluster
	if cl.Name == "" {
		if len(cl.Etcd) > 0 {
			bad("cluster.name", "empty while cluster.etcd is set; name the cluster (such as fabric1), or drop cluster.etcd to run alone on the state file")
		}
		return
	}
	if !clusterNameRE.MatchString(cl.Name) {
		bad("cluster.name", "%q; want letters, digits, '.', '_' or '-' (at most 63, such as fabric1)", cl.Name)
	}
	if cl.Instance != "" && !clusterNameRE.MatchString(cl.Instance) {
		bad("cluster.instance", "%q; want letters, digits, '.', '_' or '-' (at most 63, such as sat1)", cl.Instance)
	}
	if len(cl.Etcd) == 0 {
		bad("cluster.etcd", "empty; want the client URLs of the etcd members, such as [\"http://10.0.0.1:2379\"]")
	}
	for i, u := range cl.Etcd {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.Port() == "" {
			bad(fmt.Sprintf("cluster.etcd[%d]", i), "%q; want http://HOST:PORT or https://HOST:PORT (such as http://10.0.0.1:2379)", u)
		}
	}
	if d := time.Duration(cl.Lease); d < 2*time.Second || d > 5*time.Minute || d%time.Second != 0 {
		bad("cluster.lease", "%s; want whole seconds from 2s to 5m (such as 3s)", d)
	}
	if d := time.Duration(cl.DialTimeout); d < 100*time.Millisecond {
		bad("cluster.dial_timeout", "%s is too short; want at least 100ms (such as 5s)", d)
	}
}
