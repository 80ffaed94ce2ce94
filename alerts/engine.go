// Package alerts evaluates threshold rules against the collector's samples
// and the topology's state, and turns them into alerts: pending, then
// firing once the condition has held for the rule's `for` duration, then
// resolved when it clears (with a separate clear threshold for
// hysteresis). Transitions are published on a stream, kept in a bounded
// history and, optionally, posted to a webhook.
package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
	"github.com/satellite-sdn/satellite/insights"
	"github.com/satellite-sdn/satellite/topology"
)

// Switches is what the alert engine needs of the controller
// (*controller.Controller): its event bus and its sessions, for the
// switch and port metrics.
type Switches interface {
	Bus() *controller.Bus
	Switch(dpid uint64) *controller.Session
	Switches() []*controller.Session
}

type portInfo = ofwire.Port

// Alert states and event kinds.
const (
	StatePending  = "pending"
	StateFiring   = "firing"
	StateResolved = "resolved"
)

// Defaults of Config.
const (
	DefaultHistory  = 1000
	DefaultInterval = time.Second
	// SecurityWindow is the window security_events counts events in.
	SecurityWindow = time.Minute
	maxDownLinks   = 4096
	// downLinkMemory is how long a vanished link counts as down.
	downLinkMemory = 24 * time.Hour
)

// Config holds the engine's settings.
type Config struct {
	// Rules from the configuration file (source "config").
	Rules []Rule
	// Webhook receives firing and resolved alerts (URL "" = none).
	Webhook WebhookConfig
	// History is how many firing and resolved events are kept (default 1000).
	History int
	// Interval is how often pending alerts, state metrics and topology
	// metrics are evaluated between samples (default 1s).
	Interval time.Duration
	// StaleAfter: a series that has had no sample for this long is gone;
	// its pending alerts are dropped and its firing alerts resolve
	// (default 3 x the collector's interval, at least 3 s).
	StaleAfter time.Duration
	// Store keeps the rules created through the API across restarts
	// (nil: they are kept in memory only). New loads them; AddRule,
	// PutRule and DeleteRule write to it before changing the engine.
	Store  RuleStore
	Logger *slog.Logger
}

// Sources the engine watches. Any may be nil.
type Sources struct {
	Collector  *collector.Collector
	Controller Switches
	Model      *topology.Model
	// Insights gives anomaly_score its values (nil: rules on it never fire).
	Insights InsightSource
}

// InsightSource is what the engine needs of the insights engine: what is
// wrong now, each finding with its score.
type InsightSource interface {
	Items() []insights.Item
}

// Alert is one alert: one rule firing (or about to) for one series.
type Alert struct {
	Rule       string            `json:"rule"`
	Series     string            `json:"series"` // e.g. port/0000000000000001/2, flow/..., switch/..., link/...
	Metric     string            `json:"metric"`
	State      string            `json:"state"`
	Severity   string            `json:"severity"`
	Labels     map[string]string `json:"labels"`
	Value      float64           `json:"value"` // the latest value
	Op         string            `json:"op"`
	Threshold  float64           `json:"threshold"`
	Clear      float64           `json:"clear"`
	Since      time.Time         `json:"since"` // when the condition started to hold
	FiredAt    *time.Time        `json:"fired_at,omitempty"`
	ResolvedAt *time.Time        `json:"resolved_at,omitempty"`
	Message    string            `json:"message"`
	// Description is the rule's description (what the alert means and
	// what to do about it), "" when the rule has none.
	Description string `json:"description,omitempty"`
	Reason      string `json:"reason,omitempty"` // why it resolved
	lastSeen    time.Time
	firstValue  float64
}

// Event is a transition of an alert: kind pending, firing or resolved.
// Firing and resolved events are kept in the history and sent to the
// webhook; pending ones only go on the stream.
type Event struct {
	Kind  string    `json:"kind"`
	Time  time.Time `json:"time"`
	Alert Alert     `json:"alert"`
}

// RuleInfo is a rule with where it came from ("config" or "api") and
// whether it is evaluated.
type RuleInfo struct {
	Rule
	Source string `json:"source"`
	// Status is "active" (evaluated), or "skipped" for a stored API rule
	// that was not loaded at start-up; Problem says why (it no longer
	// validates, cannot be decoded, or the configuration file has a rule
	// of the same name). Deleting a skipped rule removes it from the
	// store; PUT replaces it with a valid one.
	Status  string `json:"status"`
	Problem string `json:"problem,omitempty"`
}

// Rule sources and statuses.
const (
	SourceConfig  = "config"
	SourceAPI     = "api"
	StatusActive  = "active"
	StatusSkipped = "skipped"
)

// Errors of rule changes.
var (
	ErrRuleExists   = errors.New("a rule with that name exists")
	ErrRuleNotFound = errors.New("no such rule")
	// ErrRuleReadOnly: the rule comes from the configuration file, which
	// the API cannot change.
	ErrRuleReadOnly = errors.New("the rule comes from the configuration file")
	// ErrRuleStore: the rule store failed; the engine was not changed.
	ErrRuleStore = errors.New("storing the rule change failed, nothing was changed")
)

// skippedRule is a stored rule that was not loaded.
type skippedRule struct {
	rule    Rule
	problem string
}

type alertKey struct{ rule, series string }

// Engine evaluates rules. Its methods are safe for concurrent use.
type Engine struct {
	cfg    Config
	src    Sources
	log    *slog.Logger
	stream *collector.Stream[Event]
	hook   *webhook

	mu       sync.Mutex
	rules    map[string]*compiled
	skipped  map[string]*skippedRule // stored rules not loaded, by name
	byMetric map[string][]*compiled
	active   map[alertKey]*Alert
	history  []Event // ring
	hHead    int
	// topology state
	switchDown map[uint64]bool
	portDown   map[topology.Endpoint]bool
	portNames  map[topology.Endpoint]string
	linkDown   map[topology.LinkKey]time.Time // since when
	secEvents  map[topology.Endpoint][]secEvent
	drift      map[uint64][]driftEvent // the flow audit's findings per switch, in the last SecurityWindow

	samplesLost atomic.Uint64
	evaluations atomic.Uint64
}

