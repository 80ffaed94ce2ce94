package exporters_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
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
//
// It also reports the CPU time per point of the server (serverPid's) and
// of this process (the exporter, the collector, the emulated switches and
// the generator): unlike the rate, those hardly depend on what else the
// shared machine runs, and their sum bounds the rate two dedicated cores
// could sustain.
func drive(b *testing.B, e *exporters.Exporter, pollStats func() (uint64, uint64, uint64), unit string, gen func(int64) exporters.Point, serverPid int) {
	const per = 1000
	batch := make([]exporters.Point, per)
	var seq int64
	before := e.Status().Delivered
	p0, s0, _ := pollStats()
	b.ResetTimer()
	start := time.Now()
	srv0, self0 := procCPU(serverPid), selfCPU()
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
	srvCPU, ownCPU := procCPU(serverPid)-srv0, selfCPU()-self0
	b.StopTimer()
	b.ReportMetric(float64(seq)/el.Seconds(), unit)
	if serverPid > 0 {
		b.ReportMetric(float64(srvCPU.Microseconds())/float64(seq), "server-cpu-µs/pt")
	}
	b.ReportMetric(float64(ownCPU.Microseconds())/float64(seq), "self-cpu-µs/pt")
	p1, s1, errs := pollStats()
	b.ReportMetric(float64(p1-p0)/el.Seconds(), "polls/s")
	b.Logf("%d points in %s; collector meanwhile: %d port polls (%d expected at 20 switches x 1/s), %d skipped, %d errors",
		seq, el.Round(time.Millisecond), p1-p0, int(math.Round(el.Seconds()*20)), s1-s0, errs)
}

// procCPU returns the user+system CPU time of process pid so far (0 if
// unknown).
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// the fields after the command name, which is in parentheses
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// selfCPU returns this process's user+system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
// counters, a rate, a sequence number); BENCH_ONE_FIELD=1 sends one;
// BENCH_REAL=1 sends the collector's own port_stats points (18 fields).
// BENCH_INFLUX2=1 writes to InfluxDB 2.7 (org, bucket, token) instead.
// BENCH_BATCH (default 5000) and BENCH_PARALLEL (default 2) set the batch
// size and concurrent requests.
func BenchmarkExportInflux(b *testing.B) {
	cfg := influx.Config{Parallel: envInt("BENCH_PARALLEL", 2)}
	var pid int
	if os.Getenv("BENCH_INFLUX2") != "" {
		srv := testservers.StartInflux2(b, testservers.Influx2Options{})
		cfg.URL, cfg.Org, cfg.Bucket, cfg.Token, pid = srv.URL, srv.Org, srv.Bucket, srv.Token, srv.Pid()
	} else {
		srv := testservers.StartInflux(b, testservers.InfluxOptions{})
		srv.CreateDatabase(b, "bench")
		cfg.URL, cfg.Bucket, pid = srv.URL, "bench/autogen", srv.Pid()
	}
	e, err := influx.New(cfg, exporters.Options{
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
	if os.Getenv("BENCH_REAL") != "" {
		gen = realPortPoint
	}
	drive(b, e, polls, "points/s", gen, pid)
}

// portPoint is exportertest.PortPoint(seq, 50, 48) with the tags of each
// port made once, as the collector does (its names are cached), so the
// benchmark measures the export rather than formatting in the generator.
func portPoint(seq int64) exporters.Point {
	p := exportertest.PortPointFields(seq, 50, 48)
	p.Tags = benchTags[seq%int64(len(benchTags))]
	return p
}

// realPortPoint is a port_stats point as the collector makes it (18
// fields: 8 counters, 10 rates), one of 50 switches x 48 ports, at time
// Epoch + seq µs.
func realPortPoint(seq int64) exporters.Point {
	p := realPoints[seq%int64(len(realPoints))]
	p.Time = exportertest.SeqTime(seq)
	return p
}

var realPoints = func() []exporters.Point {
	var out []exporters.Point
	for sw := uint64(1); sw <= 50; sw++ {
		b := &collector.Batch{Kind: collector.KindPort, DPID: sw}
		for p := uint32(1); p <= 48; p++ {
			n := uint64(sw)*1e9 + uint64(p)*1e6
			b.Ports = append(b.Ports, collector.PortSample{DPID: sw, Port: p, Name: "vm" + strconv.Itoa(int(p)),
				Counters: ofwire.PortStats{RxBytes: n, TxBytes: 2 * n, RxPackets: n / 1000, TxPackets: n / 900, RxDropped: 3, TxDropped: 1, RxErrors: 0, TxErrors: 2},
				Rates:    collector.PortRates{RxBps: 1.5e6, TxBps: 2.5e6, RxPps: 1200, TxPps: 1900, RxDrops: 0.1, TxDrops: 0, RxErrors: 0, TxErrors: 0.2, RxUtil: 1.5, TxUtil: 2.5}})
		}
		out = exporters.BatchPoints(out, b, func(uint64) string { return "br-int" })
	}
	if len(out[0].Fields) != 18 {
		panic(fmt.Sprintf("a collector port_stats point has %d fields, want 18", len(out[0].Fields)))
	}
	return out
}()

var benchTags = func() [][]exporters.Tag {
	tags := make([][]exporters.Tag, 50*48)
	for seq := range tags {
		tags[seq] = exportertest.PortPoint(int64(seq), 50, 48).Tags
	}
	return tags
}()

// oneField is a port_stats point with only rx_bytes: InfluxDB's cost grows
// with the number of field values, so this shows the per-point overhead.
func oneField(seq int64) exporters.Point {
	p := portPoint(seq)
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
	drive(b, e, polls, "records/s", portPoint, srv.Pid())
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
