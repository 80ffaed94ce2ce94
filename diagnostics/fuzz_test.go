package diagnostics

import (
	"encoding/binary"
	"testing"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// byteSource turns fuzz input into choices; it yields zeros when empty.
type byteSource struct{ b []byte }

func (s *byteSource) u8() uint8 {
	if len(s.b) == 0 {
		return 0
	}
	v := s.b[0]
	s.b = s.b[1:]
	return v
}

func (s *byteSource) u16() uint16 { return uint16(s.u8())<<8 | uint16(s.u8()) }
func (s *byteSource) u32() uint32 { return uint32(s.u16())<<16 | uint32(s.u16()) }

var fuzzFields = []uint8{fInPort, fMetadata, fEthDst, fEthSrc, fEthType, fVLANVID, fVLANPCP, fIPProto, fIPv4Src, fIPv4Dst,
	fTCPDst, fUDPSrc, fICMPType, fARPOp, fARPTPA, fTunnelID, 33 /* unknown to the simulator */}

func (s *byteSource) xm() ofp.XM {
	f := fuzzFields[int(s.u8())%len(fuzzFields)]
	size := int(fieldSize[f%40])
	if size == 0 {
		size = 4
	}
	v := make([]byte, size)
	for i := range v {
		v[i] = s.u8() % 4 // small values collide with the packet's more often
	}
	xm := ofp.XM{Class: ofp.XMClassOpenflowBasic, Type: ofp.XMType(f), Value: v}
	if s.u8()%4 == 0 {
		m := make([]byte, size)
		for i := range m {
			m[i] = s.u8()
		}
		xm.Mask = m
	}
	return xm
}

func (s *byteSource) action() ofp.Action {
	switch s.u8() % 10 {
	case 0:
		ports := []uint32{1, 2, 3, 9, PortIn, PortFlood, PortController, PortLocal, PortNormal, PortTable}
		return &ofp.ActionOutput{Port: ofp.PortNo(ports[int(s.u8())%len(ports)])}
	case 1:
		return &ofp.ActionGroup{Group: ofp.Group(s.u8() % 5)}
	case 2:
		xm := s.xm()
		xm.Mask = nil
		return &ofp.ActionSetField{Field: xm}
	case 3:
		return &ofp.ActionPushVLAN{EtherType: 0x8100}
	case 4:
		return &ofp.ActionPopVLAN{}
	case 5:
		return &ofp.ActionDecNetworkTTL{}
	case 6:
		return &ofp.ActionSetNetworkTTL{TTL: s.u8()}
	case 7:
		return &ofwire.RawAction{Typ: 0xffff}
	default:
		return &ofp.ActionOutput{Port: ofp.PortNo(s.u8() % 4)}
	}
}

func (s *byteSource) actions() ofp.Actions {
	n := int(s.u8() % 4)
	out := make(ofp.Actions, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, s.action())
	}
	return out
}

// fuzzTables builds random tables and a packet from data.
func fuzzTables(data []byte) (*Tables, Packet) {
	s := &byteSource{b: data}
	var flows []Flow
	nf := int(s.u8() % 24)
	for i := 0; i < nf; i++ {
		f := Flow{Table: s.u8() % 6, Priority: s.u16() % 8}
		for j := int(s.u8() % 4); j > 0; j-- {
			f.Match = append(f.Match, s.xm())
		}
		for j := int(s.u8() % 4); j > 0; j-- {
			switch s.u8() % 6 {
			case 0:
				f.Instructions = append(f.Instructions, &ofp.InstructionApplyActions{Actions: s.actions()})
			case 1:
				f.Instructions = append(f.Instructions, &ofp.InstructionWriteActions{Actions: s.actions()})
			case 2:
				f.Instructions = append(f.Instructions, &ofp.InstructionClearActions{})
			case 3:
				f.Instructions = append(f.Instructions, &ofp.InstructionWriteMetadata{Metadata: uint64(s.u16()), MetadataMask: uint64(s.u16())})
			case 4:
				f.Instructions = append(f.Instructions, &ofp.InstructionGotoTable{Table: ofp.Table(s.u8() % 8)})
			case 5:
				f.Instructions = append(f.Instructions, &ofp.InstructionMeter{Meter: 1})
			}
		}
		flows = append(flows, f)
	}
	var groups []Group
	for id := uint32(0); id < uint32(s.u8()%5); id++ {
		g := Group{ID: id, Type: s.u8() % 5}
		for j := int(s.u8() % 4); j > 0; j-- {
			g.Buckets = append(g.Buckets, ofwire.Bucket{Weight: uint16(s.u8() % 3), WatchPort: uint32(s.u8() % 5), WatchGroup: uint32(s.u8() % 6), Actions: s.actions()})
		}
		groups = append(groups, g)
	}
	var ps []Port
	for no := uint32(1); no <= 4; no++ {
		b := s.u8()
		ps = append(ps, Port{No: no, Up: b&1 == 0, Live: b&2 == 0})
	}
	var ip [4]byte
	binary.BigEndian.PutUint32(ip[:], s.u32())
	p := Packet{InPort: uint32(s.u8() % 5), EthSrc: uint64(s.u8() % 4), EthDst: uint64(s.u8() % 4), TTL: s.u8() % 3,
		IPSrc: uint32(s.u8() % 4), IPDst: uint32(s.u8() % 4), L4Dst: uint16(s.u8() % 4), NVLAN: s.u8() % 3}
	p.EthType = []uint16{EthIPv4, EthARP, 0x88cc}[s.u8()%3]
	p.IPProto = []uint8{ProtoICMP, ProtoTCP, ProtoUDP, 0}[s.u8()%4]
	return NewTables(1, "fuzz", flows, groups, ps), p
}

// FuzzPipeline: random tables and packets never panic, and every run ends
// within the bounds.
func FuzzPipeline(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{4, 0, 0, 0, 1, 2, 1, 0, 0, 1, 3, 3, 0, 1, 4, 1})
	f.Add([]byte("\x10\x00\x00\x01\x03\x00\x00\x00\x02\x04\x05\x01\x02\x03\x00\x01\x02\x03\x04\x05\x06\x07"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tb, p := fuzzTables(data)
		r := tb.Run(p)
		if len(r.Steps) > 256 || len(r.Emits) > maxEmits {
			t.Fatalf("unbounded run: %d steps, %d emits", len(r.Steps), len(r.Emits))
		}
		if len(r.Steps) == 0 {
			t.Fatal("no step")
		}
		_ = p.String()
		// and across a fabric of two such switches linked port 1 <-> port 1
		tb2, _ := fuzzTables(append([]byte{0x55}, data...))
		fab := &Fabric{Switches: map[uint64]*Tables{1: tb, 2: tb2.withDPID(2)}, Links: map[Endpoint]Endpoint{{1, 1}: {2, 1}, {2, 1}: {1, 1}, {1, 2}: {1, 3}, {1, 3}: {1, 2}}}
		tr := fab.Trace(Endpoint{1, p.InPort}, p)
		if tr.Verdict == "" {
			t.Fatal("no verdict")
		}
	})
}

func (t *Tables) withDPID(d uint64) *Tables {
	c := *t
	c.DPID = d
	return &c
}
