package vnet

import (
	"fmt"
	"github.com/satellite-sdn/satellite/topology"
	"strings"
	"time"

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
//
// A port that carries one interface and sends from another MAC than the
// configured one is an operator's mistake more often than an attack (an
// interface created without --mac gets a generated one): it is noted as a
// vnet status problem and an `interface-mac-mismatch` event, at most once
// per interface every macMismatchEvery, so that a flood of random MACs
// costs one entry per interface and one event.
func (m *Manager) Admits(dpid uint64, port uint32, mac string) bool {
	n, ok := 0, false
	var first Interface
	m.interfacesAt(dpid, port, func(in Interface) bool {
		if n == 0 {
			first = in
		}
		n++
		if strings.EqualFold(in.MAC, mac) {
			ok = true
			return false
		}
		return true
	})
	if n == 1 && !ok {
		m.macMismatch(dpid, port, first, mac)
	}
	return n == 0 || ok
}

// macMismatchEvery bounds how often a MAC mismatch of one interface is an
// event.
const macMismatchEvery = 10 * time.Minute

// mismatch is the last foreign MAC seen on an interface's port.
type mismatch struct {
	mac     string
	seen    time.Time
	evented time.Time
}

func (m *Manager) macMismatch(dpid uint64, port uint32, in Interface, mac string) {
	now := time.Now()
	m.mu.Lock()
	if m.mismatches == nil {
		m.mismatches = map[string]*mismatch{}
	}
	mm := m.mismatches[in.Name]
	if mm == nil {
		mm = &mismatch{}
		m.mismatches[in.Name] = mm
	}
	mm.mac, mm.seen = strings.ToLower(mac), now
	event := now.Sub(mm.evented) >= macMismatchEvery
	if event {
		mm.evented = now
	}
	m.mu.Unlock()
	if !event {
		return
	}
	msg := fmt.Sprintf("interface %s (%s port %d) is configured with MAC %s but the port sends from %s: its frames are dropped; if that is the VM's MAC, set it: satellite interface update %s --mac %s",
		in.Name, in.Datapath, port, in.MAC, strings.ToLower(mac), in.Name, strings.ToLower(mac))
	m.log.Warn(msg, "kind", "interface-mac-mismatch")
	if m.topo != nil {
		m.topo.AddEvent(topology.Event{Kind: "interface-mac-mismatch", Time: now, DPID: topology.DPID(dpid), Message: msg})
	}
}

// mismatchNotes are the status problems of recent MAC mismatches of
// interfaces that still have the configured MAC (m.mu held).
func (m *Manager) mismatchNotesLocked() []string {
	var out []string
	for _, in := range m.cfg.Interfaces {
		mm := m.mismatches[in.Name]
		if mm == nil || time.Since(mm.seen) > macMismatchEvery || strings.EqualFold(mm.mac, in.MAC) {
			continue
		}
		out = append(out, fmt.Sprintf("interface %s: its port sends from MAC %s, not the configured %s (%s ago): those frames are dropped; satellite interface update %s --mac %s",
			in.Name, mm.mac, in.MAC, time.Since(mm.seen).Round(time.Second), in.Name, mm.mac))
	}
	return out
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
