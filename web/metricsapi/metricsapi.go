// Package metricsapi serves the collector's statistics (collector/):
//
//	GET /api/v1/metrics/ports[?dpid=X&port=N]
//	GET /api/v1/metrics/flows[?dpid=X&table=N&owner=KIND&network=N&id=N&sort=key|bps|pps&limit=N]
//	GET /api/v1/metrics/tables[?dpid=X]
//	GET /api/v1/metrics/groups[?dpid=X]
//	GET /api/v1/metrics/series?key=KEY[&from=T&to=T&step=D&resolution=raw|downsampled]
//	GET /api/v1/metrics/stats
//
// They answer 503 unless the server was given a collector (WithCollector).
package metricsapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"
)

// Collector is what the routes need of the collector (*collector.Collector).
type Collector interface {
	Ports(f collector.PortFilter) []collector.PortSample
	Flows(f collector.FlowFilter) []collector.FlowSample
	Tables(dpid *uint64) []collector.TableSample
	Groups(dpid *uint64) []collector.GroupSample
	Series(key string, q collector.SeriesQuery) (collector.SeriesData, error)
	Stats() collector.Stats
}

// Handlers serve the statistics routes.
type Handlers struct {
	// Collector keeps the statistics, or is nil: the routes answer 503.
	Collector Collector
	// Switch reads a switch as the API accepts it: a datapath id or a name.
	Switch func(string) (uint64, error)
}

func (h *Handlers) collector() (Collector, error) {
	if h.Collector == nil {
		return nil, httpapi.Errorf(http.StatusServiceUnavailable, "", "statistics collection is not enabled on this server")
	}
	return h.Collector, nil
}

// Defaults and limits of the metrics routes.
const (
	DefaultFlowLimit = 1000
	MaxFlowLimit     = 1_000_000
	MaxSeriesPoints  = 10_000
)

// Register adds the routes to r.
func (h *Handlers) Register(r httpapi.Router) {
	r.Handle("GET /api/v1/metrics/ports", h.metricsPorts)
	r.Handle("GET /api/v1/metrics/flows", h.metricsFlows)
	r.Handle("GET /api/v1/metrics/tables", h.metricsTables)
	r.Handle("GET /api/v1/metrics/groups", h.metricsGroups)
	r.Handle("GET /api/v1/metrics/series", h.metricsSeries)
	r.Handle("GET /api/v1/metrics/stats", h.metricsStats)
}

// ---- documents

// portRates converts the collector's rates (NaN when unknown) with conv
// (rate: rounded to 1/1000; num: as they are).
func PortRates(r *collector.PortRates, conv func(float64) *float64) api.PortRates {
	return api.PortRates{
		RxBps: conv(r.RxBps), TxBps: conv(r.TxBps), RxPps: conv(r.RxPps), TxPps: conv(r.TxPps),
		RxDrops: conv(r.RxDrops), TxDrops: conv(r.TxDrops), RxErrors: conv(r.RxErrors), TxErrors: conv(r.TxErrors),
		RxUtil: conv(r.RxUtil), TxUtil: conv(r.TxUtil),
	}
}

func rate(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	r := math.Round(v*1000) / 1000
	return &r
}

func sampleTime(ns int64) time.Time { return time.Unix(0, ns).UTC().Truncate(time.Millisecond) }

// ---- handlers

func (h *Handlers) optionalDPID(q url.Values) (*uint64, error) {
	if !q.Has("dpid") {
		return nil, nil
	}
	d, err := h.Switch(q.Get("dpid"))
	if err != nil {
		return nil, httpapi.Errorf(http.StatusBadRequest, "dpid", "%v", err)
	}
	return &d, nil
}

