package vnet

import (
	"bytes"
	"errors"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// ---- the configuration decoder

var fuzzConfigSeeds = []string{
	`datapaths:
  - {name: h1, dpid: "1", segment: a}
  - {name: h2, dpid: "2", segment: a}
  - {name: h3, dpid: "3", segment: b, tunnel_ips: [10.101.0.3]}
networks:
  - {name: net1, subnet: 10.1.0.0/24, gateway: 10.1.0.1}
  - {name: net2, subnet: 10.2.0.0/24, gateway: 10.2.0.1, dhcp: true, dns: [10.2.0.53], lease_seconds: 60}
  - {name: net3, id: 9, subnet: 10.1.0.0/24, dhcp: true, dhcp_start: 10.1.0.10, dhcp_end: 10.1.0.20}
interfaces:
  - {name: a1, network: net1, datapath: h1, port: vm1, mac: "02:00:00:00:01:01", ip: 10.1.0.11}
  - {name: a2, network: net1, datapath: h2, port: vm1, ip: 10.1.0.12, security_groups: [web]}
  - {name: b3, network: net2, datapath: h3, port: vm1}
  - {name: t1, network: net2, datapath: h1, port: trunk, vlan: 10}
  - {name: t2, network: net3, datapath: h1, port: trunk, vlan: 20}
  - {name: s1, network: net1, mode: simulated, ip: 10.1.0.99}
routers:
  - name: r1
    interfaces: [{network: net1}, {network: net2, ip: 10.2.0.1, mac: "02:aa:00:00:00:01"}]
    routes: [{destination: 10.9.0.0/16, next_hop: 10.1.0.12}]
security_groups:
  - name: web
    rules:
      - {protocol: tcp, port_min: 22, port_max: 80, remote_cidr: 10.2.0.0/24}
      - {protocol: udp, port_min: 53, remote_group: web}
      - {protocol: icmp}
      - {protocol: any, direction: egress}
`,
	`{"datapaths": [{"name": "h1", "dpid": "00:00:00:00:00:00:00:01"}], "networks": [{"name": "n", "subnet": "192.168.0.0/30", "dhcp": true}],
 "interfaces": [{"name": "i", "network": "n", "datapath": "h1", "port": "p"}], "routers": [], "security_groups": []}`,
	"{}",
	"networks: [{name: n, subnet: 10.0.0.0/8, gateway: 10.255.255.254}]\n",
	"routers: [{name: r, interfaces: [{network: x}]}]\n",
	"datapaths: [{name: A, dpid: zz}]\n",
	"networks:\n  - &n {name: a, subnet: 10.0.0.0/24}\n  - *n\n",
	"- 1\n",
	"{\"networks\": 5}",
}

// fuzzEnv is a live network where every port exists and h1-h2 are linked.
func fuzzEnv() Env {
	return Env{
		PortNo: func(dpid uint64, name string) (uint32, bool) {
			h := fnv.New32a()
			h.Write([]byte(name))
			return h.Sum32()%0xff00 + 1, true
		},
		DirectLink: func(a, b uint64) (uint32, bool) { return uint32(100 + b%100), a+b == 3 },
	}
}

// FuzzApplyYAML feeds arbitrary documents to the decoder of `satellite
// apply -f` and PUT /api/v1/vnet/config. Whatever it accepts, Validate
// either refuses with a *FieldError or accepts; an accepted configuration
// validates again to itself, compiles without panicking, and survives an
// export (YAML and JSON) and a re-import unchanged.
func FuzzApplyYAML(f *testing.F) {
	for _, s := range fuzzConfigSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := DecodeConfig(doc, "")
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate returned %T %v, want a *FieldError", err, err)
			}
			return
		}
		c.Sort()
		again := cloneConfig(c)
		if err := again.Validate(); err != nil {
			t.Fatalf("a valid configuration does not validate again: %v", err)
		}
		if d := Diff(c, again); len(d) > 0 {
			t.Fatalf("validating twice changed %v", d)
		}
		Compile(&c, []Lease{}, fuzzEnv())
		for _, format := range []string{FormatYAML, FormatJSON} {
			b, err := EncodeConfig(c, format)
			if err != nil {
				t.Fatalf("export as %s: %v", format, err)
			}
			back, err := DecodeConfig(b, "")
			if err != nil {
				t.Fatalf("re-import of the %s export: %v\n%s", format, err, b)
			}
			if err := back.Validate(); err != nil {
				t.Fatalf("the %s export does not validate: %v\n%s", format, err, b)
			}
			back.Sort()
			if d := Diff(c, back); len(d) > 0 {
				t.Fatalf("the %s export changed %v\n%s", format, d, b)
			}
		}
	})
}

