package topology

import (
	"testing"
	"time"
)

// Down links stay in the model, as down with the time they went down,
// until they come back or are forgotten after KeepDownLinks.
func TestDownLinksStayUntilForgotten(t *testing.T) {
	now := time.Unix(1000, 0)
	m := New(Options{Now: func() time.Time { return now }, KeepDownLinks: time.Hour})
	twoSwitches(m)
	a, b := Endpoint{1, 102}, Endpoint{2, 102}
	m.LinkSeen(a, b, LinkDirect, 0)
	m.LinkSeen(b, a, LinkDirect, 0)
	sub := m.Subscribe(m.Version(), 64)
	defer sub.Close()

	// b->a stops arriving: down, a->b unidirectional; the ports stay link ports
	now = now.Add(2 * time.Second)
	m.LinkSeen(a, b, LinkDirect, 0)
	cut := now
	gone := m.ExpireLinks(now.Add(-time.Second))
	if len(gone) != 1 || gone[0].Src != b || gone[0].State != LinkDown {
		t.Fatalf("expired %+v", gone)
	}
	ls := m.Links()
	if len(ls) != 2 {
		t.Fatalf("links %+v", ls)
	}
	for _, l := range ls {
		switch l.Src {
		case a:
			if !l.Up() || !l.Unidirectional || l.DownSince != nil {
				t.Fatalf("live direction %+v", l)
			}
		case b:
			if l.Up() || l.State != LinkDown || l.DownSince == nil || !l.DownSince.Equal(cut) {
				t.Fatalf("down direction %+v", l)
			}
		}
	}
	// the deltas: the down link is an update with state down
	var sawDown bool
	for len(sub.C) > 0 {
		d := <-sub.C
		if d.Link != nil && d.Link.Src == b {
			if d.Op != OpUpdate || d.Link.State != LinkDown {
				t.Fatalf("down delta %+v", d)
			}
			sawDown = true
		}
	}
	if !sawDown {
		t.Fatal("no delta for the down link")
	}

	// the port goes down: the other direction goes down too, both kept
	m.PortUpdate(Port{DPID: 1, Number: 102, Name: "lnk", Up: false})
	ls = m.Links()
	if len(ls) != 2 || ls[0].Up() || ls[1].Up() {
		t.Fatalf("after port down %+v", ls)
	}
	if p, _ := m.Port(a); p.Kind != PortEdge {
		t.Fatalf("a port whose links are all down is an edge port again: %q", p.Kind)
	}
	// a second expiry does not touch down links (no new DownSince)
	now = now.Add(time.Minute)
	if gone := m.ExpireLinks(now); len(gone) != 0 {
		t.Fatalf("down links expired again: %+v", gone)
	}
	for _, l := range m.Links() {
		if l.Src == b && !l.DownSince.Equal(cut) {
			t.Fatalf("down since moved: %+v", l)
		}
	}

	// back up: an add, up, DownSince cleared, first seen kept, bidirectional again
	m.PortUpdate(Port{DPID: 1, Number: 102, Name: "lnk", Up: true})
	if !m.LinkSeen(b, a, LinkDirect, 0) {
		t.Fatal("a link back up is announced as new")
	}
	m.LinkSeen(a, b, LinkDirect, 0)
	for _, l := range m.Links() {
		if !l.Up() || l.DownSince != nil || l.Unidirectional || !l.FirstSeen.Equal(time.Unix(1000, 0)) {
			t.Fatalf("back up %+v", l)
		}
	}

	// down again, and forgotten an hour later
	m.SwitchDown(2)
	if ls := m.Links(); len(ls) != 2 || ls[0].Up() || ls[1].Up() {
		t.Fatalf("after switch down %+v", ls)
	}
	now = now.Add(59 * time.Minute)
	m.ExpireLinks(now)
	if n := len(m.Links()); n != 2 {
		t.Fatalf("forgotten too early: %d", n)
	}
	now = now.Add(2 * time.Minute)
	m.ExpireLinks(now)
	if ls := m.Links(); len(ls) != 0 {
		t.Fatalf("not forgotten: %+v", ls)
	}
}
