package queue

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func one(int) int { return 10 }

func drain(t *testing.T, q *Queue[int]) []int {
	t.Helper()
	var out []int
	for {
		b, f := q.Take(nil, 7, 0)
		if len(b) == 0 {
			return out
		}
		out = append(out, b...)
		q.Settle(f, len(b))
	}
}

func TestQueueFIFOAndGrowth(t *testing.T) {
	q := New[int](5000, 0)
	for i := 0; i < 3000; i++ {
		q.Push(one, i)
	}
	got := drain(t, q)
	if len(got) != 3000 {
		t.Fatalf("got %d items, want 3000", len(got))
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("item %d is %d", i, v)
		}
	}
	st := q.Stats()
	if st.Dropped != 0 || st.Delivered != 3000 || st.Pushed != 3000 || st.Len != 0 || st.Bytes != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestQueueDropsOldestExactly(t *testing.T) {
	q := New[int](100, 0)
	for i := 0; i < 250; i++ {
		q.Push(one, i)
	}
	st := q.Stats()
	if st.Dropped != 150 || st.Len != 100 {
		t.Fatalf("dropped %d, len %d; want 150, 100", st.Dropped, st.Len)
	}
	got := drain(t, q)
	if got[0] != 150 || got[len(got)-1] != 249 || len(got) != 100 {
		t.Fatalf("kept %d..%d (%d items), want the newest 100: 150..249", got[0], got[len(got)-1], len(got))
	}
}

func TestQueueByteLimit(t *testing.T) {
	q := New[int](1000, 95) // 9 items of 10 bytes
	for i := 0; i < 20; i++ {
		q.Push(one, i)
	}
	st := q.Stats()
	if st.Len != 9 || st.Bytes != 90 || st.Dropped != 11 {
		t.Fatalf("stats %+v; want 9 items, 90 bytes, 11 dropped", st)
	}
	// an item larger than the whole buffer is dropped at once
	q.Push(func(int) int { return 1000 }, 99)
	if st := q.Stats(); st.Dropped != 12 || st.Len != 9 {
		t.Fatalf("after an oversized item: %+v", st)
	}
	// batches respect the byte bound but hold at least one item
	b, f := q.Take(nil, 100, 35)
	if len(b) != 3 {
		t.Fatalf("take with 35 bytes gave %d items, want 3", len(b))
	}
	q.Settle(f, 0)
	if b, f = q.Take(nil, 100, 5); len(b) != 1 {
		t.Fatalf("take with 5 bytes gave %d items, want 1", len(b))
	}
	q.Settle(f, 0)
}

// A failed delivery keeps the batch; overflow while it is in flight is
// counted only if the delivery then fails.
func TestQueueInFlightAccounting(t *testing.T) {
	q := New[int](10, 0)
	for i := 0; i < 10; i++ {
		q.Push(one, i)
	}
	b, f := q.Take(nil, 4, 0) // 0..3 in flight
	if len(b) != 4 {
		t.Fatal(len(b))
	}
	q.Push(one, 10, 11) // drops 0 and 1, which are in flight
	if d := q.Stats().Dropped; d != 0 {
		t.Fatalf("dropped %d before the outcome is known", d)
	}
	q.Settle(f, 4) // delivered after all: 0..3 arrived, nothing lost
	if st := q.Stats(); st.Dropped != 0 || st.Delivered != 4 || st.Len != 8 {
		t.Fatalf("after success: %+v", st)
	}
	b, f = q.Take(b, 4, 0) // 4..7
	if b[0] != 4 {
		t.Fatalf("head %d, want 4", b[0])
	}
	q.Push(one, 12, 13, 14, 15, 16) // fills the 2 free slots, then drops 4, 5, 6 (in flight)
	q.Settle(f, 1)                  // only 4 delivered: 5 and 6 are lost
	if st := q.Stats(); st.Dropped != 2 || st.Delivered != 5 {
		t.Fatalf("after partial delivery: %+v", st)
	}
	b, f = q.Take(b, 100, 0)
	if b[0] != 7 || len(b) != 10 {
		t.Fatalf("after partial delivery the head is %d (%d items), want 7 (10 items)", b[0], len(b))
	}
	q.Settle(f, 0)
	if st := q.Stats(); st.Dropped != 2 || st.Len != 10 {
		t.Fatalf("after failure: %+v", st)
	}
}

