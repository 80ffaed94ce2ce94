package journal

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/topology"
)

// TopologyAt rebuilds the fabric as it was: the link up before the cut,
// down after it, up again after the restore; the host where it was; and
// the same after the journal is reopened (the checkpoint index is rebuilt
// from the files).
func TestTopologyAt(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	m := topology.New(topology.Options{KeepDownLinks: time.Hour})
	m.SwitchUp(topology.Switch{DPID: 1}, []topology.Port{{Number: 1, Name: "vm1", Up: true}, {Number: 2, Name: "h1-eth2", Up: true}})
	ctx, cancel := context.WithCancel(context.Background())
	f := NewFeeder(j, Sources{Model: m}, nil)
	f.CheckpointRecords = 5 // a checkpoint every few records: the rebuild starts from one and replays the rest
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	step := func() time.Time {
		time.Sleep(5 * time.Millisecond)
		deadline := time.Now().Add(5 * time.Second)
		for len(f.msub.C) > 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		_ = j.Sync()
		at := time.Now()
		time.Sleep(5 * time.Millisecond)
		return at
	}
	before := step() // switch 1 alone (in the first checkpoint)

	a, b := topology.Endpoint{DPID: 1, Port: 2}, topology.Endpoint{DPID: 2, Port: 2}
	m.SwitchUp(topology.Switch{DPID: 2}, []topology.Port{{Number: 1, Name: "vm2", Up: true}, {Number: 2, Name: "h2-eth2", Up: true}})
	m.LinkSeen(a, b, topology.LinkDirect, 0)
	m.LinkSeen(b, a, topology.LinkDirect, 0)
	m.HostSeen("02:00:00:00:00:01", "10.0.0.1", topology.Endpoint{DPID: 1, Port: 1})
	up := step()
	m.PortUpdate(topology.Port{DPID: 1, Number: 2, Name: "h1-eth2", Up: false})
	m.HostSeen("02:00:00:00:00:01", "", topology.Endpoint{DPID: 2, Port: 1})
	down := step()
	m.PortUpdate(topology.Port{DPID: 1, Number: 2, Name: "h1-eth2", Up: true})
	m.LinkSeen(a, b, topology.LinkDirect, 0)
	m.LinkSeen(b, a, topology.LinkDirect, 0)
	back := step()

	check := func(j *Journal) {
		t.Helper()
		s, err := j.TopologyAt(before)
		if err != nil || len(s.Switches) != 1 || len(s.Links) != 0 || len(s.Ports) != 2 {
			t.Fatalf("before: %v %+v", err, s)
		}
		states := func(at time.Time) (out []string, hostAt topology.DPID) {
			s, err := j.TopologyAt(at)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range s.Links {
				out = append(out, l.State)
			}
			if len(s.Switches) != 2 || len(s.Hosts) != 1 {
				t.Fatalf("at %s: %+v", at, s)
			}
			return out, s.Hosts[0].DPID
		}
		if st, h := states(up); len(st) != 2 || st[0] != "up" || st[1] != "up" || h != 1 {
			t.Fatalf("up: %v, host on %s", st, h)
		}
		if st, h := states(down); len(st) != 2 || st[0] != "down" || st[1] != "down" || h != 2 {
			t.Fatalf("down: %v, host on %s", st, h)
		}
		if st, _ := states(back); len(st) != 2 || st[0] != "up" || st[1] != "up" {
			t.Fatalf("back: %v", st)
		}
		d1, _ := j.TopologyAt(up)
		d2, _ := j.TopologyAt(down)
		if d := topology.Compare(d1, d2); len(d.Links.Changed) != 2 {
			t.Fatalf("diff up..down: %+v", d.Links)
		}
		if _, err := j.TopologyAt(before.Add(-time.Hour)); !errors.Is(err, ErrNoHistory) {
			t.Fatalf("before the journal: %v", err)
		}
	}
	check(j)
	if n := len(j.cps); n < 3 {
		t.Fatalf("%d checkpoints, want several", n)
	}
	cancel()
	<-done
	j.Close()
	j = open(t, dir, nil)
	defer j.Close()
	check(j)
}
