package vnet

import (
	"bytes"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// TestRouterICMP: what the router answers for the packets its route
// table hands to the controller: echo and port unreachable from any of
// its addresses, time exceeded from its address in the sender's network
// (quoting the packet), host and net unreachable, and nothing for an
// ICMP error or a fragment.
func TestRouterICMP(t *testing.T) {
	m := newResponder(t)
	rmac := routerMAC(t)
	w := from(m, "a1")
	ipOf := func(ttl uint8, dst string, flags layers.IPv4Flag) *layers.IPv4 {
		return &layers.IPv4{Version: 4, TTL: ttl, Flags: flags, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP("10.1.0.11"), DstIP: net.ParseIP(dst)}
	}
	udp := func(ttl uint8, dst string, flags layers.IPv4Flag) []byte {
		ip := ipOf(ttl, dst, flags)
		u := &layers.UDP{SrcPort: 40000, DstPort: 33434}
		u.SetNetworkLayerForChecksum(ip)
		return frame(t, &layers.Ethernet{SrcMAC: macA1, DstMAC: rmac, EthernetType: layers.EthernetTypeIPv4}, ip, u, gopacket.Payload("probe"))
	}
	answer := func(what string, in []byte) (*layers.IPv4, *layers.ICMPv4) {
		t.Helper()
		reply, ok := m.routerReply(w, gopacket.NewPacket(in, layers.LayerTypeEthernet, gopacket.Default))
		if !ok || reply == nil {
			t.Fatalf("%s: no answer", what)
		}
		p := gopacket.NewPacket(reply, layers.LayerTypeEthernet, gopacket.Default)
		eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		if !bytes.Equal(eth.SrcMAC, rmac) || !bytes.Equal(eth.DstMAC, macA1) {
			t.Fatalf("%s: answer from %s to %s", what, eth.SrcMAC, eth.DstMAC)
		}
		return p.Layer(layers.LayerTypeIPv4).(*layers.IPv4), p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	}
	for _, tc := range []struct {
		what, src string
		in        []byte
		tc        layers.ICMPv4TypeCode
	}{
		{"ping of the router's address in net2", "10.2.0.1", echoRequest(t, rmac, "10.1.0.11", "10.2.0.1"),
			layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0)},
		{"traceroute's probe to the router's address in net2", "10.2.0.1", udp(64, "10.2.0.1", 0),
			layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodePort)},
		{"TTL 1 through the router", "10.1.0.1", udp(1, "10.2.0.2", 0),
			layers.CreateICMPv4TypeCode(layers.ICMPv4TypeTimeExceeded, layers.ICMPv4CodeTTLExceeded)},
		{"nobody at an address of net2", "10.1.0.1", udp(64, "10.2.0.2", 0),
			layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodeHost)},
		{"no route (and no gateway)", "10.1.0.1", udp(64, "172.16.0.1", 0),
			layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodeNet)},
	} {
		ip, icmp := answer(tc.what, tc.in)
		if ip.SrcIP.String() != tc.src || ip.DstIP.String() != "10.1.0.11" || icmp.TypeCode != tc.tc {
			t.Errorf("%s: %s -> %s %s, want %s from %s", tc.what, ip.SrcIP, ip.DstIP, icmp.TypeCode, tc.tc, tc.src)
		}
		if tc.tc.Type() != layers.ICMPv4TypeEchoReply {
			// the quote: the offending header and 8 bytes of its payload
			orig := gopacket.NewPacket(icmp.Payload, layers.LayerTypeIPv4, gopacket.Default).Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			if orig == nil || orig.SrcIP.String() != "10.1.0.11" || len(icmp.Payload) != 20+8 {
				t.Errorf("%s: quote %x", tc.what, icmp.Payload)
			}
		}
	}
	// never an error for an ICMP error, nor for a fragment
	errFrame := frame(t, &layers.Ethernet{SrcMAC: macA1, DstMAC: rmac, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 1, Protocol: layers.IPProtocolICMPv4, SrcIP: net.ParseIP("10.1.0.11"), DstIP: net.ParseIP("10.2.0.2")},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodePort)}, gopacket.Payload("quote..."))
	for what, in := range map[string][]byte{"an ICMP error": errFrame, "a fragment": udp(1, "10.2.0.2", layers.IPv4MoreFragments)} {
		if reply, _ := m.routerReply(w, gopacket.NewPacket(in, layers.LayerTypeEthernet, gopacket.Default)); reply != nil {
			t.Errorf("answered %s", what)
		}
	}
}
