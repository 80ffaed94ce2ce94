package vnet

import (
	"errors"

	"github.com/satellite-sdn/satellite/controller"
	"strings"
	"testing"
)

func baseConfig() Config {
	return Config{
		Datapaths: []Datapath{{Name: "h1", DPID: "1", Segment: "a"}, {Name: "h2", DPID: "0x2"}},
		Networks:  []Network{{Name: "net1", Subnet: "10.1.0.0/24", Gateway: "10.1.0.1"}, {Name: "net2", Subnet: "10.2.0.0/24", DHCP: true}},
		Interfaces: []Interface{
			{Name: "a1", Network: "net1", Datapath: "h1", Port: "vm1", IP: "10.1.0.11"},
			{Name: "b1", Network: "net2", Datapath: "h2", Port: "vm1"},
		},
		Routers:        []Router{{Name: "r1", Interfaces: []RouterInterface{{Network: "net1"}, {Network: "net2", IP: "10.2.0.1"}}}},
		SecurityGroups: []SecurityGroup{{Name: "web", Rules: []Rule{{Protocol: "tcp", PortMin: 22, RemoteCIDR: "10.2.0.0/24"}}}},
	}
}

func TestValidateFillsDefaults(t *testing.T) {
	c := baseConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Datapaths[0].DPID != "0000000000000001" || c.Datapaths[1].DPID != "0000000000000002" {
		t.Fatalf("dpids %+v", c.Datapaths)
	}
	if c.Networks[0].ID == 0 || c.Networks[0].ID == c.Networks[1].ID {
		t.Fatalf("network ids %+v", c.Networks)
	}
	if c.Networks[1].DHCPStart != "10.2.0.128" || c.Networks[1].DHCPEnd != "10.2.0.254" || c.Networks[1].LeaseSeconds != 3600 {
		t.Fatalf("dhcp defaults %+v", c.Networks[1])
	}
	if c.Interfaces[0].MAC == "" || c.Interfaces[0].Mode != ModeVIF || c.Interfaces[0].ID == 0 {
		t.Fatalf("interface defaults %+v", c.Interfaces[0])
	}
	if c.Routers[0].Interfaces[0].IP != "10.1.0.1" || c.Routers[0].Interfaces[0].MAC == "" {
		t.Fatalf("router interface defaults %+v", c.Routers[0])
	}
	r := c.SecurityGroups[0].Rules[0]
	if r.Direction != "ingress" || r.PortMax != 22 {
		t.Fatalf("rule defaults %+v", r)
	}
	// validating again keeps the ids
	before := c.Networks[0].ID
	if err := c.Validate(); err != nil || c.Networks[0].ID != before {
		t.Fatal("second validation changed ids")
	}
}

func TestValidateExplainsWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		name, field, msg string
		mutate           func(*Config)
	}{
		{"bad cidr", "subnet", "not an IPv4 CIDR", func(c *Config) { c.Networks[0].Subnet = "10.1.0.0/33" }},
		{"duplicate network", "name", "another network has this name", func(c *Config) { c.Networks = append(c.Networks, c.Networks[0]) }},
		{"duplicate router", "name", "another router has this name", func(c *Config) { c.Routers = append(c.Routers, Router{Name: "r1"}) }},
		{"bad datapath name", "name", "want 1-63 lower-case letters", func(c *Config) { c.Datapaths[0].Name = "H1" }},
		{"router between overlapping subnets", "interfaces", `networks "net1" (10.1.0.0/24) and "net3" (10.1.0.0/16) overlap`, func(c *Config) {
			c.Networks = append(c.Networks, Network{Name: "net3", Subnet: "10.1.0.0/16"})
			c.Routers[0].Interfaces = append(c.Routers[0].Interfaces, RouterInterface{Network: "net3", IP: "10.1.9.1"})
		}},
		{"host bits", "subnet", "did you mean 10.1.0.0/24", func(c *Config) { c.Networks[0].Subnet = "10.1.0.5/24" }},
		{"ip outside subnet", "ip", "outside the subnet", func(c *Config) { c.Interfaces[0].IP = "10.9.0.1" }},
		{"broadcast ip", "ip", "broadcast", func(c *Config) { c.Interfaces[0].IP = "10.1.0.255" }},
		{"gateway outside", "gateway", "outside the subnet", func(c *Config) { c.Networks[0].Gateway = "10.2.0.1" }},
		{"duplicate mac", "mac", "already used", func(c *Config) {
			c.Interfaces = append(c.Interfaces, Interface{Name: "a2", Network: "net1", Datapath: "h2", Port: "vm2", IP: "10.1.0.12", MAC: "02:00:00:00:00:01"})
			c.Interfaces[0].MAC = "02:00:00:00:00:01"
		}},
		{"duplicate ip", "ip", "already used", func(c *Config) {
			c.Interfaces = append(c.Interfaces, Interface{Name: "a2", Network: "net1", Datapath: "h2", Port: "vm2", IP: "10.1.0.11"})
		}},
		{"unknown network", "network", `unknown network "nope"`, func(c *Config) { c.Interfaces[0].Network = "nope" }},
		{"unknown datapath", "datapath", `unknown datapath "h9"`, func(c *Config) { c.Interfaces[0].Datapath = "h9" }},
		{"port bound twice", "port", "already bound", func(c *Config) {
			c.Interfaces = append(c.Interfaces, Interface{Name: "a2", Network: "net1", Datapath: "h1", Port: "vm1", IP: "10.1.0.12"})
		}},
		{"no ip without dhcp", "ip", "has no DHCP", func(c *Config) { c.Interfaces[0].IP = "" }},
		{"unknown group", "security_groups", `unknown security group "db"`, func(c *Config) { c.Interfaces[0].SecurityGroups = []string{"db"} }},
		{"bad protocol", "protocol", "want tcp, udp, icmp or any", func(c *Config) { c.SecurityGroups[0].Rules[0].Protocol = "gre" }},
		{"bad port range", "port_min", "port_min <= port_max", func(c *Config) { c.SecurityGroups[0].Rules[0].PortMax = 10 }},
		{"dup dpid", "dpid", "already used", func(c *Config) { c.Datapaths[1].DPID = "1" }},
		{"bad dpid", "dpid", "hex digits", func(c *Config) { c.Datapaths[1].DPID = "xyz" }},
		{"bad name", "name", "lower-case", func(c *Config) { c.Networks[0].Name = "Net 1" }},
		{"router route hop", "routes[0].next_hop", "not in any of the router's networks", func(c *Config) {
			c.Routers[0].Routes = []Route{{Destination: "10.9.0.0/16", NextHop: "192.168.1.1"}}
		}},
		{"router ip clash", "interfaces", "already used", func(c *Config) { c.Routers[0].Interfaces[0].IP = "10.1.0.11" }},
		{"vlan range", "vlan", "1..4094", func(c *Config) { c.Interfaces[0].VLAN = 5000 }},
		{"dhcp range", "dhcp_end", "before dhcp_start", func(c *Config) {
			c.Networks[1].DHCPStart, c.Networks[1].DHCPEnd = "10.2.0.200", "10.2.0.100"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := baseConfig()
			tc.mutate(&c)
			err := c.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("want a FieldError, got %v", err)
			}
			if fe.Field != tc.field || !strings.Contains(fe.Msg, tc.msg) {
				t.Fatalf("got field %q msg %q, want field %q containing %q", fe.Field, fe.Msg, tc.field, tc.msg)
			}
		})
	}
}

