package collector

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/controller"
)

// PortFilter selects ports; nil fields select everything.
type PortFilter struct {
	DPID *uint64
	Port *uint32
}

// Ports returns the latest sample of every port present on a connected
// switch, by dpid then port number.
func (c *Collector) Ports(f PortFilter) []PortSample {
	var out []PortSample
	for _, sw := range c.sortedSwitches() {
		if f.DPID != nil && sw.dpid != *f.DPID {
			continue
		}
		sw.mu[KindPort].RLock()
		for no, ps := range sw.ports {
			if ps.present && (f.Port == nil || no == *f.Port) {
				out = append(out, ps.last)
			}
		}
		sw.mu[KindPort].RUnlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].DPID != out[j].DPID {
			return out[i].DPID < out[j].DPID
		}
		return out[i].Port < out[j].Port
	})
	return out
}

// FlowFilter selects flows; nil fields select everything.
type FlowFilter struct {
	DPID    *uint64
	Table   *uint8
	Owner   *controller.OwnerKind // the cookie's owner kind
	Network *uint32               // the cookie's scope (virtual network)
	ID      *uint32               // the cookie's object id
}

func (f FlowFilter) match(fi *FlowInfo) bool {
	c := fi.Cookie
	switch {
	case f.Table != nil && fi.Table != *f.Table:
	case f.Owner != nil && c.Kind() != *f.Owner:
	case f.Network != nil && (c.Kind() == controller.OwnerForeign || c.Scope() != *f.Network):
	case f.ID != nil && (c.Kind() == controller.OwnerForeign || c.Object() != *f.ID):
	default:
		return true
	}
	return false
}

// Flows returns the latest sample of every flow present on a connected
// switch, by dpid, table, priority (highest first) and key.
func (c *Collector) Flows(f FlowFilter) []FlowSample {
	var out []FlowSample
	for _, sw := range c.sortedSwitches() {
		if f.DPID != nil && sw.dpid != *f.DPID {
			continue
		}
		sw.mu[KindFlow].RLock()
		for _, head := range sw.flows {
			for fs := head; fs != nil; fs = fs.next {
				if fs.present && f.match(fs.info) {
					out = append(out, fs.last)
				}
			}
		}
		sw.mu[KindFlow].RUnlock()
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Info, out[j].Info
		switch {
		case a.DPID != b.DPID:
			return a.DPID < b.DPID
		case a.Table != b.Table:
			return a.Table < b.Table
		case a.Priority != b.Priority:
			return a.Priority > b.Priority
		}
		return a.Key < b.Key
	})
	return out
}

// Tables returns the latest sample of every table in use (dpid nil: of
// every switch).
func (c *Collector) Tables(dpid *uint64) []TableSample {
	var out []TableSample
	for _, sw := range c.sortedSwitches() {
		if dpid != nil && sw.dpid != *dpid {
			continue
		}
		sw.mu[KindTable].RLock()
		for _, ts := range sw.tables {
			if ts.present {
				out = append(out, ts.last)
			}
		}
		sw.mu[KindTable].RUnlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].DPID != out[j].DPID {
			return out[i].DPID < out[j].DPID
		}
		return out[i].Table < out[j].Table
	})
	return out
}

// Groups returns the latest sample of every group (dpid nil: of every
// switch).
func (c *Collector) Groups(dpid *uint64) []GroupSample {
	var out []GroupSample
	for _, sw := range c.sortedSwitches() {
		if dpid != nil && sw.dpid != *dpid {
			continue
		}
		sw.mu[KindGroup].RLock()
		for _, gs := range sw.groups {
			if gs.present {
				out = append(out, gs.last)
			}
		}
		sw.mu[KindGroup].RUnlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].DPID != out[j].DPID {
			return out[i].DPID < out[j].DPID
		}
		return out[i].Group < out[j].Group
	})
	return out
}

// Errors of Series.
var (
	ErrNoSeries      = errors.New("no such series")
	ErrBadKey        = errors.New("malformed series key")
	ErrTooManyPoints = errors.New("too many points")
)

// SeriesQuery selects part of a series' history.
type SeriesQuery struct {
	From, To time.Time
	// Step re-aggregates points into buckets of this length (averages);
	// 0 keeps the tier's own resolution.
	Step time.Duration
	// Resolution is ResolutionRaw, ResolutionDownsampled or "" (raw when
	// From is within the raw retention and Step is finer than the
	// downsampling step, else downsampled).
	Resolution string
	// MaxPoints bounds the answer (default 10,000).
	MaxPoints int
}

// SeriesData is part of one series' history.
type SeriesData struct {
	Key        string
	Kind       Kind
	DPID       uint64
	Labels     map[string]string
	Metrics    []string
	Present    bool
	Resolution string
	// Step is the distance between points: the requested step, or the
	// tier's (the poll interval for raw points).
	Step   time.Duration
	Points []Point
}

