package ofwire

import (
	"fmt"
	"net"

	"github.com/netrack/openflow/ofp"
)

// Multipart types used by Satellite (OpenFlow 1.3, ofp_multipart_type).
const (
	MultipartDesc      uint16 = 0
	MultipartFlow      uint16 = 1
	MultipartAggregate uint16 = 2
	MultipartTable     uint16 = 3
	MultipartPortStats uint16 = 4
	MultipartQueue     uint16 = 5
	MultipartGroup     uint16 = 6
	MultipartGroupDesc uint16 = 7
	MultipartPortDesc  uint16 = 13
)

// MultipartReplyMore is OFPMPF_REPLY_MORE: more parts follow.
const MultipartReplyMore = 1

// Hello is the decoded OFPT_HELLO body.
type Hello struct {
	// Bitmap holds the version bitmap element, bit n set = version n
	// supported. Nil when the peer sent no bitmap.
	Bitmap []uint32
}

// Supports reports whether the hello advertises version v. Without a
// bitmap, the header version is the highest the peer supports, and OpenFlow
// says the lower of the two versions is used.
func (h Hello) Supports(headerVersion, v uint8) bool {
	if h.Bitmap == nil {
		return headerVersion >= v
	}
	i := int(v / 32)
	return i < len(h.Bitmap) && h.Bitmap[i]&(1<<(v%32)) != 0
}

// DecodeHello decodes a hello body (ofp_hello_elem list).
func DecodeHello(b []byte) (Hello, error) {
	var h Hello
	c := newCursor("hello", b)
	for c.remaining() >= 4 && c.err == nil {
		typ := c.u16()
		length := int(c.u16())
		if length < 4 {
			c.failf("element length %d < 4", length)
			break
		}
		body := newCursor("hello element", c.bytes(length-4))
		if typ == 1 { // OFPHET_VERSIONBITMAP
			for body.remaining() >= 4 {
				h.Bitmap = append(h.Bitmap, body.u32())
			}
		}
		// elements are padded to 8 bytes
		if pad := (8 - length%8) % 8; pad > 0 && c.remaining() >= pad {
			c.skip(pad)
		}
	}
	return h, c.err
}

// Features is the decoded OFPT_FEATURES_REPLY.
type Features struct {
	DatapathID   uint64
	Buffers      uint32
	Tables       uint8
	AuxiliaryID  uint8
	Capabilities uint32
}

// DecodeFeatures decodes a features reply body.
func DecodeFeatures(b []byte) (Features, error) {
	c := newCursor("features reply", b)
	f := Features{DatapathID: c.u64(), Buffers: c.u32(), Tables: c.u8(), AuxiliaryID: c.u8()}
	c.skip(2)
	f.Capabilities = c.u32()
	c.skip(4)
	return f, c.err
}

// Port is an ofp_port: a port description.
type Port struct {
	No         uint32
	HWAddr     net.HardwareAddr
	Name       string
	Config     uint32
	State      uint32
	Curr       uint32
	Advertised uint32
	Supported  uint32
	Peer       uint32
	CurrSpeed  uint32 // kbps
	MaxSpeed   uint32 // kbps
}

// Port config and state bits used by Satellite.
const (
	PortConfigDown = 1 << 0 // OFPPC_PORT_DOWN: administratively down
	PortStateDown  = 1 << 0 // OFPPS_LINK_DOWN: no physical link
	PortStateLive  = 1 << 2 // OFPPS_LIVE: usable by fast-failover groups
)

// Up reports whether the port is administratively and physically up.
func (p Port) Up() bool { return p.Config&PortConfigDown == 0 && p.State&PortStateDown == 0 }

const portLen = 64

func decodePort(c *cursor) Port {
	p := Port{No: c.u32()}
	c.skip(4)
	if hw := c.bytes(6); hw != nil {
		p.HWAddr = append(net.HardwareAddr(nil), hw...)
	}
	c.skip(2)
	p.Name = c.cstring(16)
	p.Config, p.State = c.u32(), c.u32()
	p.Curr, p.Advertised, p.Supported, p.Peer = c.u32(), c.u32(), c.u32(), c.u32()
	p.CurrSpeed, p.MaxSpeed = c.u32(), c.u32()
	return p
}

// DecodePorts decodes a port-description multipart body (array of ofp_port).
func DecodePorts(b []byte) ([]Port, error) {
	if len(b)%portLen != 0 {
		return nil, fmt.Errorf("port desc: body of %d bytes is not a multiple of %d", len(b), portLen)
	}
	c := newCursor("port desc", b)
	ports := make([]Port, 0, len(b)/portLen)
	for c.remaining() > 0 && c.err == nil {
		ports = append(ports, decodePort(c))
	}
	return ports, c.err
}

