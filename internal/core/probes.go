package core

import (
	"math"
	"strconv"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/probes"
)

// publishProbes returns the prober's Publish function: every path's
// status goes to the collector's metrics stream (history, alerts,
// exporters).
func publishProbes(c *collector.Collector) func(time.Time, []probes.PathStatus) {
	return func(at time.Time, paths []probes.PathStatus) { c.PublishProbes(at, probeSamples(paths)) }
}

// probeSamples converts the prober's path status into collector samples.
// RTTs are unknown (NaN) when no probe of the window was answered: the
// prober's figures are then older than its window.
func probeSamples(paths []probes.PathStatus) []collector.ProbeSample {
	out := make([]collector.ProbeSample, 0, len(paths))
	for i := range paths {
		p := &paths[i]
		local, err1 := strconv.ParseUint(p.Local, 16, 64)
		remote, err2 := strconv.ParseUint(p.Remote, 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		s := collector.ProbeSample{Local: local, Remote: remote, LocalName: p.LocalName, RemoteName: p.RemoteName, Path: p.Path, Port: p.Port,
			Up: p.State == "up", Live: p.Live, Active: p.Active, Flapping: p.Flapping, Sent: p.Sent, Received: p.Received, Loss: p.Loss,
			RTTMinMs: p.RTTMinMs, RTTAvgMs: p.RTTAvgMs, RTTMaxMs: p.RTTMaxMs, RTTP99Ms: p.RTTP99Ms, JitterMs: p.JitterMs}
		if p.Received == 0 || p.Loss >= 1 {
			nan := math.NaN()
			s.RTTMinMs, s.RTTAvgMs, s.RTTMaxMs, s.RTTP99Ms, s.JitterMs = nan, nan, nan, nan, nan
		}
		out = append(out, s)
	}
	return out
}
