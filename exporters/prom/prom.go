// Package prom serves Satellite's points on /metrics for Prometheus
// (github.com/prometheus/client_golang).
//
// It is a Sink: every point updates the latest value of its series, and a
// scrape reads them. A numeric field F of measurement M becomes the metric
// satellite_<M>_<F> (M without a "_stats" suffix, F in base units:
// latency_ms is latency_seconds), with the point's tags as
// labels: port_stats' rx_bytes is satellite_port_rx_bytes_total{dpid,
// port, port_name, switch}. Fields listed in Counters are counters (name
// ending in _total), other numeric fields gauges, booleans 0 or 1; string
// fields are left out. Cardinality is bounded: at most MaxSeries series
// are kept (new ones beyond are refused and counted in
// satellite_export_prometheus_series_refused_total), and a series not
// updated for StaleAfter disappears. Settings: README.md in this folder.
package prom

import (
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/satellite-sdn/satellite/exporters"
)

// Config tunes the Prometheus sink. Zero values take the defaults.
type Config struct {
	// Namespace starts every metric name (default "satellite").
	Namespace string
	// MaxSeries bounds the series kept from points (default 20000).
	MaxSeries int
	// StaleAfter removes series not updated for this long (default 5m).
	StaleAfter time.Duration
	// Measurements, when not empty, lists the measurements exported;
	// others are ignored (for example leave out flow_stats on big fabrics).
	Measurements []string
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Counters lists, per measurement, the fields that are counters: values
// that only grow (until the switch resets them).
var Counters = map[string][]string{
	"port_stats":   {"rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "rx_dropped", "tx_dropped", "rx_errors", "tx_errors"},
	"flow_stats":   {"bytes", "packets"},
	"group_stats":  {"bytes", "packets"},
	"table_stats":  {"lookups", "matched"},
	"tunnel_probe": {"sent", "received"},
}

// Sink keeps the latest value of every series and serves them.
type Sink struct {
	cfg     Config
	reg     *prometheus.Registry
	include map[string]bool
	counter map[string]map[string]bool

	mu       sync.Mutex
	families map[string]*family // by metric name
	nSeries  int
	refused  uint64
	expired  uint64
}

type family struct {
	desc   *prometheus.Desc
	kind   prometheus.ValueType
	labels []string // label names (sorted tag keys at first sight)
	series map[string]*series
}

type series struct {
	values  []string
	value   float64
	updated time.Time
}

// New returns a sink with its own registry, which also holds the Go
// runtime and process collectors.
func New(cfg Config) *Sink {
	if cfg.Namespace == "" {
		cfg.Namespace = "satellite"
	}
	if cfg.MaxSeries <= 0 {
		cfg.MaxSeries = 20000
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Sink{cfg: cfg, reg: prometheus.NewRegistry(), families: map[string]*family{}, counter: map[string]map[string]bool{}}
	if len(cfg.Measurements) > 0 {
		s.include = map[string]bool{}
		for _, m := range cfg.Measurements {
			s.include[m] = true
		}
	}
	for m, fs := range Counters {
		s.counter[m] = map[string]bool{}
		for _, f := range fs {
			s.counter[m][f] = true
		}
	}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.reg.MustRegister((*pointCollector)(s))
	return s
}

// Registry returns the registry /metrics serves; register Satellite's
// own metrics on it.
func (s *Sink) Registry() *prometheus.Registry { return s.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (s *Sink) Handler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Registry: s.reg})
}

// MetricName returns the metric a field of a measurement becomes. Names
// are in base units, as Prometheus wants them: a field in milliseconds
// (_ms), microseconds (_us) or seconds (_s) becomes _seconds (its value
// scaled, see baseUnit), and a gauge named _count loses the suffix, which
// Prometheus reserves for histograms and summaries (ref_count: refs).
func (s *Sink) MetricName(measurement, field string) string {
	f, _ := baseUnit(field)
	counter := s.counter[measurement][field]
	if !counter && strings.HasSuffix(f, "_count") {
		f = strings.TrimSuffix(f, "_count")
		if !strings.HasSuffix(f, "s") {
			f += "s"
		}
	}
	name := s.cfg.Namespace + "_" + sanitize(strings.TrimSuffix(measurement, "_stats")) + "_" + sanitize(f)
	if counter {
		name += "_total"
	}
	return name
}

// baseUnit returns a field's name in base units and the factor its
// values are multiplied by.
func baseUnit(field string) (string, float64) {
	for _, u := range []struct {
		suffix string
		scale  float64
	}{{"_ms", 1e-3}, {"_us", 1e-6}, {"_s", 1}} {
		if strings.HasSuffix(field, u.suffix) {
			return strings.TrimSuffix(field, u.suffix) + "_seconds", u.scale
		}
	}
	return field, 1
}

// Write updates the series of the points' numeric fields. It never blocks
// for longer than the map updates take.
func (s *Sink) Write(ps []exporters.Point) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range ps {
		p := &ps[i]
		if s.include != nil && !s.include[p.Measurement] {
			continue
		}
		for _, f := range p.Fields {
			v, ok := f.Value.Number()
			if !ok {
				continue
			}
			if _, scale := baseUnit(f.Key); scale != 1 {
				v *= scale
			}
			name := s.MetricName(p.Measurement, f.Key)
			fam := s.families[name]
			if fam == nil {
				fam = s.newFamily(name, p, f.Key)
				s.families[name] = fam
			}
			key, values := fam.key(p)
			se := fam.series[key]
			if se == nil {
				if s.nSeries >= s.cfg.MaxSeries {
					s.refused++
					continue
				}
				se = &series{values: values}
				fam.series[key] = se
				s.nSeries++
			}
			se.value = v
			se.updated = now
		}
	}
}

