// Package collector polls statistics from every switch the controller is
// connected to (ports, flows, tables, groups), turns counters into rates,
// keeps a bounded history per series for charts, and publishes every
// sample on a stream for the alert engine, the web UI and exporters.
//
// Design (docs/collector.md has the details and the memory figures):
//
//   - One poller per connected switch ticks every Interval (default 5 s)
//     with a random phase and ±10 % jitter per tick, so switches are not
//     polled in lockstep. Each tick asks for port, flow, table and group
//     statistics; a kind whose previous request is still outstanding is
//     skipped and counted, so a slow switch never has more than one
//     request per kind in flight.
//   - Flow statistics are read with ofwire.EachFlowEntry (no per-flow
//     allocation) and identified by (table, priority, cookie, match); the
//     cookie says which object owns the flow.
//   - Rates handle counter resets, 64-bit wraps, the all-ones
//     "unsupported" value, flows that come and go and port renames: a
//     sample that cannot give a believable rate gives none (NaN).
//   - History: raw points for RawRetention (1 h), means per Step (1 m)
//     for DownsampledRetention (24 h).
package collector

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// Switches is what the collector needs of the controller
// (*controller.Controller): its event bus and the sessions it polls.
type Switches interface {
	Bus() *controller.Bus
	Switch(dpid uint64) *controller.Session
	Switches() []*controller.Session
}

// Defaults of Config.
const (
	DefaultInterval             = 5 * time.Second
	DefaultRawRetention         = time.Hour
	DefaultDownsampledRetention = 24 * time.Hour
	DefaultStep                 = time.Minute
	DefaultMaxSeries            = 250_000
	DefaultFlowHistoryForeign   = 100
	DefaultFlowHistoryMax       = 10_000
	DefaultFlowPollFactor       = 20
	DefaultFlowPollMaxInterval  = time.Minute
	DefaultStreamBuffer         = 64
	// MinInterval is the shortest poll interval accepted.
	MinInterval = 100 * time.Millisecond
	// jitter is the fraction of the interval each tick is moved by, at most.
	jitter = 0.1
)