func TestOverlappingSubnetsAreAllowed(t *testing.T) {
	c := baseConfig()
	c.Networks = append(c.Networks, Network{Name: "net3", Subnet: "10.1.0.0/24"})
	c.Interfaces = append(c.Interfaces, Interface{Name: "c1", Network: "net3", Datapath: "h2", Port: "vm2", IP: "10.1.0.11"})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestPortMasksCoverExactlyTheRange(t *testing.T) {
	for _, r := range [][2]uint16{{22, 22}, {1, 65535}, {1000, 1999}, {8080, 8090}, {0x8000, 0xffff}} {
		covered := map[int]bool{}
		for _, pm := range portMasks(r[0], r[1]) {
			var v, mask int
			if strings.Contains(pm, "/") {
				parts := strings.Split(pm, "/")
				v = atoi(parts[0])
				mask = int(parseHex(parts[1]))
			} else {
				v, mask = atoi(pm), 0xffff
			}
			for p := 0; p <= 0xffff; p++ {
				if p&mask == v&mask {
					covered[p] = true
				}
			}
		}
		for p := 0; p <= 0xffff; p++ {
			in := p >= int(r[0]) && p <= int(r[1])
			if covered[p] != in {
				t.Fatalf("range %v: port %d covered=%v", r, p, covered[p])
			}
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, ch := range s {
		n = n*10 + int(ch-'0')
	}
	return n
}

func parseHex(s string) uint64 {
	s = strings.TrimPrefix(s, "0x")
	var v uint64
	for _, ch := range s {
		v <<= 4
		switch {
		case ch >= '0' && ch <= '9':
			v |= uint64(ch - '0')
		default:
			v |= uint64(ch-'a') + 10
		}
	}
	return v
}

func TestCompileIsDeterministicAndIsolatesNetworks(t *testing.T) {
	c := baseConfig()
	c.Networks = append(c.Networks, Network{Name: "net3", Subnet: "10.1.0.0/24"})
	c.Interfaces = append(c.Interfaces, Interface{Name: "c1", Network: "net3", Datapath: "h1", Port: "vm2", IP: "10.1.0.11"})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	env := Env{PortNo: func(dpid uint64, name string) (uint32, bool) {
		ports := map[string]uint32{"vm1": 1, "vm2": 2, "gre-h1-p1": 201, "gre-h1-p2": 301, "gre-h2-p1": 202, "gre-h2-p2": 302}
		p, ok := ports[name]
		return p, ok
	}}
	a, notes := Compile(&c, nil, env)
	b, _ := Compile(&c, nil, env)
	if len(notes) != 0 {
		t.Fatalf("notes %v", notes)
	}
	for id, p := range a {
		if len(p.Flows) != len(b[id].Flows) {
			t.Fatal("two compilations differ")
		}
		seen := map[string]bool{}
		for i, f := range p.Flows {
			k := flowKey(f.Table, f.Priority, f.Match)
			if seen[k] {
				t.Fatalf("dpid %d: two flows with the same table, priority and match: %s", id, k)
			}
			seen[k] = true
			if instrKey(f.Instructions) != instrKey(b[id].Flows[i].Instructions) || !owned(f.Cookie) {
				t.Fatalf("flow %d differs or is not owned: %s", i, k)
			}
		}
	}
	// h1 carries net1 (a1) and net3 (c1) with the same IP: their classifier
	// flows write different network ids
	var net1, net3 uint32
	for _, n := range c.Networks {
		switch n.Name {
		case "net1":
			net1 = n.ID
		case "net3":
			net3 = n.ID
		}
	}
	found := map[uint32]bool{}
	for _, f := range a[1].Flows {
		if f.Table == TableClassify && f.Priority == 200 && f.Cookie.Kind().String() == "interface" {
			found[f.Cookie.Scope()] = true
		}
	}
	if !found[net1] || !found[net3] {
		t.Fatalf("classifier flows per network: %v", found)
	}
	if len(a[1].Groups) != 1 || a[1].Groups[0].ID != GroupID(2) || len(a[1].Groups[0].Buckets) != 2 {
		t.Fatalf("tunnel group of h1: %+v", a[1].Groups)
	}
}

func TestPortByNumber(t *testing.T) {
	c := baseConfig()
	c.Interfaces[0].Port, c.Interfaces[0].PortNo = "", 7
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	env := Env{PortNo: func(uint64, string) (uint32, bool) { return 0, false },
		HasPort: func(dpid uint64, no uint32) bool { return dpid == 1 && no == 7 }}
	progs, _ := Compile(&c, nil, env)
	found := false
	for _, f := range progs[1].Flows {
		if f.Table == TableOutput && strings.Contains(controller.FormatInstructions(f.Instructions), "output:7") {
			found = true
		}
	}
	if !found {
		t.Fatal("no output flow to port 7")
	}
	c.Interfaces[0].Port = "vm1"
	var fe *FieldError
	if err := c.Validate(); !errors.As(err, &fe) || fe.Field != "port_no" {
		t.Fatalf("port and port_no together: %v", err)
	}
	c.Interfaces[0].Port, c.Interfaces[0].PortNo = "", 0
	if err := c.Validate(); !errors.As(err, &fe) || fe.Field != "port" {
		t.Fatalf("no port at all: %v", err)
	}
}
