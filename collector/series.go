package collector

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"sync"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// Kind is a kind of statistics: what one poll asks a switch for.
type Kind uint8

// The kinds of statistics the collector polls.
const (
	KindPort Kind = iota
	KindFlow
	KindTable
	KindGroup
	numKinds // the kinds polled from switches
)

// KindProbe is the kind of the tunnel prober's samples: published with
// PublishProbes, not polled.
const KindProbe Kind = numKinds

var kindNames = [numKinds + 1]string{"port", "flow", "table", "group", "probe"}

func (k Kind) String() string {
	if k <= KindProbe {
		return kindNames[k]
	}
	return "unknown"
}

// Metric names of each kind of series, in the order of their values in
// Point.V.
var (
	PortMetrics  = []string{"rx_bps", "tx_bps", "rx_pps", "tx_pps", "rx_drops", "tx_drops", "rx_errors", "tx_errors"}
	FlowMetrics  = []string{"bps", "pps"}
	TableMetrics = []string{"lookups_ps", "matched_ps", "active"}
	GroupMetrics = []string{"bps", "pps"}
)

// Metrics returns the metric names of a kind of series.
func (k Kind) Metrics() []string {
	switch k {
	case KindPort:
		return PortMetrics
	case KindFlow:
		return FlowMetrics
	case KindTable:
		return TableMetrics
	case KindGroup:
		return GroupMetrics
	case KindProbe:
		return ProbeMetrics
	}
	return nil
}

// PortRates are the rates of one port, per second; NaN when unknown (the
// first sample, a reset, an unsupported counter). Util is the percentage
// of the port's current speed, NaN when the switch reports no speed.
type PortRates struct {
	RxBps, TxBps       float64
	RxPps, TxPps       float64
	RxDrops, TxDrops   float64
	RxErrors, TxErrors float64
	RxUtil, TxUtil     float64
}

// PortSample is one poll's view of one port: its counters as the switch
// reported them (Unsupported for counters it does not keep) and the rates
// since the previous poll.
type PortSample struct {
	Key       string // series key, "port/DPID/PORT"
	DPID      uint64
	Port      uint32
	Name      string
	SpeedKbps uint32
	Time      int64 // unix nanoseconds
	Counters  ofwire.PortStats
	Rates     PortRates
}

// FlowInfo identifies a flow and says who owns it. It is shared by every
// sample of the flow and never changes.
type FlowInfo struct {
	// Key is the series key, "flow/DPID/ID": ID is a hash of table,
	// priority, cookie and match, stable across restarts.
	Key      string
	DPID     uint64
	Table    uint8
	Priority uint16
	Cookie   controller.Cookie

	rawMatch  []byte
	matchOnce sync.Once
	match     string
}

// Owner returns the owner the flow's cookie names.
func (f *FlowInfo) Owner() controller.Owner { return f.Cookie.Owner() }

// Match returns the flow's match in ovs-ofctl syntax.
func (f *FlowInfo) Match() string {
	f.matchOnce.Do(func() {
		fields, err := ofwire.DecodeOXM(f.rawMatch)
		if err != nil {
			f.match = "oxm(" + err.Error() + ")"
			return
		}
		f.match = controller.FormatMatch(fields)
	})
	return f.match
}

// FlowSample is one poll's view of one flow.
type FlowSample struct {
	Info      *FlowInfo
	Time      int64 // unix nanoseconds
	Packets   uint64
	Bytes     uint64
	DurationS float64
	Bps, Pps  float64 // NaN when unknown
	// History: the flow keeps a history of its own (Config.FlowHistory*);
	// if not, its rates are in its table's OthersSample.
	History bool
}

// OthersSample is one poll's sum of the flows of one table that keep no
// history of their own (series flow/DPID/others-TABLE).
type OthersSample struct {
	Key      string
	DPID     uint64
	Table    uint8
	Time     int64
	Flows    int
	Bps, Pps float64 // NaN when none of the flows had a rate yet
}

// TableSample is one poll's view of one flow table.
type TableSample struct {
	Key       string
	DPID      uint64
	Table     uint8
	Time      int64
	Active    uint32
	Lookups   uint64
	Matched   uint64
	LookupsPs float64 // NaN when unknown
	MatchedPs float64
}

// GroupSample is one poll's view of one group.
type GroupSample struct {
	Key      string
	DPID     uint64
	Group    uint32
	Time     int64
	RefCount uint32
	Packets  uint64
	Bytes    uint64
	Bps, Pps float64
}

// Batch is what one poll of one switch produced: the samples of every
// port, flow, table or group (by Kind) with the poll's time. A KindProbe
// batch is one publication of the tunnel prober: every path of every
// switch (DPID 0; the samples name their switches).
type Batch struct {
	Kind   Kind
	DPID   uint64
	Time   int64 // unix nanoseconds
	Ports  []PortSample
	Flows  []FlowSample
	Others []OthersSample // with Flows: the per-table sums of the flows without a history
	Tables []TableSample
	Groups []GroupSample
	Probes []ProbeSample
}