// Port status reasons (ofp_port_reason).
const (
	PortReasonAdd    = 0
	PortReasonDelete = 1
	PortReasonModify = 2
)

// PortStatus is the decoded OFPT_PORT_STATUS.
type PortStatus struct {
	Reason uint8
	Port   Port
}

// DecodePortStatus decodes a port-status body.
func DecodePortStatus(b []byte) (PortStatus, error) {
	c := newCursor("port status", b)
	ps := PortStatus{Reason: c.u8()}
	c.skip(7)
	ps.Port = decodePort(c)
	if c.err == nil && ps.Reason > PortReasonModify {
		c.failf("unknown reason %d", ps.Reason)
	}
	return ps, c.err
}

// PortStats is one ofp_port_stats entry. OVS reports counters it does not
// support as all ones (^uint64(0)).
type PortStats struct {
	PortNo                    uint32
	RxPackets, TxPackets      uint64
	RxBytes, TxBytes          uint64
	RxDropped, TxDropped      uint64
	RxErrors, TxErrors        uint64
	RxFrameErr, RxOverErr     uint64
	RxCRCErr, Collisions      uint64
	DurationSec, DurationNSec uint32
}

const portStatsLen = 112

// DecodePortStats decodes a port-stats multipart body.
func DecodePortStats(b []byte) ([]PortStats, error) {
	if len(b)%portStatsLen != 0 {
		return nil, fmt.Errorf("port stats: body of %d bytes is not a multiple of %d", len(b), portStatsLen)
	}
	c := newCursor("port stats", b)
	out := make([]PortStats, 0, len(b)/portStatsLen)
	for c.remaining() > 0 && c.err == nil {
		s := PortStats{PortNo: c.u32()}
		c.skip(4)
		s.RxPackets, s.TxPackets, s.RxBytes, s.TxBytes = c.u64(), c.u64(), c.u64(), c.u64()
		s.RxDropped, s.TxDropped, s.RxErrors, s.TxErrors = c.u64(), c.u64(), c.u64(), c.u64()
		s.RxFrameErr, s.RxOverErr, s.RxCRCErr, s.Collisions = c.u64(), c.u64(), c.u64(), c.u64()
		s.DurationSec, s.DurationNSec = c.u32(), c.u32()
		out = append(out, s)
	}
	return out, c.err
}

// FlowStats is one ofp_flow_stats entry.
type FlowStats struct {
	Table        uint8
	DurationSec  uint32
	DurationNSec uint32
	Priority     uint16
	IdleTimeout  uint16
	HardTimeout  uint16
	Flags        uint16
	Cookie       uint64
	PacketCount  uint64
	ByteCount    uint64
	Match        []ofp.XM
	Instructions ofp.Instructions
}

const flowStatsFixedLen = 48

// DecodeFlowStats decodes a flow-stats multipart body. Each entry carries
// its own length; an entry that lies about it fails the whole body.
func DecodeFlowStats(b []byte) ([]FlowStats, error) {
	var out []FlowStats
	err := EachFlowStats(b, func(fs *FlowStats) error {
		out = append(out, *fs)
		return nil
	})
	return out, err
}

// EachFlowStats decodes a flow-stats body entry by entry, calling fn with a
// reused *FlowStats (copy what you keep). It avoids building a slice for
// very large tables.
func EachFlowStats(b []byte, fn func(*FlowStats) error) error {
	c := newCursor("flow stats", b)
	var fs FlowStats
	for i := 0; c.remaining() > 0; i++ {
		if c.remaining() < 2 {
			return fmt.Errorf("flow stats entry %d: %d trailing bytes", i, c.remaining())
		}
		length := int(c.b[c.off])<<8 | int(c.b[c.off+1])
		if length < flowStatsFixedLen+8 || length > c.remaining() {
			return fmt.Errorf("flow stats entry %d: length %d out of range (%d..%d)", i, length, flowStatsFixedLen+8, c.remaining())
		}
		e := newCursor("flow stats entry", c.bytes(length))
		e.skip(2)
		fs = FlowStats{Table: e.u8()}
		e.skip(1)
		fs.DurationSec, fs.DurationNSec = e.u32(), e.u32()
		fs.Priority, fs.IdleTimeout, fs.HardTimeout, fs.Flags = e.u16(), e.u16(), e.u16(), e.u16()
		e.skip(4)
		fs.Cookie, fs.PacketCount, fs.ByteCount = e.u64(), e.u64(), e.u64()
		fs.Match = decodeMatch(e)
		fs.Instructions = decodeInstructions(e, e.remaining())
		if e.err != nil {
			return fmt.Errorf("entry %d: %w", i, e.err)
		}
		if err := fn(&fs); err != nil {
			return err
		}
	}
	return nil
}