type secEvent struct {
	t    time.Time
	kind string
}

// driftEvent is one event of the flow audit: n flows of one kind.
type driftEvent struct {
	t    time.Time
	kind string
	n    int
}

// driftKinds are the flow audit's kinds (audit.Kinds).
var driftKinds = []string{"missing", "modified", "extra", "foreign", "shadowed", "dead", "blackhole", "loop"}

func isDriftKind(k string) bool { return contains(driftKinds, k) }

// isDriftEvent: the flow audit's events (flow-drift, flow-shadowed,
// flow-dead, network-blackhole, network-loop), not its repairs.
func isDriftEvent(kind string) bool {
	switch kind {
	case "flow-drift", "flow-shadowed", "flow-dead", "network-blackhole", "network-loop":
		return true
	}
	return false
}

// New returns an engine with the config file's rules (validated: the
// first bad rule is an error naming it).
func New(cfg Config, src Sources) (*Engine, error) {
	if cfg.History <= 0 {
		cfg.History = DefaultHistory
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 3 * time.Second
		if src.Collector != nil {
			cfg.StaleAfter = max(cfg.StaleAfter, 3*src.Collector.Config().Interval)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	e := &Engine{
		cfg: cfg, src: src, log: cfg.Logger.With("component", "alerts"),
		stream: collector.NewStream[Event](nil),
		rules:  map[string]*compiled{}, skipped: map[string]*skippedRule{}, byMetric: map[string][]*compiled{}, active: map[alertKey]*Alert{},
		switchDown: map[uint64]bool{}, portDown: map[topology.Endpoint]bool{}, portNames: map[topology.Endpoint]string{},
		linkDown: map[topology.LinkKey]time.Time{}, secEvents: map[topology.Endpoint][]secEvent{}, drift: map[uint64][]driftEvent{},
	}
	for i, r := range cfg.Rules {
		c, err := compile(r)
		if err != nil {
			return nil, fmt.Errorf("rule %d (%s): %w", i+1, orUnnamed(r.Name), err)
		}
		if _, dup := e.rules[c.Name]; dup {
			return nil, fmt.Errorf("rule %d: name %q is used twice", i+1, c.Name)
		}
		c.source = SourceConfig
		e.rules[c.Name] = c
	}
	if cfg.Store != nil {
		if err := e.loadStored(); err != nil {
			return nil, err
		}
	}
	e.reindex()
	if cfg.Webhook.URL != "" {
		h, err := newWebhook(cfg.Webhook, e.log)
		if err != nil {
			return nil, err
		}
		e.hook = h
	}
	return e, nil
}

// loadStored loads the API rules of the store. A stored rule that cannot
// be used (undecodable, no longer valid, or named like a rule of the
// configuration file, which wins) does not stop the start: it is logged,
// kept in the store and listed as skipped.
func (e *Engine) loadStored() error {
	stored, err := e.cfg.Store.LoadRules()
	if err != nil {
		return fmt.Errorf("loading stored alert rules: %w", err)
	}
	for _, s := range stored {
		name := s.Rule.Name
		var problem string
		if s.Err != nil {
			problem = fmt.Sprintf("cannot be read: %v", s.Err)
		} else if c, ok := e.rules[name]; ok && c.source == SourceConfig {
			problem = "the configuration file has a rule with this name, which is used instead"
		} else if c, err := compile(s.Rule); err != nil {
			problem = fmt.Sprintf("no longer valid: %v", err)
		} else {
			c.source = SourceAPI
			e.rules[name] = c
			continue
		}
		e.skipped[name] = &skippedRule{rule: s.Rule, problem: problem}
		attrs := []any{"rule", name, "problem", problem,
			"fix", "satellite rules delete " + name + " removes it; satellite rules add --replace replaces it"}
		if p, ok := e.cfg.Store.(interface{ Path() string }); ok {
			attrs = append(attrs, "store", p.Path())
		}
		e.log.Warn("stored alert rule skipped", attrs...)
	}
	return nil
}

func orUnnamed(s string) string {
	if s == "" {
		return "unnamed"
	}
	return s
}

func (e *Engine) reindex() {
	e.byMetric = map[string][]*compiled{}
	for _, c := range e.rules {
		e.byMetric[c.Metric] = append(e.byMetric[c.Metric], c)
	}
	for _, l := range e.byMetric {
		sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	}
}

// Stream returns the stream alert events are published on.
func (e *Engine) Stream() *collector.Stream[Event] { return e.stream }

// ---- rules

// Rules returns every rule by name.
func (e *Engine) Rules() []RuleInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]RuleInfo, 0, len(e.rules)+len(e.skipped))
	for _, c := range e.rules {
		out = append(out, c.info())
	}
	for _, s := range e.skipped {
		out = append(out, s.info())
	}
	// by name; a skipped rule after the active rule of the same name
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Status == StatusActive
	})
	return out
}

func (c *compiled) info() RuleInfo {
	r := c.Rule
	v, cl := Threshold(c.value), Threshold(c.clear)
	r.Value, r.Clear = &v, &cl
	return RuleInfo{Rule: r, Source: c.source, Status: StatusActive}
}

func (s *skippedRule) info() RuleInfo {
	return RuleInfo{Rule: s.rule, Source: SourceAPI, Status: StatusSkipped, Problem: s.problem}
}

// Rule returns one rule: the active rule of that name, else a skipped
// stored one.
func (e *Engine) Rule(name string) (RuleInfo, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.rules[name]; ok {
		return c.info(), true
	}
	if s, ok := e.skipped[name]; ok {
		return s.info(), true
	}
	return RuleInfo{}, false
}

// store runs a change of the rule store; its error is ErrRuleStore. The
// caller holds e.mu and changes nothing before it succeeded.
func (e *Engine) store(op func(RuleStore) error) error {
	if e.cfg.Store == nil {
		return nil
	}
	if err := op(e.cfg.Store); err != nil {
		e.log.Error("alert rule store write failed; the rule change is refused", "err", err)
		return fmt.Errorf("%w: %v", ErrRuleStore, err)
	}
	return nil
}

