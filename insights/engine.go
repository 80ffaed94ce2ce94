// Package insights points at the suspicious places of a fabric: it keeps
// a baseline of every series the collector publishes (ports, flows
// grouped by owner, per virtual network sums, tunnel paths), scores what
// departs from it (errors, drops, sudden rises and drops, an interface
// that stopped sending while traffic still reaches it, a link whose far
// end receives less than its near end sends, tunnel RTT drift and probe
// loss, hosts that move often) and keeps one ranked list of what is wrong
// now. It only reads: nothing here changes the network.
//
// Design: docs/insights.md.
package insights

import (
	"context"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/topology"
)

// Source is what insights needs of the collector: its stream of samples.
type Source interface {
	Subscribe(size int) *collector.Sub[*collector.Batch]
}

// Topology is what insights needs of the topology model: its changes
// (links, for the link checks; hosts, for their moves).
type Topology interface {
	Subscribe(from uint64, size int) *topology.Subscription
}

// Namer gives the names people use for ids; either method may return ""
// (then the id is shown).
type Namer interface {
	SwitchName(dpid uint64) string
	NetworkName(id uint32) string
}

// Config holds the engine's settings; zero values take the defaults.
type Config struct {
	// Interval is the collector's poll interval (default 5 s): findings of
	// polled series that got no sample for 3 intervals are dropped, and
	// per-network sums are judged once per interval.
	Interval time.Duration
	// HalfLife is how fast a baseline learns a new level: after one
	// half-life a step change is half learnt (default 10 m). While a
	// series is judged anomalous it learns four times slower, so a
	// problem stays on the list for a while before it becomes the norm.
	HalfLife time.Duration
	// Warmup is how many samples a series' traffic baseline learns before
	// it is judged (default 5).
	Warmup int
	// MinBps: traffic below this (bit/s) is idle; changes of idle series
	// are not reported (default 100 kbit/s).
	MinBps float64
	// MinErrors: error and drop rates below this (per second) are not
	// reported (default 1).
	MinErrors float64
	// DropRatio: traffic below this fraction of its baseline is down
	// (default 0.5); StopRatio: below this it stopped (default 0.1).
	DropRatio, StopRatio float64
	// RiseRatio: traffic above this multiple of its baseline is a sudden
	// rise (default 4).
	RiseRatio float64
	// RTTRatio and MinRTTMs: a tunnel path's RTT is drifting when it is
	// RTTRatio times its baseline (default 2) and at least MinRTTMs above
	// it (default 2 ms).
	RTTRatio, MinRTTMs float64
	// MinLoss: probe loss from this fraction (default 0.05) is reported.
	MinLoss float64
	// MoveWindow and MoveCount: a host that moved MoveCount times
	// (default 3) within MoveWindow (default 10 m) moves often.
	MoveWindow time.Duration
	MoveCount  int
	// MaxSeries bounds the series judged (default 250,000, the
	// collector's own default bound); beyond it new series are not
	// tracked and counted.
	MaxSeries int
	// History is how many raised and cleared events are kept (default 1000).
	History int
	// Names turns ids into names in the list (nil: ids).
	Names  Namer
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Interval <= 0 {
		c.Interval = 5 * time.Second
	}
	if c.HalfLife <= 0 {
		c.HalfLife = 10 * time.Minute
	}
	if c.Warmup <= 0 {
		c.Warmup = 5
	}
	if c.MinBps <= 0 {
		c.MinBps = 100e3
	}
	if c.MinErrors <= 0 {
		c.MinErrors = 1
	}
	if c.DropRatio <= 0 || c.DropRatio >= 1 {
		c.DropRatio = 0.5
	}
	if c.StopRatio <= 0 || c.StopRatio >= c.DropRatio {
		c.StopRatio = min(0.1, c.DropRatio/2)
	}
	if c.RiseRatio <= 1 {
		c.RiseRatio = 4
	}
	if c.RTTRatio <= 1 {
		c.RTTRatio = 2
	}
	if c.MinRTTMs <= 0 {
		c.MinRTTMs = 2
	}
	if c.MinLoss <= 0 || c.MinLoss >= 1 {
		c.MinLoss = 0.05
	}
	if c.MoveWindow <= 0 {
		c.MoveWindow = 10 * time.Minute
	}
	if c.MoveCount <= 1 {
		c.MoveCount = 3
	}
	if c.MaxSeries <= 0 {
		c.MaxSeries = 250_000
	}
	if c.History <= 0 {
		c.History = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Event is a finding raised or cleared.
type Event struct {
	Kind string    `json:"kind"` // "raised" or "cleared"
	Time time.Time `json:"time"`
	Item Item      `json:"item"`
}

// Engine keeps the baselines and the findings.
type Engine struct {
	cfg   Config
	src   Source
	topo  Topology
	log   *slog.Logger
	names Namer

	mu      sync.Mutex
	ports   map[portID]*portState
	owners  map[ownerID]*ownerState
	nets    map[uint32]*netState
	probes  map[string]*probeState
	hosts   map[string]*hostState
	linkTo  map[portID]portID // a link's far end -> its near end (the sender)
	active  map[findKey]*finding
	series  int // states held (bounded by MaxSeries)
	refused uint64
	batches uint64
	samples uint64
	history []Event // ring
	hHead   int
	owned   []ownedSum // scratch of onFlows

	stream *collector.Stream[Event]
	lost   func() uint64
}

// New returns an engine reading src (the collector) and topo (may be nil).
func New(cfg Config, src Source, topo Topology) *Engine {
	cfg.setDefaults()
	return &Engine{
		cfg: cfg, src: src, topo: topo, log: cfg.Logger.With("component", "insights"), names: cfg.Names,
		ports: map[portID]*portState{}, owners: map[ownerID]*ownerState{}, nets: map[uint32]*netState{},
		probes: map[string]*probeState{}, hosts: map[string]*hostState{}, linkTo: map[portID]portID{},
		active: map[findKey]*finding{},
		stream: collector.NewStream[Event](nil),
	}
}

// Config returns the engine's settings with the defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Stream returns the stream of raised and cleared events.
func (e *Engine) Stream() *collector.Stream[Event] { return e.stream }

// Run judges what the collector and the topology publish until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	var batches <-chan *collector.Batch
	if e.src != nil {
		sub := e.src.Subscribe(256)
		defer sub.Close()
		batches = sub.C
		e.mu.Lock()
		e.lost = sub.Dropped
		e.mu.Unlock()
	}
	var deltas <-chan topology.Delta
	var msub *topology.Subscription
	var version uint64
	if e.topo != nil {
		msub = e.topo.Subscribe(0, 1024)
		deltas = msub.C
		defer func() { msub.Close() }()
	}
	tick := time.NewTicker(e.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-batches:
			e.Observe(b)
		case d, ok := <-deltas:
			if !ok {
				// lagged: resume after the last delta seen
				msub = e.topo.Subscribe(version, 1024)
				deltas = msub.C
				continue
			}
			version = d.Version
			e.ObserveTopology(d)
		case now := <-tick.C:
			e.Tick(now)
		}
	}
}

