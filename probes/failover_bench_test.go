package probes_test

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/probes"
)

// BenchmarkFailover runs the lab scenario (ping every 10 ms from h1 to h3,
// cut path 1 between them, measure the longest gap, restore, wait for the
// failback) SAT_FAILOVER_RUNS times (default 20) for each way of noticing
// the cut, and reports the median and p99 gap:
//
//	probes         probes every 30 ms, BFD off
//	probes-loaded  the same under a CPU hog of 2 busy workers per core
//	bfd-100ms   BFD at 100 ms (the datapath's fast-failover group; probes off)
//	bfd-1000ms  OVS's default BFD timers (1000 ms x 3), probes off
func BenchmarkFailover(b *testing.B) {
	runs := 20
	if s := os.Getenv("SAT_FAILOVER_RUNS"); s != "" {
		runs, _ = strconv.Atoi(s)
	}
	for _, mode := range []struct {
		name  string
		bfdMS int
		probe bool
		hog   bool
	}{{"probes", 0, true, false}, {"probes-loaded", 0, true, true}, {"bfd-100ms", 100, false, false}, {"bfd-1000ms", 1000, false, false}} {
		b.Run(mode.name, func(b *testing.B) {
			// no flap damping: twenty cuts in two minutes are the point here
			cfg := probes.Config{HoldDown: time.Second, FlapLimit: 1 << 30}
			if !mode.probe {
				// a prober that never judges a path down: only the datapath moves traffic
				cfg.DownAfter, cfg.LossThreshold = 1<<30, 1.1
			}
			e := startB(b, mode.bfdMS, cfg)
			if mode.hog {
				startHog(b)
			}
			var gaps []int
			for i := 0; i < runs; i++ {
				e.waitActive(b, 1)
				sent, answered := e.pingRun(3*time.Second, func() {
					time.Sleep(800 * time.Millisecond)
					e.topo.CutPath(e.ctx, 1, 1, 3)
				})
				gap, _ := longestGap(sent, answered)
				gaps = append(gaps, gap)
				e.topo.RestorePath(e.ctx, 1, 1, 3)
				time.Sleep(time.Duration(max(mode.bfdMS*4, 1500)) * time.Millisecond) // failback and BFD up again
			}
			sort.Ints(gaps)
			med := gaps[len(gaps)/2]
			p99 := gaps[min(len(gaps)-1, (len(gaps)*99+99)/100-1)]
			b.ReportMetric(float64(med), "median-ms")
			b.ReportMetric(float64(p99), "p99-ms")
			b.Logf("%s: gaps %v ms", mode.name, gaps)
			fmt.Fprintf(os.Stderr, "%s: median %d ms, p99 %d ms over %d runs: %v\n", mode.name, med, p99, runs, gaps)
		})
	}
}
