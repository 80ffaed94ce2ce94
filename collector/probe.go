package collector

import (
	"fmt"
	"github.com/satellite-sdn/satellite/controller"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Tunnel probe samples are not polled from switches: the tunnel prober
// (package probes) measures every underlay path between two hosts and
// publishes its view once per ProbeInterval with PublishProbes. They go
// on the same stream (a KindProbe batch) and get the same two-tier
// history as the polled kinds, one series per path.

// ProbeInterval is how often the tunnel prober publishes its samples. The
// raw tier of probe series is sized for it: publishing more often keeps a
// shorter raw history.
const ProbeInterval = time.Second

// ProbeMetrics are the metric names of a probe series, in the order of
// their values in Point.V: average and 99th-percentile RTT and jitter
// (ms) over the prober's window, loss over the window (0..1), up (1: the
// probes' verdict is up) and active (1: the path carries the host pair's
// traffic).
var ProbeMetrics = []string{"rtt_avg_ms", "rtt_p99_ms", "jitter_ms", "loss", "up", "active"}

// ProbeSample is one underlay path's probe measurements at one time.
type ProbeSample struct {
	// Key is the series key, "probe/LOCAL/REMOTE/PATH" (set by
	// PublishProbes).
	Key string
	// Local and Remote are the datapath ids of the two hosts; probes go
	// from Local to Remote and back.
	Local, Remote         uint64
	LocalName, RemoteName string
	Path                  int    // underlay path number (1, 2)
	Port                  uint32 // the tunnel port on Local
	Time                  int64  // unix nanoseconds (set by PublishProbes)
	Up                    bool   // the probes' verdict
	Live                  bool   // the datapath's view of the tunnel port (BFD)
	Active                bool   // the path the host pair's traffic takes
	Flapping              bool
	Sent, Received        uint64 // probes, since the path was first seen
	// Loss is the fraction of the window's probes that were lost (0..1).
	Loss float64
	// RTTs over the window in milliseconds; NaN when no probe of the
	// window was answered.
	RTTMinMs, RTTAvgMs, RTTMaxMs, RTTP99Ms, JitterMs float64
}

// probeID names one path.
type probeID struct {
	local, remote uint64
	path          int
}

type probeSeries struct {
	seriesCommon
	key  string
	last ProbeSample
}

// probeSeriesOverhead estimates the bytes of a probe series besides its
// history: the struct (with its last sample), its map entry and its key.
const probeSeriesOverhead = 420

// probeState holds the probe series. Its clock numbers the publications.
type probeState struct {
	mu     sync.RWMutex
	tiers  tiers
	clock  *clock // created by the first publication
	series map[probeID]*probeSeries
	last   int64 // unix nanoseconds of the last publication
	count  uint64
}

// probeRawPoints is how many raw points a probe series keeps.
func (c Config) probeRawPoints() int {
	return int(math.Ceil(float64(c.RawRetention)/(float64(ProbeInterval)*(1-jitter)))) + 1
}

func probeKey(local, remote uint64, path int) string {
	b := make([]byte, 0, 48)
	b = append(b, "probe/"...)
	b = controller.AppendDPID(b, local)
	b = append(b, '/')
	b = controller.AppendDPID(b, remote)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(path), 10)
	return string(b)
}

// parseProbeRest reads the "REMOTE/PATH" part of a probe series key.
func parseProbeRest(key, rest string) (uint64, int, error) {
	remote, path, ok := strings.Cut(rest, "/")
	if !ok || len(remote) != 16 {
		return 0, 0, fmt.Errorf("%w %q: want probe/LOCAL/REMOTE/PATH with 16 hex digit datapath ids, such as probe/0000000000000001/0000000000000002/1", ErrBadKey, key)
	}
	r, err := strconv.ParseUint(remote, 16, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("%w %q: the remote datapath id must be 16 hex digits", ErrBadKey, key)
	}
	p, err := strconv.Atoi(path)
	if err != nil || p < 1 || p > 255 {
		return 0, 0, fmt.Errorf("%w %q: the path must be a number from 1 to 255", ErrBadKey, key)
	}
	return r, p, nil
}

func b2f(b bool) float32 {
	if b {
		return 1
	}
	return 0
}

