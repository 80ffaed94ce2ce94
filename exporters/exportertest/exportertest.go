// Package exportertest has helpers for the exporters' tests: a producer
// that behaves like the statistics collector (a fixed poll interval, one
// batch of port_stats points per poll, numbered so that losses and
// duplicates can be found) and waiting helpers.
package exportertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/exporters"
)

// Logger returns a logger for tests: quiet unless $SATELLITE_TEST_LOG is
// set (then debug to stderr).
func Logger() *slog.Logger {
	if os.Getenv("SATELLITE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Epoch is the time of sequence number 0 of the producer's points: a
// fixed time, so every point's timestamp is known from its number.
var Epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// PortPoint returns port_stats point number seq: switch seq%switches+1,
// port (seq/switches)%ports+1, time Epoch + seq µs, fields rx/tx counters
// (integers), rates (floats) and "seq".
func PortPoint(seq int64, switches, ports int) exporters.Point {
	sw := seq%int64(switches) + 1
	port := (seq/int64(switches))%int64(ports) + 1
	p := PortPointFields(seq, switches, ports)
	p.Tags = []exporters.Tag{
		{Key: "dpid", Value: fmt.Sprintf("%016x", sw)},
		{Key: "port", Value: strconv.FormatInt(port, 10)},
		{Key: "port_name", Value: "vm" + strconv.FormatInt(port, 10)},
		{Key: "switch", Value: "br-int"},
	}
	return p
}

// PortPointFields is PortPoint without its tags.
func PortPointFields(seq int64, switches, ports int) exporters.Point {
	return exporters.Point{
		Measurement: "port_stats",
		Fields: []exporters.Field{
			{Key: "rx_bytes", Value: exporters.Uint(uint64(seq) * 1000)},
			{Key: "rx_packets", Value: exporters.Uint(uint64(seq) * 10)},
			{Key: "tx_bytes", Value: exporters.Uint(uint64(seq) * 900)},
			{Key: "tx_packets", Value: exporters.Uint(uint64(seq) * 9)},
			{Key: "rx_bps", Value: exporters.Float(float64(seq) * 1.5)},
			{Key: "seq", Value: exporters.Int(seq)},
		},
		Time: Epoch.Add(time.Duration(seq) * time.Microsecond),
	}
}

// ProbePoints returns the tunnel_probe points of two paths from h1
// (0000000000000001) to h2 at time at, as the collector's probe samples
// convert: path 1 up and active (RTT 0.4 ms, 1 % loss), path 2 down
// (every probe lost, no RTT).
func ProbePoints(at time.Time) []exporters.Point {
	t, nan := at.UnixNano(), math.NaN()
	return exporters.ProbePoints(nil, []collector.ProbeSample{
		{Local: 1, Remote: 2, LocalName: "h1", RemoteName: "h2", Path: 1, Port: 202, Time: t, Up: true, Live: true, Active: true,
			Sent: 100, Received: 99, Loss: 0.01, RTTMinMs: 0.3, RTTAvgMs: 0.4, RTTMaxMs: 0.6, RTTP99Ms: 0.6, JitterMs: 0.05},
		{Local: 1, Remote: 2, LocalName: "h1", RemoteName: "h2", Path: 2, Port: 302, Time: t, Live: true, Sent: 100, Received: 0, Loss: 1,
			RTTMinMs: nan, RTTAvgMs: nan, RTTMaxMs: nan, RTTP99Ms: nan, JitterMs: nan},
	})
}

// SeqTime returns the time of point seq.
func SeqTime(seq int64) time.Time { return Epoch.Add(time.Duration(seq) * time.Microsecond) }

// Producer writes PerPoll numbered points to a sink every Interval, like
// the collector's poll loop, and measures how long each hand-over took
// and how late each poll started.
type Producer struct {
	Sink     exporters.Sink
	Interval time.Duration
	PerPoll  int

	mu       sync.Mutex
	next     int64
	polls    int
	maxWrite time.Duration
	writes   []time.Duration
	maxLate  time.Duration
	started  time.Time
	stopped  time.Time
	cancel   context.CancelFunc
	done     chan struct{}
}

// Start starts producing.
func (p *Producer) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.done = make(chan struct{})
	p.started = time.Now()
	go p.run(ctx)
}

func (p *Producer) run(ctx context.Context) {
	defer close(p.done)
	batch := make([]exporters.Point, p.PerPoll)
	for i := 0; ; i++ {
		due := p.started.Add(time.Duration(i) * p.Interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		} else if ctx.Err() != nil {
			return
		}
		late := time.Since(due)
		p.mu.Lock()
		for k := range batch {
			batch[k] = PortPoint(p.next, 3, 16)
			p.next++
		}
		p.mu.Unlock()
		start := time.Now()
		p.Sink.Write(batch)
		took := time.Since(start)
		p.mu.Lock()
		p.polls++
		p.writes = append(p.writes, took)
		p.maxWrite = max(p.maxWrite, took)
		p.maxLate = max(p.maxLate, late)
		p.mu.Unlock()
	}
}

// Stop stops producing and returns the number of points produced.
func (p *Producer) Stop() int64 {
	p.cancel()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = time.Now()
	return p.next
}

// Produced returns the points produced so far.
func (p *Producer) Produced() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next
}

