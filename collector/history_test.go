package collector

import (
	"math"
	"testing"
	"time"
)

func ringValues(r *ring, nm int) []float32 {
	var out []float32
	for i := 0; i < r.n; i++ {
		out = append(out, r.at(i, nm)[0])
	}
	return out
}

func TestRingGrowsWrapsAndFillsGaps(t *testing.T) {
	var r ring
	grown := 0
	for i := int64(1); i <= 20; i++ {
		grown += r.push(i, []float32{float32(i)}, 1, 12)
	}
	// capacity 8, then 12 (the maximum); 20 points pushed, 12 kept
	if len(r.v) != 12 || grown != 12*4 || r.n != 12 || r.first() != 9 || r.last != 20 {
		t.Fatalf("len %d grown %d n %d first %d last %d", len(r.v), grown, r.n, r.first(), r.last)
	}
	if v := ringValues(&r, 1); v[0] != 9 || v[11] != 20 {
		t.Fatalf("values %v", v)
	}
	// a gap of two indexes becomes two NaN points
	r.push(23, []float32{23}, 1, 12)
	v := ringValues(&r, 1)
	if !math.IsNaN(float64(v[9])) || !math.IsNaN(float64(v[10])) || v[11] != 23 || r.first() != 12 {
		t.Fatalf("after gap: %v first %d", v, r.first())
	}
	// an old or repeated index is ignored
	r.push(23, []float32{99}, 1, 12)
	r.push(5, []float32{99}, 1, 12)
	if r.last != 23 || ringValues(&r, 1)[11] != 23 {
		t.Fatal("old index was stored")
	}
	// a gap longer than the ring starts it over
	r.push(100, []float32{100}, 1, 12)
	if r.n != 1 || r.first() != 100 {
		t.Fatalf("after long gap: n %d first %d", r.n, r.first())
	}
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
	// bytes: raw grew to 30 points of 2 metrics; downsampled to 8 (ring
	// minimum), accumulators 2 x 12
	if got, want := h.bytes(), 30*2*4+8*2*4+2*12; got != want {
		t.Fatalf("bytes %d, want %d", got, want)
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
