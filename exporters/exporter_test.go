package exporters_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/exporters"
	"github.com/satellite-sdn/satellite/exporters/exportertest"
	"github.com/satellite-sdn/satellite/exporters/queue"
)

// flaky is a Destination that stores points in memory after a random
// delay, fails while down is set, and records how many sends overlap.
// It tests the exporter's flow control, not a protocol: the protocols are
// tested against real servers.
type flaky struct {
	mu        sync.Mutex
	got       map[int64]int // seq -> times stored
	down      atomic.Bool
	inflight  atomic.Int32
	maxFlight atomic.Int32
	// overlapWhileDown counts sends that overlapped another one while
	// the destination was failing.
	overlapWhileDown atomic.Int32
	rng              *rand.Rand
}

func (d *flaky) Kind() string                    { return "flaky" }
func (d *flaky) Target() string                  { return "memory" }
func (d *flaky) Check(ctx context.Context) error { return nil }
func (d *flaky) Close() error                    { return nil }

func (d *flaky) Send(ctx context.Context, batch []exporters.Point) error {
	n := d.inflight.Add(1)
	defer d.inflight.Add(-1)
	for {
		m := d.maxFlight.Load()
		if n <= m || d.maxFlight.CompareAndSwap(m, n) {
			break
		}
	}
	d.mu.Lock()
	delay := time.Duration(d.rng.IntN(3000)) * time.Microsecond
	d.mu.Unlock()
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	if d.down.Load() {
		if n > 1 {
			d.overlapWhileDown.Add(1)
		}
		return errors.New("connection refused")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range batch {
		for _, f := range p.Fields {
			if f.Key == "seq" {
				d.got[f.Value.IntValue()]++
			}
		}
	}
	return nil
}

// Batches in flight at once: at most Parallel, and more than one when
// points keep coming; during an outage one at a time; afterwards every
// point stored exactly once.
func TestExporterParallelWindow(t *testing.T) {
	d := &flaky{got: map[int64]int{}, rng: rand.New(rand.NewPCG(1, 2))}
	e := exporters.NewExporter(d, exporters.Options{
		Parallel: 3, BatchPoints: 50, BufferPoints: 1 << 20, FlushInterval: 5 * time.Millisecond,
		Backoff: queue.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}, Logger: exportertest.Logger()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	const total = 20000
	write := func(from, to int64) {
		for s := from; s < to; s += 100 {
			var ps []exporters.Point
			for k := s; k < min(s+100, to); k++ {
				ps = append(ps, exportertest.PortPoint(k, 4, 8))
			}
			e.Write(ps)
			time.Sleep(200 * time.Microsecond)
		}
	}
	write(0, total/2)
	d.down.Store(true)
	write(total/2, total*5/8)
	// the sends already in flight when the outage began fail together;
	// once the exporter knows, it retries one batch at a time
	overlapKnown := d.overlapWhileDown.Load()
	write(total*5/8, total*3/4)
	time.Sleep(300 * time.Millisecond) // retries while down
	overlapRetries := d.overlapWhileDown.Load() - overlapKnown
	d.down.Store(false)
	write(total*3/4, total)
	exportertest.WaitFor(t, 30*time.Second, func() bool { return e.Status().Delivered == total }, func() string {
		return fmt.Sprintf("%+v", e.Status())
	})
	if m := d.maxFlight.Load(); m < 2 || m > 3 {
		t.Errorf("at most %d sends overlapped; want 2 or 3 with Parallel 3", m)
	}
	if overlapRetries != 0 {
		t.Errorf("%d overlapping sends failed once the outage was known; want one send at a time", overlapRetries)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.got) != total {
		t.Fatalf("stored %d distinct points, want %d", len(d.got), total)
	}
	for seq, n := range d.got {
		if n != 1 {
			t.Fatalf("point %d stored %d times", seq, n)
		}
	}
	if st := e.Status(); st.Dropped != 0 || st.Queued != 0 || st.Failures == 0 {
		t.Fatalf("status %+v; want no drops, empty queue, some failures", st)
	}
}