// ---- the packet-in path

// memStore is a Store in memory.
type memStore struct {
	mu     sync.Mutex
	cfg    Config
	rev    uint64
	leases map[string]Lease
}

func (s *memStore) Load() (Config, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneConfig(s.cfg), s.rev, nil
}

func (s *memStore) Save(c Config, prev uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev != s.rev {
		return 0, ErrConflict
	}
	s.cfg, s.rev = cloneConfig(c), s.rev+1
	return s.rev, nil
}

func (s *memStore) Leases() ([]Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Lease
	for _, l := range s.leases {
		out = append(out, l)
	}
	return out, nil
}

func (s *memStore) UpdateLeases(save, remove []Lease) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range remove {
		delete(s.leases, l.Network+"/"+l.IP)
	}
	for _, l := range save {
		s.leases[l.Network+"/"+l.IP] = l
	}
	return nil
}

func (s *memStore) Close() error { return nil }

// responderConfig has every kind of source the responder knows: a static
// vif, a DHCP vif, trunk members on one port (DHCP, in a /30 with one free
// address, so the second client finds the range exhausted), a simulated
// interface and a router in both networks.
var responderConfig = Config{
	Datapaths: []Datapath{{Name: "h1", DPID: "1"}},
	Networks: []Network{
		{Name: "net1", Subnet: "10.1.0.0/24", Gateway: "10.1.0.1", DHCP: true, DNS: []string{"10.1.0.53", "10.1.0.54"}},
		{Name: "net2", Subnet: "10.2.0.0/30", Gateway: "10.2.0.1", DHCP: true, LeaseSeconds: 60},
		{Name: "net3", Subnet: "10.3.0.0/24", DHCP: true},
	},
	Interfaces: []Interface{
		{Name: "a1", Network: "net1", Datapath: "h1", Port: "vm1", MAC: "02:00:00:00:01:01", IP: "10.1.0.11"},
		{Name: "d1", Network: "net1", Datapath: "h1", Port: "vm2", MAC: "02:00:00:00:01:02"},
		{Name: "t1", Network: "net2", Datapath: "h1", Port: "trunk", VLAN: 10, MAC: "02:00:00:00:01:10"},
		{Name: "t2", Network: "net2", Datapath: "h1", Port: "trunk", VLAN: 20, MAC: "02:00:00:00:01:20"},
		{Name: "n3", Network: "net3", Datapath: "h1", Port: "vm3", MAC: "02:00:00:00:01:03"},
		{Name: "s1", Network: "net1", Mode: ModeSimulated, IP: "10.1.0.99"},
	},
	Routers: []Router{{Name: "r1", Interfaces: []RouterInterface{{Network: "net1"}, {Network: "net2"}}}},
}

// vifs are the sources of packet-ins, by interface name (the order the
// fuzzer's selector byte picks from).
var vifs = []string{"a1", "d1", "t1", "t2", "n3"}

// clock is a clock the tests move.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newResponder(t testing.TB) *Manager {
	m, _ := newResponderClock(t)
	return m
}

