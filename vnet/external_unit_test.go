package vnet

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// externalConfig: net1 behind r1, whose gateway is on ext1 (port up1 of h1).
func externalConfig() Config {
	c := baseConfig()
	c.Networks = append(c.Networks, Network{Name: "ext1", Subnet: "192.0.2.0/24", Gateway: "192.0.2.254", Kind: KindExternal, Datapath: "h1", Port: "up1"})
	c.Routers[0].Interfaces = append(c.Routers[0].Interfaces, RouterInterface{Network: "ext1", IP: "192.0.2.1"})
	c.FloatingIPs = []FloatingIP{{Network: "ext1", Interface: "a1"}}
	return c
}

func compileExternal(t *testing.T, c Config, neigh map[string]string) []string {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	env := Env{PortNo: func(dpid uint64, name string) (uint32, bool) {
		p, ok := map[string]uint32{"vm1": 1, "vm2": 2, "up1": 9}[name]
		return p, ok
	}, Neighbors: func(string) map[string]string { return neigh }}
	progs, _ := Compile(&c, nil, env)
	var out []string
	for _, f := range progs[1].Flows {
		out = append(out, flowKey(f.Table, f.Priority, f.Match)+" "+controller.FormatInstructions(f.Instructions))
	}
	return out
}

// TestExternalCompile: the gateway datapath gets the SNAT, floating IP
// and outside-neighbour flows; a floating IP is chosen from the subnet.
func TestExternalCompile(t *testing.T) {
	c := externalConfig()
	flows := compileExternal(t, c, map[string]string{"192.0.2.100": "02:00:00:00:99:01"})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.FloatingIPs[0].IP != "192.0.2.2" {
		t.Fatalf("floating IP chosen %q, want the lowest free 192.0.2.2 (.1 is the router's)", c.FloatingIPs[0].IP)
	}
	zone := "zone=61441" // 0xf000 + router id 1
	for _, want := range []string{
		"nat(src=192.0.2.2)",                  // the floating IP's SNAT
		"nat(src=192.0.2.1)",                  // the router's SNAT
		"nat(dst=10.1.0.11)",                  // the floating IP's DNAT
		"ct(table=3," + zone + ",nat)",        // the lookup from the outside
		"set_field:02:00:00:00:99:01->dl_dst", // the learned neighbour
	} {
		if len(grep(flows, want)) == 0 {
			t.Errorf("no flow with %q in\n%s", want, strings.Join(flows, "\n"))
		}
	}
	// the tenant's default route leads to the gateway
	if len(grep(flows, "3/99/")) != 2 {
		t.Errorf("want a default route to the gateway from net1 and net2:\n%s", strings.Join(grep(flows, "3/"), "\n"))
	}
}

func TestExternalValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(c *Config)
		field  string
		msg    string
	}{
		"fip outside subnet": {func(c *Config) { c.FloatingIPs[0].IP = "10.9.9.9" }, "ip", "outside the subnet"},
		"fip is the gateway": {func(c *Config) { c.FloatingIPs[0].IP = "192.0.2.1" }, "ip", "already used by router"},
		"fip twice": {func(c *Config) {
			c.FloatingIPs[0].IP = "192.0.2.9"
			c.FloatingIPs = append(c.FloatingIPs, FloatingIP{Network: "ext1", IP: "192.0.2.9", Interface: "b1"})
		}, "ip", "already used by the floating IP"},
		"fip not external":   {func(c *Config) { c.FloatingIPs[0].Network = "net1" }, "network", "not an external network"},
		"fip no router":      {func(c *Config) { c.Routers[0].Interfaces = c.Routers[0].Interfaces[:2] }, "interface", "no router with a gateway"},
		"external no port":   {func(c *Config) { c.Networks[2].Port = "" }, "port", "leads outside"},
		"vif on external":    {func(c *Config) { c.Interfaces[0].Network = "ext1" }, "network", "external network"},
		"port taken":         {func(c *Config) { c.Interfaces[0].Port = "up1" }, "port", "external network"},
		"gateway without ip": {func(c *Config) { c.Routers[0].Interfaces[2].IP = "" }, "interfaces", "gateway address"},
	} {
		c := externalConfig()
		tc.change(&c)
		err := c.Validate()
		var f *FieldError
		if !errors.As(err, &f) || f.Field != tc.field || !strings.Contains(f.Msg, tc.msg) {
			t.Errorf("%s: got %v, want field %s with %q", name, err, tc.field, tc.msg)
		}
	}
}

