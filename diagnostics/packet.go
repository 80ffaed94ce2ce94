// Package diagnostics answers "why can't A reach B?": a packet trace
// through the flow and group tables Satellite reads from the switches
// (and through the tables it intends them to hold), hop by hop across
// direct links and GRE tunnels.
//
// The core is Satellite's own OpenFlow 1.3 pipeline simulator (Tables.Run):
// priorities, masks, goto-table, metadata, set-field, push/pop VLAN, TTL
// decrement, apply and write actions with the action set, and the four
// group types with bucket liveness from the ports' state. Fabric.Trace
// follows the packet from switch to switch; Tracer resolves a request
// against the virtual networks and explains every drop in words.
package diagnostics

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Nicira extension fields the simulator knows (class NXM_1), by their
// field numbers: connection-tracking state and zone.
const (
	fCtState = 105
	fCtZone  = 106
)

// OXM field numbers of the OpenFlow basic class the simulator knows.
const (
	fInPort   = 0
	fMetadata = 2
	fEthDst   = 3
	fEthSrc   = 4
	fEthType  = 5
	fVLANVID  = 6
	fVLANPCP  = 7
	fIPDSCP   = 8
	fIPECN    = 9
	fIPProto  = 10
	fIPv4Src  = 11
	fIPv4Dst  = 12
	fTCPSrc   = 13
	fTCPDst   = 14
	fUDPSrc   = 15
	fUDPDst   = 16
	fSCTPSrc  = 17
	fSCTPDst  = 18
	fICMPType = 19
	fICMPCode = 20
	fARPOp    = 21
	fARPSPA   = 22
	fARPTPA   = 23
	fARPSHA   = 24
	fARPTHA   = 25
	fTunnelID = 38
)

// field sizes in bytes, 0 for fields the simulator does not know
var fieldSize = [40]uint8{
	fInPort: 4, fMetadata: 8, fEthDst: 6, fEthSrc: 6, fEthType: 2, fVLANVID: 2, fVLANPCP: 1,
	fIPDSCP: 1, fIPECN: 1, fIPProto: 1, fIPv4Src: 4, fIPv4Dst: 4, fTCPSrc: 2, fTCPDst: 2,
	fUDPSrc: 2, fUDPDst: 2, fSCTPSrc: 2, fSCTPDst: 2, fICMPType: 1, fICMPCode: 1, fARPOp: 2,
	fARPSPA: 4, fARPTPA: 4, fARPSHA: 6, fARPTHA: 6, fTunnelID: 8,
}

// Ethernet types and IP protocols.
const (
	EthIPv4 = 0x0800
	EthARP  = 0x0806
	EthVLAN = 0x8100

	ProtoICMP = 1
	ProtoTCP  = 6
	ProtoUDP  = 17
	protoSCTP = 132
)

// vidPresent is OFPVID_PRESENT: the bit a vlan_vid match sets for tagged packets.
const vidPresent = 0x1000

// Packet is the headers of a packet as the pipeline sees them. VLAN tags
// are a stack (outermost first, at most two); EthType is the type after
// the tags, as OpenFlow 1.3 matches it.
type Packet struct {
	InPort   uint32
	Metadata uint64
	TunID    uint64

	EthDst, EthSrc uint64 // 48 bits
	NVLAN          uint8
	VLAN           [2]uint16 // VID (12 bits)
	PCP            [2]uint8
	EthType        uint16

	DSCP, ECN    uint8
	IPProto      uint8
	IPSrc, IPDst uint32
	TTL          uint8
	L4Src, L4Dst uint16 // tcp/udp/sctp ports
	ICMPType     uint8
	ICMPCode     uint8

	ARPOp          uint16
	ARPSPA, ARPTPA uint32
	ARPSHA, ARPTHA uint64

	// Connection tracking (Open vSwitch's ct): the state and zone a ct
	// action gave the packet in this switch; 0 until one does. Not
	// carried to the next switch.
	CtState uint32
	CtZone  uint16
}

