package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/satellite-sdn/satellite/internal/duration"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/satellite-sdn/satellite/controller"
)

// Rule is a threshold rule, as written in the config file (YAML) or sent
// to the API (JSON):
//
//	name: uplink-busy
//	metric: port_tx_bps
//	selector: {dpid: "1", port: 2}
//	op: ">"
//	value: 800M
//	for: 30s
//	clear: 600M
//	severity: warning
//	labels: {team: network}
//
// An alert starts pending when the metric of a series the selector picks
// satisfies "metric op value", fires once that has held for the whole
// `for` duration, and resolves when "metric op clear" no longer holds
// (clear defaults to value; a lower clear for > keeps the alert firing
// while the metric hovers between the two: hysteresis).
type Rule struct {
	Name        string            `json:"name" yaml:"name"`
	Metric      string            `json:"metric" yaml:"metric"`
	Selector    Selector          `json:"selector" yaml:"selector"`
	Op          string            `json:"op,omitempty" yaml:"op"`
	Value       *Threshold        `json:"value,omitempty" yaml:"value"`
	For         Duration          `json:"for,omitempty" yaml:"for"`
	Clear       *Threshold        `json:"clear,omitempty" yaml:"clear"`
	Severity    string            `json:"severity,omitempty" yaml:"severity"`
	Labels      map[string]string `json:"labels,omitempty" yaml:"labels"`
	Description string            `json:"description,omitempty" yaml:"description"`
}

// Selector picks the series a rule watches; empty fields select all.
type Selector struct {
	// DPID is a datapath id: 1-16 hex digits with optional 0x, or
	// colon-separated bytes.
	DPID string `json:"dpid,omitempty" yaml:"dpid"`
	// Port is a port number (port, link and security metrics).
	Port *uint32 `json:"port,omitempty" yaml:"port"`
	// Network is a virtual network id (flow metrics: the cookie's scope).
	Network *uint32 `json:"network,omitempty" yaml:"network"`
	// Owner is a flow owner kind (flow metrics: api, interface, router, ...).
	Owner string `json:"owner,omitempty" yaml:"owner"`
	// Event is a security event kind (security_events: lldp-forged, ...).
	Event string `json:"event,omitempty" yaml:"event"`
	// Remote is the datapath id of the far host of a tunnel path (probe
	// metrics; DPID selects the near one, where the probes start).
	Remote string `json:"remote,omitempty" yaml:"remote"`
	// Path is an underlay path number, 1 or 2 (probe metrics).
	Path *int `json:"path,omitempty" yaml:"path"`
}

// scope says what a metric's series are.
type scope uint8

const (
	scopePort scope = iota + 1
	scopeFlow
	scopeLink
	scopeSwitch
	scopeTunnel
	scopeInsight
)

var scopeNames = map[scope]string{scopePort: "port", scopeFlow: "flow", scopeLink: "link", scopeSwitch: "switch", scopeTunnel: "tunnel", scopeInsight: "insight"}

// MetricInfo describes one metric rules can watch.
type MetricInfo struct {
	Name  string `json:"name"`
	Scope string `json:"scope"` // port, flow, link, switch, tunnel or insight
	Unit  string `json:"unit"`
	About string `json:"about"`
	// State metrics are 1 while a condition holds (switch down, ...) and
	// 0 otherwise; their op and value default to "== 1".
	State bool `json:"state,omitempty"`
	// Later metrics are reserved: rules using them are refused until the
	// subsystem that produces them exists.
	Later bool `json:"later,omitempty"`
	scope scope
}

