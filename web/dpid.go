package web

import (
	"fmt"
	"sort"
	"strings"

	"github.com/satellite-sdn/satellite/controller"
)

// FormatDPID renders a datapath id as the API does: 16 lower-case hex
// digits (controller.FormatDPID).
func FormatDPID(dpid uint64) string { return controller.FormatDPID(dpid) }

// ParseDPID parses a datapath id as the API accepts it
// (controller.ParseDPID): 1 to 16 hex digits with an optional 0x prefix,
// or colon-separated bytes as Open vSwitch prints them.
func ParseDPID(s string) (uint64, error) { return controller.ParseDPID(s) }

// switchID reads a switch as the API accepts it wherever one is named: the
// name of a virtual-network datapath ("h1"), or a datapath id in any form
// ParseDPID takes. A name wins over a datapath id spelt the same way.
func (s *Server) switchID(v string) (uint64, error) {
	var names []string
	if s.vnets != nil {
		cfg, _ := s.vnets.Config()
		for _, dp := range cfg.Datapaths {
			if dp.Name == v {
				return controller.ParseDPID(dp.DPID)
			}
			names = append(names, dp.Name)
		}
	}
	d, err := ParseDPID(v)
	if err == nil {
		return d, nil
	}
	if len(names) == 0 {
		return 0, err
	}
	sort.Strings(names)
	if len(names) > 8 {
		names = append(names[:8], "...")
	}
	return 0, fmt.Errorf("%q is neither a datapath id (%v) nor the name of a datapath (%s)", v, err, strings.Join(names, ", "))
}
