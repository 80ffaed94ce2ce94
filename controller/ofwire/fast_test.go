package ofwire

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
)

// flowEntryBytes encodes one ofp_flow_stats entry with the given OXM TLVs
// (padded like a switch pads them) and raw instructions.
func flowEntryBytes(table uint8, prio uint16, cookie, pkts, byts uint64, oxm, inst []byte) []byte {
	mlen := 4 + len(oxm)
	padded := (mlen + 7) &^ 7
	n := 48 + padded + len(inst)
	b := make([]byte, 48, n)
	binary.BigEndian.PutUint16(b, uint16(n))
	b[2] = table
	binary.BigEndian.PutUint32(b[4:], 12)
	binary.BigEndian.PutUint32(b[8:], 500)
	binary.BigEndian.PutUint16(b[12:], prio)
	binary.BigEndian.PutUint16(b[14:], 30)
	binary.BigEndian.PutUint16(b[16:], 60)
	binary.BigEndian.PutUint16(b[18:], 1)
	binary.BigEndian.PutUint64(b[24:], cookie)
	binary.BigEndian.PutUint64(b[32:], pkts)
	binary.BigEndian.PutUint64(b[40:], byts)
	b = append(b, 0, 1, byte(mlen>>8), byte(mlen))
	b = append(b, oxm...)
	b = append(b, make([]byte, padded-mlen)...)
	return append(b, inst...)
}

var (
	// in_port=1 (4 bytes) and ipv4_dst=10.0.0.0/8 (masked, 8 bytes)
	oxmInPort  = []byte{0x80, 0, 0, 4, 0, 0, 0, 1}
	oxmIPv4Dst = []byte{0x80, 0, 0x17<<1 | 1, 8, 10, 0, 0, 0, 255, 0, 0, 0}
	// apply-actions output:2
	instOutput2 = []byte{0, 4, 0, 24, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 2, 0xff, 0xff, 0, 0, 0, 0, 0, 0}
)

