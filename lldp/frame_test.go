package lldp

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	testMAC    = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	sentAt     = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	testProbe  = Probe{DPID: 1, Port: 1, SystemName: "satellite", Sent: sentAt}
)

var errKinds = []error{ErrNotLLDP, ErrMalformed, ErrUnsigned, ErrBadSignature, ErrStale, ErrFuture}

// kindOf returns the one sentinel err wraps, failing if it wraps none or
// several.
func kindOf(t testing.TB, err error) error {
	t.Helper()
	var k error
	for _, s := range errKinds {
		if errors.Is(err, s) {
			if k != nil {
				t.Fatalf("error %q wraps both %v and %v", err, k, s)
			}
			k = s
		}
	}
	if k == nil && err != nil {
		t.Fatalf("error %q wraps no sentinel", err)
	}
	return k
}

func wantKind(t testing.TB, err, want error) {
	t.Helper()
	if got := kindOf(t, err); got != want {
		t.Fatalf("error %v, want kind %v", err, want)
	}
}

func testSigner(t testing.TB) *Signer {
	t.Helper()
	s, err := NewSigner(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signedFrame(t testing.TB, s *Signer, p Probe) []byte {
	t.Helper()
	b, err := s.Encode(p, testMAC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tlvPos is where one TLV sits in a frame.
type tlvPos struct {
	typ      layers.LLDPTLVType
	hdr, val int // offsets of the header and of the value
	n        int // value length
}

// walk lists the TLVs of an untagged LLDP frame up to and including End.
func walkTLVs(t testing.TB, frame []byte) []tlvPos {
	t.Helper()
	var out []tlvPos
	for off := 14; off+2 <= len(frame); {
		p := tlvPos{typ: layers.LLDPTLVType(frame[off] >> 1), hdr: off, val: off + 2, n: int(frame[off]&1)<<8 | int(frame[off+1])}
		out = append(out, p)
		if p.typ == layers.LLDPTLVEnd {
			return out
		}
		off += 2 + p.n
	}
	t.Fatal("no End TLV")
	return nil
}

func rawTLV(typ layers.LLDPTLVType, value ...byte) []byte {
	return append([]byte{byte(typ)<<1 | byte(len(value)>>8), byte(len(value))}, value...)
}

// rawFrame is an untagged LLDP frame made of the given TLVs, as is.
func rawFrame(tlvs ...[]byte) []byte {
	b := append([]byte{}, lldpDst...)
	b = append(b, testMAC...)
	b = append(b, 0x88, 0xcc)
	for _, t := range tlvs {
		b = append(b, t...)
	}
	return b
}

var (
	chassisTLV = rawTLV(layers.LLDPTLVChassisID, append([]byte{7}, "dpid:0000000000000001"...)...)
	portTLV    = rawTLV(layers.LLDPTLVPortID, 7, '1')
	ttlTLV     = rawTLV(layers.LLDPTLVTTL, 0, 120)
	endTLV     = rawTLV(layers.LLDPTLVEnd)
)

// signedOrg is a Satellite TLV signing f with s.
func signedOrg(s *Signer, f *fields) []byte {
	v := []byte{0x02, 0x53, 0x54, 1, SignatureVersion}
	v = binary.BigEndian.AppendUint64(v, uint64(f.ts))
	return rawTLV(layers.LLDPTLVOrgSpecific, s.appendTag(v, f)...)
}

func TestRoundTrip(t *testing.T) {
	s := testSigner(t)
	for _, p := range []Probe{
		testProbe,
		{DPID: 0xfedcba9876543210, Port: 0xfffffffe, SystemName: "sw-ünïcode", Sent: sentAt},
		{DPID: 0, Port: 0, Sent: sentAt}, // no System Name TLV
		{DPID: 42, Port: 48, SystemName: strings.Repeat("x", 255), Sent: sentAt},
	} {
		frame := signedFrame(t, s, p)
		got, err := s.Verify(frame, sentAt.Add(3*time.Millisecond), time.Second)
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		if got.DPID != p.DPID || got.Port != p.Port || got.SystemName != p.SystemName || !got.Sent.Equal(p.Sent) {
			t.Errorf("got %+v, want %+v", got, p)
		}
		if lat := sentAt.Add(3 * time.Millisecond).Sub(got.Sent); lat != 3*time.Millisecond {
			t.Errorf("latency %v, want 3ms", lat)
		}
		n, err := Decode(frame)
		if err != nil {
			t.Fatal(err)
		}
		want := Neighbor{
			SrcMAC: testMAC, ChassisIDSubtype: layers.LLDPChassisIDSubTypeLocal, ChassisID: string(appendDPID(nil, p.DPID)),
			PortIDSubtype: layers.LLDPPortIDSubtypeLocal, PortID: portString(p.Port), TTL: DefaultTTL, SystemName: p.SystemName,
		}
		if !neighborEqual(n, want) {
			t.Errorf("Decode: got %+v, want %+v", n, want)
		}
	}
}

func portString(p uint32) string { return string(appendUint(nil, uint64(p))) }

func appendUint(b []byte, v uint64) []byte {
	if v >= 10 {
		b = appendUint(b, v/10)
	}
	return append(b, byte('0'+v%10))
}

func neighborEqual(a, b Neighbor) bool {
	return bytes.Equal(a.SrcMAC, b.SrcMAC) && a.ChassisIDSubtype == b.ChassisIDSubtype && a.ChassisID == b.ChassisID &&
		a.PortIDSubtype == b.PortIDSubtype && a.PortID == b.PortID && a.TTL == b.TTL &&
		a.SystemName == b.SystemName && a.PortDesc == b.PortDesc
}

// TestWireFormat checks the frame against the format in README.md,
// independently of Encode's code: every field, and the HMAC recomputed
// from the documented message layout.
func TestWireFormat(t *testing.T) {
	frame := signedFrame(t, testSigner(t), testProbe)
	if !bytes.Equal(frame[0:6], []byte{0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e}) || !bytes.Equal(frame[6:12], testMAC) || frame[12] != 0x88 || frame[13] != 0xcc {
		t.Fatalf("Ethernet header % x", frame[:14])
	}
	tl := walkTLVs(t, frame)
	types := []layers.LLDPTLVType{1, 2, 3, 5, 127, 0}
	if len(tl) != len(types) {
		t.Fatalf("%d TLVs, want %d", len(tl), len(types))
	}
	for i, p := range tl {
		if p.typ != types[i] {
			t.Fatalf("TLV %d is %v, want %v", i, p.typ, types[i])
		}
	}
	val := func(i int) []byte { return frame[tl[i].val : tl[i].val+tl[i].n] }
	if got := string(val(0)); got != "\x07dpid:0000000000000001" {
		t.Errorf("chassis %q", got)
	}
	if got := string(val(1)); got != "\x071" {
		t.Errorf("port %q", got)
	}
	if got := binary.BigEndian.Uint16(val(2)); got != 120 {
		t.Errorf("TTL %d", got)
	}
	if got := string(val(3)); got != "satellite" {
		t.Errorf("system name %q", got)
	}
	org := val(4)
	if len(org) != 45 || !bytes.Equal(org[:5], []byte{0x02, 0x53, 0x54, 0x01, 0x01}) {
		t.Fatalf("org TLV % x", org)
	}
	if ts := int64(binary.BigEndian.Uint64(org[5:13])); ts != sentAt.UnixNano() {
		t.Errorf("timestamp %d, want %d", ts, sentAt.UnixNano())
	}
	if tl[5].hdr+2 != len(frame) {
		t.Errorf("%d bytes after End", len(frame)-tl[5].hdr-2)
	}

	// The HMAC input, spelled out as in README.md.
	var msg []byte
	msg = append(msg, "satellite-lldp-probe\x00"...)
	msg = append(msg, 1)            // version
	msg = append(msg, org[5:13]...) // timestamp
	msg = append(msg, 0, 120)       // TTL
	msg = append(msg, 7, 0, 21)     // chassis subtype, length
	msg = append(msg, "dpid:0000000000000001"...)
	msg = append(msg, 7, 0, 1, '1') // port subtype, length, id
	msg = append(msg, 0, 9)         // system name length
	msg = append(msg, "satellite"...)
	m := hmac.New(sha256.New, testSecret)
	m.Write(msg)
	if want := m.Sum(nil); !bytes.Equal(org[13:], want) {
		t.Errorf("tag % x, want % x", org[13:], want)
	}
	// Pinned, so a format change is a deliberate act (and a version bump).
	const golden = "0180c200000e" + "020000000001" + "88cc" +
		"0216" + "07" + "647069643a30303030303030303030303030303031" + // Chassis ID
		"0402" + "07" + "31" + // Port ID
		"0602" + "0078" + // TTL
		"0a09" + "736174656c6c697465" + // System Name
		"fe2d" + "025354" + "01" + "01" + "1828ac068d8f4d15" + // OUI, subtype, version, timestamp
		"ea812be0f21f01fc3e46e9b2c41582ec16ccb44c68285bb13cf361381e6f26ce" + // HMAC (checked with Python's hmac)
		"0000" // End
	if got := hex.EncodeToString(frame); got != golden {
		t.Errorf("frame\n got %s\nwant %s", got, golden)
	}
}

func TestTTL(t *testing.T) {
	s := testSigner(t)
	for _, c := range []struct {
		ttl  time.Duration
		want uint16
	}{{0, 120}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {time.Nanosecond, 1}, {30 * time.Second, 30}, {65535 * time.Second, 65535}} {
		frame, err := s.Encode(testProbe, testMAC, c.ttl)
		if err != nil {
			t.Fatal(err)
		}
		n, err := Decode(frame)
		if err != nil {
			t.Fatal(err)
		}
		if n.TTL != time.Duration(c.want)*time.Second {
			t.Errorf("ttl %v: advertised %v, want %ds", c.ttl, n.TTL, c.want)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	s := testSigner(t)
	for name, c := range map[string]struct {
		p   Probe
		mac net.HardwareAddr
		ttl time.Duration
	}{
		"nil MAC":          {testProbe, nil, 0},
		"EUI-64 MAC":       {testProbe, net.HardwareAddr{1, 2, 3, 4, 5, 6, 7, 8}, 0},
		"negative TTL":     {testProbe, testMAC, -time.Second},
		"TTL too long":     {testProbe, testMAC, 65536 * time.Second},
		"long system name": {Probe{SystemName: strings.Repeat("x", 256), Sent: sentAt}, testMAC, 0},
		"before 1970":      {Probe{Sent: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)}, testMAC, 0},
		"after 2262":       {Probe{Sent: time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC)}, testMAC, 0},
	} {
		if b, err := s.Encode(c.p, c.mac, c.ttl); err == nil {
			t.Errorf("%s: no error, frame %x", name, b)
		}
	}
}

func TestZeroSentIsNow(t *testing.T) {
	s := testSigner(t)
	before := time.Now()
	frame := signedFrame(t, s, Probe{DPID: 7, Port: 3})
	after := time.Now()
	p, err := s.Verify(frame, after, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if p.Sent.Before(before.Truncate(0)) || p.Sent.After(after) {
		t.Errorf("Sent %v not within [%v, %v]", p.Sent, before, after)
	}
}

func TestNewSigner(t *testing.T) {
	if _, err := NewSigner(make([]byte, 15)); err == nil {
		t.Error("15-byte secret accepted")
	}
	if _, err := NewSigner(nil); err == nil {
		t.Error("nil secret accepted")
	}
	secret := bytes.Clone(testSecret[:16])
	s, err := NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	frame := signedFrame(t, s, testProbe)
	secret[0] ^= 1 // the Signer must have its own copy
	if _, err := s.Verify(frame, sentAt, time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestWrongSecret(t *testing.T) {
	frame := signedFrame(t, testSigner(t), testProbe)
	other, _ := NewSigner([]byte("0123456789abcdef0123456789abcdeF"))
	_, err := other.Verify(frame, sentAt, time.Second)
	wantKind(t, err, ErrBadSignature)

	r1, r2 := NewRandomSigner(), NewRandomSigner()
	frame = signedFrame(t, r1, testProbe)
	if _, err := r1.Verify(frame, sentAt, time.Second); err != nil {
		t.Fatal(err)
	}
	_, err = r2.Verify(frame, sentAt, time.Second)
	wantKind(t, err, ErrBadSignature)
}

// TestTamper flips bits in every byte of a signed frame. Only the MAC
// addresses are not protected (on purpose, see README); anything from
// the ethertype on must fail, and every byte of the signed fields must
// fail as a bad signature.
func TestTamper(t *testing.T) {
	s := testSigner(t)
	frame := signedFrame(t, s, testProbe)
	tl := walkTLVs(t, frame)
	signed := map[int]string{} // offset -> field
	mark := func(from, to int, name string) {
		for i := from; i < to; i++ {
			signed[i] = name
		}
	}
	for _, p := range tl {
		switch p.typ {
		case layers.LLDPTLVChassisID:
			mark(p.val, p.val+p.n, "chassis id")
		case layers.LLDPTLVPortID:
			mark(p.val, p.val+p.n, "port id")
		case layers.LLDPTLVTTL:
			mark(p.val, p.val+p.n, "TTL")
		case layers.LLDPTLVSysName:
			mark(p.val, p.val+p.n, "system name")
		case layers.LLDPTLVOrgSpecific:
			mark(p.val+5, p.val+13, "timestamp")
			mark(p.val+13, p.val+p.n, "signature")
		}
	}
	for i := range frame {
		for _, x := range []byte{0x01, 0x10, 0x80, 0xff} {
			b := bytes.Clone(frame)
			b[i] ^= x
			_, err := s.Verify(b, sentAt, time.Second)
			k := kindOf(t, err)
			switch field, ok := signed[i]; {
			case i < 12:
				if err != nil {
					t.Errorf("byte %d (MAC address) ^%#x: %v", i, x, err)
				}
			case ok:
				if k != ErrBadSignature {
					t.Errorf("byte %d (%s) ^%#x: got %v, want bad signature", i, field, x, err)
				}
			default:
				if err == nil {
					t.Errorf("byte %d ^%#x: tampered frame verified", i, x)
				}
			}
		}
	}
}

func TestTamperSpecific(t *testing.T) {
	s := testSigner(t)
	frame := signedFrame(t, s, testProbe)
	org := walkTLVs(t, frame)[4]
	for _, c := range []struct {
		name string
		off  int
		want error
	}{
		{"ethertype", 12, ErrNotLLDP},
		{"OUI", org.val, ErrUnsigned},
		{"OUI subtype", org.val + 3, ErrUnsigned},
		{"version", org.val + 4, ErrMalformed},
	} {
		b := bytes.Clone(frame)
		b[c.off] ^= 0x40
		_, err := s.Verify(b, sentAt, time.Second)
		if k := kindOf(t, err); k != c.want {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestAge(t *testing.T) {
	s := testSigner(t)
	frame := signedFrame(t, s, testProbe)
	for _, c := range []struct {
		now    time.Time
		maxAge time.Duration
		want   error
	}{
		{sentAt, time.Second, nil},
		{sentAt.Add(time.Second), time.Second, nil},
		{sentAt.Add(time.Second + 1), time.Second, ErrStale},
		{sentAt.Add(time.Hour), time.Second, ErrStale},
		{sentAt.Add(DefaultMaxAge), 0, nil},
		{sentAt.Add(DefaultMaxAge + 1), 0, ErrStale},
		{sentAt.Add(DefaultMaxAge + 1), -1, ErrStale},
		{sentAt.Add(-MaxClockSkew), time.Second, nil},
		{sentAt.Add(-MaxClockSkew - 1), time.Second, ErrFuture},
		{sentAt.Add(-24 * time.Hour), time.Hour, ErrFuture},
		{time.Time{}, time.Second, ErrFuture}, // Sub saturates
		{time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), time.Second, ErrStale},
	} {
		p, err := s.Verify(frame, c.now, c.maxAge)
		if k := kindOf(t, err); k != c.want {
			t.Errorf("now=sent%+v maxAge=%v: %v, want %v", c.now.Sub(sentAt), c.maxAge, err, c.want)
		}
		if c.want != nil && (p.DPID != 1 || p.Port != 1 || !p.Sent.Equal(sentAt)) {
			t.Errorf("now=sent%+v: authentic but out-of-window probe not returned: %+v", c.now.Sub(sentAt), p)
		}
	}
}

// realDevice is what a switch or server running an LLDP agent sends:
// MAC chassis id, interface name port id, the usual optional TLVs and an
// IEEE 802.1 TLV; built with gopacket, no Satellite TLV.
func realDevice(t testing.TB) []byte {
	t.Helper()
	mgmt := []byte{5, 1, 192, 0, 2, 10, 2, 0, 0, 0, 7, 0} // IPv4 192.0.2.10, ifIndex 7, no OID
	values := []layers.LinkLayerDiscoveryValue{
		{Type: layers.LLDPTLVPortDescription, Value: []byte("uplink to spine1")},
		{Type: layers.LLDPTLVSysName, Value: []byte("leaf1.example.net")},
		{Type: layers.LLDPTLVSysDescription, Value: []byte("Linux 6.1 lldpd 1.0.16")},
		{Type: layers.LLDPTLVSysCapabilities, Value: []byte{0, 0x14, 0, 0x14}},
		{Type: layers.LLDPTLVMgmtAddress, Value: mgmt},
		{Type: layers.LLDPTLVOrgSpecific, Value: []byte{0x00, 0x80, 0xc2, 1, 0, 10}}, // 802.1 port VLAN id 10
	}
	for i := range values {
		values[i].Length = uint16(len(values[i].Value))
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, DstMAC: lldpDst, EthernetType: layers.EthernetTypeLinkLayerDiscovery}
	lld := &layers.LinkLayerDiscovery{
		ChassisID: layers.LLDPChassisID{Subtype: layers.LLDPChassisIDSubTypeMACAddr, ID: []byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x00}},
		PortID:    layers.LLDPPortID{Subtype: layers.LLDPPortIDSubtypeIfaceName, ID: []byte("Ethernet1/1")},
		TTL:       120,
		Values:    values,
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, eth, lld); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRealDevice(t *testing.T) {
	frame := realDevice(t)
	// gopacket itself must agree the frame is sane.
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	if pkt.ErrorLayer() != nil {
		t.Fatal(pkt.ErrorLayer().Error())
	}
	_, err := testSigner(t).Verify(frame, sentAt, time.Second)
	wantKind(t, err, ErrUnsigned)

	n, err := Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	want := Neighbor{
		SrcMAC:           net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56},
		ChassisIDSubtype: layers.LLDPChassisIDSubTypeMACAddr, ChassisID: "52:54:00:12:34:00",
		PortIDSubtype: layers.LLDPPortIDSubtypeIfaceName, PortID: "Ethernet1/1",
		TTL: 120 * time.Second, SystemName: "leaf1.example.net", PortDesc: "uplink to spine1",
	}
	if !neighborEqual(n, want) {
		t.Errorf("got %+v\nwant %+v", n, want)
	}
	// Decode must not alias the frame.
	frame[6] ^= 0xff
	if n.SrcMAC[0] != 0x52 {
		t.Error("Neighbor.SrcMAC aliases the frame")
	}
}

func TestDecodeRendering(t *testing.T) {
	for _, c := range []struct {
		chassis, port []byte
		name          []byte
		wantC, wantP  string
		wantName      string
	}{
		{[]byte{5, 1, 10, 0, 0, 1}, []byte{4, 2, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, []byte("ok"), "10.0.0.1", "2001:db8::1", "ok"},
		{[]byte{4, 1, 2, 3}, []byte{3, 1, 2, 3, 4, 5, 6}, []byte("a\x00b\xffc"), "010203", "01:02:03:04:05:06", "a\ufffdb\ufffdc"},
		{[]byte{1, 'x', '\n'}, []byte{5, 0xc3, 0xa9}, nil, "780a", "é", ""},
	} {
		frame := rawFrame(rawTLV(layers.LLDPTLVChassisID, c.chassis...), rawTLV(layers.LLDPTLVPortID, c.port...), ttlTLV, rawTLV(layers.LLDPTLVSysName, c.name...), endTLV)
		n, err := Decode(frame)
		if err != nil {
			t.Fatal(err)
		}
		if n.ChassisID != c.wantC || n.PortID != c.wantP || n.SystemName != c.wantName {
			t.Errorf("got %q %q %q, want %q %q %q", n.ChassisID, n.PortID, n.SystemName, c.wantC, c.wantP, c.wantName)
		}
	}
}

func TestTruncated(t *testing.T) {
	s := testSigner(t)
	for _, frame := range [][]byte{signedFrame(t, s, testProbe), realDevice(t)} {
		for n := 0; n < len(frame); n++ {
			want := ErrMalformed
			if n < 14 {
				want = ErrNotLLDP
			}
			_, err := s.Verify(frame[:n], sentAt, time.Second)
			wantKind(t, err, want)
			_, err = Decode(frame[:n])
			wantKind(t, err, want)
		}
	}
}

func TestPaddingIgnored(t *testing.T) {
	s := testSigner(t)
	frame := signedFrame(t, s, testProbe)
	for _, pad := range [][]byte{make([]byte, 40), []byte("garbage after the End TLV")} {
		if _, err := s.Verify(append(bytes.Clone(frame), pad...), sentAt, time.Second); err != nil {
			t.Errorf("padding %q: %v", pad, err)
		}
	}
}

func TestVLANTagged(t *testing.T) {
	s := testSigner(t)
	frame := signedFrame(t, s, testProbe)
	tagged := append(bytes.Clone(frame[:12]), 0x81, 0x00, 0x00, 0x0a)
	tagged = append(tagged, frame[12:]...)
	p, err := s.Verify(tagged, sentAt, time.Second)
	if err != nil || p.DPID != 1 {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestNotLLDP(t *testing.T) {
	eth := &layers.Ethernet{SrcMAC: testMAC, DstMAC: net.HardwareAddr{0x02, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
	udp := &layers.UDP{SrcPort: 1234, DstPort: 53}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload("hello")); err != nil {
		t.Fatal(err)
	}
	ipv4 := buf.Bytes()
	vlanIPv4 := append(bytes.Clone(ipv4[:12]), 0x81, 0x00, 0x00, 0x0a)
	vlanIPv4 = append(vlanIPv4, ipv4[12:]...)
	arp := append(bytes.Clone(ipv4[:12]), 0x08, 0x06)
	arp = append(arp, make([]byte, 28)...)
	llc := append(bytes.Clone(ipv4[:12]), 0x00, 0x05, 0x42, 0x42, 0x03, 0, 0)

	s := testSigner(t)
	for name, frame := range map[string][]byte{
		"empty":            nil,
		"13 bytes":         make([]byte, 13),
		"IPv4":             ipv4,
		"ARP":              arp,
		"802.3 LLC":        llc,
		"VLAN-tagged IPv4": vlanIPv4,
		"cut VLAN tag":     append(bytes.Clone(ipv4[:12]), 0x81, 0x00, 0x00),
	} {
		_, err := s.Verify(frame, sentAt, time.Second)
		if kindOf(t, err) != ErrNotLLDP {
			t.Errorf("%s: Verify: %v", name, err)
		}
		if _, err := Decode(frame); kindOf(t, err) != ErrNotLLDP {
			t.Errorf("%s: Decode: %v", name, err)
		}
	}
}

func TestMalformed(t *testing.T) {
	s := testSigner(t)
	f := fields{ts: sentAt.UnixNano(), ttl: 120,
		chassis: layers.LLDPChassisID{Subtype: 7, ID: []byte("dpid:0000000000000001")},
		port:    layers.LLDPPortID{Subtype: 7, ID: []byte("1")}}
	org := signedOrg(s, &f)
	// The helpers must build a frame Verify accepts, or the cases below
	// prove nothing.
	if _, err := s.Verify(rawFrame(chassisTLV, portTLV, ttlTLV, org, endTLV), sentAt, time.Second); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	signedWith := func(c layers.LLDPChassisID, p layers.LLDPPortID) []byte {
		g := f
		g.chassis, g.port = c, p
		return rawFrame(rawTLV(1, append([]byte{byte(c.Subtype)}, c.ID...)...), rawTLV(2, append([]byte{byte(p.Subtype)}, p.ID...)...), ttlTLV, signedOrg(s, &g), endTLV)
	}
	cut := func(b []byte, n int) []byte { return b[:len(b)-n] }
	badVersion := bytes.Clone(org)
	badVersion[6] = 2

	for name, frame := range map[string][]byte{
		"empty LLDPDU":          rawFrame(),
		"only End":              rawFrame(endTLV),
		"no End":                rawFrame(chassisTLV, portTLV, ttlTLV, org),
		"no TTL":                rawFrame(chassisTLV, portTLV, org, endTLV),
		"port first":            rawFrame(portTLV, chassisTLV, ttlTLV, org, endTLV),
		"repeated chassis":      rawFrame(chassisTLV, portTLV, ttlTLV, chassisTLV, org, endTLV),
		"repeated TTL":          rawFrame(chassisTLV, portTLV, ttlTLV, org, ttlTLV, endTLV),
		"TTL 3 bytes":           rawFrame(chassisTLV, portTLV, rawTLV(3, 0, 0, 120), org, endTLV),
		"chassis without id":    rawFrame(rawTLV(1, 7), portTLV, ttlTLV, org, endTLV),
		"repeated system name":  rawFrame(chassisTLV, portTLV, ttlTLV, rawTLV(5, 'a'), rawTLV(5, 'b'), org, endTLV),
		"TLV past the end":      cut(rawFrame(chassisTLV, portTLV, ttlTLV, org), 3),
		"short org TLV":         rawFrame(chassisTLV, portTLV, ttlTLV, rawTLV(127, 0x02, 0x53, 0x54), endTLV),
		"two signatures":        rawFrame(chassisTLV, portTLV, ttlTLV, org, org, endTLV),
		"short signature":       rawFrame(chassisTLV, portTLV, ttlTLV, rawTLV(127, org[2:len(org)-1]...), endTLV),
		"long signature":        rawFrame(chassisTLV, portTLV, ttlTLV, rawTLV(127, append(bytes.Clone(org[2:]), 0)...), endTLV),
		"empty signature":       rawFrame(chassisTLV, portTLV, ttlTLV, rawTLV(127, 0x02, 0x53, 0x54, 1), endTLV),
		"version 2":             rawFrame(chassisTLV, portTLV, ttlTLV, badVersion, endTLV),
		"mgmt address overflow": rawFrame(chassisTLV, portTLV, ttlTLV, rawTLV(8, 255, 1, 2, 3, 4, 5, 6, 7, 8), org, endTLV),
		"signed MAC chassis":    signedWith(layers.LLDPChassisID{Subtype: 4, ID: []byte{1, 2, 3, 4, 5, 6}}, f.port),
		"signed short dpid":     signedWith(layers.LLDPChassisID{Subtype: 7, ID: []byte("dpid:1")}, f.port),
		"signed non-hex dpid":   signedWith(layers.LLDPChassisID{Subtype: 7, ID: []byte("dpid:000000000000000g")}, f.port),
		"signed ifname port":    signedWith(f.chassis, layers.LLDPPortID{Subtype: 5, ID: []byte("1")}),
		"signed port 007":       signedWith(f.chassis, layers.LLDPPortID{Subtype: 7, ID: []byte("007")}),
		"signed port 2^32":      signedWith(f.chassis, layers.LLDPPortID{Subtype: 7, ID: []byte("4294967296")}),
		"signed port eth0":      signedWith(f.chassis, layers.LLDPPortID{Subtype: 7, ID: []byte("eth0")}),
	} {
		_, err := s.Verify(frame, sentAt, time.Second)
		if kindOf(t, err) != ErrMalformed {
			t.Errorf("%s: Verify: %v", name, err)
		} else if testing.Verbose() {
			t.Logf("%s: %v", name, err)
		}
		if strings.HasPrefix(name, "signed") || strings.Contains(name, "signature") || name == "version 2" {
			continue // Decode does not look at our TLV
		}
		if _, err := Decode(frame); kindOf(t, err) != ErrMalformed {
			t.Errorf("%s: Decode: %v", name, err)
		}
	}
}

// TestForeignTLVsIgnored: TLVs Satellite does not sign do not change what
// Verify returns, and the signed System Name cannot be swapped.
func TestForeignTLVsIgnored(t *testing.T) {
	s := testSigner(t)
	f := fields{ts: sentAt.UnixNano(), ttl: 120,
		chassis: layers.LLDPChassisID{Subtype: 7, ID: []byte("dpid:0000000000000001")},
		port:    layers.LLDPPortID{Subtype: 7, ID: []byte("1")}}
	org := signedOrg(s, &f)
	frame := rawFrame(chassisTLV, portTLV, ttlTLV, rawTLV(4, []byte("added port description")...), rawTLV(127, 0x00, 0x80, 0xc2, 1, 0, 10), org, endTLV)
	p, err := s.Verify(frame, sentAt, time.Second)
	if err != nil || p.SystemName != "" {
		t.Fatalf("%+v %v", p, err)
	}
	frame = rawFrame(chassisTLV, portTLV, ttlTLV, rawTLV(5, []byte("injected name")...), org, endTLV)
	_, err = s.Verify(frame, sentAt, time.Second)
	wantKind(t, err, ErrBadSignature)
}

func TestConcurrent(t *testing.T) {
	s := testSigner(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				p := Probe{DPID: uint64(g), Port: uint32(i), SystemName: "sw", Sent: sentAt}
				frame, err := s.Encode(p, testMAC, 0)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := s.Verify(frame, sentAt, time.Second)
				if err != nil || got.DPID != p.DPID || got.Port != p.Port {
					t.Errorf("%+v: %+v %v", p, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
