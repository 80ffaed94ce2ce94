package ofwire

import (
	"encoding/binary"
	"fmt"

	"github.com/netrack/openflow/ofp"
)

// FlowEntry is the fixed part of one ofp_flow_stats entry plus its match as
// raw OXM bytes. It is what statistics collection needs from a flow: the
// identity (table, priority, cookie, match) and the counters, without
// decoding instructions or allocating.
type FlowEntry struct {
	Table        uint8
	Priority     uint16
	IdleTimeout  uint16
	HardTimeout  uint16
	Flags        uint16
	DurationSec  uint32
	DurationNSec uint32
	Cookie       uint64
	PacketCount  uint64
	ByteCount    uint64
	// Match holds the OXM TLVs of the match: no ofp_match header, no
	// padding. It shares the body passed to EachFlowEntry; copy it to keep
	// it. Decode it with DecodeOXM.
	Match []byte
}

// EachFlowEntry walks a flow-stats multipart body entry by entry and calls
// fn with a reused *FlowEntry. It checks the framing of every entry (its
// length, the match header, padding and OXM TLV lengths) but does not
// decode instructions, so it accepts an entry whose instructions
// DecodeFlowStats would reject. It never allocates, and it stops at the
// first entry that does not frame, or at the first error fn returns.
func EachFlowEntry(b []byte, fn func(*FlowEntry) error) error {
	var e FlowEntry
	for i, off := 0, 0; off < len(b); i++ {
		rem := len(b) - off
		if rem < 2 {
			return fmt.Errorf("flow stats entry %d: %d trailing bytes", i, rem)
		}
		length := int(binary.BigEndian.Uint16(b[off:]))
		if length < flowStatsFixedLen+8 || length > rem {
			return fmt.Errorf("flow stats entry %d: length %d out of range (%d..%d)", i, length, flowStatsFixedLen+8, rem)
		}
		p := b[off : off+length : off+length]
		e.Table = p[2]
		e.DurationSec = binary.BigEndian.Uint32(p[4:])
		e.DurationNSec = binary.BigEndian.Uint32(p[8:])
		e.Priority = binary.BigEndian.Uint16(p[12:])
		e.IdleTimeout = binary.BigEndian.Uint16(p[14:])
		e.HardTimeout = binary.BigEndian.Uint16(p[16:])
		e.Flags = binary.BigEndian.Uint16(p[18:])
		e.Cookie = binary.BigEndian.Uint64(p[24:])
		e.PacketCount = binary.BigEndian.Uint64(p[32:])
		e.ByteCount = binary.BigEndian.Uint64(p[40:])
		// ofp_match: type, length (header included, padding excluded), TLVs.
		m := p[flowStatsFixedLen:]
		if typ := binary.BigEndian.Uint16(m); typ != uint16(ofp.MatchTypeXM) {
			return fmt.Errorf("flow stats entry %d: match type %d is not OXM", i, typ)
		}
		mlen := int(binary.BigEndian.Uint16(m[2:]))
		if mlen < 4 || (mlen+7)&^7 > len(m) {
			return fmt.Errorf("flow stats entry %d: match length %d out of range (4..%d)", i, mlen, len(m))
		}
		e.Match = m[4:mlen:mlen]
		if err := checkOXM(e.Match); err != nil {
			return fmt.Errorf("flow stats entry %d: %w", i, err)
		}
		if err := fn(&e); err != nil {
			return err
		}
		off += length
	}
	return nil
}

// checkOXM checks that b is a sequence of whole OXM TLVs.
func checkOXM(b []byte) error {
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return fmt.Errorf("match: truncated OXM header at byte %d", off)
		}
		l := int(b[off+3])
		if b[off+2]&1 == 1 && l%2 != 0 {
			return fmt.Errorf("match: masked field %d has odd length %d", b[off+2]>>1, l)
		}
		off += 4 + l
		if off > len(b) {
			return fmt.Errorf("match: OXM field runs %d bytes past the match", off-len(b))
		}
	}
	return nil
}

// DecodeOXM decodes the raw OXM TLVs of a FlowEntry's Match into fields,
// exactly as DecodeFlowStats decodes a match.
func DecodeOXM(b []byte) ([]ofp.XM, error) {
	if err := checkOXM(b); err != nil {
		return nil, err
	}
	var fields []ofp.XM
	for off := 0; off < len(b); {
		class := binary.BigEndian.Uint16(b[off:])
		field := b[off+2]
		l := int(b[off+3])
		val := b[off+4 : off+4+l]
		xm := ofp.XM{Class: ofp.XMClass(class), Type: ofp.XMType(field >> 1)}
		if field&1 == 1 {
			xm.Value = append(ofp.XMValue(nil), val[:l/2]...)
			xm.Mask = append(ofp.XMValue(nil), val[l/2:]...)
		} else {
			xm.Value = append(ofp.XMValue(nil), val...)
		}
		fields = append(fields, xm)
		off += 4 + l
	}
	return fields, nil
}
