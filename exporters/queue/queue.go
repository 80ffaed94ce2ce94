// Package queue is the bounded buffer between Satellite's producers (the
// statistics collector, the topology model, the alert engine) and one
// export destination.
//
// Push never blocks and never fails: when the buffer is full (in items or
// in bytes) the oldest items are dropped and counted. Senders take batches
// with Take, try to deliver them and then Settle each batch with how much
// of it was delivered: that part leaves the buffer, the rest becomes
// pending again and is offered by a later Take, so nothing is lost while
// the destination is down unless the buffer overflows. Several batches may
// be in flight at once (a window of concurrent writes); a batch is always
// a run of consecutive pending items, and items delivered out of order
// stay in the buffer, never offered again, until the items before them
// are settled.
//
// Drop accounting is exact. Items dropped while they are part of a batch
// in flight are only counted once the outcome of that delivery is known:
// if it succeeded they were delivered and are not counted as dropped.
package queue

import (
	"sync"
)

// Queue is a bounded FIFO of T with drop-oldest overflow. The zero value
// is not usable; use New.
type Queue[T any] struct {
	mu       sync.Mutex
	buf      []T     // ring
	sizes    []int32 // byte size of each item, parallel to buf
	states   []uint8 // pending, inFlight or delivered, parallel to buf
	head     int     // index of the oldest item in buf
	n        int     // items held
	bytes    int64   // sum of sizes held
	seqHead  uint64  // sequence number of the item at head
	maxItems int
	maxBytes int64

	pending      int    // items held that are neither in flight nor delivered
	done         int    // items held that are delivered (behind undelivered ones)
	doneBytes    int64  // their bytes
	firstPending uint64 // no item before this sequence number is pending
	flights      int    // batches taken and not settled

	dropped  uint64 // items dropped and not delivered
	pushed   uint64
	accepted uint64 // items delivered (Settle)

	notify chan struct{} // signalled (non-blocking) on Push and when items become pending again
}

// Item states.
const (
	pending uint8 = iota
	inFlight
	delivered
)

// Flight is a batch taken from the queue: the sequence numbers [from, to).
// Settle it exactly once.
type Flight struct{ from, to uint64 }

// Len returns the number of items in the batch.
func (f Flight) Len() int { return int(f.to - f.from) }

// New returns a queue holding at most maxItems items and maxBytes bytes
// (maxBytes <= 0: no byte limit). maxItems must be at least 1.
func New[T any](maxItems int, maxBytes int64) *Queue[T] {
	if maxItems < 1 {
		maxItems = 1
	}
	initial := min(maxItems, 1024) // grows on demand up to maxItems
	return &Queue[T]{
		buf:      make([]T, initial),
		sizes:    make([]int32, initial),
		states:   make([]uint8, initial),
		maxItems: maxItems,
		maxBytes: maxBytes,
		notify:   make(chan struct{}, 1),
	}
}

// Push appends items; size(item) gives each item's byte size (nil: 0).
// When the queue is full the oldest items are dropped. Push never blocks
// for longer than the copy takes.
func (q *Queue[T]) Push(size func(T) int, items ...T) {
	if len(items) == 0 {
		return
	}
	q.mu.Lock()
	for _, it := range items {
		sz := 0
		if size != nil {
			sz = size(it)
		}
		q.pushed++
		if q.maxBytes > 0 && int64(sz) > q.maxBytes {
			// larger than the whole buffer: it can never be held
			q.dropped++
			continue
		}
		for q.n == q.maxItems || (q.maxBytes > 0 && q.bytes+int64(sz) > q.maxBytes) {
			q.dropHead()
		}
		if q.n == len(q.buf) {
			q.grow()
		}
		i := (q.head + q.n) % len(q.buf)
		q.buf[i] = it
		q.sizes[i] = int32(sz)
		q.states[i] = pending
		q.n++
		q.pending++
		q.bytes += int64(sz)
	}
	q.mu.Unlock()
	q.signal()
}

func (q *Queue[T]) signal() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// index returns the ring index of the held item with sequence number seq.
func (q *Queue[T]) index(seq uint64) int {
	return (q.head + int(seq-q.seqHead)) % len(q.buf)
}

// removeHead takes the oldest item out of the ring. q.mu is held.
func (q *Queue[T]) removeHead() {
	if q.states[q.head] == delivered {
		q.done--
		q.doneBytes -= int64(q.sizes[q.head])
	}
	var zero T
	q.bytes -= int64(q.sizes[q.head])
	q.buf[q.head] = zero
	q.sizes[q.head] = 0
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	q.seqHead++
}