// Config holds the collector's settings. Zero values take the defaults.
type Config struct {
	// Interval between polls of one switch (default 5s).
	Interval time.Duration
	// Timeout bounds each request (default 2 x Interval, at least 1s). A
	// request still outstanding at the next tick makes that tick skip its
	// kind.
	Timeout time.Duration
	// SkipFlows, SkipTables and SkipGroups turn off polling of flow, table
	// and group statistics. Ports are always polled.
	SkipFlows, SkipTables, SkipGroups bool
	// RawRetention is how long raw points are kept (default 1h);
	// DownsampledRetention how long means per Step are kept (default 24h,
	// Step 1m). DownsampledRetention < 0 turns the coarse tier off.
	RawRetention         time.Duration
	DownsampledRetention time.Duration
	Step                 time.Duration
	// MaxSeries bounds the number of series kept (default 250,000). A new
	// series beyond it first evicts the longest-gone series of its switch;
	// if there is none it is not tracked, and that is counted.
	MaxSeries int
	// Which flows keep a history of their own (docs/collector.md, "Large
	// flow tables"). Every flow has its latest sample and rates; of a
	// switch's flows, those Satellite owns keep a history (up to
	// FlowHistoryMax, default 10,000, in table order), and of the foreign
	// ones the FlowHistoryForeign busiest (default 100; -1: none),
	// re-ranked every poll: a flow enters among the busiest N and leaves
	// when it falls below the busiest 2N. The flows without a history
	// of their own are summed per table into one series,
	// flow/DPID/others-TABLE.
	FlowHistoryForeign int
	FlowHistoryMax     int
	// Flow polls yield to the switch: the next flow poll starts no sooner
	// than FlowPollFactor times the last flow dump's duration (default 20:
	// dumps take at most 5 % of the time), and while a table grows or
	// shrinks by more than a tenth between polls the flow interval doubles
	// each poll, up to FlowPollMaxInterval (default 1m). Port, table and
	// group polls keep the interval. FlowPollFactor < 0 turns this off.
	FlowPollFactor      int
	FlowPollMaxInterval time.Duration
	// Logger receives the collector's logs (default slog.Default()).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	c.Interval = max(c.Interval, MinInterval)
	if c.Timeout <= 0 {
		c.Timeout = max(2*c.Interval, time.Second)
	}
	if c.RawRetention <= 0 {
		c.RawRetention = DefaultRawRetention
	}
	if c.DownsampledRetention == 0 {
		c.DownsampledRetention = DefaultDownsampledRetention
	}
	if c.Step <= 0 {
		c.Step = DefaultStep
	}
	if c.MaxSeries <= 0 {
		c.MaxSeries = DefaultMaxSeries
	}
	if c.FlowHistoryForeign == 0 {
		c.FlowHistoryForeign = DefaultFlowHistoryForeign
	}
	c.FlowHistoryForeign = max(c.FlowHistoryForeign, 0)
	if c.FlowHistoryMax <= 0 {
		c.FlowHistoryMax = DefaultFlowHistoryMax
	}
	if c.FlowPollFactor == 0 {
		c.FlowPollFactor = DefaultFlowPollFactor
	}
	if c.FlowPollMaxInterval <= 0 {
		c.FlowPollMaxInterval = DefaultFlowPollMaxInterval
	}
	c.FlowPollMaxInterval = max(c.FlowPollMaxInterval, c.Interval)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// RawPoints is how many raw points a series keeps: enough for the raw
// retention even when jitter shortens every interval.
func (c Config) RawPoints() int {
	return int(math.Ceil(float64(c.RawRetention)/(float64(c.Interval)*(1-jitter)))) + 1
}

// DownsampledPoints is how many downsampled points a series keeps.
func (c Config) DownsampledPoints() int {
	if c.DownsampledRetention < 0 {
		return 0
	}
	return int(math.Ceil(float64(c.DownsampledRetention)/float64(c.Step))) + 1
}

// Collector polls statistics from the controller's switches.
type Collector struct {
	cfg    Config
	ctl    Switches
	log    *slog.Logger
	tiers  tiers
	stream *Stream[*Batch]

	mu       sync.RWMutex
	switches map[uint64]*switchState
	probes   probeState // the tunnel prober's series (PublishProbes)

	series  atomic.Int64 // series held
	mem     atomic.Int64 // bytes estimated
	kinds   [numKinds]kindCounters
	entries atomic.Uint64 // flow entries processed
	resets  atomic.Uint64
	wraps   atomic.Uint64
	absurd  atomic.Uint64
	renames atomic.Uint64
	refused atomic.Uint64
	evicted atomic.Uint64
	dupes   atomic.Uint64

	wg sync.WaitGroup
}

type kindCounters struct {
	polls, skipped, errors atomic.Uint64
}

// switchState is everything the collector holds about one switch. Each
// kind has its own lock, clock and series, so a long flow poll does not
// hold up port queries.
type switchState struct {
	dpid   uint64
	mu     [numKinds]sync.RWMutex
	clocks [numKinds]*clock
	ports  map[uint32]*portSeries
	flows  map[uint64]*flowSeries // by identity hash; collisions chain through next
	// flowOrder is the flows in the order of the last reply: switches
	// answer in a stable order, so the next reply is matched against it
	// position by position before falling back to the map. flowSpare is
	// the other buffer, reused.
	flowOrder, flowSpare []*flowSeries
	flowPartial          bool // the last reply did not decode completely
	// others sums, per table, the flows without a history of their own
	others map[uint8]*othersSeries
	// rank is scratch space for ranking foreign flows, reused
	rank []rankedFlow
	// kept counts the flows with a history of their own, owned and
	// foreign, as of the last ranking plus those created since
	keptOwned, keptForeign int
	// adaptive flow polling: the earliest next flow poll (unix ns), the
	// current flow interval and the table size of the last poll
	flowNext     atomic.Int64
	flowInterval atomic.Int64
	flowCount    int
	tables       map[uint8]*tableSeries
	groups       map[uint32]*groupSeries

	inflight [numKinds]atomic.Bool
	deferred atomic.Uint64 // flow ticks passed by to yield to the switch
	// the active flows of all tables at the last two table polls (-1: none)
	activeNow, activePrev atomic.Int64
	polls                 [numKinds]atomic.Uint64
	skipped               [numKinds]atomic.Uint64
	errors                [numKinds]atomic.Uint64
	lastPoll              [numKinds]atomic.Int64 // unix nanoseconds
	lastDur               [numKinds]atomic.Int64 // nanoseconds
	lastErr               [numKinds]atomic.Pointer[string]
	connected             atomic.Bool
	downAt                atomic.Int64

	// guarded by Collector.mu
	sess   *controller.Session
	cancel context.CancelFunc
}

// New returns a collector for ctl's switches; Run starts it.
func New(cfg Config, ctl Switches) *Collector {
	cfg.setDefaults()
	c := &Collector{
		cfg:      cfg,
		ctl:      ctl,
		log:      cfg.Logger.With("component", "collector"),
		switches: map[uint64]*switchState{},
		stream:   NewStream(func(b *Batch) int { return b.Len() }),
	}
	c.tiers = tiers{rawPoints: cfg.RawPoints(), dsPoints: cfg.DownsampledPoints(), step: cfg.Step}
	return c
}

// Config returns the effective settings (defaults filled in).
func (c *Collector) Config() Config { return c.cfg }

// Stream returns the stream every batch of samples is published on.
func (c *Collector) Stream() *Stream[*Batch] { return c.stream }

// Subscribe is Stream().Subscribe(size).
func (c *Collector) Subscribe(size int) *Sub[*Batch] { return c.stream.Subscribe(size) }

func (c *Collector) state(dpid uint64) *switchState {
	c.mu.Lock()
	defer c.mu.Unlock()
	sw := c.switches[dpid]
	if sw == nil {
		sw = &switchState{
			dpid: dpid, ports: map[uint32]*portSeries{}, flows: map[uint64]*flowSeries{}, others: map[uint8]*othersSeries{},
			tables: map[uint8]*tableSeries{}, groups: map[uint32]*groupSeries{},
		}
		for k := range sw.clocks {
			sw.clocks[k] = newClock(c.tiers.rawPoints)
		}
		sw.activeNow.Store(-1)
		sw.activePrev.Store(-1)
		c.mem.Add(int64(int(numKinds) * 8 * c.tiers.rawPoints))
		c.switches[dpid] = sw
	}
	return sw
}

func (c *Collector) lookup(dpid uint64) *switchState {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.switches[dpid]
}

// Run polls switches until ctx ends. It follows the controller's switch
// and port events.
func (c *Collector) Run(ctx context.Context) {
	events := c.ctl.Bus().Subscribe(4096, controller.SwitchUp, controller.SwitchDown, controller.PortAdd, controller.PortDelete)
	defer events.Close()
	for _, s := range c.ctl.Switches() {
		c.startSwitch(ctx, s)
	}
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	defer c.wg.Wait()
	defer c.stopAll()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-sweep.C:
			c.sweep(now.UnixNano())
		case ev, ok := <-events.C:
			if !ok {
				return
			}
			switch ev.Kind {
			case controller.SwitchUp:
				if s := c.ctl.Switch(ev.DPID); s != nil {
					c.startSwitch(ctx, s)
				}
			case controller.SwitchDown:
				c.switchDown(ev.DPID)
			case controller.PortAdd, controller.PortDelete:
				// The port's counters start over: forget the baseline.
				if sw := c.lookup(ev.DPID); sw != nil && ev.Port != nil {
					sw.mu[KindPort].Lock()
					if ps := sw.ports[ev.Port.No]; ps != nil {
						ps.base.ok = false
						if ev.Kind == controller.PortDelete {
							ps.present = false
						}
					}
					sw.mu[KindPort].Unlock()
				}
			}
		}
	}
}

