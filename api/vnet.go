package api

import (
	"time"

	"github.com/satellite-sdn/satellite/vnet"
)

// Trunk is a switch port that carries networks tagged with VLAN ids:
// the vif interfaces bound to it with a vlan.
type Trunk struct {
	Datapath string      `json:"datapath"`
	Port     string      `json:"port"`
	VLANs    []TrunkVLAN `json:"vlans"` // by VLAN id
	// Native is the interface bound to the port untagged, if any.
	Native *TrunkVLAN `json:"native,omitempty"`
}

// TrunkVLAN is one network on a trunk port.
type TrunkVLAN struct {
	VLAN      uint16 `json:"vlan"` // 0 for the native (untagged) one
	Network   string `json:"network"`
	Interface string `json:"interface"`
}

// Lease is the DHCP lease record of an address with the interface of its
// client. State is offered, bound, grace (past expires, still the
// client's), expired or released (free, remembered for the client), or
// declined (given to nobody until expires); see docs/vnet.md.
type Lease struct {
	Network string `json:"network"`
	MAC     string `json:"mac"`
	IP      string `json:"ip"`
	State   string `json:"state"`
	// Expires is the end of the lease (offered, bound, grace, expired),
	// when it was released, or the end of the quarantine (declined).
	// RFC 3339, UTC, seconds.
	Expires   time.Time `json:"expires"`
	Interface string    `json:"interface"` // "" when no interface has the MAC any more
}

// VNetStatus is the body of GET /api/v1/vnet/status.
type VNetStatus struct {
	Revision       uint64             `json:"revision"` // of the configuration; 0 = nothing stored yet
	Datapaths      []VNetSwitchStatus `json:"datapaths"`
	Notes          []string           `json:"notes"` // why parts of the configuration are not realised (yet)
	Networks       int                `json:"networks"`
	Interfaces     int                `json:"interfaces"`
	Routers        int                `json:"routers"`
	SecurityGroups int                `json:"security_groups"`
	Leases         int                `json:"leases"` // addresses clients have (offered, bound, grace)
}

// VNetSwitchStatus is the reconciliation state of one datapath.
type VNetSwitchStatus struct {
	Name      string `json:"name"`
	DPID      string `json:"dpid"`
	Connected bool   `json:"connected"`
	// Flows and Groups are what the last reconciliation installed.
	Flows  int `json:"flows"`
	Groups int `json:"groups"`
	// Reconciled is when the switch was last reconciled; null if never.
	Reconciled  *time.Time `json:"reconciled"`
	LastChanges string     `json:"last_changes,omitempty"` // "flows +3 ~0 -1, groups +0 ~0 -0"
	// Settling: Satellite started less than vnet.settle ago and not every
	// datapath and link is back yet: passes only add missing flows.
	Settling bool `json:"settling,omitempty"`
	// Total is every change made to the switch since Satellite started.
	Total vnet.Changes `json:"total"`
	Error string       `json:"error,omitempty"`
}

// VNetProgram is the body of GET /api/v1/vnet/flows/{dpid}: what the
// virtual networks want the switch to hold, compiled from the
// configuration and the live network right now.
type VNetProgram struct {
	Datapath  string      `json:"datapath"`
	DPID      string      `json:"dpid"`
	Connected bool        `json:"connected"`
	Flows     []VNetFlow  `json:"flows"`  // by table, priority (highest first), match
	Groups    []VNetGroup `json:"groups"` // by id
	Notes     []string    `json:"notes"`  // the compiler's notes (all datapaths)
}

// VNetFlow is one compiled flow.
type VNetFlow struct {
	Table    uint8  `json:"table"`
	Priority uint16 `json:"priority"`
	Cookie   string `json:"cookie"`
	Owner    Owner  `json:"owner"`
	Match    string `json:"match"`   // ovs-ofctl syntax
	Actions  string `json:"actions"` // ovs-ofctl syntax
	// Flow is the whole flow as ovs-ofctl writes it (without the cookie).
	Flow string `json:"flow"`
}

// VNetGroup is one compiled group.
type VNetGroup struct {
	ID      uint32       `json:"id"`
	Type    string       `json:"type"`
	Buckets []VNetBucket `json:"buckets"`
}

// VNetBucket is one bucket of a compiled group.
type VNetBucket struct {
	WatchPort *uint32 `json:"watch_port"`
	Actions   string  `json:"actions"`
}

// AutoNetworkRequest is the optional body of POST /api/v1/networks/auto.
type AutoNetworkRequest struct {
	DNS []string `json:"dns,omitempty"`
}
