package vnet

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	bolt "go.etcd.io/bbolt"

	"github.com/satellite-sdn/satellite/controller"
)

// leaseConfig is one network whose DHCP range has three addresses, one of
// them the static address of s1: the pool is 10.5.0.10 and 10.5.0.12.
// c1, c2, c3 are DHCP clients; r1 at the gateway is the DHCP server.
var leaseConfig = Config{
	Datapaths: []Datapath{{Name: "h1", DPID: "1"}},
	Networks: []Network{{Name: "n", Subnet: "10.5.0.0/24", Gateway: "10.5.0.1", DHCP: true,
		DHCPStart: "10.5.0.10", DHCPEnd: "10.5.0.12", LeaseSeconds: 600}},
	Interfaces: []Interface{
		{Name: "c1", Network: "n", Datapath: "h1", Port: "p1", MAC: "02:00:00:00:05:01"},
		{Name: "c2", Network: "n", Datapath: "h1", Port: "p2", MAC: "02:00:00:00:05:02"},
		{Name: "c3", Network: "n", Datapath: "h1", Port: "p3", MAC: "02:00:00:00:05:03"},
		{Name: "s1", Network: "n", Datapath: "h1", Port: "p4", MAC: "02:00:00:00:05:04", IP: "10.5.0.11"},
	},
	Routers: []Router{{Name: "r1", Interfaces: []RouterInterface{{Network: "n"}}}},
}

const (
	leaseTime = 600 * time.Second
	grace     = DefaultLeaseGrace
)

var (
	ip10 = netip.MustParseAddr("10.5.0.10")
	ip11 = netip.MustParseAddr("10.5.0.11")
	ip12 = netip.MustParseAddr("10.5.0.12")
)

// leaseEnv is a Manager with leaseConfig over a store, with a clock the
// test moves.
type leaseEnv struct {
	t     *testing.T
	m     *Manager
	clock *clock
}