// AddRule adds a rule (source "api"), stored first when the engine has a
// store. Errors: a *FieldError for an invalid rule; ErrRuleReadOnly if
// the configuration file has a rule of that name; ErrRuleExists if the
// name is taken by another API rule (also a skipped stored one);
// ErrRuleStore if the store failed (nothing changed).
func (e *Engine) AddRule(r Rule) (RuleInfo, error) {
	c, err := compile(r)
	if err != nil {
		return RuleInfo{}, err
	}
	c.source = SourceAPI
	e.mu.Lock()
	defer e.mu.Unlock()
	if old, ok := e.rules[c.Name]; ok && old.source == SourceConfig {
		return RuleInfo{}, fmt.Errorf("%w: %s", ErrRuleReadOnly, c.Name)
	}
	if _, ok := e.rules[c.Name]; ok {
		return RuleInfo{}, fmt.Errorf("%w: %s", ErrRuleExists, c.Name)
	}
	if _, ok := e.skipped[c.Name]; ok {
		return RuleInfo{}, fmt.Errorf("%w: %s (stored, skipped at start-up)", ErrRuleExists, c.Name)
	}
	if err := e.store(func(s RuleStore) error { return s.SaveRule(r) }); err != nil {
		return RuleInfo{}, err
	}
	e.rules[c.Name] = c
	e.reindex()
	return c.info(), nil
}

// PutRule creates or replaces an API rule (stored first, like AddRule)
// and reports whether it was created. A skipped stored rule of that name
// is replaced. Alerts of a replaced rule are kept when its metric and
// selector are unchanged (the new thresholds apply from the next value);
// otherwise they resolve. Errors: a *FieldError, ErrRuleReadOnly for a
// rule of the configuration file, ErrRuleStore.
func (e *Engine) PutRule(r Rule) (RuleInfo, bool, error) {
	c, err := compile(r)
	if err != nil {
		return RuleInfo{}, false, err
	}
	c.source = SourceAPI
	e.mu.Lock()
	defer e.mu.Unlock()
	old, existed := e.rules[c.Name]
	if existed && old.source == SourceConfig {
		return RuleInfo{}, false, fmt.Errorf("%w: %s", ErrRuleReadOnly, c.Name)
	}
	if err := e.store(func(s RuleStore) error { return s.SaveRule(r) }); err != nil {
		return RuleInfo{}, false, err
	}
	_, wasSkipped := e.skipped[c.Name]
	delete(e.skipped, c.Name)
	if existed && (old.Metric != c.Metric || !sameSelector(old.Selector, c.Selector)) {
		e.dropRuleAlerts(c.Name, time.Now(), "rule changed")
	} else if existed {
		for k, a := range e.active {
			if k.rule == c.Name {
				a.Severity, a.Op, a.Threshold, a.Clear = c.Severity, c.Op, c.value, c.clear
				a.Labels = mergeLabels(a.Labels, c.Labels)
			}
		}
	}
	e.rules[c.Name] = c
	e.reindex()
	return c.info(), !existed && !wasSkipped, nil
}

func sameSelector(a, b Selector) bool {
	eqU := func(x, y *uint32) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	eqI := func(x, y *int) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return a.DPID == b.DPID && a.Owner == b.Owner && a.Event == b.Event && eqU(a.Port, b.Port) && eqU(a.Network, b.Network) &&
		a.Remote == b.Remote && eqI(a.Path, b.Path)
}

// DeleteRule removes an API rule, from the store first; its firing alerts
// resolve. A skipped stored rule of that name is removed from the store
// (also one shadowed by a rule of the configuration file). Errors:
// ErrRuleNotFound, ErrRuleReadOnly for a rule of the configuration file,
// ErrRuleStore (nothing changed).
func (e *Engine) DeleteRule(name string) (RuleInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.skipped[name]; ok {
		if err := e.store(func(st RuleStore) error { return st.DeleteRule(name) }); err != nil {
			return RuleInfo{}, err
		}
		delete(e.skipped, name)
		return s.info(), nil
	}
	c, ok := e.rules[name]
	if !ok {
		return RuleInfo{}, fmt.Errorf("%w: %s", ErrRuleNotFound, name)
	}
	if c.source == SourceConfig {
		return RuleInfo{}, fmt.Errorf("%w: %s", ErrRuleReadOnly, name)
	}
	if err := e.store(func(st RuleStore) error { return st.DeleteRule(name) }); err != nil {
		return RuleInfo{}, err
	}
	delete(e.rules, name)
	e.reindex()
	e.dropRuleAlerts(name, time.Now(), "rule deleted")
	return c.info(), nil
}

// dropRuleAlerts resolves the firing alerts of a rule and forgets its
// pending ones. The caller holds e.mu.
func (e *Engine) dropRuleAlerts(rule string, now time.Time, reason string) {
	for k, a := range e.active {
		if k.rule != rule {
			continue
		}
		if a.State == StateFiring {
			e.resolve(k, a, now, reason)
		} else {
			delete(e.active, k)
		}
	}
}

// ---- alerts

// Active returns the pending and firing alerts, firing first, then by
// rule and series.
func (e *Engine) Active() []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Alert, 0, len(e.active))
	for _, a := range e.active {
		out = append(out, a.copy())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].State != out[j].State {
			return out[i].State == StateFiring
		}
		if out[i].Rule != out[j].Rule {
			return out[i].Rule < out[j].Rule
		}
		return out[i].Series < out[j].Series
	})
	return out
}

// History returns the firing and resolved events kept, oldest first.
func (e *Engine) History() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Event, 0, len(e.history))
	n := len(e.history)
	for i := 0; i < n; i++ {
		out = append(out, e.history[(e.hHead+i)%n])
	}
	return out
}

func (a *Alert) copy() Alert {
	c := *a
	c.Labels = make(map[string]string, len(a.Labels))
	for k, v := range a.Labels {
		c.Labels[k] = v
	}
	return c
}