// newResponderClock is a Manager with responderConfig, its leases in
// memory, and a clock the test moves.
func newResponderClock(t testing.TB) (*Manager, *clock) {
	c := newClock()
	m, err := NewManager(&memStore{leases: map[string]Lease{}}, nil, nil, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(responderConfig); err != nil {
		t.Fatal(err)
	}
	return m, c
}

// from is what (*Manager).source finds for a vif: the interface as
// configured, its network, and a port number.
func from(m *Manager, name string) where {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, in := range m.cfg.Interfaces {
		if in.Name != name {
			continue
		}
		for _, n := range m.cfg.Networks {
			if n.Name == in.Network {
				return where{iface: in, net: n, port: uint32(i + 1)}
			}
		}
	}
	panic("no vif " + name)
}

// respond is (*Manager).packetIn from the decoding of the frame to the
// reply it would send, for a frame that arrived from vif w (the source
// lookup and the spoofing check are left out: the frame's source MAC is
// w's), without a switch to send the reply to.
func respond(m *Manager, w where, frame []byte) ([]byte, error) {
	pkt := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	eth, _ := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if eth == nil {
		return nil, nil
	}
	switch {
	case pkt.Layer(layers.LayerTypeARP) != nil:
		return m.arpReply(w, pkt.Layer(layers.LayerTypeARP).(*layers.ARP))
	case pkt.Layer(layers.LayerTypeDHCPv4) != nil:
		return m.dhcpReply(w, pkt.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4))
	case pkt.Layer(layers.LayerTypeICMPv4) != nil:
		return m.echoReply(w, pkt)
	}
	return nil, nil
}

// withSource returns frame with w's MAC as its source (packetIn drops
// anything else before it gets to the responders).
func withSource(w where, frame []byte) []byte {
	out := append([]byte(nil), frame...)
	if len(out) >= 12 {
		hw, _ := net.ParseMAC(w.iface.MAC)
		copy(out[6:12], hw)
	}
	return out
}

// checkReply checks what the responder answered to frame from w.
func checkReply(t *testing.T, m *Manager, w where, frame, reply []byte) {
	t.Helper()
	pkt := gopacket.NewPacket(reply, layers.LayerTypeEthernet, gopacket.Default)
	if el := pkt.ErrorLayer(); el != nil {
		t.Fatalf("the reply does not decode: %v\n%x", el.Error(), reply)
	}
	eth, _ := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if eth == nil || len(eth.SrcMAC) != 6 || eth.SrcMAC[0]&1 != 0 {
		t.Fatalf("the reply's source is not a unicast MAC: %x", reply)
	}
	req := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	switch {
	case pkt.Layer(layers.LayerTypeARP) != nil:
		arp := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
		q, _ := req.Layer(layers.LayerTypeARP).(*layers.ARP)
		if q == nil || arp.Operation != layers.ARPReply || !bytes.Equal(arp.SourceProtAddress, q.DstProtAddress) {
			t.Fatalf("ARP reply %+v to %+v", arp, q)
		}
		mac, ok := m.answerFor(w.net.Name, net.IP(arp.SourceProtAddress).String())
		if !ok || mac != net.HardwareAddr(arp.SourceHwAddress).String() {
			t.Fatalf("ARP reply claims %s is at %s in %s", net.IP(arp.SourceProtAddress), net.HardwareAddr(arp.SourceHwAddress), w.net.Name)
		}
	case pkt.Layer(layers.LayerTypeDHCPv4) != nil:
		d := pkt.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4)
		q, _ := req.Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4)
		udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if q == nil || d.Xid != q.Xid || d.Operation != layers.DHCPOpReply || udp == nil || udp.SrcPort != 67 || udp.DstPort != 68 {
			t.Fatalf("DHCP reply %+v to %+v", d, q)
		}
		if yi := d.YourClientIP; !yi.IsUnspecified() {
			a, _ := netip.AddrFromSlice(yi.To4())
			if !netip.MustParsePrefix(w.net.Subnet).Contains(a) {
				t.Fatalf("DHCP offered %s outside %s", a, w.net.Subnet)
			}
		}
	case pkt.Layer(layers.LayerTypeICMPv4) != nil:
		icmp := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if ip == nil || icmp.TypeCode.Type() != layers.ICMPv4TypeEchoReply {
			t.Fatalf("echo reply %+v", icmp)
		}
		if _, ok := m.answerFor(w.net.Name, ip.SrcIP.String()); !ok {
			t.Fatalf("echo reply from %s, which nothing in %s has", ip.SrcIP, w.net.Name)
		}
	default:
		t.Fatalf("a reply that is neither ARP, DHCP nor ICMP: %x", reply)
	}
}