func (h *Handlers) metricsPorts(w http.ResponseWriter, r *http.Request) error {
	c, err := h.collector()
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "dpid", "port")
	if err != nil {
		return err
	}
	var f collector.PortFilter
	if f.DPID, err = h.optionalDPID(q); err != nil {
		return err
	}
	if q.Has("port") {
		v := q.Get("port")
		var p uint32
		if strings.EqualFold(v, "local") {
			p = httpapi.PortLocal
		} else if n, err := strconv.ParseUint(v, 10, 32); err == nil && n >= 1 && n < 0xffffff00 {
			p = uint32(n)
		} else {
			return httpapi.Errorf(http.StatusBadRequest, "port", "port %q: want a port number (1-4294967039) or local", v)
		}
		f.Port = &p
	}
	out := []api.PortMetrics{}
	for _, p := range c.Ports(f) {
		st := &p.Counters
		out = append(out, api.PortMetrics{
			Key: p.Key, DPID: controller.FormatDPID(p.DPID), Port: p.Port, Reserved: httpapi.ReservedPortNames[p.Port], Name: p.Name,
			SpeedKbps: p.SpeedKbps, Time: sampleTime(p.Time),
			Counters: api.PortCounters{
				RxPackets: httpapi.Counter(st.RxPackets), TxPackets: httpapi.Counter(st.TxPackets), RxBytes: httpapi.Counter(st.RxBytes), TxBytes: httpapi.Counter(st.TxBytes),
				RxDropped: httpapi.Counter(st.RxDropped), TxDropped: httpapi.Counter(st.TxDropped), RxErrors: httpapi.Counter(st.RxErrors), TxErrors: httpapi.Counter(st.TxErrors),
			},
			Rates: PortRates(&p.Rates, rate),
		})
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) metricsFlows(w http.ResponseWriter, r *http.Request) error {
	c, err := h.collector()
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "dpid", "table", "owner", "network", "id", "sort", "limit")
	if err != nil {
		return err
	}
	var f collector.FlowFilter
	if f.DPID, err = h.optionalDPID(q); err != nil {
		return err
	}
	if n, ok, err := httpapi.UintParam(q, "table", 254, "a table number from 0 to 254"); err != nil {
		return err
	} else if ok {
		t := uint8(n)
		f.Table = &t
	}
	if q.Has("owner") {
		k, err := controller.ParseOwnerKind(q.Get("owner"))
		if err != nil {
			return httpapi.Errorf(http.StatusBadRequest, "owner", "%v", err)
		}
		f.Owner = &k
	}
	if n, ok, err := httpapi.UintParam(q, "network", controller.MaxScope, fmt.Sprintf("a virtual network id from 0 to %d", controller.MaxScope)); err != nil {
		return err
	} else if ok {
		v := uint32(n)
		f.Network = &v
	}
	if n, ok, err := httpapi.UintParam(q, "id", math.MaxUint32, "a whole number from 0 to 4294967295"); err != nil {
		return err
	} else if ok {
		v := uint32(n)
		f.ID = &v
	}
	order := q.Get("sort")
	if q.Has("sort") && order != "key" && order != "bps" && order != "pps" {
		return httpapi.Errorf(http.StatusBadRequest, "sort", "sort %q: want key, bps or pps", order)
	}
	limit := uint64(DefaultFlowLimit)
	if n, ok, err := httpapi.UintParam(q, "limit", MaxFlowLimit, fmt.Sprintf("a whole number from 1 to %d", MaxFlowLimit)); err != nil {
		return err
	} else if ok {
		if n == 0 {
			return httpapi.Errorf(http.StatusBadRequest, "limit", "limit 0: want a whole number from 1 to %d", MaxFlowLimit)
		}
		limit = n
	}
	flows := c.Flows(f)
	if order == "bps" || order == "pps" {
		val := func(fs *collector.FlowSample) float64 {
			v := fs.Bps
			if order == "pps" {
				v = fs.Pps
			}
			if math.IsNaN(v) {
				return -1
			}
			return v
		}
		sort.SliceStable(flows, func(i, j int) bool { return val(&flows[i]) > val(&flows[j]) })
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(len(flows)))
	if uint64(len(flows)) > limit {
		flows = flows[:limit]
	}
	out := make([]api.FlowMetrics, 0, len(flows))
	for i := range flows {
		fs := &flows[i]
		fi := fs.Info
		o := api.Owner{Kind: fi.Cookie.Kind().String()}
		if fi.Cookie.Kind() != controller.OwnerForeign {
			o.Network, o.ID = fi.Cookie.Scope(), fi.Cookie.Object()
		}
		out = append(out, api.FlowMetrics{
			Key: fi.Key, DPID: controller.FormatDPID(fi.DPID), Table: fi.Table, Priority: fi.Priority,
			Cookie: fmt.Sprintf("0x%016x", uint64(fi.Cookie)), Owner: o, OwnerName: fi.Cookie.String(), Match: fi.Match(),
			Time: sampleTime(fs.Time), Packets: fs.Packets, Bytes: fs.Bytes, DurationS: math.Round(fs.DurationS*1000) / 1000,
			Bps: rate(fs.Bps), Pps: rate(fs.Pps),
		})
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) metricsTables(w http.ResponseWriter, r *http.Request) error {
	c, err := h.collector()
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "dpid")
	if err != nil {
		return err
	}
	dpid, err := h.optionalDPID(q)
	if err != nil {
		return err
	}
	out := []api.TableMetrics{}
	for _, t := range c.Tables(dpid) {
		out = append(out, api.TableMetrics{Key: t.Key, DPID: controller.FormatDPID(t.DPID), Table: t.Table, Time: sampleTime(t.Time), Active: t.Active,
			Lookups: t.Lookups, Matched: t.Matched, LookupsPs: rate(t.LookupsPs), MatchedPs: rate(t.MatchedPs)})
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) metricsGroups(w http.ResponseWriter, r *http.Request) error {
	c, err := h.collector()
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "dpid")
	if err != nil {
		return err
	}
	dpid, err := h.optionalDPID(q)
	if err != nil {
		return err
	}
	out := []api.GroupMetrics{}
	for _, g := range c.Groups(dpid) {
		out = append(out, api.GroupMetrics{Key: g.Key, DPID: controller.FormatDPID(g.DPID), Group: g.Group, Time: sampleTime(g.Time), RefCount: g.RefCount,
			Packets: g.Packets, Bytes: g.Bytes, Bps: rate(g.Bps), Pps: rate(g.Pps)})
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) metricsSeries(w http.ResponseWriter, r *http.Request) error {
	c, err := h.collector()
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "key", "from", "to", "step", "resolution")
	if err != nil {
		return err
	}
	key := q.Get("key")
	if key == "" {
		return httpapi.Errorf(http.StatusBadRequest, "key", "key is missing; want a series key from /api/v1/metrics/ports or /flows, such as port/0000000000000001/2")
	}
	key = h.canonicalKey(key)
	if _, _, _, err := collector.ParseKey(key); err != nil {
		return httpapi.Errorf(http.StatusBadRequest, "key", "%v", err)
	}
	now := time.Now()
	sq := collector.SeriesQuery{MaxPoints: MaxSeriesPoints}
	var ok bool
	if sq.From, ok, err = httpapi.ParseTime(q, "from", now); err != nil {
		return err
	}
	if !ok {
		sq.From = now.Add(-time.Hour)
	}
	if sq.To, ok, err = httpapi.ParseTime(q, "to", now); err != nil {
		return err
	}
	if !ok {
		sq.To = now
	}
	if sq.To.Before(sq.From) {
		return httpapi.Errorf(http.StatusBadRequest, "to", "to (%s) is before from (%s)", sq.To.UTC().Format(time.RFC3339), sq.From.UTC().Format(time.RFC3339))
	}
	if q.Has("step") {
		d, err := time.ParseDuration(q.Get("step"))
		if err != nil || d <= 0 {
			return httpapi.Errorf(http.StatusBadRequest, "step", "step %q: want a positive duration such as 10s or 5m", q.Get("step"))
		}
		if d < time.Second {
			return httpapi.Errorf(http.StatusBadRequest, "step", "step %s: want at least 1s", d)
		}
		sq.Step = d
	}
	if q.Has("resolution") {
		sq.Resolution = q.Get("resolution")
		if sq.Resolution != collector.ResolutionRaw && sq.Resolution != collector.ResolutionDownsampled {
			return httpapi.Errorf(http.StatusBadRequest, "resolution", "resolution %q: want raw or downsampled", sq.Resolution)
		}
	}
	d, err := c.Series(key, sq)
	switch {
	case errors.Is(err, collector.ErrNoSeries):
		return httpapi.Errorf(http.StatusNotFound, "key", "no series %q (a series is kept while its port or flow exists and for the history retention after)", key)
	case errors.Is(err, collector.ErrTooManyPoints):
		return httpapi.Errorf(http.StatusBadRequest, "step", "%v", err)
	case err != nil:
		return httpapi.Errorf(http.StatusBadRequest, "key", "%v", err)
	}
	out := api.Series{
		Key: d.Key, Kind: d.Kind.String(), Labels: d.Labels, Metrics: d.Metrics, Present: d.Present, Resolution: d.Resolution,
		StepS: d.Step.Seconds(), From: sq.From.UTC(), To: sq.To.UTC(), Points: make([]api.SeriesPoint, 0, len(d.Points)),
	}
	for _, p := range d.Points {
		sp := api.SeriesPoint{T: p.T.UTC().Truncate(time.Millisecond), V: make([]*float64, len(p.V))}
		for i, v := range p.V {
			sp.V[i] = rate(v)
		}
		out.Points = append(out.Points, sp)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) metricsStats(w http.ResponseWriter, r *http.Request) error {
	c, err := h.collector()
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	st := c.Stats()
	out := api.MetricsStats{
		IntervalS: st.Interval.Seconds(), TimeoutS: st.Timeout.Seconds(), RawRetentionS: st.RawRetention.Seconds(),
		DownsampledRetentionS: st.DownsampledRetention.Seconds(), StepS: st.Step.Seconds(), RawPoints: st.RawPoints,
		DownsampledPoints: st.DownsampledPoints, Kinds: map[string]api.MetricsKindStats{}, FlowEntries: st.FlowEntries, Resets: st.Resets,
		Wraps: st.Wraps, Absurd: st.Absurd, Renames: st.Renames, Duplicates: st.Duplicates, Series: st.Series, SeriesByKind: st.SeriesByKind,
		MaxSeries: st.MaxSeries, SeriesRefused: st.SeriesRefused, SeriesEvicted: st.SeriesEvicted, MemoryBytes: st.MemoryBytes,
		StreamSubscribers: st.StreamSubscribers, StreamDropped: st.StreamDropped, Switches: []api.MetricsSwitch{},
	}
	for k, v := range st.Kinds {
		out.Kinds[k] = api.MetricsKindStats(v)
	}
	for _, sw := range st.Switches {
		ms := api.MetricsSwitch{DPID: controller.FormatDPID(sw.DPID), Connected: sw.Connected, Kinds: map[string]api.MetricsSwitchKind{}}
		for k, v := range sw.Kinds {
			mk := api.MetricsSwitchKind{MetricsKindStats: api.MetricsKindStats(v.KindStats), Series: v.Series,
				LastDurationMs: math.Round(float64(v.LastDuration)/1e3) / 1e3, LastError: v.LastError}
			if !v.LastPoll.IsZero() {
				t := v.LastPoll.UTC().Truncate(time.Millisecond)
				mk.LastPoll = &t
			}
			if k == collector.KindFlow.String() {
				wh, def, iv := v.WithHistory, v.Deferred, v.Interval.Seconds()
				mk.WithHistory, mk.Deferred, mk.IntervalS = &wh, &def, &iv
			}
			ms.Kinds[k] = mk
		}
		out.Switches = append(out.Switches, ms)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// canonicalKey writes the switch of a series key (KIND/SWITCH/...) as its
// 16-digit datapath id, so port/h1/2 and port/1/2 name the series
// port/0000000000000001/2; a key whose switch does not resolve is left
// for ParseKey to explain.
func (h *Handlers) canonicalKey(key string) string {
	parts := strings.Split(key, "/")
	canon := func(i int) {
		if len(parts[i]) != 16 {
			if d, err := h.Switch(parts[i]); err == nil {
				parts[i] = controller.FormatDPID(d)
			}
		}
	}
	switch {
	case len(parts) == 3:
		canon(1)
	case len(parts) == 4 && parts[0] == collector.KindProbe.String():
		canon(1)
		canon(2)
	}
	return strings.Join(parts, "/")
}