// Stats are the engine's counters.
type Stats struct {
	Rules       int          `json:"rules"`                   // active rules
	Skipped     int          `json:"skipped_rules,omitempty"` // stored rules not loaded (see Rules)
	Pending     int          `json:"pending"`
	Firing      int          `json:"firing"`
	Evaluations uint64       `json:"evaluations"`  // values compared against rules
	SamplesLost uint64       `json:"samples_lost"` // collector samples the engine missed because it was slow
	Webhook     WebhookStats `json:"webhook"`
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	st := Stats{Rules: len(e.rules), Skipped: len(e.skipped), Evaluations: e.evaluations.Load(), SamplesLost: e.samplesLost.Load()}
	for _, a := range e.active {
		if a.State == StateFiring {
			st.Firing++
		} else {
			st.Pending++
		}
	}
	e.mu.Unlock()
	if e.hook != nil {
		st.Webhook = e.hook.stats()
	}
	return st
}

// ---- running

// Run evaluates until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	var samples <-chan *collector.Batch
	var sub *collector.Sub[*collector.Batch]
	if e.src.Collector != nil {
		sub = e.src.Collector.Subscribe(256)
		defer sub.Close()
		samples = sub.C
	}
	var events <-chan controller.Event
	if e.src.Controller != nil {
		bus := e.src.Controller.Bus().Subscribe(4096, controller.SwitchUp, controller.SwitchDown, controller.PortAdd, controller.PortModify, controller.PortDelete)
		defer bus.Close()
		events = bus.C
		for _, s := range e.src.Controller.Switches() {
			e.onSwitchUp(s.DPID(), s.Ports())
		}
	}
	var msub *topology.Subscription
	var deltas <-chan topology.Delta
	var version uint64
	if e.src.Model != nil {
		msub = e.src.Model.Subscribe(0, 1024)
		deltas = msub.C
		defer func() { msub.Close() }()
	}
	var hookDone chan struct{}
	if e.hook != nil {
		hookDone = make(chan struct{})
		go func() { defer close(hookDone); e.hook.run(ctx) }()
	}
	tick := time.NewTicker(e.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if hookDone != nil {
				<-hookDone
			}
			return
		case now := <-tick.C:
			e.tick(now)
			if sub != nil {
				e.samplesLost.Store(sub.Dropped())
			}
		case b := <-samples:
			e.onBatch(b)
		case ev := <-events:
			e.onControllerEvent(ev)
		case d, ok := <-deltas:
			if !ok {
				// Lagged: resume after the last delta we processed.
				msub = e.src.Model.Subscribe(version, 1024)
				deltas = msub.C
				continue
			}
			version = d.Version
			e.onDelta(d)
		}
	}
}

// series is what a value belongs to; labels are built only when an alert
// is created.
type series struct {
	key    string
	labels func() map[string]string
}

// observe feeds one value of one series to every rule of metric that
// selects it. The caller holds e.mu.
func (e *Engine) observe(c *compiled, s series, v float64, now time.Time) {
	if math.IsNaN(v) {
		return // unknown (first sample, counter reset): no change
	}
	e.evaluations.Add(1)
	k := alertKey{c.Name, s.key}
	a := e.active[k]
	if a == nil {
		if !c.fires(v) {
			return
		}
		var labels map[string]string
		if s.labels != nil {
			labels = s.labels()
		}
		a = &Alert{
			Rule: c.Name, Series: s.key, Metric: c.Metric, State: StatePending, Severity: c.Severity,
			Labels: mergeLabels(labels, c.Labels), Value: v, Op: c.Op, Threshold: c.value, Clear: c.clear,
			Since: now, lastSeen: now, firstValue: v, Description: c.Description,
		}
		e.active[k] = a
		e.publish(StatePending, now, a)
		if c.forDur == 0 {
			e.fire(a, now)
		}
		return
	}
	a.Value, a.lastSeen = v, now
	switch a.State {
	case StatePending:
		if !c.fires(v) {
			delete(e.active, k)
		} else if now.Sub(a.Since) >= c.forDur {
			e.fire(a, now)
		}
	case StateFiring:
		if !c.holds(v) {
			e.resolve(k, a, now, fmt.Sprintf("%s is %s, no longer %s %s", c.Metric, formatNum(v), c.Op, formatNum(c.clear)))
		}
	}
}

func mergeLabels(series, rule map[string]string) map[string]string {
	out := make(map[string]string, len(series)+len(rule))
	for k, v := range series {
		out[k] = v
	}
	for k, v := range rule {
		out[k] = v
	}
	return out
}

func (e *Engine) fire(a *Alert, now time.Time) {
	a.State = StateFiring
	t := now
	a.FiredAt = &t
	a.Message = e.message(a, now)
	e.log.Info("alert firing", "rule", a.Rule, "series", a.Series, "value", formatNum(a.Value), "severity", a.Severity)
	e.record(StateFiring, now, a)
}

func (e *Engine) resolve(k alertKey, a *Alert, now time.Time, reason string) {
	delete(e.active, k)
	a.State = StateResolved
	t := now
	a.ResolvedAt = &t
	a.Reason = reason
	e.log.Info("alert resolved", "rule", a.Rule, "series", a.Series, "reason", reason)
	e.record(StateResolved, now, a)
}

func (e *Engine) message(a *Alert, now time.Time) string {
	c := e.rules[a.Rule]
	what := a.Series
	if n := a.Labels["name"]; n != "" {
		what += " (" + n + ")"
	}
	msg := fmt.Sprintf("%s of %s is %s %s %s", a.Metric, what, formatNum(a.Value), a.Op, formatNum(a.Threshold))
	if c != nil && c.metric.State {
		msg = fmt.Sprintf("%s: %s", strings.ReplaceAll(a.Metric, "_", " "), what)
	}
	if d := now.Sub(a.Since); d > 0 {
		msg += fmt.Sprintf(" for %s", d.Round(time.Millisecond))
	}
	return msg
}

func (e *Engine) publish(kind string, now time.Time, a *Alert) {
	e.stream.Publish(Event{Kind: kind, Time: now, Alert: a.copy()})
}

