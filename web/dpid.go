package web

import "github.com/satellite-sdn/satellite/controller"

// FormatDPID renders a datapath id as the API does: 16 lower-case hex
// digits (controller.FormatDPID).
func FormatDPID(dpid uint64) string { return controller.FormatDPID(dpid) }

// ParseDPID parses a datapath id as the API accepts it
// (controller.ParseDPID): 1 to 16 hex digits with an optional 0x prefix,
// or colon-separated bytes as Open vSwitch prints them.
func ParseDPID(s string) (uint64, error) { return controller.ParseDPID(s) }
