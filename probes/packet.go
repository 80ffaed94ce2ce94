package probes

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// Tunnel keys of probe packets. They are above the largest network id
// (2^24-1), so a probe never enters a virtual network.
const (
	KeyRequest uint64 = 0x5a7e1101
	KeyReply   uint64 = 0x5a7e1102
)

var magic = [8]byte{'S', 'A', 'T', 'P', 'R', 'O', 'B', '1'}

// probe is what a probe packet carries (in the ICMP echo payload).
type probe struct {
	Local, Remote uint64
	Path          uint8
	Seq           uint32
	Sent          time.Time
}

const payloadLen = 8 + 8 + 8 + 1 + 4 + 8 + 16 // magic, local, remote, path, seq, sent, mac

var (
	errNotProbe = errors.New("not a probe")
	errForged   = errors.New("probe with a bad signature")
)

// signer authenticates probes with a per-controller key, so a forged
// reply cannot keep a dead path alive.
type signer struct{ key []byte }

func newSigner() *signer {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return &signer{key: k}
}

func (s *signer) mac(b []byte) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write(b)
	return h.Sum(nil)[:16]
}

var probeMAC = net.HardwareAddr{0x0e, 0x5a, 0x7e, 0x11, 0x00, 0x01}

// encode builds the probe frame: Ethernet / IPv4 / ICMP echo request with
// the signed payload.
func (s *signer) encode(p probe) []byte {
	pl := make([]byte, payloadLen)
	copy(pl, magic[:])
	binary.BigEndian.PutUint64(pl[8:], p.Local)
	binary.BigEndian.PutUint64(pl[16:], p.Remote)
	pl[24] = p.Path
	binary.BigEndian.PutUint32(pl[25:], p.Seq)
	binary.BigEndian.PutUint64(pl[29:], uint64(p.Sent.UnixNano()))
	copy(pl[37:], s.mac(pl[:37]))
	buf := gopacket.NewSerializeBuffer()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4,
		SrcIP: net.IP{169, 254, 77, 1}, DstIP: net.IP{169, 254, 77, 2}}
	_ = gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: probeMAC, DstMAC: probeMAC, EthernetType: layers.EthernetTypeIPv4}, ip,
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: uint16(p.Path), Seq: uint16(p.Seq)},
		gopacket.Payload(pl))
	return buf.Bytes()
}

// decode checks a returned probe frame and its signature.
func (s *signer) decode(frame []byte) (probe, error) {
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	icmp, _ := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if icmp == nil || len(icmp.Payload) < payloadLen || [8]byte(icmp.Payload[:8]) != magic {
		return probe{}, errNotProbe
	}
	pl := icmp.Payload[:payloadLen]
	if !hmac.Equal(pl[37:], s.mac(pl[:37])) {
		return probe{}, errForged
	}
	return probe{
		Local:  binary.BigEndian.Uint64(pl[8:]),
		Remote: binary.BigEndian.Uint64(pl[16:]),
		Path:   pl[24],
		Seq:    binary.BigEndian.Uint32(pl[25:]),
		Sent:   time.Unix(0, int64(binary.BigEndian.Uint64(pl[29:]))),
	}, nil
}