// Metric names.
const (
	MetricPortRxBps      = "port_rx_bps"
	MetricPortTxBps      = "port_tx_bps"
	MetricPortRxPps      = "port_rx_pps"
	MetricPortTxPps      = "port_tx_pps"
	MetricPortRxDrops    = "port_rx_drops"
	MetricPortTxDrops    = "port_tx_drops"
	MetricPortRxErrors   = "port_rx_errors"
	MetricPortTxErrors   = "port_tx_errors"
	MetricPortRxUtil     = "port_rx_util"
	MetricPortTxUtil     = "port_tx_util"
	MetricFlowBps        = "flow_bps"
	MetricFlowPps        = "flow_pps"
	MetricLinkLatency    = "link_latency_ms"
	MetricHostCount      = "host_count"
	MetricSwitchDown     = "switch_down"
	MetricPortDown       = "port_down"
	MetricLinkDown       = "link_down"
	MetricSecurityEvents = "security_events"
	MetricProbeRTT       = "probe_rtt_ms"
	MetricProbeLoss      = "probe_loss"
	// tunnel states, from the prober's samples
	MetricTunnelPathDown    = "tunnel_path_down"
	MetricTunnelFlapping    = "tunnel_flapping"
	MetricTunnelUnreachable = "tunnel_unreachable"
	// the score of each finding of the insights engine
	MetricAnomalyScore = "anomaly_score"
	// the flow audit's findings (audit/)
	MetricFlowDrift = "flow_drift_total"
)

// Metrics lists every metric, in documentation order.
var Metrics = []MetricInfo{
	{Name: MetricPortRxBps, scope: scopePort, Unit: "bit/s", About: "bits received per second"},
	{Name: MetricPortTxBps, scope: scopePort, Unit: "bit/s", About: "bits sent per second"},
	{Name: MetricPortRxPps, scope: scopePort, Unit: "packet/s", About: "packets received per second"},
	{Name: MetricPortTxPps, scope: scopePort, Unit: "packet/s", About: "packets sent per second"},
	{Name: MetricPortRxDrops, scope: scopePort, Unit: "packet/s", About: "received packets dropped per second"},
	{Name: MetricPortTxDrops, scope: scopePort, Unit: "packet/s", About: "packets to send dropped per second"},
	{Name: MetricPortRxErrors, scope: scopePort, Unit: "error/s", About: "receive errors per second"},
	{Name: MetricPortTxErrors, scope: scopePort, Unit: "error/s", About: "transmit errors per second"},
	{Name: MetricPortRxUtil, scope: scopePort, Unit: "%", About: "receive rate as a percentage of the port's current speed"},
	{Name: MetricPortTxUtil, scope: scopePort, Unit: "%", About: "send rate as a percentage of the port's current speed"},
	{Name: MetricFlowBps, scope: scopeFlow, Unit: "bit/s", About: "bits per second matched by a flow"},
	{Name: MetricFlowPps, scope: scopeFlow, Unit: "packet/s", About: "packets per second matched by a flow"},
	{Name: MetricLinkLatency, scope: scopeLink, Unit: "ms", About: "LLDP latency of a directed link (controller to switch to switch to controller)"},
	{Name: MetricHostCount, scope: scopeSwitch, Unit: "hosts", About: "hosts attached to a switch"},
	{Name: MetricSwitchDown, scope: scopeSwitch, State: true, About: "1 while a switch that was connected is disconnected"},
	{Name: MetricPortDown, scope: scopePort, State: true, About: "1 while a port is administratively or physically down"},
	{Name: MetricLinkDown, scope: scopeLink, State: true, About: "1 while a link discovery saw has disappeared"},
	{Name: MetricSecurityEvents, scope: scopePort, Unit: "events", About: "security events of discovery (lldp-forged, lldp-replayed, ...) on a port, and of the controller (switch-conflict, switch-cert-mismatch, ...) on port 0 of the datapath claimed, in the last minute"},
	{Name: MetricProbeRTT, scope: scopeTunnel, Unit: "ms", About: "average round-trip time of a tunnel path's probes over the prober's window"},
	{Name: MetricProbeLoss, scope: scopeTunnel, Unit: "ratio", About: "fraction of a tunnel path's probes lost over the prober's window, 0 to 1 (0.2 is 20 %)"},
	{Name: MetricTunnelPathDown, scope: scopeTunnel, State: true, About: "1 while a tunnel path is unusable: the probes judged it down or BFD says its port is not live"},
	{Name: MetricTunnelFlapping, scope: scopeTunnel, State: true, About: "1 while a tunnel path is damped for flapping (too many state changes)"},
	{Name: MetricTunnelUnreachable, scope: scopeTunnel, State: true, About: "1 while no path from a host to another is usable: their traffic is dropped"},
	{Name: MetricAnomalyScore, scope: scopeInsight, Unit: "score", About: "the score of each thing wrong now (GET /api/v1/insights): 1 at a detector's threshold, one more per doubling beyond it, up to 20; dpid selects the findings about a switch"},
	{Name: MetricFlowDrift, scope: scopeSwitch, Unit: "flows", About: "flows the flow audit found differing from the intent or broken on a switch in the last minute, per kind (selector.event: missing, modified, extra, foreign, shadowed, dead, blackhole or loop; default every kind); /metrics exports the running total"},
}

