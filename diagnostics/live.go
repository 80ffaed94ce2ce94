package diagnostics

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
)

// Live tracing: the packet is injected at the source port as if the
// source had sent it (packet-out through the pipeline, in_port = the
// source's port), marked with a DSCP value; a temporary flow on every
// switch (owner kind trace, table 0, above every other ingress flow but
// LLDP, hard timeout LiveHardTimeout) matches the marked packet only,
// copies it to the controller and sends it on to table 1 as the ingress
// table would. The copies say where the packet really entered each
// switch. The flows are deleted at the end (and expire by themselves).
const (
	LiveMarkDSCP    = 0x2d // the mark: a DSCP no virtual-network flow matches
	LivePriority    = 65000
	LiveHardTimeout = 10 // seconds
	liveWait        = 800 * time.Millisecond
	liveQuiet       = 250 * time.Millisecond
)

// frame builds the packet's bytes.
func frame(p Packet, payload []byte) ([]byte, error) {
	hw := func(v uint64) net.HardwareAddr {
		m, _ := net.ParseMAC(MAC(v))
		return m
	}
	ip4 := func(v uint32) net.IP { return net.ParseIP(IPv4(v)).To4() }
	var ls []gopacket.SerializableLayer
	eth := &layers.Ethernet{SrcMAC: hw(p.EthSrc), DstMAC: hw(p.EthDst), EthernetType: layers.EthernetTypeIPv4}
	ls = append(ls, eth)
	if p.NVLAN > 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: p.VLAN[0], Priority: p.PCP[0], Type: layers.EthernetTypeIPv4})
	}
	ip := &layers.IPv4{Version: 4, TTL: p.TTL, TOS: p.DSCP<<2 | p.ECN, Protocol: layers.IPProtocol(p.IPProto), SrcIP: ip4(p.IPSrc), DstIP: ip4(p.IPDst), Id: uint16(rand.Uint32())}
	ls = append(ls, ip)
	switch p.IPProto {
	case ProtoICMP:
		ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(p.ICMPType, p.ICMPCode), Id: uint16(rand.Uint32()), Seq: 1})
	case ProtoTCP:
		t := &layers.TCP{SrcPort: layers.TCPPort(p.L4Src), DstPort: layers.TCPPort(p.L4Dst), SYN: true, Window: 1024, Seq: rand.Uint32()}
		t.SetNetworkLayerForChecksum(ip)
		ls = append(ls, t)
	case ProtoUDP:
		u := &layers.UDP{SrcPort: layers.UDPPort(p.L4Src), DstPort: layers.UDPPort(p.L4Dst)}
		u.SetNetworkLayerForChecksum(ip)
		ls = append(ls, u)
	default:
		return nil, fmt.Errorf("live traces send icmp, tcp or udp")
	}
	ls = append(ls, gopacket.Payload(payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// live injects the packet and reports where it was seen, next to the
// simulation.
func (v *view) live(ctx context.Context, tr *Trace, start Endpoint, p Packet) (*Live, error) {
	p.DSCP = LiveMarkDSCP
	id := rand.Uint32()
	cookie := controller.NewCookie(controller.OwnerTrace, 0, id)
	spec := fmt.Sprintf("table=0,priority=%d,ip,nw_src=%s,nw_dst=%s,nw_proto=%d,ip_dscp=%d,actions=controller,goto_table:1",
		LivePriority, IPv4(p.IPSrc), IPv4(p.IPDst), p.IPProto, LiveMarkDSCP)
	flow, err := controller.ParseFlow(spec)
	if err != nil {
		return nil, fmt.Errorf("live trace flow %q: %w", spec, err)
	}
	flow.Cookie, flow.HardTimeout = cookie, LiveHardTimeout
	data, err := frame(p, []byte(fmt.Sprintf("satellite live trace %08x", id)))
	if err != nil {
		return nil, reqErr(422, "proto", "%v", err)
	}
	src := v.t.Ctl.Switch(start.DPID)
	if src == nil {
		return nil, reqErr(503, "", "switch %s disconnected before the live trace", v.name(start.DPID))
	}
	sub := v.t.Ctl.Bus().Subscribe(1024, controller.PacketIn)
	defer sub.Close()

	var installed []*controller.Session
	defer func() {
		// removed whatever happens (they also expire after LiveHardTimeout)
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range installed {
			if err := s.DeleteFlows(dctx, controller.FlowFilter{Table: controller.TableAll, Cookie: uint64(cookie), CookieMask: controller.CookieMaskAll}); err != nil {
				v.t.log().Warn("removing a live trace's observation flow failed; it expires by itself", "dpid", fmt.Sprintf("%016x", s.DPID()), "err", err)
			}
		}
	}()
	for _, s := range v.t.Ctl.Switches() {
		if err := s.AddFlows(ctx, flow); err != nil {
			return nil, reqErr(503, "", "installing the live trace's observation flow on %s: %v", v.name(s.DPID()), err)
		}
		installed = append(installed, s)
	}
	if err := src.PacketOut(ctx, start.Port, ofp.Actions{&ofp.ActionOutput{Port: ofp.PortTable}}, data); err != nil {
		return nil, reqErr(503, "", "injecting the live trace's packet on %s: %v", v.name(start.DPID), err)
	}
	var seen []Endpoint
	deadline := time.NewTimer(liveWait)
	defer deadline.Stop()
	quiet := time.NewTimer(time.Hour)
	defer quiet.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			return nil, reqErr(504, "", "live trace: %v", ctx.Err())
		case <-deadline.C:
			break wait
		case <-quiet.C:
			break wait
		case e, ok := <-sub.C:
			if !ok {
				break wait
			}
			if e.PacketIn == nil || e.PacketIn.Cookie != uint64(cookie) {
				continue
			}
			seen = append(seen, Endpoint{e.DPID, e.PacketIn.InPort()})
			quiet.Reset(liveQuiet)
		}
	}
	// packet-ins of different switches come over different connections,
	// so their order means nothing: compare as sets, list in path order
	var sim []Endpoint
	for _, vis := range tr.visits {
		sim = append(sim, vis.at)
	}
	got := map[Endpoint]int{}
	for _, at := range seen {
		got[at]++
	}
	l := &Live{Observed: []string{}, Agrees: true}
	for _, at := range sim {
		if got[at] > 0 {
			got[at]--
			l.Observed = append(l.Observed, v.endpointText(at))
		} else if l.Agrees {
			l.Agrees = false
			l.Note = fmt.Sprintf("the packet was not seen entering %s, where the simulation takes it: the data plane lost it before", v.endpointText(at))
		}
	}
	for _, at := range seen {
		if got[at] > 0 {
			got[at]--
			l.Observed = append(l.Observed, v.endpointText(at))
			if l.Agrees {
				l.Agrees = false
				l.Note = fmt.Sprintf("the packet also entered %s, which the simulation does not reach", v.endpointText(at))
			}
		}
	}
	if l.Agrees {
		l.Note = fmt.Sprintf("the marked packet (DSCP %d) entered the same %d switch ports as simulated; delivery past the last switch is not observed", LiveMarkDSCP, len(seen))
	}
	return l, nil
}

func (v *view) endpointText(at Endpoint) string {
	name := ""
	if s := v.t.Ctl.Switch(at.DPID); s != nil {
		if p, ok := s.Port(at.Port); ok {
			name = " (" + p.Name + ")"
		}
	}
	return fmt.Sprintf("%s port %d%s", v.name(at.DPID), at.Port, name)
}

func liveAllowed(r Request, proto string) error {
	switch {
	case proto != "icmp" && proto != "tcp" && proto != "udp":
		return reqErr(400, "live", "live traces inject icmp, tcp or udp, not %s", proto)
	case r.SrcMAC != "" || r.SrcIP != "":
		return reqErr(400, "live", "live traces send as the interface itself: drop src_mac and src_ip, or trace without live")
	}
	return nil
}
