package ofwire

import (
	"encoding/binary"
	"io"

	"github.com/netrack/openflow/ofp"
)

// decodeMatch decodes an ofp_match (OXM type) including its padding to a
// multiple of 8 bytes.
func decodeMatch(c *cursor) []ofp.XM {
	start := c.off
	typ := c.u16()
	length := int(c.u16())
	if c.err != nil {
		return nil
	}
	if typ != uint16(ofp.MatchTypeXM) {
		c.failf("match type %d is not OXM", typ)
		return nil
	}
	if length < 4 {
		c.failf("match length %d < 4", length)
		return nil
	}
	m := newCursor("match", c.bytes(length-4))
	if c.err != nil {
		return nil
	}
	var fields []ofp.XM
	for m.remaining() > 0 && m.err == nil {
		class := m.u16()
		field := m.u8()
		l := int(m.u8())
		val := m.bytes(l)
		if m.err != nil {
			break
		}
		xm := ofp.XM{Class: ofp.XMClass(class), Type: ofp.XMType(field >> 1)}
		if field&1 == 1 {
			if l%2 != 0 {
				m.failf("masked field %d has odd length %d", field>>1, l)
				break
			}
			xm.Value = append(ofp.XMValue(nil), val[:l/2]...)
			xm.Mask = append(ofp.XMValue(nil), val[l/2:]...)
		} else {
			xm.Value = append(ofp.XMValue(nil), val...)
		}
		fields = append(fields, xm)
	}
	if m.err != nil {
		c.failf("%v", m.err)
		return nil
	}
	// pad the whole match to 8 bytes
	if pad := (c.off - start) % 8; pad != 0 {
		c.skip(8 - pad)
	}
	return fields
}

// Instruction and action type numbers (OpenFlow 1.3).
const (
	instGotoTable     = 1
	instWriteMetadata = 2
	instWriteActions  = 3
	instApplyActions  = 4
	instClearActions  = 5
	instMeter         = 6
)

// decodeInstructions decodes n bytes of instructions.
func decodeInstructions(c *cursor, n int) ofp.Instructions {
	ic := newCursor("instructions", c.bytes(n))
	if c.err != nil {
		return nil
	}
	var out ofp.Instructions
	for ic.remaining() > 0 && ic.err == nil {
		typ := ic.u16()
		length := int(ic.u16())
		if length < 4 || length%8 != 0 {
			ic.failf("instruction type %d has bad length %d", typ, length)
			break
		}
		b := newCursor(ic.what, ic.bytes(length-4))
		if ic.err != nil {
			break
		}
		switch typ {
		case instGotoTable:
			out = append(out, &ofp.InstructionGotoTable{Table: ofp.Table(b.u8())})
		case instWriteMetadata:
			b.skip(4)
			out = append(out, &ofp.InstructionWriteMetadata{Metadata: b.u64(), MetadataMask: b.u64()})
		case instWriteActions, instApplyActions:
			b.skip(4)
			acts := decodeActions(b, b.remaining())
			if typ == instApplyActions {
				out = append(out, &ofp.InstructionApplyActions{Actions: acts})
			} else {
				out = append(out, &ofp.InstructionWriteActions{Actions: acts})
			}
		case instClearActions:
			out = append(out, &ofp.InstructionClearActions{})
		case instMeter:
			out = append(out, &ofp.InstructionMeter{Meter: ofp.Meter(b.u32())})
		default:
			out = append(out, &RawInstruction{Typ: typ, Data: append([]byte(nil), b.rest()...)})
		}
		if b.err != nil {
			ic.failf("%v", b.err)
		}
	}
	if ic.err != nil {
		c.failf("%v", ic.err)
		return nil
	}
	return out
}

