// Package lldp builds and checks the LLDP frames Satellite's controller uses
// to discover links: one frame is sent (packet-out) out of every switch
// port and comes back as a packet-in from the neighbouring switch.
//
// Every frame carries an HMAC-SHA256 signature in an organisationally
// specific TLV (OUI 02-53-54, subtype 1) over the chassis id, port id, TTL,
// system name and send timestamp, so a host that forges or replays LLDP
// cannot fabricate a link. See README.md in this directory for the frame
// format, the signature scheme and its threat model.
package lldp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

const (
	// EtherType is the LLDP ethertype.
	EtherType = 0x88cc

	// OUI is the organisationally unique identifier of Satellite's TLV,
	// 02-53-54 ("ST" after a locally administered first octet). The
	// first octet has the U/L bit set and lies in the AAI quadrant of
	// IEEE 802c (low nibble 0010), so the IEEE never assigns it as an
	// OUI (MA-L) or a CID: it cannot collide with a real vendor's TLVs.
	OUI = 0x025354

	// OUISubtype is the subtype of the signed probe TLV under OUI.
	OUISubtype = 1

	// SignatureVersion is the signature scheme, the first byte of the
	// TLV's information string.
	SignatureVersion = 1

	// DefaultTTL is the TTL advertised when Encode is given 0.
	DefaultTTL = 120 * time.Second

	// DefaultMaxAge is the age ceiling Verify applies when given 0. It
	// is not the replay test (a probe received twice is a replay at any
	// age, see ReplayGuard): it only bounds how long a frame that was
	// never received may be held back and still count, far above any
	// delay a stalled switch or a busy controller causes.
	DefaultMaxAge = 30 * time.Second

	// MaxClockSkew is how far in the future a timestamp may be before
	// Verify calls it ErrFuture. Sender and verifier are normally the
	// same process; this allows for controllers sharing a secret whose
	// clocks differ slightly, and for small wall-clock steps.
	MaxClockSkew = time.Second

	// MinSecretLen is the shortest secret NewSigner accepts.
	MinSecretLen = 16

	// MaxSystemName is the longest System Name (802.1AB: 255 octets).
	MaxSystemName = 255
)

// Errors returned by Verify and Decode. Every error they return wraps
// exactly one of these (test with errors.Is), so callers can count frames
// by kind; the wrapping text says what exactly was wrong.
var (
	// ErrNotLLDP: the frame is not LLDP at all (too short for an
	// Ethernet header, or another ethertype).
	ErrNotLLDP = errors.New("lldp: not an LLDP frame")
	// ErrMalformed: the ethertype says LLDP but the LLDPDU does not
	// decode, breaks 802.1AB's structure (mandatory TLVs missing, out of
	// order or repeated), or our TLV is not what we write.
	ErrMalformed = errors.New("lldp: malformed LLDP frame")
	// ErrUnsigned: valid LLDP without Satellite's TLV (a real LLDP
	// speaker, or a forger who does not even try).
	ErrUnsigned = errors.New("lldp: LLDP frame is not signed")
	// ErrBadSignature: the frame carries Satellite's TLV but the HMAC
	// does not match: forged, tampered with, or signed with another
	// secret (another controller).
	ErrBadSignature = errors.New("lldp: bad LLDP signature")
	// ErrStale: correctly signed but sent longer ago than maxAge: a
	// frame held back far too long, or recorded and sent later.
	ErrStale = errors.New("lldp: stale LLDP frame")
	// ErrFuture: correctly signed but timestamped more than
	// MaxClockSkew in the future.
	ErrFuture = errors.New("lldp: LLDP frame from the future")
)

// Probe is what a signed frame says: which switch port sent it and when.
type Probe struct {
	DPID       uint64    // datapath id of the sending switch
	Port       uint32    // OpenFlow port number it was sent out of
	SystemName string    // System Name TLV (empty: the TLV is omitted)
	Sent       time.Time // send time, signed; zero in Encode means now
}

