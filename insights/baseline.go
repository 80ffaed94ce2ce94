package insights

import (
	"math"
	"time"
)

// baseline is what one metric of one series normally is: an exponentially
// weighted moving average of its level and of its absolute deviation from
// that level. 12 bytes; it never allocates.
type baseline struct {
	level float32
	dev   float32
	n     uint32 // values learnt (saturates)
}

// alpha is the weight of a new value taken dt after the previous one, for
// a baseline with the given half-life: after one half-life a step change
// is half learnt, whatever the sampling interval.
func alpha(dt, halfLife time.Duration) float64 {
	if halfLife <= 0 {
		return 1
	}
	if dt <= 0 {
		return 0 // a series' first value: no time has passed
	}
	return 1 - math.Exp2(-float64(dt)/float64(halfLife))
}

// warmLearn is how many values a baseline averages plainly before it
// becomes an EWMA.
const warmLearn = 8

// learn folds x into the baseline with weight a.
func (b *baseline) learn(x, a float64) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return
	}
	if b.n == 0 {
		b.level, b.dev, b.n = float32(x), 0, 1
		return
	}
	// warming up: the running mean, so that the first value (often a
	// partial interval) does not weigh more than the next ones
	if b.n < warmLearn {
		a = max(a, 1/float64(b.n+1))
	}
	l := float64(b.level)
	d := math.Abs(x - l)
	b.level = float32(l + a*(x-l))
	b.dev = float32(float64(b.dev) + a*(d-float64(b.dev)))
	if b.n < math.MaxUint32 {
		b.n++
	}
}

// profile is the daily shape of a traffic metric: the mean level of each
// hour of the day (UTC), learnt across days. It is allocated once a
// series has lived for an hour (short-lived series do not pay for it),
// consulted once it has lived for a day, and vetoes changes that happen
// every day at that hour (the nightly backup's rise, the evening's
// drop). 24 x 4 + 24 bytes.
type profile struct {
	hour   [24]float32 // mean level of each hour; NaN until the hour was seen whole
	sum    float64     // the current hour's values
	count  uint32
	cur    int8 // the current hour, -1 before the first value
	filled uint8
}

func newProfile() *profile {
	p := &profile{cur: -1}
	for i := range p.hour {
		p.hour[i] = float32(math.NaN())
	}
	return p
}

// add folds x, taken at t (unix nanoseconds), into the hour it belongs to;
// an hour that ends is folded into its bucket (half weight for the older
// days).
func (p *profile) add(x float64, t int64) {
	if math.IsNaN(x) {
		return
	}
	h := int8(time.Unix(0, t).UTC().Hour())
	if h != p.cur {
		if p.cur >= 0 && p.count > 0 {
			m := float32(p.sum / float64(p.count))
			if old := p.hour[p.cur]; math.IsNaN(float64(old)) {
				p.hour[p.cur] = m
				p.filled++
			} else {
				p.hour[p.cur] = (old + m) / 2
			}
		}
		p.cur, p.sum, p.count = h, 0, 0
	}
	p.sum += x
	p.count++
}

// usual reports whether x is what this hour of the day usually carries
// (within a factor of 2 either way, or both below floor). Without a
// learnt bucket for the hour it knows nothing and says no.
func (p *profile) usual(x, floor float64, t int64) bool {
	if p == nil {
		return false
	}
	e := float64(p.hour[time.Unix(0, t).UTC().Hour()])
	if math.IsNaN(e) {
		return false
	}
	if x < floor && e < floor {
		return true
	}
	return x >= e/2 && x <= e*2
}

// level is a traffic metric: a baseline and, once the series is a day
// old, a daily profile.
type level struct {
	b baseline
	p *profile
}

// profileAfter is the age at which a series gets a daily profile, and
// profileUsed the age from which it is consulted.
const (
	profileAfter = time.Hour
	profileUsed  = 24 * time.Hour
)

// learn folds x into the baseline (weight a) and the profile (age is how
// long the series has been seen).
//
// A level that was idle (below floor) and is now busy starts again: a new
// workload is learnt from its own values, not judged against idleness.
func (l *level) learn(x, a, floor float64, t int64, age time.Duration) {
	if l.b.n > 0 && float64(l.b.level) < floor && x >= floor {
		l.b = baseline{}
	}
	l.b.learn(x, a)
	if l.p == nil && age >= profileAfter {
		l.p = newProfile()
	}
	if l.p != nil {
		l.p.add(x, t)
	}
}

// usual reports whether the daily profile says x is normal at t.
func (l *level) usual(x, floor float64, t int64, age time.Duration) bool {
	return age >= profileUsed && l.p.usual(x, floor, t)
}
