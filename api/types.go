package api

import (
	"time"

	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/probes"
)

// The JSON documents of the API. The client package decodes into the same
// types.

// Error is the body of every error response. Field names the request
// parameter or body field that was wrong ("dpid", "flow", "table", ...);
// it is omitted when the error is not about one field.
type Error struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// Health is the body of GET /healthz. Status is "ok", or "degraded"
// with Degraded saying what is held and Load the measured lateness (a
// busy host: tunnel verdicts and LLDP link removal are held).
type Health struct {
	Status   string       `json:"status"`
	Switches int          `json:"switches"`
	UptimeS  float64      `json:"uptime_s"`
	Version  string       `json:"version,omitempty"`
	Degraded string       `json:"degraded,omitempty"`
	Load     *probes.Load `json:"load,omitempty"`
}

// Switch is a connected switch.
type Switch struct {
	DPID string `json:"dpid"` // 16 lower-case hex digits
	// Name is what operators call the switch: its virtual-network
	// datapath name (h1), else its bridge name (the LOCAL port's).
	Name         string    `json:"name"`
	Remote       string    `json:"remote"`
	ConnectedAt  time.Time `json:"connected_at"` // RFC 3339, UTC, whole seconds
	Manufacturer string    `json:"manufacturer"`
	Hardware     string    `json:"hardware"`
	Software     string    `json:"software"`
	Serial       string    `json:"serial"`
	DatapathDesc string    `json:"datapath_desc"`
	NTables      uint8     `json:"n_tables"`
	NBuffers     uint32    `json:"n_buffers"`
	Ports        []Port    `json:"ports"`
	// Session holds counters of the controller's connection to the switch.
	Session SessionStats `json:"session"`
}

// SessionStats are counters of one switch connection.
type SessionStats struct {
	RxMessages       uint64 `json:"rx_messages"`
	TxMessages       uint64 `json:"tx_messages"`
	Malformed        uint64 `json:"malformed"`
	PacketInDropped  uint64 `json:"packet_in_dropped"`
	PacketOutLimited uint64 `json:"packet_out_limited"`
	EchoSent         uint64 `json:"echo_sent"`
	UnmatchedReplies uint64 `json:"unmatched_replies"`
}

// Port is a switch port as the switch describes it.
type Port struct {
	Number uint32 `json:"number"`
	// Reserved names a reserved port number ("local" for the bridge's own
	// interface, 0xfffffffe); empty for ordinary ports.
	Reserved string `json:"reserved,omitempty"`
	Name     string `json:"name"`
	HWAddr   string `json:"hw_addr"`
	// State is "up", "down" (administratively or link down) or "blocked"
	// (up, but blocked by a loop-prevention protocol).
	State         string `json:"state"`
	AdminDown     bool   `json:"admin_down"`
	LinkDown      bool   `json:"link_down"`
	Blocked       bool   `json:"blocked"`
	Live          bool   `json:"live"`
	CurrSpeedKbps uint32 `json:"curr_speed_kbps"`
	MaxSpeedKbps  uint32 `json:"max_speed_kbps"`
}

// PortStats are the counters of one port. A counter the switch does not
// support (Open vSwitch reports those as all ones) is null.
type PortStats struct {
	Number     uint32  `json:"number"`
	Reserved   string  `json:"reserved,omitempty"`
	Name       string  `json:"name"`  // from the port description; "" if unknown
	State      string  `json:"state"` // as in Port; "" if unknown
	RxPackets  *uint64 `json:"rx_packets"`
	TxPackets  *uint64 `json:"tx_packets"`
	RxBytes    *uint64 `json:"rx_bytes"`
	TxBytes    *uint64 `json:"tx_bytes"`
	RxDropped  *uint64 `json:"rx_dropped"`
	TxDropped  *uint64 `json:"tx_dropped"`
	RxErrors   *uint64 `json:"rx_errors"`
	TxErrors   *uint64 `json:"tx_errors"`
	RxFrameErr *uint64 `json:"rx_frame_err"`
	RxOverErr  *uint64 `json:"rx_over_err"`
	RxCRCErr   *uint64 `json:"rx_crc_err"`
	Collisions *uint64 `json:"collisions"`
	DurationS  float64 `json:"duration_s"`
}

// Owner says which Satellite subsystem owns a flow (decoded from its
// cookie): Kind is an owner kind name ("api", "core", ..., or "foreign"
// for flows Satellite did not install), Network the virtual network (0 =
// none) and ID the object id within the kind.
type Owner struct {
	Kind    string `json:"kind"`
	Network uint32 `json:"network"`
	ID      uint32 `json:"id"`
}

// Flow is one flow entry with its counters.
type Flow struct {
	Table       uint8   `json:"table"`
	Priority    uint16  `json:"priority"`
	Cookie      string  `json:"cookie"` // "0x" and 16 hex digits
	Owner       Owner   `json:"owner"`
	Match       string  `json:"match"`   // ovs-ofctl syntax, "" matches everything
	Actions     string  `json:"actions"` // ovs-ofctl syntax, "drop" for none
	Packets     uint64  `json:"packets"`
	Bytes       uint64  `json:"bytes"`
	DurationS   float64 `json:"duration_s"`
	IdleTimeout uint16  `json:"idle_timeout"`
	HardTimeout uint16  `json:"hard_timeout"`
	// Warnings (when a flow is added): what looks like a mistake, such as
	// output to a port the switch does not have.
	Warnings []string `json:"warnings,omitempty"`
}