// TestNATFlushes: moving or deleting a floating IP cuts only its
// connections (inbound to it, outbound of the interface it left); a
// gateway change, or an interface whose address is unknown, cuts the
// router's whole NAT zone; nothing else cuts anything.
func TestNATFlushes(t *testing.T) {
	cur := externalConfig()
	cur.Interfaces = append(cur.Interfaces, Interface{Name: "a2", Network: "net1", Datapath: "h1", Port: "vm2", IP: "10.1.0.12"})
	if err := cur.Validate(); err != nil {
		t.Fatal(err)
	}
	static := func(c *Config, iface string) string {
		for _, in := range c.Interfaces {
			if in.Name == iface {
				return in.IP
			}
		}
		return ""
	}
	zone := NATZone(cur.Routers[0].ID)
	fip, a1 := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("10.1.0.11")
	show := func(z []uint16, c []ofwire.CTFlush) string {
		var s []string
		for _, f := range c {
			s = append(s, f.String())
		}
		return fmt.Sprintf("zones %v conns %v", z, s)
	}
	same := cloneConfig(cur)
	if z, c := natFlushes(&cur, &same, static); len(z)+len(c) != 0 {
		t.Errorf("no change: %s", show(z, c))
	}
	want := []ofwire.CTFlush{{Zone: zone, Src: a1}, {Zone: zone, Dst: fip}}
	sort.Slice(want, func(i, j int) bool { return want[i].String() < want[j].String() })
	moved := cloneConfig(cur)
	moved.FloatingIPs[0].Interface = "a2"
	if z, c := natFlushes(&cur, &moved, static); len(z) != 0 || !reflect.DeepEqual(c, want) {
		t.Errorf("move to a2: %s, want conns %v", show(z, c), want)
	}
	deleted := cloneConfig(cur)
	deleted.FloatingIPs = nil
	if z, c := natFlushes(&cur, &deleted, static); len(z) != 0 || !reflect.DeepEqual(c, want) {
		t.Errorf("delete: %s, want conns %v", show(z, c), want)
	}
	added := cloneConfig(cur)
	added.FloatingIPs = append(added.FloatingIPs, FloatingIP{Network: "ext1", IP: "192.0.2.3", Interface: "a2"})
	if z, c := natFlushes(&cur, &added, static); len(z) != 0 || len(c) != 1 || c[0] != (ofwire.CTFlush{Zone: zone, Dst: netip.MustParseAddr("192.0.2.3")}) {
		t.Errorf("add: %s, want only inbound to 192.0.2.3", show(z, c))
	}
	if z, c := natFlushes(&cur, &moved, func(*Config, string) string { return "" }); len(c) != 0 || len(z) != 1 || z[0] != zone {
		t.Errorf("move with the fixed IP unknown: %s, want the whole zone", show(z, c))
	}
	gw := cloneConfig(moved)
	gw.Routers[0].Interfaces[2].IP = "192.0.2.9"
	if z, c := natFlushes(&cur, &gw, static); len(c) != 0 || len(z) != 1 || z[0] != zone {
		t.Errorf("gateway change: %s, want the whole zone only", show(z, c))
	}
	other := cloneConfig(cur)
	other.Interfaces[1].IP = "10.2.0.99"
	if z, c := natFlushes(&cur, &other, static); len(z)+len(c) != 0 {
		t.Errorf("an unrelated change: %s", show(z, c))
	}
}