// Neighbor is an LLDP frame decoded without verification, from any LLDP
// speaker. Text fields come from the wire: they are valid UTF-8 without
// control characters, but still untrusted.
type Neighbor struct {
	SrcMAC           net.HardwareAddr
	ChassisIDSubtype layers.LLDPChassisIDSubType
	// ChassisID is rendered by subtype: a MAC address as
	// aa:bb:cc:dd:ee:ff, a network address as an IP, printable text as
	// is, anything else as hex.
	ChassisID     string
	PortIDSubtype layers.LLDPPortIDSubType
	PortID        string // rendered like ChassisID
	TTL           time.Duration
	SystemName    string
	PortDesc      string
}

// lldpDst is the nearest-bridge group address: bridges never forward it.
var lldpDst = net.HardwareAddr{0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e}

const (
	dpidPrefix = "dpid:"
	chassisLen = len(dpidPrefix) + 16 // "dpid:" and 16 hex digits
	tagLen     = sha256.Size          // full HMAC-SHA256, see README
	// infoLen is the TLV's information string: version, timestamp, tag.
	infoLen = 1 + 8 + tagLen
	// orgLen is the org-specific TLV value: OUI, subtype, information.
	orgLen = 3 + 1 + infoLen
	// macLabel separates these HMACs from any other use of the secret.
	macLabel = "satellite-lldp-probe\x00"
)

var (
	minSent = time.Unix(0, 0)
	maxSent = time.Unix(0, math.MaxInt64)
)

// Signer signs and verifies probes with one secret. It is safe for
// concurrent use.
type Signer struct {
	macs sync.Pool // of *macState keyed with the secret
}

type macState struct {
	h   hash.Hash
	msg []byte
	sum []byte
}

// NewSigner returns a Signer for secret, which must be at least
// MinSecretLen bytes of real randomness (32 recommended). The secret is
// copied. Controllers that share a secret accept each other's frames.
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("lldp: secret is %d bytes, need at least %d", len(secret), MinSecretLen)
	}
	key := append([]byte(nil), secret...)
	s := &Signer{}
	s.macs.New = func() any {
		return &macState{h: hmac.New(sha256.New, key), msg: make([]byte, 0, 128), sum: make([]byte, 0, tagLen)}
	}
	return s, nil
}

// NewRandomSigner returns a Signer with a fresh 32-byte secret from
// crypto/rand, for a controller without a configured one. Its frames are
// accepted by no other controller and by no later run of this one.
func NewRandomSigner() *Signer {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil { // never fails since Go 1.24
		panic("lldp: crypto/rand: " + err.Error())
	}
	s, err := NewSigner(secret)
	if err != nil {
		panic(err)
	}
	return s
}

// fields are the signed contents of a frame, as bytes on the wire.
type fields struct {
	ts      int64
	ttl     uint16
	chassis layers.LLDPChassisID
	port    layers.LLDPPortID
	sysName []byte
}

// appendMessage appends the HMAC input (README, "Signature").
func appendMessage(b []byte, f *fields) []byte {
	b = append(b, macLabel...)
	b = append(b, SignatureVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(f.ts))
	b = binary.BigEndian.AppendUint16(b, f.ttl)
	b = append(b, byte(f.chassis.Subtype))
	b = binary.BigEndian.AppendUint16(b, uint16(len(f.chassis.ID)))
	b = append(b, f.chassis.ID...)
	b = append(b, byte(f.port.Subtype))
	b = binary.BigEndian.AppendUint16(b, uint16(len(f.port.ID)))
	b = append(b, f.port.ID...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(f.sysName)))
	b = append(b, f.sysName...)
	return b
}

