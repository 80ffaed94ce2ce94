// Package topology is Satellite's live model of the physical network:
// switches, ports, links between bridges and the hosts at the edges. It is
// fed by the controller's switch events and by LLDP discovery, keeps a
// monotonically increasing version, and streams changes to subscribers who
// can resume from a version after reconnecting.
package topology

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/satellite-sdn/satellite/controller"
)

// DPID is a datapath id. It marshals as 16 hex digits.
type DPID uint64

func (d DPID) String() string { return fmt.Sprintf("%016x", uint64(d)) }

// MarshalJSON writes the dpid as a 16-hex-digit string.
func (d DPID) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a datapath id string as controller.ParseDPID does
// (hex, with or without leading zeros or 0x, or colon-separated bytes).
func (d *DPID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("dpid: want a hex string: %w", err)
	}
	v, err := controller.ParseDPID(s)
	if err != nil {
		return err
	}
	*d = DPID(v)
	return nil
}

// Endpoint is one end of a link: a port of a switch.
type Endpoint struct {
	DPID DPID   `json:"dpid"`
	Port uint32 `json:"port"`
}

func (e Endpoint) String() string { return fmt.Sprintf("%s/%d", e.DPID, e.Port) }

// Port kinds.
const (
	PortEdge   = "edge"   // never saw LLDP: hosts live here
	PortLink   = "link"   // a direct link to another bridge
	PortTunnel = "tunnel" // a tunnel port (GRE, VXLAN, ...)
	PortLocal  = "local"  // the bridge's own interface
)

// Switch is a connected (or recently disconnected) bridge.
type Switch struct {
	DPID         DPID      `json:"dpid"`
	Connected    bool      `json:"connected"`
	Remote       string    `json:"remote,omitempty"`
	Manufacturer string    `json:"manufacturer,omitempty"`
	Software     string    `json:"software,omitempty"`
	Since        time.Time `json:"since"`
}

// Port is a port of a switch.
type Port struct {
	DPID      DPID   `json:"dpid"`
	Number    uint32 `json:"number"`
	Name      string `json:"name"`
	HWAddr    string `json:"hw_addr"`
	Up        bool   `json:"up"`
	Live      bool   `json:"live"`
	SpeedKbps uint32 `json:"speed_kbps"`
	Kind      string `json:"kind"`
	// Tunnel is true for ports that look like tunnel endpoints (by name).
	Tunnel bool `json:"tunnel"`
}

// Key returns the port's endpoint.
func (p Port) Key() Endpoint { return Endpoint{p.DPID, p.Number} }

// Link kinds and states.
const (
	LinkDirect = "direct"
	LinkTunnel = "tunnel"
	LinkUp     = "up"
	LinkDown   = "down"
)

// Link is one direction of a link between two bridges, as LLDP saw it:
// a probe sent out of Src arrived on Dst. A physical link shows up as two
// links, one per direction; a link whose reverse is missing is
// unidirectional.
type Link struct {
	Src            Endpoint  `json:"src"`
	Dst            Endpoint  `json:"dst"`
	Kind           string    `json:"kind"`
	State          string    `json:"state"`
	LatencyMs      float64   `json:"latency_ms"`
	Unidirectional bool      `json:"unidirectional"`
	FirstSeen      time.Time `json:"first_seen"`
	LastSeen       time.Time `json:"last_seen"`
	// DownSince is when a down link (State "down") went down; it stays in
	// the model until it comes back or is forgotten (Options.KeepDownLinks).
	DownSince *time.Time `json:"down_since,omitempty"`
}

// Up reports whether the link is live (not a down link kept for history).
func (l Link) Up() bool { return l.State == LinkUp }

// LinkKey identifies a directed link.
type LinkKey struct{ Src, Dst Endpoint }

// Key returns the link's key.
func (l Link) Key() LinkKey { return LinkKey{l.Src, l.Dst} }

// Host is an end host learned from packets on an edge port.
type Host struct {
	MAC       string    `json:"mac"`
	IPs       []string  `json:"ips"`
	DPID      DPID      `json:"dpid"`
	Port      uint32    `json:"port"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Event is a notable happening that is not a state change of an object:
// host moves, security events from discovery.
type Event struct {
	Kind    string    `json:"kind"` // e.g. "host-move", "lldp-forged", "lldp-replayed"
	Time    time.Time `json:"time"`
	DPID    DPID      `json:"dpid,omitempty"`
	Port    uint32    `json:"port,omitempty"`
	Message string    `json:"message"`
	// Object and Data, when set, name what the event is about and hold it
	// as the API shows it (journaled with the event).
	Object string          `json:"object,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// Snapshot is the whole model at one version.
type Snapshot struct {
	Version  uint64    `json:"version"`
	Taken    time.Time `json:"taken"`
	Switches []Switch  `json:"switches"`
	Ports    []Port    `json:"ports"`
	Links    []Link    `json:"links"`
	Hosts    []Host    `json:"hosts"`
}

// Delta operations and object types.
const (
	OpAdd      = "add"
	OpUpdate   = "update"
	OpRemove   = "remove"
	OpEvent    = "event"
	OpSnapshot = "snapshot"
)

// Delta is one change of the model. Exactly one of the object fields is
// set (Snapshot for OpSnapshot, Event for OpEvent).
type Delta struct {
	Version  uint64    `json:"version"`
	Time     time.Time `json:"time"`
	Op       string    `json:"op"`
	Switch   *Switch   `json:"switch,omitempty"`
	Port     *Port     `json:"port,omitempty"`
	Link     *Link     `json:"link,omitempty"`
	Host     *Host     `json:"host,omitempty"`
	Event    *Event    `json:"event,omitempty"`
	Snapshot *Snapshot `json:"snapshot,omitempty"`
}