func (s *Sink) newFamily(name string, p *exporters.Point, field string) *family {
	labels := make([]string, 0, len(p.Tags))
	for _, t := range p.Tags {
		labels = append(labels, sanitize(t.Key))
	}
	sort.Strings(labels)
	kind, help := prometheus.GaugeValue, "Satellite "+p.Measurement+" "+field+" (gauge)."
	if s.counter[p.Measurement][field] {
		kind, help = prometheus.CounterValue, "Satellite "+p.Measurement+" "+field+" (counter)."
	}
	return &family{
		desc:   prometheus.NewDesc(name, help, labels, nil),
		kind:   kind,
		labels: labels,
		series: map[string]*series{},
	}
}

// key returns the series key of p in the family and its label values in
// the family's label order; tags the family does not have are ignored,
// missing ones are empty.
func (f *family) key(p *exporters.Point) (string, []string) {
	values := make([]string, len(f.labels))
	for _, t := range p.Tags {
		name := sanitize(t.Key)
		if i := sort.SearchStrings(f.labels, name); i < len(f.labels) && f.labels[i] == name {
			values[i] = t.Value
		}
	}
	return strings.Join(values, "\xff"), values
}

// Series returns how many series are held.
func (s *Sink) Series() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nSeries
}

// pointCollector is the Sink as a prometheus.Collector (unchecked: the
// families are only known once points arrive).
type pointCollector Sink

func (c *pointCollector) Describe(chan<- *prometheus.Desc) {}

var (
	seriesDesc  = prometheus.NewDesc("satellite_export_prometheus_series", "Series /metrics holds from Satellite's points.", nil, nil)
	refusedDesc = prometheus.NewDesc("satellite_export_prometheus_series_refused_total", "New series refused because max_series was reached.", nil, nil)
	expiredDesc = prometheus.NewDesc("satellite_export_prometheus_series_expired_total", "Series removed because they were not updated for stale_after.", nil, nil)
)