// appendTag appends the HMAC of f to dst.
func (s *Signer) appendTag(dst []byte, f *fields) []byte {
	m := s.macs.Get().(*macState)
	m.msg = appendMessage(m.msg[:0], f)
	m.h.Reset()
	m.h.Write(m.msg)
	m.sum = m.h.Sum(m.sum[:0])
	dst = append(dst, m.sum...)
	s.macs.Put(m)
	return dst
}

// tagEqual reports whether tag is the HMAC of f, in constant time.
func (s *Signer) tagEqual(tag []byte, f *fields) bool {
	m := s.macs.Get().(*macState)
	m.msg = appendMessage(m.msg[:0], f)
	m.h.Reset()
	m.h.Write(m.msg)
	m.sum = m.h.Sum(m.sum[:0])
	ok := hmac.Equal(m.sum, tag)
	s.macs.Put(m)
	return ok
}

// Encode returns the signed LLDP frame that probe p is sent in out of a
// port whose hardware address is srcMAC, advertising ttl (0: DefaultTTL;
// rounded up to whole seconds, at most 65535 s). A zero p.Sent is
// replaced by time.Now().
func (s *Signer) Encode(p Probe, srcMAC net.HardwareAddr, ttl time.Duration) ([]byte, error) {
	if len(srcMAC) != 6 {
		return nil, fmt.Errorf("lldp: source MAC %q is not 6 bytes", srcMAC.String())
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < 0 || ttl > math.MaxUint16*time.Second {
		return nil, fmt.Errorf("lldp: TTL %v out of range (0 to %v)", ttl, math.MaxUint16*time.Second)
	}
	if len(p.SystemName) > MaxSystemName {
		return nil, fmt.Errorf("lldp: system name is %d bytes, at most %d", len(p.SystemName), MaxSystemName)
	}
	sent := p.Sent
	if sent.IsZero() {
		sent = time.Now()
	}
	if sent.Before(minSent) || sent.After(maxSent) {
		return nil, fmt.Errorf("lldp: send time %v cannot be encoded in int64 unix nanoseconds", sent)
	}

	port := strconv.AppendUint(make([]byte, 0, 10), uint64(p.Port), 10)
	f := fields{
		ts:      sent.UnixNano(),
		ttl:     uint16((ttl + time.Second - 1) / time.Second),
		chassis: layers.LLDPChassisID{Subtype: layers.LLDPChassisIDSubTypeLocal, ID: appendDPID(make([]byte, 0, chassisLen), p.DPID)},
		port:    layers.LLDPPortID{Subtype: layers.LLDPPortIDSubtypeLocal, ID: port},
		sysName: []byte(p.SystemName),
	}

	org := make([]byte, 0, orgLen)
	org = append(org, OUI>>16, OUI>>8&0xff, OUI&0xff, OUISubtype, SignatureVersion)
	org = binary.BigEndian.AppendUint64(org, uint64(f.ts))
	org = s.appendTag(org, &f)

	values := make([]layers.LinkLayerDiscoveryValue, 0, 2)
	if len(f.sysName) > 0 {
		values = append(values, layers.LinkLayerDiscoveryValue{Type: layers.LLDPTLVSysName, Length: uint16(len(f.sysName)), Value: f.sysName})
	}
	values = append(values, layers.LinkLayerDiscoveryValue{Type: layers.LLDPTLVOrgSpecific, Length: orgLen, Value: org})

	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: lldpDst, EthernetType: layers.EthernetTypeLinkLayerDiscovery}
	lld := &layers.LinkLayerDiscovery{ChassisID: f.chassis, PortID: f.port, TTL: f.ttl, Values: values}
	size := (2 + 1 + len(f.chassis.ID)) + (2 + 1 + len(port)) + 4 + (2 + len(f.sysName)) + (2 + orgLen) + 2
	buf := gopacket.NewSerializeBufferExpectedSize(14, size)
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, eth, lld); err != nil {
		return nil, fmt.Errorf("lldp: serialising: %w", err)
	}
	return buf.Bytes(), nil
}