func TestEachFlowEntryMatchesSlowDecoder(t *testing.T) {
	body := append(flowEntryBytes(3, 100, 0x0300000000000007, 10, 1500, append(append([]byte{}, oxmInPort...), oxmIPv4Dst...), instOutput2),
		flowEntryBytes(0, 0, 0, 0, 0, nil, nil)...)
	body = append(body, flowEntryBytes(254, 65535, ^uint64(0), ^uint64(0), ^uint64(0), oxmInPort, instOutput2)...)
	slow, err := DecodeFlowStats(body)
	if err != nil {
		t.Fatal(err)
	}
	var fast []FlowEntry
	if err := EachFlowEntry(body, func(e *FlowEntry) error {
		c := *e
		c.Match = append([]byte(nil), e.Match...)
		fast = append(fast, c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(fast) != 3 || len(slow) != 3 {
		t.Fatalf("fast %d entries, slow %d", len(fast), len(slow))
	}
	for i := range fast {
		f, s := fast[i], slow[i]
		if f.Table != s.Table || f.Priority != s.Priority || f.Cookie != s.Cookie || f.PacketCount != s.PacketCount ||
			f.ByteCount != s.ByteCount || f.DurationSec != s.DurationSec || f.DurationNSec != s.DurationNSec ||
			f.IdleTimeout != s.IdleTimeout || f.HardTimeout != s.HardTimeout || f.Flags != s.Flags {
			t.Errorf("entry %d: fast %+v, slow %+v", i, f, s)
		}
		m, err := DecodeOXM(f.Match)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if len(m) != len(s.Match) || (len(m) > 0 && !reflect.DeepEqual(m, s.Match)) {
			t.Errorf("entry %d: match %v, slow %v", i, m, s.Match)
		}
	}
	if !bytes.Equal(fast[0].Match, append(append([]byte{}, oxmInPort...), oxmIPv4Dst...)) || len(fast[1].Match) != 0 {
		t.Errorf("raw matches %x, %x", fast[0].Match, fast[1].Match)
	}
}

func TestEachFlowEntryErrors(t *testing.T) {
	good := flowEntryBytes(0, 1, 2, 3, 4, oxmInPort, instOutput2)
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for name, tc := range map[string]struct {
		body []byte
		want string
	}{
		"one trailing byte":     {append(append([]byte{}, good...), 0), "trailing"},
		"length too small":      {mut(func(b []byte) []byte { b[1] = 40; return b }), "out of range"},
		"length past body":      {mut(func(b []byte) []byte { b[1] += 8; return b }), "out of range"},
		"match not OXM":         {mut(func(b []byte) []byte { b[49] = 0; return b }), "not OXM"},
		"match length < 4":      {mut(func(b []byte) []byte { b[51] = 3; return b }), "match length"},
		"match past entry":      {mut(func(b []byte) []byte { b[51] = 200; return b }), "match length"},
		"OXM past match":        {mut(func(b []byte) []byte { b[55] = 9; return b }), "past the match"},
		"masked odd length":     {mut(func(b []byte) []byte { b[54] |= 1; b[55] = 3; b[51] = 11; return b }), "odd length"},
		"truncated OXM header":  {mut(func(b []byte) []byte { b[51] = 14; return b }), "truncated OXM header"},
		"second entry too long": {append(append([]byte{}, good...), good[:60]...), "entry 1"},
	} {
		err := EachFlowEntry(tc.body, func(*FlowEntry) error { return nil })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", name, err, tc.want)
		}
		if _, serr := DecodeFlowStats(tc.body); serr == nil {
			t.Errorf("%s: the slow decoder accepts what the fast one rejects", name)
		}
	}
}

// FuzzFlowEntries checks the fast flow-stats walk against the full
// decoder: whatever DecodeFlowStats accepts, EachFlowEntry accepts with
// the same fields and match; neither panics.
func FuzzFlowEntries(f *testing.F) {
	f.Add(flowEntryBytes(3, 100, 7, 10, 1500, append(append([]byte{}, oxmInPort...), oxmIPv4Dst...), instOutput2))
	f.Add(append(flowEntryBytes(0, 0, 0, 0, 0, nil, nil), flowEntryBytes(1, 2, 3, 4, 5, oxmInPort, nil)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast []FlowEntry
		ferr := EachFlowEntry(b, func(e *FlowEntry) error {
			if _, err := DecodeOXM(e.Match); err != nil {
				t.Fatalf("EachFlowEntry passed a match DecodeOXM rejects: %v", err)
			}
			fast = append(fast, *e)
			return nil
		})
		slow, serr := DecodeFlowStats(b)
		if serr != nil {
			return
		}
		if ferr != nil {
			t.Fatalf("slow decoder accepts, fast rejects: %v", ferr)
		}
		if len(fast) != len(slow) {
			t.Fatalf("fast %d entries, slow %d", len(fast), len(slow))
		}
		for i := range slow {
			m, _ := DecodeOXM(fast[i].Match)
			if fast[i].Cookie != slow[i].Cookie || fast[i].ByteCount != slow[i].ByteCount || fast[i].PacketCount != slow[i].PacketCount ||
				fast[i].Table != slow[i].Table || fast[i].Priority != slow[i].Priority || len(m) != len(slow[i].Match) {
				t.Fatalf("entry %d differs: fast %+v, slow %+v", i, fast[i], slow[i])
			}
			for j := range m {
				if !reflect.DeepEqual(m[j], slow[i].Match[j]) {
					t.Fatalf("entry %d field %d: %v vs %v", i, j, m[j], slow[i].Match[j])
				}
			}
		}
	})
}

// benchBody is a flow-stats body of n entries shaped like the collector's
// benchmark flows: ip, nw_src, masked nw_dst, one output action.
func benchBody(n int) []byte {
	var body []byte
	for i := 0; i < n; i++ {
		oxm := []byte{0x80, 0, 0x0a, 2, 0x08, 0x00, // eth_type=ip
			0x80, 0, 0x16, 4, 10, byte(i >> 16), byte(i >> 8), byte(i), // ipv4_src
			0x80, 0, 0x17<<1 | 1, 8, 10, 0, 0, 0, 255, 0, 0, 0} // ipv4_dst=10.0.0.0/8
		body = append(body, flowEntryBytes(uint8(1+i%4), uint16(100+i%7), uint64(i), uint64(i), uint64(100*i), oxm, instOutput2)...)
	}
	return body
}

// BenchmarkEachFlowEntry100k is the collector's decoder alone: fixed
// fields and raw match of 100,000 entries.
func BenchmarkEachFlowEntry100k(b *testing.B) {
	body := benchBody(100_000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := EachFlowEntry(body, func(*FlowEntry) error { n++; return nil }); err != nil || n != 100_000 {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(b.N*100_000)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkEachFlowStats100k is the full decoder (match fields,
// instructions, actions) on the same body, for comparison.
func BenchmarkEachFlowStats100k(b *testing.B) {
	body := benchBody(100_000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := EachFlowStats(body, func(*FlowStats) error { n++; return nil }); err != nil || n != 100_000 {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(b.N*100_000)/b.Elapsed().Seconds(), "entries/s")
}
