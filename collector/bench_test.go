package collector

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"testing"
	"time"

	of "github.com/netrack/openflow"
	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
	"github.com/satellite-sdn/satellite/controller/switchemu"
)

// recordFlowReply builds the reassembled flow-stats reply body of a
// switch holding n flows, as the collector receives it: each flow is
// encoded as a flow-mod by the controller's encoder and its match and
// instruction bytes are laid out in ofp_flow_stats entries exactly as the
// switch emulator (and OVS) return them. (Installing 100,000 flows in the
// emulator through flow-mods takes minutes: its table is a list.)
func recordFlowReply(tb testing.TB, n int) []byte {
	tb.Helper()
	var body []byte
	for i := 0; i < n; i++ {
		f, err := controller.ParseFlow(fmt.Sprintf("table=%d,priority=%d,ip,nw_src=10.%d.%d.%d,nw_dst=10.0.0.0/8,actions=output:%d",
			1+i%4, 100+i%7, i>>16&255, i>>8&255, i&255, 1+i%48))
		if err != nil {
			tb.Fatal(err)
		}
		fm := &ofp.FlowMod{Cookie: uint64(controller.NewCookie(controller.OwnerKind(1+i%11), uint32(i%50), uint32(i))),
			Table: ofp.Table(f.Table), Priority: f.Priority, Buffer: ofp.NoBuffer, OutPort: ofp.PortAny, OutGroup: ofp.GroupAny,
			Match: ofp.Match{Type: ofp.MatchTypeXM, Fields: f.Match}, Instructions: f.Instructions}
		msg, err := ofwire.Encode(of.TypeFlowMod, 1, fm)
		if err != nil {
			tb.Fatal(err)
		}
		dec, err := ofwire.DecodeFlowMod(msg[ofwire.HeaderLen:])
		if err != nil {
			tb.Fatal(err)
		}
		e := make([]byte, 48, 48+len(dec.MatchBytes)+len(dec.InstructionBytes))
		binary.BigEndian.PutUint16(e, uint16(cap(e)))
		e[2] = dec.Table
		binary.BigEndian.PutUint16(e[12:], dec.Priority)
		binary.BigEndian.PutUint64(e[24:], dec.Cookie)
		e = append(append(e, dec.MatchBytes...), dec.InstructionBytes...)
		body = append(body, e...)
	}
	if got, err := ofwire.DecodeFlowStats(body); err != nil || len(got) != n {
		tb.Fatalf("recorded reply: %d flows, %v", len(got), err)
	}
	return body
}

// entryOffsets returns the offset of every entry of a flow-stats body.
func entryOffsets(body []byte) []int {
	var offs []int
	for off := 0; off < len(body); off += int(binary.BigEndian.Uint16(body[off:])) {
		offs = append(offs, off)
	}
	return offs
}

// advance sets every entry's counters as if poll p had happened: flow i
// sends 1000+i bytes/s in 10-byte... packets of 100 bytes, 5 s per poll.
func advance(body []byte, offs []int, p int) {
	for i, off := range offs {
		bytes := uint64(p) * 5 * uint64(1000+i)
		binary.BigEndian.PutUint64(body[off+32:], bytes/100)
		binary.BigEndian.PutUint64(body[off+40:], bytes)
		binary.BigEndian.PutUint32(body[off+4:], uint32(5*p+1))
	}
}

var reply100k []byte

func benchReply(b *testing.B) ([]byte, []int) {
	if reply100k == nil {
		reply100k = recordFlowReply(b, 100_000)
	}
	body := append([]byte(nil), reply100k...)
	return body, entryOffsets(body)
}

// BenchmarkIngestFlows100k is the steady state: one poll's reply of
// 100,000 flows, all known, through decode + identify + rate + history
// append (and the gone-flow check), without stream subscribers.
func BenchmarkIngestFlows100k(b *testing.B) { benchIngest(b, false) }

// BenchmarkIngestFlows100kSubscribed is the same with one stream
// subscriber, so every poll also builds a batch of 100,000 samples.
func BenchmarkIngestFlows100kSubscribed(b *testing.B) { benchIngest(b, true) }

func benchIngest(b *testing.B, subscribed bool) {
	body, offs := benchReply(b)
	c, sw := newTestCollector(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if subscribed {
		sub := c.Subscribe(4)
		defer sub.Close()
		go func() {
			for range sub.C {
			}
		}()
	}
	t := time.Now().UnixNano()
	for p := 1; p <= 2; p++ { // create the series and a first rate
		advance(body, offs, p)
		t += 5 * sec
		if _, err := c.ingestFlows(sw, t, body); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		advance(body, offs, i+3)
		t += 5 * sec
		b.StartTimer()
		if _, err := c.ingestFlows(sw, t, body); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*len(offs))/b.Elapsed().Seconds(), "entries/s")
	if fs := c.Flows(FlowFilter{}); len(fs) != len(offs) || fs[0].Bps <= 0 {
		b.Fatalf("%d flows, first %+v", len(fs), fs[0])
	}
}