// TableStats is one ofp_table_stats entry.
type TableStats struct {
	Table        uint8
	ActiveCount  uint32
	LookupCount  uint64
	MatchedCount uint64
}

// DecodeTableStats decodes a table-stats multipart body.
func DecodeTableStats(b []byte) ([]TableStats, error) {
	if len(b)%24 != 0 {
		return nil, fmt.Errorf("table stats: body of %d bytes is not a multiple of 24", len(b))
	}
	c := newCursor("table stats", b)
	var out []TableStats
	for c.remaining() > 0 && c.err == nil {
		t := TableStats{Table: c.u8()}
		c.skip(3)
		t.ActiveCount, t.LookupCount, t.MatchedCount = c.u32(), c.u64(), c.u64()
		out = append(out, t)
	}
	return out, c.err
}

// Bucket is one group bucket.
type Bucket struct {
	Weight     uint16
	WatchPort  uint32
	WatchGroup uint32
	Actions    ofp.Actions
}

// GroupDesc is one ofp_group_desc entry.
type GroupDesc struct {
	Type    uint8
	GroupID uint32
	Buckets []Bucket
}

// DecodeGroupDesc decodes a group-desc multipart body (the library's decoder
// drops the buckets).
func DecodeGroupDesc(b []byte) ([]GroupDesc, error) {
	c := newCursor("group desc", b)
	var out []GroupDesc
	for i := 0; c.remaining() > 0 && c.err == nil; i++ {
		length := int(c.u16())
		if length < 8 {
			return nil, fmt.Errorf("group desc entry %d: length %d < 8", i, length)
		}
		e := newCursor(fmt.Sprintf("group desc entry %d", i), c.bytes(length-2))
		g := GroupDesc{Type: e.u8()}
		e.skip(1)
		g.GroupID = e.u32()
		for e.remaining() > 0 && e.err == nil {
			blen := int(e.u16())
			if blen < 16 {
				e.failf("bucket length %d < 16", blen)
				break
			}
			bc := newCursor("bucket", e.bytes(blen-2))
			bk := Bucket{Weight: bc.u16(), WatchPort: bc.u32(), WatchGroup: bc.u32()}
			bc.skip(4)
			bk.Actions = decodeActions(bc, bc.remaining())
			if bc.err != nil {
				e.failf("%v", bc.err)
				break
			}
			g.Buckets = append(g.Buckets, bk)
		}
		if e.err != nil {
			return nil, e.err
		}
		out = append(out, g)
	}
	return out, c.err
}

// GroupStats is one ofp_group_stats entry.
type GroupStats struct {
	GroupID      uint32
	RefCount     uint32
	PacketCount  uint64
	ByteCount    uint64
	DurationSec  uint32
	DurationNSec uint32
	Buckets      []BucketCounter
}

// BucketCounter holds one bucket's counters.
type BucketCounter struct {
	PacketCount uint64
	ByteCount   uint64
}

// DecodeGroupStats decodes a group-stats multipart body.
func DecodeGroupStats(b []byte) ([]GroupStats, error) {
	c := newCursor("group stats", b)
	var out []GroupStats
	for i := 0; c.remaining() > 0 && c.err == nil; i++ {
		length := int(c.u16())
		if length < 40 || (length-40)%16 != 0 {
			return nil, fmt.Errorf("group stats entry %d: bad length %d", i, length)
		}
		e := newCursor(fmt.Sprintf("group stats entry %d", i), c.bytes(length-2))
		e.skip(2)
		g := GroupStats{GroupID: e.u32(), RefCount: e.u32()}
		e.skip(4)
		g.PacketCount, g.ByteCount = e.u64(), e.u64()
		g.DurationSec, g.DurationNSec = e.u32(), e.u32()
		for e.remaining() >= 16 {
			g.Buckets = append(g.Buckets, BucketCounter{PacketCount: e.u64(), ByteCount: e.u64()})
		}
		if e.err != nil {
			return nil, e.err
		}
		out = append(out, g)
	}
	return out, c.err
}

// Desc is the switch description (OFPMP_DESC).
type Desc struct {
	Manufacturer, Hardware, Software, Serial, Datapath string
}

// DecodeDesc decodes a description multipart body.
func DecodeDesc(b []byte) (Desc, error) {
	c := newCursor("desc", b)
	d := Desc{Manufacturer: c.cstring(256), Hardware: c.cstring(256), Software: c.cstring(256), Serial: c.cstring(32), Datapath: c.cstring(256)}
	return d, c.err
}

// PacketIn is the decoded OFPT_PACKET_IN.
type PacketIn struct {
	BufferID uint32
	TotalLen uint16
	Reason   uint8
	Table    uint8
	Cookie   uint64
	Match    []ofp.XM
	Data     []byte
}