func (p *Packet) isIP() bool { return p.EthType == EthIPv4 }

// get returns a field's value and whether the packet has the field.
func (p *Packet) get(f uint8) (uint64, bool) {
	switch f {
	case fCtState:
		return uint64(p.CtState), true
	case fCtZone:
		return uint64(p.CtZone), true
	case fInPort:
		return uint64(p.InPort), true
	case fMetadata:
		return p.Metadata, true
	case fTunnelID:
		return p.TunID, true
	case fEthDst:
		return p.EthDst, true
	case fEthSrc:
		return p.EthSrc, true
	case fEthType:
		return uint64(p.EthType), true
	case fVLANVID:
		if p.NVLAN == 0 {
			return 0, true // OFPVID_NONE
		}
		return uint64(p.VLAN[0]) | vidPresent, true
	case fVLANPCP:
		return uint64(p.PCP[0]), p.NVLAN > 0
	}
	if p.isIP() {
		switch f {
		case fIPDSCP:
			return uint64(p.DSCP), true
		case fIPECN:
			return uint64(p.ECN), true
		case fIPProto:
			return uint64(p.IPProto), true
		case fIPv4Src:
			return uint64(p.IPSrc), true
		case fIPv4Dst:
			return uint64(p.IPDst), true
		case fTCPSrc, fTCPDst:
			return p.l4(f == fTCPSrc), p.IPProto == ProtoTCP
		case fUDPSrc, fUDPDst:
			return p.l4(f == fUDPSrc), p.IPProto == ProtoUDP
		case fSCTPSrc, fSCTPDst:
			return p.l4(f == fSCTPSrc), p.IPProto == protoSCTP
		case fICMPType:
			return uint64(p.ICMPType), p.IPProto == ProtoICMP
		case fICMPCode:
			return uint64(p.ICMPCode), p.IPProto == ProtoICMP
		}
		return 0, false
	}
	if p.EthType == EthARP {
		switch f {
		case fARPOp:
			return uint64(p.ARPOp), true
		case fARPSPA:
			return uint64(p.ARPSPA), true
		case fARPTPA:
			return uint64(p.ARPTPA), true
		case fARPSHA:
			return p.ARPSHA, true
		case fARPTHA:
			return p.ARPTHA, true
		}
	}
	return 0, false
}

func (p *Packet) l4(src bool) uint64 {
	if src {
		return uint64(p.L4Src)
	}
	return uint64(p.L4Dst)
}

// set writes a field (set_field). It reports false when the packet lacks
// the field (the switch leaves such a packet unchanged).
func (p *Packet) set(f uint8, v uint64) bool {
	if _, ok := p.get(f); !ok && f != fVLANVID {
		return false
	}
	switch f {
	case fInPort:
		p.InPort = uint32(v)
	case fMetadata:
		p.Metadata = v
	case fTunnelID:
		p.TunID = v
	case fEthDst:
		p.EthDst = v & 0xffffffffffff
	case fEthSrc:
		p.EthSrc = v & 0xffffffffffff
	case fEthType:
		p.EthType = uint16(v)
	case fVLANVID:
		if p.NVLAN == 0 {
			return false
		}
		p.VLAN[0] = uint16(v) & 0xfff
	case fVLANPCP:
		p.PCP[0] = uint8(v) & 7
	case fIPDSCP:
		p.DSCP = uint8(v) & 0x3f
	case fIPECN:
		p.ECN = uint8(v) & 3
	case fIPProto:
		p.IPProto = uint8(v)
	case fIPv4Src:
		p.IPSrc = uint32(v)
	case fIPv4Dst:
		p.IPDst = uint32(v)
	case fTCPSrc, fUDPSrc, fSCTPSrc:
		p.L4Src = uint16(v)
	case fTCPDst, fUDPDst, fSCTPDst:
		p.L4Dst = uint16(v)
	case fICMPType:
		p.ICMPType = uint8(v)
	case fICMPCode:
		p.ICMPCode = uint8(v)
	case fARPOp:
		p.ARPOp = uint16(v)
	case fARPSPA:
		p.ARPSPA = uint32(v)
	case fARPTPA:
		p.ARPTPA = uint32(v)
	case fARPSHA:
		p.ARPSHA = v & 0xffffffffffff
	case fARPTHA:
		p.ARPTHA = v & 0xffffffffffff
	default:
		return false
	}
	return true
}