// AddFlowRequest is the body of POST /api/v1/switches/{dpid}/flows.
// Flow is an ovs-ofctl style spec without a cookie; ID is the API object
// id put in the cookie (absent: the next free one).
type AddFlowRequest struct {
	Flow string  `json:"flow"`
	ID   *uint32 `json:"id,omitempty"`
}

// DeleteResult is the body of a successful flow delete. OpenFlow does not
// say how many flows a delete removed: Deleted is always "requested", and
// Matched is how many flows matched the filter just before the delete was
// sent (the switch may have changed in between).
type DeleteResult struct {
	Deleted string  `json:"deleted"`
	Matched int     `json:"matched"`
	Owner   string  `json:"owner"`
	ID      *uint32 `json:"id,omitempty"`
	Network *uint32 `json:"network,omitempty"`
	Table   *uint8  `json:"table,omitempty"`
}

// Group is one group with its buckets and counters.
type Group struct {
	ID        uint32   `json:"id"`
	Type      string   `json:"type"` // all, select, indirect, ff (fast failover)
	Buckets   []Bucket `json:"buckets"`
	RefCount  uint32   `json:"ref_count"`
	Packets   uint64   `json:"packets"`
	Bytes     uint64   `json:"bytes"`
	DurationS float64  `json:"duration_s"`
}

// Bucket is one bucket of a group. WatchPort and WatchGroup are null when
// the bucket watches nothing.
type Bucket struct {
	Weight     uint16  `json:"weight"`
	WatchPort  *uint32 `json:"watch_port"`
	WatchGroup *uint32 `json:"watch_group"`
	Actions    string  `json:"actions"`
	Packets    uint64  `json:"packets"`
	Bytes      uint64  `json:"bytes"`
}

// Table holds the counters of one flow table.
type Table struct {
	Table        uint8  `json:"table"`
	ActiveCount  uint32 `json:"active_count"`
	LookupCount  uint64 `json:"lookup_count"`
	MatchedCount uint64 `json:"matched_count"`
}

// LinkEnd is one end of a link: a port of a switch.
type LinkEnd struct {
	DPID string `json:"dpid"`
	Port uint32 `json:"port"`
	Name string `json:"name"` // the port's name, "" if the model has no such port
}

// Link is one direction of a link between two bridges, as LLDP discovery
// saw it: probes sent out of Src arrive on Dst. A link whose reverse
// direction is not seen is unidirectional.
type Link struct {
	Src            LinkEnd   `json:"src"`
	Dst            LinkEnd   `json:"dst"`
	Kind           string    `json:"kind"`  // direct or tunnel
	State          string    `json:"state"` // up, or down (kept until it comes back or discovery.forget_down_after)
	LatencyMs      float64   `json:"latency_ms"`
	Unidirectional bool      `json:"unidirectional"`
	FirstSeen      time.Time `json:"first_seen"` // RFC 3339, UTC, milliseconds
	LastSeen       time.Time `json:"last_seen"`
	// DownSince is when a down link went down.
	DownSince *time.Time `json:"down_since,omitempty"`
}

// Host is an end host learned from its packets on an edge port.
type Host struct {
	MAC       string    `json:"mac"`
	IPs       []string  `json:"ips"` // IPv4 addresses seen, sorted; [] when none
	DPID      string    `json:"dpid"`
	Port      uint32    `json:"port"`
	PortName  string    `json:"port_name"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Discovery is the body of GET /api/v1/discovery: the LLDP discovery
// settings in effect and its counters.
type Discovery struct {
	IntervalS           float64    `json:"interval_s"`
	Misses              int        `json:"misses"`
	MaxAgeS             float64    `json:"max_age_s"`
	TTLS                float64    `json:"ttl_s"`
	SystemName          string     `json:"system_name"`
	SecurityEventEveryS float64    `json:"security_event_every_s"`
	Counters            lldp.Stats `json:"counters"`
	// Degraded says why link removal by missed probes is held now (this
	// host overloaded), with the measured lateness; empty when it is not.
	Degraded      string     `json:"degraded,omitempty"`
	DegradedSince *time.Time `json:"degraded_since,omitempty"`
}

// SnapshotInfo describes a topology snapshot stored on the server
// (POST /api/v1/topology/snapshots).
type SnapshotInfo struct {
	ID       string    `json:"id"` // "s1", "s2", ...
	Version  uint64    `json:"version"`
	Taken    time.Time `json:"taken"`  // when the snapshot was taken (from the snapshot)
	Stored   time.Time `json:"stored"` // when it was imported
	Switches int       `json:"switches"`
	Ports    int       `json:"ports"`
	Links    int       `json:"links"`
	Hosts    int       `json:"hosts"`
}