// record keeps a firing or resolved event, publishes it and hands it to
// the webhook. The caller holds e.mu.
func (e *Engine) record(kind string, now time.Time, a *Alert) {
	ev := Event{Kind: kind, Time: now, Alert: a.copy()}
	if len(e.history) < e.cfg.History {
		e.history = append(e.history, ev)
	} else {
		e.history[e.hHead] = ev
		e.hHead = (e.hHead + 1) % len(e.history)
	}
	e.stream.Publish(ev)
	if e.hook != nil {
		e.hook.enqueue(ev)
	}
}

// tick promotes pending alerts whose `for` has passed, drops alerts of
// series that stopped reporting, and evaluates state and topology
// metrics.
func (e *Engine) tick(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, a := range e.active {
		c := e.rules[k.rule]
		if c == nil {
			delete(e.active, k)
			continue
		}
		if (c.metric.State && c.metric.scope != scopeTunnel) || c.metric.scope == scopeLink || c.metric.scope == scopeInsight || c.Metric == MetricHostCount || c.Metric == MetricSecurityEvents || c.Metric == MetricFlowDrift {
			continue // re-evaluated below from current state
		}
		if now.Sub(a.lastSeen) > e.cfg.StaleAfter {
			if a.State == StateFiring {
				e.resolve(k, a, now, "no data: the series stopped reporting (switch, port, flow or tunnel path gone)")
			} else {
				delete(e.active, k)
			}
			continue
		}
		if a.State == StatePending && c.fires(a.Value) && now.Sub(a.Since) >= c.forDur {
			e.fire(a, now)
		}
	}
	e.evalState(now)
	e.evalTopology(now)
	e.evalInsights(now)
}

// evalInsights evaluates anomaly_score: one series per finding
// (insight/KIND/SERIES); a finding that cleared resolves its alert. The
// caller holds e.mu.
func (e *Engine) evalInsights(now time.Time) {
	rules := e.byMetric[MetricAnomalyScore]
	if len(rules) == 0 || e.src.Insights == nil {
		return
	}
	seen := map[string]bool{}
	for _, it := range e.src.Insights.Items() {
		key := "insight/" + it.Kind + "/" + it.Series
		seen[key] = true
		labels := func() map[string]string {
			l := map[string]string{"kind": it.Kind, "object": it.Object, "reason": it.Reason}
			for k, v := range it.Labels {
				l[k] = v
			}
			return l
		}
		for _, c := range rules {
			if c.dpid == nil || it.Labels["dpid"] == controller.FormatDPID(*c.dpid) || it.Labels["remote"] == controller.FormatDPID(*c.dpid) {
				e.observe(c, series{key, labels}, it.Score, now)
			}
		}
	}
	e.sweepMetric(MetricAnomalyScore, seen, now, "the finding cleared (GET /api/v1/insights no longer lists it)")
}

// present tracks which series a state/topology metric evaluation saw, so
// alerts of series that no longer exist resolve.
func (e *Engine) sweepMetric(metric string, seen map[string]bool, now time.Time, reason string) {
	for k, a := range e.active {
		if a.Metric == metric && !seen[k.series] {
			if a.State == StateFiring {
				e.resolve(k, a, now, reason)
			} else {
				delete(e.active, k)
			}
		}
	}
}

func (e *Engine) selectsSwitch(c *compiled, dpid uint64) bool {
	return c.dpid == nil || *c.dpid == dpid
}

func (e *Engine) selectsPort(c *compiled, dpid uint64, port uint32) bool {
	return e.selectsSwitch(c, dpid) && (c.Selector.Port == nil || *c.Selector.Port == port)
}

// evalState evaluates switch_down and port_down from the state kept from
// controller events. The caller holds e.mu.
func (e *Engine) evalState(now time.Time) {
	if rules := e.byMetric[MetricSwitchDown]; len(rules) > 0 {
		seen := map[string]bool{}
		for dpid, down := range e.switchDown {
			key := "switch/" + controller.FormatDPID(dpid)
			seen[key] = true
			v := 0.0
			if down {
				v = 1
			}
			for _, c := range rules {
				if e.selectsSwitch(c, dpid) {
					e.observe(c, series{key, func() map[string]string { return map[string]string{"dpid": controller.FormatDPID(dpid)} }}, v, now)
				}
			}
		}
		e.sweepMetric(MetricSwitchDown, seen, now, "switch forgotten")
	}
	if rules := e.byMetric[MetricPortDown]; len(rules) > 0 {
		seen := map[string]bool{}
		for ep, down := range e.portDown {
			key := "port/" + ep.String()
			seen[key] = true
			v := 0.0
			if down {
				v = 1
			}
			for _, c := range rules {
				if e.selectsPort(c, uint64(ep.DPID), ep.Port) {
					e.observe(c, series{key, e.portLabels(ep)}, v, now)
				}
			}
		}
		e.sweepMetric(MetricPortDown, seen, now, "port deleted")
	}
}

func (e *Engine) portLabels(ep topology.Endpoint) func() map[string]string {
	return func() map[string]string {
		return map[string]string{"dpid": ep.DPID.String(), "port": strconv.FormatUint(uint64(ep.Port), 10), "name": e.portNames[ep]}
	}
}