func (c *Collector) startSwitch(ctx context.Context, s *controller.Session) {
	sw := c.state(s.DPID())
	c.mu.Lock()
	defer c.mu.Unlock()
	if sw.sess == s {
		return
	}
	if sw.cancel != nil {
		sw.cancel()
	}
	pctx, cancel := context.WithCancel(ctx)
	sw.sess, sw.cancel = s, cancel
	sw.connected.Store(true)
	c.wg.Add(1)
	go c.runSwitch(pctx, sw, s)
	c.log.Debug("polling switch", "dpid", controller.FormatDPID(sw.dpid), "interval", c.cfg.Interval)
}

func (c *Collector) switchDown(dpid uint64) {
	c.mu.Lock()
	sw := c.switches[dpid]
	if sw == nil || (sw.sess != nil && c.ctl.Switch(dpid) == sw.sess) {
		c.mu.Unlock()
		return // unknown, or already replaced by a new connection
	}
	if sw.cancel != nil {
		sw.cancel()
	}
	sw.sess, sw.cancel = nil, nil
	sw.connected.Store(false)
	sw.downAt.Store(time.Now().UnixNano())
	c.mu.Unlock()
	sw.markAbsent()
}

func (c *Collector) stopAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sw := range c.switches {
		if sw.cancel != nil {
			sw.cancel()
			sw.sess, sw.cancel = nil, nil
		}
	}
}

// markAbsent marks every series of a disconnected switch as not present.
// Baselines are kept: a switch that only lost its connection continues
// its counters, and one that restarted is caught as a reset.
func (sw *switchState) markAbsent() {
	for k := Kind(0); k < numKinds; k++ {
		sw.mu[k].Lock()
	}
	for _, s := range sw.ports {
		s.present = false
	}
	for _, s := range sw.flows {
		for ; s != nil; s = s.next {
			s.present = false
		}
	}
	for _, s := range sw.others {
		s.present = false
	}
	// absent series may be evicted: the order must not refer to them
	clear(sw.flowOrder)
	sw.flowOrder = sw.flowOrder[:0]
	// a reconnected switch starts polling flows afresh
	sw.activeNow.Store(-1)
	sw.activePrev.Store(-1)
	sw.flowNext.Store(0)
	sw.flowInterval.Store(0)
	sw.flowCount = 0
	for _, s := range sw.tables {
		s.present = false
	}
	for _, s := range sw.groups {
		s.present = false
	}
	for k := Kind(0); k < numKinds; k++ {
		sw.mu[k].Unlock()
	}
}

