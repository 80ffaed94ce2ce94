package ofwire

import (
	"encoding/binary"
	"fmt"
	"io"
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
}

// Type implements ofp.Action.
func (a *ActionCT) Type() ofp.ActionType { return ofp.ActionTypeExperimenter }

// WriteTo implements io.WriterTo: the 24-byte nx_action_conntrack, no
// nested actions, no ALG.
func (a *ActionCT) WriteTo(w io.Writer) (int64, error) {
	b := make([]byte, ctActionLen)
	binary.BigEndian.PutUint16(b[0:], uint16(ofp.ActionTypeExperimenter))
	binary.BigEndian.PutUint16(b[2:], ctActionLen)
	binary.BigEndian.PutUint32(b[4:], NiciraExperimenter)
	binary.BigEndian.PutUint16(b[8:], nxastCT)
	if a.Commit {
		binary.BigEndian.PutUint16(b[10:], nxCTFlagCommit)
	}
	// b[12:16] zone_src = 0: the zone is the immediate value
	binary.BigEndian.PutUint16(b[16:], a.Zone)
	b[18] = a.Table
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
	return "ct(" + strings.Join(args, ",") + ")"
}

// decodeCT turns an experimenter action body (after the 4-byte header)
// into an ActionCT when it is a plain NXAST_CT (immediate zone, commit
// flag only, no ALG, no nested actions); anything else stays raw.
func decodeCT(data []byte) (*ActionCT, bool) {
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
	return &ActionCT{Commit: flags&nxCTFlagCommit != 0, Zone: binary.BigEndian.Uint16(data[12:]), Table: data[14]}, true
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