// evalTopology evaluates link_latency_ms, host_count, link_down and
// security_events. The caller holds e.mu.
func (e *Engine) evalTopology(now time.Time) {
	m := e.src.Model
	if m == nil {
		return
	}
	lat, hosts, down, sec := e.byMetric[MetricLinkLatency], e.byMetric[MetricHostCount], e.byMetric[MetricLinkDown], e.byMetric[MetricSecurityEvents]
	linkKey := func(k topology.LinkKey) string { return "link/" + k.Src.String() + ">" + k.Dst.String() }
	linkLabels := func(k topology.LinkKey) func() map[string]string {
		return func() map[string]string {
			return map[string]string{"src": k.Src.String(), "dst": k.Dst.String(), "dpid": k.Src.DPID.String(), "port": strconv.FormatUint(uint64(k.Src.Port), 10)}
		}
	}
	linkSelected := func(c *compiled, k topology.LinkKey) bool {
		// a link is selected by either of its ends
		return e.selectsPort(c, uint64(k.Src.DPID), k.Src.Port) || e.selectsPort(c, uint64(k.Dst.DPID), k.Dst.Port)
	}
	if len(lat) > 0 {
		seen := map[string]bool{}
		for _, l := range m.Links() {
			if !l.Up() { // a down link kept for history has no latency
				continue
			}
			k := l.Key()
			key := linkKey(k)
			seen[key] = true
			for _, c := range lat {
				if linkSelected(c, k) {
					e.observe(c, series{key, linkLabels(k)}, l.LatencyMs, now)
				}
			}
		}
		e.sweepMetric(MetricLinkLatency, seen, now, "link gone")
	}
	for k, since := range e.linkDown {
		if now.Sub(since) > downLinkMemory {
			delete(e.linkDown, k) // a link gone for a day is decommissioned, not down
		}
	}
	if len(down) > 0 {
		// one series per link, not per direction: a cut link loses both
		// directions at once and is one problem (the series and labels
		// name the link from its lower end)
		seen := map[string]bool{}
		for k := range e.linkDown {
			k = canonicalLink(k)
			key := linkKey(k)
			if seen[key] {
				continue
			}
			seen[key] = true
			for _, c := range down {
				if linkSelected(c, k) {
					e.observe(c, series{key, e.linkDownLabels(k)}, 1, now)
				}
			}
		}
		// a link that came back is no longer in linkDown: its alert
		// resolves as 0
		for k, a := range e.active {
			if a.Metric == MetricLinkDown && !seen[k.series] {
				if c := e.rules[k.rule]; c != nil {
					e.observe(c, series{k.series, nil}, 0, now)
				}
			}
		}
	}
	if len(hosts) > 0 {
		counts := map[uint64]int{}
		if e.src.Controller != nil {
			for _, s := range e.src.Controller.Switches() {
				counts[s.DPID()] = 0
			}
		}
		for _, h := range m.Hosts() {
			counts[uint64(h.DPID)]++
		}
		seen := map[string]bool{}
		for dpid, n := range counts {
			key := "switch/" + controller.FormatDPID(dpid)
			seen[key] = true
			for _, c := range hosts {
				if e.selectsSwitch(c, dpid) {
					e.observe(c, series{key, func() map[string]string { return map[string]string{"dpid": controller.FormatDPID(dpid)} }}, float64(n), now)
				}
			}
		}
		e.sweepMetric(MetricHostCount, seen, now, "switch gone")
	}
	// security events: counts in the window; forget ports without events
	cutoff := now.Add(-SecurityWindow)
	for ep, evs := range e.secEvents {
		i := 0
		for i < len(evs) && evs[i].t.Before(cutoff) {
			i++
		}
		e.secEvents[ep] = evs[i:]
	}
	if len(sec) > 0 {
		seen := map[string]bool{}
		for ep, evs := range e.secEvents {
			key := "port/" + ep.String()
			seen[key] = true
			for _, c := range sec {
				if !e.selectsPort(c, uint64(ep.DPID), ep.Port) {
					continue
				}
				n := 0
				for _, ev := range evs {
					if c.Selector.Event == "" || c.Selector.Event == ev.kind {
						n++
					}
				}
				e.observe(c, series{key, e.secLabels(ep, evs)}, float64(n), now)
			}
		}
		for k, a := range e.active {
			if a.Metric == MetricSecurityEvents && !seen[k.series] {
				if c := e.rules[k.rule]; c != nil {
					e.observe(c, series{k.series, nil}, 0, now)
				}
			}
		}
	}
	for ep, evs := range e.secEvents {
		if len(evs) == 0 {
			delete(e.secEvents, ep)
		}
	}
	e.evalDrift(now, cutoff)
}

// evalDrift: flow_drift_total, the flows the audit found per switch in
// the window, per kind when the rule selects one.
func (e *Engine) evalDrift(now, cutoff time.Time) {
	for dpid, evs := range e.drift {
		i := 0
		for i < len(evs) && evs[i].t.Before(cutoff) {
			i++
		}
		if evs = evs[i:]; len(evs) == 0 {
			delete(e.drift, dpid)
		} else {
			e.drift[dpid] = evs
		}
	}
	rules := e.byMetric[MetricFlowDrift]
	if len(rules) == 0 {
		return
	}
	seen := map[string]bool{}
	for dpid, evs := range e.drift {
		for _, c := range rules {
			if !e.selectsSwitch(c, dpid) {
				continue
			}
			n, last := 0, ""
			for _, ev := range evs {
				if c.Selector.Event == "" || c.Selector.Event == ev.kind {
					n += ev.n
					last = ev.kind
				}
			}
			key := "switch/" + controller.FormatDPID(dpid) + "/drift"
			if c.Selector.Event != "" {
				key += "/" + c.Selector.Event
			}
			seen[key] = true
			e.observe(c, series{key, func() map[string]string { return map[string]string{"dpid": controller.FormatDPID(dpid), "kind": last} }}, float64(n), now)
		}
	}
	for k, a := range e.active {
		if a.Metric == MetricFlowDrift && !seen[k.series] {
			if c := e.rules[k.rule]; c != nil {
				e.observe(c, series{k.series, nil}, 0, now)
			}
		}
	}
}

// canonicalLink is the direction of a link from its lower endpoint
// (dpid, then port): both directions of a link have the same one.
func canonicalLink(k topology.LinkKey) topology.LinkKey {
	if k.Dst.DPID < k.Src.DPID || (k.Dst.DPID == k.Src.DPID && k.Dst.Port < k.Src.Port) {
		return topology.LinkKey{Src: k.Dst, Dst: k.Src}
	}
	return k
}

