package journal

import (
	"context"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/topology"
)

// waitKinds polls the journal until it holds the kinds, in order.
func waitKinds(t *testing.T, j *Journal, q Query, want ...string) []Record {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = j.Sync()
		recs, err := j.Read(q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.Kind)
		}
		if len(got) == len(want) {
			ok := true
			for i := range got {
				ok = ok && got[i] == want[i]
			}
			if ok {
				return recs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal kinds %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFeedModel(t *testing.T) {
	j := open(t, t.TempDir(), nil)
	defer j.Close()
	m := topology.New(topology.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	f := NewFeeder(j, Sources{Model: m}, nil)
	go func() { defer close(done); f.Run(ctx) }()

	a, b := topology.Endpoint{DPID: 1, Port: 2}, topology.Endpoint{DPID: 2, Port: 2}
	m.SwitchUp(topology.Switch{DPID: 1, Remote: "10.0.0.1:1"}, []topology.Port{{Number: 2, Name: "h1-eth2", Up: true}})
	m.SwitchUp(topology.Switch{DPID: 2}, []topology.Port{{Number: 2, Name: "h2-eth2", Up: true}})
	m.LinkSeen(a, b, topology.LinkDirect, time.Millisecond)
	m.PortUpdate(topology.Port{DPID: 1, Number: 2, Name: "h1-eth2", Up: false})
	m.AddEvent(topology.Event{Kind: "tunnel-path-down", DPID: 1, Port: 9, Message: "path 1 down"})
	m.SwitchDown(2)

	// the ports' kinds change with their links (edge, link): port-modify
	all := waitKinds(t, j, Query{}, "switch-connect", "port-add", "switch-connect", "port-add",
		"link-up", "port-modify", "port-modify", "port-down", "link-down", "port-modify", "port-modify",
		"tunnel-path-down", "port-delete", "switch-disconnect")
	down := waitKinds(t, j, Query{Kinds: []string{"link-down"}, DPIDs: []topology.DPID{1}}, "link-down")
	if r := down[0]; r.Object != a.String()+">"+b.String() || r.Severity != "critical" || len(r.Data) == 0 || r.Port != 2 {
		t.Fatalf("link-down record %+v", r)
	}
	if all[4].Severity != "ok" || all[11].Port != 9 || all[11].Message != "path 1 down" {
		t.Fatalf("records %+v", all)
	}
	cancel()
	<-done
}
