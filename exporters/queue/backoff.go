package queue

import (
	"math/rand/v2"
	"time"
)

// Backoff computes retry delays: Initial, doubled after every failure up to
// Max, with up to 20 % random jitter subtracted so that several exporters
// do not retry in lock step. Reset after a success.
type Backoff struct {
	Initial time.Duration // first delay (default 100ms)
	Max     time.Duration // upper bound (default 10s)

	next time.Duration
}

// Next returns the delay before the next attempt and doubles the one after.
func (b *Backoff) Next() time.Duration {
	if b.Initial <= 0 {
		b.Initial = 100 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 10 * time.Second
	}
	if b.next < b.Initial {
		b.next = b.Initial
	}
	d := b.next
	b.next = min(2*b.next, b.Max)
	if j := int64(d) / 5; j > 0 {
		d -= time.Duration(rand.Int64N(j))
	}
	return d
}

// Reset starts over at Initial.
func (b *Backoff) Reset() { b.next = 0 }
