package collector

import (
	"math"
	"testing"
	"time"
)

func ringValues(r *ring, nm int) []float32 {
	var out []float32
	r.each(nm, func(_ int64, v []float32) { out = append(out, v[0]) })
	return out
}

func TestRingKeepsTheNewestAndFillsGaps(t *testing.T) {
	var r ring
	for i := int64(1); i <= 100; i++ {
		r.push(i, []float32{float32(i)}, 1, 40)
	}
	// 100 points pushed, 40 visible, the oldest chunks dropped
	if r.n() != 40 || r.first() != 61 || r.last != 100 || r.held > 40+chunkPoints {
		t.Fatalf("n %d first %d last %d held %d", r.n(), r.first(), r.last, r.held)
	}
	if v := ringValues(&r, 1); len(v) != 40 || v[0] != 61 || v[39] != 100 {
		t.Fatalf("values %v", v)
	}
	// a gap of two indexes becomes two NaN points
	r.push(103, []float32{103}, 1, 40)
	v := ringValues(&r, 1)
	if !math.IsNaN(float64(v[37])) || !math.IsNaN(float64(v[38])) || v[39] != 103 || r.first() != 64 {
		t.Fatalf("after gap: %v first %d", v, r.first())
	}
	// an old or repeated index is ignored
	r.push(103, []float32{99}, 1, 40)
	r.push(5, []float32{99}, 1, 40)
	if r.last != 103 || ringValues(&r, 1)[39] != 103 {
		t.Fatal("old index was stored")
	}
	// a gap longer than the ring starts it over
	r.push(1000, []float32{1000}, 1, 40)
	if r.n() != 1 || r.first() != 1000 || len(r.sealed) != 0 {
		t.Fatalf("after long gap: n %d first %d", r.n(), r.first())
	}
}

// Chunks give back exactly what went in (NaN, infinities, negative zero,
// the extremes), column by column, and compress what barely changes.
func TestRingCompression(t *testing.T) {
	const nm = 3
	var r ring
	vals := func(i int64) []float32 {
		switch i % 7 {
		case 3:
			return []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Copysign(0, -1))}
		case 5:
			return []float32{math.MaxFloat32, math.SmallestNonzeroFloat32, -1e-30}
		}
		return []float32{float32(i) * 1.5, 1000, float32(i % 3)}
	}
	for i := int64(1); i <= 200; i++ {
		r.push(i, vals(i), nm, 1000)
	}
	n := 0
	r.each(nm, func(idx int64, v []float32) {
		n++
		want := vals(idx)
		for c := range v {
			if math.Float32bits(v[c]) != math.Float32bits(want[c]) {
				t.Fatalf("point %d column %d: %v, want %v", idx, c, v[c], want[c])
			}
		}
	})
	if n != 200 {
		t.Fatalf("%d points", n)
	}
	// a quiet series: a rate of zero, a counter that stands still and
	// one that grows steadily
	var idle ring
	for i := int64(1); i <= 3600; i++ {
		idle.push(i, []float32{0, 12345, float32(1500 * i)}, nm, 3600)
	}
	plain := 3600 * nm * 4
	if b := idle.bytes(); b*4 > plain {
		t.Fatalf("an idle series takes %d bytes, plain %d: less than 4x smaller", b, plain)
	}
	t.Logf("idle series, 3600 points of %d metrics: %d bytes (plain %d, %.1fx)", nm, idle.bytes(), plain, float64(plain)/float64(idle.bytes()))
}

func FuzzChunk(f *testing.F) {
	f.Add([]byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40})
	f.Fuzz(func(t *testing.T, b []byte) {
		const nm = 2
		n := len(b) / (4 * nm)
		if n == 0 || n > chunkPoints {
			return
		}
		pts := make([]float32, n*nm)
		for i := range pts {
			pts[i] = math.Float32frombits(uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24)
		}
		out := make([]float32, n*nm)
		decodeChunk(encodeChunk(pts, n, nm), n, nm, out)
		for i := range pts {
			if math.Float32bits(out[i]) != math.Float32bits(pts[i]) {
				t.Fatalf("value %d: %x, want %x", i, math.Float32bits(out[i]), math.Float32bits(pts[i]))
			}
		}
		// garbage in: no panic
		decodeChunk(b, n, nm, out)
	})
}

