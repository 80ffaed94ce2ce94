package httpapi

// What the documents of switches and statistics share.

import "math"

// PortLocal is the switch's LOCAL port (OFPP_LOCAL); ReservedPortNames
// names every reserved port number (ofp_port_no) as the API shows it.
const PortLocal = 0xfffffffe

var ReservedPortNames = map[uint32]string{
	0xfffffff8: "in_port", 0xfffffff9: "table", 0xfffffffa: "normal", 0xfffffffb: "flood",
	0xfffffffc: "all", 0xfffffffd: "controller", PortLocal: "local", 0xffffffff: "any",
}

// Counter reports an OVS "unsupported" all-ones counter as nil.
func Counter(v uint64) *uint64 {
	if v == math.MaxUint64 {
		return nil
	}
	return &v
}
