package exporters

import (
	"context"

	"github.com/satellite-sdn/satellite/insights"
)

// InsightPoint converts a finding raised or cleared by the insights
// engine into a point:
//
//	anomaly   tags kind, series, object, dpid; fields score (0 once
//	          cleared), active (1 raised, 0 cleared), value, baseline,
//	          reason
//
// The tags are the same for every kind, so that a Prometheus family
// (satellite_anomaly_score) keeps one label set.
func InsightPoint(ev insights.Event) Point {
	it := &ev.Item
	tags := []Tag{{Key: "kind", Value: it.Kind}, {Key: "series", Value: it.Series}, {Key: "object", Value: it.Object}, {Key: "dpid", Value: it.Labels["dpid"]}}
	active, score := int64(0), 0.0
	if ev.Kind == "raised" {
		active, score = 1, it.Score
	}
	f := fieldList{{Key: "score", Value: Float(score)}, {Key: "active", Value: Int(active)}}
	f.rate("value", it.Value)
	f.rate("baseline", it.Baseline)
	f = append(f, Field{Key: "reason", Value: String(it.Reason)})
	return sorted(Point{Measurement: "anomaly", Tags: tags, Fields: f, Time: ev.Time})
}

// RunInsights converts the insights engine's raised and cleared findings
// into anomaly points.
func RunInsights(ctx context.Context, e *insights.Engine, sink Sink) {
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
			buf[0] = InsightPoint(ev)
			sink.Write(buf)
		}
	}
}
