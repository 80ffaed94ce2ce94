package ofwire

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/netrack/openflow/ofp"
)

// Open vSwitch (Nicira) extensions Satellite speaks over OpenFlow 1.3:
// the connection-tracking action NXAST_CT, the NXM_NX_CT_STATE and
// NXM_NX_CT_ZONE matches (see controller/flowspec.go) and the
// NXT_CT_FLUSH_ZONE and NXT_CT_FLUSH messages.
const (
	NiciraExperimenter = 0x00002320 // NX_VENDOR_ID
	nxastCT            = 35         // NXAST_CT
	nxastNAT           = 36         // NXAST_NAT (nested in NXAST_CT)
	nxtCTFlushZone     = 29         // NXT_CT_FLUSH_ZONE
	nxtCTFlush         = 32         // NXT_CT_FLUSH (Open vSwitch 3.1)
	nxCTFlagCommit     = 1 << 0     // NX_CT_F_COMMIT
	// CTNoTable is the ActionCT table for "no recirculation"
	// (NX_CT_RECIRC_NONE).
	CTNoTable   = 0xff
	ctActionLen = 24
)

// Connection-tracking state bits (the ct_state match field).
const (
	CTNew uint32 = 1 << iota
	CTEst
	CTRel
	CTRpl
	CTInv
	CTTrk
	CTSNAT
	CTDNAT
)

// CTStateNames are the ct_state flag names in bit order, as ovs-ofctl
// prints them.
var CTStateNames = []string{"new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"}

// ActionCT is the Open vSwitch ct action (NXAST_CT) with an immediate
// zone: it sends the packet through the connection tracker of Zone,
// committing the connection when Commit is set; with Table other than
// CTNoTable the packet then continues (recirculated, with its ct_state
// known) in that table, otherwise the action list goes on.
type ActionCT struct {
	Commit bool
	Zone   uint16
	Table  uint8
	// NAT, when set, is the nested nat action: translate the packet (a new
	// connection on commit to the given addresses; an existing one by the
	// translation recorded for it).
	NAT *NAT
}

// NAT is the Open vSwitch nat action (NXAST_NAT) inside ct: "nat" alone
// (Src and Dst false) applies the translation of an existing connection;
// Src or Dst with Min (and Max for a range) translates a new one.
type NAT struct {
	Src, Dst bool
	Min, Max netip.Addr // IPv4; Max invalid for a single address
}

// NAT flags and range bits (nx_action_nat).
const (
	natFlagSrc    = 1 << 0
	natFlagDst    = 1 << 1
	natRangeV4Min = 1 << 0
	natRangeV4Max = 1 << 1
	natHeaderLen  = 16
)

// encode renders the nested nx_action_nat, padded to 8 bytes.
func (n *NAT) encode() []byte {
	var flags, present uint16
	var params []byte
	if n.Src {
		flags |= natFlagSrc
	}
	if n.Dst {
		flags |= natFlagDst
	}
	if n.Min.IsValid() {
		present |= natRangeV4Min
		params = append(params, n.Min.AsSlice()...)
	}
	if n.Max.IsValid() {
		present |= natRangeV4Max
		params = append(params, n.Max.AsSlice()...)
	}
	l := (natHeaderLen + len(params) + 7) / 8 * 8
	b := make([]byte, l)
	binary.BigEndian.PutUint16(b[0:], uint16(ofp.ActionTypeExperimenter))
	binary.BigEndian.PutUint16(b[2:], uint16(l))
	binary.BigEndian.PutUint32(b[4:], NiciraExperimenter)
	binary.BigEndian.PutUint16(b[8:], nxastNAT)
	binary.BigEndian.PutUint16(b[12:], flags)
	binary.BigEndian.PutUint16(b[14:], present)
	copy(b[natHeaderLen:], params)
	return b
}

// decodeNAT reads a nested nx_action_nat that makes up all of b (only the
// src/dst flags and IPv4 ranges; anything else is not ours).
func decodeNAT(b []byte) (*NAT, bool) {
	if len(b) < natHeaderLen || int(binary.BigEndian.Uint16(b[2:])) != len(b) ||
		binary.BigEndian.Uint16(b[0:]) != uint16(ofp.ActionTypeExperimenter) ||
		binary.BigEndian.Uint32(b[4:]) != NiciraExperimenter || binary.BigEndian.Uint16(b[8:]) != nxastNAT {
		return nil, false
	}
	flags, present := binary.BigEndian.Uint16(b[12:]), binary.BigEndian.Uint16(b[14:])
	if flags&^(natFlagSrc|natFlagDst) != 0 || present&^(natRangeV4Min|natRangeV4Max) != 0 ||
		(flags == natFlagSrc|natFlagDst) || (present != 0 && flags == 0) || (present == natRangeV4Max) {
		return nil, false
	}
	n := &NAT{Src: flags&natFlagSrc != 0, Dst: flags&natFlagDst != 0}
	p := b[natHeaderLen:]
	if present&natRangeV4Min != 0 {
		if len(p) < 4 {
			return nil, false
		}
		n.Min, p = netip.AddrFrom4([4]byte(p[:4])), p[4:]
	}
	if present&natRangeV4Max != 0 {
		if len(p) < 4 {
			return nil, false
		}
		n.Max, p = netip.AddrFrom4([4]byte(p[:4])), p[4:]
	}
	for _, x := range p {
		if x != 0 {
			return nil, false
		}
	}
	return n, true
}

