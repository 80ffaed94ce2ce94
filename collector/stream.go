package collector

import (
	"sync"
	"sync/atomic"
)

// Stream fans values out to subscribers without ever blocking the
// publisher: each subscriber has a bounded queue, and when it is full the
// oldest queued value is dropped to make room (a slow consumer loses old
// data, not new data), and the loss is counted. The collector publishes
// its batches of samples on a Stream[*Batch]; the alert engine its events.
type Stream[T any] struct {
	mu   sync.RWMutex
	subs map[*Sub[T]]struct{}
	n    atomic.Int32
	// weight says how many samples a value holds, for loss accounting
	// (nil: 1).
	weight func(T) int
	lost   atomic.Uint64 // samples lost by subscribers that have gone
}

// NewStream returns a stream; weight (may be nil) counts the samples in a
// value.
func NewStream[T any](weight func(T) int) *Stream[T] {
	return &Stream[T]{subs: map[*Sub[T]]struct{}{}, weight: weight}
}

// Sub is one subscription. Values arrive on C in publication order, minus
// the ones dropped.
type Sub[T any] struct {
	C       <-chan T
	ch      chan T
	s       *Stream[T]
	dropped atomic.Uint64 // samples
	once    sync.Once
}

// Subscribe returns a subscription with a queue of size values (at least 1).
func (s *Stream[T]) Subscribe(size int) *Sub[T] {
	size = max(size, 1)
	sub := &Sub[T]{ch: make(chan T, size), s: s}
	sub.C = sub.ch
	s.mu.Lock()
	s.subs[sub] = struct{}{}
	s.n.Store(int32(len(s.subs)))
	s.mu.Unlock()
	return sub
}

// Subscribers returns how many subscriptions are open.
func (s *Stream[T]) Subscribers() int { return int(s.n.Load()) }

// Lost returns the samples all subscribers, present and past, lost.
func (s *Stream[T]) Lost() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := s.lost.Load()
	for sub := range s.subs {
		n += sub.dropped.Load()
	}
	return n
}

func (s *Stream[T]) weigh(v T) uint64 {
	if s.weight == nil {
		return 1
	}
	return uint64(s.weight(v))
}

// Publish delivers v to every subscriber without blocking.
func (s *Stream[T]) Publish(v T) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for sub := range s.subs {
		select {
		case sub.ch <- v:
			continue
		default:
		}
		// Full: drop the oldest queued value, then try again.
		select {
		case old := <-sub.ch:
			sub.dropped.Add(s.weigh(old))
		default:
		}
		select {
		case sub.ch <- v:
		default:
			sub.dropped.Add(s.weigh(v))
		}
	}
}

// Dropped returns the number of samples this subscriber lost because its
// queue was full.
func (sub *Sub[T]) Dropped() uint64 { return sub.dropped.Load() }

// Close ends the subscription and closes C.
func (sub *Sub[T]) Close() {
	sub.once.Do(func() {
		s := sub.s
		s.mu.Lock()
		delete(s.subs, sub)
		s.n.Store(int32(len(s.subs)))
		s.lost.Add(sub.dropped.Load())
		close(sub.ch)
		s.mu.Unlock()
	})
}