func (c *Collector) kindEnabled(k Kind) bool {
	switch k {
	case KindFlow:
		return !c.cfg.SkipFlows
	case KindTable:
		return !c.cfg.SkipTables
	case KindGroup:
		return !c.cfg.SkipGroups
	}
	return true
}

// nextInterval is the interval moved by up to ±10 %.
func (c *Collector) nextInterval() time.Duration {
	f := 1 + jitter*(2*rand.Float64()-1)
	return time.Duration(float64(c.cfg.Interval) * f)
}

func (c *Collector) runSwitch(ctx context.Context, sw *switchState, s *controller.Session) {
	defer c.wg.Done()
	// A random phase spreads switches that connected together over the
	// interval.
	t := time.NewTimer(time.Duration(rand.Int64N(int64(c.cfg.Interval))))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.Done():
			return
		case <-t.C:
		}
		for k := Kind(0); k < numKinds; k++ {
			if !c.kindEnabled(k) {
				continue
			}
			if k == KindFlow && c.cfg.FlowPollFactor >= 0 && (time.Now().UnixNano() < sw.flowNext.Load() || !c.cfg.SkipTables && tableChanging(sw)) {
				sw.deferred.Add(1) // yielding to the switch: not a skip
				continue
			}
			if !sw.inflight[k].CompareAndSwap(false, true) {
				// The previous request of this kind is still out: skip,
				// never queue.
				sw.skipped[k].Add(1)
				c.kinds[k].skipped.Add(1)
				continue
			}
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				defer sw.inflight[k].Store(false)
				c.poll(ctx, sw, s, k)
			}()
		}
		t.Reset(c.nextInterval())
	}
}

// flowStatsAll is the request body for every flow of every table.
func flowStatsAll() *ofp.FlowStatsRequest {
	return &ofp.FlowStatsRequest{Table: ofp.TableAll, OutPort: ofp.PortAny, OutGroup: ofp.GroupAny, Match: ofp.Match{Type: ofp.MatchTypeXM}}
}

// poll runs one request of kind k and ingests its reply.
func (c *Collector) poll(ctx context.Context, sw *switchState, s *controller.Session, k Kind) {
	if !s.Writable() {
		return // another instance of the cluster masters the switch: it polls (docs/cluster.md)
	}
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("internal error while collecting statistics", "dpid", controller.FormatDPID(sw.dpid), "kind", k.String(), "panic", r)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	start := time.Now()
	var err error
	// The switch takes its counters somewhere between the request and the
	// reply: stamp the sample in the middle.
	mid := func() int64 { end := time.Now(); return start.Add(end.Sub(start) / 2).UnixNano() }
	switch k {
	case KindPort:
		var stats []ofwire.PortStats
		if stats, err = s.PortStats(ctx, controller.PortAny); err == nil {
			c.ingestPorts(sw, mid(), stats, s.Port)
		}
	case KindFlow:
		var body []byte
		if body, err = s.Multipart(ctx, ofwire.MultipartFlow, flowStatsAll()); err == nil {
			_, err = c.ingestFlows(sw, mid(), body)
		}
		c.scheduleFlows(sw, time.Since(start))
	case KindTable:
		var stats []ofwire.TableStats
		if stats, err = s.TableStats(ctx); err == nil {
			c.ingestTables(sw, mid(), stats)
		}
	case KindGroup:
		var stats []ofwire.GroupStats
		if stats, err = s.GroupStats(ctx); err == nil {
			c.ingestGroups(sw, mid(), stats)
		}
	}
	sw.lastDur[k].Store(int64(time.Since(start)))
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return // shutting down or the switch went away
		}
		n := sw.errors[k].Add(1)
		c.kinds[k].errors.Add(1)
		msg := err.Error()
		sw.lastErr[k].Store(&msg)
		if n == 1 {
			c.log.Debug("statistics request failed", "dpid", controller.FormatDPID(sw.dpid), "kind", k.String(), "err", err)
		}
		return
	}
	sw.polls[k].Add(1)
	c.kinds[k].polls.Add(1)
	sw.lastPoll[k].Store(start.UnixNano())
}