// InPort returns the OXM in_port of the packet-in (0 if absent).
func (p PacketIn) InPort() uint32 {
	for _, xm := range p.Match {
		if xm.Class == ofp.XMClassOpenflowBasic && xm.Type == ofp.XMTypeInPort && len(xm.Value) == 4 {
			return uint32(xm.Value[0])<<24 | uint32(xm.Value[1])<<16 | uint32(xm.Value[2])<<8 | uint32(xm.Value[3])
		}
	}
	return 0
}

// DecodePacketIn decodes a packet-in body.
func DecodePacketIn(b []byte) (PacketIn, error) {
	c := newCursor("packet-in", b)
	p := PacketIn{BufferID: c.u32(), TotalLen: c.u16(), Reason: c.u8(), Table: c.u8(), Cookie: c.u64()}
	p.Match = decodeMatch(c)
	c.skip(2)
	p.Data = c.rest()
	return p, c.err
}

// FlowRemoved is the decoded OFPT_FLOW_REMOVED.
type FlowRemoved struct {
	Cookie       uint64
	Priority     uint16
	Reason       uint8
	Table        uint8
	DurationSec  uint32
	DurationNSec uint32
	IdleTimeout  uint16
	HardTimeout  uint16
	PacketCount  uint64
	ByteCount    uint64
	Match        []ofp.XM
}

// DecodeFlowRemoved decodes a flow-removed body.
func DecodeFlowRemoved(b []byte) (FlowRemoved, error) {
	c := newCursor("flow removed", b)
	f := FlowRemoved{Cookie: c.u64(), Priority: c.u16(), Reason: c.u8(), Table: c.u8()}
	f.DurationSec, f.DurationNSec = c.u32(), c.u32()
	f.IdleTimeout, f.HardTimeout = c.u16(), c.u16()
	f.PacketCount, f.ByteCount = c.u64(), c.u64()
	f.Match = decodeMatch(c)
	return f, c.err
}

// Error is a decoded OFPT_ERROR. It implements error.
type Error struct {
	Type uint16
	Code uint16
	Data []byte
}

func (e *Error) Error() string {
	return fmt.Sprintf("switch error: %s", ofp.Error{Type: ofp.ErrType(e.Type), Code: ofp.ErrCode(e.Code)}.String())
}

// DecodeError decodes an error body.
func DecodeError(b []byte) (*Error, error) {
	c := newCursor("error", b)
	e := &Error{Type: c.u16(), Code: c.u16()}
	e.Data = c.rest()
	return e, c.err
}

// RoleReply is the decoded OFPT_ROLE_REPLY.
type RoleReply struct {
	Role         uint32
	GenerationID uint64
}

// DecodeRoleReply decodes a role reply body.
func DecodeRoleReply(b []byte) (RoleReply, error) {
	c := newCursor("role reply", b)
	r := RoleReply{Role: c.u32()}
	c.skip(4)
	r.GenerationID = c.u64()
	return r, c.err
}

// MultipartHeader is the head of a multipart reply body.
type MultipartHeader struct {
	Type  uint16
	Flags uint16
}

// SplitMultipart splits a multipart reply body into its header and payload.
func SplitMultipart(b []byte) (MultipartHeader, []byte, error) {
	c := newCursor("multipart reply", b)
	h := MultipartHeader{Type: c.u16(), Flags: c.u16()}
	c.skip(4)
	return h, c.rest(), c.err
}

// FlowMod is a decoded OFPT_FLOW_MOD. Satellite only sends flow-mods; this
// decoder serves the switch emulator and tests. MatchBytes and
// InstructionBytes keep the encoded forms (match including its padding).
type FlowMod struct {
	Cookie, CookieMask uint64
	Table, Command     uint8
	IdleTimeout        uint16
	HardTimeout        uint16
	Priority           uint16
	BufferID           uint32
	OutPort            uint32
	OutGroup           uint32
	Flags              uint16
	Match              []ofp.XM
	Instructions       ofp.Instructions
	MatchBytes         []byte
	InstructionBytes   []byte
}

// DecodeFlowMod decodes a flow-mod body.
func DecodeFlowMod(b []byte) (FlowMod, error) {
	c := newCursor("flow-mod", b)
	f := FlowMod{Cookie: c.u64(), CookieMask: c.u64(), Table: c.u8(), Command: c.u8()}
	f.IdleTimeout, f.HardTimeout, f.Priority = c.u16(), c.u16(), c.u16()
	f.BufferID, f.OutPort, f.OutGroup = c.u32(), c.u32(), c.u32()
	f.Flags = c.u16()
	c.skip(2)
	start := c.off
	f.Match = decodeMatch(c)
	if c.err == nil {
		f.MatchBytes = c.b[start:c.off]
		f.InstructionBytes = c.b[c.off:]
	}
	f.Instructions = decodeInstructions(c, c.remaining())
	return f, c.err
}