func TestHistoryTiersAndQuery(t *testing.T) {
	tr := &tiers{rawPoints: 30, dsPoints: 10, step: 10 * time.Second}
	clk := newClock(tr.rawPoints)
	var h history
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	// 60 polls, one per second: value i for metric 0, 2i for metric 1;
	// poll 35 missed the series.
	for i := int64(0); i < 60; i++ {
		ts := base + i*sec
		seq := clk.tick(ts)
		if i == 35 {
			continue
		}
		h.add(tr, seq, ts, []float32{float32(i), float32(2 * i)})
	}
	raw := h.query(tr, clk, 2, ResolutionRaw, 0, math.MaxInt64, 0)
	if len(raw) != 30 || raw[0].V[0] != 30 || raw[29].V[0] != 59 || !raw[0].T.Equal(time.Unix(0, base+30*sec)) {
		t.Fatalf("raw: %d points, first %+v, last %+v", len(raw), raw[0], raw[len(raw)-1])
	}
	if !math.IsNaN(raw[5].V[0]) || !raw[5].T.Equal(time.Unix(0, base+35*sec)) {
		t.Fatalf("missed poll: %+v", raw[5])
	}
	// downsampled: buckets of 10 s; closed buckets 0..4 and the open one (5)
	ds := h.query(tr, clk, 2, ResolutionDownsampled, 0, math.MaxInt64, 0)
	if len(ds) != 6 {
		t.Fatalf("downsampled: %d points: %+v", len(ds), ds)
	}
	for b, p := range ds {
		want := float64(b*10) + 4.5
		if b == 3 {
			want = float64(30+31+32+33+34+36+37+38+39) / 9 // the missing point is left out
		}
		if math.Abs(p.V[0]-want) > 1e-4 || math.Abs(p.V[1]-2*want) > 1e-3 || !p.T.Equal(time.Unix(0, base+int64(b)*10*sec)) {
			t.Errorf("bucket %d: %+v, want %v at +%ds", b, p, want, b*10)
		}
	}
	// a time range and re-aggregation to 20 s
	sub := h.query(tr, clk, 2, ResolutionRaw, base+40*sec, base+49*sec, 0)
	if len(sub) != 10 || sub[0].V[0] != 40 {
		t.Fatalf("range: %+v", sub)
	}
	agg := h.query(tr, clk, 2, ResolutionRaw, 0, math.MaxInt64, 20*time.Second)
	// raw holds 30..59: buckets [20,40) (30..39 without 35), [40,60)
	if len(agg) != 2 || math.Abs(agg[1].V[0]-49.5) > 1e-9 {
		t.Fatalf("rebucketed: %+v", agg)
	}
	// bytes: each tier's open chunk, the raw tier's sealed chunks (60
	// points: one chunk of 32 sealed, its data less than plain floats)
	// and the accumulators 2 x 12
	if got, max := h.bytes(), 2*chunkPoints*2*4+chunkHeader+chunkPoints*2*4+2*12; got > max || got < 2*chunkPoints*2*4+2*12 {
		t.Fatalf("bytes %d, want at most %d", got, max)
	}
}

func TestClockForgets(t *testing.T) {
	c := newClock(4)
	for i := int64(1); i <= 6; i++ {
		c.tick(i * 100)
	}
	if _, ok := c.time(2); ok {
		t.Fatal("poll 2 should be forgotten")
	}
	if v, ok := c.time(3); !ok || v != 300 {
		t.Fatalf("poll 3: %d %v", v, ok)
	}
	if _, ok := c.time(7); ok {
		t.Fatal("a future poll has a time")
	}
}
