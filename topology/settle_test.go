package topology

import (
	"testing"
	"time"
)

// A link restore creates no host move: while the port that just came up
// (or lost its link) is not yet classified by discovery, a MAC new there
// is held; if discovery finds the link in time, the sighting never counts.
func TestHostOnUnclassifiedPortIsHeld(t *testing.T) {
	now := time.Unix(1000, 0)
	m := New(Options{Now: func() time.Time { return now }})
	twoSwitches(m)
	const mac = "02:00:00:00:01:01"
	settle := 1250 * time.Millisecond
	// ports of a switch that just connected are unclassified too
	if _, ok, wait := m.HostSeenSettled(mac, "10.0.1.1", Endpoint{1, 1}, settle); ok || wait != settle {
		t.Fatalf("sighting on a new port: ok %v wait %s, want held for %s", ok, wait, settle)
	}
	now = now.Add(settle)
	if _, ok, wait := m.HostSeenSettled(mac, "10.0.1.1", Endpoint{1, 1}, settle); !ok || wait != 0 {
		t.Fatalf("after the settle time: ok %v wait %s", ok, wait)
	}
	// the direct link goes and comes back: the port is an edge port again
	m.LinkSeen(Endpoint{1, 102}, Endpoint{2, 102}, LinkDirect, 0)
	m.PortUpdate(Port{DPID: 2, Number: 102, Name: "lnk", Up: false})
	now = now.Add(10 * time.Millisecond)
	m.PortUpdate(Port{DPID: 2, Number: 102, Name: "lnk", Up: true})
	// traffic of the neighbour arrives before LLDP: held, not a move
	moved, ok, wait := m.HostSeenSettled(mac, "", Endpoint{2, 102}, settle)
	if moved != nil || ok || wait <= 0 {
		t.Fatalf("sighting on a restored link port: moved %v ok %v wait %s, want held", moved, ok, wait)
	}
	// discovery finds the link again: the retried sighting is not an attachment
	now = now.Add(500 * time.Millisecond)
	m.LinkSeen(Endpoint{1, 102}, Endpoint{2, 102}, LinkDirect, 0)
	now = now.Add(settle)
	if moved, ok, _ := m.HostSeenSettled(mac, "", Endpoint{2, 102}, settle); moved != nil || ok {
		t.Fatalf("retried sighting on a link port: moved %v ok %v", moved, ok)
	}
	for _, e := range m.Events() {
		if e.Kind == "host-move" {
			t.Fatalf("host move on a link restore: %+v", e)
		}
	}
	// the known host seen where it is needs no wait; a real move to a
	// settled edge port is still a move
	if _, ok, wait := m.HostSeenSettled(mac, "", Endpoint{1, 1}, settle); !ok || wait != 0 {
		t.Fatalf("known host at home: ok %v wait %s", ok, wait)
	}
	if moved, ok, _ := m.HostSeenSettled(mac, "", Endpoint{2, 1}, settle); !ok || moved == nil {
		t.Fatalf("a real move was not reported: moved %v ok %v", moved, ok)
	}
}

// A link falls silent while the other links of both its switches still
// come back: lost. When every link of a switch falls silent at once, the
// switch or the controller is slow: the links are held.
func TestLinkExpiryNeedsAWitness(t *testing.T) {
	now := time.Unix(1000, 0)
	m := New(Options{Now: func() time.Time { return now }})
	twoSwitches(m)
	a, b := Endpoint{1, 102}, Endpoint{2, 102}
	ta, tb := Endpoint{1, 202}, Endpoint{2, 202}
	seeAll := func() {
		m.LinkSeen(a, b, LinkDirect, 0)
		m.LinkSeen(b, a, LinkDirect, 0)
		m.LinkSeen(ta, tb, LinkTunnel, 0)
		m.LinkSeen(tb, ta, LinkTunnel, 0)
	}
	seeAll()
	// everything silent: held
	now = now.Add(5 * time.Second)
	gone, held := m.ExpireLinksWitnessed(now.Add(-3 * time.Second))
	if len(gone) != 0 || len(held) != 4 || len(m.Links()) != 4 {
		t.Fatalf("all silent: gone %d held %d, want 0 and 4", len(gone), len(held))
	}
	// only the direct link a->b is silent; the others answer
	seeAll()
	now = now.Add(5 * time.Second)
	m.LinkSeen(b, a, LinkDirect, 0)
	m.LinkSeen(ta, tb, LinkTunnel, 0)
	m.LinkSeen(tb, ta, LinkTunnel, 0)
	gone, held = m.ExpireLinksWitnessed(now.Add(-3 * time.Second))
	if len(gone) != 1 || gone[0].Src != a || len(held) != 0 {
		t.Fatalf("one silent link among answering ones: gone %+v held %+v", gone, held)
	}
	// a switch whose only link falls silent cannot witness: removed as before
	m2 := New(Options{Now: func() time.Time { return now }})
	twoSwitches(m2)
	m2.LinkSeen(a, b, LinkDirect, 0)
	now = now.Add(5 * time.Second)
	if gone, _ := m2.ExpireLinksWitnessed(now.Add(-3 * time.Second)); len(gone) != 1 {
		t.Fatalf("single link: gone %+v", gone)
	}
}
