package alerts

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func u32(v uint32) *uint32 { return &v }
func th(v float64) *Threshold {
	t := Threshold(v)
	return &t
}

func ip(v int) *int { return &v }

// probeRule makes r a valid probe_rtt_ms rule.
func probeRule(r *Rule) {
	r.Metric, r.Selector, r.Value, r.Clear = MetricProbeRTT, Selector{DPID: "1", Remote: "2", Path: ip(1)}, th(10), nil
}

func validRule() Rule {
	return Rule{Name: "uplink-busy", Metric: MetricPortTxBps, Selector: Selector{DPID: "1", Port: u32(2)}, Op: ">", Value: th(800e6),
		For: Duration(30 * time.Second), Clear: th(600e6), Labels: map[string]string{"team": "net"}}
}

func TestRuleValidation(t *testing.T) {
	if err := validRule().Validate(); err != nil {
		t.Fatalf("valid rule: %v", err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(r *Rule)
		field string
		msg   string
	}{
		{"no name", func(r *Rule) { r.Name = "" }, "name", "missing"},
		{"bad name", func(r *Rule) { r.Name = "a b" }, "name", "want 1-64 letters"},
		{"no metric", func(r *Rule) { r.Metric = "" }, "metric", "missing; want one of port_rx_bps"},
		{"unknown metric", func(r *Rule) { r.Metric = "port_tx_bsp" }, "metric", `unknown metric "port_tx_bsp"; want one of port_rx_bps, port_tx_bps`},
		{"port on a probe metric", func(r *Rule) { r.Metric = MetricProbeRTT; r.Clear = nil }, "selector.port", "select its paths with dpid (the near host), remote (the far host) and path"},
		{"remote on a port metric", func(r *Rule) { r.Selector.Remote = "2" }, "selector.remote", "remote selects tunnel metrics (probe_rtt_ms, probe_loss, tunnel_*)"},
		{"path on a port metric", func(r *Rule) { r.Selector.Path = ip(1) }, "selector.path", "path selects tunnel metrics"},
		{"bad remote", func(r *Rule) { probeRule(r); r.Selector.Remote = "h2" }, "selector.remote", `datapath id "h2"`},
		{"bad path", func(r *Rule) { probeRule(r); r.Selector.Path = ip(0) }, "selector.path", "0: want an underlay path number such as 1 or 2"},
		{"loss in percent", func(r *Rule) { probeRule(r); r.Metric = MetricProbeLoss; r.Value = th(20) }, "value", "20 is above 1; probe_loss is a fraction from 0 to 1 (write 0.2 for 20 %)"},
		{"loss clear above 1", func(r *Rule) {
			probeRule(r)
			r.Metric, r.Op, r.Value, r.Clear = MetricProbeLoss, "<", th(0.5), th(2)
		}, "clear", "2 is not between 0 and 1"},
		{"unknown operator", func(r *Rule) { r.Op = "=>" }, "op", `unknown operator "=>"; want one of > >= < <= == !=`},
		{"word operator", func(r *Rule) { r.Op = "gt" }, "op", "unknown operator"},
		{"no operator", func(r *Rule) { r.Op = "" }, "op", "missing"},
		{"no value", func(r *Rule) { r.Value = nil }, "value", "missing"},
		{"negative value", func(r *Rule) { r.Value = th(-1) }, "value", "negative"},
		{"negative for", func(r *Rule) { r.For = Duration(-2 * time.Second) }, "for", "-2s is negative"},
		{"very long for", func(r *Rule) { r.For = Duration(8 * 24 * time.Hour) }, "for", "longer than a week"},
		{"clear above value for >", func(r *Rule) { r.Clear = th(900e6) }, "clear", "900M is above value 800M"},
		{"clear below value for <", func(r *Rule) { r.Op = "<"; r.Clear = th(100) }, "clear", "below value 800M"},
		{"clear with ==", func(r *Rule) { r.Op = "==" }, "clear", "needs op >"},
		{"bad severity", func(r *Rule) { r.Severity = "urgent" }, "severity", `unknown severity "urgent"; want one of info, warning, critical`},
		{"bad dpid", func(r *Rule) { r.Selector.DPID = "xyz" }, "selector.dpid", `datapath id "xyz"`},
		{"port on a flow metric", func(r *Rule) { r.Metric = MetricFlowBps; r.Clear = nil }, "selector.port", "flow_bps is a flow metric"},
		{"network on a port metric", func(r *Rule) { r.Selector.Network = u32(3) }, "selector.network", "port_tx_bps is a port metric"},
		{"network too big", func(r *Rule) { r.Metric = MetricFlowPps; r.Selector.Port = nil; r.Selector.Network = u32(1 << 24) }, "selector.network", "from 0 to 16777215"},
		{"owner on a port metric", func(r *Rule) { r.Selector.Owner = "api" }, "selector.owner", "owner selects flow metrics"},
		{"unknown owner", func(r *Rule) { r.Metric = MetricFlowBps; r.Selector.Port = nil; r.Selector.Owner = "nobody" }, "selector.owner", `unknown owner kind "nobody"`},
		{"event on another metric", func(r *Rule) { r.Selector.Event = "lldp-forged" }, "selector.event", "security_events only"},
		{"bad label", func(r *Rule) { r.Labels = map[string]string{"9x": "y"} }, "labels", `label name "9x"`},
	} {
		r := validRule()
		tc.edit(&r)
		err := r.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Msg, tc.msg) {
			t.Errorf("%s: got %v, want field %s with %q", tc.name, err, tc.field, tc.msg)
		}
	}
}