// checkLeases checks the lease records: every one in its network's range
// (the configuration does not change here), and every active one held by
// a DHCP interface of the network, once per client, at an address the
// model does not give to anything else.
func checkLeases(t *testing.T, m *Manager) {
	t.Helper()
	cfg, _ := m.Config()
	taken := map[string]bool{}
	dhcpIf := map[string]bool{}
	for _, in := range cfg.Interfaces {
		if in.IP != "" {
			taken[in.Network+"/"+in.IP] = true
		} else {
			dhcpIf[in.Network+"/"+in.MAC] = true
		}
	}
	for _, r := range cfg.Routers {
		for _, ri := range r.Interfaces {
			taken[ri.Network+"/"+ri.IP] = true
		}
	}
	seen := map[string]string{}
	clients := map[string]string{}
	for _, l := range m.Leases() {
		var n *Network
		for i := range cfg.Networks {
			if cfg.Networks[i].Name == l.Network {
				n = &cfg.Networks[i]
			}
		}
		a := netip.MustParseAddr(l.IP)
		if n == nil || a.Compare(netip.MustParseAddr(n.DHCPStart)) < 0 || a.Compare(netip.MustParseAddr(n.DHCPEnd)) > 0 {
			t.Fatalf("lease %+v outside its network's range", l)
		}
		if other, ok := seen[l.Network+"/"+l.IP]; ok {
			t.Fatalf("%s has two records: %s and %s", l.IP, other, l.MAC)
		}
		seen[l.Network+"/"+l.IP] = l.MAC
		switch l.State {
		case LeaseOffered, LeaseBound, LeaseGrace:
			if !dhcpIf[l.Network+"/"+l.MAC] || taken[l.Network+"/"+l.IP] {
				t.Fatalf("active lease %+v of no DHCP interface, or of a static or router address", l)
			}
			if other, ok := clients[l.Network+"/"+l.MAC]; ok {
				t.Fatalf("%s holds %s and %s", l.MAC, other, l.IP)
			}
			clients[l.Network+"/"+l.MAC] = l.IP
		case LeaseExpired, LeaseReleased, LeaseDeclined:
		default:
			t.Fatalf("lease %+v in an unknown state", l)
		}
	}
}