// linkDownLabels label a link_down alert with both ends and their port
// names.
func (e *Engine) linkDownLabels(k topology.LinkKey) func() map[string]string {
	return func() map[string]string {
		l := map[string]string{"src": k.Src.String(), "dst": k.Dst.String(), "dpid": k.Src.DPID.String(), "port": strconv.FormatUint(uint64(k.Src.Port), 10)}
		if n := e.portNames[k.Src]; n != "" {
			l["src_name"] = n
		}
		if n := e.portNames[k.Dst]; n != "" {
			l["dst_name"] = n
		}
		if l["src_name"] != "" && l["dst_name"] != "" {
			l["name"] = l["src_name"] + " ↔ " + l["dst_name"] // in the message
		}
		return l
	}
}

func (e *Engine) secLabels(ep topology.Endpoint, evs []secEvent) func() map[string]string {
	return func() map[string]string {
		l := e.portLabels(ep)()
		if len(evs) > 0 {
			l["event"] = evs[len(evs)-1].kind
		}
		return l
	}
}

// ---- inputs

func (e *Engine) onSwitchUp(dpid uint64, ports []portInfo) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.switchDown[dpid] = false
	for _, p := range ports {
		ep := topology.Endpoint{DPID: topology.DPID(dpid), Port: p.No}
		e.portDown[ep] = !p.Up()
		e.portNames[ep] = p.Name
	}
}

func (e *Engine) onControllerEvent(ev controller.Event) {
	switch ev.Kind {
	case controller.SwitchUp:
		var ports []portInfo
		if s := e.src.Controller.Switch(ev.DPID); s != nil {
			ports = s.Ports()
		}
		e.onSwitchUp(ev.DPID, ports)
	case controller.SwitchDown:
		e.mu.Lock()
		// ignore a down for a session already replaced by a new one
		if e.src.Controller.Switch(ev.DPID) == nil {
			e.switchDown[ev.DPID] = true
			for ep := range e.portDown {
				if uint64(ep.DPID) == ev.DPID {
					delete(e.portDown, ep) // the switch alert says it all
				}
			}
		}
		e.mu.Unlock()
	case controller.PortAdd, controller.PortModify, controller.PortDelete:
		if ev.Port == nil {
			return
		}
		ep := topology.Endpoint{DPID: topology.DPID(ev.DPID), Port: ev.Port.No}
		e.mu.Lock()
		if ev.Kind == controller.PortDelete {
			delete(e.portDown, ep)
		} else {
			e.portDown[ep] = !ev.Port.Up()
			e.portNames[ep] = ev.Port.Name
		}
		e.mu.Unlock()
	}
	// state metrics react at once, not at the next tick
	e.mu.Lock()
	e.evalState(time.Now())
	e.mu.Unlock()
}

func (e *Engine) onDelta(d topology.Delta) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := d.Time
	if now.IsZero() {
		now = time.Now()
	}
	switch {
	case d.Op == topology.OpSnapshot && d.Snapshot != nil:
		// links seen now are up, unless kept as down
		for _, l := range d.Snapshot.Links {
			if l.Up() {
				delete(e.linkDown, l.Key())
			} else if _, ok := e.linkDown[l.Key()]; !ok && l.DownSince != nil {
				if len(e.linkDown) >= maxDownLinks {
					e.forgetOldestDownLink()
				}
				e.linkDown[l.Key()] = *l.DownSince
			}
		}
	case d.Link != nil && (d.Op == topology.OpRemove || !d.Link.Up()):
		if _, ok := e.linkDown[d.Link.Key()]; ok { // down before, now forgotten: it went down then
			break
		}
		if len(e.linkDown) >= maxDownLinks {
			e.forgetOldestDownLink()
		}
		if d.Link.DownSince != nil {
			now = *d.Link.DownSince
		}
		e.linkDown[d.Link.Key()] = now
	case d.Link != nil:
		delete(e.linkDown, d.Link.Key())
	case d.Op == topology.OpEvent && d.Event != nil && isDriftEvent(d.Event.Kind):
		var data struct {
			Kind  string `json:"kind"`
			Flows int    `json:"flows"`
		}
		if json.Unmarshal(d.Event.Data, &data) != nil || data.Kind == "" {
			break
		}
		if data.Flows <= 0 {
			data.Flows = 1
		}
		dpid := uint64(d.Event.DPID)
		evs := append(e.drift[dpid], driftEvent{t: now, kind: data.Kind, n: data.Flows})
		if len(evs) > 1000 {
			evs = evs[len(evs)-1000:]
		}
		e.drift[dpid] = evs
	case d.Op == topology.OpEvent && d.Event != nil && isSecurityEvent(d.Event.Kind):
		ep := topology.Endpoint{DPID: d.Event.DPID, Port: d.Event.Port}
		evs := append(e.secEvents[ep], secEvent{t: now, kind: d.Event.Kind})
		if len(evs) > 1000 {
			evs = evs[len(evs)-1000:]
		}
		e.secEvents[ep] = evs
	}
	if d.Link != nil && len(e.byMetric[MetricLinkDown]) > 0 {
		e.evalTopology(time.Now())
	}
}

// isSecurityEvent: discovery's (lldp-forged, ...) and the controller's
// (switch-conflict, switch-cert-mismatch, switch-source-refused; port 0).
func isSecurityEvent(kind string) bool {
	return strings.HasPrefix(kind, "lldp-") || strings.HasPrefix(kind, "switch-")
}

func (e *Engine) forgetOldestDownLink() {
	var oldest topology.LinkKey
	var t time.Time
	for k, since := range e.linkDown {
		if t.IsZero() || since.Before(t) {
			oldest, t = k, since
		}
	}
	delete(e.linkDown, oldest)
}

