package controller

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// EventKind says what happened on a switch.
type EventKind uint8

// Event kinds published on the Bus.
const (
	SwitchUp EventKind = iota + 1
	SwitchDown
	PortAdd
	PortModify
	PortDelete
	PacketIn
	FlowRemoved
	SwitchError // an unsolicited OFPT_ERROR from a switch
	// Security: a switch connection was refused or took over a datapath
	// (Event.Security says why). DPID is the datapath claimed, 0 when
	// the connection was refused before it said.
	Security
	// RoleChange: this controller became the switch's master or a slave
	// (Config.Mastership); Reason is the new role.
	RoleChange
)

var eventKindNames = map[EventKind]string{
	SwitchUp: "switch-up", SwitchDown: "switch-down", PortAdd: "port-add",
	PortModify: "port-modify", PortDelete: "port-delete", PacketIn: "packet-in",
	FlowRemoved: "flow-removed", SwitchError: "switch-error", Security: "security", RoleChange: "role-change",
}

func (k EventKind) String() string {
	if s, ok := eventKindNames[k]; ok {
		return s
	}
	return "unknown"
}

// Event is one thing that happened on one switch. Only the fields that
// belong to its Kind are set.
type Event struct {
	Kind EventKind
	DPID uint64
	Time time.Time
	// Port is set for port events (the new state; for PortDelete the last).
	Port *ofwire.Port
	// PacketIn is set for PacketIn events.
	PacketIn *ofwire.PacketIn
	// FlowRemoved is set for FlowRemoved events.
	FlowRemoved *ofwire.FlowRemoved
	// Error is set for SwitchError events.
	Error *ofwire.Error
	// Reason explains SwitchDown (e.g. "keepalive timeout") and Security.
	Reason string
	// Security is set for Security events.
	Security *SecurityEvent
}

// Bus fans events out to subscribers. Publishing never blocks: a
// subscriber whose queue is full loses the event, and the loss is counted
// on that subscription.
type Bus struct {
	mu   sync.RWMutex
	subs map[*Subscription]struct{}
}

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{subs: make(map[*Subscription]struct{})} }

// Subscription receives events of the kinds it asked for on C.
type Subscription struct {
	C       <-chan Event
	ch      chan Event
	bus     *Bus
	kinds   uint32 // bit set of EventKind; 0 = all
	dropped atomic.Uint64
	once    sync.Once
}

// Subscribe returns a subscription with a queue of size events. With no
// kinds it receives every event.
func (b *Bus) Subscribe(size int, kinds ...EventKind) *Subscription {
	if size < 1 {
		size = 1
	}
	s := &Subscription{ch: make(chan Event, size), bus: b}
	s.C = s.ch
	for _, k := range kinds {
		s.kinds |= 1 << k
	}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Dropped is the number of events this subscriber lost because its queue
// was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close stops delivery and closes C.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		close(s.ch)
		s.bus.mu.Unlock()
	})
}

// Publish delivers e to every interested subscriber without blocking.
func (b *Bus) Publish(e Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		if s.kinds != 0 && s.kinds&(1<<e.Kind) == 0 {
			continue
		}
		select {
		case s.ch <- e:
		default:
			s.dropped.Add(1)
		}
	}
}