// dropHead drops the oldest item. q.mu is held. Items of a batch in
// flight are counted by Settle, delivered ones were counted already.
func (q *Queue[T]) dropHead() {
	if q.states[q.head] == pending {
		q.dropped++
		q.pending--
	}
	q.removeHead()
}

// grow enlarges the ring (double, at most maxItems). q.mu is held.
func (q *Queue[T]) grow() {
	size := min(2*len(q.buf), q.maxItems)
	buf := make([]T, size)
	sizes := make([]int32, size)
	states := make([]uint8, size)
	for k := 0; k < q.n; k++ {
		i := (q.head + k) % len(q.buf)
		buf[k] = q.buf[i]
		sizes[k] = q.sizes[i]
		states[k] = q.states[i]
	}
	q.buf, q.sizes, q.states, q.head = buf, sizes, states, 0
}

// Take copies the oldest run of consecutive pending items, at most max
// items (and, when maxBytes > 0, at most maxBytes bytes, but always at
// least one item), into dst[:0] and marks them in flight. It returns an
// empty slice when nothing is pending. Settle the flight when its
// delivery is over.
func (q *Queue[T]) Take(dst []T, max int, maxBytes int64) ([]T, Flight) {
	q.mu.Lock()
	defer q.mu.Unlock()
	dst = dst[:0]
	if q.pending == 0 {
		return dst, Flight{}
	}
	end := q.seqHead + uint64(q.n)
	s := q.firstPending
	if s < q.seqHead {
		s = q.seqHead
	}
	for s < end && q.states[q.index(s)] != pending {
		s++
	}
	var b int64
	seq := s
	for ; seq < end && len(dst) < max; seq++ {
		i := q.index(seq)
		if q.states[i] != pending {
			break
		}
		if maxBytes > 0 && len(dst) > 0 && b+int64(q.sizes[i]) > maxBytes {
			break
		}
		b += int64(q.sizes[i])
		dst = append(dst, q.buf[i])
		q.states[i] = inFlight
	}
	q.firstPending = seq
	q.pending -= len(dst)
	if len(dst) > 0 {
		q.flights++
	}
	return dst, Flight{from: s, to: seq}
}

// Settle ends the delivery of a batch: delivered is how many items at its
// start the destination has (f.Len() for all, 0 for none). Those are
// delivered; the rest become pending again, offered by the next Take.
// Items of the batch that overflow removed meanwhile count as dropped
// unless they were delivered.
func (q *Queue[T]) Settle(f Flight, n int) {
	if f.to <= f.from {
		return
	}
	q.mu.Lock()
	n = max(0, min(n, f.Len()))
	end := f.from + uint64(n)
	returned := false
	for seq := f.from; seq < f.to; seq++ {
		if seq < q.seqHead { // removed by overflow while in flight
			if seq < end {
				q.accepted++
			} else {
				q.dropped++
			}
			continue
		}
		i := q.index(seq)
		if seq < end {
			q.states[i] = delivered
			q.done++
			q.doneBytes += int64(q.sizes[i])
			q.accepted++
		} else {
			q.states[i] = pending
			q.pending++
			returned = true
		}
	}
	if returned && max(end, q.seqHead) < q.firstPending {
		q.firstPending = max(end, q.seqHead)
	}
	for q.n > 0 && q.states[q.head] == delivered {
		q.removeHead()
	}
	q.flights--
	q.mu.Unlock()
	if returned {
		q.signal()
	}
}

// Ready is signalled after Push (at most one pending signal).
func (q *Queue[T]) Ready() <-chan struct{} { return q.notify }

// Stats is a snapshot of a queue's counters.
type Stats struct {
	Len       int    // items held and not delivered (including batches in flight)
	Pending   int    // items waiting to be taken
	Flights   int    // batches in flight
	Bytes     int64  // bytes held
	Pushed    uint64 // items ever pushed
	Delivered uint64 // items acknowledged by Done
	Dropped   uint64 // items lost to overflow
	MaxItems  int
	MaxBytes  int64
}

// Stats returns the queue's counters.
func (q *Queue[T]) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return Stats{Len: q.n - q.done, Pending: q.pending, Flights: q.flights, Bytes: q.bytes - q.doneBytes, Pushed: q.pushed, Delivered: q.accepted, Dropped: q.dropped, MaxItems: q.maxItems, MaxBytes: q.maxBytes}
}

// Pending returns the number of items waiting to be taken: held, not in
// flight and not delivered.
func (q *Queue[T]) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending
}

// Len returns the number of items held and not delivered.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n - q.done
}