// String renders the nat action like ovs-ofctl: nat, nat(src=1.2.3.4),
// nat(dst=1.2.3.4-1.2.3.9).
func (n *NAT) String() string {
	if !n.Src && !n.Dst {
		return "nat"
	}
	kind := "src"
	if n.Dst {
		kind = "dst"
	}
	if !n.Min.IsValid() {
		return "nat(" + kind + ")"
	}
	s := "nat(" + kind + "=" + n.Min.String()
	if n.Max.IsValid() {
		s += "-" + n.Max.String()
	}
	return s + ")"
}

// Type implements ofp.Action.
func (a *ActionCT) Type() ofp.ActionType { return ofp.ActionTypeExperimenter }

// WriteTo implements io.WriterTo: the 24-byte nx_action_conntrack, no
// ALG, with the nat action nested when there is one.
func (a *ActionCT) WriteTo(w io.Writer) (int64, error) {
	var nested []byte
	if a.NAT != nil {
		nested = a.NAT.encode()
	}
	b := make([]byte, ctActionLen, ctActionLen+len(nested))
	binary.BigEndian.PutUint16(b[0:], uint16(ofp.ActionTypeExperimenter))
	binary.BigEndian.PutUint16(b[2:], uint16(ctActionLen+len(nested)))
	binary.BigEndian.PutUint32(b[4:], NiciraExperimenter)
	binary.BigEndian.PutUint16(b[8:], nxastCT)
	if a.Commit {
		binary.BigEndian.PutUint16(b[10:], nxCTFlagCommit)
	}
	// b[12:16] zone_src = 0: the zone is the immediate value
	binary.BigEndian.PutUint16(b[16:], a.Zone)
	b[18] = a.Table
	b = append(b, nested...)
	n, err := w.Write(b)
	return int64(n), err
}

// ReadFrom implements io.ReaderFrom; ct actions are produced by the
// decoder (decodeActions), not read from a stream.
func (a *ActionCT) ReadFrom(io.Reader) (int64, error) { return 0, io.EOF }

// String renders the action like ovs-ofctl: ct(commit,table=8,zone=5).
func (a *ActionCT) String() string {
	var args []string
	if a.Commit {
		args = append(args, "commit")
	}
	if a.Table != CTNoTable {
		args = append(args, fmt.Sprintf("table=%d", a.Table))
	}
	if a.Zone != 0 {
		args = append(args, fmt.Sprintf("zone=%d", a.Zone))
	}
	if a.NAT != nil {
		args = append(args, a.NAT.String())
	}
	return "ct(" + strings.Join(args, ",") + ")"
}

// decodeCT turns an experimenter action body (after the 4-byte header)
// into an ActionCT when it is a plain NXAST_CT (immediate zone, commit
// flag only, no ALG, no nested actions but one nat); anything else stays
// raw.
func decodeCT(data []byte) (*ActionCT, bool) {
	var nat *NAT
	if len(data) > ctActionLen-4 {
		n, ok := decodeNAT(data[ctActionLen-4:])
		if !ok {
			return nil, false
		}
		nat, data = n, data[:ctActionLen-4]
	}
	if len(data) != ctActionLen-4 || binary.BigEndian.Uint32(data) != NiciraExperimenter ||
		binary.BigEndian.Uint16(data[4:]) != nxastCT {
		return nil, false
	}
	flags := binary.BigEndian.Uint16(data[6:])
	zoneSrc := binary.BigEndian.Uint32(data[8:])
	alg := binary.BigEndian.Uint16(data[18:])
	if flags&^nxCTFlagCommit != 0 || zoneSrc != 0 || alg != 0 {
		return nil, false
	}
	return &ActionCT{Commit: flags&nxCTFlagCommit != 0, Zone: binary.BigEndian.Uint16(data[12:]), Table: data[14], NAT: nat}, true
}

// CTFlushZone is the body of an OFPT_EXPERIMENTER message asking Open
// vSwitch to forget every connection of a conntrack zone
// (NXT_CT_FLUSH_ZONE; the switch answers only with an error).
type CTFlushZone struct{ Zone uint16 }

