package core

import (
	"context"
	"github.com/satellite-sdn/satellite/audit"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/exporters"
	"github.com/satellite-sdn/satellite/exporters/fluent"
	"github.com/satellite-sdn/satellite/exporters/influx"
	"github.com/satellite-sdn/satellite/exporters/prom"
	"github.com/satellite-sdn/satellite/insights"
	"github.com/satellite-sdn/satellite/topology"
)

// exportSources is what the exporters are fed from; nil ones are skipped.
type exportSources struct {
	ctl       *controller.Controller
	model     *topology.Model
	collector *collector.Collector
	alerts    *alerts.Engine
	insights  *insights.Engine
	audit     *audit.Engine // set after the exporters are registered, before Run
}

// exportRuntime runs the exporters of the configuration.
type exportRuntime struct {
	set  *exporters.Set
	sink *prom.Sink // nil when /metrics is off
	wg   sync.WaitGroup
	stop context.CancelFunc
	// feeds stop before the exporters drain
	feedsDone chan struct{}
}

// newExporters builds the exporters the configuration turns on. Settings
// were validated; what can only be found by talking to a destination (an
// unknown database, a wrong token, nothing listening) is checked by start
// and reported in the log and in GET /api/v1/exporters, and Satellite
// runs on regardless.
func newExporters(cfg config.Config, log *slog.Logger) (*exportRuntime, error) {
	rt := &exportRuntime{}
	var exps []*exporters.Exporter
	opts := func(name string, q config.ExportQueue) exporters.Options {
		return exporters.Options{
			Name: name, BufferPoints: q.BufferPoints, BufferBytes: int64(q.BufferBytes), BatchPoints: q.BatchPoints,
			FlushInterval: time.Duration(q.FlushInterval), Timeout: time.Duration(q.Timeout),
			Backoff: exporters.Options{}.Backoff, Logger: log,
		}
	}
	if in := cfg.Exporters.Influx; in.URL != "" {
		tok, err := cfg.InfluxToken()
		if err != nil {
			return nil, err
		}
		o := opts("influx", in.Queue)
		o.Backoff.Initial, o.Backoff.Max = time.Duration(in.Queue.RetryInitial), time.Duration(in.Queue.RetryMax)
		e, err := influx.New(influx.Config{URL: in.URL, Token: tok, Org: in.Org, Bucket: in.Bucket, GZip: in.GZip, Parallel: in.Parallel}, o)
		if err != nil {
			return nil, err
		}
		exps = append(exps, e)
	}
	if fl := cfg.Exporters.Fluent; fl.Address != "" {
		o := opts("fluent", fl.Queue)
		o.Backoff.Initial, o.Backoff.Max = time.Duration(fl.Queue.RetryInitial), time.Duration(fl.Queue.RetryMax)
		e, err := fluent.New(fluent.Config{Address: fl.Address, TagPrefix: fl.TagPrefix, NoAck: !fl.RequireAck}, o)
		if err != nil {
			return nil, err
		}
		exps = append(exps, e)
	}
	var sinks []exporters.Sink
	if p := cfg.Exporters.Prometheus; p.Enabled {
		rt.sink = prom.New(prom.Config{MaxSeries: p.MaxSeries, StaleAfter: time.Duration(p.StaleAfter), Measurements: p.Measurements})
		sinks = append(sinks, rt.sink)
	}
	rt.set = exporters.NewSet(exps, sinks...)
	if rt.sink != nil {
		rt.sink.Registry().MustRegister(prom.ExporterMetrics(rt.set))
	}
	return rt, nil
}

// start checks every destination (reporting problems clearly, without
// stopping Satellite), then runs the exporters and the feeds.
func (rt *exportRuntime) start(src exportSources, log *slog.Logger) {
	if rt.sink != nil && src.ctl != nil {
		ctl := src.ctl
		rt.sink.Registry().MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "satellite_switches_connected", Help: "Switches connected to the controller.",
		}, func() float64 { return float64(len(ctl.Switches())) }))
	}
	if rt.sink != nil && src.collector != nil {
		rt.sink.Registry().MustRegister(collectorMetrics{src.collector})
	}
	if rt.sink != nil && src.audit != nil {
		rt.sink.Registry().MustRegister(auditMetrics{src.audit})
	}
	for _, e := range rt.set.Exporters() {
		log.Info("exporter configured", "component", "exporter", "exporter", e.Name(), "target", e.Status().Target)
	}
	checkCtx, cancelCheck := context.WithTimeout(context.Background(), 5*time.Second)
	for name, err := range rt.set.Check(checkCtx) {
		log.Error("exporter cannot deliver yet; Satellite runs on, buffering and retrying", "component", "exporter", "exporter", name, "err", err)
	}
	cancelCheck()

	ctx, cancel := context.WithCancel(context.Background())
	rt.stop = cancel
	feedCtx, stopFeeds := context.WithCancel(ctx)
	rt.feedsDone = make(chan struct{})
	var feeds sync.WaitGroup
	if src.collector != nil {
		feeds.Add(1)
		go func() {
			defer feeds.Done()
			exporters.RunCollector(feedCtx, src.collector, exporters.ControllerNames(src.ctl), rt.set)
		}()
	}
	if src.alerts != nil {
		feeds.Add(1)
		go func() { defer feeds.Done(); exporters.RunAlerts(feedCtx, src.alerts, rt.set) }()
	}
	if src.insights != nil {
		feeds.Add(1)
		go func() { defer feeds.Done(); exporters.RunInsights(feedCtx, src.insights, rt.set) }()
	}
	if src.model != nil {
		feeds.Add(1)
		go func() { defer feeds.Done(); exporters.RunTopology(feedCtx, src.model, rt.set, log) }()
	}
	go func() {
		<-ctx.Done()
		stopFeeds()
		feeds.Wait()
		close(rt.feedsDone)
	}()
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		// the exporters stop after the feeds, then drain (DrainTimeout)
		expCtx, stopExp := context.WithCancel(context.Background())
		go func() { <-rt.feedsDone; stopExp() }()
		rt.set.Run(expCtx)
	}()
}

