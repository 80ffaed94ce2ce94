package vnet

import (
	"encoding/binary"
	"net/netip"

	"github.com/satellite-sdn/satellite/controller"
)

// OwnerOf names the network and the object a flow cookie of the virtual
// networks belongs to (an interface, a router, a security group, the
// tunnel towards a datapath); empty strings when it names none.
func (c *Config) OwnerOf(ck controller.Cookie) (network, name string) {
	for _, n := range c.Networks {
		if n.ID == ck.Scope() && ck.Scope() != 0 {
			network = n.Name
		}
	}
	id := ck.Object()
	switch ck.Kind() {
	case controller.OwnerInterface:
		for _, in := range c.Interfaces {
			if in.ID == id {
				return network, in.Name
			}
		}
	case controller.OwnerRouter:
		for _, r := range c.Routers {
			if r.ID == id {
				return network, r.Name
			}
		}
	case controller.OwnerSecGroup:
		for _, g := range c.SecurityGroups {
			if g.ID == id {
				return network, g.Name
			}
		}
	case controller.OwnerFloating:
		for _, f := range c.FloatingIPs {
			if a, err := netip.ParseAddr(f.IP); err == nil && binary.BigEndian.Uint32(a.AsSlice()) == id {
				return network, "floating IP " + f.IP
			}
		}
	case controller.OwnerTunnel:
		for _, d := range c.Datapaths {
			if dp, _ := ParseDPID(d.DPID); uint32(dp&0xffffffff) == id {
				return network, "to " + d.Name
			}
		}
	}
	return network, ""
}

// ActiveLeases are the addresses DHCP clients hold now (what the flows
// admit and ARP answers).
func (m *Manager) ActiveLeases() []Lease { return m.activeLeases() }