// Observe judges one batch of the collector (Run calls it; tests and
// benchmarks may call it directly).
func (e *Engine) Observe(b *collector.Batch) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.batches++
	e.samples += uint64(b.Len())
	switch b.Kind {
	case collector.KindPort:
		for i := range b.Ports {
			e.onPort(&b.Ports[i])
		}
	case collector.KindFlow:
		e.onFlows(b)
	case collector.KindProbe:
		for i := range b.Probes {
			e.onProbe(&b.Probes[i])
		}
	}
}

// Tick judges what is judged by time rather than by samples (per-network
// sums, host moves) and drops findings of series that stopped reporting.
func (e *Engine) Tick(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := now.UnixNano()
	e.judgeNetworks(t)
	e.judgeHosts(t)
	stale := int64(3 * e.cfg.Interval)
	probeStale := int64(max(3*collector.ProbeInterval, 3*time.Second))
	for k, f := range e.active {
		limit := stale
		if f.obj.kind == objPath {
			limit = probeStale
		}
		if f.obj.kind == objHost {
			continue // judged above
		}
		if t-f.seen > limit {
			e.clear(k, f, t)
		}
	}
	e.forgetOld(t)
}

// forgetOld drops the states of series not seen for an hour (their
// baselines are stale by then anyway).
func (e *Engine) forgetOld(t int64) {
	cut := t - int64(time.Hour)
	for id, s := range e.ports {
		if s.last < cut {
			delete(e.ports, id)
			e.series--
		}
	}
	for id, s := range e.owners {
		if s.last < cut {
			delete(e.owners, id)
			e.series--
		}
	}
	for id, s := range e.probes {
		if s.last < cut {
			delete(e.probes, id)
			e.series--
		}
	}
	for id, s := range e.nets {
		if s.last < cut {
			delete(e.nets, id)
			e.series--
		}
	}
}

// admit says whether one more series may be tracked.
func (e *Engine) admit() bool {
	if e.series >= e.cfg.MaxSeries {
		e.refused++
		return false
	}
	e.series++
	return true
}

// ---- findings

// detector numbers: one finding per series and detector
const (
	detRxErrors uint8 = iota
	detTxErrors
	detRxDrops
	detTxDrops
	detRxDown
	detTxDown
	detRxRise
	detTxRise
	detStopped
	detAsym
	detRTT
	detLoss
	detMoves
	numDet
)

type findKey struct {
	series string
	det    uint8
}

