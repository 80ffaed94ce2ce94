package queue

import (
	"sync"
	"testing"
	"time"
)

func one(int) int { return 10 }

func drain(t *testing.T, q *Queue[int]) []int {
	t.Helper()
	var out []int
	for {
		b := q.Peek(nil, 7, 0)
		if len(b) == 0 {
			return out
		}
		out = append(out, b...)
		q.Done(len(b))
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
	if b := q.Peek(nil, 100, 35); len(b) != 3 {
		t.Fatalf("peek with 35 bytes gave %d items, want 3", len(b))
	}
	q.Done(0)
	if b := q.Peek(nil, 100, 5); len(b) != 1 {
		t.Fatalf("peek with 5 bytes gave %d items, want 1", len(b))
	}
	q.Done(0)
}

// A failed delivery keeps the batch; overflow while it is in flight is
// counted only if the delivery then fails.
func TestQueueInFlightAccounting(t *testing.T) {
	q := New[int](10, 0)
	for i := 0; i < 10; i++ {
		q.Push(one, i)
	}
	b := q.Peek(nil, 4, 0) // 0..3 in flight
	if len(b) != 4 {
		t.Fatal(len(b))
	}
	q.Push(one, 10, 11) // drops 0 and 1, which are in flight
	if d := q.Stats().Dropped; d != 0 {
		t.Fatalf("dropped %d before the outcome is known", d)
	}
	q.Done(4) // delivered after all: 0..3 arrived, nothing lost
	if st := q.Stats(); st.Dropped != 0 || st.Delivered != 4 || st.Len != 8 {
		t.Fatalf("after success: %+v", st)
	}
	b = q.Peek(b, 4, 0) // 4..7
	if b[0] != 4 {
		t.Fatalf("head %d, want 4", b[0])
	}
	q.Push(one, 12, 13, 14, 15, 16) // fills the 2 free slots, then drops 4, 5, 6 (in flight)
	q.Done(1)                       // only 4 delivered: 5 and 6 are lost
	if st := q.Stats(); st.Dropped != 2 || st.Delivered != 5 {
		t.Fatalf("after partial delivery: %+v", st)
	}
	b = q.Peek(b, 100, 0)
	if b[0] != 7 || len(b) != 10 {
		t.Fatalf("after partial delivery the head is %d (%d items), want 7 (10 items)", b[0], len(b))
	}
	q.Done(0)
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
			b := q.Peek(nil, 64, 0)
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
			q.Done(n)
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