func appendDPID(b []byte, dpid uint64) []byte {
	b = append(b, dpidPrefix...)
	var d [8]byte
	binary.BigEndian.PutUint64(d[:], dpid)
	return hex.AppendEncode(b, d[:])
}

// Verify decodes frame, checks its signature and age against now and
// returns the probe it carries. Only signed fields are returned; other
// TLVs in the frame are ignored. Probe.Sent is the signed send time, so
// now minus Sent is the packet-out to packet-in latency. maxAge 0 means
// DefaultMaxAge. Errors wrap ErrNotLLDP, ErrMalformed, ErrUnsigned,
// ErrBadSignature, ErrStale or ErrFuture; with ErrStale and ErrFuture the
// probe is returned too (it is authentic, only out of its time window),
// for logging which port it claims. Verify never panics.
func (s *Signer) Verify(frame []byte, now time.Time, maxAge time.Duration) (Probe, error) {
	d, err := decode(frame)
	if err != nil {
		return Probe{}, err
	}
	f := fields{ttl: d.lld.TTL, chassis: d.lld.ChassisID, port: d.lld.PortID}
	var info []byte
	signed := 0
	for _, v := range d.lld.Values {
		switch v.Type {
		case layers.LLDPTLVSysName:
			f.sysName = v.Value
		case layers.LLDPTLVOrgSpecific:
			if isOurs(v.Value) {
				signed++
				info = v.Value[4:]
			}
		}
	}
	switch {
	case signed == 0:
		return Probe{}, ErrUnsigned
	case signed > 1:
		return Probe{}, fmt.Errorf("%w: %d Satellite signature TLVs", ErrMalformed, signed)
	case len(info) == 0:
		return Probe{}, fmt.Errorf("%w: empty Satellite signature TLV", ErrMalformed)
	case info[0] != SignatureVersion:
		return Probe{}, fmt.Errorf("%w: Satellite signature version %d, want %d", ErrMalformed, info[0], SignatureVersion)
	case len(info) != infoLen:
		return Probe{}, fmt.Errorf("%w: Satellite signature TLV carries %d bytes, want %d", ErrMalformed, len(info), infoLen)
	}
	f.ts = int64(binary.BigEndian.Uint64(info[1:9]))
	if !s.tagEqual(info[9:], &f) {
		return Probe{}, ErrBadSignature
	}

	// Signed, so it was written by Encode (or with a stolen secret).
	p := Probe{SystemName: string(f.sysName), Sent: time.Unix(0, f.ts)}
	if p.DPID, err = parseChassis(f.chassis); err != nil {
		return Probe{}, err
	}
	if p.Port, err = parsePort(f.port); err != nil {
		return Probe{}, err
	}
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	// Two subtractions, not one and a negation: Sub saturates, and the
	// negation of the most negative Duration is itself.
	if age := now.Sub(p.Sent); age > maxAge {
		return p, fmt.Errorf("%w: sent %v ago, max %v", ErrStale, age, maxAge)
	}
	if ahead := p.Sent.Sub(now); ahead > MaxClockSkew {
		return p, fmt.Errorf("%w: sent %v after now, max %v", ErrFuture, ahead, MaxClockSkew)
	}
	return p, nil
}

func isOurs(v []byte) bool {
	return len(v) >= 4 && v[0] == OUI>>16 && v[1] == OUI>>8&0xff && v[2] == OUI&0xff && v[3] == OUISubtype
}

func parseChassis(c layers.LLDPChassisID) (uint64, error) {
	s := string(c.ID)
	if c.Subtype != layers.LLDPChassisIDSubTypeLocal || len(s) != chassisLen || !strings.HasPrefix(s, dpidPrefix) {
		return 0, fmt.Errorf("%w: signed chassis id %q (subtype %d) is not \"dpid:\" and 16 hex digits", ErrMalformed, s, c.Subtype)
	}
	dpid, err := strconv.ParseUint(s[len(dpidPrefix):], 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: signed chassis id %q: bad datapath id", ErrMalformed, s)
	}
	return dpid, nil
}

