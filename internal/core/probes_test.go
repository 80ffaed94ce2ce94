package core

import (
	"math"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/probes"
)

func TestPublishProbesToCollector(t *testing.T) {
	c := collector.New(collector.Config{}, nil)
	pub := publishProbes(c)
	t0 := time.Now().Add(-10 * time.Second)
	pub(t0, nil) // no path yet: nothing kept
	if st := c.Stats(); st.MemoryBytes != 0 || st.SeriesByKind["probe"] != 0 {
		t.Fatalf("an empty publication cost %d bytes", st.MemoryBytes)
	}
	paths := []probes.PathStatus{
		{Local: "0000000000000001", Remote: "0000000000000003", LocalName: "h1", RemoteName: "h3", Path: 1, Port: 7, State: "up", Live: true, Active: true,
			Sent: 50, Received: 49, Loss: 0.02, RTTMinMs: 0.1, RTTAvgMs: 0.2, RTTMaxMs: 0.5, RTTP99Ms: 0.5, JitterMs: 0.05},
		{Local: "0000000000000001", Remote: "0000000000000003", LocalName: "h1", RemoteName: "h3", Path: 2, Port: 8, State: "down", Live: true,
			Sent: 50, Received: 10, Loss: 1, RTTMinMs: 0.1, RTTAvgMs: 0.3, RTTMaxMs: 0.4, RTTP99Ms: 0.4},
		{Local: "zz", Remote: "0000000000000003", Path: 1},
	}
	pub(t0, paths)
	pub(t0.Add(time.Second), paths)
	got := c.Probes(collector.ProbeFilter{})
	if len(got) != 2 {
		t.Fatalf("samples %+v", got)
	}
	if s := got[0]; s.Local != 1 || s.Remote != 3 || !s.Up || !s.Active || s.RTTAvgMs != 0.2 || s.Loss != 0.02 || s.LocalName != "h1" || s.Port != 7 {
		t.Errorf("path 1 %+v", s)
	}
	// a window without an answered probe has no RTT
	if s := got[1]; s.Up || !math.IsNaN(s.RTTAvgMs) || !math.IsNaN(s.JitterMs) || s.Loss != 1 {
		t.Errorf("path 2 %+v", s)
	}
	d, err := c.Series("probe/0000000000000001/0000000000000003/2", collector.SeriesQuery{From: t0.Add(-time.Second), To: t0.Add(2 * time.Second)})
	if err != nil || len(d.Points) != 2 || d.Points[1].V[3] != 1 || d.Points[1].V[4] != 0 || !math.IsNaN(d.Points[1].V[0]) {
		t.Fatalf("series %+v %v", d, err)
	}
}
