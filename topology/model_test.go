package topology

import (
	"bytes"
	"testing"
	"time"
)

func twoSwitches(m *Model) {
	for _, d := range []DPID{1, 2} {
		m.SwitchUp(Switch{DPID: d}, []Port{
			{Number: 1, Name: "vm1", Up: true},
			{Number: 102, Name: "lnk", Up: true},
			{Number: 202, Name: "gre-h2-p1", Up: true, Tunnel: true},
			{Number: LocalPort, Name: "br-int", Up: true},
		})
	}
}

func TestLinksBothDirectionsAndPortKinds(t *testing.T) {
	m := New(Options{})
	twoSwitches(m)
	a, b := Endpoint{1, 102}, Endpoint{2, 102}
	if !m.LinkSeen(a, b, LinkDirect, time.Millisecond) {
		t.Fatal("first probe must add the link")
	}
	ls := m.Links()
	if len(ls) != 1 || !ls[0].Unidirectional {
		t.Fatalf("one direction only: %+v", ls)
	}
	m.LinkSeen(b, a, LinkDirect, time.Millisecond)
	for _, l := range m.Links() {
		if l.Unidirectional {
			t.Fatalf("both directions seen, still unidirectional: %+v", l)
		}
	}
	if p, _ := m.Port(a); p.Kind != PortLink {
		t.Fatalf("port kind %q", p.Kind)
	}
	if p, _ := m.Port(Endpoint{1, 1}); p.Kind != PortEdge {
		t.Fatalf("vm port kind %q", p.Kind)
	}
	if p, _ := m.Port(Endpoint{1, 202}); p.Kind != PortTunnel {
		t.Fatalf("gre port kind %q", p.Kind)
	}
	if p, _ := m.Port(Endpoint{1, LocalPort}); p.Kind != PortLocal {
		t.Fatalf("local port kind %q", p.Kind)
	}
	// the port goes down: both directions go at once, the port is an edge again
	m.PortUpdate(Port{DPID: 1, Number: 102, Name: "lnk", Up: false})
	if n := len(m.Links()); n != 0 {
		t.Fatalf("%d links left after port down", n)
	}
	if p, _ := m.Port(a); p.Kind != PortEdge {
		t.Fatalf("kind after link loss %q", p.Kind)
	}
}

func TestLinkExpiryLeavesReverseUnidirectional(t *testing.T) {
	now := time.Unix(1000, 0)
	m := New(Options{Now: func() time.Time { return now }})
	twoSwitches(m)
	a, b := Endpoint{1, 102}, Endpoint{2, 102}
	m.LinkSeen(a, b, LinkDirect, 0)
	m.LinkSeen(b, a, LinkDirect, 0)
	now = now.Add(2 * time.Second)
	m.LinkSeen(a, b, LinkDirect, 0) // b->a stops arriving
	gone := m.ExpireLinks(now.Add(-time.Second))
	if len(gone) != 1 || gone[0].Src != b {
		t.Fatalf("expired %+v", gone)
	}
	ls := m.Links()
	if len(ls) != 1 || !ls[0].Unidirectional {
		t.Fatalf("remaining %+v", ls)
	}
}

func TestHostsOnlyFromEdgePortsAndMoves(t *testing.T) {
	m := New(Options{})
	twoSwitches(m)
	m.LinkSeen(Endpoint{1, 102}, Endpoint{2, 102}, LinkDirect, 0)
	if _, ok := m.HostSeen("02:00:00:00:01:01", "10.0.1.1", Endpoint{1, 102}); ok {
		t.Fatal("a packet from a switch-to-switch port must not make an attachment")
	}
	if _, ok := m.HostSeen("02:00:00:00:01:01", "10.0.1.1", Endpoint{1, 202}); ok {
		t.Fatal("a packet from a tunnel port must not make an attachment")
	}
	if _, ok := m.HostSeen("02:00:00:00:01:01", "10.0.1.1", Endpoint{1, 1}); !ok {
		t.Fatal("edge port attachment refused")
	}
	moved, _ := m.HostSeen("02:00:00:00:01:01", "10.0.1.9", Endpoint{2, 1})
	if moved == nil || *moved != (Endpoint{1, 1}) {
		t.Fatalf("move not reported: %v", moved)
	}
	hs := m.Hosts()
	if len(hs) != 1 || hs[0].DPID != 2 || len(hs[0].IPs) != 2 {
		t.Fatalf("hosts %+v", hs)
	}
	ev := m.Events()
	if len(ev) != 1 || ev[0].Kind != "host-move" {
		t.Fatalf("events %+v", ev)
	}
}

