package exporters

import (
	"context"
	"log/slog"
	"time"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/topology"
)

// Sources feed a Sink with Satellite's data. Each Run* function returns
// when ctx ends. They read their stream from their own goroutine, so the
// producers (the collector's pollers, the alert engine, the topology
// model) never wait for them: the streams have bounded queues that drop
// the oldest values, counted, when a reader falls behind.

// RunCollector converts every batch the collector publishes (port, flow,
// table and group statistics, and the tunnel prober's path samples) into
// points for sink.
func RunCollector(ctx context.Context, c *collector.Collector, names Names, sink Sink) {
	sub := c.Subscribe(256)
	defer sub.Close()
	var buf []Point
	for {
		select {
		case <-ctx.Done():
			return
		case b, ok := <-sub.C:
			if !ok {
				return
			}
			buf = BatchPoints(buf[:0], b, names)
			sink.Write(buf)
			clear(buf) // the sink keeps tags and fields, not our slice
		}
	}
}

// RunAlerts converts the alert engine's transitions into alert points.
func RunAlerts(ctx context.Context, e *alerts.Engine, sink Sink) {
	sub := e.Stream().Subscribe(256)
	defer sub.Close()
	buf := make([]Point, 1)
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sub.C:
			if !ok {
				return
			}
			buf[0] = AlertPoint(ev)
			sink.Write(buf)
		}
	}
}

// RunTopology follows the topology model's change stream: a snapshot of
// every switch, port and link first, then each change. A reader that fell
// behind resumes from the last version it handled.
func RunTopology(ctx context.Context, m *topology.Model, sink Sink, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	var last uint64
	var buf []Point
	for ctx.Err() == nil {
		sub := m.Subscribe(last, 1024)
		for open := true; open; {
			select {
			case <-ctx.Done():
				sub.Close()
				return
			case d, ok := <-sub.C:
				if !ok {
					open = false
					break
				}
				last = d.Version
				buf = DeltaPoints(buf[:0], d)
				if len(buf) > 0 {
					sink.Write(buf)
					clear(buf)
				}
			}
		}
		if err := sub.Err(); err != nil {
			log.Warn("topology export fell behind; resuming", "component", "exporter", "from_version", last, "err", err)
		}
		sub.Close()
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
