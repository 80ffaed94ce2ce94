package vnet

import (
	"strings"

	"github.com/satellite-sdn/satellite/controller"
)

// Edge ports: a port that carries a virtual-network interface faces a VM,
// never another switch (TopoGuard's port classification). Discovery sends
// no LLDP out of it and believes none that arrives on it, and the host
// tracker learns there only the MACs the data path admits.

// InterfacePort reports whether port of the switch dpid carries an
// interface of a virtual network (bound by port name or number), or is
// an external network's port: that one faces the outside, which gets no
// LLDP from us and whose LLDP is not believed either.
func (m *Manager) InterfacePort(dpid uint64, port uint32) bool {
	found := false
	m.interfacesAt(dpid, port, func(Interface) bool { found = true; return false })
	if !found {
		_, found = m.externalPort(dpid, port)
	}
	return found
}

// Admits reports whether the data path admits frames from mac on port of
// dpid: on a port that carries interfaces only their MACs pass the
// anti-spoofing flows; any other port is not this package's to judge.
func (m *Manager) Admits(dpid uint64, port uint32, mac string) bool {
	any, ok := false, false
	m.interfacesAt(dpid, port, func(in Interface) bool {
		any = true
		if strings.EqualFold(in.MAC, mac) {
			ok = true
			return false
		}
		return true
	})
	return !any || ok
}

// interfacesAt calls fn with every interface bound to port of dpid until
// fn returns false.
func (m *Manager) interfacesAt(dpid uint64, port uint32, fn func(Interface) bool) {
	var name string
	if s := m.ctl.Switch(dpid); s != nil {
		if p, ok := s.Port(port); ok {
			name = p.Name
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, in := range m.edgeIndexLocked()[dpid] {
		if in.PortNo != 0 && in.PortNo == port || in.PortNo == 0 && in.Port != "" && in.Port == name {
			if !fn(in) {
				return
			}
		}
	}
}

// edgeIndex is the interfaces bound to a port, by datapath id, for the
// configuration revision it was built from: discovery and the host
// tracker ask for every probe and packet-in, the configuration changes
// rarely.
type edgeIndex struct {
	built  bool
	rev    uint64
	byDPID map[uint64][]Interface
}

// edgeIndexLocked returns the index of the current configuration,
// rebuilding it after a change. The caller holds m.mu.
func (m *Manager) edgeIndexLocked() map[uint64][]Interface {
	if m.edge.built && m.edge.rev == m.rev {
		return m.edge.byDPID
	}
	dps := map[string]uint64{}
	for _, dp := range m.cfg.Datapaths {
		if d, err := controller.ParseDPID(dp.DPID); err == nil {
			dps[dp.Name] = d
		}
	}
	idx := map[uint64][]Interface{}
	for _, in := range m.cfg.Interfaces {
		if d, ok := dps[in.Datapath]; ok && (in.PortNo != 0 || in.Port != "") {
			idx[d] = append(idx[d], in)
		}
	}
	m.edge = edgeIndex{built: true, rev: m.rev, byDPID: idx}
	return idx
}