// Push from many goroutines while one consumer delivers and sometimes
// fails: every item is delivered or counted as dropped, exactly once.
func TestQueueConcurrentConservation(t *testing.T) {
	q := New[int](500, 0)
	const producers, per = 4, 20000
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				q.Push(nil, i)
			}
		}()
	}
	done := make(chan struct{})
	delivered := 0
	go func() {
		defer close(done)
		k := 0
		for {
			b, f := q.Take(nil, 64, 0)
			if len(b) == 0 {
				select {
				case <-q.Ready():
					continue
				case <-time.After(200 * time.Millisecond):
					return
				}
			}
			k++
			n := len(b)
			switch k % 3 {
			case 1:
				n = 0
			case 2:
				n = len(b) / 2
			}
			delivered += n
			q.Settle(f, n)
		}
	}()
	wg.Wait()
	<-done
	st := q.Stats()
	if uint64(delivered) != st.Delivered || st.Delivered+st.Dropped+uint64(st.Len) != producers*per {
		t.Fatalf("delivered %d (counted %d) + dropped %d + queued %d != pushed %d", delivered, st.Delivered, st.Dropped, st.Len, producers*per)
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	prev := time.Duration(0)
	for i := 0; i < 10; i++ {
		d := b.Next()
		if d > time.Second || d < 80*time.Millisecond {
			t.Fatalf("delay %d = %s out of range", i, d)
		}
		if i < 3 && d < prev {
			t.Fatalf("delay %d = %s shrank from %s", i, d, prev)
		}
		prev = d
	}
	b.Reset()
	if d := b.Next(); d > 100*time.Millisecond {
		t.Fatalf("after Reset: %s", d)
	}
}

func BenchmarkPush(b *testing.B) {
	q := New[[4]int](100000, 0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		q.Push(nil, [4]int{i})
	}
}

// Two batches in flight: the later one delivered, the earlier one failed.
// The failed one is offered again, the delivered one never is, and both
// leave the queue only when the earlier one is delivered.
func TestQueueOutOfOrderSettle(t *testing.T) {
	q := New[int](100, 0)
	for i := 0; i < 10; i++ {
		q.Push(one, i)
	}
	a, fa := q.Take(nil, 4, 0) // 0..3
	b, fb := q.Take(nil, 4, 0) // 4..7
	if a[0] != 0 || b[0] != 4 || len(b) != 4 {
		t.Fatalf("batches %v %v", a, b)
	}
	if st := q.Stats(); st.Pending != 2 || st.Flights != 2 {
		t.Fatalf("two in flight: %+v", st)
	}
	q.Settle(fb, 4)
	q.Settle(fa, 1) // 0 delivered, 1..3 back to pending
	if st := q.Stats(); st.Len != 5 || st.Bytes != 50 || st.Pending != 5 || st.Delivered != 5 || st.Flights != 0 {
		t.Fatalf("after out-of-order settle: %+v", st)
	}
	c, fc := q.Take(nil, 100, 0)
	if len(c) != 3 || c[0] != 1 || c[2] != 3 {
		t.Fatalf("retry batch %v, want [1 2 3] (a run stops at delivered items)", c)
	}
	d, fd := q.Take(nil, 100, 0)
	if len(d) != 2 || d[0] != 8 {
		t.Fatalf("next batch %v, want [8 9]", d)
	}
	q.Settle(fc, 3)
	if st := q.Stats(); st.Len != 2 || st.Bytes != 20 {
		t.Fatalf("after the retry: %+v; want only 8 and 9 held", st)
	}
	q.Settle(fd, 2)
	if st := q.Stats(); st.Len != 0 || st.Delivered != 10 || st.Dropped != 0 || st.Pending != 0 {
		t.Fatalf("at the end: %+v", st)
	}
}