var metricsByName = func() map[string]*MetricInfo {
	m := map[string]*MetricInfo{}
	for i := range Metrics {
		Metrics[i].Scope = scopeNames[Metrics[i].scope]
		m[Metrics[i].Name] = &Metrics[i]
	}
	return m
}()

func metricNames() string {
	var names []string
	for _, m := range Metrics {
		if !m.Later {
			names = append(names, m.Name)
		}
	}
	return strings.Join(names, ", ")
}

// Operators and severities.
var (
	Ops        = []string{">", ">=", "<", "<=", "==", "!="}
	Severities = []string{"info", "warning", "critical"}
)

// DefaultSeverity is the severity of a rule that names none.
const DefaultSeverity = "warning"

// FieldError is a rule validation error naming the field that is wrong.
type FieldError struct {
	Field string // "metric", "selector.port", "for", ...
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

var (
	ruleName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	labelName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

// compiled is a validated rule ready for evaluation.
type compiled struct {
	Rule
	metric     *MetricInfo
	value      float64
	clear      float64
	forDur     time.Duration
	dpid       *uint64
	remote     *uint64 // probe metrics: the far host
	owner      *controller.OwnerKind
	fires      func(v float64) bool // the condition with value
	holds      func(v float64) bool // the condition with clear: firing continues while it holds
	source     string
	hysteresis bool
}

func compare(op string, threshold float64) func(float64) bool {
	switch op {
	case ">":
		return func(v float64) bool { return v > threshold }
	case ">=":
		return func(v float64) bool { return v >= threshold }
	case "<":
		return func(v float64) bool { return v < threshold }
	case "<=":
		return func(v float64) bool { return v <= threshold }
	case "==":
		return func(v float64) bool { return v == threshold }
	default: // !=
		return func(v float64) bool { return v != threshold }
	}
}

// Validate checks a rule and returns the first problem as a *FieldError.
func (r Rule) Validate() error {
	_, err := compile(r)
	return err
}

// compile validates r and fills in its defaults.
func compile(r Rule) (*compiled, error) {
	c := &compiled{Rule: r}
	switch {
	case r.Name == "":
		return nil, fieldErr("name", "missing; want a name such as uplink-busy")
	case !ruleName.MatchString(r.Name):
		return nil, fieldErr("name", "%q: want 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit", r.Name)
	}
	m, ok := metricsByName[r.Metric]
	switch {
	case r.Metric == "":
		return nil, fieldErr("metric", "missing; want one of %s", metricNames())
	case !ok:
		return nil, fieldErr("metric", "unknown metric %q; want one of %s", r.Metric, metricNames())
	case m.Later:
		return nil, fieldErr("metric", "%s is not available yet (it comes with tunnel probes)", r.Metric)
	}
	c.metric = m
	// selector
	s := r.Selector
	if s.DPID != "" {
		d, err := controller.ParseDPID(s.DPID)
		if err != nil {
			return nil, fieldErr("selector.dpid", "%v", err)
		}
		c.dpid = &d
	}
	if s.Port != nil && m.scope != scopePort && m.scope != scopeLink {
		if m.scope == scopeTunnel {
			return nil, fieldErr("selector.port", "%s is a tunnel metric; select its paths with dpid (the near host), remote (the far host) and path (1, 2)", r.Metric)
		}
		return nil, fieldErr("selector.port", "%s is a %s metric; port selects port and link metrics", r.Metric, m.Scope)
	}
	if s.Remote != "" {
		if m.scope != scopeTunnel {
			return nil, fieldErr("selector.remote", "%s is a %s metric; remote selects tunnel metrics (probe_rtt_ms, probe_loss, tunnel_*)", r.Metric, m.Scope)
		}
		d, err := controller.ParseDPID(s.Remote)
		if err != nil {
			return nil, fieldErr("selector.remote", "%v", err)
		}
		c.remote = &d
	}
	if s.Path != nil {
		if m.scope != scopeTunnel {
			return nil, fieldErr("selector.path", "%s is a %s metric; path selects tunnel metrics (probe_rtt_ms, probe_loss, tunnel_*)", r.Metric, m.Scope)
		}
		if r.Metric == MetricTunnelUnreachable {
			return nil, fieldErr("selector.path", "tunnel_unreachable is about all paths between two hosts; select them with dpid and remote")
		}
		if *s.Path < 1 || *s.Path > 255 {
			return nil, fieldErr("selector.path", "%d: want an underlay path number such as 1 or 2", *s.Path)
		}
	}
	if s.Network != nil {
		if m.scope != scopeFlow {
			return nil, fieldErr("selector.network", "%s is a %s metric; network selects flow metrics (flow_bps, flow_pps)", r.Metric, m.Scope)
		}
		if *s.Network > controller.MaxScope {
			return nil, fieldErr("selector.network", "%d: want a virtual network id from 0 to %d", *s.Network, controller.MaxScope)
		}
	}
	if s.Owner != "" {
		if m.scope != scopeFlow {
			return nil, fieldErr("selector.owner", "%s is a %s metric; owner selects flow metrics (flow_bps, flow_pps)", r.Metric, m.Scope)
		}
		k, err := controller.ParseOwnerKind(s.Owner)
		if err != nil {
			return nil, fieldErr("selector.owner", "%v", err)
		}
		c.owner = &k
	}
	if s.Event != "" && r.Metric == MetricFlowDrift {
		if !isDriftKind(s.Event) {
			return nil, fieldErr("selector.event", "%q: want a flow audit kind: %s", s.Event, strings.Join(driftKinds, ", "))
		}
	} else if s.Event != "" {
		if r.Metric != MetricSecurityEvents {
			return nil, fieldErr("selector.event", "event selects security_events only (and flow_drift_total, by audit kind)")
		}
		if !isSecurityEvent(s.Event) {
			return nil, fieldErr("selector.event", "%q: want a security event kind such as lldp-forged, lldp-replayed, lldp-unsigned, switch-conflict, switch-cert-mismatch", s.Event)
		}
	}
	// operator and thresholds
	op := r.Op
	if op == "" {
		if !m.State {
			return nil, fieldErr("op", "missing; want one of %s", strings.Join(Ops, " "))
		}
		op = "=="
	}
	if !contains(Ops, op) {
		return nil, fieldErr("op", "unknown operator %q; want one of %s", op, strings.Join(Ops, " "))
	}
	c.Op = op
	switch {
	case r.Value != nil:
		c.value = float64(*r.Value)
	case m.State:
		c.value = 1
	case r.Metric == MetricSecurityEvents, r.Metric == MetricFlowDrift:
		c.value = 0
	default:
		return nil, fieldErr("value", "missing; want a number such as 800M, 1.5G, 10k or 90")
	}
	if math.IsNaN(c.value) || math.IsInf(c.value, 0) {
		return nil, fieldErr("value", "want a finite number")
	}
	if c.value < 0 {
		return nil, fieldErr("value", "%v is negative; %s is never below 0", c.value, r.Metric)
	}
	if r.Metric == MetricProbeLoss && c.value > 1 {
		return nil, fieldErr("value", "%s is above 1; probe_loss is a fraction from 0 to 1 (write 0.2 for 20 %%)", formatNum(c.value))
	}
	c.clear = c.value
	if r.Clear != nil {
		c.clear = float64(*r.Clear)
		c.hysteresis = c.clear != c.value
		switch {
		case math.IsNaN(c.clear) || math.IsInf(c.clear, 0):
			return nil, fieldErr("clear", "want a finite number")
		case r.Metric == MetricProbeLoss && (c.clear < 0 || c.clear > 1):
			return nil, fieldErr("clear", "%s is not between 0 and 1; probe_loss is a fraction (write 0.1 for 10 %%)", formatNum(c.clear))
		case op == "==" || op == "!=":
			return nil, fieldErr("clear", "a clear threshold needs op >, >=, < or <= (got %s)", op)
		case (op == ">" || op == ">=") && c.clear > c.value:
			return nil, fieldErr("clear", "%s is above value %s; with op %s the alert clears below the value, so want clear <= value", formatNum(c.clear), formatNum(c.value), op)
		case (op == "<" || op == "<=") && c.clear < c.value:
			return nil, fieldErr("clear", "%s is below value %s; with op %s the alert clears above the value, so want clear >= value", formatNum(c.clear), formatNum(c.value), op)
		}
	}
	c.fires, c.holds = compare(op, c.value), compare(op, c.clear)
	if r.For < 0 {
		return nil, fieldErr("for", "%s is negative; want a duration such as 30s (0 fires at once)", time.Duration(r.For))
	}
	if time.Duration(r.For) > 7*24*time.Hour {
		return nil, fieldErr("for", "%s is longer than a week", time.Duration(r.For))
	}
	c.forDur = time.Duration(r.For)
	if c.Severity == "" {
		c.Severity = DefaultSeverity
	}
	if !contains(Severities, c.Severity) {
		return nil, fieldErr("severity", "unknown severity %q; want one of %s", c.Severity, strings.Join(Severities, ", "))
	}
	if len(r.Labels) > 32 {
		return nil, fieldErr("labels", "%d labels; at most 32", len(r.Labels))
	}
	keys := make([]string, 0, len(r.Labels))
	for k := range r.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !labelName.MatchString(k) {
			return nil, fieldErr("labels", "label name %q: want a letter or '_' then letters, digits or '_' (at most 64)", k)
		}
		if len(r.Labels[k]) > 256 {
			return nil, fieldErr("labels", "label %s: value longer than 256 bytes", k)
		}
	}
	if len(r.Description) > 1024 {
		return nil, fieldErr("description", "longer than 1024 bytes")
	}
	return c, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ---- Threshold and Duration

// Threshold is a rule's number. In JSON and YAML it is a number or a
// string with an SI suffix: k (1e3), M (1e6), G (1e9), T (1e12), and an
// optional "%" that is ignored ("90%" is 90, for utilisation).
type Threshold float64

// ParseThreshold parses "800M", "1.5G", "10k", "90%", "0.5".
func ParseThreshold(s string) (Threshold, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(t, "%")
	mult := 1.0
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult = 1e3
		case 'M':
			mult = 1e6
		case 'G':
			mult = 1e9
		case 'T':
			mult = 1e12
		}
		if mult != 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a number; want a number such as 800M, 1.5G, 10k or 90", s)
	}
	return Threshold(v * mult), nil
}