// onBatch evaluates the samples of one collector poll.
func (e *Engine) onBatch(b *collector.Batch) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Unix(0, b.Time)
	switch b.Kind {
	case collector.KindPort:
		for _, metric := range portMetricNames {
			rules := e.byMetric[metric]
			for _, c := range rules {
				for i := range b.Ports {
					p := &b.Ports[i]
					if !e.selectsPort(c, p.DPID, p.Port) {
						continue
					}
					e.observe(c, series{p.Key, portSampleLabels(p)}, portValue(metric, &p.Rates), now)
				}
			}
		}
	case collector.KindFlow:
		for _, metric := range []string{MetricFlowBps, MetricFlowPps} {
			for _, c := range e.byMetric[metric] {
				for i := range b.Flows {
					f := &b.Flows[i]
					fi := f.Info
					if !e.selectsFlow(c, fi) {
						continue
					}
					v := f.Bps
					if metric == MetricFlowPps {
						v = f.Pps
					}
					e.observe(c, series{fi.Key, flowLabels(fi)}, v, now)
				}
			}
		}
	case collector.KindProbe:
		for _, metric := range []string{MetricProbeRTT, MetricProbeLoss} {
			for _, c := range e.byMetric[metric] {
				for i := range b.Probes {
					p := &b.Probes[i]
					if !e.selectsProbe(c, p) {
						continue
					}
					v := p.RTTAvgMs
					if metric == MetricProbeLoss {
						v = p.Loss
					}
					e.observe(c, series{p.Key, probeLabels(p)}, v, now)
				}
			}
		}
		for _, metric := range []string{MetricTunnelPathDown, MetricTunnelFlapping} {
			for _, c := range e.byMetric[metric] {
				for i := range b.Probes {
					p := &b.Probes[i]
					if !e.selectsProbe(c, p) {
						continue
					}
					bad := !p.Up || !p.Live
					if metric == MetricTunnelFlapping {
						bad = p.Flapping
					}
					e.observe(c, series{p.Key, probeLabels(p)}, boolValue(bad), now)
				}
			}
		}
		if cs := e.byMetric[MetricTunnelUnreachable]; len(cs) > 0 {
			// one series per host pair: unreachable when none of its paths is usable
			type pair struct{ local, remote uint64 }
			usable := map[pair]bool{}
			first := map[pair]*collector.ProbeSample{}
			var order []pair
			for i := range b.Probes {
				p := &b.Probes[i]
				k := pair{p.Local, p.Remote}
				if _, ok := first[k]; !ok {
					first[k] = p
					order = append(order, k)
				}
				usable[k] = usable[k] || (p.Up && p.Live)
			}
			for _, c := range cs {
				for _, k := range order {
					p := first[k]
					if !e.selectsProbe(c, p) {
						continue
					}
					key := "tunnel/" + controller.FormatDPID(k.local) + "/" + controller.FormatDPID(k.remote)
					ln, rn := p.LocalName, p.RemoteName
					labels := func() map[string]string {
						l := map[string]string{"dpid": controller.FormatDPID(k.local), "remote": controller.FormatDPID(k.remote), "local_name": ln, "remote_name": rn}
						if ln != "" && rn != "" {
							l["name"] = ln + " to " + rn
						}
						return l
					}
					e.observe(c, series{key, labels}, boolValue(!usable[k]), now)
				}
			}
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// selectsProbe reports whether c watches a tunnel path: dpid is the near
// host, remote the far one.
func (e *Engine) selectsProbe(c *compiled, p *collector.ProbeSample) bool {
	return e.selectsSwitch(c, p.Local) && (c.remote == nil || *c.remote == p.Remote) && (c.Selector.Path == nil || *c.Selector.Path == p.Path)
}

func probeLabels(p *collector.ProbeSample) func() map[string]string {
	local, remote, ln, rn, path, port := p.Local, p.Remote, p.LocalName, p.RemoteName, p.Path, p.Port
	return func() map[string]string {
		l := map[string]string{"dpid": controller.FormatDPID(local), "remote": controller.FormatDPID(remote), "path": strconv.Itoa(path),
			"port": strconv.FormatUint(uint64(port), 10), "local_name": ln, "remote_name": rn}
		if ln != "" && rn != "" {
			l["name"] = fmt.Sprintf("%s to %s, path %d", ln, rn, path)
		}
		return l
	}
}

func (e *Engine) selectsFlow(c *compiled, fi *collector.FlowInfo) bool {
	if !e.selectsSwitch(c, fi.DPID) {
		return false
	}
	if c.owner != nil && fi.Cookie.Kind() != *c.owner {
		return false
	}
	if n := c.Selector.Network; n != nil && (fi.Cookie.Kind() == controller.OwnerForeign || fi.Cookie.Scope() != *n) {
		return false
	}
	return true
}

var portMetricNames = []string{
	MetricPortRxBps, MetricPortTxBps, MetricPortRxPps, MetricPortTxPps, MetricPortRxDrops, MetricPortTxDrops,
	MetricPortRxErrors, MetricPortTxErrors, MetricPortRxUtil, MetricPortTxUtil,
}

func portValue(metric string, r *collector.PortRates) float64 {
	switch metric {
	case MetricPortRxBps:
		return r.RxBps
	case MetricPortTxBps:
		return r.TxBps
	case MetricPortRxPps:
		return r.RxPps
	case MetricPortTxPps:
		return r.TxPps
	case MetricPortRxDrops:
		return r.RxDrops
	case MetricPortTxDrops:
		return r.TxDrops
	case MetricPortRxErrors:
		return r.RxErrors
	case MetricPortTxErrors:
		return r.TxErrors
	case MetricPortRxUtil:
		return r.RxUtil
	default:
		return r.TxUtil
	}
}

func portSampleLabels(p *collector.PortSample) func() map[string]string {
	dpid, port, name := p.DPID, p.Port, p.Name
	return func() map[string]string {
		return map[string]string{"dpid": controller.FormatDPID(dpid), "port": strconv.FormatUint(uint64(port), 10), "name": name}
	}
}

func flowLabels(fi *collector.FlowInfo) func() map[string]string {
	return func() map[string]string {
		o := fi.Owner()
		return map[string]string{
			"dpid": controller.FormatDPID(fi.DPID), "table": strconv.Itoa(int(fi.Table)), "priority": strconv.Itoa(int(fi.Priority)),
			"owner": fi.Cookie.String(), "owner_kind": o.Kind, "network": strconv.FormatUint(uint64(o.Scope), 10), "match": fi.Match(),
		}
	}
}
