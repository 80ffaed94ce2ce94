package config

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
)

// Collector configures statistics collection (package collector,
// docs/collector.md):
//
//	collector:
//	  interval: 5s          # poll interval per switch (1s works)
//	  timeout: 10s          # per request; default 2 x interval
//	  flows: true           # poll flow, table and group statistics too
//	  tables: true
//	  groups: true
//	  history: {raw: 1h, downsampled: 24h, step: 1m}
//	  max_series: 250000
//	  flow_history: {foreign: 100, max: 10000}   # which flows keep a history of their own
//	  flow_poll: {factor: 20, max_interval: 1m}  # flow dumps yield to the switch
type Collector struct {
	Interval    Duration             `yaml:"interval"`
	Timeout     Duration             `yaml:"timeout"`
	Flows       bool                 `yaml:"flows"`
	Tables      bool                 `yaml:"tables"`
	Groups      bool                 `yaml:"groups"`
	History     CollectorHistory     `yaml:"history"`
	MaxSeries   int                  `yaml:"max_series"`
	FlowHistory CollectorFlowHistory `yaml:"flow_history"`
	FlowPoll    CollectorFlowPoll    `yaml:"flow_poll"`
}

// CollectorFlowHistory says which flows keep a history of their own: the
// ones Satellite owns, up to max per switch, and the foreign busiest
// (0: none). The others are summed per table.
type CollectorFlowHistory struct {
	Foreign int `yaml:"foreign"`
	Max     int `yaml:"max"`
}

// CollectorFlowPoll makes flow dumps yield to the switch: the next one no
// sooner than factor x the last one's duration (0: off), the flow interval
// doubling up to max_interval while a table changes fast.
type CollectorFlowPoll struct {
	Factor      int      `yaml:"factor"`
	MaxInterval Duration `yaml:"max_interval"`
}

// CollectorHistory is how long points are kept: raw (one per poll), and
// the means per step for downsampled (0s turns that tier off).
type CollectorHistory struct {
	Raw         Duration `yaml:"raw"`
	Downsampled Duration `yaml:"downsampled"`
	Step        Duration `yaml:"step"`
}

// Alerts configures the alert engine (package alerts, README "Statistics
// and alerts"):
//
//	alerts:
//	  interval: 1s          # evaluation of pending alerts and topology metrics
//	  history: 1000         # firing and resolved events kept
//	  webhook: {url: "https://hooks.example/satellite", timeout: 5s, retries: 3}
//	  rules:
//	    - {name: uplink-busy, metric: port_tx_bps, selector: {dpid: "1", port: 2},
//	       op: ">", value: 800M, for: 30s, clear: 600M, severity: warning}
type Alerts struct {
	Interval Duration      `yaml:"interval"`
	History  int           `yaml:"history"`
	Webhook  AlertsWebhook `yaml:"webhook"`
	Rules    []alerts.Rule `yaml:"rules"`
}

// AlertsWebhook is where firing and resolved alerts are posted.
type AlertsWebhook struct {
	URL     string   `yaml:"url"`
	Timeout Duration `yaml:"timeout"`
	Retries int      `yaml:"retries"`
}

func defaultCollector() Collector {
	return Collector{
		Interval: Duration(collector.DefaultInterval), Flows: true, Tables: true, Groups: true,
		History: CollectorHistory{
			Raw: Duration(collector.DefaultRawRetention), Downsampled: Duration(collector.DefaultDownsampledRetention),
			Step: Duration(collector.DefaultStep),
		},
		MaxSeries:   collector.DefaultMaxSeries,
		FlowHistory: CollectorFlowHistory{Foreign: collector.DefaultFlowHistoryForeign, Max: collector.DefaultFlowHistoryMax},
		FlowPoll:    CollectorFlowPoll{Factor: collector.DefaultFlowPollFactor, MaxInterval: Duration(collector.DefaultFlowPollMaxInterval)},
	}
}

func defaultAlerts() Alerts {
	return Alerts{
		Interval: Duration(alerts.DefaultInterval), History: alerts.DefaultHistory,
		Webhook: AlertsWebhook{Timeout: Duration(alerts.DefaultWebhookTimeout), Retries: alerts.DefaultWebhookRetries},
	}
}

// maxPointsPerSeries bounds raw and downsampled points per series, so a
// typo (interval: 1ms, raw: 30d) cannot ask for gigabytes per series.
const maxPointsPerSeries = 1_000_000