// fuzzResponder runs a frame through the responder from two vifs in turn
// (picked by sel), after d1 got a lease (so that renewals, releases and
// declines have something to act on); between the two the clock moves by
// sel x 37 s (up to 2.6 h: past offers, leases, grace and quarantines) and
// the leases are swept.
func fuzzResponder(t *testing.T, sel byte, frame []byte) {
	m, clk := newResponderClock(t)
	d1 := from(m, "d1")
	if _, err := respond(m, d1, withSource(d1, dhcpMessage(t, 0, layers.DHCPMsgTypeRequest, 0, nil, requestIP(10, 1, 0, 128)))); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		w := from(m, vifs[(int(sel)+i)%len(vifs)])
		in := withSource(w, frame)
		reply, err := respond(m, w, in)
		if err == nil && reply != nil {
			checkReply(t, m, w, in, reply)
		}
		if i == 0 {
			clk.Add(time.Duration(sel) * 37 * time.Second)
			if _, err := m.sweepLeases(); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkLeases(t, m)
}

func frame(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var (
	macA1    = net.HardwareAddr{2, 0, 0, 0, 1, 1}
	macBcast = layers.EthernetBroadcast
)

func arpRequest(t testing.TB, vlan uint16, srcIP, target string) []byte {
	arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: layers.ARPRequest, SourceHwAddress: macA1, SourceProtAddress: net.ParseIP(srcIP).To4(),
		DstHwAddress: make([]byte, 6), DstProtAddress: net.ParseIP(target).To4()}
	if vlan != 0 {
		return frame(t, &layers.Ethernet{SrcMAC: macA1, DstMAC: macBcast, EthernetType: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: vlan, Type: layers.EthernetTypeARP}, arp)
	}
	return frame(t, &layers.Ethernet{SrcMAC: macA1, DstMAC: macBcast, EthernetType: layers.EthernetTypeARP}, arp)
}

func dhcpRequest(t testing.TB, vlan uint16, typ layers.DHCPMsgType, flags uint16, opts ...layers.DHCPOption) []byte {
	return dhcpMessage(t, vlan, typ, flags, nil, opts...)
}

// dhcpMessage is a DHCP message from a client with the address ciaddr
// (nil: 0.0.0.0), sent from ciaddr to the broadcast address.
func dhcpMessage(t testing.TB, vlan uint16, typ layers.DHCPMsgType, flags uint16, ciaddr net.IP, opts ...layers.DHCPOption) []byte {
	src := net.IPv4zero
	if ciaddr != nil {
		src = ciaddr
	}
	d := &layers.DHCPv4{Operation: layers.DHCPOpRequest, HardwareType: layers.LinkTypeEthernet, HardwareLen: 6, Xid: 0x1234, Flags: flags,
		ClientIP: ciaddr, ClientHWAddr: macA1, Options: append(layers.DHCPOptions{layers.NewDHCPOption(layers.DHCPOptMessageType, []byte{byte(typ)})}, opts...)}
	d.Options = append(d.Options, layers.NewDHCPOption(layers.DHCPOptEnd, nil))
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: net.IPv4bcast}
	udp := &layers.UDP{SrcPort: 68, DstPort: 67}
	udp.SetNetworkLayerForChecksum(ip)
	if vlan != 0 {
		return frame(t, &layers.Ethernet{SrcMAC: macA1, DstMAC: macBcast, EthernetType: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: vlan, Type: layers.EthernetTypeIPv4}, ip, udp, d)
	}
	return frame(t, &layers.Ethernet{SrcMAC: macA1, DstMAC: macBcast, EthernetType: layers.EthernetTypeIPv4}, ip, udp, d)
}

func requestIP(a, b, c, d byte) layers.DHCPOption {
	return layers.NewDHCPOption(layers.DHCPOptRequestIP, []byte{a, b, c, d})
}

func serverID(a, b, c, d byte) layers.DHCPOption {
	return layers.NewDHCPOption(layers.DHCPOptServerID, []byte{a, b, c, d})
}

func echoRequest(t testing.TB, dstMAC net.HardwareAddr, src, dst string) []byte {
	return frame(t, &layers.Ethernet{SrcMAC: macA1, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 1, Seq: 1}, gopacket.Payload("ping"))
}

// routerMAC is r1's MAC in net1 (generated by Validate).
func routerMAC(t testing.TB) net.HardwareAddr {
	c := cloneConfig(responderConfig)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	hw, _ := net.ParseMAC(c.Routers[0].Interfaces[0].MAC)
	return hw
}

// FuzzARP feeds arbitrary frames (seeded with ARP requests, tagged and
// untagged, and pings to the router) through the responder.
func FuzzARP(f *testing.F) {
	f.Add(byte(0), arpRequest(f, 0, "10.1.0.11", "10.1.0.1"))   // a1 asks for the gateway
	f.Add(byte(0), arpRequest(f, 0, "10.1.0.11", "10.1.0.99"))  // a simulated interface
	f.Add(byte(1), arpRequest(f, 0, "0.0.0.0", "10.1.0.11"))    // d1 probes a1's address
	f.Add(byte(2), arpRequest(f, 10, "10.2.0.2", "10.2.0.1"))   // t1 on its VLAN
	f.Add(byte(0), arpRequest(f, 0, "10.1.0.11", "10.1.0.200")) // nobody has it
	f.Add(byte(0), echoRequest(f, routerMAC(f), "10.1.0.11", "10.1.0.1"))
	f.Add(byte(4), echoRequest(f, routerMAC(f), "10.3.0.5", "10.1.0.1"))
	f.Add(byte(0), []byte{})
	f.Add(byte(0), arpRequest(f, 0, "10.1.0.11", "10.1.0.1")[:30])
	f.Fuzz(fuzzResponder)
}