// Timing is what the producer measured.
type Timing struct {
	Polls, ExpectedPolls int
	Interval             time.Duration
	MaxWrite, P99Write   time.Duration
	MaxLate              time.Duration
}

// Timing returns the poll timing after Stop.
func (p *Producer) Timing() Timing {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := append([]time.Duration(nil), p.writes...)
	sort.Slice(w, func(i, j int) bool { return w[i] < w[j] })
	t := Timing{Polls: p.polls, Interval: p.Interval, MaxWrite: p.maxWrite, MaxLate: p.maxLate,
		ExpectedPolls: int(p.stopped.Sub(p.started)/p.Interval) + 1}
	if len(w) > 0 {
		t.P99Write = w[len(w)*99/100]
	}
	return t
}

// Check fails t when handing points to the exporters slowed the producer
// down: Write (a mutex and a copy per exporter: microseconds) must stay
// under 5 ms at the 99th percentile and under 100 ms at worst, whatever
// the destinations do. How late polls started is logged, not checked: on
// a shared 2-core machine the scheduler alone can delay a goroutine by a
// second, and a late poll whose Write was fast was not delayed by the
// exporters.
func (tm Timing) Check(t testing.TB) {
	t.Helper()
	t.Logf("poll timing: %d polls (expected %d), Write p99 %s max %s, poll lateness max %s",
		tm.Polls, tm.ExpectedPolls, tm.P99Write, tm.MaxWrite, tm.MaxLate)
	if tm.P99Write > 5*time.Millisecond || tm.MaxWrite > 100*time.Millisecond {
		t.Errorf("Write p99 %s, max %s: exporting slows the collector down", tm.P99Write, tm.MaxWrite)
	}
	if tm.Polls < tm.ExpectedPolls-1-int(tm.MaxLate/tm.Interval) {
		t.Errorf("only %d of %d polls happened", tm.Polls, tm.ExpectedPolls)
	}
}

// WaitFor polls cond every 50 ms until it is true or timeout passes, then
// fails t with msg() describing the state.
func WaitFor(t testing.TB, timeout time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, msg())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Gaps returns the missing sequence numbers of [0, n) as ranges
// [from, to), and how many numbers appear more than once.
func Gaps(seen map[int64]int, n int64) (gaps [][2]int64, dupes int) {
	for s, c := range seen {
		if c > 1 && s < n {
			dupes += c - 1
		}
	}
	var start int64 = -1
	for s := int64(0); s < n; s++ {
		if seen[s] == 0 {
			if start < 0 {
				start = s
			}
			continue
		}
		if start >= 0 {
			gaps = append(gaps, [2]int64{start, s})
			start = -1
		}
	}
	if start >= 0 {
		gaps = append(gaps, [2]int64{start, n})
	}
	return gaps, dupes
}