func parsePort(p layers.LLDPPortID) (uint32, error) {
	s := string(p.ID)
	n, err := strconv.ParseUint(s, 10, 32)
	if p.Subtype != layers.LLDPPortIDSubtypeLocal || err != nil || strconv.FormatUint(n, 10) != s {
		return 0, fmt.Errorf("%w: signed port id %q (subtype %d) is not a decimal port number", ErrMalformed, s, p.Subtype)
	}
	return uint32(n), nil
}

// Decode decodes any LLDP frame, from a real device too, without
// verifying anything: for showing foreign LLDP speakers. Errors wrap
// ErrNotLLDP or ErrMalformed. Decode never panics.
func Decode(frame []byte) (Neighbor, error) {
	d, err := decode(frame)
	if err != nil {
		return Neighbor{}, err
	}
	n := Neighbor{
		SrcMAC:           append(net.HardwareAddr(nil), d.eth.SrcMAC...),
		ChassisIDSubtype: d.lld.ChassisID.Subtype,
		ChassisID:        renderID(d.lld.ChassisID.ID, d.lld.ChassisID.Subtype == layers.LLDPChassisIDSubTypeMACAddr, d.lld.ChassisID.Subtype == layers.LLDPChassisIDSubTypeNetworkAddr),
		PortIDSubtype:    d.lld.PortID.Subtype,
		PortID:           renderID(d.lld.PortID.ID, d.lld.PortID.Subtype == layers.LLDPPortIDSubtypeMACAddr, d.lld.PortID.Subtype == layers.LLDPPortIDSubtypeNetworkAddr),
		TTL:              time.Duration(d.lld.TTL) * time.Second,
	}
	for _, v := range d.lld.Values {
		switch v.Type {
		case layers.LLDPTLVSysName:
			n.SystemName = cleanText(v.Value)
		case layers.LLDPTLVPortDescription:
			n.PortDesc = cleanText(v.Value)
		}
	}
	return n, nil
}

// renderID renders a chassis or port id for display.
func renderID(id []byte, isMAC, isAddr bool) string {
	switch {
	case isMAC && len(id) == 6:
		return net.HardwareAddr(id).String()
	case isAddr && len(id) == 1+net.IPv4len && id[0] == byte(layers.IANAAddressFamilyIPV4),
		isAddr && len(id) == 1+net.IPv6len && id[0] == byte(layers.IANAAddressFamilyIPV6):
		return net.IP(id[1:]).String()
	}
	if len(id) > 0 && utf8.Valid(id) && strings.IndexFunc(string(id), func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return string(id)
	}
	return hex.EncodeToString(id)
}

// cleanText makes free text from the wire valid UTF-8 without control
// characters.
func cleanText(b []byte) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(string(b), string(utf8.RuneError)))
}

type decoded struct {
	eth *layers.Ethernet
	lld *layers.LinkLayerDiscovery
}

