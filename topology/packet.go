package topology

import (
	"net"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// HostPacket is what a packet-in tells about the host that sent it.
type HostPacket struct {
	MAC string // source MAC of the host
	IP  string // an IPv4 address the host uses, "" if the packet shows none
}

// ParseHostPacket extracts the sender of an ARP, IPv4 or DHCP packet. It
// reports false for frames that say nothing about a host (LLDP, multicast
// or broadcast sources, undecodable frames). It never panics on bad input.
func ParseHostPacket(frame []byte) (HostPacket, bool) {
	if len(frame) < 14 {
		return HostPacket{}, false
	}
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	eth, _ := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if eth == nil || len(eth.SrcMAC) != 6 || eth.SrcMAC[0]&1 == 1 || isZero(eth.SrcMAC) {
		return HostPacket{}, false
	}
	hp := HostPacket{MAC: eth.SrcMAC.String()}
	switch eth.EthernetType {
	case layers.EthernetTypeLinkLayerDiscovery:
		return HostPacket{}, false
	case layers.EthernetTypeARP:
		if arp, _ := pkt.Layer(layers.LayerTypeARP).(*layers.ARP); arp != nil && len(arp.SourceProtAddress) == 4 {
			hp.IP = usableIP(arp.SourceProtAddress)
		}
	case layers.EthernetTypeIPv4:
		ip4, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if ip4 == nil {
			return hp, true
		}
		hp.IP = usableIP(ip4.SrcIP)
		if dhcp, _ := pkt.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4); dhcp != nil && dhcp.Operation == layers.DHCPOpRequest {
			// a client's request: the address it asks for, or already has
			if hp.IP == "" {
				hp.IP = usableIP(dhcp.ClientIP)
			}
			for _, o := range dhcp.Options {
				if hp.IP == "" && o.Type == layers.DHCPOptRequestIP && len(o.Data) == 4 {
					hp.IP = usableIP(net.IP(o.Data))
				}
			}
		}
	}
	return hp, true
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// usableIP renders a unicast host address, "" for 0.0.0.0, broadcast,
// multicast and loopback.
func usableIP(ip net.IP) string {
	ip4 := ip.To4()
	if ip4 == nil || ip4.IsUnspecified() || ip4.IsMulticast() || ip4.IsLoopback() || ip4.Equal(net.IPv4bcast) {
		return ""
	}
	return ip4.String()
}