// PublishProbes records the tunnel prober's samples of every path at time
// t: one point per path in its series (created on first sight), and, when
// the stream has subscribers, one KindProbe batch. A path missing from a
// publication is gone (its series stays for the retention, like a port's).
// Samples are taken over by the collector; their Key and Time are set.
func (c *Collector) PublishProbes(t time.Time, samples []ProbeSample) {
	ts := t.UnixNano()
	ps := &c.probes
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if len(samples) == 0 && len(ps.series) == 0 {
		return // no path yet (probes on, no virtual-network hosts)
	}
	if ps.series == nil {
		ps.series = map[probeID]*probeSeries{}
	}
	if ps.clock == nil {
		ps.tiers = tiers{rawPoints: c.cfg.probeRawPoints(), dsPoints: c.tiers.dsPoints, step: c.tiers.step}
		ps.clock = newClock(ps.tiers.rawPoints)
		c.mem.Add(int64(8 * ps.tiers.rawPoints))
	}
	if ts <= ps.last {
		return // not after the previous publication: points are numbered in time order
	}
	seq := ps.clock.tick(ts)
	ps.last = ts
	ps.count++
	var batch *Batch
	if c.stream.Subscribers() > 0 {
		batch = &Batch{Kind: KindProbe, Time: ts, Probes: make([]ProbeSample, 0, len(samples))}
	}
	var vals [6]float32
	for i := range samples {
		s := &samples[i]
		id := probeID{s.Local, s.Remote, s.Path}
		sr := ps.series[id]
		if sr == nil {
			if !c.newProbeSeries(ps) {
				continue
			}
			sr = &probeSeries{key: probeKey(s.Local, s.Remote, s.Path)}
			ps.series[id] = sr
		}
		s.Key, s.Time = sr.key, ts
		vals = [6]float32{float32(s.RTTAvgMs), float32(s.RTTP99Ms), float32(s.JitterMs), float32(s.Loss), b2f(s.Up), b2f(s.Active)}
		c.mem.Add(int64(sr.addPoint(&ps.tiers, seq, ts, vals[:])))
		sr.present, sr.lastSeen, sr.last = true, ts, *s
		if batch != nil {
			batch.Probes = append(batch.Probes, *s)
		}
	}
	for _, sr := range ps.series {
		if sr.present && sr.lastSeen != ts {
			sr.present = false
		}
	}
	c.publish(batch)
}

// newProbeSeries reserves room for one more probe series, evicting the
// probe series gone longest when the limit is reached. The caller holds
// ps.mu.
func (c *Collector) newProbeSeries(ps *probeState) bool {
	if c.series.Load() >= int64(c.cfg.MaxSeries) {
		var oldest *probeID
		var at int64 = math.MaxInt64
		for id, sr := range ps.series {
			if !sr.present && sr.lastSeen < at {
				id := id
				oldest, at = &id, sr.lastSeen
			}
		}
		if oldest == nil {
			c.refused.Add(1)
			return false
		}
		c.forget(&ps.series[*oldest].seriesCommon, probeSeriesOverhead)
		delete(ps.series, *oldest)
		c.evicted.Add(1)
	}
	c.series.Add(1)
	c.mem.Add(probeSeriesOverhead)
	return true
}

// ProbeFilter selects paths; nil fields select everything.
type ProbeFilter struct {
	Local, Remote *uint64
	Path          *int
}

// Probes returns the latest sample of every path of the last
// publication, by local, remote and path.
func (c *Collector) Probes(f ProbeFilter) []ProbeSample {
	ps := &c.probes
	ps.mu.RLock()
	var out []ProbeSample
	for id, sr := range ps.series {
		if !sr.present || (f.Local != nil && id.local != *f.Local) || (f.Remote != nil && id.remote != *f.Remote) || (f.Path != nil && id.path != *f.Path) {
			continue
		}
		out = append(out, sr.last)
	}
	ps.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		switch {
		case a.Local != b.Local:
			return a.Local < b.Local
		case a.Remote != b.Remote:
			return a.Remote < b.Remote
		}
		return a.Path < b.Path
	})
	return out
}

// probeSeriesData fills d from the probe series named by key.
func (c *Collector) probeSeriesData(d *SeriesData, key string, local uint64, rest string, res string, from, to int64, step time.Duration) error {
	remote, path, err := parseProbeRest(key, rest)
	if err != nil {
		return err
	}
	ps := &c.probes
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	sr := ps.series[probeID{local, remote, path}]
	if sr == nil {
		return fmt.Errorf("%w %q", ErrNoSeries, key)
	}
	l := &sr.last
	d.Present = sr.present
	d.Labels = map[string]string{"dpid": controller.FormatDPID(local), "remote": controller.FormatDPID(remote), "path": strconv.Itoa(path),
		"local_name": l.LocalName, "remote_name": l.RemoteName, "port": strconv.FormatUint(uint64(l.Port), 10)}
	d.Points = sr.hist.query(&ps.tiers, ps.clock, len(ProbeMetrics), res, from, to, step)
	return nil
}

// sweepProbes deletes probe series gone since before cutoff.
func (c *Collector) sweepProbes(cutoff int64) {
	ps := &c.probes
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for id, sr := range ps.series {
		if !sr.present && sr.lastSeen < cutoff {
			c.forget(&sr.seriesCommon, probeSeriesOverhead)
			delete(ps.series, id)
		}
	}
}

// probeStats returns the number of probe series and of publications.
func (c *Collector) probeStats() (series int, publications uint64) {
	ps := &c.probes
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	return len(ps.series), ps.count
}
