package config

import (
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/collector"
)

func TestCollectorAndAlertsDefaults(t *testing.T) {
	clearEnv(t)
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	cc := c.CollectorConfig(nil)
	if cc.Interval != 5*time.Second || cc.Timeout != 0 || cc.SkipFlows || cc.SkipTables || cc.SkipGroups ||
		cc.RawRetention != time.Hour || cc.DownsampledRetention != 24*time.Hour || cc.Step != time.Minute || cc.MaxSeries != 250000 {
		t.Fatalf("collector defaults %+v", cc)
	}
	ac := c.AlertsConfig(nil)
	if ac.Interval != time.Second || ac.History != 1000 || ac.Webhook.URL != "" || ac.Webhook.Retries != 3 || len(ac.Rules) != 0 {
		t.Fatalf("alerts defaults %+v", ac)
	}
}

func TestCollectorAndAlertsFromFile(t *testing.T) {
	clearEnv(t)
	p := writeFile(t, `
collector:
  interval: 1s
  timeout: 3s
  groups: false
  history: {raw: 30m, downsampled: 0s}
  max_series: 5000
  flow_history: {foreign: 0, max: 2000}
  flow_poll: {factor: 10, max_interval: 2m}
alerts:
  history: 50
  webhook: {url: "http://127.0.0.1:9/hook", retries: 0}
  rules:
    - name: uplink-busy
      metric: port_tx_bps
      selector: {dpid: "1", port: 2}
      op: ">"
      value: 800M
      for: 30s
      clear: 600M
    - {name: gone, metric: switch_down, severity: critical}
`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	cc := c.CollectorConfig(nil)
	if cc.Interval != time.Second || cc.Timeout != 3*time.Second || !cc.SkipGroups || cc.SkipFlows || cc.RawRetention != 30*time.Minute ||
		cc.DownsampledRetention >= 0 || cc.MaxSeries != 5000 || cc.FlowHistoryForeign != -1 || cc.FlowHistoryMax != 2000 ||
		cc.FlowPollFactor != 10 || cc.FlowPollMaxInterval != 2*time.Minute {
		t.Fatalf("collector %+v", cc)
	}
	// the settings reach a collector as given: no downsampled tier
	if n := collector.New(cc, nil).Config().DownsampledPoints(); n != 0 {
		t.Fatalf("downsampled points %d", n)
	}
	ac := c.AlertsConfig(nil)
	if ac.History != 50 || ac.Webhook.URL != "http://127.0.0.1:9/hook" || ac.Webhook.Retries != -1 || len(ac.Rules) != 2 ||
		float64(*ac.Rules[0].Value) != 800e6 || time.Duration(ac.Rules[0].For) != 30*time.Second || ac.Rules[1].Severity != "critical" {
		t.Fatalf("alerts %+v", ac)
	}
	if c.Source("collector.interval") != p || c.Source("alerts.rules") != p {
		t.Fatalf("sources %q %q", c.Source("collector.interval"), c.Source("alerts.rules"))
	}
}

func TestCollectorAndAlertsErrors(t *testing.T) {
	clearEnv(t)
	// decoding: unknown settings and fields, with their lines
	for text, want := range map[string]string{
		"collector:\n  intervall: 1s\n":                     `line 2: unknown setting "collector.intervall"`,
		"collector:\n  history: {raw: 1h, keep: 2}\n":       `unknown setting "collector.history.keep"`,
		"alerts:\n  webhook: {uri: x}\n":                    `unknown setting "alerts.webhook.uri"`,
		"alerts:\n  rules:\n    - {name: a, treshold: 5}\n": `alerts.rules: line 3: unknown field "treshold"`,
		"alerts:\n  rules:\n    - {name: a, for: soon}\n":   `"soon" is not a duration`,
		"alerts:\n  rules: {name: a}\n":                     "alerts.rules",
		"collector:\n  interval: fast\n":                    `collector.interval: line 2: "fast" is not a duration`,
		"collector:\n  flows: maybe\n":                      "collector.flows",
	} {
		_, err := Load(writeFile(t, text))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
	// validation: every problem, each naming its setting
	p := writeFile(t, `
collector:
  interval: 10ms
  timeout: 5ms
  history: {raw: 1ms, downsampled: 1h, step: 2h}
  max_series: 0
  flow_history: {foreign: 20, max: 10}
  flow_poll: {factor: -1, max_interval: 1ms}
alerts:
  interval: 0s
  history: 0
  webhook: {url: "ftp://x", retries: 11}
  rules:
    - {name: a, metric: port_tx_bsp, op: ">", value: 1}
    - {name: b, metric: port_tx_bps, op: "=>", value: 1}
    - {name: c, metric: port_tx_bps, op: ">", value: 1, for: -2s}
    - {name: d, metric: port_tx_bps, op: ">", value: 1}
    - {name: d, metric: port_rx_bps, op: ">", value: 1}
`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"config: collector.interval: 10ms is too short; want at least 100ms (such as 5s) (set in " + p + ")",
		"config: collector.timeout: 5ms is too short",
		"config: collector.history.raw: 1ms is shorter than the interval 10ms",
		"config: collector.history.step: 2h0m0s is longer than history.downsampled 1h0m0s",
		"config: collector.max_series: 0; want a whole number of at least 1",
		"config: collector.flow_history.foreign: 20; want 0 (no foreign flow keeps a history) up to flow_history.max (10)",
		"config: collector.flow_poll.factor: -1; want 0 (off) to 1000",
		"config: collector.flow_poll.max_interval: 1ms is shorter than the interval 10ms",
		"config: alerts.interval: 0s; want 10ms to 1m",
		"config: alerts.history: 0; want 1 to 1000000",
		`config: alerts.webhook.url: "ftp://x": want an http:// or https:// URL`,
		"config: alerts.webhook.retries: 11; want 0 to 10",
		`config: alerts.rules[1] (a).metric: unknown metric "port_tx_bsp"; want one of port_rx_bps`,
		`config: alerts.rules[2] (b).op: unknown operator "=>"`,
		"config: alerts.rules[3] (c).for: -2s is negative",
		`config: alerts.rules[5] (d).name: "d" is also the name of rule 4`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestAlertRulesFile(t *testing.T) {
	for state, want := range map[string]string{
		DefaultStateFile:         "/var/lib/satellite/state-alerts.db",
		"/srv/sat/prod.bolt":     "/srv/sat/prod-alerts.bolt",
		"/srv/sat/state":         "/srv/sat/state-alerts.db",
		"relative/dir/state.db":  "relative/dir/state-alerts.db",
		"state.db":               "state-alerts.db",
		"/srv/sat.d/state.v2.db": "/srv/sat.d/state.v2-alerts.db",
	} {
		c := Default()
		c.StateFile = state
		if got := c.AlertRulesFile(); got != want {
			t.Errorf("state_file %s: alert rules in %s, want %s", state, got, want)
		}
	}
}