// UnmarshalJSON accepts a number or a string.
func (t *Threshold) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		*t = Threshold(f)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("want a number or a string such as \"800M\"")
	}
	v, err := ParseThreshold(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// UnmarshalYAML accepts a number or a string.
func (t *Threshold) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a number such as 800M, 1.5G, 10k or 90", n.Line)
	}
	v, err := ParseThreshold(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*t = v
	return nil
}

// Duration is a rule's duration: a Go duration string ("30s", "2m") in
// JSON and YAML (internal/duration, the project's one duration type).
type Duration = duration.Duration

// formatNum renders a number with an SI suffix: 800M, 1.5G, 12.3k, 0.25.
func formatNum(v float64) string {
	a := math.Abs(v)
	for _, s := range []struct {
		f float64
		s string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if a >= s.f {
			return strconv.FormatFloat(math.Round(v/s.f*100)/100, 'f', -1, 64) + s.s
		}
	}
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// ---- decoding rules from files

// ParseRules reads rules from YAML or JSON (a list of rules, or an object
// with a "rules" list), strictly: unknown fields are errors. Rules are
// not validated; see Rule.Validate.
func ParseRules(b []byte) ([]Rule, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%v", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("no rules in the file")
	}
	root := doc.Content[0]
	if root.Kind == yaml.MappingNode {
		if len(root.Content) == 2 && root.Content[0].Value == "rules" {
			root = root.Content[1]
		} else {
			// a single rule
			var r Rule
			if err := decodeStrict(root, &r); err != nil {
				return nil, err
			}
			return []Rule{r}, nil
		}
	}
	if root.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("line %d: want a list of rules, a {rules: [...]} object or one rule", root.Line)
	}
	out := make([]Rule, 0, len(root.Content))
	for _, n := range root.Content {
		var r Rule
		if err := decodeStrict(n, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// UnmarshalYAML decodes a rule strictly (unknown fields are errors).
func (r *Rule) UnmarshalYAML(n *yaml.Node) error { return decodeStrict(n, r) }

type plainRule Rule

// decodeStrict decodes a rule from n, refusing unknown keys.
func decodeStrict(n *yaml.Node, r *Rule) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a rule (a mapping with name, metric, op, value, ...)", n.Line)
	}
	if err := checkKeys(n, ruleKeys, ""); err != nil {
		return err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "selector" && n.Content[i+1].Kind == yaml.MappingNode {
			if err := checkKeys(n.Content[i+1], selectorKeys, "selector."); err != nil {
				return err
			}
		}
	}
	var p plainRule
	if err := n.Decode(&p); err != nil {
		return errors.New(strings.ReplaceAll(strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  "), "\n  ", "; "))
	}
	*r = Rule(p)
	return nil
}

var (
	ruleKeys     = []string{"name", "metric", "selector", "op", "value", "for", "clear", "severity", "labels", "description"}
	selectorKeys = []string{"dpid", "port", "network", "owner", "event", "remote", "path"}
)

func checkKeys(n *yaml.Node, known []string, prefix string) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !contains(known, k.Value) {
			return fmt.Errorf("line %d: unknown field %q (known: %s)", k.Line, prefix+k.Value, strings.Join(known, ", "))
		}
	}
	return nil
}