func (c Config) validateCollector(bad func(setting, format string, args ...any)) {
	col := c.Collector
	iv := time.Duration(col.Interval)
	switch {
	case iv < collector.MinInterval:
		bad("collector.interval", "%s is too short; want at least %s (such as 5s)", iv, collector.MinInterval)
	case iv > time.Hour:
		bad("collector.interval", "%s is too long; want at most 1h (such as 5s)", iv)
	}
	if d := time.Duration(col.Timeout); d != 0 && d < collector.MinInterval {
		bad("collector.timeout", "%s is too short; want at least %s, or leave it out for 2 x interval", d, collector.MinInterval)
	}
	h := col.History
	raw, ds, step := time.Duration(h.Raw), time.Duration(h.Downsampled), time.Duration(h.Step)
	if raw < iv {
		bad("collector.history.raw", "%s is shorter than the interval %s; want at least one interval (such as 1h)", raw, iv)
	} else if iv > 0 && raw/iv > maxPointsPerSeries {
		bad("collector.history.raw", "%s at an interval of %s is %d points per series; at most %d", raw, iv, raw/iv, maxPointsPerSeries)
	}
	if ds < 0 {
		bad("collector.history.downsampled", "%s is negative; want a duration such as 24h, or 0s to keep no downsampled points", ds)
	}
	if ds > 0 {
		switch {
		case step < iv:
			bad("collector.history.step", "%s is shorter than the interval %s; want a step of at least one interval (such as 1m)", step, iv)
		case step > ds:
			bad("collector.history.step", "%s is longer than history.downsampled %s", step, ds)
		case ds/step > maxPointsPerSeries:
			bad("collector.history.downsampled", "%s in steps of %s is %d points per series; at most %d", ds, step, ds/step, maxPointsPerSeries)
		}
	}
	if col.MaxSeries < 1 {
		bad("collector.max_series", "%d; want a whole number of at least 1 (such as 250000)", col.MaxSeries)
	}
	if fh := col.FlowHistory; fh.Foreign < 0 || fh.Foreign > fh.Max {
		bad("collector.flow_history.foreign", "%d; want 0 (no foreign flow keeps a history) up to flow_history.max (%d)", fh.Foreign, fh.Max)
	}
	if fh := col.FlowHistory; fh.Max < 1 {
		bad("collector.flow_history.max", "%d; want a whole number of at least 1 (such as 10000)", fh.Max)
	}
	if fp := col.FlowPoll; fp.Factor < 0 || fp.Factor > 1000 {
		bad("collector.flow_poll.factor", "%d; want 0 (off) to 1000, such as 20", fp.Factor)
	}
	if d := time.Duration(col.FlowPoll.MaxInterval); d < iv {
		bad("collector.flow_poll.max_interval", "%s is shorter than the interval %s; want at least the interval (such as 1m)", d, iv)
	}
	a := c.Alerts
	if d := time.Duration(a.Interval); d < 10*time.Millisecond || d > time.Minute {
		bad("alerts.interval", "%s; want 10ms to 1m (such as 1s)", d)
	}
	if a.History < 1 || a.History > 1_000_000 {
		bad("alerts.history", "%d; want 1 to 1000000 events (such as 1000)", a.History)
	}
	if a.Webhook.URL != "" {
		if err := alerts.CheckWebhookURL(a.Webhook.URL); err != nil {
			bad("alerts.webhook.url", "%v", err)
		}
	}
	if d := time.Duration(a.Webhook.Timeout); d <= 0 {
		bad("alerts.webhook.timeout", "%s; want a positive duration (such as 5s)", d)
	}
	if a.Webhook.Retries < 0 || a.Webhook.Retries > 10 {
		bad("alerts.webhook.retries", "%d; want 0 to 10", a.Webhook.Retries)
	}
	seen := map[string]int{}
	for i, r := range a.Rules {
		setting := fmt.Sprintf("alerts.rules[%d]", i+1)
		if r.Name != "" {
			setting += " (" + r.Name + ")"
		}
		if err := r.Validate(); err != nil {
			var fe *alerts.FieldError
			if errors.As(err, &fe) {
				bad(setting+"."+fe.Field, "%s", fe.Msg)
			} else {
				bad(setting, "%v", err)
			}
			continue
		}
		if j, dup := seen[r.Name]; dup {
			bad(setting+".name", "%q is also the name of rule %d; names must be unique", r.Name, j)
		}
		seen[r.Name] = i + 1
	}
}

// CollectorConfig returns the collector's settings; logger may be nil.
func (c Config) CollectorConfig(logger *slog.Logger) collector.Config {
	col := c.Collector
	ds := time.Duration(col.History.Downsampled)
	if ds == 0 {
		ds = -1 // off
	}
	cc := collector.Config{
		Interval: time.Duration(col.Interval), Timeout: time.Duration(col.Timeout),
		SkipFlows: !col.Flows, SkipTables: !col.Tables, SkipGroups: !col.Groups,
		RawRetention: time.Duration(col.History.Raw), DownsampledRetention: ds, Step: time.Duration(col.History.Step),
		MaxSeries: col.MaxSeries, Logger: logger,
		FlowHistoryForeign: col.FlowHistory.Foreign, FlowHistoryMax: col.FlowHistory.Max,
		FlowPollFactor: col.FlowPoll.Factor, FlowPollMaxInterval: time.Duration(col.FlowPoll.MaxInterval),
	}
	if col.FlowHistory.Foreign == 0 {
		cc.FlowHistoryForeign = -1 // none
	}
	if col.FlowPoll.Factor == 0 {
		cc.FlowPollFactor = -1 // off
	}
	return cc
}

// AlertRulesFile is the bbolt file that keeps the alert rules created
// through the API: next to the state file, named after it with "-alerts"
// (/var/lib/satellite/state.db: /var/lib/satellite/state-alerts.db). It is
// a file of its own because the virtual network store holds the state
// file's lock.
func (c Config) AlertRulesFile() string {
	dir, base := filepath.Split(c.StateFile)
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	if ext == "" {
		ext = ".db"
	}
	return filepath.Join(dir, stem+"-alerts"+ext)
}

// AlertsConfig returns the alert engine's settings (without the rule
// store: see AlertRulesFile); logger may be nil.
func (c Config) AlertsConfig(logger *slog.Logger) alerts.Config {
	a := c.Alerts
	retries := a.Webhook.Retries
	if retries == 0 {
		retries = -1 // alerts.WebhookConfig: 0 is the default, negative none
	}
	return alerts.Config{
		Rules: append([]alerts.Rule(nil), a.Rules...), History: a.History, Interval: time.Duration(a.Interval), Logger: logger,
		Webhook: alerts.WebhookConfig{URL: a.Webhook.URL, Timeout: time.Duration(a.Webhook.Timeout), Retries: retries},
	}
}