// ParseKey splits a series key ("port/DPID/PORT", "flow/DPID/ID",
// "table/DPID/TABLE", "group/DPID/GROUP", "probe/LOCAL/REMOTE/PATH")
// into its kind, datapath id (a probe's local one) and the rest
// ("REMOTE/PATH" for a probe).
func ParseKey(key string) (Kind, uint64, string, error) {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) != 3 {
		return 0, 0, "", fmt.Errorf("%w %q: want KIND/DPID/ID such as port/0000000000000001/2", ErrBadKey, key)
	}
	kind := Kind(255)
	for k, n := range kindNames {
		if n == parts[0] {
			kind = Kind(k)
		}
	}
	if kind == 255 {
		return 0, 0, "", fmt.Errorf("%w %q: kind %q is not one of port, flow, table, group, probe", ErrBadKey, key, parts[0])
	}
	if len(parts[1]) != 16 {
		return 0, 0, "", fmt.Errorf("%w %q: the datapath id must be 16 hex digits", ErrBadKey, key)
	}
	dpid, err := strconv.ParseUint(parts[1], 16, 64)
	if err != nil {
		return 0, 0, "", fmt.Errorf("%w %q: the datapath id must be 16 hex digits", ErrBadKey, key)
	}
	if kind == KindProbe {
		if _, _, err := parseProbeRest(key, parts[2]); err != nil {
			return 0, 0, "", err
		}
	} else if strings.Contains(parts[2], "/") {
		return 0, 0, "", fmt.Errorf("%w %q: want KIND/DPID/ID such as port/0000000000000001/2", ErrBadKey, key)
	}
	return kind, dpid, parts[2], nil
}

// Series returns the history of the series with the given key.
func (c *Collector) Series(key string, q SeriesQuery) (SeriesData, error) {
	kind, dpid, rest, err := ParseKey(key)
	if err != nil {
		return SeriesData{}, err
	}
	notFound := fmt.Errorf("%w %q", ErrNoSeries, key)
	var sw *switchState
	if kind != KindProbe {
		if sw = c.lookup(dpid); sw == nil {
			return SeriesData{}, notFound
		}
	}
	interval := c.cfg.Interval
	if kind == KindProbe {
		interval = ProbeInterval
	}
	if q.MaxPoints <= 0 {
		q.MaxPoints = 10_000
	}
	now := time.Now()
	if q.To.IsZero() {
		q.To = now
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-c.cfg.RawRetention)
	}
	res := q.Resolution
	if res == "" {
		res = ResolutionDownsampled
		// (a little slack: "the last hour" computed a moment ago is still raw)
		if !q.From.Before(now.Add(-c.cfg.RawRetention-interval-time.Second)) && q.Step < c.cfg.Step {
			res = ResolutionRaw
		}
		if c.tiers.dsPoints == 0 {
			res = ResolutionRaw
		}
	}
	d := SeriesData{Key: key, Kind: kind, DPID: dpid, Metrics: kind.Metrics(), Resolution: res, Step: q.Step}
	if d.Step == 0 {
		d.Step = interval
		if res == ResolutionDownsampled {
			d.Step = c.cfg.Step
		}
	}
	if n := int64(q.To.Sub(q.From)/d.Step) + 1; q.Step > 0 && n > int64(q.MaxPoints) {
		return SeriesData{}, fmt.Errorf("%w: %s to %s in steps of %s is %d points; the limit is %d (use a larger step)",
			ErrTooManyPoints, q.From.UTC().Format(time.RFC3339), q.To.UTC().Format(time.RFC3339), d.Step, n, q.MaxPoints)
	}
	from, to := q.From.UnixNano(), q.To.UnixNano()
	if kind == KindProbe {
		if err := c.probeSeriesData(&d, key, dpid, rest, res, from, to, q.Step); err != nil {
			return SeriesData{}, err
		}
		if len(d.Points) > q.MaxPoints {
			return SeriesData{}, fmt.Errorf("%w: %d points; the limit is %d (use a larger step or a shorter range)", ErrTooManyPoints, len(d.Points), q.MaxPoints)
		}
		return d, nil
	}
	dp := fmt.Sprintf("%016x", dpid)
	sw.mu[kind].RLock()
	defer sw.mu[kind].RUnlock()
	clk := sw.clocks[kind]
	nm := len(d.Metrics)
	switch kind {
	case KindPort:
		no, err := strconv.ParseUint(rest, 10, 32)
		ps := sw.ports[uint32(no)]
		if err != nil || ps == nil {
			return SeriesData{}, notFound
		}
		d.Present = ps.present
		d.Labels = map[string]string{"dpid": dp, "port": rest, "name": ps.name, "speed_kbps": strconv.FormatUint(uint64(ps.speed), 10)}
		d.Points = ps.hist.query(&c.tiers, clk, nm, res, from, to, q.Step)
	case KindFlow:
		if table, ok := othersTable(rest); ok {
			ot := sw.others[table]
			if ot == nil {
				return SeriesData{}, notFound
			}
			d.Present = ot.present
			d.Labels = map[string]string{"dpid": dp, "table": strconv.Itoa(int(table)), "owner": "others",
				"flows": strconv.Itoa(ot.flows), "about": "the flows of this table without a history of their own, summed"}
			d.Points = ot.hist.query(&c.tiers, clk, nm, res, from, to, q.Step)
			break
		}
		var fs *flowSeries
		for _, head := range sw.flows {
			for x := head; x != nil; x = x.next {
				if x.info.Key == key {
					fs = x
				}
			}
		}
		if fs == nil {
			return SeriesData{}, notFound
		}
		fi := fs.info
		d.Present = fs.present
		o := fi.Cookie.Owner()
		d.Labels = map[string]string{
			"dpid": dp, "table": strconv.Itoa(int(fi.Table)), "priority": strconv.Itoa(int(fi.Priority)),
			"cookie": fmt.Sprintf("0x%016x", uint64(fi.Cookie)), "owner": fi.Cookie.String(), "owner_kind": o.Kind,
			"network": strconv.FormatUint(uint64(o.Scope), 10), "match": fi.Match(),
		}
		if !fs.keep {
			// its rates are in the table's sum; it has no points of its own
			d.Labels["history"] = "none"
			d.Labels["summed_in"] = OthersKey(dpid, fi.Table)
		}
		d.Points = fs.hist.query(&c.tiers, clk, nm, res, from, to, q.Step)
	case KindTable:
		no, err := strconv.ParseUint(rest, 10, 8)
		ts := sw.tables[uint8(no)]
		if err != nil || ts == nil {
			return SeriesData{}, notFound
		}
		d.Present = ts.present
		d.Labels = map[string]string{"dpid": dp, "table": rest}
		d.Points = ts.hist.query(&c.tiers, clk, nm, res, from, to, q.Step)
	case KindGroup:
		no, err := strconv.ParseUint(rest, 10, 32)
		gs := sw.groups[uint32(no)]
		if err != nil || gs == nil {
			return SeriesData{}, notFound
		}
		d.Present = gs.present
		d.Labels = map[string]string{"dpid": dp, "group": rest}
		d.Points = gs.hist.query(&c.tiers, clk, nm, res, from, to, q.Step)
	}
	if len(d.Points) > q.MaxPoints {
		return SeriesData{}, fmt.Errorf("%w: %d points; the limit is %d (use a larger step or a shorter range)", ErrTooManyPoints, len(d.Points), q.MaxPoints)
	}
	return d, nil
}