// decode classifies and decodes frame with gopacket. LinkLayerDiscovery
// does not work with DecodingLayerParser, hence gopacket.NewPacket.
func decode(frame []byte) (decoded, error) {
	if len(frame) < 14 {
		return decoded{}, fmt.Errorf("%w: %d bytes, shorter than an Ethernet header", ErrNotLLDP, len(frame))
	}
	// Cheap refusal of the common case before gopacket allocates.
	switch et := layers.EthernetType(binary.BigEndian.Uint16(frame[12:14])); et {
	case layers.EthernetTypeLinkLayerDiscovery, layers.EthernetTypeDot1Q, layers.EthernetTypeQinQ:
	default:
		return decoded{}, fmt.Errorf("%w: ethertype %#04x", ErrNotLLDP, uint16(et))
	}

	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.NoCopy)
	eth, _ := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if eth == nil {
		return decoded{}, fmt.Errorf("%w: no Ethernet header", ErrNotLLDP)
	}
	et, payload := eth.EthernetType, eth.Payload
	for _, l := range pkt.Layers() { // 802.1Q / 802.1ad tags
		if q, ok := l.(*layers.Dot1Q); ok {
			et, payload = q.Type, q.Payload
		}
	}
	if et != layers.EthernetTypeLinkLayerDiscovery {
		return decoded{}, fmt.Errorf("%w: ethertype %#04x", ErrNotLLDP, uint16(et))
	}
	// Our own structural check first: it says precisely what is wrong,
	// and enforces what gopacket does not (order, duplicates).
	if err := checkTLVs(payload); err != nil {
		return decoded{}, err
	}
	if e := pkt.ErrorLayer(); e != nil {
		return decoded{}, fmt.Errorf("%w: gopacket: %v", ErrMalformed, e.Error())
	}
	lld, _ := pkt.Layer(layers.LayerTypeLinkLayerDiscovery).(*layers.LinkLayerDiscovery)
	if lld == nil {
		return decoded{}, fmt.Errorf("%w: no LLDPDU", ErrMalformed)
	}
	return decoded{eth: eth, lld: lld}, nil
}

// checkTLVs checks an LLDPDU's TLV structure as 802.1AB requires: Chassis
// ID, Port ID and TTL first and in that order, each exactly once, Port
// Description, System Name, System Description and System Capabilities
// at most once, and an End TLV; every TLV within the frame. Bytes after
// End (Ethernet padding) are ignored.
func checkTLVs(b []byte) error {
	var seen [8]bool
	mandatory := [3]layers.LLDPTLVType{layers.LLDPTLVChassisID, layers.LLDPTLVPortID, layers.LLDPTLVTTL}
	for i, off := 0, 0; ; i++ {
		if len(b)-off < 2 {
			if i < len(mandatory) {
				return fmt.Errorf("%w: LLDPDU ends after %d TLVs, missing %v", ErrMalformed, i, mandatory[i])
			}
			return fmt.Errorf("%w: no End TLV", ErrMalformed)
		}
		typ := layers.LLDPTLVType(b[off] >> 1)
		n := int(b[off]&1)<<8 | int(b[off+1])
		if len(b)-off-2 < n {
			return fmt.Errorf("%w: %s TLV at byte %d has length %d, only %d bytes left", ErrMalformed, tlvName(typ), off, n, len(b)-off-2)
		}
		if i < len(mandatory) && typ != mandatory[i] {
			return fmt.Errorf("%w: TLV %d is %s, want %v", ErrMalformed, i+1, tlvName(typ), mandatory[i])
		}
		switch typ {
		case layers.LLDPTLVEnd:
			return nil
		case layers.LLDPTLVChassisID, layers.LLDPTLVPortID:
			if n < 2 || n > 256 {
				return fmt.Errorf("%w: %v TLV length %d, want 2 to 256", ErrMalformed, typ, n)
			}
		case layers.LLDPTLVTTL:
			if n != 2 {
				return fmt.Errorf("%w: TTL TLV length %d, want 2", ErrMalformed, n)
			}
		case layers.LLDPTLVOrgSpecific:
			if n < 4 {
				return fmt.Errorf("%w: organisationally specific TLV length %d, want at least 4", ErrMalformed, n)
			}
		}
		if typ < layers.LLDPTLVMgmtAddress { // 1-7: at most once
			if seen[typ] {
				return fmt.Errorf("%w: repeated %v TLV", ErrMalformed, typ)
			}
			seen[typ] = true
		}
		off += 2 + n
	}
}

func tlvName(t layers.LLDPTLVType) string {
	if s := t.String(); s != "Unknown" {
		return s
	}
	return "type " + strconv.Itoa(int(t))
}
