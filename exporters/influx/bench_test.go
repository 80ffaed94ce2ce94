package influx_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/exporters"
	"github.com/satellite-sdn/satellite/exporters/exportertest"
	"github.com/satellite-sdn/satellite/exporters/influx"
	"github.com/satellite-sdn/satellite/exporters/testservers"
)

// BenchmarkInfluxExport measures points per second from Write to
// acknowledged by a real InfluxDB 1.8 on loopback.
func BenchmarkInfluxExport(b *testing.B) {
	srv := testservers.StartInflux(b, testservers.InfluxOptions{})
	srv.CreateDatabase(b, "bench")
	batchPoints, parallel := envInt("BENCH_BATCH", 20000), envInt("BENCH_PARALLEL", 4)
	e, err := influx.New(influx.Config{URL: srv.URL, Bucket: "bench/autogen", Parallel: parallel}, exporters.Options{
		BufferPoints: 1 << 20, BufferBytes: -1, BatchPoints: batchPoints, FlushInterval: 10 * time.Millisecond, Logger: exportertest.Logger()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	const per = 1000
	batch := make([]exporters.Point, per)
	var seq int64
	b.ResetTimer()
	start := time.Now()
	for n := 0; n < b.N; n += per {
		for k := range batch {
			batch[k] = exportertest.PortPoint(seq, 50, 48)
			seq++
		}
		e.Write(batch)
		for e.Status().Queued > 500000 {
			time.Sleep(time.Millisecond)
		}
	}
	for e.Status().Delivered < uint64(seq) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(seq)/time.Since(start).Seconds(), "points/s")
	st := e.Status()
	b.Logf("%d points in %s, %d batches (attempts), %.2f s inside Send", seq, time.Since(start), st.Attempts, st.SendSeconds)
	if st.Dropped != 0 || st.Failures != 0 {
		b.Fatalf("%+v", st)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