// KindStats are the poll counters of one kind of statistics.
type KindStats struct {
	Polls   uint64 // completed polls
	Skipped uint64 // ticks skipped because the previous request was still outstanding
	Errors  uint64 // failed requests (timeouts, switch errors, malformed replies)
}

// SwitchStats are the poll counters of one switch.
type SwitchStats struct {
	DPID      uint64
	Connected bool
	Kinds     map[string]SwitchKindStats
}

// SwitchKindStats are one switch's counters of one kind.
type SwitchKindStats struct {
	KindStats
	Series       int
	LastPoll     time.Time // start of the last completed poll (zero: none yet)
	LastDuration time.Duration
	LastError    string
	// flows only: the flows with a history of their own, the flow ticks
	// passed by to yield to the switch, and the flow interval in force
	WithHistory int
	Deferred    uint64
	Interval    time.Duration
}

// Stats is the collector's health.
type Stats struct {
	Interval, Timeout    time.Duration
	RawRetention         time.Duration
	DownsampledRetention time.Duration
	Step                 time.Duration
	RawPoints            int // raw points kept per series
	DownsampledPoints    int // downsampled points kept per series
	Kinds                map[string]KindStats
	FlowEntries          uint64 // flow-stat entries processed
	Resets               uint64 // samples without a rate because counters went backwards
	Wraps                uint64 // 64-bit counter wraps handled
	Absurd               uint64 // samples without a rate because it was above the sanity bounds
	Renames              uint64 // ports whose name changed (baseline dropped)
	Duplicates           uint64 // flow entries seen twice in one reply (ignored)
	Series               int64
	SeriesByKind         map[string]int
	MaxSeries            int
	SeriesRefused        uint64
	SeriesEvicted        uint64
	MemoryBytes          int64 // estimate of history and series memory
	StreamSubscribers    int
	StreamDropped        uint64 // samples subscribers lost because they were slow
	Switches             []SwitchStats
}

