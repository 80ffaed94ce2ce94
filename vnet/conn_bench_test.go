package vnet_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/satellite-sdn/satellite/lab"
	"github.com/satellite-sdn/satellite/vnet"
)

// inNetns runs fn on an OS thread that has entered the lab namespace ns
// (sockets created there stay in it); the thread is not reused afterwards.
func inNetns(topo *lab.Topology, ns string, fn func() error) error {
	full, err := topo.NetnsName(ns)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		f, err := os.Open("/run/netns/" + full)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering %s: %w", full, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// BenchmarkNewConnections measures new TCP connections per second from
// one lab endpoint to another on the same host (a connection: SYN,
// SYN-ACK, ACK, one byte each way, FIN both ways), through a stateless
// group, a stateful group (conntrack in the network's zone) and SNAT
// (through a router's gateway to the external network's port). 4
// clients in parallel; needs root (an OVS lab).
func BenchmarkNewConnections(b *testing.B) {
	dir := b.TempDir()
	sock := filepath.Join(dir, "of.sock")
	_, mgr, stop := startSatelliteTB(b, sock, dir)
	defer stop()
	topo := lab.Start(b, lab.Config{Hosts: 1, VMs: 3, Controllers: []string{"unix:" + sock}})
	ctx := context.Background()
	h1 := topo.Host(1)
	ns := func(vm int) string { return h1.Endpoints[vm-1].Namespace }
	run := func(ns string, args ...string) {
		if out, err := topo.Exec(ctx, ns, args...); err != nil {
			b.Fatalf("%s %v: %v\n%s", ns, args, err, out)
		}
	}
	run(ns(1), "sh", "-c", "ip addr flush dev eth0; ip addr add 10.1.0.11/24 dev eth0; ip route replace default via 10.1.0.1 dev eth0 onlink")
	run(ns(2), "sh", "-c", "ip addr flush dev eth0; ip addr add 10.1.0.12/24 dev eth0")
	run(ns(3), "sh", "-c", "ip addr flush dev eth0; ip addr add 10.99.0.100/24 dev eth0")

	// one server per destination, answering one byte per connection
	listen := func(ns, addr string) net.Listener {
		var ln net.Listener
		if err := inNetns(topo, ns, func() (err error) { ln, err = net.Listen("tcp4", addr); return }); err != nil {
			b.Fatal(err)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					buf := make([]byte, 1)
					if _, err := io.ReadFull(c, buf); err == nil {
						c.Write(buf)
					}
				}()
			}
		}()
		return ln
	}
	defer listen(ns(2), "10.1.0.12:7000").Close()
	defer listen(ns(3), "10.99.0.100:7000").Close()

	// the clients' dialers, created in a1's namespace
	const clients = 4
	dialers := make([]func(addr string) error, clients)
	for i := range dialers {
		ready := make(chan func(string) error)
		go inNetns(topo, ns(1), func() error {
			reqs := make(chan string)
			res := make(chan error)
			ready <- func(addr string) error { reqs <- addr; return <-res }
			for addr := range reqs {
				res <- func() error {
					c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
					if err != nil {
						return err
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(2 * time.Second))
					if _, err := c.Write([]byte{1}); err != nil {
						return err
					}
					_, err = io.ReadFull(c, make([]byte, 1))
					return err
				}()
			}
			return nil
		})
		dialers[i] = <-ready
	}

	base := func(stateful bool) vnet.Config {
		c := labConfig(topo)
		c.Networks = []vnet.Network{
			{Name: "net1", Subnet: "10.1.0.0/24", Gateway: "10.1.0.1"},
			{Name: "ext1", Subnet: "10.99.0.0/24", Kind: vnet.KindExternal, Datapath: h1.Name, Port: h1.Endpoints[2].Port},
		}
		c.Interfaces = []vnet.Interface{vif("a1", "net1", h1, 1, "10.1.0.11"), vif("b1", "net1", h1, 2, "10.1.0.12")}
		c.Interfaces[0].SecurityGroups = []string{"g"}
		c.Interfaces[1].SecurityGroups = []string{"g"}
		c.SecurityGroups = []vnet.SecurityGroup{{Name: "g", Stateful: &stateful, Rules: []vnet.Rule{{Protocol: "tcp", PortMin: 1, PortMax: 65535}}}}
		c.Routers = []vnet.Router{{Name: "r1", Interfaces: []vnet.RouterInterface{{Network: "net1"}, {Network: "ext1", IP: "10.99.0.1"}}}}
		return c
	}
	for _, mode := range []struct {
		name     string
		stateful bool
		target   string
	}{
		{"stateless", false, "10.1.0.12:7000"},
		{"stateful", true, "10.1.0.12:7000"},
		{"snat", true, "10.99.0.100:7000"},
	} {
		b.Run(mode.name, func(b *testing.B) {
			if _, err := mgr.Apply(base(mode.stateful)); err != nil {
				b.Fatal(err)
			}
			if err := mgr.ReconcileNow(ctx); err != nil {
				b.Fatal(err)
			}
			// warm up (and resolve the outside's MAC for SNAT)
			deadline := time.Now().Add(10 * time.Second)
			for dialers[0](mode.target) != nil {
				if time.Now().After(deadline) {
					b.Fatalf("%s: no connection to %s", mode.name, mode.target)
				}
				time.Sleep(200 * time.Millisecond)
			}
			var failed atomic.Int64
			var next atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for _, dial := range dialers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if dial(mode.target) != nil {
							failed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			if f := failed.Load(); f > int64(b.N)/100 {
				b.Fatalf("%s: %d of %d connections failed", mode.name, f, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conn/s")
		})
	}
}
