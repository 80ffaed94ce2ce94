package lldp

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
)

// FuzzVerify feeds arbitrary bytes to Verify and Decode: neither may
// panic, every error must be exactly one of the documented errKinds, and a
// frame that verifies must decode and re-encode to a frame that verifies
// to the same probe.
//
//	go test -run='^$' -fuzz='^FuzzVerify$' -fuzztime=60s ./lldp/
func FuzzVerify(f *testing.F) {
	s := testSigner(f)
	for _, p := range []Probe{
		testProbe,
		{DPID: 0xfedcba9876543210, Port: 0xfffffffe, SystemName: "br-int", Sent: sentAt},
		{DPID: 2, Port: 48, Sent: sentAt},
	} {
		f.Add(signedFrame(f, s, p))
	}
	frame := signedFrame(f, s, testProbe)
	f.Add(frame[:len(frame)-2])                                                              // no End
	f.Add(append(bytes.Clone(frame[:12]), append([]byte{0x81, 0, 0, 10}, frame[12:]...)...)) // 802.1Q
	f.Add(realDevice(f))
	f.Add(rawFrame(chassisTLV, portTLV, ttlTLV, rawTLV(layers.LLDPTLVMgmtAddress, 255, 1, 2, 3, 4, 5, 6, 7, 8), endTLV))
	f.Add(rawFrame(chassisTLV, portTLV, ttlTLV, rawTLV(layers.LLDPTLVOrgSpecific, 0x02, 0x53, 0x54, 1, 1), endTLV))
	f.Add(rawFrame())
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		p, verr := s.Verify(data, sentAt, time.Second)
		n, derr := Decode(data)
		if !bytes.Equal(data, orig) {
			t.Fatal("input modified")
		}
		vk, dk := kindOf(t, verr), kindOf(t, derr)
		switch dk {
		case nil, ErrNotLLDP, ErrMalformed:
		default:
			t.Fatalf("Decode error %v", derr)
		}
		// Both classify the frame the same way up to the LLDPDU.
		if (vk == ErrNotLLDP) != (dk == ErrNotLLDP) || (dk == ErrMalformed && vk != ErrMalformed) {
			t.Fatalf("Verify %v, Decode %v", verr, derr)
		}
		if vk == ErrUnsigned && derr != nil {
			t.Fatalf("unsigned LLDP does not decode: %v", derr)
		}
		if verr != nil {
			return
		}
		if n.ChassisID != string(appendDPID(nil, p.DPID)) || n.PortID != portString(p.Port) {
			t.Fatalf("Verify %+v, Decode %+v", p, n)
		}
		again, err := s.Encode(p, n.SrcMAC, n.TTL)
		if err != nil {
			t.Fatal(err)
		}
		q, err := s.Verify(again, sentAt, time.Second)
		if err != nil || q.DPID != p.DPID || q.Port != p.Port || q.SystemName != p.SystemName || !q.Sent.Equal(p.Sent) {
			t.Fatalf("re-encoded %+v: %+v %v", p, q, err)
		}
	})
}