// FuzzDHCP feeds arbitrary frames (seeded with DHCP discovers and
// requests) through the responder.
func FuzzDHCP(f *testing.F) {
	f.Add(byte(1), dhcpRequest(f, 0, layers.DHCPMsgTypeDiscover, 0))
	f.Add(byte(1), dhcpRequest(f, 0, layers.DHCPMsgTypeRequest, 0x8000, layers.NewDHCPOption(layers.DHCPOptRequestIP, []byte{10, 1, 0, 128})))
	f.Add(byte(1), dhcpRequest(f, 0, layers.DHCPMsgTypeRequest, 0, layers.NewDHCPOption(layers.DHCPOptRequestIP, []byte{10, 1, 0, 7})))
	f.Add(byte(2), dhcpRequest(f, 10, layers.DHCPMsgTypeDiscover, 0)) // t1 then t2: the /30 has one address
	f.Add(byte(0), dhcpRequest(f, 0, layers.DHCPMsgTypeDiscover, 0))  // a1 has a static address
	f.Add(byte(4), dhcpRequest(f, 0, layers.DHCPMsgTypeInform, 0))
	f.Add(byte(1), dhcpRequest(f, 0, layers.DHCPMsgTypeDiscover, 0, layers.NewDHCPOption(layers.DHCPOptRequestIP, []byte{1})))
	d1 := net.IPv4(10, 1, 0, 128).To4()                                                                                                                                             // d1's lease (fuzzResponder makes it)
	f.Add(byte(1), dhcpMessage(f, 0, layers.DHCPMsgTypeRequest, 0, d1))                                                                                                             // renewing
	f.Add(byte(201), dhcpMessage(f, 0, layers.DHCPMsgTypeRequest, 0, d1))                                                                                                           // renewing 2 h later: expired
	f.Add(byte(1), dhcpMessage(f, 0, layers.DHCPMsgTypeRelease, 0, d1, serverID(10, 1, 0, 1)))                                                                                      // d1 releases, then a1
	f.Add(byte(6), dhcpMessage(f, 0, layers.DHCPMsgTypeRelease, 0, d1, serverID(10, 1, 0, 1)))                                                                                      // d1, then t1
	f.Add(byte(1), dhcpMessage(f, 0, layers.DHCPMsgTypeRelease, 0, d1, serverID(10, 9, 9, 9)))                                                                                      // for another server
	f.Add(byte(1), dhcpMessage(f, 0, layers.DHCPMsgTypeRelease, 0, net.IPv4(10, 1, 0, 11).To4()))                                                                                   // not its address
	f.Add(byte(1), dhcpMessage(f, 0, layers.DHCPMsgTypeDecline, 0, nil, requestIP(10, 1, 0, 128), serverID(10, 1, 0, 1)))                                                           // d1 declines
	f.Add(byte(0), dhcpMessage(f, 0, layers.DHCPMsgTypeDecline, 0, nil, requestIP(10, 1, 0, 11)))                                                                                   // a1 declines its static address
	f.Add(byte(2), dhcpMessage(f, 10, layers.DHCPMsgTypeRelease, 0, net.IPv4(10, 2, 0, 2).To4()))                                                                                   // t1 on its VLAN
	f.Add(byte(97), dhcpMessage(f, 0, layers.DHCPMsgTypeDiscover, 0, nil, requestIP(10, 1, 0, 130)))                                                                                // an hour later, asking
	f.Add(byte(1), dhcpMessage(f, 0, layers.DHCPMsgTypeRequest, 0, nil, requestIP(10, 1, 0, 128), serverID(10, 1, 0, 1), layers.NewDHCPOption(layers.DHCPOptRequestIP, []byte{1}))) // two options 50
	f.Fuzz(fuzzResponder)
}