// scheduleFlows decides when sw's next flow poll may start, after a dump
// that took took: no sooner than FlowPollFactor times took, and with the
// flow interval doubled (up to FlowPollMaxInterval) while the table's size
// changed by more than a tenth since the poll before. Ovs-vswitchd dumps
// flows in its main thread, the one that applies flow-mods: a big table
// being filled must not be dumped every few seconds.
func (c *Collector) scheduleFlows(sw *switchState, took time.Duration) {
	if c.cfg.FlowPollFactor < 0 {
		return
	}
	sw.mu[KindFlow].Lock()
	n, prev := len(sw.flowOrder), sw.flowCount
	sw.flowCount = n
	sw.mu[KindFlow].Unlock()
	iv := time.Duration(sw.flowInterval.Load())
	if iv == 0 {
		iv = c.cfg.Interval
	}
	if d := n - prev; prev > 0 && (d*10 > prev || -d*10 > prev) && max(n, prev) >= bigTable || prev == 0 && n > bigTable {
		iv = min(2*iv, c.cfg.FlowPollMaxInterval) // the table is changing fast
	} else {
		iv = c.cfg.Interval
	}
	sw.flowInterval.Store(int64(iv))
	wait := iv
	if n >= bigTable {
		// a small table's dump is cheap for the switch: a slow one there
		// is this host's scheduling, not the switch's work
		wait = max(time.Duration(c.cfg.FlowPollFactor)*took, iv)
	}
	wait -= c.cfg.Interval / 2
	sw.flowNext.Store(time.Now().Add(wait).UnixNano())
}

// newSeries reserves room for one more series of overhead bytes, evicting
// a long-gone series of sw's kind k if the limit is reached. It reports
// whether the series may be created. The caller holds sw.mu[k].
func (c *Collector) newSeries(sw *switchState, k Kind, overhead int) bool {
	if c.series.Load() >= int64(c.cfg.MaxSeries) && !c.evictOne(sw, k) {
		c.refused.Add(1)
		return false
	}
	c.series.Add(1)
	c.mem.Add(int64(overhead))
	return true
}

// evictOne removes the series of sw's kind k that has been gone longest.
// The caller holds sw.mu[k].
func (c *Collector) evictOne(sw *switchState, k Kind) bool {
	oldest, found := int64(math.MaxInt64), false
	var drop func()
	consider := func(sc *seriesCommon, remove func()) {
		if !sc.present && sc.lastSeen < oldest {
			oldest, found, drop = sc.lastSeen, true, remove
		}
	}
	switch k {
	case KindPort:
		for no, s := range sw.ports {
			consider(&s.seriesCommon, func() { c.forget(&s.seriesCommon, portSeriesOverhead); delete(sw.ports, no) })
		}
	case KindFlow:
		for id, s := range sw.flows {
			if s.next == nil {
				consider(&s.seriesCommon, func() { c.forget(&s.seriesCommon, flowSeriesOverhead); delete(sw.flows, id) })
			}
		}
	case KindTable:
		for no, s := range sw.tables {
			consider(&s.seriesCommon, func() { c.forget(&s.seriesCommon, tableSeriesOverhead); delete(sw.tables, no) })
		}
	case KindGroup:
		for no, s := range sw.groups {
			consider(&s.seriesCommon, func() { c.forget(&s.seriesCommon, groupSeriesOverhead); delete(sw.groups, no) })
		}
	}
	if found {
		drop()
		c.evicted.Add(1)
	}
	return found
}

func (c *Collector) forget(sc *seriesCommon, overhead int) {
	c.series.Add(-1)
	c.mem.Add(-int64(overhead + sc.histBytes()))
}

// sweep deletes series that have been gone longer than the retention, and
// switches that have been disconnected that long.
func (c *Collector) sweep(now int64) {
	keep := c.cfg.RawRetention
	if c.cfg.DownsampledRetention > keep {
		keep = c.cfg.DownsampledRetention
	}
	cutoff := now - int64(keep)
	c.sweepProbes(cutoff)
	gone := func(sc *seriesCommon) bool { return !sc.present && sc.lastSeen < cutoff }
	c.mu.RLock()
	all := make([]*switchState, 0, len(c.switches))
	for _, sw := range c.switches {
		all = append(all, sw)
	}
	c.mu.RUnlock()
	for _, sw := range all {
		sw.mu[KindPort].Lock()
		for no, s := range sw.ports {
			if gone(&s.seriesCommon) {
				c.forget(&s.seriesCommon, portSeriesOverhead)
				delete(sw.ports, no)
			}
		}
		sw.mu[KindPort].Unlock()
		sw.mu[KindFlow].Lock()
		for id, s := range sw.flows {
			// a collision chain goes when all of it is gone
			all := true
			for x := s; x != nil; x = x.next {
				all = all && gone(&x.seriesCommon)
			}
			if all {
				for x := s; x != nil; x = x.next {
					c.forget(&x.seriesCommon, flowSeriesOverhead)
				}
				delete(sw.flows, id)
			}
		}
		for no, s := range sw.others {
			if gone(&s.seriesCommon) {
				c.forget(&s.seriesCommon, othersSeriesOverhead)
				delete(sw.others, no)
			}
		}
		sw.mu[KindFlow].Unlock()
		sw.mu[KindTable].Lock()
		for no, s := range sw.tables {
			if gone(&s.seriesCommon) {
				c.forget(&s.seriesCommon, tableSeriesOverhead)
				delete(sw.tables, no)
			}
		}
		sw.mu[KindTable].Unlock()
		sw.mu[KindGroup].Lock()
		for no, s := range sw.groups {
			if gone(&s.seriesCommon) {
				c.forget(&s.seriesCommon, groupSeriesOverhead)
				delete(sw.groups, no)
			}
		}
		sw.mu[KindGroup].Unlock()
		if !sw.connected.Load() && sw.downAt.Load() < cutoff {
			c.mu.Lock()
			if c.switches[sw.dpid] == sw && sw.sess == nil && len(sw.ports)+len(sw.flows)+len(sw.others)+len(sw.tables)+len(sw.groups) == 0 {
				delete(c.switches, sw.dpid)
				c.mem.Add(-int64(int(numKinds) * 8 * c.tiers.rawPoints))
			}
			c.mu.Unlock()
		}
	}
}

