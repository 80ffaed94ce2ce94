package collector

import (
	"errors"
	"math"
	"testing"
	"time"
)

func probeSamples(loss float64, rtt float64, active bool) []ProbeSample {
	return []ProbeSample{
		{Local: 1, Remote: 2, LocalName: "h1", RemoteName: "h2", Path: 1, Port: 5, Up: loss < 0.2, Live: true, Active: active,
			Sent: 100, Received: 99, Loss: loss, RTTMinMs: rtt / 2, RTTAvgMs: rtt, RTTMaxMs: 2 * rtt, RTTP99Ms: 1.5 * rtt, JitterMs: 0.1},
		{Local: 1, Remote: 2, LocalName: "h1", RemoteName: "h2", Path: 2, Port: 6, Up: true, Live: true, Active: !active,
			Sent: 100, Received: 100, RTTMinMs: 0.2, RTTAvgMs: 0.3, RTTMaxMs: 0.4, RTTP99Ms: 0.4, JitterMs: 0.05},
	}
}

func TestPublishProbesSeriesAndStream(t *testing.T) {
	c := New(Config{Interval: 5 * time.Second}, nil)
	sub := c.Subscribe(16)
	defer sub.Close()
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	for i := 0; i < 10; i++ {
		loss := 0.0
		if i >= 5 {
			loss = 0.5
		}
		c.PublishProbes(t0.Add(time.Duration(i)*time.Second), probeSamples(loss, 1+float64(i), i < 5))
	}
	// the stream: one KindProbe batch per publication, keys and times set
	var last *Batch
	for i := 0; i < 10; i++ {
		select {
		case b := <-sub.C:
			if b.Kind != KindProbe || len(b.Probes) != 2 || b.Len() != 2 {
				t.Fatalf("batch %d: %+v", i, b)
			}
			last = b
		case <-time.After(time.Second):
			t.Fatalf("batch %d missing", i)
		}
	}
	p := last.Probes[0]
	if p.Key != "probe/0000000000000001/0000000000000002/1" || p.Time != t0.Add(9*time.Second).UnixNano() || p.Loss != 0.5 || p.Active {
		t.Fatalf("last sample %+v", p)
	}

	d, err := c.Series(p.Key, SeriesQuery{From: t0.Add(-time.Second), To: t0.Add(20 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != KindProbe || d.Resolution != ResolutionRaw || d.Step != ProbeInterval || !d.Present || len(d.Points) != 10 {
		t.Fatalf("series %+v", d)
	}
	if d.Labels["dpid"] != "0000000000000001" || d.Labels["remote"] != "0000000000000002" || d.Labels["path"] != "1" ||
		d.Labels["local_name"] != "h1" || d.Labels["remote_name"] != "h2" || d.Labels["port"] != "5" {
		t.Errorf("labels %v", d.Labels)
	}
	if len(d.Metrics) != 6 || d.Metrics[0] != "rtt_avg_ms" || d.Metrics[3] != "loss" || d.Metrics[4] != "up" || d.Metrics[5] != "active" {
		t.Errorf("metrics %v", d.Metrics)
	}
	first, end := d.Points[0], d.Points[9]
	if !first.T.Equal(t0) || first.V[0] != 1 || first.V[1] != 1.5 || first.V[3] != 0 || first.V[4] != 1 || first.V[5] != 1 {
		t.Errorf("first point %v %v", first.T, first.V)
	}
	if end.V[0] != 10 || end.V[3] != 0.5 || end.V[4] != 0 || end.V[5] != 0 {
		t.Errorf("last point %v", end.V)
	}
	// the coarse tier: means per minute
	ds, err := c.Series(p.Key, SeriesQuery{From: t0.Add(-time.Hour), To: t0.Add(time.Minute), Resolution: ResolutionDownsampled})
	if err != nil || len(ds.Points) == 0 || ds.Step != time.Minute {
		t.Fatalf("downsampled %+v %v", ds, err)
	}

	// a path that is no longer published is gone, its series stays
	c.PublishProbes(t0.Add(10*time.Second), probeSamples(0, 1, true)[1:])
	if got := c.Probes(ProbeFilter{}); len(got) != 1 || got[0].Path != 2 {
		t.Fatalf("probes %+v", got)
	}
	if d, err := c.Series(p.Key, SeriesQuery{From: t0, To: t0.Add(time.Minute)}); err != nil || d.Present {
		t.Fatalf("gone path: %+v %v", d.Present, err)
	}
	one := uint64(1)
	if got := c.Probes(ProbeFilter{Local: &one}); len(got) != 1 {
		t.Fatalf("filtered probes %+v", got)
	}
	// publications out of order are ignored
	c.PublishProbes(t0, probeSamples(1, 1, true))
	if got := c.Probes(ProbeFilter{}); len(got) != 1 {
		t.Fatalf("an old publication was taken: %+v", got)
	}

	st := c.Stats()
	if st.SeriesByKind["probe"] != 2 || st.Series != 2 || st.Kinds["probe"].Polls != 11 || st.MemoryBytes <= 0 {
		t.Fatalf("stats: series %v %d, kinds %v, memory %d", st.SeriesByKind, st.Series, st.Kinds, st.MemoryBytes)
	}
	// after the retention the gone series is deleted
	c.sweep(time.Now().Add(25 * time.Hour).UnixNano())
	if _, err := c.Series(p.Key, SeriesQuery{}); !errors.Is(err, ErrNoSeries) {
		t.Fatalf("swept series: %v", err)
	}
	if c.Stats().SeriesByKind["probe"] != 1 {
		t.Fatalf("series after the sweep: %v", c.Stats().SeriesByKind)
	}
}

func TestProbeSeriesNaNAndLimit(t *testing.T) {
	c := New(Config{MaxSeries: 1}, nil)
	t0 := time.Now().Add(-time.Minute)
	s := probeSamples(1, math.NaN(), false)
	c.PublishProbes(t0, s)
	st := c.Stats()
	if st.Series != 1 || st.SeriesRefused != 1 {
		t.Fatalf("limit: %d series, %d refused", st.Series, st.SeriesRefused)
	}
	d, err := c.Series("probe/0000000000000001/0000000000000002/1", SeriesQuery{From: t0.Add(-time.Second), To: t0.Add(time.Second)})
	if err != nil || len(d.Points) != 1 || !math.IsNaN(d.Points[0].V[0]) || d.Points[0].V[3] != 1 {
		t.Fatalf("unknown RTT: %+v %v", d, err)
	}
	// path 1 gone: path 2 evicts it
	c.PublishProbes(t0.Add(time.Second), s[1:])
	c.PublishProbes(t0.Add(2*time.Second), s[1:])
	if st := c.Stats(); st.Series != 1 || st.SeriesEvicted != 1 || len(c.Probes(ProbeFilter{})) != 1 {
		t.Fatalf("eviction: %+v", st)
	}
}

func TestParseProbeKey(t *testing.T) {
	k, dpid, rest, err := ParseKey("probe/0000000000000001/0000000000000002/2")
	if err != nil || k != KindProbe || dpid != 1 || rest != "0000000000000002/2" {
		t.Fatalf("%v %v %q %v", k, dpid, rest, err)
	}
	for _, bad := range []string{
		"probe/0000000000000001/2",
		"probe/0000000000000001/0000000000000002",
		"probe/0000000000000001/000000000000000x/1",
		"probe/0000000000000001/0000000000000002/0",
		"probe/0000000000000001/0000000000000002/1/x",
		"port/0000000000000001/2/3",
	} {
		if _, _, _, err := ParseKey(bad); !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	c := New(Config{}, nil)
	if _, err := c.Series("probe/0000000000000001/0000000000000002/1", SeriesQuery{}); !errors.Is(err, ErrNoSeries) {
		t.Fatalf("no series: %v", err)
	}
}