func TestProbeRules(t *testing.T) {
	r := validRule()
	probeRule(&r)
	if err := r.Validate(); err != nil {
		t.Fatalf("probe_rtt_ms: %v", err)
	}
	r = Rule{Name: "lossy", Metric: MetricProbeLoss, Op: ">", Value: th(0.2), Clear: th(0.05)}
	if err := r.Validate(); err != nil {
		t.Fatalf("probe_loss: %v", err)
	}
	rules, err := ParseRules([]byte("{name: slow-path, metric: probe_rtt_ms, selector: {dpid: \"1\", remote: \"0x3\", path: 2}, op: \">\", value: 5}"))
	if err != nil || len(rules) != 1 || rules[0].Selector.Remote != "0x3" || *rules[0].Selector.Path != 2 || rules[0].Validate() != nil {
		t.Fatalf("yaml: %+v %v", rules, err)
	}
	d, err := DecodeRule([]byte(`{"name":"x","metric":"probe_loss","selector":{"remote":"2","path":1},"op":">","value":"0.1"}`))
	if err != nil || d.Selector.Remote != "2" || *d.Selector.Path != 1 || d.Validate() != nil {
		t.Fatalf("json: %+v %v", d, err)
	}
	if _, err := DecodeRule([]byte(`{"selector":{"path":"one"}}`)); err == nil || !strings.Contains(err.Error(), "selector.path: got JSON string, want a whole number") {
		t.Fatalf("path as a string: %v", err)
	}
}