// MAC converts a 48-bit value to its text form.
func MAC(v uint64) string {
	b := make(net.HardwareAddr, 6)
	for i := 5; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b.String()
}

// ParseMAC converts a MAC address to its 48-bit value.
func ParseMAC(s string) (uint64, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return 0, fmt.Errorf("%q is not a MAC address (want e.g. 02:00:00:00:01:01)", s)
	}
	var v uint64
	for _, b := range hw {
		v = v<<8 | uint64(b)
	}
	return v, nil
}

// IPv4 converts a 32-bit value to dotted form.
func IPv4(v uint32) string {
	return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)).String()
}

// ParseIPv4 converts a dotted IPv4 address to its 32-bit value.
func ParseIPv4(s string) (uint32, error) {
	ip := net.ParseIP(s).To4()
	if ip == nil {
		return 0, fmt.Errorf("%q is not an IPv4 address", s)
	}
	return uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3]), nil
}

// String renders the headers the way ovs-ofctl writes a match.
func (p Packet) String() string {
	var b strings.Builder
	w := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		if v != "" {
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	if p.TunID != 0 {
		w("tun_id", "0x"+strconv.FormatUint(p.TunID, 16))
	}
	if p.Metadata != 0 {
		w("metadata", "0x"+strconv.FormatUint(p.Metadata, 16))
	}
	w("in_port", strconv.FormatUint(uint64(p.InPort), 10))
	for i := 0; i < int(p.NVLAN) && i < 2; i++ {
		w("dl_vlan", strconv.Itoa(int(p.VLAN[i])))
	}
	w("dl_src", MAC(p.EthSrc))
	w("dl_dst", MAC(p.EthDst))
	switch p.EthType {
	case EthIPv4:
		switch p.IPProto {
		case ProtoICMP:
			w("icmp", "")
		case ProtoTCP:
			w("tcp", "")
		case ProtoUDP:
			w("udp", "")
		default:
			w("ip", "")
			w("nw_proto", strconv.Itoa(int(p.IPProto)))
		}
		w("nw_src", IPv4(p.IPSrc))
		w("nw_dst", IPv4(p.IPDst))
		w("nw_ttl", strconv.Itoa(int(p.TTL)))
		switch p.IPProto {
		case ProtoICMP:
			w("icmp_type", strconv.Itoa(int(p.ICMPType)))
			w("icmp_code", strconv.Itoa(int(p.ICMPCode)))
		case ProtoTCP, ProtoUDP, protoSCTP:
			pre := map[uint8]string{ProtoTCP: "tcp", ProtoUDP: "udp", protoSCTP: "sctp"}[p.IPProto]
			w(pre+"_src", strconv.Itoa(int(p.L4Src)))
			w(pre+"_dst", strconv.Itoa(int(p.L4Dst)))
		}
	case EthARP:
		w("arp", "")
		w("arp_op", strconv.Itoa(int(p.ARPOp)))
		w("arp_spa", IPv4(p.ARPSPA))
		w("arp_tpa", IPv4(p.ARPTPA))
		w("arp_sha", MAC(p.ARPSHA))
		w("arp_tha", MAC(p.ARPTHA))
	default:
		w("dl_type", fmt.Sprintf("0x%04x", p.EthType))
	}
	return b.String()
}

// key identifies the packet's headers for loop detection (without the
// per-switch pipeline state).
func (p Packet) key() Packet {
	p.Metadata = 0
	return p
}
