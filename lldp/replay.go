package lldp

import (
	"errors"
	"sync"
	"time"
)

// ErrReplayed: a correctly signed probe that was received before. Verify
// cannot tell (it keeps no state); Discovery reports it from its
// ReplayGuard.
var ErrReplayed = errors.New("lldp: replayed LLDP probe")

// ErrEdgePort: an LLDP frame arrived on a port that faces a VM
// (DiscoveryConfig.EdgePort), where no switch link can be.
var ErrEdgePort = errors.New("lldp: LLDP frame on a VM's port")

// ProbeID names one probe: the port it was sent out of and its signed send
// time. Discovery gives every probe of a port a distinct send time, so the
// pair is unique while the probe can still be accepted.
type ProbeID struct {
	DPID uint64
	Port uint32
	Sent int64 // unix nanoseconds, as signed
}

// ID returns the probe's identity.
func (p Probe) ID() ProbeID { return ProbeID{DPID: p.DPID, Port: p.Port, Sent: p.Sent.UnixNano()} }

// ReplayGuard remembers the probes that have been received, so that a
// probe received a second time, at any port and however soon, is a
// replay, while a genuine probe that was merely delayed (a stalled switch,
// a busy controller) is accepted: the test does not depend on delay.
//
// Only verified probes are remembered, and only while their send time is
// within the horizon (the age ceiling Verify applies, beyond which a frame
// is stale anyway), so memory is bounded by the probes Discovery itself
// sends in one horizon. Safe for concurrent use.
type ReplayGuard struct {
	horizon time.Duration

	mu    sync.Mutex
	seen  map[ProbeID]Receipt
	order []ProbeID // in the order first received, for expiry
	head  int
}

// Receipt says where and when a probe was first received.
type Receipt struct {
	DPID uint64
	Port uint32
	At   time.Time
}

// NewReplayGuard returns a guard that remembers probes sent within horizon.
func NewReplayGuard(horizon time.Duration) *ReplayGuard {
	return &ReplayGuard{horizon: horizon, seen: make(map[ProbeID]Receipt)}
}

// Check records that probe id arrived at r and reports whether it had
// been received before; if so, first is where. A replayed probe is not
// recorded again.
func (g *ReplayGuard) Check(id ProbeID, r Receipt) (first Receipt, replayed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expire(r.At)
	if prev, ok := g.seen[id]; ok {
		return prev, true
	}
	g.seen[id] = r
	g.order = append(g.order, id)
	return Receipt{}, false
}

// Len returns how many probes are remembered.
func (g *ReplayGuard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.seen)
}

// expire forgets probes sent before now - horizon - MaxClockSkew: Verify
// rejects them as stale before they reach Check. Probes arrive nearly in
// send order, so expiry stops at the first one still inside; one held
// back behind it is forgotten a little later, never early.
func (g *ReplayGuard) expire(now time.Time) {
	cutoff := now.Add(-g.horizon - MaxClockSkew).UnixNano()
	for g.head < len(g.order) && g.order[g.head].Sent < cutoff {
		delete(g.seen, g.order[g.head])
		g.head++
	}
	// compact once the expired prefix is most of the slice
	if g.head > 1024 && g.head*2 > len(g.order) {
		g.order = append(g.order[:0], g.order[g.head:]...)
		g.head = 0
	}
}
