// Package alerts evaluates threshold rules against the collector's samples
// and the topology's state, and turns them into alerts: pending, then
// firing once the condition has held for the rule's `for` duration, then
// resolved when it clears (with a separate clear threshold for
// hysteresis). Transitions are published on a stream, kept in a bounded
// history and, optionally, posted to a webhook.
package alerts

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
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
