package exporters_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/exporters"
	"github.com/satellite-sdn/satellite/exporters/exportertest"
	"github.com/satellite-sdn/satellite/exporters/fluent"
	"github.com/satellite-sdn/satellite/exporters/influx"
	"github.com/satellite-sdn/satellite/exporters/testservers"
)

// runCollector runs the statistics collector against emulated switches
// (20 x 48 ports, polled every second) feeding sink, for as long as the
// benchmark runs; it returns a function reporting the polls completed
// and skipped so far.
func runCollector(b *testing.B, sink exporters.Sink) func() (polls, skipped, errors uint64) {
	b.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctl := controller.New(controller.Config{Logger: log, RequestTimeout: 10 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	go ctl.Serve(ctx, ln)
	const switches = 20
	for i := 1; i <= switches; i++ {
		emu := switchemu.New(switchemu.Config{DPID: uint64(i), Ports: 48})
		go emu.Dial(ctx, "tcp", ln.Addr().String())
	}
	for len(ctl.Switches()) < switches {
		time.Sleep(5 * time.Millisecond)
	}
	coll := collector.New(collector.Config{Interval: time.Second, SkipFlows: true, Logger: log}, ctl)
	go coll.Run(ctx)
	go exporters.RunCollector(ctx, coll, exporters.ControllerNames(ctl), sink)
	return func() (uint64, uint64, uint64) {
		st := coll.Stats().Kinds["port"]
		return st.Polls, st.Skipped, st.Errors
	}
}

// drive writes b.N port_stats points to e in hand-overs of 1000, like a
// collector with a big fabric, without overflowing its buffer, and waits
// until all of them are delivered; it reports points/s.
func drive(b *testing.B, e *exporters.Exporter, pollStats func() (uint64, uint64, uint64), unit string, gen func(int64) exporters.Point) {
	const per = 1000
	batch := make([]exporters.Point, per)
	var seq int64
	before := e.Status().Delivered
	p0, s0, _ := pollStats()
	b.ResetTimer()
	start := time.Now()
	for seq < int64(b.N) {
		for k := range batch {
			batch[k] = gen(seq)
			seq++
		}
		e.Write(batch)
		for e.Status().Queued > 400000 {
			time.Sleep(time.Millisecond)
		}
	}
	for e.Status().Delivered-before < uint64(seq) {
		if st := e.Status(); st.Dropped > 0 || st.Rejected > 0 {
			b.Fatalf("lost points: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(seq)/el.Seconds(), unit)
	p1, s1, errs := pollStats()
	b.ReportMetric(float64(p1-p0)/el.Seconds(), "polls/s")
	b.Logf("%d points in %s; collector meanwhile: %d port polls (%d expected at 20 switches x 1/s), %d skipped, %d errors",
		seq, el.Round(time.Millisecond), p1-p0, int(math.Round(el.Seconds()*20)), s1-s0, errs)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkExportInflux: points/s from Write to acknowledged by a real
// InfluxDB 1.8 on loopback, while the collector polls 960 emulated ports
// every second into the same exporter. Points carry 6 fields (4 integer
// counters, a rate, a sequence number); BENCH_ONE_FIELD=1 sends one.
// BENCH_BATCH (default 5000) and BENCH_PARALLEL (default 2) set the batch
// size and concurrent requests.
func BenchmarkExportInflux(b *testing.B) {
	srv := testservers.StartInflux(b, testservers.InfluxOptions{})
	srv.CreateDatabase(b, "bench")
	e, err := influx.New(influx.Config{URL: srv.URL, Bucket: "bench/autogen", Parallel: envInt("BENCH_PARALLEL", 2)}, exporters.Options{
		BufferPoints: 1 << 20, BufferBytes: -1, BatchPoints: envInt("BENCH_BATCH", 5000), FlushInterval: 10 * time.Millisecond,
		Logger: exportertest.Logger()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	polls := runCollector(b, e)
	gen := portPoint
	if os.Getenv("BENCH_ONE_FIELD") != "" {
		gen = oneField
	}
	drive(b, e, polls, "points/s", gen)
}

func portPoint(seq int64) exporters.Point { return exportertest.PortPoint(seq, 50, 48) }

// oneField is a port_stats point with only rx_bytes: InfluxDB's cost grows
// with the number of field values, so this shows the per-point overhead.
func oneField(seq int64) exporters.Point {
	p := exportertest.PortPoint(seq, 50, 48)
	p.Fields = p.Fields[:1]
	return p
}

// BenchmarkExportFluent: records/s from Write to acknowledged by a real
// Forward receiver (the OpenTelemetry Collector, debug exporter counting
// only), with the collector running as above.
func BenchmarkExportFluent(b *testing.B) {
	srv := testservers.StartFluentWith(b, testservers.FluentOptions{Verbosity: "basic"})
	e, err := fluent.New(fluent.Config{Address: srv.Addr}, exporters.Options{
		BufferPoints: 1 << 20, BufferBytes: -1, BatchPoints: envInt("BENCH_BATCH", 5000), FlushInterval: 10 * time.Millisecond,
		Logger: exportertest.Logger()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	polls := runCollector(b, e)
	drive(b, e, polls, "records/s", portPoint)
}

// BenchmarkBatchPoints: converting one collector poll of a 48-port switch
// into points.
func BenchmarkBatchPoints(b *testing.B) {
	batch := &collector.Batch{Kind: collector.KindPort, DPID: 1, Time: time.Now().UnixNano()}
	for p := uint32(1); p <= 48; p++ {
		batch.Ports = append(batch.Ports, collector.PortSample{DPID: 1, Port: p, Name: "p" + strconv.Itoa(int(p)), Time: batch.Time,
			Rates: collector.PortRates{RxBps: 1e6, TxBps: 2e6, RxPps: 100, TxPps: 200, RxUtil: math.NaN(), TxUtil: math.NaN()}})
	}
	names := func(uint64) string { return "br-int" }
	var buf []exporters.Point
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = exporters.BatchPoints(buf[:0], batch, names)
	}
	b.ReportMetric(float64(b.N*48)/b.Elapsed().Seconds(), "points/s")
}
