// Package queue is the bounded buffer between Satellite's producers (the
// statistics collector, the topology model, the alert engine) and one
// export destination.
//
// Push never blocks and never fails: when the buffer is full (in items or
// in bytes) the oldest items are dropped and counted. A single sender
// takes batches from the head with Peek, tries to deliver them and then
// calls Done with how much of the batch was delivered: that part leaves
// the buffer, the rest stays at the head and is offered again by the next
// Peek, so nothing is lost while the destination is down unless the buffer
// overflows.
//
// Drop accounting is exact. Items dropped while they are part of the batch
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
	head     int     // index of the oldest item in buf
	n        int     // items held
	bytes    int64   // sum of sizes held
	seqHead  uint64  // sequence number of the item at head
	maxItems int
	maxBytes int64

	// the batch in flight: sequence numbers [flightFrom, flightTo)
	inFlight   bool
	flightFrom uint64
	flightTo   uint64

	dropped  uint64 // items dropped and not delivered
	pushed   uint64
	accepted uint64 // items delivered (Done(true))

	notify chan struct{} // signalled (non-blocking) on Push
	closed bool
}

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
		q.n++
		q.bytes += int64(sz)
	}
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// dropHead removes the oldest item. q.mu is held.
func (q *Queue[T]) dropHead() {
	var zero T
	q.bytes -= int64(q.sizes[q.head])
	q.buf[q.head] = zero
	q.sizes[q.head] = 0
	if !q.inFlight || q.seqHead < q.flightFrom || q.seqHead >= q.flightTo {
		q.dropped++ // items of the batch in flight are settled by Done
	}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	q.seqHead++
}

// grow enlarges the ring (double, at most maxItems). q.mu is held.
func (q *Queue[T]) grow() {
	size := min(2*len(q.buf), q.maxItems)
	buf := make([]T, size)
	sizes := make([]int32, size)
	for k := 0; k < q.n; k++ {
		i := (q.head + k) % len(q.buf)
		buf[k] = q.buf[i]
		sizes[k] = q.sizes[i]
	}
	q.buf, q.sizes, q.head = buf, sizes, 0
}

// Peek copies up to max items (and, when maxBytes > 0, at most maxBytes
// bytes, but always at least one item) from the head into dst[:0] and marks
// them in flight. It returns an empty slice when the queue is empty. The
// caller must call Done before the next Peek.
func (q *Queue[T]) Peek(dst []T, max int, maxBytes int64) []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	dst = dst[:0]
	if q.n == 0 {
		return dst
	}
	var b int64
	for k := 0; k < q.n && len(dst) < max; k++ {
		i := (q.head + k) % len(q.buf)
		if maxBytes > 0 && len(dst) > 0 && b+int64(q.sizes[i]) > maxBytes {
			break
		}
		b += int64(q.sizes[i])
		dst = append(dst, q.buf[i])
	}
	q.inFlight = true
	q.flightFrom = q.seqHead
	q.flightTo = q.seqHead + uint64(len(dst))
	return dst
}

// Done ends the delivery of the batch returned by the last Peek:
// delivered is how many items at the start of the batch the destination
// has (len(batch) for all, 0 for none). Those leave the queue; the rest
// stays at the head for the next Peek. Items of the batch that overflow
// removed meanwhile count as dropped unless they were delivered.
func (q *Queue[T]) Done(delivered int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.inFlight {
		return
	}
	q.inFlight = false
	size := int(q.flightTo - q.flightFrom)
	delivered = max(0, min(delivered, size))
	end := q.flightFrom + uint64(delivered)
	// overflow removes from the head, so what it took of the batch is the
	// prefix [flightFrom, min(seqHead, flightTo))
	if gone := min(q.seqHead, q.flightTo); gone > end {
		q.dropped += gone - end
	}
	q.accepted += uint64(delivered)
	var zero T
	for q.n > 0 && q.seqHead < end {
		q.bytes -= int64(q.sizes[q.head])
		q.buf[q.head] = zero
		q.sizes[q.head] = 0
		q.head = (q.head + 1) % len(q.buf)
		q.n--
		q.seqHead++
	}
}

// Ready is signalled after Push (at most one pending signal).
func (q *Queue[T]) Ready() <-chan struct{} { return q.notify }

// Stats is a snapshot of a queue's counters.
type Stats struct {
	Len       int    // items held (including a batch in flight)
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
	return Stats{Len: q.n, Bytes: q.bytes, Pushed: q.pushed, Delivered: q.accepted, Dropped: q.dropped, MaxItems: q.maxItems, MaxBytes: q.maxBytes}
}

// Len returns the number of items held.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}
