package diagnostics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// DefaultMaxAge is how old cached tables may be before they are read again.
const DefaultMaxAge = 5 * time.Second

// ErrNotConnected is returned for a switch the controller has no session with.
var ErrNotConnected = errors.New("switch is not connected")

// Source reads switches' tables through the controller and keeps each
// dump for at most MaxAge. Port state is always the session's current one.
type Source struct {
	ctl interface {
		Switch(dpid uint64) *controller.Session
	}
	maxAge time.Duration
	now    func() time.Time

	mu    sync.Mutex
	cache map[uint64]*dump
}

type dump struct {
	sess   *controller.Session
	tables *Tables
	taken  time.Time
	flows  []ofwire.FlowStats
	groups []ofwire.GroupDesc
}

// NewSource reads tables from ctl, reusing a dump for maxAge (0: DefaultMaxAge,
// negative: always read).
func NewSource(ctl interface {
	Switch(dpid uint64) *controller.Session
}, maxAge time.Duration) *Source {
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	return &Source{ctl: ctl, maxAge: maxAge, now: time.Now, cache: map[uint64]*dump{}}
}

// MaxAge is the oldest a dump may be.
func (s *Source) MaxAge() time.Duration { return s.maxAge }

// Snapshot is one switch's tables and how old they are.
type Snapshot struct {
	Tables *Tables
	Age    time.Duration
	Flows  []ofwire.FlowStats
	Groups []ofwire.GroupDesc
}

// Ports converts a session's ports.
func Ports(ps []ofwire.Port) []Port {
	out := make([]Port, 0, len(ps))
	for _, p := range ps {
		out = append(out, Port{No: p.No, Name: p.Name, Up: p.Up(), Live: p.State&ofwire.PortStateLive != 0})
	}
	return out
}

// Get returns the switch's tables, read now when the cached ones are
// older than maxAge (a negative maxAge uses the Source's).
func (s *Source) Get(ctx context.Context, dpid uint64, name string, maxAge time.Duration) (Snapshot, error) {
	if maxAge < 0 {
		maxAge = s.maxAge
	}
	sess := s.ctl.Switch(dpid)
	if sess == nil {
		return Snapshot{}, fmt.Errorf("switch %s (%016x): %w", name, dpid, ErrNotConnected)
	}
	s.mu.Lock()
	d := s.cache[dpid]
	s.mu.Unlock()
	now := s.now()
	if d == nil || d.sess != sess || now.Sub(d.taken) > maxAge || maxAge < 0 {
		flows, err := sess.FlowStats(ctx, controller.AllFlows)
		if err != nil {
			return Snapshot{}, fmt.Errorf("reading the flows of switch %s: %w", name, err)
		}
		groups, err := sess.GroupDesc(ctx)
		if err != nil {
			return Snapshot{}, fmt.Errorf("reading the groups of switch %s: %w", name, err)
		}
		fl := make([]Flow, 0, len(flows))
		for _, f := range flows {
			fl = append(fl, Flow{Table: f.Table, Priority: f.Priority, Cookie: f.Cookie, Match: f.Match, Instructions: f.Instructions})
		}
		gs := make([]Group, 0, len(groups))
		for _, g := range groups {
			gs = append(gs, Group{ID: g.GroupID, Type: g.Type, Buckets: g.Buckets})
		}
		d = &dump{sess: sess, tables: NewTables(dpid, name, fl, gs, nil), taken: now, flows: flows, groups: groups}
		s.mu.Lock()
		s.cache[dpid] = d
		s.mu.Unlock()
	}
	t := d.tables.WithPorts(Ports(sess.Ports()))
	t.Name = name
	return Snapshot{Tables: t, Age: now.Sub(d.taken), Flows: d.flows, Groups: d.groups}, nil
}