// BenchmarkIngestFlows100kFirstPoll is the first poll of a switch: 100,000
// new series are created.
func BenchmarkIngestFlows100kFirstPoll(b *testing.B) {
	body, offs := benchReply(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c, sw := newTestCollector(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		runtime.GC()
		b.StartTimer()
		if _, err := c.ingestFlows(sw, time.Now().UnixNano(), body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(offs))/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkPollFlows20k is a whole poll from the wire: the flow-stats
// request to an emulated switch over TCP loopback, reassembly of its ~30
// multipart parts, then ingestion (the emulator encoding the reply on the
// same two cores is included).
func BenchmarkPollFlows20k(b *testing.B) {
	ctl := controller.New(controller.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RequestTimeout: time.Minute, EchoMisses: 100})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ctl.Serve(ctx, ln)
	emu := switchemu.New(switchemu.Config{DPID: 1, Ports: 48})
	go emu.Dial(ctx, "tcp", ln.Addr().String())
	for ctl.Switch(1) == nil {
		time.Sleep(time.Millisecond)
	}
	s := ctl.Switch(1)
	const n = 20_000
	batch := make([]controller.Flow, 0, 10000)
	for i := 0; i < n; i++ {
		f, _ := controller.ParseFlow(fmt.Sprintf("table=1,priority=10,ip,nw_src=10.%d.%d.%d,actions=output:2", i>>16&255, i>>8&255, i&255))
		f.Cookie = controller.NewCookie(controller.OwnerAPI, 0, uint32(i))
		if batch = append(batch, f); len(batch) == cap(batch) {
			if err := s.AddFlows(ctx, batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	c := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Timeout: time.Minute}, ctl)
	sw := c.state(1)
	c.poll(ctx, sw, s, KindFlow)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.poll(ctx, sw, s, KindFlow)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "entries/s")
	if st := c.Stats(); st.Kinds["flow"].Errors != 0 || st.Series != n {
		b.Fatalf("stats %+v", st.Kinds["flow"])
	}
}

// BenchmarkSeriesMemory fills series to their full retention (1 h raw at
// 5 s, probes at 1 s, 24 h at 1 m) and reports the heap they take, per
// series, next to the estimate Stats reports.
//
// quiet: every value stays as it is (an idle port or flow: rates 0,
// counters still); busy: every value changes at every poll (rates that
// wander by a few percent, as under steady traffic).
func BenchmarkSeriesMemory(b *testing.B) {
	for _, load := range []string{"quiet", "busy"} {
		for _, kind := range []Kind{KindPort, KindFlow, KindProbe} {
			benchSeriesMemory(b, kind, load)
		}
	}
}

func benchSeriesMemory(b *testing.B, kind Kind, load string) {
	{
		b.Run(kind.String()+"/"+load, func(b *testing.B) {
			const n = 200
			cfg := Config{}
			cfg.setDefaults()
			tr := &tiers{rawPoints: cfg.RawPoints(), dsPoints: cfg.DownsampledPoints(), step: cfg.Step}
			every := 5 * time.Second
			if kind == KindProbe {
				tr.rawPoints, every = cfg.probeRawPoints(), ProbeInterval
			}
			nm := len(kind.Metrics())
			vals := make([]float32, nm)
			var perSeries float64
			for i := 0; i < b.N; i++ {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				hs := make([]*history, n)
				for j := range hs {
					hs[j] = &history{}
				}
				t := int64(0)
				for p := int64(1); p <= int64(25*time.Hour/every); p++ {
					t += int64(every)
					for j, h := range hs {
						vals[0] = float32(j)
						if load == "busy" {
							for m := range vals {
								// a rate around 1e6 wandering by up to 5 %
								x := uint32(p*2654435761) ^ uint32(j*40503+m*977)
								vals[m] = 1e6 * (1 + 0.05*float32(x%1000)/1000)
							}
						}
						h.add(tr, p, t, vals)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perSeries = float64(after.HeapAlloc-before.HeapAlloc) / n
				runtime.KeepAlive(hs)
			}
			b.ReportMetric(perSeries, "history-bytes/series")
			b.ReportMetric(float64(cfg.SeriesBytes(kind)), "estimate-bytes/series")
		})
	}
}