// WriteTo implements io.WriterTo: experimenter id, subtype, nx_zone_id.
func (m CTFlushZone) WriteTo(w io.Writer) (int64, error) {
	b := make([]byte, 16)
	binary.BigEndian.PutUint32(b[0:], NiciraExperimenter)
	binary.BigEndian.PutUint32(b[4:], nxtCTFlushZone)
	binary.BigEndian.PutUint16(b[14:], m.Zone)
	n, err := w.Write(b)
	return int64(n), err
}

// CTFlush is the body of an OFPT_EXPERIMENTER message asking Open vSwitch
// (3.1 and later) to forget the connections of a conntrack zone whose
// original-direction tuple matches (NXT_CT_FLUSH): a field left zero
// (invalid address, port 0, Proto 0) matches anything, so CTFlush{Zone: 5,
// Dst: a} forgets every connection of zone 5 first sent to a. The
// userspace tracker matches the tuple before NAT. The switch answers only
// with an error (one without the extension: bad subtype).
type CTFlush struct {
	Zone             uint16
	Proto            uint8      // IP protocol, 0 for any
	Src, Dst         netip.Addr // IPv4 or IPv6; invalid for any
	SrcPort, DstPort uint16     // 0 for any
}

// NXT_CT_FLUSH property types: outer ones, and those nested in a tuple.
const (
	ctFlushOrigTuple = 0 // NXT_CT_ORIG_DIRECTION
	ctFlushZoneID    = 2 // NXT_CT_ZONE_ID
	ctTupleSrc       = 0 // NXT_CT_SRC (16-byte IPv6, IPv4-mapped for IPv4)
	ctTupleDst       = 1 // NXT_CT_DST
	ctTupleSrcPort   = 2 // NXT_CT_SRC_PORT
	ctTupleDstPort   = 3 // NXT_CT_DST_PORT
)

// ctProp appends a property (type, length without padding, value) padded
// to a multiple of 8 bytes.
func ctProp(b []byte, typ uint16, val []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(4+len(val)))
	b = append(b, val...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// WriteTo implements io.WriterTo: experimenter id, subtype, the 8-byte
// nx_ct_flush (protocol, zeros), the zone property, then the original
// tuple as a nested property (header, 4 bytes of padding, its own
// properties) when any of its fields is set.
func (m CTFlush) WriteTo(w io.Writer) (int64, error) {
	b := make([]byte, 16, 80)
	binary.BigEndian.PutUint32(b[0:], NiciraExperimenter)
	binary.BigEndian.PutUint32(b[4:], nxtCTFlush)
	b[8] = m.Proto
	b = ctProp(b, ctFlushZoneID, binary.BigEndian.AppendUint16(nil, m.Zone))
	var t []byte
	if m.Src.IsValid() {
		a := m.Src.As16()
		t = ctProp(t, ctTupleSrc, a[:])
	}
	if m.Dst.IsValid() {
		a := m.Dst.As16()
		t = ctProp(t, ctTupleDst, a[:])
	}
	if m.SrcPort != 0 {
		t = ctProp(t, ctTupleSrcPort, binary.BigEndian.AppendUint16(nil, m.SrcPort))
	}
	if m.DstPort != 0 {
		t = ctProp(t, ctTupleDstPort, binary.BigEndian.AppendUint16(nil, m.DstPort))
	}
	if len(t) > 0 {
		b = binary.BigEndian.AppendUint16(b, ctFlushOrigTuple)
		b = binary.BigEndian.AppendUint16(b, uint16(8+len(t)))
		b = append(b, 0, 0, 0, 0)
		b = append(b, t...)
	}
	n, err := w.Write(b)
	return int64(n), err
}

// String renders the flush like the arguments of ovs-ofctl ct-flush:
// zone=5 'ct_nw_dst=203.0.113.10'.
func (m CTFlush) String() string {
	var t []string
	for _, a := range []struct {
		k string
		v netip.Addr
	}{{"src", m.Src}, {"dst", m.Dst}} {
		if a.v.IsValid() {
			k := "ct_nw_" + a.k
			if a.v.Is6() && !a.v.Is4In6() {
				k = "ct_ipv6_" + a.k
			}
			t = append(t, k+"="+a.v.Unmap().String())
		}
	}
	if m.Proto != 0 {
		t = append(t, fmt.Sprintf("ct_nw_proto=%d", m.Proto))
	}
	if m.SrcPort != 0 {
		t = append(t, fmt.Sprintf("ct_tp_src=%d", m.SrcPort))
	}
	if m.DstPort != 0 {
		t = append(t, fmt.Sprintf("ct_tp_dst=%d", m.DstPort))
	}
	s := fmt.Sprintf("zone=%d", m.Zone)
	if len(t) > 0 {
		s += " '" + strings.Join(t, ",") + "'"
	}
	return s
}
