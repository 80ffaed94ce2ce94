package lldp

import (
	"testing"
	"time"
)

func TestReplayGuard(t *testing.T) {
	g := NewReplayGuard(10 * time.Second)
	t0 := time.Unix(1_800_000_000, 0)
	a := ProbeID{DPID: 1, Port: 102, Sent: t0.UnixNano()}
	b := ProbeID{DPID: 1, Port: 102, Sent: t0.Add(time.Second).UnixNano()}

	// a genuine probe delayed by 3 s is accepted: delay is not replay
	if _, replayed := g.Check(a, Receipt{DPID: 2, Port: 101, At: t0.Add(3 * time.Second)}); replayed {
		t.Fatal("first receipt of a delayed probe called a replay")
	}
	if _, replayed := g.Check(b, Receipt{DPID: 2, Port: 101, At: t0.Add(3 * time.Second)}); replayed {
		t.Fatal("the next probe of the same port called a replay")
	}
	// the same probe again, at once and at another port: a replay, and
	// the guard says where it was first received
	first, replayed := g.Check(a, Receipt{DPID: 2, Port: 1, At: t0.Add(3*time.Second + time.Millisecond)})
	if !replayed || first.DPID != 2 || first.Port != 101 {
		t.Fatalf("re-sent probe: replayed=%v first=%+v", replayed, first)
	}
	// probes of other ports with the same send time are distinct
	if _, replayed := g.Check(ProbeID{DPID: 1, Port: 103, Sent: a.Sent}, Receipt{DPID: 3, Port: 101, At: t0.Add(3 * time.Second)}); replayed {
		t.Fatal("probe of another port called a replay")
	}
	if g.Len() != 3 {
		t.Fatalf("remembers %d probes, want 3", g.Len())
	}
	// past the horizon (plus clock skew) the guard forgets: Verify calls
	// such frames stale before they get here
	g.Check(ProbeID{DPID: 9, Port: 1, Sent: t0.Add(30 * time.Second).UnixNano()}, Receipt{At: t0.Add(30 * time.Second)})
	if g.Len() != 1 {
		t.Fatalf("after the horizon it remembers %d probes, want 1", g.Len())
	}
}

// The guard's memory is bounded by the probes of one horizon, however
// long discovery runs.
func TestReplayGuardBounded(t *testing.T) {
	g := NewReplayGuard(2 * time.Second)
	t0 := time.Unix(1_800_000_000, 0)
	for i := 0; i < 200_000; i++ {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		if _, replayed := g.Check(ProbeID{DPID: 1, Port: uint32(i % 48), Sent: at.UnixNano()}, Receipt{At: at}); replayed {
			t.Fatalf("probe %d called a replay", i)
		}
	}
	if n := g.Len(); n > 3100 {
		t.Fatalf("remembers %d probes after 200 s of 1000 probes/s, want about 3000 (2 s + 1 s skew)", n)
	}
	if len(g.order)-g.head > 3100 || cap(g.order) > 8*3100 {
		t.Fatalf("expiry queue holds %d (cap %d)", len(g.order)-g.head, cap(g.order))
	}
}
