package vnet

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
)

// The controller answers ARP for every address it knows, ping to router
// and simulated interfaces, and DHCP for every network with DHCP on. The
// packets reach it as copies from the ingress table (ARP, DHCP) or from the
// routing table (ping to a router).

// where is a vif the packet came from: the interface as configured (IP is
// its static address, "" for a DHCP client), its network and port.
type where struct {
	iface Interface
	net   Network
	port  uint32
}

// source finds the vif a packet-in came from: the switch, the port, and
// the VLAN tag for trunks.
func (m *Manager) source(dpid uint64, port uint32, vlan uint16) (where, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.ctl.Switch(dpid)
	if s == nil {
		return where{}, false
	}
	p, ok := s.Port(port)
	if !ok {
		return where{}, false
	}
	var dpName string
	for _, d := range m.cfg.Datapaths {
		if id, _ := ParseDPID(d.DPID); id == dpid {
			dpName = d.Name
		}
	}
	for _, in := range m.cfg.Interfaces {
		if in.Mode == ModeVIF && in.Datapath == dpName && (in.Port == p.Name || (in.Port == "" && in.PortNo == port)) && in.VLAN == vlan {
			for _, n := range m.cfg.Networks {
				if n.Name == in.Network {
					return where{iface: in, net: n, port: port}, true
				}
			}
		}
	}
	return where{}, false
}

// answerFor returns the MAC that owns ip in a network: an interface (static
// or leased address), a simulated interface or a router interface.
func (m *Manager) answerFor(network, ip string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for _, in := range m.cfg.Interfaces {
		if in.Network != network {
			continue
		}
		addr := in.IP
		if addr == "" {
			addr = m.leasedIPLocked(in.Network, in.MAC, now)
		}
		if addr == ip {
			return in.MAC, true
		}
	}
	for _, r := range m.cfg.Routers {
		for _, ri := range r.Interfaces {
			if ri.Network == network && ri.IP == ip {
				return ri.MAC, true
			}
		}
	}
	return "", false
}

func (m *Manager) packetIn(ctx context.Context, e controller.Event) {
	if m.ctl != nil {
		if s := m.ctl.Switch(e.DPID); s != nil && !s.Writable() {
			return // another instance of the cluster masters the switch: it answers (docs/cluster.md)
		}
	}
	pi := e.PacketIn
	pkt := gopacket.NewPacket(pi.Data, layers.LayerTypeEthernet, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	eth, _ := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if eth == nil {
		return
	}
	var vlan uint16
	if d, _ := pkt.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q); d != nil {
		vlan = d.VLANIdentifier
	}
	if n, ok := m.externalPort(e.DPID, pi.InPort()); ok {
		m.externalPacketIn(ctx, e.DPID, pi.InPort(), n, pkt, eth)
		return
	}
	if ck := controller.Cookie(pi.Cookie); pi.Table == TableOut && ck.Kind() == controller.OwnerNetwork {
		m.resolve(ctx, e.DPID, ck.Scope(), pkt, eth)
		return
	}
	from, ok := m.source(e.DPID, pi.InPort(), vlan)
	if !ok || eth.SrcMAC.String() != from.iface.MAC {
		return // not a vif of ours, or a spoofed source: the pipeline drops it
	}
	var reply []byte
	var err error
	switch {
	case pkt.Layer(layers.LayerTypeARP) != nil:
		reply, err = m.arpReply(from, pkt.Layer(layers.LayerTypeARP).(*layers.ARP))
	case pkt.Layer(layers.LayerTypeDHCPv4) != nil:
		reply, err = m.dhcpReply(from, pkt.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4))
	case pi.Table == TableRoute && pkt.Layer(layers.LayerTypeIPv4) != nil && m.routerMAC(from.net.Name, eth.DstMAC.String()):
		var ok bool
		if reply, ok = m.routerReply(from, pkt); !ok {
			err = fmt.Errorf("not answering %s for router MAC %s", pkt.NetworkLayer().NetworkFlow(), eth.DstMAC)
		}
	case pkt.Layer(layers.LayerTypeICMPv4) != nil:
		reply, err = m.echoReply(from, pkt)
	default:
		return
	}
	if err != nil {
		m.log.Debug("not answering a packet", "from", from.iface.Name, "err", err)
		return
	}
	if reply == nil {
		return
	}
	s := m.ctl.Switch(e.DPID)
	if s == nil {
		return
	}
	acts := ofp.Actions{}
	if vlan != 0 {
		vid := make([]byte, 2)
		binary.BigEndian.PutUint16(vid, 0x1000|vlan)
		acts = append(acts, &ofp.ActionPushVLAN{EtherType: 0x8100},
			&ofp.ActionSetField{Field: ofp.XM{Class: ofp.XMClassOpenflowBasic, Type: ofp.XMTypeVlanID, Value: vid}})
	}
	acts = append(acts, &ofp.ActionOutput{Port: ofp.PortNo(from.port), MaxLen: ofp.ContentLenNoBuffer})
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := s.PacketOut(pctx, uint32(ofp.PortController), acts, reply); err != nil {
		m.log.Warn("sending a reply failed", "to", from.iface.Name, "err", err)
	}
}