// ---- ingestion: one reply of one switch at time t (unix nanoseconds)

func (c *Collector) ingestPorts(sw *switchState, t int64, stats []ofwire.PortStats, desc func(uint32) (ofwire.Port, bool)) *Batch {
	sw.mu[KindPort].Lock()
	defer sw.mu[KindPort].Unlock()
	seq := sw.clocks[KindPort].tick(t)
	var batch *Batch
	if c.stream.Subscribers() > 0 {
		batch = &Batch{Kind: KindPort, DPID: sw.dpid, Time: t, Ports: make([]PortSample, 0, len(stats))}
	}
	var cur [8]uint64
	var out [8]float64
	var vals [8]float32
	for i := range stats {
		st := &stats[i]
		ps := sw.ports[st.PortNo]
		if ps == nil {
			if !c.newSeries(sw, KindPort, portSeriesOverhead) {
				continue
			}
			ps = &portSeries{key: portKey(sw.dpid, st.PortNo)}
			sw.ports[st.PortNo] = ps
		}
		var name string
		var speed uint32
		if desc != nil {
			if p, ok := desc(st.PortNo); ok {
				name, speed = p.Name, p.CurrSpeed
			}
		}
		if ps.name != "" && name != "" && name != ps.name {
			// The number now belongs to another interface: its counters
			// are not the old ones.
			ps.base.ok = false
			c.renames.Add(1)
		}
		if name != "" {
			ps.name = name
		}
		ps.speed = speed
		cur = [8]uint64{st.RxBytes, st.TxBytes, st.RxPackets, st.TxPackets, st.RxDropped, st.TxDropped, st.RxErrors, st.TxErrors}
		c.count(ps.base.rates(t, portDuration(st.DurationSec, st.DurationNSec), cur[:], portScales, portMaxes, out[:]))
		toF32(vals[:], out[:])
		c.mem.Add(int64(ps.addPoint(&c.tiers, seq, t, vals[:])))
		ps.present, ps.lastSeen = true, t
		ps.last = PortSample{
			Key: ps.key, DPID: sw.dpid, Port: st.PortNo, Name: ps.name, SpeedKbps: speed, Time: t, Counters: *st,
			Rates: PortRates{
				RxBps: out[0], TxBps: out[1], RxPps: out[2], TxPps: out[3],
				RxDrops: out[4], TxDrops: out[5], RxErrors: out[6], TxErrors: out[7],
				RxUtil: util(out[0], speed), TxUtil: util(out[1], speed),
			},
		}
		if batch != nil {
			batch.Ports = append(batch.Ports, ps.last)
		}
	}
	for _, ps := range sw.ports {
		if ps.present && ps.lastSeen != t {
			ps.present, ps.base.ok = false, false // deleted
		}
	}
	c.publish(batch)
	return batch
}

func (c *Collector) publish(b *Batch) {
	if b != nil {
		c.stream.Publish(b)
	}
}

func (c *Collector) count(r rateResult) {
	if r.reset {
		c.resets.Add(1)
	}
	if r.wrap {
		c.wraps.Add(1)
	}
	if r.absurd {
		c.absurd.Add(1)
	}
}

