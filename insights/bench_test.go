package insights

import (
	"runtime"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/collector"
)

// benchBatches returns one port batch per switch: switches x ports port
// series with steady traffic, at poll i.
func benchBatches(switches, ports int) []*collector.Batch {
	out := make([]*collector.Batch, switches)
	for s := range out {
		b := &collector.Batch{Kind: collector.KindPort, DPID: uint64(s + 1)}
		for p := 0; p < ports; p++ {
			b.Ports = append(b.Ports, collector.PortSample{Key: "port/" + dpidHex(uint64(s+1)) + "/" + itoa(uint64(p+1)),
				DPID: uint64(s + 1), Port: uint32(p + 1), Name: "p" + itoa(uint64(p+1)),
				Rates: collector.PortRates{RxBps: 10e6 + float64(p), TxBps: 8e6, RxPps: 1000, TxPps: 800}})
		}
		out[s] = b
	}
	return out
}

func stamp(b *collector.Batch, t int64) {
	b.Time = t
	for i := range b.Ports {
		b.Ports[i].Time = t
	}
}

// BenchmarkScorePorts: the cost of judging one port sample (6 baselines,
// 9 detectors, the link check) with 100,000 port series (1,000 switches
// x 100 ports) that have lived for more than an hour (daily profiles
// allocated). ns/op is per sample.
func BenchmarkScorePorts(b *testing.B) {
	const switches, ports = 1000, 100
	e := New(Config{Interval: 5 * time.Second}, nil, nil)
	batches := benchBatches(switches, ports)
	t := t0.UnixNano()
	// warmed up, then two hours later: baselines judged, profiles exist
	for i := 0; i < 10; i++ {
		t += int64(5 * time.Second)
		if i == 9 {
			t += int64(2 * time.Hour)
		}
		for _, bt := range batches {
			stamp(bt, t)
			e.Observe(bt)
		}
	}
	if s := e.Stats(); s.Series != switches*ports {
		b.Fatalf("series %d", s.Series)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for n < b.N {
		t += int64(5 * time.Second)
		for _, bt := range batches {
			stamp(bt, t)
			e.Observe(bt)
			n += ports
			if n >= b.N {
				break
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/sample")
	// at 5 s polls, 100,000 series cost this share of one core
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n)*100_000/5e9*100, "%core@100k/5s")
}

// BenchmarkSeriesMemory: the Go heap of 100,000 port series once their
// daily profiles exist, per series.
func BenchmarkSeriesMemory(b *testing.B) {
	const switches, ports = 1000, 100
	for i := 0; i < b.N; i++ {
		batches := benchBatches(switches, ports)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		e := New(Config{Interval: 5 * time.Second}, nil, nil)
		t := t0.UnixNano()
		for _, tt := range []int64{0, int64(2 * time.Hour)} {
			for _, bt := range batches {
				stamp(bt, t+tt)
				e.Observe(bt)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(switches*ports), "B/series")
		runtime.KeepAlive(e)
		runtime.KeepAlive(batches)
	}
}