// Kinds of findings (Item.Kind).
const (
	KindErrors      = "errors"
	KindDrops       = "drops"
	KindTrafficDown = "traffic-down"
	KindTrafficRise = "traffic-rise"
	KindStopped     = "stopped-sending"
	KindAsymmetric  = "asymmetric-link"
	KindRTT         = "rtt-drift"
	KindLoss        = "probe-loss"
	KindMoves       = "host-moves"
)

var detKinds = [numDet]string{KindErrors, KindErrors, KindDrops, KindDrops, KindTrafficDown, KindTrafficDown,
	KindTrafficRise, KindTrafficRise, KindStopped, KindAsymmetric, KindRTT, KindLoss, KindMoves}

// finding is one thing wrong now with one series.
type finding struct {
	det    uint8
	series string
	obj    object
	dir    string  // "rx", "tx" or ""
	value  float64 // the value judged
	base   float64 // its baseline
	extra  float64 // detector-specific: the peer's rate, the moves' count
	score  float64
	since  int64
	seen   int64
}

// hits counts, per detector of a series, the samples in a row for which
// its condition held (positive) or, for a raised finding, did not
// (negative).
type hits [numDet]int8

// clearAfter is how many samples in a row without the condition clear a
// finding.
const clearAfter = 2

// judge raises, updates or clears the finding (series, det): cond is
// whether this sample shows the problem; hold how many samples in a row it
// must before it is raised; fill sets the finding's values.
func (e *Engine) judge(series string, det uint8, h *hits, cond bool, hold int8, t int64, fill func(*finding)) {
	k := findKey{series, det}
	if cond {
		if h[det] < 0 {
			h[det] = 0
		}
		if h[det] < 100 {
			h[det]++
		}
		if h[det] < hold {
			return
		}
		f := e.active[k]
		raised := f == nil
		if raised {
			f = &finding{det: det, series: series, since: t}
			e.active[k] = f
		}
		base := f.base
		fill(f)
		if !raised {
			// the baseline shown is the one before the problem started
			// (the baseline itself goes on learning, slowly)
			f.base = base
		}
		f.seen = t
		if raised {
			e.emit("raised", t, f)
		}
		return
	}
	if h[det] > 0 {
		h[det] = 0
	}
	f := e.active[k]
	if f == nil {
		return
	}
	f.seen = t
	h[det]--
	if h[det] <= -clearAfter {
		h[det] = 0
		e.clear(k, f, t)
	}
}

func (e *Engine) clear(k findKey, f *finding, t int64) {
	delete(e.active, k)
	e.emit("cleared", t, f)
}

func (e *Engine) emit(kind string, t int64, f *finding) {
	ev := Event{Kind: kind, Time: time.Unix(0, t), Item: e.item(f)}
	if len(e.history) < e.cfg.History {
		e.history = append(e.history, ev)
	} else {
		e.history[e.hHead] = ev
		e.hHead = (e.hHead + 1) % len(e.history)
	}
	if e.stream.Subscribers() > 0 {
		e.stream.Publish(ev)
	}
	e.log.Debug("insight "+kind, "object", ev.Item.Object, "reason", ev.Item.Reason, "score", ev.Item.Score)
}

// score is 1 at a detector's threshold and grows by 1 for each doubling
// beyond it, up to 20: m is how far past the threshold (m >= 1).
func score(m float64) float64 {
	if math.IsNaN(m) || m < 1 {
		return 1
	}
	return math.Min(1+math.Log2(m), MaxScore)
}

// MaxScore is the highest score.
const MaxScore = 20

// Items returns what is wrong now, the highest score first; an empty
// (non-nil) list when nothing is.
func (e *Engine) Items() []Item {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Item, 0, len(e.active))
	for _, f := range e.active {
		out = append(out, e.item(f))
	}
	SortItems(out)
	return out
}

// SortItems orders items by score, highest first, then by object and kind.
func SortItems(items []Item) {
	sort.Slice(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		return a.Kind < b.Kind
	})
}

// History returns the raised and cleared events kept, oldest first.
func (e *Engine) History() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Event, 0, len(e.history))
	out = append(out, e.history[e.hHead:]...)
	return append(out, e.history[:e.hHead]...)
}

// Stats are the engine's counters.
type Stats struct {
	Series       int            `json:"series"`
	SeriesByKind map[string]int `json:"series_by_kind"`
	Refused      uint64         `json:"series_refused"`
	Batches      uint64         `json:"batches"`
	Samples      uint64         `json:"samples"`
	SamplesLost  uint64         `json:"samples_lost"`
	Active       int            `json:"active"`
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Stats{Series: e.series, Refused: e.refused, Batches: e.batches, Samples: e.samples, Active: len(e.active),
		SeriesByKind: map[string]int{"port": len(e.ports), "owner": len(e.owners), "network": len(e.nets), "probe": len(e.probes), "host": len(e.hosts)}}
	if e.lost != nil {
		s.SamplesLost = e.lost()
	}
	return s
}
