// Package etcdtest starts real etcd servers (the embeddable server of
// go.etcd.io/etcd/server/v3) on 127.0.0.1 for tests: one member or a
// cluster of several, their data in the test's temporary directory,
// stopped when the test ends.
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Member is one etcd server.
type Member struct {
	Name string
	// Client is the member's client URL (http://127.0.0.1:PORT).
	Client string
	cfg    *embed.Config
	mu     sync.Mutex
	e      *embed.Etcd
}

// Cluster is a set of members started together.
type Cluster struct {
	Members []*Member
}

// Endpoints returns every member's client URL.
func (c *Cluster) Endpoints() []string {
	var out []string
	for _, m := range c.Members {
		out = append(out, m.Client)
	}
	return out
}

// Start starts a one-member etcd and returns its client URLs.
func Start(t testing.TB) []string { return StartCluster(t, 1).Endpoints() }

// StartCluster starts an etcd cluster of n members on 127.0.0.1 and waits
// until it has a leader.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	ports := freePorts(t, 2*n)
	c := &Cluster{}
	var initial []string
	for i := 0; i < n; i++ {
		m := &Member{Name: fmt.Sprintf("etcd%d", i+1), Client: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i])}
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1])
		initial = append(initial, m.Name+"="+peer)
		cfg := embed.NewConfig()
		cfg.Name = m.Name
		cfg.Dir = t.TempDir()
		cu, pu := mustURL(t, m.Client), mustURL(t, peer)
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		cfg.TickMs, cfg.ElectionMs = 50, 500 // quick elections: tests of failover stay short
		m.cfg = cfg
		c.Members = append(c.Members, m)
	}
	for _, m := range c.Members {
		m.cfg.InitialCluster = strings.Join(initial, ",")
		m.cfg.InitialClusterToken = "satellite-test"
	}
	errs := make(chan error, n)
	for _, m := range c.Members {
		go func() { errs <- m.start() }()
	}
	for range c.Members {
		if err := <-errs; err != nil {
			c.stop()
			t.Fatalf("etcd: %v", err)
		}
	}
	t.Cleanup(c.stop)
	return c
}

func (m *Member) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, err := embed.StartEtcd(m.cfg)
	if err != nil {
		return fmt.Errorf("member %s: %w", m.Name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		e.Close()
		return fmt.Errorf("member %s did not become ready within 30s", m.Name)
	}
	m.e = e
	return nil
}

// Stop stops the member (its data stays: Restart starts it again).
func (m *Member) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.e != nil {
		m.e.Close()
		m.e = nil
	}
}

// Restart starts a stopped member again, as an existing member of its
// cluster.
func (m *Member) Restart() error {
	m.cfg.ClusterState = embed.ClusterStateFlagExisting
	return m.start()
}

func (c *Cluster) stop() {
	for _, m := range c.Members {
		m.Stop()
	}
}

func mustURL(t testing.TB, s string) url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return *u
}

// freePorts returns n distinct ports free on 127.0.0.1 now.
func freePorts(t testing.TB, n int) []int {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out
}