// Len returns the number of samples in the batch.
func (b *Batch) Len() int {
	return len(b.Ports) + len(b.Flows) + len(b.Others) + len(b.Tables) + len(b.Groups) + len(b.Probes)
}

// ---- series

// seriesCommon is what every series has.
type seriesCommon struct {
	present  bool  // seen in the last poll of its kind
	lastSeen int64 // unix nanoseconds of the last poll it was in
	// hist is allocated by the first point: a flow that never keeps a
	// history costs a pointer, not the history's 150 bytes of headers
	hist *history
}

// addPoint appends a point to the series' history, which it creates on
// first use, and returns how many bytes the history grew by.
func (sc *seriesCommon) addPoint(tr *tiers, seq, t int64, vals []float32) int {
	grown := 0
	if sc.hist == nil {
		sc.hist = &history{}
		grown = historyHeader
	}
	return grown + sc.hist.add(tr, seq, t, vals)
}

// histBytes is the memory of the series' history, header included.
func (sc *seriesCommon) histBytes() int {
	if sc.hist == nil {
		return 0
	}
	return historyHeader + sc.hist.bytes()
}

// historyHeader is the size of an empty history.
const historyHeader = 160

type portSeries struct {
	seriesCommon
	key   string
	base  counterSet
	last  PortSample
	name  string
	speed uint32
}

type flowID struct {
	table    uint8
	priority uint16
	cookie   uint64
	match    uint64 // hash of the raw match
}

type flowSeries struct {
	seriesCommon
	info    *FlowInfo
	base    counterSet
	lastSeq int64
	pos     int // index in the switch's flowOrder (-1: none)
	last    FlowSample
	next    *flowSeries // another flow with the same identity hash (a collision)
	keep    bool        // keeps a history of its own (else summed into others)
}

// is reports whether e is this flow: same table, priority, cookie and
// match.
func (fs *flowSeries) is(e *ofwire.FlowEntry) bool {
	fi := fs.info
	return uint64(fi.Cookie) == e.Cookie && fi.Priority == e.Priority && fi.Table == e.Table && bytes.Equal(fi.rawMatch, e.Match)
}

type tableSeries struct {
	seriesCommon
	key  string
	base counterSet
	last TableSample
}

type groupSeries struct {
	seriesCommon
	key  string
	base counterSet
	last GroupSample
}

// seriesOverhead estimates the bytes of a series besides its history:
// the struct, its map entry and its key.
const (
	portSeriesOverhead  = 520
	flowSeriesOverhead  = 230
	tableSeriesOverhead = 300
	groupSeriesOverhead = 300
)

var (
	portScales  = []float64{8, 8, 1, 1, 1, 1, 1, 1}
	portMaxes   = []float64{MaxBitsPerSecond, MaxBitsPerSecond, MaxPacketsPerSecond, MaxPacketsPerSecond, MaxPacketsPerSecond, MaxPacketsPerSecond, MaxPacketsPerSecond, MaxPacketsPerSecond}
	flowScales  = []float64{8, 1}
	flowMaxes   = []float64{MaxBitsPerSecond, MaxPacketsPerSecond}
	tableScales = []float64{1, 1}
	tableMaxes  = []float64{1e12, 1e12}
)

// hashMatch hashes raw match bytes (FNV-1a over 8-byte words with a final
// avalanche): fast, and stable across restarts so series keys are too.
func hashMatch(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for len(b) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * 1099511628211
		b = b[8:]
	}
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return mix64(h)
}

func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func (id flowID) hash() uint64 {
	return mix64(id.match ^ mix64(id.cookie^uint64(id.priority)<<8^uint64(id.table)))
}

// Series keys.

func portKey(dpid uint64, port uint32) string {
	b := make([]byte, 0, 32)
	b = append(b, "port/"...)
	b = controller.AppendDPID(b, dpid)
	b = append(b, '/')
	b = strconv.AppendUint(b, uint64(port), 10)
	return string(b)
}

func flowKey(dpid uint64, id uint64, n int) string {
	b := make([]byte, 0, 40)
	b = append(b, "flow/"...)
	b = controller.AppendDPID(b, dpid)
	b = append(b, '/')
	b = controller.AppendDPID(b, id)
	if n > 1 {
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return string(b)
}

func tableKey(dpid uint64, table uint8) string {
	return "table/" + string(controller.AppendDPID(nil, dpid)) + "/" + strconv.Itoa(int(table))
}

func groupKey(dpid uint64, group uint32) string {
	return "group/" + string(controller.AppendDPID(nil, dpid)) + "/" + strconv.FormatUint(uint64(group), 10)
}

// toF32 copies rates into float32 history values.
func toF32(dst []float32, src []float64) {
	for i, v := range src {
		dst[i] = float32(v)
	}
}

func util(bps float64, speedKbps uint32) float64 {
	if speedKbps == 0 || math.IsNaN(bps) {
		return nan
	}
	return bps / (float64(speedKbps) * 1000) * 100
}

// portDuration returns a port's duration in nanoseconds, 0 when the switch
// does not report it (all ones).
func portDuration(sec, nsec uint32) uint64 {
	if sec == math.MaxUint32 {
		return 0
	}
	return durationNS(sec, nsec)
}
