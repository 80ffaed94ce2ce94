package vnet_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/lab"
	"github.com/satellite-sdn/satellite/vnet"
)

// bigConfig is 100 networks x 20 interfaces spread over the lab's six
// endpoint ports as trunk members (one VLAN per interface on its port).
func bigConfig(hosts []lab.Host) vnet.Config {
	c := labConfig(&lab.Topology{Hosts: hosts})
	vlan := map[string]uint16{}
	for n := 0; n < 100; n++ {
		net := fmt.Sprintf("n%03d", n)
		c.Networks = append(c.Networks, vnet.Network{Name: net, Subnet: fmt.Sprintf("10.%d.%d.0/24", 100+n/200, n%200), Gateway: fmt.Sprintf("10.%d.%d.1", 100+n/200, n%200)})
		for i := 0; i < 20; i++ {
			h := &hosts[(n*20+i)%len(hosts)]
			vm := 1 + (n*20+i)/len(hosts)%2
			port := h.Endpoints[vm-1].Port
			key := h.Name + port
			vlan[key]++
			c.Interfaces = append(c.Interfaces, vnet.Interface{Name: fmt.Sprintf("%s-i%02d", net, i), Network: net, Datapath: h.Name,
				Port: port, VLAN: vlan[key], IP: fmt.Sprintf("10.%d.%d.%d", 100+n/200, n%200, 10+i)})
		}
	}
	return c
}

func benchHosts() []lab.Host {
	hosts := make([]lab.Host, 3)
	for i := range hosts {
		hosts[i] = lab.Host{Name: fmt.Sprintf("h%d", i+1), DPID: fmt.Sprintf("%016x", i+1),
			Endpoints: []lab.Endpoint{{Port: "vm1", MAC: lab.VMMAC(i+1, 1)}, {Port: "vm2", MAC: lab.VMMAC(i+1, 2)}}}
	}
	return hosts
}

// BenchmarkCompile100x20 compiles 100 networks x 20 interfaces for three
// switches (no switch needed).
func BenchmarkCompile100x20(b *testing.B) {
	c := bigConfig(benchHosts())
	if err := c.Validate(); err != nil {
		b.Fatal(err)
	}
	ports := map[string]uint32{"vm1": 1, "vm2": 2}
	for k := 1; k <= 3; k++ {
		ports[fmt.Sprintf("gre-h%d-p1", k)] = uint32(200 + k)
		ports[fmt.Sprintf("gre-h%d-p2", k)] = uint32(300 + k)
	}
	env := vnet.Env{PortNo: func(_ uint64, name string) (uint32, bool) { p, ok := ports[name]; return p, ok }}
	var flows int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		progs, _ := vnet.Compile(&c, nil, env)
		flows = len(progs[1].Flows)
	}
	b.ReportMetric(float64(flows), "flows/switch")
}

// BenchmarkPush100x20 pushes the same configuration to a real 3-host OVS
// lab: each iteration removes the virtual-network flows and reconciles
// (read flows, diff, install) every switch from scratch.
func BenchmarkPush100x20(b *testing.B) {
	dir := b.TempDir()
	sock := filepath.Join(dir, "of.sock")
	ctl, mgr, stop := startSatelliteTB(b, sock, dir)
	defer stop()
	topo := lab.Start(b, lab.Config{Hosts: 3, Controllers: []string{"unix:" + sock}})
	if _, err := mgr.Apply(bigConfig(topo.Hosts)); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for len(ctl.Switches()) < 3 {
		time.Sleep(50 * time.Millisecond)
	}
	if err := mgr.ReconcileNow(ctx); err != nil {
		b.Fatal(err)
	}
	progs, notes := mgr.Programs()
	if len(notes) > 0 {
		b.Fatalf("incomplete program: %v", notes)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for _, s := range ctl.Switches() {
			for _, k := range []controller.OwnerKind{controller.OwnerInterface, controller.OwnerNetwork, controller.OwnerTunnel, controller.OwnerRouter} {
				if err := s.DeleteFlows(ctx, controller.OwnedBy(k, 0)); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StartTimer()
		if err := mgr.ReconcileNow(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(progs[1].Flows)), "flows/switch")
	b.ReportMetric(float64(len(progs[1].Flows)*3*b.N)/b.Elapsed().Seconds(), "flows/s")
}
