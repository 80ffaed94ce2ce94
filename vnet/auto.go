package vnet

import (
	"errors"
	"fmt"
	"net/netip"
)

// Names of the objects AutoNetwork creates.
const (
	AutoNetworkName = "default"
	AutoRouterName  = "default-router"
)

// AutoOptions tune AutoNetwork.
type AutoOptions struct {
	// DNS servers the network's DHCP advertises when AutoNetwork creates
	// it. None by default: nothing in a virtual network answers DNS (the
	// router answers ARP and ping only), and advertising an address that
	// does not answer makes every lookup wait for its timeout.
	DNS []string
}

// AutoResult is what AutoNetwork made or found.
type AutoResult struct {
	Network Network `json:"network"`
	Router  Router  `json:"router"`
	// Created is true when AutoNetwork created or completed something,
	// false when the network and its router were already there.
	Created bool `json:"created"`
	// Revision is the configuration's revision afterwards.
	Revision uint64 `json:"revision"`
}

// AutoNetwork ("get me a network") makes sure there is a ready network:
// network "default" with the first free 10.N.0.0/24 (N from 0 to 255)
// that overlaps no other network's subnet, the gateway .1, DHCP on (the
// default range, the upper half of the subnet) and opt.DNS, and router
// "default-router" with an interface at the gateway. It is idempotent:
// when the network exists it is used as it is (opt is ignored), and only
// what is missing of the router is added; when nothing is missing nothing
// is stored.
func (m *Manager) AutoNetwork(opt AutoOptions) (AutoResult, error) {
	var res AutoResult
	_, err := m.Update(func(c *Config) error {
		var n *Network
		for i := range c.Networks {
			if c.Networks[i].Name == AutoNetworkName {
				n = &c.Networks[i]
			}
		}
		if n == nil {
			p, ok := FreeSubnet(c)
			if !ok {
				return &FieldError{Object: fmt.Sprintf("network %q", AutoNetworkName), Field: "subnet",
					Msg: "every 10.N.0.0/24 overlaps an existing network; create the network with an explicit subnet"}
			}
			c.Networks = append(c.Networks, Network{Name: AutoNetworkName, Subnet: p.String(), Gateway: p.Addr().Next().String(),
				DHCP: true, DNS: append([]string(nil), opt.DNS...)})
			n = &c.Networks[len(c.Networks)-1]
			res.Created = true
		}
		if n.Gateway == "" {
			return &FieldError{Object: fmt.Sprintf("network %q", AutoNetworkName), Field: "gateway",
				Msg: fmt.Sprintf("the existing network has no gateway for %s; give it one (satellite network update %s --gateway IP)", AutoRouterName, AutoNetworkName)}
		}
		var r *Router
		for i := range c.Routers {
			if c.Routers[i].Name == AutoRouterName {
				r = &c.Routers[i]
			}
		}
		if r == nil {
			c.Routers = append(c.Routers, Router{Name: AutoRouterName})
			r = &c.Routers[len(c.Routers)-1]
			res.Created = true
		}
		has := false
		for _, ri := range r.Interfaces {
			has = has || ri.Network == AutoNetworkName
		}
		if !has {
			r.Interfaces = append(r.Interfaces, RouterInterface{Network: AutoNetworkName, IP: n.Gateway})
			res.Created = true
		}
		if !res.Created {
			return errUnchanged
		}
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return AutoResult{}, err
	}
	cfg, rev := m.Config()
	res.Revision = rev
	for _, n := range cfg.Networks {
		if n.Name == AutoNetworkName {
			res.Network = n
		}
	}
	for _, r := range cfg.Routers {
		if r.Name == AutoRouterName {
			res.Router = r
		}
	}
	return res, nil
}

// FreeSubnet returns the first 10.N.0.0/24 (N from 0 to 255) that
// overlaps no network of c, and false when all do.
func FreeSubnet(c *Config) (netip.Prefix, bool) {
	var taken []netip.Prefix
	for _, n := range c.Networks {
		if p, err := netip.ParsePrefix(n.Subnet); err == nil {
			taken = append(taken, p.Masked())
		}
	}
	for i := 0; i < 256; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 24)
		free := true
		for _, t := range taken {
			free = free && !t.Overlaps(p)
		}
		if free {
			return p, true
		}
	}
	return netip.Prefix{}, false
}