// TestResponder checks the seeds' answers in detail: the fuzz targets
// only check that answers are well-formed.
func TestResponder(t *testing.T) {
	m := newResponder(t)
	rmac := routerMAC(t)

	w := from(m, "a1")
	reply, err := respond(m, w, arpRequest(t, 0, "10.1.0.11", "10.1.0.1"))
	if err != nil || reply == nil {
		t.Fatalf("ARP for the gateway: %v", err)
	}
	arp := gopacket.NewPacket(reply, layers.LayerTypeEthernet, gopacket.Default).Layer(layers.LayerTypeARP).(*layers.ARP)
	if !bytes.Equal(arp.SourceHwAddress, rmac) || !bytes.Equal(arp.DstHwAddress, macA1) {
		t.Fatalf("ARP reply %+v", arp)
	}
	if _, err := respond(m, w, arpRequest(t, 0, "10.1.0.11", "10.1.0.200")); err == nil {
		t.Fatal("answered ARP for an unknown address")
	}
	reply, err = respond(m, w, echoRequest(t, rmac, "10.1.0.11", "10.1.0.1"))
	if err != nil || reply == nil {
		t.Fatalf("ping to the router: %v", err)
	}
	if _, err := respond(m, w, echoRequest(t, macBcast, "10.1.0.11", "10.1.0.1")); err == nil {
		t.Fatal("answered a ping to the router's address at another MAC")
	}

	// DHCP: d1 gets the first address of the range, t1 the only one of
	// net2's, t2 finds net2 exhausted
	d1 := from(m, "d1")
	reply, err = respond(m, d1, withSource(d1, dhcpRequest(t, 0, layers.DHCPMsgTypeDiscover, 0)))
	if err != nil || reply == nil {
		t.Fatalf("discover: %v", err)
	}
	offer := gopacket.NewPacket(reply, layers.LayerTypeEthernet, gopacket.Default).Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4)
	if offer.YourClientIP.String() != "10.1.0.128" {
		t.Fatalf("offer %+v", offer)
	}
	opts := map[layers.DHCPOpt][]byte{}
	for _, o := range offer.Options {
		opts[o.Type] = o.Data
	}
	if opts[layers.DHCPOptMessageType][0] != byte(layers.DHCPMsgTypeOffer) || net.IP(opts[layers.DHCPOptRouter]).String() != "10.1.0.1" ||
		!bytes.Equal(opts[layers.DHCPOptDNS], []byte{10, 1, 0, 53, 10, 1, 0, 54}) {
		t.Fatalf("offer options %v", offer.Options)
	}
	reply, _ = respond(m, d1, withSource(d1, dhcpRequest(t, 0, layers.DHCPMsgTypeRequest, 0, layers.NewDHCPOption(layers.DHCPOptRequestIP, []byte{10, 1, 0, 7}))))
	nak := gopacket.NewPacket(reply, layers.LayerTypeEthernet, gopacket.Default).Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4)
	if nak.Options[0].Data[0] != byte(layers.DHCPMsgTypeNak) || !nak.YourClientIP.IsUnspecified() {
		t.Fatalf("a request for another address: %+v", nak)
	}
	t1, t2 := from(m, "t1"), from(m, "t2")
	if reply, err := respond(m, t1, withSource(t1, dhcpRequest(t, 10, layers.DHCPMsgTypeDiscover, 0))); err != nil || reply == nil {
		t.Fatalf("t1: %v", err)
	}
	if _, err := respond(m, t2, withSource(t2, dhcpRequest(t, 20, layers.DHCPMsgTypeDiscover, 0))); err == nil {
		t.Fatal("t2 got an address from an exhausted range")
	}
	leases := m.Leases()
	if len(leases) != 2 || leases[0].IP != "10.1.0.128" || leases[1].IP != "10.2.0.2" {
		t.Fatalf("leases %+v", leases)
	}
	checkLeases(t, m)
}
