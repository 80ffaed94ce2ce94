package collector

import (
	"math"
	"testing"
)

func TestCounterDelta(t *testing.T) {
	const max = ^uint64(0)
	for _, tc := range []struct {
		name      string
		prev, cur uint64
		d         uint64
		k         deltaKind
	}{
		{"increase", 100, 250, 150, deltaOK},
		{"unchanged", 7, 7, 0, deltaOK},
		{"wrap just past 2^64", max - 9, 5, 15, deltaWrap},
		{"wrap from the top quarter", 3<<62 + 10, 20, 1<<62 - 10 + 20, deltaWrap},
		{"reset to zero", 5000, 0, 0, deltaReset},
		{"reset to a smaller value", 5000, 100, 0, deltaReset},
		{"backwards in the middle of the range is a reset, not a wrap", 1 << 63, 1 << 61, 0, deltaReset},
		{"from the top quarter to the middle is a reset", max - 10, 1 << 63, 0, deltaReset},
		{"unsupported now", 100, max, 0, deltaUnsupported},
		{"unsupported before", max, 100, 0, deltaUnsupported},
	} {
		d, k := counterDelta(tc.prev, tc.cur)
		if d != tc.d || k != tc.k {
			t.Errorf("%s: counterDelta(%d, %d) = %d, %d; want %d, %d", tc.name, tc.prev, tc.cur, d, k, tc.d, tc.k)
		}
	}
}

const sec = int64(1e9)

// step feeds one sample of (bytes, packets) to cs and returns the rates.
func step(cs *counterSet, t int64, dur uint64, bytes, pkts uint64) ([2]float64, rateResult) {
	var out [2]float64
	r := cs.rates(t, dur, []uint64{bytes, pkts}, flowScales, flowMaxes, out[:])
	return out, r
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestRates(t *testing.T) {
	var cs counterSet
	out, r := step(&cs, 10*sec, 0, 1000, 10)
	if !r.first || !math.IsNaN(out[0]) || !math.IsNaN(out[1]) {
		t.Fatalf("first sample: %v %+v, want NaN and first", out, r)
	}
	out, r = step(&cs, 15*sec, 0, 1000+5*125_000, 10+5*100)
	if !near(out[0], 1e6) || !near(out[1], 100) || r != (rateResult{}) {
		t.Fatalf("steady: %v %+v, want 1 Mbit/s, 100 pps", out, r)
	}

	// A missed poll: the next sample spans 10 s and the rate is still right.
	out, _ = step(&cs, 25*sec, 0, 1000+15*125_000, 10+15*100)
	if !near(out[0], 1e6) || !near(out[1], 100) {
		t.Fatalf("after a missing sample: %v, want 1 Mbit/s, 100 pps", out)
	}

	// Reset (port deleted and re-added, switch restarted): no rate, and
	// the next sample is measured from the reset value.
	out, r = step(&cs, 30*sec, 0, 500, 5)
	if !r.reset || !math.IsNaN(out[0]) || !math.IsNaN(out[1]) {
		t.Fatalf("reset: %v %+v, want NaN and reset", out, r)
	}
	out, _ = step(&cs, 35*sec, 0, 500+5*250_000, 5+5*10)
	if !near(out[0], 2e6) || !near(out[1], 10) {
		t.Fatalf("after reset: %v, want 2 Mbit/s, 10 pps", out)
	}

	// One counter reset and the other not (packets still higher): the
	// whole set is reset, never a negative rate.
	out, r = step(&cs, 40*sec, 0, 100, 1_000_000)
	if !r.reset || !math.IsNaN(out[0]) || !math.IsNaN(out[1]) {
		t.Fatalf("partial reset: %v %+v", out, r)
	}
}

func TestRatesWrap(t *testing.T) {
	var cs counterSet
	const max = ^uint64(0)
	step(&cs, 0, 0, max-999, max-9) // 1000 bytes and 10 packets before 2^64
	out, r := step(&cs, sec, 0, 24_000, 90)
	if !r.wrap || r.reset || !near(out[0], 25_000*8) || !near(out[1], 100) {
		t.Fatalf("wrap: %v %+v, want 200 kbit/s, 100 pps, wrap", out, r)
	}
}

func TestRatesUnsupported(t *testing.T) {
	var cs counterSet
	var out [8]float64
	cur := []uint64{0, 0, 0, 0, Unsupported, Unsupported, 0, 0}
	cs.rates(0, 0, cur, portScales, portMaxes, out[:])
	cur = []uint64{125_000, 250_000, 100, 200, Unsupported, Unsupported, 3, 0}
	r := cs.rates(sec, 0, cur, portScales, portMaxes, out[:])
	if r != (rateResult{}) {
		t.Fatalf("result %+v", r)
	}
	want := []float64{1e6, 2e6, 100, 200, math.NaN(), math.NaN(), 3, 0}
	for i := range want {
		if math.IsNaN(want[i]) != math.IsNaN(out[i]) || (!math.IsNaN(want[i]) && !near(out[i], want[i])) {
			t.Errorf("metric %s = %v, want %v", PortMetrics[i], out[i], want[i])
		}
	}
	// A counter that becomes supported starts without a rate, the others
	// keep theirs.
	cur = []uint64{250_000, 500_000, 200, 400, 7, Unsupported, 3, 0}
	cs.rates(2*sec, 0, cur, portScales, portMaxes, out[:])
	if !math.IsNaN(out[4]) || !near(out[0], 1e6) {
		t.Fatalf("drops became supported: %v", out)
	}
}

func TestRatesDurationGoesBack(t *testing.T) {
	// A flow deleted and re-added between polls with counters that
	// happen to be higher: the switch's duration gives it away.
	var cs counterSet
	step(&cs, 0, 100*uint64(sec), 1000, 10)
	out, r := step(&cs, 5*sec, uint64(2*sec), 9000, 90)
	if !r.reset || !math.IsNaN(out[0]) {
		t.Fatalf("duration went back: %v %+v, want a reset", out, r)
	}
	out, r = step(&cs, 10*sec, uint64(7*sec), 9000+5*1000, 90)
	if r.reset || !near(out[0], 8000) || !near(out[1], 0) {
		t.Fatalf("after: %v %+v", out, r)
	}
}

func TestRatesAbsurd(t *testing.T) {
	// A reset that looks like an increase of 2^60 bytes in one second.
	var cs counterSet
	step(&cs, 0, 0, 10, 10)
	out, r := step(&cs, sec, 0, 1<<60, 20)
	if !r.absurd || !math.IsNaN(out[0]) || !math.IsNaN(out[1]) {
		t.Fatalf("absurd: %v %+v, want NaN", out, r)
	}
	out, _ = step(&cs, 2*sec, 0, 1<<60+125, 30)
	if !near(out[0], 1000) || !near(out[1], 10) {
		t.Fatalf("after absurd: %v", out)
	}
}

func TestRatesSameTime(t *testing.T) {
	var cs counterSet
	step(&cs, 5*sec, 0, 100, 1)
	out, r := step(&cs, 5*sec, 0, 200, 2)
	if !math.IsNaN(out[0]) || r.reset || r.absurd {
		t.Fatalf("same timestamp: %v %+v", out, r)
	}
	out, _ = step(&cs, 6*sec, 0, 300, 3)
	if !near(out[0], 1600) {
		t.Fatalf("the older base must be kept: %v", out)
	}
}