// ingestFlows processes a raw flow-stats reply body. Entries before a
// malformed one are kept; flows are only declared gone after a reply that
// decoded completely.
func (c *Collector) ingestFlows(sw *switchState, t int64, body []byte) (*Batch, error) {
	sw.mu[KindFlow].Lock()
	defer sw.mu[KindFlow].Unlock()
	seq := sw.clocks[KindFlow].tick(t)
	var batch *Batch
	if c.stream.Subscribers() > 0 {
		batch = &Batch{Kind: KindFlow, DPID: sw.dpid, Time: t, Flows: make([]FlowSample, 0, len(sw.flowOrder)+16)}
	}
	prev, order := sw.flowOrder, sw.flowSpare[:0]
	next := 0 // where in prev the next entry is expected
	var others [256]othersAcc
	var cur [2]uint64
	var out [2]float64
	var vals [2]float32
	var n uint64
	err := ofwire.EachFlowEntry(body, func(e *ofwire.FlowEntry) error {
		n++
		var fs *flowSeries
		if next < len(prev) && prev[next].is(e) {
			fs = prev[next]
		} else if fs = c.lookupFlow(sw, e); fs == nil {
			return nil // refused: too many series
		}
		if fs.lastSeq == seq {
			c.dupes.Add(1) // the same flow twice in one reply
			return nil
		}
		if p := fs.pos; p >= 0 && p < len(prev) && prev[p] == fs {
			next = p + 1
		}
		fs.pos = len(order)
		order = append(order, fs)
		if !fs.present {
			fs.base.ok = false // back after an absence: a new instance
		}
		cur = [2]uint64{e.ByteCount, e.PacketCount}
		c.count(fs.base.rates(t, durationNS(e.DurationSec, e.DurationNSec), cur[:], flowScales, flowMaxes, out[:]))
		if fs.keep {
			toF32(vals[:], out[:])
			if grown := fs.addPoint(&c.tiers, seq, t, vals[:]); grown != 0 {
				c.mem.Add(int64(grown))
			}
		} else {
			others[e.Table].add(out)
		}
		fs.present, fs.lastSeen, fs.lastSeq = true, t, seq
		fs.last = FlowSample{
			Info: fs.info, Time: t, Packets: e.PacketCount, Bytes: e.ByteCount,
			DurationS: float64(e.DurationSec) + float64(e.DurationNSec)/1e9, Bps: out[0], Pps: out[1], History: fs.keep,
		}
		if batch != nil {
			batch.Flows = append(batch.Flows, fs.last)
		}
		return nil
	})
	c.entries.Add(n)
	sw.flowOrder, sw.flowSpare = order, prev
	c.addOthers(sw, seq, t, &others, batch)
	c.publish(batch)
	c.rankFlows(sw, order)
	// the spare buffer must not keep series alive once they are deleted
	defer clear(sw.flowSpare)
	if err != nil {
		sw.flowPartial = true
		return batch, err
	}
	// Flows of the last reply missing from this one are gone. After a
	// partial reply the last order is incomplete: check every flow.
	gone := func(fs *flowSeries) {
		if fs.present && fs.lastSeq != seq {
			fs.present, fs.base.ok = false, false
		}
	}
	if sw.flowPartial {
		for _, head := range sw.flows {
			for fs := head; fs != nil; fs = fs.next {
				gone(fs)
			}
		}
		sw.flowPartial = false
	} else {
		for _, fs := range prev {
			gone(fs)
		}
	}
	return batch, nil
}

// lookupFlow finds the series of a flow entry in the map, creating it if
// there is room. The caller holds sw.mu[KindFlow].
func (c *Collector) lookupFlow(sw *switchState, e *ofwire.FlowEntry) *flowSeries {
	h := flowID{table: e.Table, priority: e.Priority, cookie: e.Cookie, match: hashMatch(e.Match)}.hash()
	chain := 0
	for fs := sw.flows[h]; fs != nil; fs = fs.next {
		if fs.is(e) {
			return fs
		}
		chain++
	}
	if !c.newSeries(sw, KindFlow, flowSeriesOverhead+len(e.Match)) {
		return nil
	}
	fs := &flowSeries{pos: -1, keep: c.keepNew(sw, controller.Cookie(e.Cookie)), info: &FlowInfo{
		Key: flowKey(sw.dpid, h, chain+1), DPID: sw.dpid, Table: e.Table, Priority: e.Priority,
		Cookie: controller.Cookie(e.Cookie), rawMatch: append([]byte(nil), e.Match...),
	}}
	// (eviction may have changed the chain)
	if head := sw.flows[h]; head == nil {
		sw.flows[h] = fs
	} else {
		last := head
		for last.next != nil {
			last = last.next
		}
		last.next = fs
	}
	return fs
}

