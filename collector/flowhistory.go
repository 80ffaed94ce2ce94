package collector

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/satellite-sdn/satellite/controller"
)

// Large flow tables. A switch may hold hundreds of thousands of flows; a
// history of its own for each would cost about 18 KiB per flow at full
// retention (gigabytes). Every flow keeps its latest sample and rates (the
// listings, the stream, alerts and exporters see them all), but only the
// flows someone will chart keep a history: the ones Satellite owns (up to
// FlowHistoryMax per switch) and the busiest FlowHistoryForeign foreign
// ones. The rest are summed per table into flow/DPID/others-TABLE.

// othersSeries is the sum of one table's flows without a history.
type othersSeries struct {
	seriesCommon
	key   string
	table uint8
	flows int // flows summed in the last poll
	bps   float64
	pps   float64
}

// othersAcc accumulates one table's flows without a history during a poll.
type othersAcc struct {
	n        int
	bps, pps float64
	rated    bool // at least one flow had a rate
}

func (a *othersAcc) add(rates [2]float64) {
	a.n++
	if !math.IsNaN(rates[0]) && !math.IsNaN(rates[1]) {
		a.bps += rates[0]
		a.pps += rates[1]
		a.rated = true
	}
}

// OthersKey is the key of the series summing the flows of table on dpid
// that have no history of their own.
func OthersKey(dpid uint64, table uint8) string {
	b := append([]byte("flow/"), controller.AppendDPID(nil, dpid)...)
	b = append(b, "/others-"...)
	return string(strconv.AppendUint(b, uint64(table), 10))
}

// addOthers appends this poll's sums to the others series of sw. The
// caller holds sw.mu[KindFlow].
func (c *Collector) addOthers(sw *switchState, seq, t int64, acc *[256]othersAcc, batch *Batch) {
	var vals [2]float32
	for table := range acc {
		a := &acc[table]
		ot := sw.others[uint8(table)]
		if a.n == 0 {
			if ot != nil {
				ot.present, ot.flows = false, 0
			}
			continue
		}
		if ot == nil {
			if !c.newSeries(sw, KindFlow, othersSeriesOverhead) {
				continue
			}
			ot = &othersSeries{key: OthersKey(sw.dpid, uint8(table)), table: uint8(table)}
			sw.others[uint8(table)] = ot
		}
		ot.flows = a.n
		ot.bps, ot.pps = nan, nan
		if a.rated {
			ot.bps, ot.pps = a.bps, a.pps
		}
		vals[0], vals[1] = float32(ot.bps), float32(ot.pps)
		c.mem.Add(int64(ot.addPoint(&c.tiers, seq, t, vals[:])))
		ot.present, ot.lastSeen = true, t
		if batch != nil {
			batch.Others = append(batch.Others, OthersSample{Key: ot.key, DPID: sw.dpid, Table: ot.table, Time: t, Flows: ot.flows, Bps: ot.bps, Pps: ot.pps})
		}
	}
}

const othersSeriesOverhead = 200

// othersTable parses the ID part of an others key ("others-TABLE").
func othersTable(rest string) (uint8, bool) {
	n, ok := strings.CutPrefix(rest, "others-")
	if !ok {
		return 0, false
	}
	t, err := strconv.ParseUint(n, 10, 8)
	return uint8(t), err == nil
}

// keepNew says whether a new flow series starts with a history of its
// own: while the switch is under its limits. The next ranking corrects
// it. The caller holds sw.mu[KindFlow].
func (c *Collector) keepNew(sw *switchState, cookie controller.Cookie) bool {
	if cookie.Kind() != controller.OwnerForeign {
		if sw.keptOwned < c.cfg.FlowHistoryMax {
			sw.keptOwned++
			return true
		}
		return false
	}
	if sw.keptForeign < c.cfg.FlowHistoryForeign && sw.keptOwned+sw.keptForeign < c.cfg.FlowHistoryMax {
		sw.keptForeign++
		return true
	}
	return false
}

type rankedFlow struct {
	bps float64
	fs  *flowSeries
}

// rankFlows decides, after a poll, which of the flows present keep a
// history: owned flows in table order up to FlowHistoryMax, then of the
// foreign ones the busiest N = FlowHistoryForeign (bounded by what is left
// of FlowHistoryMax) enter, and one leaves when it ranks below 2N, so a
// flow near the boundary does not lose and regain its history every
// poll. A flow that loses its history frees it. The caller holds
// sw.mu[KindFlow].
func (c *Collector) rankFlows(sw *switchState, order []*flowSeries) {
	owned := 0
	rank := sw.rank[:0]
	for _, fs := range order {
		if fs.info.Cookie.Kind() != controller.OwnerForeign {
			c.setKeep(fs, owned < c.cfg.FlowHistoryMax)
			owned++
			continue
		}
		bps := fs.last.Bps
		if math.IsNaN(bps) {
			bps = -1 // no rate yet: least busy
		}
		rank = append(rank, rankedFlow{bps: bps, fs: fs})
	}
	sw.keptOwned = min(owned, c.cfg.FlowHistoryMax)
	budget := min(c.cfg.FlowHistoryForeign, c.cfg.FlowHistoryMax-sw.keptOwned)
	if len(rank) > budget {
		slices.SortStableFunc(rank, func(a, b rankedFlow) int {
			switch {
			case a.bps > b.bps:
				return -1
			case a.bps < b.bps:
				return 1
			}
			return 0
		})
	}
	kept := 0
	for i, r := range rank {
		switch {
		case i < budget:
			c.setKeep(r.fs, true)
		case i >= 2*budget:
			c.setKeep(r.fs, false)
		}
		if r.fs.keep {
			kept++
		}
	}
	sw.keptForeign = kept
	clear(rank) // keep no series alive through the scratch space
	sw.rank = rank[:0]
}

func (c *Collector) setKeep(fs *flowSeries, keep bool) {
	if fs.keep == keep {
		return
	}
	fs.keep = keep
	if !keep {
		c.mem.Add(-int64(fs.histBytes()))
		fs.hist = nil
	}
}
