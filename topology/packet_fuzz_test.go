package topology

import (
	"encoding/hex"
	"testing"
)

// FuzzParseHostPacket feeds arbitrary frames to the packet-in parser used
// for host tracking: it may refuse them but must not panic.
func FuzzParseHostPacket(f *testing.F) {
	for _, h := range []string{
		// ARP request from 02:00:00:00:01:01 / 10.0.1.1
		"ffffffffffff020000000101080600010800060400010200000001010a000101000000000000 0a000102",
		// IPv4/ICMP
		"02000000010202000000010108004500001c00004000400100000a0001010a0001020800f7ff00000000",
	} {
		b, _ := hex.DecodeString(stripSpaces(h))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		hp, ok := ParseHostPacket(frame)
		if ok && hp.MAC == "" {
			t.Fatal("accepted a frame without a source MAC")
		}
	})
}

func stripSpaces(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

func TestParseHostPacket(t *testing.T) {
	arp, _ := hex.DecodeString("ffffffffffff020000000101080600010800060400010200000001010a0001010000000000000a000102")
	hp, ok := ParseHostPacket(arp)
	if !ok || hp.MAC != "02:00:00:00:01:01" || hp.IP != "10.0.1.1" {
		t.Fatalf("ARP: %+v %v", hp, ok)
	}
	lldp, _ := hex.DecodeString("0180c200000e02000000010188cc0000")
	if _, ok := ParseHostPacket(lldp); ok {
		t.Fatal("LLDP must not make a host")
	}
	bcastSrc, _ := hex.DecodeString("ffffffffffffffffffffffff0806")
	if _, ok := ParseHostPacket(bcastSrc); ok {
		t.Fatal("a broadcast source MAC must not make a host")
	}
	if _, ok := ParseHostPacket([]byte{1, 2, 3}); ok {
		t.Fatal("a runt frame must be refused")
	}
}
