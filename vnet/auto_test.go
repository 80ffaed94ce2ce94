package vnet_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/satellite-sdn/satellite/vnet"
)

func TestAutoNetwork(t *testing.T) {
	m := newManager(t)
	// 10.0.0.0/16 is taken: the first free /24 is 10.1.0.0/24
	if _, err := m.Apply(vnet.Config{Networks: []vnet.Network{{Name: "lab", Subnet: "10.0.0.0/16"}}}); err != nil {
		t.Fatal(err)
	}
	res, err := m.AutoNetwork(vnet.AutoOptions{DNS: []string{"192.0.2.53"}})
	if err != nil {
		t.Fatal(err)
	}
	n, r := res.Network, res.Router
	if !res.Created || res.Revision != 2 || n.Name != "default" || n.Subnet != "10.1.0.0/24" || n.Gateway != "10.1.0.1" || !n.DHCP ||
		n.DHCPStart != "10.1.0.128" || n.DHCPEnd != "10.1.0.254" || !reflect.DeepEqual(n.DNS, []string{"192.0.2.53"}) {
		t.Fatalf("created %+v", res)
	}
	if r.Name != "default-router" || len(r.Interfaces) != 1 || r.Interfaces[0].Network != "default" || r.Interfaces[0].IP != "10.1.0.1" || r.Interfaces[0].MAC == "" {
		t.Fatalf("router %+v", r)
	}

	// again: the same network, nothing stored
	again, err := m.AutoNetwork(vnet.AutoOptions{DNS: []string{"192.0.2.99"}})
	if err != nil || again.Created || again.Revision != 2 || !reflect.DeepEqual(again.Network, n) || !reflect.DeepEqual(again.Router, r) {
		t.Fatalf("second call: %+v %v", again, err)
	}

	// the router was removed: it comes back, the network stays
	if _, err := m.Update(func(c *vnet.Config) error { c.Routers = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	res, err = m.AutoNetwork(vnet.AutoOptions{})
	if err != nil || !res.Created || res.Revision != 4 || !reflect.DeepEqual(res.Network, n) || len(res.Router.Interfaces) != 1 {
		t.Fatalf("router re-created: %+v %v", res, err)
	}
	// the router exists without an interface in default: one is added
	if _, err := m.Update(func(c *vnet.Config) error { c.Routers[0].Interfaces = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if res, err = m.AutoNetwork(vnet.AutoOptions{}); err != nil || !res.Created || len(res.Router.Interfaces) != 1 {
		t.Fatalf("interface re-added: %+v %v", res, err)
	}

	// an existing "default" without a gateway cannot get the router
	if _, err := m.Update(func(c *vnet.Config) error {
		c.Routers = nil
		for i := range c.Networks {
			c.Networks[i].Gateway = ""
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = m.AutoNetwork(vnet.AutoOptions{})
	var fe *vnet.FieldError
	if !errors.As(err, &fe) || fe.Field != "gateway" || fe.Object != `network "default"` {
		t.Fatalf("no gateway: %#v", err)
	}

	// bad DNS is a validation error, and nothing is stored
	m2 := newManager(t)
	if _, err = m2.AutoNetwork(vnet.AutoOptions{DNS: []string{"nope"}}); !errors.As(err, &fe) || fe.Field != "dns" {
		t.Fatalf("bad dns: %#v", err)
	}
	if c, rev := m2.Config(); rev != 0 || len(c.Networks) != 0 {
		t.Fatalf("stored after an error: %d %+v", rev, c)
	}
	// no 10.N.0.0/24 is free
	if _, err := m2.Apply(vnet.Config{Networks: []vnet.Network{{Name: "all", Subnet: "10.0.0.0/8"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err = m2.AutoNetwork(vnet.AutoOptions{}); !errors.As(err, &fe) || fe.Field != "subnet" {
		t.Fatalf("nothing free: %#v", err)
	}
}

func TestFreeSubnet(t *testing.T) {
	c := &vnet.Config{Networks: []vnet.Network{{Subnet: "10.0.0.0/24"}, {Subnet: "10.1.0.0/17"}, {Subnet: "bogus"}, {Subnet: "10.2.5.0/16"}}}
	if p, ok := vnet.FreeSubnet(c); !ok || p.String() != "10.3.0.0/24" {
		t.Fatalf("%v %v", p, ok)
	}
	if p, ok := vnet.FreeSubnet(&vnet.Config{}); !ok || p.String() != "10.0.0.0/24" {
		t.Fatalf("%v %v", p, ok)
	}
}
