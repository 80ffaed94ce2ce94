package collector

import (
	"math"
	"math/bits"
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
// Rings keep their points in XOR-compressed chunks (ring, below), so a
// series costs memory in proportion to how long it has existed and to how
// much its values change, up to the documented maximum (docs/collector.md).

// ring holds the newest points of a series (nm float32 values each),
// numbered by a monotonically increasing index (poll number or bucket
// number), at most maxPoints of them visible. Points go into an open chunk
// of chunkPoints plain values; a full chunk is sealed: each metric's
// column is XOR-encoded against the previous value (the float encoding of
// Gorilla and Prometheus' TSDB, here on 32-bit values), which turns the
// steady counters and rates of an idle port or flow, and the NaN of
// missed polls, into one or a few bits per point. The oldest sealed chunk
// is dropped once the points after it are enough.
type ring struct {
	sealed    []chunk
	open      []float32 // the open chunk: openN points of nm values
	openN     int
	openFirst int64 // index of the open chunk's first point
	held      int   // points in sealed and open chunks
	max       int   // maxPoints of the last push: how many are visible
	last      int64 // index of the newest point (valid when held > 0)
}

// chunk is a sealed run of chunkPoints points from index first.
type chunk struct {
	first int64
	data  []byte
}

// chunkPoints is the points of a chunk: small enough that the open chunk
// and a partly visible oldest chunk cost little, large enough that the
// first value of each column (kept whole) is amortised.
const chunkPoints = 64

// chunkHeader is the memory of a chunk besides its data.
const chunkHeader = 32

// push appends the point with index idx, filling skipped indexes with NaN
// points. An index at or before the newest is ignored. maxPoints bounds
// the points visible. It returns the number of bytes the ring grew by
// (negative when it dropped more than it added).
func (r *ring) push(idx int64, vals []float32, nm, maxPoints int) int {
	before := r.bytes()
	r.max = maxPoints
	if r.held > 0 {
		if idx <= r.last {
			return 0
		}
		gap := idx - r.last - 1
		if gap >= int64(maxPoints) {
			r.sealed, r.openN, r.held = nil, 0, 0
		} else {
			for ; gap > 0; gap-- {
				r.pushOne(r.last+1, nil, nm)
			}
		}
	}
	r.pushOne(idx, vals, nm)
	return r.bytes() - before
}

func (r *ring) pushOne(idx int64, vals []float32, nm int) {
	if r.open == nil {
		r.open = make([]float32, chunkPoints*nm)
	}
	if r.openN == 0 {
		r.openFirst = idx
	}
	dst := r.open[r.openN*nm : (r.openN+1)*nm]
	if vals == nil {
		for i := range dst {
			dst[i] = float32(math.NaN())
		}
	} else {
		copy(dst, vals)
	}
	r.openN++
	r.held++
	r.last = idx
	if r.openN == chunkPoints {
		r.sealed = append(r.sealed, chunk{first: r.openFirst, data: encodeChunk(r.open, r.openN, nm)})
		r.openN = 0
	}
	for len(r.sealed) > 0 && r.held-chunkPoints >= r.max {
		r.held -= chunkPoints
		r.sealed[0] = chunk{}
		r.sealed = r.sealed[1:]
	}
	if len(r.sealed) == 0 && r.held == 0 {
		r.sealed = nil
	}
}

// n is the number of points visible.
func (r *ring) n() int { return min(r.held, r.max) }

// first returns the index of the oldest visible point.
func (r *ring) first() int64 { return r.last - int64(r.n()) + 1 }

// each calls fn with every visible point, oldest first; v is reused.
func (r *ring) each(nm int, fn func(idx int64, v []float32)) {
	from := r.first()
	buf := make([]float32, chunkPoints*nm)
	for _, c := range r.sealed {
		if c.first+chunkPoints <= from {
			continue
		}
		decodeChunk(c.data, chunkPoints, nm, buf)
		for i := 0; i < chunkPoints; i++ {
			if idx := c.first + int64(i); idx >= from {
				fn(idx, buf[i*nm:(i+1)*nm])
			}
		}
	}
	for i := 0; i < r.openN; i++ {
		if idx := r.openFirst + int64(i); idx >= from {
			fn(idx, r.open[i*nm:(i+1)*nm])
		}
	}
}

func (r *ring) bytes() int {
	b := len(r.open)*4 + cap(r.sealed)*chunkHeader
	for _, c := range r.sealed {
		b += cap(c.data)
	}
	return b
}

// encodeChunk encodes n points of nm values column by column, each column
// the shortest of three encodings (a 1- or 2-bit flag says which): plain
// 32-bit values, for noise, so that a chunk is never larger than the
// values plus the flags; XOR, the float
// encoding of Gorilla and Prometheus' TSDB on 32-bit values, best for
// values that repeat or move a little (rates, NaN runs); and
// delta-of-delta of the values' bit patterns as integers (which order
// floats of one sign as the floats themselves), best for counters that
// grow steadily. Both are lossless.
func encodeChunk(pts []float32, n, nm int) []byte {
	var w, x, d bitWriter
	for col := 0; col < nm; col++ {
		x.reset()
		d.reset()
		encodeXOR(&x, pts, n, nm, col)
		encodeDoD(&d, pts, n, nm, col)
		switch plain := 32 * n; {
		case x.len() <= d.len() && x.len() <= plain:
			w.bit(0)
			w.append(&x)
		case d.len() <= plain:
			w.write(0b10, 2)
			w.append(&d)
		default: // noise: neither encoding helps
			w.write(0b11, 2)
			for i := 0; i < n; i++ {
				w.write(uint64(math.Float32bits(pts[i*nm+col])), 32)
			}
		}
	}
	return append([]byte(nil), w.b...)
}

// encodeXOR: the first value in 32 bits; then per value a 0 bit when it
// equals the previous one, else 1, then 0 and the changed bits within
// the previous window of leading and trailing zeros, or 1, 5 bits of
// leading zeros, 5 bits of length-1 and the changed bits.
func encodeXOR(w *bitWriter, pts []float32, n, nm, col int) {
	prev := math.Float32bits(pts[col])
	w.write(uint64(prev), 32)
	lead, trail := uint(33), uint(0) // no window yet
	for i := 1; i < n; i++ {
		v := math.Float32bits(pts[i*nm+col])
		x := v ^ prev
		prev = v
		if x == 0 {
			w.bit(0)
			continue
		}
		w.bit(1)
		l, t := uint(bits.LeadingZeros32(x)), uint(bits.TrailingZeros32(x))
		if lead <= 32 && l >= lead && t >= trail {
			w.bit(0)
			w.write(uint64(x>>trail), 32-lead-trail)
			continue
		}
		w.bit(1)
		lead, trail = l, t
		w.write(uint64(lead), 5)
		w.write(uint64(32-lead-trail-1), 5)
		w.write(uint64(x>>trail), 32-lead-trail)
	}
}

// encodeDoD: the first value in 32 bits; then per value the change of
// its delta (bit patterns as integers), zigzagged, in a prefix class: 0;
// 10 and 7 bits; 110 and 12; 1110 and 20; 1111 and 36.
func encodeDoD(w *bitWriter, pts []float32, n, nm, col int) {
	prev := int64(math.Float32bits(pts[col]))
	w.write(uint64(prev), 32)
	var delta int64
	for i := 1; i < n; i++ {
		v := int64(math.Float32bits(pts[i*nm+col]))
		nd := v - prev
		dod := nd - delta
		prev, delta = v, nd
		z := uint64(dod<<1) ^ uint64(dod>>63)
		switch {
		case z == 0:
			w.bit(0)
		case z < 1<<7:
			w.write(0b10, 2)
			w.write(z, 7)
		case z < 1<<12:
			w.write(0b110, 3)
			w.write(z, 12)
		case z < 1<<20:
			w.write(0b1110, 4)
			w.write(z, 20)
		default:
			w.write(0b1111, 4)
			w.write(z, 36)
		}
	}
}

// decodeChunk is encodeChunk's inverse, into out (n*nm values). Garbage
// decodes to garbage, never to a panic.
func decodeChunk(data []byte, n, nm int, out []float32) {
	rd := bitReader{b: data}
	for col := 0; col < nm; col++ {
		switch {
		case rd.read(1) == 0:
			decodeXOR(&rd, n, nm, col, out)
		case rd.read(1) == 0:
			decodeDoD(&rd, n, nm, col, out)
		default:
			for i := 0; i < n; i++ {
				out[i*nm+col] = math.Float32frombits(uint32(rd.read(32)))
			}
		}
	}
}

func decodeXOR(rd *bitReader, n, nm, col int, out []float32) {
	prev := uint32(rd.read(32))
	out[col] = math.Float32frombits(prev)
	var lead, trail uint
	for i := 1; i < n; i++ {
		if rd.read(1) == 1 {
			if rd.read(1) == 1 {
				lead = uint(rd.read(5))
				size := uint(rd.read(5)) + 1
				if lead+size > 32 {
					size = 32 - lead // corrupt: keep within the word
				}
				trail = 32 - lead - size
			}
			prev ^= uint32(rd.read(32-lead-trail)) << trail
		}
		out[i*nm+col] = math.Float32frombits(prev)
	}
}

func decodeDoD(rd *bitReader, n, nm, col int, out []float32) {
	prev := int64(rd.read(32))
	out[col] = math.Float32frombits(uint32(prev))
	var delta int64
	for i := 1; i < n; i++ {
		var z uint64
		switch {
		case rd.read(1) == 0:
		case rd.read(1) == 0:
			z = rd.read(7)
		case rd.read(1) == 0:
			z = rd.read(12)
		case rd.read(1) == 0:
			z = rd.read(20)
		default:
			z = rd.read(36)
		}
		dod := int64(z>>1) ^ -int64(z&1)
		delta += dod
		prev += delta
		out[i*nm+col] = math.Float32frombits(uint32(prev))
	}
}

type bitWriter struct {
	b    []byte
	used uint // bits used in the last byte (0: none, or it is full)
}

func (w *bitWriter) bit(v uint64) { w.write(v, 1) }

func (w *bitWriter) reset() { w.b, w.used = w.b[:0], 0 }

// len is the number of bits written.
func (w *bitWriter) len() int {
	if len(w.b) == 0 {
		return 0
	}
	return (len(w.b)-1)*8 + int(w.used)
}

// append writes the bits of o.
func (w *bitWriter) append(o *bitWriter) {
	r := bitReader{b: o.b}
	for left := uint(o.len()); left > 0; {
		k := min(left, 32)
		w.write(r.read(k), k)
		left -= k
	}
}

// write appends the low n bits of v, most significant first.
func (w *bitWriter) write(v uint64, n uint) {
	for n > 0 {
		if w.used == 0 || w.used == 8 {
			w.b = append(w.b, 0)
			w.used = 0
		}
		take := min(n, 8-w.used)
		chunk := byte(v>>(n-take)) & (1<<take - 1)
		w.b[len(w.b)-1] |= chunk << (8 - w.used - take)
		w.used += take
		n -= take
	}
}

type bitReader struct {
	b   []byte
	pos uint // bit position
}

// read returns the next n bits (n <= 64); past the end it reads zeros.
func (r *bitReader) read(n uint) uint64 {
	var v uint64
	for n > 0 {
		i := r.pos / 8
		if int(i) >= len(r.b) {
			v <<= n
			r.pos += n
			return v
		}
		off := r.pos % 8
		take := min(n, 8-off)
		chunk := (r.b[i] >> (8 - off - take)) & (1<<take - 1)
		v = v<<take | uint64(chunk)
		r.pos += take
		n -= take
	}
	return v
}

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
		h.raw.each(nm, func(seq int64, v []float32) {
			if t, ok := c.time(seq); ok {
				emit(t, v)
			}
		})
	} else {
		st := int64(tr.step)
		h.ds.each(nm, func(b int64, v []float32) { emit(b*st, v) })
		// the open bucket, so the coarse tier reaches the present
		if h.accSum != nil && (h.ds.n() == 0 || h.accBucket > h.ds.last) {
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