func newLeaseEnv(t *testing.T, store Store, c *clock) *leaseEnv {
	t.Helper()
	m, err := NewManager(store, nil, nil, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if cfg, _ := m.Config(); len(cfg.Networks) == 0 {
		if _, err := m.Apply(leaseConfig); err != nil {
			t.Fatal(err)
		}
	}
	return &leaseEnv{t: t, m: m, clock: c}
}

func newMemLeaseEnv(t *testing.T) *leaseEnv {
	return newLeaseEnv(t, &memStore{leases: map[string]Lease{}}, newClock())
}

// answer decodes a DHCP reply: its type and yiaddr.
func answer(t *testing.T, reply []byte) (layers.DHCPMsgType, netip.Addr) {
	t.Helper()
	d, _ := gopacket.NewPacket(reply, layers.LayerTypeEthernet, gopacket.Default).Layer(layers.LayerTypeDHCPv4).(*layers.DHCPv4)
	if d == nil {
		t.Fatalf("not a DHCP reply: %x", reply)
	}
	var typ layers.DHCPMsgType
	for _, o := range d.Options {
		if o.Type == layers.DHCPOptMessageType && len(o.Data) == 1 {
			typ = layers.DHCPMsgType(o.Data[0])
		}
	}
	a, _ := netip.AddrFromSlice(d.YourClientIP.To4())
	return typ, a
}

// send sends a DHCP message from a client and returns the reply's type
// and address (0 and invalid: no reply) and the responder's error.
func (e *leaseEnv) send(name string, typ layers.DHCPMsgType, ciaddr netip.Addr, opts ...layers.DHCPOption) (layers.DHCPMsgType, netip.Addr, error) {
	e.t.Helper()
	w := from(e.m, name)
	var ci net.IP
	if ciaddr.IsValid() {
		ci = ciaddr.AsSlice()
	}
	reply, err := respond(e.m, w, withSource(w, dhcpMessage(e.t, 0, typ, 0, ci, opts...)))
	if reply == nil {
		return 0, netip.Addr{}, err
	}
	checkReply(e.t, e.m, w, withSource(w, dhcpMessage(e.t, 0, typ, 0, ci, opts...)), reply)
	rt, a := answer(e.t, reply)
	return rt, a, err
}

func opt50(a netip.Addr) layers.DHCPOption {
	return layers.NewDHCPOption(layers.DHCPOptRequestIP, a.AsSlice())
}

var server = serverID(10, 5, 0, 1)

// dora is what a client does to get an address: DISCOVER, then REQUEST
// of the address offered, from the server that offered it.
func (e *leaseEnv) dora(name string) (netip.Addr, error) {
	e.t.Helper()
	typ, offered, err := e.send(name, layers.DHCPMsgTypeDiscover, netip.Addr{})
	if err != nil {
		return netip.Addr{}, err
	}
	if typ != layers.DHCPMsgTypeOffer {
		e.t.Fatalf("%s: DISCOVER answered with %v", name, typ)
	}
	typ, acked, err := e.send(name, layers.DHCPMsgTypeRequest, netip.Addr{}, opt50(offered), server)
	if err != nil || typ != layers.DHCPMsgTypeAck || acked != offered {
		e.t.Fatalf("%s: REQUEST of %s: %v %s %v", name, offered, typ, acked, err)
	}
	return acked, nil
}

func (e *leaseEnv) mustGet(name string, want netip.Addr) {
	e.t.Helper()
	got, err := e.dora(name)
	if err != nil || got != want {
		e.t.Fatalf("%s got %s (%v), want %s\nleases: %+v", name, got, err, want, e.m.Leases())
	}
}

func (e *leaseEnv) mustGetNothing(name string) {
	e.t.Helper()
	if got, err := e.dora(name); err == nil || !strings.Contains(err.Error(), "exhausted") {
		e.t.Fatalf("%s got %s (%v) from an exhausted range\nleases: %+v", name, got, err, e.m.Leases())
	}
}

func (e *leaseEnv) sweep() int {
	e.t.Helper()
	n, err := e.m.sweepLeases()
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// lease is the record of an address as Leases shows it.
func (e *leaseEnv) lease(a netip.Addr) (Lease, bool) {
	for _, l := range e.m.Leases() {
		if l.IP == a.String() {
			return l, true
		}
	}
	return Lease{}, false
}

func (e *leaseEnv) wantLease(a netip.Addr, client string, state LeaseState) {
	e.t.Helper()
	l, ok := e.lease(a)
	mac := from(e.m, client).iface.MAC
	if !ok || l.MAC != mac || l.State != state {
		e.t.Fatalf("lease of %s: %+v (found %v), want %s for %s (%s)", a, l, ok, state, client, mac)
	}
}

// admitted says whether the compiled anti-spoofing flows let the client
// send from a, and whether the controller answers ARP for a with the
// client's MAC.
func (e *leaseEnv) admitted(client string, a netip.Addr) (flows, arp bool) {
	cfg, _ := e.m.Config()
	progs, _ := Compile(&cfg, e.m.activeLeases(), fuzzEnv())
	mac := from(e.m, client).iface.MAC
	for _, f := range progs[1].Flows {
		m, src := controller.FormatMatch(f.Match), "nw_src="+a.String()
		if f.Table == TableClassify && strings.Contains(m, "dl_src="+mac) && (strings.Contains(m, src+",") || strings.HasSuffix(m, src)) {
			flows = true
		}
	}
	got, ok := e.m.answerFor("n", a.String())
	return flows, ok && got == mac
}

func (e *leaseEnv) wantAdmitted(client string, a netip.Addr, want bool) {
	e.t.Helper()
	if flows, arp := e.admitted(client, a); flows != want || arp != want {
		e.t.Fatalf("%s at %s: anti-spoofing flows %v, ARP answered %v; want %v", client, a, flows, arp, want)
	}
}

// An expired lease returns its address to the pool after the grace
// period. The client that comes back first gets its old address (before a
// never used one); another client gets a never used address first, and the
// expired one once nothing else is left.
func TestLeaseExpiry(t *testing.T) {
	e := newMemLeaseEnv(t)
	e.mustGet("c1", ip10)
	e.wantLease(ip10, "c1", LeaseBound)
	e.wantAdmitted("c1", ip10, true)
	l, _ := e.lease(ip10)
	if !l.Expires.Equal(e.clock.Now().Add(leaseTime)) {
		t.Fatalf("lease %+v, want it to end in %s", l, leaseTime)
	}

	// renewing (RENEWING: ciaddr, no option 50) half way extends it
	e.clock.Add(leaseTime / 2)
	if typ, a, err := e.send("c1", layers.DHCPMsgTypeRequest, ip10); typ != layers.DHCPMsgTypeAck || a != ip10 || err != nil {
		t.Fatalf("renewal: %v %s %v", typ, a, err)
	}
	if l, _ := e.lease(ip10); !l.Expires.Equal(e.clock.Now().Add(leaseTime)) {
		t.Fatalf("renewed lease %+v", l)
	}

	// past its end, in the grace period: still c1's
	e.clock.Add(leaseTime + time.Second)
	e.wantLease(ip10, "c1", LeaseGrace)
	if e.sweep() != 0 {
		t.Fatal("the sweep changed a lease in its grace period")
	}
	e.wantAdmitted("c1", ip10, true)
	e.mustGet("c2", ip12)
	e.mustGetNothing("c3")

	// past the grace: reclaimed (the sweep stores it), no longer c1's
	e.clock.Add(grace)
	e.wantLease(ip10, "c1", LeaseExpired)
	if n := e.sweep(); n != 1 {
		t.Fatalf("the sweep changed %d records, want 1 (c1's lease)", n)
	}
	e.wantAdmitted("c1", ip10, false)
	e.wantLease(ip10, "c1", LeaseExpired)
	e.wantLease(ip12, "c2", LeaseBound) // c2 got its lease later

	// c1 comes back before anybody took 10.5.0.10: the same address
	e.mustGet("c1", ip10)
	e.wantLease(ip10, "c1", LeaseBound)
	e.wantAdmitted("c1", ip10, true)

	// both expire; c3 (never had an address) gets one of theirs: the one
	// that ended longest ago (c2's), not c1's
	e.clock.Add(leaseTime + grace)
	e.sweep()
	e.wantAdmitted("c1", ip10, false)
	e.wantAdmitted("c2", ip12, false)
	e.mustGet("c3", ip12)
	// c2 comes back: its address is taken; it gets the last free one, c1's
	e.mustGet("c2", ip10)
	e.wantLease(ip10, "c2", LeaseBound)
	e.wantAdmitted("c2", ip10, true)
	// and c1 finds nothing
	e.mustGetNothing("c1")
	// a client that rebooted and asks for its old address (INIT-REBOOT)
	// is refused when it is another's
	if typ, _, _ := e.send("c1", layers.DHCPMsgTypeRequest, netip.Addr{}, opt50(ip10)); typ != layers.DHCPMsgTypeNak {
		t.Fatalf("c1 asked for c2's address: %v", typ)
	}
	checkLeases(t, e.m)
}

// A never used address goes before one remembered for a client, and an
// offer not taken is held for OfferHold only.
func TestLeaseOffers(t *testing.T) {
	e := newMemLeaseEnv(t)
	e.mustGet("c1", ip10)
	e.clock.Add(leaseTime + grace)
	e.sweep()
	// c2 gets the never used 10.5.0.12, not c1's expired 10.5.0.10
	e.mustGet("c2", ip12)

	// c3 is offered c1's old address and never asks for it
	if typ, a, err := e.send("c3", layers.DHCPMsgTypeDiscover, netip.Addr{}); typ != layers.DHCPMsgTypeOffer || a != ip10 || err != nil {
		t.Fatalf("c3: %v %s %v", typ, a, err)
	}
	e.wantLease(ip10, "c3", LeaseOffered)
	e.wantAdmitted("c3", ip10, true)
	e.mustGetNothing("c1")
	// the offer lapses after a minute (no grace: it was never used)
	e.clock.Add(DefaultOfferHold)
	e.sweep()
	e.wantLease(ip10, "c3", LeaseExpired)
	e.wantAdmitted("c3", ip10, false)
	e.mustGet("c1", ip10)

	// a DISCOVER from a client with a lease offers it and changes nothing
	before, _ := e.lease(ip10)
	e.clock.Add(time.Minute)
	if typ, a, _ := e.send("c1", layers.DHCPMsgTypeDiscover, netip.Addr{}); typ != layers.DHCPMsgTypeOffer || a != ip10 {
		t.Fatalf("c1 rediscovering: %v %s", typ, a)
	}
	if after, _ := e.lease(ip10); after != before {
		t.Fatalf("a DISCOVER changed the lease %+v -> %+v", before, after)
	}
	// a free address that is asked for is given (c2 expired, c3 asks for it)
	e.clock.Add(leaseTime + grace)
	if typ, a, _ := e.send("c3", layers.DHCPMsgTypeDiscover, netip.Addr{}, opt50(ip12)); typ != layers.DHCPMsgTypeOffer || a != ip12 {
		t.Fatalf("c3 asking for 10.5.0.12: %v %s", typ, a)
	}
	checkLeases(t, e.m)
}

// DHCPRELEASE frees the address at once; the client gets it back if
// nobody took it; a release of somebody else's address does nothing.
func TestLeaseRelease(t *testing.T) {
	e := newMemLeaseEnv(t)
	e.mustGet("c1", ip10)
	e.mustGet("c2", ip12)
	e.mustGetNothing("c3")

	// c2 releases somebody else's address, and for another server: ignored
	if _, _, err := e.send("c2", layers.DHCPMsgTypeRelease, ip10, server); err == nil {
		t.Fatal("c2 released c1's address")
	}
	if _, _, err := e.send("c1", layers.DHCPMsgTypeRelease, ip10, serverID(10, 5, 0, 99)); err == nil {
		t.Fatal("a release for another server was taken")
	}
	e.wantLease(ip10, "c1", LeaseBound)

	// c1 releases its address: no answer, free at once
	if typ, _, err := e.send("c1", layers.DHCPMsgTypeRelease, ip10, server); typ != 0 || err != nil {
		t.Fatalf("release: answered %v, %v", typ, err)
	}
	e.wantLease(ip10, "c1", LeaseReleased)
	e.wantAdmitted("c1", ip10, false)
	if l, _ := e.lease(ip10); !l.Expires.Equal(e.clock.Now()) {
		t.Fatalf("released lease %+v: want it to end now", l)
	}
	// a renewal of a released lease is refused (the client must start over)
	if typ, _, _ := e.send("c1", layers.DHCPMsgTypeRequest, ip12); typ != layers.DHCPMsgTypeNak {
		t.Fatalf("c1 renewing c2's address: %v", typ)
	}
	// c1 comes back at once: its address again
	e.mustGet("c1", ip10)
	e.wantAdmitted("c1", ip10, true)
	// released again, c3 (waiting for an address) gets it at once
	e.send("c1", layers.DHCPMsgTypeRelease, ip10, server)
	e.mustGet("c3", ip10)
	e.wantLease(ip10, "c3", LeaseBound)
	e.wantAdmitted("c3", ip10, true)
	e.wantAdmitted("c1", ip10, false)
	e.mustGetNothing("c1")
	// the sweep keeps it all (nothing expired)
	if n := e.sweep(); n != 0 {
		t.Fatalf("the sweep changed %d records", n)
	}
	checkLeases(t, e.m)
}

// DHCPDECLINE quarantines the address: nobody gets it (the decliner gets
// another one) until DeclineHold has passed.
func TestLeaseDecline(t *testing.T) {
	e := newMemLeaseEnv(t)
	e.mustGet("c1", ip10)
	// declining somebody else's address does nothing
	if _, _, err := e.send("c2", layers.DHCPMsgTypeDecline, netip.Addr{}, opt50(ip10), server); err == nil {
		t.Fatal("c2 declined c1's address")
	}
	if typ, _, err := e.send("c1", layers.DHCPMsgTypeDecline, netip.Addr{}, opt50(ip10), server); typ != 0 || err != nil {
		t.Fatalf("decline: answered %v, %v", typ, err)
	}
	e.wantLease(ip10, "c1", LeaseDeclined)
	e.wantAdmitted("c1", ip10, false)
	if l, _ := e.lease(ip10); !l.Expires.Equal(e.clock.Now().Add(DefaultDeclineHold)) {
		t.Fatalf("declined %+v: want a quarantine of %s", l, DefaultDeclineHold)
	}
	e.mustGet("c1", ip12) // not the declined address, although it was c1's
	e.mustGetNothing("c2")
	// just before the quarantine ends c1's lease is long over: c2 gets
	// c1's old address, the declined one nobody
	e.clock.Add(DefaultDeclineHold - time.Second)
	e.sweep()
	e.wantLease(ip10, "c1", LeaseDeclined)
	e.mustGet("c2", ip12)
	e.mustGetNothing("c3")
	// the quarantine ends: the sweep forgets it, the address is free
	e.clock.Add(time.Second)
	if _, ok := e.lease(ip10); ok {
		t.Fatal("Leases shows a quarantine that ended")
	}
	if n := e.sweep(); n != 1 {
		t.Fatalf("the sweep changed %d records, want 1", n)
	}
	e.mustGet("c3", ip10)
	checkLeases(t, e.m)
}

// An interface with a static address has no lease: DHCP answers its
// address, RELEASE and DECLINE change nothing, the pool never gives it
// out, and a lease in the way of a static address (an interface that
// became static, or an address given statically to another interface)
// is released.
func TestLeaseStaticAddress(t *testing.T) {
	e := newMemLeaseEnv(t)
	if typ, a, err := e.send("s1", layers.DHCPMsgTypeDiscover, netip.Addr{}); typ != layers.DHCPMsgTypeOffer || a != ip11 || err != nil {
		t.Fatalf("s1: %v %s %v", typ, a, err)
	}
	if typ, a, _ := e.send("s1", layers.DHCPMsgTypeRequest, netip.Addr{}, opt50(ip11)); typ != layers.DHCPMsgTypeAck || a != ip11 {
		t.Fatalf("s1 requesting its address: %v %s", typ, a)
	}
	if typ, _, _ := e.send("s1", layers.DHCPMsgTypeRequest, netip.Addr{}, opt50(ip10)); typ != layers.DHCPMsgTypeNak {
		t.Fatalf("s1 requesting another address: %v", typ)
	}
	e.send("s1", layers.DHCPMsgTypeRelease, ip11, server)
	e.send("s1", layers.DHCPMsgTypeDecline, netip.Addr{}, opt50(ip11), server)
	e.clock.Add(100 * time.Hour)
	e.sweep()
	if l := e.m.Leases(); len(l) != 0 {
		t.Fatalf("a static interface has lease records: %+v", l)
	}
	e.wantAdmitted("s1", ip11, true)
	// the pool is 10.5.0.10 and 10.5.0.12 only
	e.mustGet("c1", ip10)
	e.mustGet("c2", ip12)
	e.mustGetNothing("c3")
	e.wantAdmitted("s1", ip11, true)

	// c1 becomes static (10.5.0.20): its lease is released, DHCP answers
	// the static address
	if _, err := e.m.Update(func(c *Config) error {
		c.Interfaces[0].IP = "10.5.0.20"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.sweep()
	e.wantLease(ip10, "c1", LeaseReleased)
	e.mustGet("c1", netip.MustParseAddr("10.5.0.20"))
	e.wantAdmitted("c1", netip.MustParseAddr("10.5.0.20"), true)
	// c2's leased address is given statically to a new interface s2: the
	// static address wins, c2 is refused its renewal and moves
	if _, err := e.m.Update(func(c *Config) error {
		c.Interfaces = append(c.Interfaces, Interface{Name: "s2", Network: "n", Datapath: "h1", Port: "p5", MAC: "02:00:00:00:05:05", IP: ip12.String()})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if typ, _, _ := e.send("c2", layers.DHCPMsgTypeRequest, ip12); typ != layers.DHCPMsgTypeNak {
		t.Fatalf("c2 renewing the address s2 has now: %v", typ)
	}
	e.sweep()
	if l, ok := e.lease(ip12); ok {
		t.Fatalf("the record of s2's static address stays: %+v", l)
	}
	e.wantAdmitted("s2", ip12, true)
	e.wantAdmitted("c2", ip12, false)
	e.mustGet("c2", ip10)
	// an interface that is deleted releases its lease
	if _, err := e.m.Update(func(c *Config) error {
		c.Interfaces = c.Interfaces[2:] // c1, c2 go
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.sweep()
	if l, _ := e.lease(ip10); l.State != LeaseReleased {
		t.Fatalf("the lease of a deleted interface: %+v", l)
	}
	e.mustGet("c3", ip10)
	checkLeases(t, e.m)
}

// The leases, their states and who had which address survive a restart
// (the store is the bolt file).
func TestLeasesSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	store, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	c := newClock()
	e := newLeaseEnv(t, store, c)
	e.mustGet("c1", ip10)
	e.mustGet("c2", ip12)
	e.send("c2", layers.DHCPMsgTypeRelease, ip12, server)
	e.send("c1", layers.DHCPMsgTypeDecline, netip.Addr{}, opt50(ip10), server)
	e.mustGet("c1", ip12) // c1 takes c2's released address
	e.send("c3", layers.DHCPMsgTypeDiscover, netip.Addr{})
	before := e.m.Leases()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	store, err = OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e = newLeaseEnv(t, store, c)
	after := e.m.Leases()
	if len(after) != 2 || len(before) != 2 {
		t.Fatalf("leases %+v", before)
	}
	for i := range before {
		if !before[i].Expires.Equal(after[i].Expires) || before[i].State != after[i].State || before[i].MAC != after[i].MAC || before[i].IP != after[i].IP {
			t.Fatalf("restart changed the leases:\n%+v\n%+v", before, after)
		}
	}
	e.wantLease(ip10, "c1", LeaseDeclined)
	e.wantLease(ip12, "c1", LeaseBound)
	e.wantAdmitted("c1", ip12, true)
	if typ, a, _ := e.send("c1", layers.DHCPMsgTypeRequest, ip12); typ != layers.DHCPMsgTypeAck || a != ip12 {
		t.Fatalf("renewal after the restart: %v %s", typ, a)
	}
	e.mustGetNothing("c3") // 10.5.0.10 is still quarantined
	// expiry after the restart: c1 comes back to its address
	c.Add(leaseTime + grace)
	e.sweep()
	e.wantLease(ip12, "c1", LeaseExpired)
	e.mustGet("c1", ip12)
}

// A schema 1 file (leases by network/MAC, no states) is migrated when it
// is opened; a file of a newer schema is refused.
func TestStoreMigratesSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	expires := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := cloneConfig(leaseConfig)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket([]byte("meta"))
		leases, _ := tx.CreateBucket([]byte("leases"))
		b, _ := json.Marshal(cfg)
		meta.Put([]byte("schema"), []byte("1"))
		meta.Put([]byte("config"), b)
		meta.Put([]byte("revision"), []byte("7"))
		for _, l := range []Lease{{Network: "n", MAC: "02:00:00:00:05:01", IP: "10.5.0.10", Expires: expires},
			{Network: "n", MAC: "02:00:00:00:05:02", IP: "10.5.0.12", Expires: expires.Add(time.Hour)}} {
			v, _ := json.Marshal(l)
			leases.Put([]byte(l.Network+"/"+l.MAC), v)
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	store, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.Leases()
	if err != nil || len(got) != 2 {
		t.Fatalf("%+v %v", got, err)
	}
	sortLeases(got)
	if got[0] != (Lease{Network: "n", MAC: "02:00:00:00:05:01", IP: "10.5.0.10", Expires: expires, State: LeaseBound}) || got[1].IP != "10.5.0.12" || got[1].State != LeaseBound {
		t.Fatalf("migrated leases %+v", got)
	}
	if _, rev, err := store.Load(); rev != 7 || err != nil {
		t.Fatalf("revision %d %v", rev, err)
	}
	e := newLeaseEnv(t, store, newClock()) // 2030: the leases are bound
	e.wantLease(ip10, "c1", LeaseBound)
	e.wantAdmitted("c2", ip12, true)
	e.mustGet("c1", ip10)
	store.Close()

	// reopening a version 2 file changes nothing; version 3 is refused
	store, err = OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := store.Leases(); len(again) != 2 {
		t.Fatalf("reopened: %+v", again)
	}
	store.Close()
	db, _ = bolt.Open(path, 0o600, nil)
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("3")) })
	db.Close()
	if _, err := OpenBolt(path); err == nil || !strings.Contains(err.Error(), "schema version 3") {
		t.Fatalf("a schema 3 file: %v", err)
	}
}
