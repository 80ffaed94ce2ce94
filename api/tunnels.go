package api

import "github.com/satellite-sdn/satellite/probes"

// Tunnels is the answer of GET /api/v1/tunnels.
type Tunnels struct {
	IntervalMs    float64 `json:"interval_ms"`
	TimeoutMs     float64 `json:"timeout_ms"`
	DownAfter     int     `json:"down_after"`
	LossWindow    int     `json:"loss_window"`
	LossThreshold float64 `json:"loss_threshold"`
	HoldDownS     float64 `json:"hold_down_s"`
	ForgedReplies uint64  `json:"forged_replies"`
	// TimeoutMaxMs caps the adaptive probe timeout (TimeoutMs is its floor).
	TimeoutMaxMs float64 `json:"timeout_max_ms"`
	// Guarded is false with probes.hold_on_overload: false.
	Guarded bool `json:"guarded"`
	// Load is this host's and the datapaths' measured lateness and, in
	// Load.Degraded, whether verdicts are held because of it.
	Load  probes.Load         `json:"load"`
	Paths []probes.PathStatus `json:"paths"`
}