// SeriesBytes estimates the memory of one series of kind k once its
// history is full: raw and downsampled points (4 bytes per metric) plus
// the series itself. Probe series have one raw point per ProbeInterval.
func (c Config) SeriesBytes(k Kind) int {
	c.setDefaults()
	nm := len(k.Metrics())
	over := map[Kind]int{KindPort: portSeriesOverhead, KindFlow: flowSeriesOverhead + 16, KindTable: tableSeriesOverhead,
		KindGroup: groupSeriesOverhead, KindProbe: probeSeriesOverhead}[k]
	raw := c.RawPoints()
	if k == KindProbe {
		raw = c.probeRawPoints()
	}
	if k == KindFlow {
		over += historyHeader // allocated apart: flows without a history do without
	}
	// the worst case: values that do not compress (history.go keeps them
	// plain then), each tier's open chunk, the chunk headers; quiet
	// series take several times less (BenchmarkSeriesMemory)
	chunks := (raw+chunkPoints-1)/chunkPoints + 1 + (c.DownsampledPoints()+chunkPoints-1)/chunkPoints + 1
	return (raw+c.DownsampledPoints()+2*chunkPoints)*nm*4 + chunks*(chunkHeader+nm) + nm*12 + over
}

// Stats returns the collector's counters.
func (c *Collector) Stats() Stats {
	st := Stats{
		Interval: c.cfg.Interval, Timeout: c.cfg.Timeout, RawRetention: c.cfg.RawRetention,
		DownsampledRetention: max(c.cfg.DownsampledRetention, 0), Step: c.cfg.Step,
		RawPoints: c.tiers.rawPoints, DownsampledPoints: c.tiers.dsPoints,
		Kinds: map[string]KindStats{}, FlowEntries: c.entries.Load(), Resets: c.resets.Load(),
		Wraps: c.wraps.Load(), Absurd: c.absurd.Load(), Renames: c.renames.Load(), Duplicates: c.dupes.Load(),
		Series: c.series.Load(), SeriesByKind: map[string]int{}, MaxSeries: c.cfg.MaxSeries,
		SeriesRefused: c.refused.Load(), SeriesEvicted: c.evicted.Load(), MemoryBytes: c.mem.Load(),
		StreamSubscribers: c.stream.Subscribers(), StreamDropped: c.stream.Lost(),
	}
	for k := Kind(0); k < numKinds; k++ {
		if c.kindEnabled(k) {
			st.Kinds[k.String()] = KindStats{Polls: c.kinds[k].polls.Load(), Skipped: c.kinds[k].skipped.Load(), Errors: c.kinds[k].errors.Load()}
		}
		st.SeriesByKind[k.String()] = 0
	}
	var probePubs uint64
	st.SeriesByKind[KindProbe.String()], probePubs = c.probeStats()
	if probePubs > 0 {
		// publications of the tunnel prober count as polls
		st.Kinds[KindProbe.String()] = KindStats{Polls: probePubs}
	}
	for _, sw := range c.sortedSwitches() {
		ss := SwitchStats{DPID: sw.dpid, Connected: sw.connected.Load(), Kinds: map[string]SwitchKindStats{}}
		for k := Kind(0); k < numKinds; k++ {
			sw.mu[k].RLock()
			var n, kept int
			switch k {
			case KindPort:
				n = len(sw.ports)
			case KindFlow:
				for _, h := range sw.flows {
					for x := h; x != nil; x = x.next {
						n++
					}
				}
				n += len(sw.others)
				kept = sw.keptOwned + sw.keptForeign
			case KindTable:
				n = len(sw.tables)
			case KindGroup:
				n = len(sw.groups)
			}
			sw.mu[k].RUnlock()
			st.SeriesByKind[k.String()] += n
			if !c.kindEnabled(k) {
				continue
			}
			ks := SwitchKindStats{
				KindStats: KindStats{Polls: sw.polls[k].Load(), Skipped: sw.skipped[k].Load(), Errors: sw.errors[k].Load()},
				Series:    n, LastDuration: time.Duration(sw.lastDur[k].Load()),
			}
			if k == KindFlow {
				ks.WithHistory, ks.Deferred = kept, sw.deferred.Load()
				ks.Interval = max(time.Duration(sw.flowInterval.Load()), c.cfg.Interval)
			}
			if t := sw.lastPoll[k].Load(); t != 0 {
				ks.LastPoll = time.Unix(0, t)
			}
			if e := sw.lastErr[k].Load(); e != nil {
				ks.LastError = *e
			}
			ss.Kinds[k.String()] = ks
		}
		st.Switches = append(st.Switches, ss)
	}
	return st
}