// DecodeRule decodes one rule from a JSON object strictly: unknown fields
// and values of the wrong type are *FieldError values naming the field
// ("value", "selector.port", ...). The rule is not validated.
func DecodeRule(b []byte) (Rule, error) {
	var r Rule
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil || top == nil {
		return r, &FieldError{Msg: "want a JSON object such as " + ruleExample}
	}
	for k, raw := range top {
		var dst any
		switch k {
		case "name":
			dst = &r.Name
		case "metric":
			dst = &r.Metric
		case "op":
			dst = &r.Op
		case "value":
			dst = &r.Value
		case "for":
			dst = &r.For
		case "clear":
			dst = &r.Clear
		case "severity":
			dst = &r.Severity
		case "labels":
			dst = &r.Labels
		case "description":
			dst = &r.Description
		case "selector":
			var sel map[string]json.RawMessage
			if err := json.Unmarshal(raw, &sel); err != nil {
				return r, fieldErr("selector", "want an object such as {\"dpid\": \"1\", \"port\": 2}")
			}
			for sk, sraw := range sel {
				var sdst any
				switch sk {
				case "dpid":
					sdst = &r.Selector.DPID
				case "port":
					sdst = &r.Selector.Port
				case "network":
					sdst = &r.Selector.Network
				case "owner":
					sdst = &r.Selector.Owner
				case "event":
					sdst = &r.Selector.Event
				case "remote":
					sdst = &r.Selector.Remote
				case "path":
					sdst = &r.Selector.Path
				default:
					return r, fieldErr("selector."+sk, "unknown field (known: %s)", strings.Join(selectorKeys, ", "))
				}
				if err := json.Unmarshal(sraw, sdst); err != nil {
					return r, fieldErr("selector."+sk, "%s", jsonProblem(err))
				}
			}
			continue
		default:
			return r, fieldErr(k, "unknown field (known: %s)", strings.Join(ruleKeys, ", "))
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return r, fieldErr(k, "%s", jsonProblem(err))
		}
	}
	return r, nil
}

const ruleExample = `{"name": "uplink-busy", "metric": "port_tx_bps", "selector": {"dpid": "1", "port": 2}, "op": ">", "value": "800M", "for": "30s", "clear": "600M"}`

func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		want := te.Type.String()
		switch strings.TrimPrefix(want, "*") {
		case "string":
			want = "a string"
		case "uint32":
			want = "a whole number from 0 to 4294967295"
		case "int":
			want = "a whole number"
		case "map[string]string":
			want = "an object of strings"
		}
		return fmt.Sprintf("got JSON %s, want %s", te.Value, want)
	}
	return err.Error()
}
