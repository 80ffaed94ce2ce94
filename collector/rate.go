package collector

import (
	"math"
)

// Unsupported is the value Open vSwitch reports for a counter it does not
// keep (all ones). Such a counter has no rate.
const Unsupported = ^uint64(0)

// Sanity bounds: a rate above these is not believed (a counter glitch, or
// a reset that looked like an increase) and is reported as unknown.
const (
	// MaxBitsPerSecond is 10 Tbit/s.
	MaxBitsPerSecond = 10e12
	// MaxPacketsPerSecond is 20 G packets/s.
	MaxPacketsPerSecond = 20e9
)

// deltaKind says how a counter moved between two samples.
type deltaKind uint8

const (
	deltaOK          deltaKind = iota // cur >= prev
	deltaWrap                         // the 64-bit counter passed 2^64 and started again from 0
	deltaReset                        // the counter went backwards: the switch or port restarted it
	deltaUnsupported                  // one of the two values is the all-ones "unsupported" value
)

// wrapLow and wrapHigh bound what a 64-bit wrap can look like: the counter
// was in its top quarter and is now in its bottom quarter. Anything else
// that goes backwards is a reset. (At 10 Tbit/s a byte counter takes
// about 5 months to cross a quarter of 2^64.)
const (
	wrapHigh = 3 << 62
	wrapLow  = 1 << 62
)

// counterDelta returns how much a counter grew from prev to cur.
func counterDelta(prev, cur uint64) (uint64, deltaKind) {
	switch {
	case prev == Unsupported || cur == Unsupported:
		return 0, deltaUnsupported
	case cur >= prev:
		return cur - prev, deltaOK
	case prev >= wrapHigh && cur < wrapLow:
		return cur - prev, deltaWrap // modulo 2^64
	default:
		return 0, deltaReset
	}
}

// NaN is the value of an unknown rate.
var nan = math.NaN()

// rateOf turns a delta over dt seconds into a per-second rate, scaled
// (8 for bytes to bits), or NaN when it is above max.
func rateOf(d uint64, scale, dt, max float64) (float64, bool) {
	r := float64(d) * scale / dt
	if r > max || math.IsNaN(r) || math.IsInf(r, 0) {
		return nan, false
	}
	return r, true
}

// counterSet is the previous sample of a group of counters that belong
// together (the counters of one port, or of one flow): when one of them is
// reset, all of them were.
type counterSet struct {
	ok   bool
	t    int64  // unix nanoseconds of the sample
	dur  uint64 // the switch's duration of the port or flow, nanoseconds (0 = not reported)
	vals [8]uint64
}

// rateResult counts what happened when computing rates from one sample.
type rateResult struct {
	first, reset, wrap, absurd bool
}

// rates computes per-second rates of cur against the previous sample in
// cs and makes cur the new previous sample. scales and maxes give, per
// counter, the factor (8 for bytes) and the largest believable rate;
// out receives NaN for every counter without a rate. dur is the switch's
// duration of the object in nanoseconds (0 when not reported): if it went
// backwards, the object was recreated and its counters restarted.
//
// A sample is the first (no rate) when there is no previous one. A reset
// of any counter, a duration that went backwards, or an unbelievable
// rate makes the whole sample rateless and starts again from it: a
// counter reset (port deleted and re-added, switch restarted) never
// produces a negative or absurd rate.
func (cs *counterSet) rates(t int64, dur uint64, cur []uint64, scales, maxes []float64, out []float64) rateResult {
	var res rateResult
	n := len(cur)
	for i := 0; i < n; i++ {
		out[i] = nan
	}
	prev := *cs
	cs.ok, cs.t, cs.dur = true, t, dur
	copy(cs.vals[:n], cur)
	if !prev.ok {
		res.first = true
		return res
	}
	dt := float64(t-prev.t) / 1e9
	if dt <= 0 {
		// Same or earlier timestamp: nothing to compute, keep the older base.
		*cs = prev
		return res
	}
	if prev.dur != 0 && dur != 0 && dur < prev.dur {
		res.reset = true
		return res
	}
	var deltas [8]uint64
	kinds := [8]deltaKind{}
	for i := 0; i < n; i++ {
		deltas[i], kinds[i] = counterDelta(prev.vals[i], cur[i])
		switch kinds[i] {
		case deltaReset:
			res.reset = true
		case deltaWrap:
			res.wrap = true
		}
	}
	if res.reset {
		res.wrap = false
		return res
	}
	for i := 0; i < n; i++ {
		if kinds[i] == deltaUnsupported {
			continue
		}
		r, ok := rateOf(deltas[i], scales[i], dt, maxes[i])
		if !ok {
			res.absurd = true
			for j := 0; j < n; j++ {
				out[j] = nan
			}
			return res
		}
		out[i] = r
	}
	return res
}

// durationNS converts an OpenFlow duration (seconds + nanoseconds) to
// nanoseconds; 0 means "not reported".
func durationNS(sec, nsec uint32) uint64 { return uint64(sec)*1e9 + uint64(nsec) }
