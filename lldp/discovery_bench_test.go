package lldp_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/topology"
)

// linkWatch follows the model's deltas and counts the links that are up,
// so a benchmark learns the moment (the delta's time) the count was
// reached without polling snapshots of thousands of links.
type linkWatch struct {
	sub *topology.Subscription
	up  map[topology.LinkKey]bool
}

func (f *fabric) watch() *linkWatch {
	return &linkWatch{sub: f.model.Subscribe(0, 1<<16), up: map[topology.LinkKey]bool{}}
}

// until waits until n links are up and returns when the model got there.
func (w *linkWatch) until(tb testing.TB, n int, limit time.Duration) time.Time {
	tb.Helper()
	timeout := time.After(limit)
	count := func() int {
		c := 0
		for _, up := range w.up {
			if up {
				c++
			}
		}
		return c
	}
	if count() == n {
		return time.Now()
	}
	for {
		select {
		case d, ok := <-w.sub.C:
			if !ok {
				tb.Fatalf("model subscription ended: %v", w.sub.Err())
			}
			switch {
			case d.Snapshot != nil:
				clear(w.up)
				for _, l := range d.Snapshot.Links {
					w.up[l.Key()] = l.State == topology.LinkUp
				}
			case d.Link != nil:
				w.up[d.Link.Key()] = d.Op != topology.OpRemove && d.Link.State == topology.LinkUp
			default:
				continue
			}
			if count() == n {
				return d.Time
			}
		case <-timeout:
			tb.Fatalf("%d of %d links up after %s", count(), n, limit)
		}
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkDiscoveryAttach: n emulated switches with 4 links each connect
// at once to a controller with discovery at the default settings
// (interval 1s, steady interval 3s, as `satellite serve` runs); one op is
// the time from dialling them all to the last of the 4n links in the
// model (as the model's change stream timestamps it; ms-median is the
// median over the ops). Also reported: the time from the last switch
// connecting to the last link, and the probes sent per link.
func BenchmarkDiscoveryAttach(b *testing.B) {
	for _, n := range []int{60, 200, 1000} {
		b.Run(fmt.Sprintf("switches=%d", n), func(b *testing.B) {
			var afterLast, attach []time.Duration
			var probes uint64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				f := newFabric(b, n, lldp.DiscoveryConfig{Interval: time.Second, SteadyInterval: 3 * time.Second})
				w := f.watch()
				b.StartTimer()
				start := time.Now()
				f.dial()
				done := w.until(b, 4*n, 30*time.Second)
				b.StopTimer()
				var last time.Time
				for _, s := range f.ctl.Switches() {
					if t := s.ConnectedAt(); t.After(last) {
						last = t
					}
				}
				afterLast = append(afterLast, done.Sub(last))
				attach = append(attach, done.Sub(start))
				probes += f.disc.Stats().ProbesSent
				f.close()
			}
			b.ReportMetric(float64(median(attach).Microseconds())/1000, "ms-median")
			b.ReportMetric(float64(median(afterLast).Microseconds())/1000, "ms-after-last-connect")
			b.ReportMetric(float64(probes)/float64(b.N)/float64(4*n), "probes/link")
		})
	}
}

// BenchmarkDiscoveryRestore: 60 emulated switches, all links found; one
// op is a cable coming back: both its ports come up (port-status) and
// the time until both directions are links again.
func BenchmarkDiscoveryRestore(b *testing.B) {
	const n = 60
	f := newFabric(b, n, lldp.DiscoveryConfig{Interval: time.Second, SteadyInterval: 3 * time.Second})
	w := f.watch()
	f.dial()
	w.until(b, 4*n, 30*time.Second)
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a, z := f.sws[i%n], f.sws[(i+1)%n] // port 1 of a is cabled to port 2 of z
		if err := a.SetPortDown(1, true); err != nil {
			b.Fatal(err)
		}
		if err := z.SetPortDown(2, true); err != nil {
			b.Fatal(err)
		}
		w.until(b, 4*n-2, 10*time.Second)
		b.StartTimer()
		start := time.Now()
		if err := a.SetPortDown(1, false); err != nil {
			b.Fatal(err)
		}
		if err := z.SetPortDown(2, false); err != nil {
			b.Fatal(err)
		}
		done := w.until(b, 4*n, 10*time.Second)
		b.StopTimer()
		took = append(took, done.Sub(start))
	}
	b.ReportMetric(float64(median(took).Microseconds())/1000, "ms-median")
}