// close stops the feeds, lets the exporters deliver what is queued (5 s
// at most each) and returns.
func (rt *exportRuntime) close() {
	if rt.stop == nil {
		return
	}
	rt.stop()
	rt.wg.Wait()
}

// collectorMetrics exposes the collector's own health on /metrics: poll
// counts, errors and skips per kind, the last poll's duration per switch
// and kind, samples its subscribers lost, series held.
// auditMetrics exports the flow audit's findings since the start
// (satellite_flow_drift_total{dpid,switch,kind}); InfluxDB and Fluentd
// get the flow-drift events with the topology's events.
type auditMetrics struct{ e *audit.Engine }

var driftDesc = prometheus.NewDesc("satellite_flow_drift_total", "Flows the flow audit found differing from the intent or broken (missing, modified, extra, foreign, shadowed, dead, blackhole, loop), since Satellite started.", []string{"dpid", "switch", "kind"}, nil)

func (m auditMetrics) Describe(ch chan<- *prometheus.Desc) { ch <- driftDesc }

func (m auditMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.e.Counters() {
		ch <- prometheus.MustNewConstMetric(driftDesc, prometheus.CounterValue, float64(c.Value), controller.FormatDPID(c.DPID), c.Switch, c.Kind)
	}
}

type collectorMetrics struct{ c *collector.Collector }

var (
	pollsDesc    = prometheus.NewDesc("satellite_collector_polls_total", "Completed statistics polls.", []string{"kind"}, nil)
	pollErrDesc  = prometheus.NewDesc("satellite_collector_poll_errors_total", "Failed statistics polls.", []string{"kind"}, nil)
	pollSkipDesc = prometheus.NewDesc("satellite_collector_polls_skipped_total", "Polls skipped because the previous one was still running.", []string{"kind"}, nil)
	pollDurDesc  = prometheus.NewDesc("satellite_collector_poll_duration_seconds", "Duration of the last poll of a switch.", []string{"dpid", "kind"}, nil)
	lostDesc     = prometheus.NewDesc("satellite_collector_stream_dropped_samples_total", "Samples stream subscribers (exporters, alerts, UI) lost because they fell behind.", nil, nil)
	seriesCDesc  = prometheus.NewDesc("satellite_collector_series", "Series the collector holds.", nil, nil)
)

func (m collectorMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{pollsDesc, pollErrDesc, pollSkipDesc, pollDurDesc, lostDesc, seriesCDesc} {
		ch <- d
	}
}

func (m collectorMetrics) Collect(ch chan<- prometheus.Metric) {
	st := m.c.Stats()
	for kind, k := range st.Kinds {
		ch <- prometheus.MustNewConstMetric(pollsDesc, prometheus.CounterValue, float64(k.Polls), kind)
		ch <- prometheus.MustNewConstMetric(pollErrDesc, prometheus.CounterValue, float64(k.Errors), kind)
		ch <- prometheus.MustNewConstMetric(pollSkipDesc, prometheus.CounterValue, float64(k.Skipped), kind)
	}
	for _, sw := range st.Switches {
		for kind, k := range sw.Kinds {
			if k.LastPoll.IsZero() {
				continue
			}
			ch <- prometheus.MustNewConstMetric(pollDurDesc, prometheus.GaugeValue, k.LastDuration.Seconds(), controller.FormatDPID(sw.DPID), kind)
		}
	}
	ch <- prometheus.MustNewConstMetric(lostDesc, prometheus.CounterValue, float64(st.StreamDropped))
	ch <- prometheus.MustNewConstMetric(seriesCDesc, prometheus.GaugeValue, float64(st.Series))
}

// Exporters are the configured exporters, for the API to show
// (/api/v1/exporters) and serve (/metrics).
type Exporters struct {
	Set        *exporters.Set
	Prometheus *prom.Sink // nil when /metrics is off
}