// decodeActions decodes n bytes of an action list.
func decodeActions(c *cursor, n int) ofp.Actions {
	ac := newCursor("actions", c.bytes(n))
	if c.err != nil {
		return nil
	}
	var out ofp.Actions
	for ac.remaining() > 0 && ac.err == nil {
		typ := ofp.ActionType(ac.u16())
		length := int(ac.u16())
		if length < 8 || length%8 != 0 {
			ac.failf("action type %d has bad length %d", typ, length)
			break
		}
		b := newCursor(ac.what, ac.bytes(length-4))
		if ac.err != nil {
			break
		}
		switch typ {
		case ofp.ActionTypeOutput:
			out = append(out, &ofp.ActionOutput{Port: ofp.PortNo(b.u32()), MaxLen: b.u16()})
		case ofp.ActionTypeGroup:
			out = append(out, &ofp.ActionGroup{Group: ofp.Group(b.u32())})
		case ofp.ActionTypeSetQueue:
			out = append(out, &ofp.ActionSetQueue{QueueID: ofp.Queue(b.u32())})
		case ofp.ActionTypePushVLAN:
			out = append(out, &ofp.ActionPushVLAN{EtherType: b.u16()})
		case ofp.ActionTypePushMPLS:
			out = append(out, &ofp.ActionPushMPLS{EtherType: b.u16()})
		case ofp.ActionTypePopMPLS:
			out = append(out, &ofp.ActionPopMPLS{EtherType: b.u16()})
		case ofp.ActionTypePushPBB:
			out = append(out, &ofp.ActionPushPBB{EtherType: b.u16()})
		case ofp.ActionTypePopVLAN:
			out = append(out, &ofp.ActionPopVLAN{})
		case ofp.ActionTypeDecNwTTL:
			out = append(out, &ofp.ActionDecNetworkTTL{})
		case ofp.ActionTypeSetNwTTL:
			out = append(out, &ofp.ActionSetNetworkTTL{TTL: b.u8()})
		case ofp.ActionTypeSetMPLSTTL:
			out = append(out, &ofp.ActionSetMPLSTTL{TTL: b.u8()})
		case ofp.ActionTypeDecMPLSTTL:
			out = append(out, &ofp.ActionDecMPLSTTL{})
		case ofp.ActionTypeCopyTTLOut:
			out = append(out, &ofp.ActionCopyTTLOut{})
		case ofp.ActionTypeCopyTTLIn:
			out = append(out, &ofp.ActionCopyTTLIn{})
		case ofp.ActionTypeSetField:
			class := b.u16()
			field := b.u8()
			l := int(b.u8())
			val := b.bytes(l)
			if b.err == nil {
				xm := ofp.XM{Class: ofp.XMClass(class), Type: ofp.XMType(field >> 1), Value: append(ofp.XMValue(nil), val...)}
				out = append(out, &ofp.ActionSetField{Field: xm})
			}
		default:
			data := b.rest()
			if typ == ofp.ActionTypeExperimenter {
				if ct, ok := decodeCT(data); ok {
					out = append(out, ct)
					break
				}
			}
			out = append(out, &RawAction{Typ: typ, Data: append([]byte(nil), data...)})
		}
		if b.err != nil {
			ac.failf("%v", b.err)
		}
	}
	if ac.err != nil {
		c.failf("%v", ac.err)
		return nil
	}
	return out
}

// RawAction is an action Satellite does not interpret (e.g. an OVS
// experimenter action). It re-encodes byte for byte.
type RawAction struct {
	Typ  ofp.ActionType
	Data []byte // everything after the 4-byte action header
}

// Type implements ofp.Action.
func (a *RawAction) Type() ofp.ActionType { return a.Typ }

// WriteTo implements io.WriterTo.
func (a *RawAction) WriteTo(w io.Writer) (int64, error) {
	return writeTLV(w, uint16(a.Typ), a.Data)
}

// ReadFrom implements io.ReaderFrom; raw actions are only produced by the
// decoder, so reading one from a stream is not supported.
func (a *RawAction) ReadFrom(io.Reader) (int64, error) { return 0, io.EOF }

// RawInstruction is an instruction Satellite does not interpret.
type RawInstruction struct {
	Typ  uint16
	Data []byte
}

// Type implements ofp.Instruction.
func (i *RawInstruction) Type() ofp.InstructionType { return ofp.InstructionType(i.Typ) }

// WriteTo implements io.WriterTo.
func (i *RawInstruction) WriteTo(w io.Writer) (int64, error) { return writeTLV(w, i.Typ, i.Data) }

// ReadFrom implements io.ReaderFrom; see RawAction.ReadFrom.
func (i *RawInstruction) ReadFrom(io.Reader) (int64, error) { return 0, io.EOF }

func writeTLV(w io.Writer, typ uint16, data []byte) (int64, error) {
	b := make([]byte, 4+len(data))
	binary.BigEndian.PutUint16(b, typ)
	binary.BigEndian.PutUint16(b[2:], uint16(4+len(data)))
	copy(b[4:], data)
	n, err := w.Write(b)
	return int64(n), err
}
