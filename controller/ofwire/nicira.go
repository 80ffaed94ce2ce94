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
// NXT_CT_FLUSH_ZONE message.
const (
	NiciraExperimenter = 0x00002320 // NX_VENDOR_ID
	nxastCT            = 35         // NXAST_CT
	nxastNAT           = 36         // NXAST_NAT (nested in NXAST_CT)
	nxtCTFlushZone     = 29         // NXT_CT_FLUSH_ZONE
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
