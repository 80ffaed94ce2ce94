package collector

import (
	"math"
	"time"
)

// History layout
//
// Every series keeps two tiers of points, each point holding one float32
// per metric of the series (8 for a port, 2 for a flow):
//
//   - raw: one point per poll of the series' switch, for the raw retention
//     (default 1 h). Points carry no timestamp: the switch keeps one clock
//     per kind of poll (a ring of poll times, shared by all its series of
//     that kind) and a series' raw points are numbered by poll. A poll in
//     which the series was missing is a NaN point.
//   - downsampled: one point per step (default 1 m) of wall-clock time,
//     the mean of the raw points in it, for the downsampled retention
//     (default 24 h). Bucket n covers [n*step, (n+1)*step).
//
// Rings start small and double up to their full size, so a series costs
// memory in proportion to how long it has existed, up to the documented
// maximum (docs/collector.md).

// ring is a circular buffer of points of nm float32 values, numbered by a
// monotonically increasing index (poll number or bucket number).
type ring struct {
	v    []float32 // cap points of nm values
	head int       // slot of the oldest point
	n    int       // points held
	last int64     // index of the newest point (valid when n > 0)
}

const ringMinPoints = 8

// push appends the point with index idx, filling skipped indexes with NaN
// points. An index at or before the newest is ignored. maxPoints bounds
// the ring; older points are overwritten. It returns the number of bytes
// the ring grew by.
func (r *ring) push(idx int64, vals []float32, nm, maxPoints int) int {
	if r.n > 0 {
		if idx <= r.last {
			return 0
		}
		gap := idx - r.last - 1
		if gap >= int64(maxPoints) {
			r.n, r.head = 0, 0
		} else {
			grown := 0
			for ; gap > 0; gap-- {
				grown += r.pushOne(nil, nm, maxPoints)
			}
			r.last = idx
			return grown + r.pushOne(vals, nm, maxPoints)
		}
	}
	r.last = idx
	return r.pushOne(vals, nm, maxPoints)
}

func (r *ring) pushOne(vals []float32, nm, maxPoints int) int {
	capPts := len(r.v) / nm
	grown := 0
	if r.n == capPts && capPts < maxPoints {
		newCap := min(max(2*capPts, ringMinPoints), maxPoints)
		nv := make([]float32, newCap*nm)
		for i := 0; i < r.n; i++ {
			copy(nv[i*nm:(i+1)*nm], r.at(i, nm))
		}
		grown = (newCap - capPts) * nm * 4
		r.v, r.head, capPts = nv, 0, newCap
	}
	var slot int
	if r.n < capPts {
		slot = (r.head + r.n) % capPts
		r.n++
	} else {
		slot = r.head
		r.head = (r.head + 1) % capPts
	}
	dst := r.v[slot*nm : (slot+1)*nm]
	if vals == nil {
		for i := range dst {
			dst[i] = float32(math.NaN())
		}
	} else {
		copy(dst, vals)
	}
	return grown
}

// at returns the i-th oldest point.
func (r *ring) at(i, nm int) []float32 {
	capPts := len(r.v) / nm
	slot := (r.head + i) % capPts
	return r.v[slot*nm : (slot+1)*nm]
}

// first returns the index of the oldest point.
func (r *ring) first() int64 { return r.last - int64(r.n) + 1 }

func (r *ring) bytes() int { return len(r.v) * 4 }

// clock is the ring of poll times of one kind of poll of one switch.
// Poll numbers start at 1.
type clock struct {
	t   []int64 // unix nanoseconds, slot = seq % len
	seq int64
}

func newClock(points int) *clock { return &clock{t: make([]int64, points)} }

func (c *clock) tick(t int64) int64 {
	c.seq++
	c.t[c.seq%int64(len(c.t))] = t
	return c.seq
}

// time returns the time of poll seq, if the clock still remembers it.
func (c *clock) time(seq int64) (int64, bool) {
	if seq < 1 || seq > c.seq || c.seq-seq >= int64(len(c.t)) {
		return 0, false
	}
	return c.t[seq%int64(len(c.t))], true
}

// history is the stored past of one series.
type history struct {
	raw ring
	ds  ring
	// the open downsampling bucket
	accBucket int64
	accSum    []float64
	accN      []uint32
}

// tiers are the shared retention settings of histories.
type tiers struct {
	rawPoints int           // raw points kept per series
	dsPoints  int           // downsampled points kept per series
	step      time.Duration // downsampling step
}