func serialize(ls ...gopacket.SerializableLayer) ([]byte, error) {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (m *Manager) arpReply(from where, arp *layers.ARP) ([]byte, error) {
	if arp.Operation != layers.ARPRequest || len(arp.DstProtAddress) != 4 {
		return nil, nil
	}
	target := net.IP(arp.DstProtAddress).String()
	mac, ok := m.answerFor(from.net.Name, target)
	if !ok {
		return nil, fmt.Errorf("no interface has %s in network %s", target, from.net.Name)
	}
	hw, _ := net.ParseMAC(mac)
	return serialize(
		&layers.Ethernet{SrcMAC: hw, DstMAC: net.HardwareAddr(arp.SourceHwAddress), EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPReply, SourceHwAddress: hw, SourceProtAddress: arp.DstProtAddress,
			DstHwAddress: arp.SourceHwAddress, DstProtAddress: arp.SourceProtAddress})
}

func (m *Manager) echoReply(from where, pkt gopacket.Packet) ([]byte, error) {
	eth := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	icmp, _ := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if ip == nil || icmp == nil || icmp.TypeCode.Type() != layers.ICMPv4TypeEchoRequest {
		return nil, nil
	}
	mac, ok := m.answerFor(from.net.Name, ip.DstIP.String())
	if !ok || mac != eth.DstMAC.String() {
		return nil, fmt.Errorf("echo to %s/%s is not for a router or simulated interface", ip.DstIP, eth.DstMAC)
	}
	return serialize(
		&layers.Ethernet{SrcMAC: eth.DstMAC, DstMAC: eth.SrcMAC, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: ip.DstIP, DstIP: ip.SrcIP, Id: ip.Id},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0), Id: icmp.Id, Seq: icmp.Seq},
		gopacket.Payload(icmp.Payload))
}

// dhcpServer returns the address and MAC the network's DHCP server speaks from.
func (m *Manager) dhcpServer(n Network) (netip.Addr, net.HardwareAddr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n.Gateway != "" {
		for _, r := range m.cfg.Routers {
			for _, ri := range r.Interfaces {
				if ri.Network == n.Name && ri.IP == n.Gateway {
					hw, _ := net.ParseMAC(ri.MAC)
					return netip.MustParseAddr(ri.IP), hw
				}
			}
		}
	}
	p := netip.MustParsePrefix(n.Subnet)
	addr := p.Addr().Next()
	if n.Gateway != "" {
		addr = netip.MustParseAddr(n.Gateway)
	}
	hw, _ := net.ParseMAC(generatedMAC(macDHCP, n.ID, 0))
	return addr, hw
}

