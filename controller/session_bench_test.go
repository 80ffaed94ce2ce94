package controller_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
	"github.com/satellite-sdn/satellite/controller/switchemu"
)

// benchSession connects one emulated switch over TCP loopback.
func benchSession(b *testing.B, flows int) *controller.Session {
	b.Helper()
	ctl := controller.New(controller.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	go ctl.Serve(ctx, ln)
	sw := switchemu.New(switchemu.Config{DPID: 1, Ports: 48})
	go sw.Dial(ctx, "tcp", ln.Addr().String())
	for ctl.Switch(1) == nil {
		time.Sleep(time.Millisecond)
	}
	s := ctl.Switch(1)
	if flows > 0 {
		batch := make([]controller.Flow, flows)
		for i := range batch {
			f, err := controller.ParseFlow(fmt.Sprintf("table=2,priority=10,ip,nw_dst=10.%d.%d.%d,actions=output:3", i>>16&255, i>>8&255, i&255))
			if err != nil {
				b.Fatal(err)
			}
			f.Cookie = controller.NewCookie(controller.OwnerAPI, 1, uint32(i))
			batch[i] = f
		}
		if err := s.AddFlows(ctx, batch...); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkBarrierRoundTrip measures request/reply round trips (one
// outstanding request at a time) over TCP loopback.
func BenchmarkBarrierRoundTrip(b *testing.B) {
	s := benchSession(b, 0)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Barrier(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkBarrierRoundTripParallel measures round trips with many
// concurrent callers sharing one session (xid correlation under load).
func BenchmarkBarrierRoundTripParallel(b *testing.B) {
	s := benchSession(b, 0)
	ctx := context.Background()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Barrier(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkPortStats48 measures a port-stats request for 48 ports.
func BenchmarkPortStats48(b *testing.B) {
	s := benchSession(b, 0)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ps, err := s.PortStats(ctx, controller.PortAny)
		if err != nil || len(ps) != 49 {
			b.Fatal(len(ps), err)
		}
	}
}

// BenchmarkFlowStats10k measures a full flow-stats request of 10,000 flows:
// request, multipart reassembly (the emulator splits at 64 kB like OVS) and
// decoding.
func BenchmarkFlowStats10k(b *testing.B) {
	const n = 10000
	s := benchSession(b, n)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fs, err := s.FlowStats(ctx, controller.AllFlows)
		if err != nil || len(fs) != n {
			b.Fatal(len(fs), err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "flows/s")
}

// BenchmarkDecodeFlowStats measures decoding alone on a recorded reply body.
func BenchmarkDecodeFlowStats(b *testing.B) {
	const n = 10000
	s := benchSession(b, n)
	// Record a real reply body through the public API.
	raw, err := s.Multipart(context.Background(), ofwire.MultipartFlow, flowStatsAll{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		count := 0
		if err := ofwire.EachFlowStats(raw, func(*ofwire.FlowStats) error { count++; return nil }); err != nil || count != n {
			b.Fatal(count, err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "flows/s")
}

// flowStatsAll encodes an ofp_flow_stats_request for all tables and flows.
type flowStatsAll struct{}

func (flowStatsAll) WriteTo(w io.Writer) (int64, error) {
	b := make([]byte, 40)
	b[0] = 0xff
	copy(b[4:8], []byte{0xff, 0xff, 0xff, 0xff})
	copy(b[8:12], []byte{0xff, 0xff, 0xff, 0xff})
	copy(b[32:40], []byte{0, 1, 0, 4, 0, 0, 0, 0})
	n, err := w.Write(b)
	return int64(n), err
}
