package controller

import (
	"fmt"
	"strconv"
	"strings"
)

// Cookie is the 64-bit OpenFlow cookie Satellite puts on every flow it
// installs. It says which subsystem and which object own the flow, so
// statistics and diagnostics can map any flow back to its purpose:
//
//	bits 63..56  owner kind (OwnerKind)
//	bits 55..32  scope: the virtual network id, 0 when the flow belongs to none
//	bits 31..0   object id within the kind (interface id, router id, probe id, ...)
//
// A flow whose kind byte is not a known OwnerKind was not installed by
// Satellite (OwnerForeign).
type Cookie uint64

// OwnerKind is the subsystem that owns a flow.
type OwnerKind uint8

// Owner kinds. The numbers are part of the wire format of cookies already
// on switches: never renumber, only append.
const (
	OwnerForeign   OwnerKind = 0  // not installed by Satellite
	OwnerCore      OwnerKind = 1  // controller infrastructure: table-miss, pipeline glue
	OwnerDiscovery OwnerKind = 2  // LLDP punt flows
	OwnerAPI       OwnerKind = 3  // flows an operator installed through the API
	OwnerNetwork   OwnerKind = 4  // virtual network forwarding
	OwnerInterface OwnerKind = 5  // one interface's flows
	OwnerRouter    OwnerKind = 6  // simulated router
	OwnerSecGroup  OwnerKind = 7  // security group rules
	OwnerTunnel    OwnerKind = 8  // GRE tunnel selection
	OwnerProbe     OwnerKind = 9  // tunnel path probes
	OwnerDHCP      OwnerKind = 10 // DHCP responder
	OwnerARP       OwnerKind = 11 // ARP responder
	OwnerTrace     OwnerKind = 12 // temporary observation flows of a live packet trace
	OwnerFloating  OwnerKind = 13 // a floating IP's NAT flows (scope: its external network; object: the address)
	ownerKinds               = 14
)

var ownerNames = [ownerKinds]string{"foreign", "core", "discovery", "api", "network", "interface", "router", "secgroup", "tunnel", "probe", "dhcp", "arp", "trace", "floatingip"}

func (k OwnerKind) String() string {
	if int(k) < len(ownerNames) {
		return ownerNames[k]
	}
	return "foreign"
}

// ParseOwnerKind parses the name of an owner kind.
func ParseOwnerKind(s string) (OwnerKind, error) {
	for i, n := range ownerNames {
		if n == s {
			return OwnerKind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown owner kind %q (want one of %s)", s, strings.Join(ownerNames[:], ", "))
}

// Cookie masks for matching groups of flows in flow-mod deletes and stats.
const (
	CookieMaskKind   uint64 = 0xff << 56
	CookieMaskScope  uint64 = 0xffffff << 32
	CookieMaskObject uint64 = 0xffffffff
	CookieMaskAll    uint64 = ^uint64(0)
)

// MaxScope is the largest scope (virtual network id) a cookie can carry.
const MaxScope = 1<<24 - 1

// NewCookie builds a cookie. Scope is truncated to 24 bits.
func NewCookie(kind OwnerKind, scope uint32, object uint32) Cookie {
	return Cookie(uint64(kind)<<56 | uint64(scope&MaxScope)<<32 | uint64(object))
}

// Kind returns the owner kind, OwnerForeign for cookies Satellite did not make.
func (c Cookie) Kind() OwnerKind {
	k := OwnerKind(c >> 56)
	if k >= ownerKinds {
		return OwnerForeign
	}
	return k
}

// Scope returns the virtual network id (0 = none).
func (c Cookie) Scope() uint32 { return uint32(c>>32) & MaxScope }

// Object returns the object id within the kind.
func (c Cookie) Object() uint32 { return uint32(c) }

// String renders the cookie as "kind:object" or "kind:object@net:scope",
// and foreign cookies as hex.
func (c Cookie) String() string {
	k := c.Kind()
	if k == OwnerForeign {
		return "foreign:0x" + strconv.FormatUint(uint64(c), 16)
	}
	s := k.String() + ":" + strconv.FormatUint(uint64(c.Object()), 10)
	if sc := c.Scope(); sc != 0 {
		s += "@net:" + strconv.FormatUint(uint64(sc), 10)
	}
	return s
}

// Owner describes who owns a flow, for APIs and metrics labels.
type Owner struct {
	Kind   string `json:"kind"`
	Scope  uint32 `json:"network,omitempty"`
	Object uint32 `json:"id"`
}

// Owner returns the structured form of the cookie.
func (c Cookie) Owner() Owner {
	return Owner{Kind: c.Kind().String(), Scope: c.Scope(), Object: c.Object()}
}