// A model check: random pushes, takes (up to 4 batches in flight),
// settles in random order with random delivered counts, and overflow.
// Every item is offered only while not delivered, delivered at most once,
// and in the end delivered or dropped exactly once.
func TestQueueWindowModel(t *testing.T) {
	for seed := int64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		q := New[int](rng.IntN(40)+1, 0)
		type flight struct {
			items []int
			f     Flight
		}
		var flights []flight
		deliveredAt := map[int]bool{}
		next := 0
		for step := 0; step < 400; step++ {
			switch op := rng.IntN(3); {
			case op == 0:
				k := rng.IntN(6)
				for j := 0; j < k; j++ {
					q.Push(nil, next)
					next++
				}
			case op == 1 && len(flights) < 4:
				b, f := q.Take(nil, rng.IntN(8)+1, 0)
				if len(b) != f.Len() {
					t.Fatalf("seed %d: batch of %d, flight of %d", seed, len(b), f.Len())
				}
				for j, v := range b {
					if deliveredAt[v] {
						t.Fatalf("seed %d: item %d offered after it was delivered", seed, v)
					}
					if j > 0 && v != b[j-1]+1 {
						t.Fatalf("seed %d: batch %v is not a run", seed, b)
					}
					for _, o := range flights {
						for _, w := range o.items {
							if w == v {
								t.Fatalf("seed %d: item %d in two flights", seed, v)
							}
						}
					}
				}
				if len(b) > 0 {
					flights = append(flights, flight{append([]int(nil), b...), f})
				}
			case op == 2 && len(flights) > 0:
				k := rng.IntN(len(flights))
				fl := flights[k]
				flights = append(flights[:k], flights[k+1:]...)
				n := rng.IntN(len(fl.items) + 1)
				for _, v := range fl.items[:n] {
					deliveredAt[v] = true
				}
				q.Settle(fl.f, n)
			}
		}
		for _, fl := range flights {
			q.Settle(fl.f, 0)
		}
		rest := 0
		var left []Flight
		for {
			b, f := q.Take(nil, 1000, 0)
			if len(b) == 0 {
				break
			}
			rest += len(b)
			for _, v := range b {
				if deliveredAt[v] {
					t.Fatalf("seed %d: delivered item %d still queued", seed, v)
				}
			}
			left = append(left, f)
		}
		for _, f := range left {
			q.Settle(f, 0)
		}
		st := q.Stats()
		if st.Delivered != uint64(len(deliveredAt)) || st.Delivered+st.Dropped+uint64(st.Len) != uint64(next) ||
			st.Len != rest || st.Pending != rest || st.Flights != 0 {
			t.Fatalf("seed %d: pushed %d, delivered %d (model %d), dropped %d, held %d (pending %d, offered %d)",
				seed, next, st.Delivered, len(deliveredAt), st.Dropped, st.Len, st.Pending, rest)
		}
	}
}

// Several senders at once, like an exporter with parallel writes.
func TestQueueConcurrentSenders(t *testing.T) {
	q := New[int](300, 0)
	const pushed = 50000
	go func() {
		for i := 0; i < pushed; i++ {
			q.Push(nil, i)
		}
	}()
	var mu sync.Mutex
	seen := map[int]bool{}
	var wg sync.WaitGroup
	for s := 0; s < 3; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idle := 0
			for k := 0; idle < 50; k++ {
				b, f := q.Take(nil, 32, 0)
				if len(b) == 0 {
					idle++
					time.Sleep(time.Millisecond)
					continue
				}
				idle = 0
				n := len(b)
				if k%4 == 1 {
					n = len(b) / 3
				}
				mu.Lock()
				for _, v := range b[:n] {
					if seen[v] {
						t.Errorf("item %d delivered twice", v)
					}
					seen[v] = true
				}
				mu.Unlock()
				q.Settle(f, n)
			}
		}()
	}
	wg.Wait()
	st := q.Stats()
	if st.Delivered != uint64(len(seen)) || st.Delivered+st.Dropped+uint64(st.Len) != pushed || st.Flights != 0 {
		t.Fatalf("delivered %d (seen %d) + dropped %d + held %d != %d", st.Delivered, len(seen), st.Dropped, st.Len, pushed)
	}
}