// add appends one raw point (poll seq at time t) and feeds the
// downsampling bucket. It returns how many bytes the history grew by.
func (h *history) add(tr *tiers, seq, t int64, vals []float32) int {
	nm := len(vals)
	grown := h.raw.push(seq, vals, nm, tr.rawPoints)
	if tr.dsPoints == 0 {
		return grown
	}
	b := floorDiv(t, int64(tr.step))
	if h.accSum == nil {
		h.accSum, h.accN = make([]float64, nm), make([]uint32, nm)
		grown += nm * 12
		h.accBucket = b
	}
	if b != h.accBucket {
		if b < h.accBucket {
			return grown // the clock went backwards: drop the point from the coarse tier
		}
		grown += h.flush(tr, nm)
		h.accBucket = b
	}
	for i, v := range vals {
		if !math.IsNaN(float64(v)) {
			h.accSum[i] += float64(v)
			h.accN[i]++
		}
	}
	return grown
}

// flush closes the open bucket into the downsampled ring.
func (h *history) flush(tr *tiers, nm int) int {
	var buf [8]float32
	pt := buf[:nm]
	any := false
	for i := range pt {
		if h.accN[i] > 0 {
			pt[i] = float32(h.accSum[i] / float64(h.accN[i]))
			any = true
		} else {
			pt[i] = float32(math.NaN())
		}
		h.accSum[i], h.accN[i] = 0, 0
	}
	if !any {
		return 0 // an empty bucket: the gap is filled with NaN when the next one closes
	}
	return h.ds.push(h.accBucket, pt, nm, tr.dsPoints)
}

func (h *history) bytes() int {
	if h == nil {
		return 0
	}
	return h.raw.bytes() + h.ds.bytes() + len(h.accSum)*12
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Point is one point of a series' history: its time and one value per
// metric (NaN = unknown).
type Point struct {
	T time.Time
	V []float64
}

// Resolution names the tier a query was answered from.
const (
	ResolutionRaw         = "raw"
	ResolutionDownsampled = "downsampled"
)

// query returns the points in [from, to] of tier res, re-aggregated to
// step (0: the tier's own resolution) by averaging. c is the series'
// clock (raw tier).
func (h *history) query(tr *tiers, c *clock, nm int, res string, from, to int64, step time.Duration) []Point {
	if h == nil {
		return nil
	}
	var pts []Point
	emit := func(t int64, v []float32) {
		if t < from || t > to {
			return
		}
		p := Point{T: time.Unix(0, t), V: make([]float64, nm)}
		for i := range v {
			p.V[i] = float64(v[i])
		}
		pts = append(pts, p)
	}
	if res == ResolutionRaw {
		for i := 0; i < h.raw.n; i++ {
			seq := h.raw.first() + int64(i)
			if t, ok := c.time(seq); ok {
				emit(t, h.raw.at(i, nm))
			}
		}
	} else {
		st := int64(tr.step)
		for i := 0; i < h.ds.n; i++ {
			emit((h.ds.first()+int64(i))*st, h.ds.at(i, nm))
		}
		// the open bucket, so the coarse tier reaches the present
		if h.accSum != nil && (h.ds.n == 0 || h.accBucket > h.ds.last) {
			v := make([]float32, nm)
			any := false
			for i := range v {
				v[i] = float32(math.NaN())
				if h.accN[i] > 0 {
					v[i] = float32(h.accSum[i] / float64(h.accN[i]))
					any = true
				}
			}
			if any {
				emit(h.accBucket*st, v)
			}
		}
	}
	if step <= 0 || len(pts) == 0 {
		return pts
	}
	return rebucket(pts, nm, int64(step))
}

// rebucket averages points into buckets of step nanoseconds, each stamped
// with its start; NaN values are left out of the averages.
func rebucket(pts []Point, nm int, step int64) []Point {
	var out []Point
	sum := make([]float64, nm)
	cnt := make([]int, nm)
	cur := floorDiv(pts[0].T.UnixNano(), step)
	flush := func() {
		p := Point{T: time.Unix(0, cur*step), V: make([]float64, nm)}
		for i := range sum {
			p.V[i] = math.NaN()
			if cnt[i] > 0 {
				p.V[i] = sum[i] / float64(cnt[i])
			}
			sum[i], cnt[i] = 0, 0
		}
		out = append(out, p)
	}
	for _, p := range pts {
		b := floorDiv(p.T.UnixNano(), step)
		if b != cur {
			flush()
			cur = b
		}
		for i, v := range p.V {
			if !math.IsNaN(v) {
				sum[i] += v
				cnt[i]++
			}
		}
	}
	flush()
	return out
}