func (m *Manager) dhcpReply(from where, req *layers.DHCPv4) ([]byte, error) {
	if req.Operation != layers.DHCPOpRequest || !from.net.DHCP {
		return nil, nil
	}
	var msgType layers.DHCPMsgType
	var requested, serverID netip.Addr
	for _, o := range req.Options {
		switch o.Type {
		case layers.DHCPOptMessageType:
			if len(o.Data) == 1 {
				msgType = layers.DHCPMsgType(o.Data[0])
			}
		case layers.DHCPOptRequestIP:
			if len(o.Data) == 4 {
				requested = netip.AddrFrom4([4]byte(o.Data))
			}
		case layers.DHCPOptServerID:
			if len(o.Data) == 4 {
				serverID = netip.AddrFrom4([4]byte(o.Data))
			}
		}
	}
	ciaddr, _ := netip.AddrFromSlice(req.ClientIP.To4())
	if ciaddr.IsValid() && ciaddr.IsUnspecified() {
		ciaddr = netip.Addr{}
	}
	server, serverMAC := m.dhcpServer(from.net)
	if serverID.IsValid() && serverID != server {
		return nil, fmt.Errorf("DHCP %s for the server %s, not %s", msgType, serverID, server)
	}
	var replyType layers.DHCPMsgType
	var addr netip.Addr
	switch msgType {
	case layers.DHCPMsgTypeDiscover:
		a, err := m.offer(from, requested)
		if err != nil {
			return nil, err
		}
		replyType, addr = layers.DHCPMsgTypeOffer, a
	case layers.DHCPMsgTypeRequest:
		if !requested.IsValid() {
			requested = ciaddr // renewing or rebinding: the address it has
		}
		a, ok, err := m.ack(from, requested)
		if err != nil {
			return nil, err
		}
		replyType, addr = layers.DHCPMsgTypeAck, a
		if !ok {
			replyType = layers.DHCPMsgTypeNak
		}
	case layers.DHCPMsgTypeRelease:
		return nil, m.release(from, ciaddr) // no answer
	case layers.DHCPMsgTypeDecline:
		return nil, m.decline(from, requested) // no answer
	default:
		return nil, nil
	}
	p := netip.MustParsePrefix(from.net.Subnet)
	mask := net.CIDRMask(p.Bits(), 32)
	lease := make([]byte, 4)
	binary.BigEndian.PutUint32(lease, from.net.LeaseSeconds)
	opts := layers.DHCPOptions{
		layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(replyType)}),
		layers.NewDHCPOption(layers.DHCPOptServerID, server.AsSlice()),
	}
	yiaddr := addr.AsSlice()
	if replyType == layers.DHCPMsgTypeNak {
		yiaddr = net.IPv4zero
	} else {
		opts = append(opts, layers.NewDHCPOption(layers.DHCPOptLeaseTime, lease), layers.NewDHCPOption(layers.DHCPOptSubnetMask, mask))
		if from.net.Gateway != "" {
			gw := netip.MustParseAddr(from.net.Gateway).AsSlice()
			opts = append(opts, layers.NewDHCPOption(layers.DHCPOptRouter, gw))
			// classless static routes (option 121): the default route via
			// the gateway (clients that use 121 ignore option 3)
			opts = append(opts, layers.NewDHCPOption(layers.DHCPOptClasslessStaticRoute, append([]byte{0}, gw...)))
		}
		if len(from.net.DNS) > 0 {
			var dns []byte
			for _, d := range from.net.DNS {
				dns = append(dns, netip.MustParseAddr(d).AsSlice()...)
			}
			opts = append(opts, layers.NewDHCPOption(layers.DHCPOptDNS, dns))
		}
	}
	opts = append(opts, layers.NewDHCPOption(layers.DHCPOptEnd, nil))
	reply := &layers.DHCPv4{Operation: layers.DHCPOpReply, HardwareType: layers.LinkTypeEthernet, HardwareLen: 6,
		Xid: req.Xid, Flags: req.Flags, YourClientIP: yiaddr, NextServerIP: net.IPv4zero, ClientIP: net.IPv4zero,
		RelayAgentIP: net.IPv4zero, ClientHWAddr: req.ClientHWAddr, Options: opts}
	dstIP := net.IP(addr.AsSlice())
	dstMAC := req.ClientHWAddr
	if req.Flags&0x8000 != 0 || replyType == layers.DHCPMsgTypeNak || !addr.IsValid() {
		dstIP = net.IPv4bcast
		dstMAC = layers.EthernetBroadcast
	}
	udp := &layers.UDP{SrcPort: 67, DstPort: 68}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: server.AsSlice(), DstIP: dstIP}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(&layers.Ethernet{SrcMAC: serverMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4}, ip, udp, reply)
}