func TestSubscribeSnapshotResumeAndLag(t *testing.T) {
	m := New(Options{Replay: 64})
	twoSwitches(m)
	s := m.Subscribe(0, 16)
	d := <-s.C
	if d.Op != OpSnapshot || len(d.Snapshot.Ports) != 8 || d.Version != m.Version() {
		t.Fatalf("first delta %+v", d)
	}
	m.LinkSeen(Endpoint{1, 102}, Endpoint{2, 102}, LinkDirect, 0)
	var last uint64
	for len(s.C) > 0 {
		d := <-s.C
		if d.Version != last+1 && last != 0 {
			t.Fatalf("gap: %d after %d", d.Version, last)
		}
		last = d.Version
	}
	s.Close()
	// changes while disconnected, then resume
	m.LinkSeen(Endpoint{2, 102}, Endpoint{1, 102}, LinkDirect, 0)
	m.HostSeen("aa:bb:cc:dd:ee:ff", "", Endpoint{1, 1})
	r := m.Subscribe(last, 16)
	got := []uint64{}
	for len(r.C) > 0 {
		d := <-r.C
		if d.Op == OpSnapshot {
			t.Fatal("resume within the buffer must replay, not snapshot")
		}
		got = append(got, d.Version)
	}
	if len(got) == 0 || got[0] != last+1 || got[len(got)-1] != m.Version() {
		t.Fatalf("replayed %v after %d, model at %d", got, last, m.Version())
	}
	// a resume point older than the buffer gets a snapshot
	for i := 0; i < 100; i++ {
		m.AddEvent(Event{Kind: "noise"})
	}
	old := m.Subscribe(1, 16)
	if d := <-old.C; d.Op != OpSnapshot {
		t.Fatalf("stale resume got %s", d.Op)
	}
	// r never reads: it is dropped, not waited for
	if r.Err() != ErrLagged {
		t.Fatalf("slow subscriber not dropped: %v", r.Err())
	}
	for range r.C {
	}
}

func TestSnapshotRoundTripAndDiff(t *testing.T) {
	m := New(Options{})
	twoSwitches(m)
	m.LinkSeen(Endpoint{1, 102}, Endpoint{2, 102}, LinkDirect, 0)
	before := m.Snapshot()
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, before); err != nil {
		t.Fatal(err)
	}
	read, err := ReadSnapshot(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if d := Compare(before, read); !d.Empty() {
		t.Fatalf("round trip differs: %+v", d)
	}
	m.LinkSeen(Endpoint{2, 102}, Endpoint{1, 102}, LinkDirect, 0)
	m.HostSeen("02:00:00:00:01:01", "10.0.1.1", Endpoint{1, 1})
	m.PortRemove(Endpoint{2, 202})
	d := Compare(before, m.Snapshot())
	if len(d.Links.Added) != 1 || len(d.Links.Changed) != 1 || len(d.Hosts.Added) != 1 || len(d.Ports.Removed) != 1 {
		t.Fatalf("diff %+v", d)
	}
	if _, err := ReadSnapshot(bytes.NewBufferString(`{"switchez": []}`)); err == nil {
		t.Fatal("unknown field accepted")
	}
	if _, err := ReadSnapshot(bytes.NewBufferString(`{}`)); err == nil {
		t.Fatal("empty object accepted as a snapshot")
	}
}