func (c *pointCollector) Collect(ch chan<- prometheus.Metric) {
	s := (*Sink)(c)
	cutoff := s.cfg.Now().Add(-s.cfg.StaleAfter)
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, fam := range s.families {
		for k, se := range fam.series {
			if se.updated.Before(cutoff) {
				delete(fam.series, k)
				s.nSeries--
				s.expired++
				continue
			}
			m, err := prometheus.NewConstMetric(fam.desc, fam.kind, se.value, se.values...)
			if err != nil {
				continue
			}
			ch <- m
		}
		if len(fam.series) == 0 {
			delete(s.families, name)
		}
	}
	ch <- prometheus.MustNewConstMetric(seriesDesc, prometheus.GaugeValue, float64(s.nSeries))
	ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(s.refused))
	ch <- prometheus.MustNewConstMetric(expiredDesc, prometheus.CounterValue, float64(s.expired))
}

// sanitize makes a valid metric or label name part.
func sanitize(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= '0' && c <= '9' && i > 0) {
			ok = false
			break
		}
	}
	if ok && s != "" {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= '0' && c <= '9' && i > 0) {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// ExporterMetrics returns a collector of the push exporters' health:
// queue depth (points, bytes), points delivered, dropped and rejected,
// failed deliveries and whether each is up.
func ExporterMetrics(set *exporters.Set) prometheus.Collector { return exporterMetrics{set} }

type exporterMetrics struct{ set *exporters.Set }

var (
	expLabels     = []string{"exporter", "kind"}
	queueDesc     = prometheus.NewDesc("satellite_export_queue_points", "Points waiting in an exporter's buffer.", expLabels, nil)
	queueBytes    = prometheus.NewDesc("satellite_export_queue_bytes", "Bytes (approximate) waiting in an exporter's buffer.", expLabels, nil)
	bufferDesc    = prometheus.NewDesc("satellite_export_buffer_points", "Capacity of an exporter's buffer in points.", expLabels, nil)
	receivedDesc  = prometheus.NewDesc("satellite_export_received_points_total", "Points handed to an exporter.", expLabels, nil)
	deliveredDesc = prometheus.NewDesc("satellite_export_delivered_points_total", "Points the destination accepted.", expLabels, nil)
	droppedDesc   = prometheus.NewDesc("satellite_export_dropped_points_total", "Points dropped because the buffer was full (oldest first).", expLabels, nil)
	rejectedDesc  = prometheus.NewDesc("satellite_export_rejected_points_total", "Points the destination refused (malformed, type conflicts).", expLabels, nil)
	errorsDesc    = prometheus.NewDesc("satellite_export_errors_total", "Failed deliveries (each retried with backoff).", expLabels, nil)
	upDesc        = prometheus.NewDesc("satellite_export_up", "1 when the exporter's last delivery or check succeeded.", expLabels, nil)
)

func (m exporterMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueDesc, queueBytes, bufferDesc, receivedDesc, deliveredDesc, droppedDesc, rejectedDesc, errorsDesc, upDesc} {
		ch <- d
	}
}

func (m exporterMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, st := range m.set.Statuses() {
		l := []string{st.Name, st.Kind}
		up := 0.0
		if st.State == exporters.StateOK {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(st.Queued), l...)
		ch <- prometheus.MustNewConstMetric(queueBytes, prometheus.GaugeValue, float64(st.QueuedBytes), l...)
		ch <- prometheus.MustNewConstMetric(bufferDesc, prometheus.GaugeValue, float64(st.BufferPoints), l...)
		ch <- prometheus.MustNewConstMetric(receivedDesc, prometheus.CounterValue, float64(st.Received), l...)
		ch <- prometheus.MustNewConstMetric(deliveredDesc, prometheus.CounterValue, float64(st.Delivered), l...)
		ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(st.Dropped), l...)
		ch <- prometheus.MustNewConstMetric(rejectedDesc, prometheus.CounterValue, float64(st.Rejected), l...)
		ch <- prometheus.MustNewConstMetric(errorsDesc, prometheus.CounterValue, float64(st.Failures), l...)
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up, l...)
	}
}