func (c *Collector) ingestTables(sw *switchState, t int64, stats []ofwire.TableStats) *Batch {
	sw.mu[KindTable].Lock()
	defer sw.mu[KindTable].Unlock()
	seq := sw.clocks[KindTable].tick(t)
	var batch *Batch
	if c.stream.Subscribers() > 0 {
		batch = &Batch{Kind: KindTable, DPID: sw.dpid, Time: t}
	}
	var out [2]float64
	var vals [3]float32
	var active uint64
	for _, st := range stats {
		active += uint64(st.ActiveCount)
		ts := sw.tables[st.Table]
		if ts == nil {
			// Switches report every table (OVS: 254); keep the ones in use.
			if st.ActiveCount == 0 && st.LookupCount == 0 {
				continue
			}
			if !c.newSeries(sw, KindTable, tableSeriesOverhead) {
				continue
			}
			ts = &tableSeries{key: tableKey(sw.dpid, st.Table)}
			sw.tables[st.Table] = ts
		}
		cur := [2]uint64{st.LookupCount, st.MatchedCount}
		c.count(ts.base.rates(t, 0, cur[:], tableScales, tableMaxes, out[:]))
		vals = [3]float32{float32(out[0]), float32(out[1]), float32(st.ActiveCount)}
		c.mem.Add(int64(ts.addPoint(&c.tiers, seq, t, vals[:])))
		ts.present, ts.lastSeen = true, t
		ts.last = TableSample{Key: ts.key, DPID: sw.dpid, Table: st.Table, Time: t, Active: st.ActiveCount,
			Lookups: st.LookupCount, Matched: st.MatchedCount, LookupsPs: out[0], MatchedPs: out[1]}
		if batch != nil {
			batch.Tables = append(batch.Tables, ts.last)
		}
	}
	for _, ts := range sw.tables {
		if ts.present && ts.lastSeen != t {
			ts.present, ts.base.ok = false, false
		}
	}
	sw.activePrev.Store(sw.activeNow.Load())
	sw.activeNow.Store(int64(active))
	c.publish(batch)
	return batch
}

// tableChanging reports whether the flow count the last two table polls
// of sw gave differs by more than a tenth and more than 1,000 flows:
// someone is loading or clearing a table, and a flow dump now would slow
// the switch down while it applies the flow-mods.
// bigTable is the flow count from which dumps cost the switch enough
// to be spaced out by their duration.
const bigTable = 10_000

func tableChanging(sw *switchState) bool {
	now, prev := sw.activeNow.Load(), sw.activePrev.Load()
	switch {
	case now < 0:
		return true // no table poll yet: the first tick polls tables, not flows
	case prev < 0:
		return now > bigTable // a big table: see whether it is still being loaded
	}
	d := max(now-prev, prev-now)
	return d > 1000 && d*10 > prev
}

func (c *Collector) ingestGroups(sw *switchState, t int64, stats []ofwire.GroupStats) *Batch {
	sw.mu[KindGroup].Lock()
	defer sw.mu[KindGroup].Unlock()
	seq := sw.clocks[KindGroup].tick(t)
	var batch *Batch
	if c.stream.Subscribers() > 0 {
		batch = &Batch{Kind: KindGroup, DPID: sw.dpid, Time: t}
	}
	var out [2]float64
	var vals [2]float32
	for _, st := range stats {
		gs := sw.groups[st.GroupID]
		if gs == nil {
			if !c.newSeries(sw, KindGroup, groupSeriesOverhead) {
				continue
			}
			gs = &groupSeries{key: groupKey(sw.dpid, st.GroupID)}
			sw.groups[st.GroupID] = gs
		}
		if !gs.present {
			gs.base.ok = false
		}
		cur := [2]uint64{st.ByteCount, st.PacketCount}
		c.count(gs.base.rates(t, durationNS(st.DurationSec, st.DurationNSec), cur[:], flowScales, flowMaxes, out[:]))
		toF32(vals[:], out[:])
		c.mem.Add(int64(gs.addPoint(&c.tiers, seq, t, vals[:])))
		gs.present, gs.lastSeen = true, t
		gs.last = GroupSample{Key: gs.key, DPID: sw.dpid, Group: st.GroupID, Time: t, RefCount: st.RefCount,
			Packets: st.PacketCount, Bytes: st.ByteCount, Bps: out[0], Pps: out[1]}
		if batch != nil {
			batch.Groups = append(batch.Groups, gs.last)
		}
	}
	for _, gs := range sw.groups {
		if gs.present && gs.lastSeen != t {
			gs.present, gs.base.ok = false, false
		}
	}
	c.publish(batch)
	return batch
}

// sortedSwitches returns the switch states by dpid.
func (c *Collector) sortedSwitches() []*switchState {
	c.mu.RLock()
	out := make([]*switchState, 0, len(c.switches))
	for _, sw := range c.switches {
		out = append(out, sw)
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].dpid < out[j].dpid })
	return out
}