func TestStateMetricDefaults(t *testing.T) {
	c, err := compile(Rule{Name: "sw", Metric: MetricSwitchDown, For: Duration(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Op != "==" || c.value != 1 || !c.fires(1) || c.fires(0) || c.Severity != "warning" {
		t.Fatalf("defaults: op %s value %v severity %s", c.Op, c.value, c.Severity)
	}
	c, err = compile(Rule{Name: "sec", Metric: MetricSecurityEvents, Op: ">", Selector: Selector{Event: "lldp-forged"}})
	if err != nil || c.value != 0 || !c.fires(1) {
		t.Fatalf("security_events: %v %+v", err, c)
	}
}

func TestParseThreshold(t *testing.T) {
	for in, want := range map[string]float64{"800M": 800e6, "1.5G": 1.5e9, "10k": 1e4, "10K": 1e4, "2T": 2e12, "90%": 90, "0.25": 0.25, " 7 ": 7, "1e3": 1000} {
		got, err := ParseThreshold(in)
		if err != nil || float64(got) != want {
			t.Errorf("ParseThreshold(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "fast", "10 M", "1,000", "NaN", "Inf", "10MB"} {
		if _, err := ParseThreshold(in); err == nil {
			t.Errorf("ParseThreshold(%q) accepted", in)
		}
	}
}

func TestParseRules(t *testing.T) {
	yamlList := `
- name: uplink-busy
  metric: port_tx_bps
  selector: {dpid: "0000000000000001", port: 2}
  op: ">"
  value: 800M
  for: 30s
  clear: 600M
  severity: critical
  labels: {team: net}
- name: any-switch-down
  metric: switch_down
  for: 10s
`
	rules, err := ParseRules([]byte(yamlList))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[0].Name != "uplink-busy" || float64(*rules[0].Value) != 800e6 || float64(*rules[0].Clear) != 600e6 ||
		time.Duration(rules[0].For) != 30*time.Second || *rules[0].Selector.Port != 2 || rules[1].Metric != MetricSwitchDown {
		t.Fatalf("parsed %+v", rules)
	}
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
	}
	// JSON, wrapped in {"rules": [...]}, and a single rule object
	rules, err = ParseRules([]byte(`{"rules": [{"name": "f", "metric": "flow_bps", "op": ">=", "value": 1e6, "selector": {"network": 5}}]}`))
	if err != nil || len(rules) != 1 || *rules[0].Selector.Network != 5 || float64(*rules[0].Value) != 1e6 {
		t.Fatalf("json: %+v %v", rules, err)
	}
	rules, err = ParseRules([]byte(`{"name": "one", "metric": "host_count", "op": "<", "value": 1}`))
	if err != nil || len(rules) != 1 || rules[0].Name != "one" {
		t.Fatalf("single: %+v %v", rules, err)
	}
	for in, want := range map[string]string{
		"- name: x\n  metric: port_tx_bps\n  treshold: 5\n": `line 3: unknown field "treshold"`,
		"- name: x\n  selector: {prot: 1}\n":                `unknown field "selector.prot"`,
		"- name: x\n  for: soon\n":                          `"soon" is not a duration`,
		"- name: x\n  value: lots\n":                        `"lots" is not a number`,
		"- name: x\n  selector: {port: -1}\n":               "cannot unmarshal",
		"42":                                                "want a list of rules",
		"":                                                  "no rules",
		"- [1, 2]":                                          "want a rule",
	} {
		_, err := ParseRules([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestRuleJSON(t *testing.T) {
	var r Rule
	err := json.Unmarshal([]byte(`{"name":"x","metric":"port_rx_pps","op":">","value":"10k","for":"2s","clear":5000}`), &r)
	if err != nil || float64(*r.Value) != 1e4 || float64(*r.Clear) != 5000 || time.Duration(r.For) != 2*time.Second {
		t.Fatalf("%+v %v", r, err)
	}
	b, _ := json.Marshal(r)
	if !strings.Contains(string(b), `"for":"2s"`) || !strings.Contains(string(b), `"value":10000`) {
		t.Fatalf("marshal: %s", b)
	}
	for _, in := range []string{`{"for": 5}`, `{"for": "5 seconds"}`, `{"value": true}`, `{"value": "x"}`} {
		if err := json.Unmarshal([]byte(in), &r); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
}

func TestDecodeRule(t *testing.T) {
	r, err := DecodeRule([]byte(`{"name":"x","metric":"port_rx_pps","selector":{"dpid":"1","port":3},"op":">","value":"10k","for":"2s","labels":{"a":"b"}}`))
	if err != nil || float64(*r.Value) != 1e4 || *r.Selector.Port != 3 || r.Labels["a"] != "b" || time.Duration(r.For) != 2*time.Second {
		t.Fatalf("%+v %v", r, err)
	}
	for in, want := range map[string]string{
		`[1]`:                         `: want a JSON object`,
		`{"treshold": 5}`:             `treshold: unknown field`,
		`{"selector": {"prot": 1}}`:   `selector.prot: unknown field`,
		`{"selector": {"port": "2"}}`: `selector.port: got JSON string, want a whole number`,
		`{"selector": {"port": -1}}`:  `selector.port: got JSON number -1`,
		`{"selector": 5}`:             `selector: want an object`,
		`{"value": "lots"}`:           `value: "lots" is not a number`,
		`{"for": 30}`:                 `for: want a duration string`,
		`{"name": 5}`:                 `name: got JSON number, want a string`,
		`{"labels": {"a": 1}}`:        `labels: got JSON number, want a string`,
		`{"value": 1} trailing`:       `want a JSON object`,
	} {
		_, err := DecodeRule([]byte(in))
		var fe *FieldError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}
