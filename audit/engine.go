package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/vnet"
)

// Foreign flow policies (config audit.foreign).
const (
	ForeignReport     = "report"      // an entry and an event (the default)
	ForeignRemove     = "remove"      // deleted on every reconciliation, with an event
	ForeignKeepSilent = "keep-silent" // left alone and not reported
)

// ParseForeignPolicy checks a policy name ("" is report).
func ParseForeignPolicy(s string) (string, error) {
	switch s {
	case "", ForeignReport:
		return ForeignReport, nil
	case ForeignRemove, ForeignKeepSilent:
		return s, nil
	}
	return "", fmt.Errorf("unknown foreign flow policy %q: want report, remove or keep-silent", s)
}

// DefaultDeadAfter is the window after which an owned flow that counted
// no packet while its network carried traffic is reported dead.
const DefaultDeadAfter = 10 * time.Minute

// Options tune the Engine.
type Options struct {
	Logger *slog.Logger
	// Foreign is the foreign flow policy (default report).
	Foreign string
	// DeadAfter is the dead-flow window (0: DefaultDeadAfter; negative: off).
	DeadAfter time.Duration
	// NoIngressFlows: the topology's ingress flows are not intended
	// (topology.Config.NoIngressFlows).
	NoIngressFlows bool
	// Probes returns the tunnel probes' flows a switch should hold (nil:
	// probe flows are not audited).
	Probes func(dpid uint64) ([]controller.Flow, bool)
	// Events receives flow-drift, flow-repair and the other findings'
	// events (the topology model: they reach the journal and the stream).
	Events interface{ AddEvent(topology.Event) }
	// Tracer runs the per-network analysis (black holes and loops); nil
	// turns it off.
	Tracer Tracer
	// NetworkEvery bounds how often the network analysis runs after
	// reconciliations (default 10s); on-demand audits always run it.
	NetworkEvery time.Duration
	// Hold, when set and true, postpones the periodic network analysis
	// (its reads of every switch): this host is overloaded (the prober's
	// judge), and the audit must not add to it. On-demand audits run.
	Hold func() (bool, string)
	Now  func() time.Time
}

// Report is the audit of one switch.
type Report struct {
	DPID      string `json:"dpid"`
	Switch    string `json:"switch"`
	Connected bool   `json:"connected"`
	// At is when the switch's tables were read; Source says by whom:
	// "reconcile" (the reconciler's own read, before it repaired
	// anything) or "on-demand".
	At     time.Time `json:"at"`
	Source string    `json:"source"`
	Flows  int       `json:"flows"`
	// Intended counts the flows Satellite intends the switch to hold.
	Intended int `json:"intended"`
	// Pending counts the differences that are no drift: what the
	// reconciler has yet to do for a new switch or a changed intent.
	Pending int `json:"pending"`
	// Counts are the findings not repaired, per kind.
	Counts  map[string]int `json:"counts"`
	Entries []Entry        `json:"entries"`
	// OK: no finding that is not repaired (dead flows count as findings).
	OK      bool    `json:"ok"`
	AuditMs float64 `json:"audit_ms"`
	Error   string  `json:"error,omitempty"`
}

// Overview is every switch's audit and the networks' analysis.
type Overview struct {
	OK       bool     `json:"ok"`
	Policy   string   `json:"foreign_policy"`
	Switches []Report `json:"switches"`
	// Networks is the last black-hole and loop analysis.
	Networks NetworkReport `json:"networks"`
}

// Counter is flow_drift_total for one switch and kind: findings seen
// since Satellite started.
type Counter struct {
	DPID   uint64
	Switch string
	Kind   string
	Value  uint64
}

// Engine keeps the audit of every switch.
type Engine struct {
	ctl *controller.Controller
	vn  *vnet.Manager
	opt Options
	log *slog.Logger

	mu       sync.Mutex
	reports  map[uint64]*Report
	first    map[uint64]map[string]time.Time // per switch: finding key -> first seen
	settled  map[uint64]map[string]string    // per switch: what was in place as intended (placeKey -> intended)
	dead     map[uint64]*deadTracker
	counts   map[uint64]map[string]uint64
	network  NetworkReport
	netFirst map[string]time.Time
	netMu    sync.Mutex // one network analysis at a time
	kick     chan struct{}
}

// New returns an engine; install it with vn.SetAuditor(e) and Run it.
func New(ctl *controller.Controller, vn *vnet.Manager, opt Options) *Engine {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Foreign == "" {
		opt.Foreign = ForeignReport
	}
	if opt.DeadAfter == 0 {
		opt.DeadAfter = DefaultDeadAfter
	}
	if opt.NetworkEvery <= 0 {
		opt.NetworkEvery = 10 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Engine{ctl: ctl, vn: vn, opt: opt, log: opt.Logger.With("component", "audit"),
		reports: map[uint64]*Report{}, first: map[uint64]map[string]time.Time{}, settled: map[uint64]map[string]string{}, dead: map[uint64]*deadTracker{},
		counts: map[uint64]map[string]uint64{}, netFirst: map[string]time.Time{}, kick: make(chan struct{}, 1)}
}

// Policy returns the foreign flow policy.
func (e *Engine) Policy() string { return e.opt.Foreign }

// Run analyses the networks after reconciliations (at most every
// NetworkEvery) until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	if e.opt.Tracer == nil {
		<-ctx.Done()
		return
	}
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.kick:
		}
		if wait := e.opt.NetworkEvery - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		if e.opt.Hold != nil {
			if held, why := e.opt.Hold(); held {
				e.log.Debug("the network analysis waits: this host is overloaded", "why", why)
				last = time.Now()
				e.kickNetworks() // again after NetworkEvery
				continue
			}
		}
		last = time.Now()
		e.analyse(ctx)
	}
}

func (e *Engine) name(dpid uint64, cfg *vnet.Config) string {
	id := controller.FormatDPID(dpid)
	for _, d := range cfg.Datapaths {
		if d.DPID == id && d.Name != "" {
			return d.Name
		}
	}
	return id
}

// intent is what Satellite intends dpid to hold; prog is the virtual
// networks' program (nil: the switch is no datapath of theirs).
func (e *Engine) intent(dpid uint64, prog *vnet.Program, metersKnown bool) Intent {
	var in Intent
	var covers [16]bool
	if prog != nil {
		flows := prog.Flows
		if len(prog.Meters) > 0 && !metersKnown {
			flows = withoutMeters(flows) // the reconciler programs a switch without meters so
		} else {
			in.Meters = prog.Meters
		}
		in.Flows = append(in.Flows, flows...)
		in.Groups = prog.Groups
		in.OwnedGroup, in.OwnedMeter = vnet.OwnedGroup, vnet.OwnedMeter
		for _, k := range []controller.OwnerKind{controller.OwnerNetwork, controller.OwnerInterface, controller.OwnerRouter, controller.OwnerSecGroup, controller.OwnerTunnel} {
			covers[k] = true
		}
	}
	if !e.opt.NoIngressFlows {
		in.Flows = append(in.Flows, topology.IngressFlows()...)
		covers[controller.OwnerDiscovery] = true
	}
	if e.opt.Probes != nil {
		if fl, ok := e.opt.Probes(dpid); ok {
			in.Flows = append(in.Flows, fl...)
			covers[controller.OwnerProbe] = true
		}
	}
	in.Covers = func(k controller.OwnerKind) bool { return int(k) < len(covers) && covers[k] }
	return in
}

// intentPlaces is what a switch holding the intent has in place.
func intentPlaces(in Intent) map[string]string {
	m := make(map[string]string, len(in.Flows)+len(in.Groups)+len(in.Meters))
	for i := range in.Flows {
		f := &in.Flows[i]
		k := "flow|" + FlowKey(f.Table, f.Priority, f.Match)
		if _, dup := m[k]; !dup {
			m[k] = instrKey(f.Instructions)
		}
	}
	for _, g := range in.Groups {
		m[fmt.Sprintf("group|group/%d", g.ID)] = groupKey(g.Type, g.Buckets)
	}
	for _, mt := range in.Meters {
		m[fmt.Sprintf("meter|meter/%d", mt.ID)] = fmt.Sprintf("pps=%d,burst=%d", mt.PPS, mt.Burst)
	}
	return m
}

func withoutMeters(flows []controller.Flow) []controller.Flow {
	out := make([]controller.Flow, len(flows))
	for i, f := range flows {
		out[i] = f
		out[i].Instructions = nil
		for _, in := range f.Instructions {
			if in.Type() != ofp.InstructionTypeMeter {
				out[i].Instructions = append(out[i].Instructions, in)
			}
		}
	}
	return out
}

// run audits one switch's state and stores the report. It returns the
// report and the findings seen for the first time.
func (e *Engine) run(dpid uint64, cfg *vnet.Config, prog *vnet.Program, st State, at time.Time, source string) (*Report, []Entry) {
	start := time.Now()
	in := e.intent(dpid, prog, st.MetersKnown)
	entries, inPlace := CompareInPlace(in, st)
	// Drift is a change to what was in place: a flow missing or modified
	// that the switch held as intended before, a flow of ours nobody
	// intends that was not there as intended. The rest is the
	// reconciler's work to come (a new switch, a changed intent).
	e.mu.Lock()
	prev := e.settled[dpid]
	e.mu.Unlock()
	pending := 0
	kept := entries[:0]
	for _, en := range entries {
		pk := en.placeKey()
		was, known := prev[pk]
		if known {
			inPlace[pk] = was // still what was in place: a drift stays one until repaired
		}
		switch en.Kind {
		case Missing, Modified:
			if !known || was != en.Intended {
				pending++
				continue
			}
		case Extra:
			if known {
				pending++
				continue
			}
		}
		kept = append(kept, en)
	}
	entries = kept
	entries = append(entries, FindShadowed(st.Flows)...)
	e.mu.Lock()
	dt := e.dead[dpid]
	if dt == nil {
		dt = newDeadTracker()
		e.dead[dpid] = dt
	}
	entries = append(entries, dt.observe(st.Flows, at, e.opt.DeadAfter)...)
	e.mu.Unlock()
	if e.opt.Foreign == ForeignKeepSilent {
		kept := entries[:0]
		for _, en := range entries {
			if en.Kind != Foreign {
				kept = append(kept, en)
			}
		}
		entries = kept
	}
	sortEntries(entries)
	r := &Report{DPID: controller.FormatDPID(dpid), Switch: e.name(dpid, cfg), Connected: true, At: at, Source: source,
		Flows: len(st.Flows), Intended: len(in.Flows), Pending: pending}
	for i := range entries {
		en := &entries[i]
		en.DPID, en.Switch = r.DPID, r.Switch
		e.fillOwner(en, cfg)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	firstSeen := e.first[dpid]
	next := make(map[string]time.Time, len(entries))
	var fresh []Entry
	for i := range entries {
		en := &entries[i]
		k := en.Key()
		if t, ok := firstSeen[k]; ok {
			en.Since = t
		} else {
			en.Since = at
			fresh = append(fresh, *en)
		}
		next[k] = en.Since
	}
	e.first[dpid] = next
	e.settled[dpid] = inPlace
	r.Entries = entries
	r.AuditMs = float64(time.Since(start).Microseconds()) / 1000
	e.countLocked(dpid, fresh)
	r.finish()
	e.reports[dpid] = r
	return r, fresh
}

func (r *Report) finish() {
	r.Counts = map[string]int{}
	for _, en := range r.Entries {
		if !en.Repaired {
			r.Counts[en.Kind]++
		}
	}
	r.OK = len(r.Counts) == 0 && r.Error == ""
	if r.Entries == nil {
		r.Entries = []Entry{}
	}
}

func (e *Engine) countLocked(dpid uint64, fresh []Entry) {
	if len(fresh) == 0 {
		return
	}
	c := e.counts[dpid]
	if c == nil {
		c = map[string]uint64{}
		e.counts[dpid] = c
	}
	for _, en := range fresh {
		c[en.Kind]++
	}
}

func (e *Engine) fillOwner(en *Entry, cfg *vnet.Config) {
	if en.What != "flow" {
		return
	}
	ck := en.cookie
	kind := ck.Kind()
	if kind == controller.OwnerForeign {
		en.Owner = "foreign"
		return
	}
	network, name := cfg.OwnerOf(ck)
	en.Network = network
	switch {
	case name != "":
		en.Owner = kind.String() + " " + name
	case kind == controller.OwnerNetwork && network != "":
		en.Owner = "network " + network
	default:
		en.Owner = ck.String()
	}
}

// Reconciled is the vnet.Auditor hook: the reconciler read before what
// the switch held, then changed ch. Drift it found is journaled and
// marked repaired when the pass succeeded; foreign flows are removed
// under the remove policy.
func (e *Engine) Reconciled(ctx context.Context, s *controller.Session, prog *vnet.Program, before vnet.Seen, ch vnet.Changes, rerr error) {
	cfg, _ := e.vn.Config()
	dpid := s.DPID()
	st := State{Flows: before.Flows, Groups: before.Groups, Meters: before.Meters, MetersKnown: before.MetersRead}
	r, fresh := e.run(dpid, &cfg, prog, st, before.Read, "reconcile")
	e.events(fresh)
	if rerr != nil {
		e.mu.Lock()
		r.Error = "reconciliation failed: " + rerr.Error()
		r.finish()
		e.mu.Unlock()
		e.kickNetworks()
		return
	}
	// what the pass repaired
	var repaired []Entry
	e.mu.Lock() // r is the stored report: readers copy it under the lock
	for i := range r.Entries {
		en := &r.Entries[i]
		switch {
		case en.Kind == Missing, !before.Settling && (en.Kind == Modified || en.Kind == Extra):
			en.Repaired = true
			repaired = append(repaired, *en)
		}
	}
	e.mu.Unlock()
	if len(repaired) > 0 && !ch.Empty() {
		e.repairEvents(r, repaired)
	}
	if !before.Settling {
		// the switch now holds the intent
		places := intentPlaces(e.intent(dpid, prog, before.MetersRead))
		e.mu.Lock()
		e.settled[dpid] = places
		e.mu.Unlock()
	}
	if e.opt.Foreign == ForeignRemove && !before.Settling {
		e.removeForeign(ctx, s, r)
	}
	e.mu.Lock()
	r.finish()
	e.mu.Unlock()
	e.kickNetworks()
}

func (e *Engine) kickNetworks() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

func (e *Engine) removeForeign(ctx context.Context, s *controller.Session, r *Report) {
	n := 0
	tables := map[uint8]bool{}
	for i := range r.Entries {
		en := &r.Entries[i]
		if en.Kind != Foreign {
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.DeleteFlows(dctx, controller.FlowFilter{Table: en.Table, Strict: true, Priority: en.Priority, Match: en.match,
			Cookie: uint64(en.cookie), CookieMask: controller.CookieMaskAll})
		cancel()
		if err != nil {
			e.log.Warn("removing a foreign flow failed (audit.foreign: remove); will retry at the next reconciliation",
				"dpid", r.DPID, "table", en.Table, "priority", en.Priority, "match", en.Match, "err", err)
			continue
		}
		e.mu.Lock()
		en.Repaired = true
		e.mu.Unlock()
		tables[en.Table] = true
		n++
	}
	if n == 0 {
		return
	}
	var ts []string
	for t := range tables {
		ts = append(ts, fmt.Sprint(t))
	}
	sort.Strings(ts)
	msg := fmt.Sprintf("removed %d foreign flow%s from %s (table %s; policy audit.foreign: remove)", n, plural(n), r.Switch, strings.Join(ts, ", "))
	e.log.Info(msg, "dpid", r.DPID)
	e.emit(topology.Event{Kind: "flow-repair", DPID: dpidOf(r.DPID), Object: r.Switch, Message: msg,
		Data: mustJSON(map[string]any{"switch": r.Switch, "dpid": r.DPID, "kind": Foreign, "flows": n, "policy": ForeignRemove})})
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func dpidOf(s string) topology.DPID {
	d, _ := controller.ParseDPID(s)
	return topology.DPID(d)
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func (e *Engine) emit(ev topology.Event) {
	if e.opt.Events != nil {
		e.opt.Events.AddEvent(ev)
	}
}

// eventKind is the event of a finding's kind.
func eventKind(kind string) string {
	switch kind {
	case Shadowed:
		return "flow-shadowed"
	case Dead:
		return "flow-dead"
	case BlackHole:
		return "network-blackhole"
	case Loop:
		return "network-loop"
	}
	return "flow-drift"
}

// events journals fresh findings, one event per switch, table, kind and
// owner.
func (e *Engine) events(fresh []Entry) {
	type gk struct {
		dpid, sw, kind, what, owner, network string
		table                                uint8
	}
	groups := map[gk][]Entry{}
	var order []gk
	for _, en := range fresh {
		k := gk{en.DPID, en.Switch, en.Kind, en.What, en.Owner, en.Network, en.Table}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], en)
	}
	for _, k := range order {
		es := groups[k]
		n := len(es)
		var msg string
		owner := k.owner
		if k.network != "" && !strings.Contains(owner, k.network) {
			owner += " (" + k.network + ")"
		}
		switch {
		case k.what != "flow" && k.what != "path":
			msg = fmt.Sprintf("%s: %s %d %s: %s", k.sw, k.what, es[0].ID, k.kind, es[0].Detail)
		case k.what == "path":
			msg = fmt.Sprintf("network %s: %s", k.network, es[0].Detail)
		case n == 1:
			msg = fmt.Sprintf("%s table %d: %s flow priority=%d,%s of %s: %s", k.sw, k.table, k.kind, es[0].Priority, orAll(es[0].Match), owner, es[0].Detail)
		default:
			msg = fmt.Sprintf("%s table %d: %d %s flows of %s (first: priority=%d,%s)", k.sw, k.table, n, k.kind, owner, es[0].Priority, orAll(es[0].Match))
		}
		data := map[string]any{"switch": k.sw, "dpid": k.dpid, "table": k.table, "kind": k.kind, "what": k.what, "owner": k.owner, "flows": n}
		if k.network != "" {
			data["network"] = k.network
		}
		e.emit(topology.Event{Kind: eventKind(k.kind), DPID: dpidOf(k.dpid), Object: k.sw, Message: msg, Data: mustJSON(data)})
	}
}

// repairEvents journals what a pass repaired, one event per network.
func (e *Engine) repairEvents(r *Report, repaired []Entry) {
	type agg struct {
		n     int
		kinds map[string]int
		since time.Time
	}
	byNet := map[string]*agg{}
	var nets []string
	for _, en := range repaired {
		net := en.Network
		a := byNet[net]
		if a == nil {
			a = &agg{kinds: map[string]int{}}
			byNet[net] = a
			nets = append(nets, net)
		}
		a.n++
		a.kinds[en.Kind]++
		if a.since.IsZero() || en.Since.Before(a.since) {
			a.since = en.Since
		}
	}
	for _, net := range nets {
		a := byNet[net]
		what := fmt.Sprintf("%d flow%s", a.n, plural(a.n))
		if net != "" {
			what += " of network " + net
		} else {
			what += " of Satellite's"
		}
		var parts []string
		for _, k := range []string{Missing, Modified, Extra} {
			if c := a.kinds[k]; c > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", c, k))
			}
		}
		how := "removed or changed by someone else"
		if a.kinds[Missing] == a.n {
			how = "removed by someone else"
		} else if a.kinds[Modified] == a.n {
			how = "changed by someone else"
		}
		msg := fmt.Sprintf("repaired %s on %s (%s), %s at %s", what, r.Switch, strings.Join(parts, ", "), how, a.since.Local().Format("15:04:05"))
		e.log.Info(msg, "dpid", r.DPID)
		data := map[string]any{"switch": r.Switch, "dpid": r.DPID, "flows": a.n, "kinds": a.kinds, "since": a.since}
		if net != "" {
			data["network"] = net
		}
		e.emit(topology.Event{Kind: "flow-repair", DPID: dpidOf(r.DPID), Object: r.Switch, Message: msg, Data: mustJSON(data)})
	}
}

// ErrUnknownSwitch: the switch is not connected.
var ErrUnknownSwitch = errors.New("switch not connected")

// Audit reads a switch's tables now and audits them (on demand; nothing
// is changed on the switch).
func (e *Engine) Audit(ctx context.Context, dpid uint64) (Report, error) {
	s := e.ctl.Switch(dpid)
	if s == nil {
		return Report{}, fmt.Errorf("%w: dpid %016x; see satellite switches", ErrUnknownSwitch, dpid)
	}
	cfg, _ := e.vn.Config()
	progs, _ := e.vn.Programs()
	st, at, err := read(ctx, s, progs[dpid] != nil && len(progs[dpid].Meters) > 0)
	if err != nil {
		r := Report{DPID: controller.FormatDPID(dpid), Switch: e.name(dpid, &cfg), Connected: true, At: time.Now(), Source: "on-demand",
			Error: "reading the switch's tables: " + err.Error()}
		r.finish()
		return r, nil
	}
	r, fresh := e.run(dpid, &cfg, progs[dpid], st, at, "on-demand")
	e.events(fresh)
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.withNetworkLocked(*r), nil
}

func read(ctx context.Context, s *controller.Session, meters bool) (State, time.Time, error) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var st State
	g, err := s.GroupDesc(rctx)
	if err != nil {
		return st, time.Time{}, err
	}
	st.Groups = g
	if meters {
		ms, err := s.Meters(rctx)
		st.Meters, st.MetersKnown = ms, err == nil
	}
	fl, err := s.FlowStats(rctx, controller.AllFlows)
	if err != nil {
		return st, time.Time{}, err
	}
	st.Flows = fl
	return st, time.Now(), nil
}

// AuditAll audits every connected switch now, then the networks.
func (e *Engine) AuditAll(ctx context.Context) Overview {
	for _, s := range e.ctl.Switches() {
		if _, err := e.Audit(ctx, s.DPID()); err != nil {
			e.log.Debug("auditing a switch failed", "dpid", controller.FormatDPID(s.DPID()), "err", err)
		}
	}
	if e.opt.Tracer != nil {
		e.analyse(ctx)
	}
	return e.Overview()
}

// Fix asks the reconciler to converge every switch now (what it finds is
// journaled as drift and repairs), then audits every switch.
func (e *Engine) Fix(ctx context.Context) (Overview, error) {
	err := e.vn.ReconcileNow(ctx)
	return e.AuditAll(ctx), err
}

// Overview returns the last audit of every connected switch.
func (e *Engine) Overview() Overview {
	e.mu.Lock()
	defer e.mu.Unlock()
	o := Overview{OK: true, Policy: e.opt.Foreign, Switches: []Report{}, Networks: e.network}
	if o.Networks.Entries == nil {
		o.Networks.Entries = []Entry{}
	}
	connected := map[uint64]bool{}
	for _, s := range e.ctl.Switches() {
		connected[s.DPID()] = true
	}
	ids := make([]uint64, 0, len(e.reports))
	for id := range e.reports {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		r := e.withNetworkLocked(*e.reports[id])
		r.Connected = connected[id]
		if !r.OK {
			o.OK = false
		}
		o.Switches = append(o.Switches, r)
	}
	if len(o.Networks.Entries) > 0 {
		o.OK = false
	}
	return o
}

// Report returns the last audit of one switch.
func (e *Engine) Report(dpid uint64) (Report, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.reports[dpid]
	if !ok {
		return Report{}, false
	}
	return e.withNetworkLocked(*r), true
}

// withNetworkLocked adds the network analysis' findings on the switch.
func (e *Engine) withNetworkLocked(r Report) Report {
	r.Entries = append([]Entry(nil), r.Entries...)
	for _, en := range e.network.Entries {
		if en.DPID == r.DPID {
			r.Entries = append(r.Entries, en)
		}
	}
	r.finish()
	return r
}

// Counters returns flow_drift_total of every switch and kind.
func (e *Engine) Counters() []Counter {
	cfg, _ := e.vn.Config()
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Counter
	for id, c := range e.counts {
		for k, v := range c {
			out = append(out, Counter{DPID: id, Switch: e.name(id, &cfg), Kind: k, Value: v})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].DPID != out[j].DPID {
			return out[i].DPID < out[j].DPID
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}

// Forget drops a switch's audit (it disconnected for good).
func (e *Engine) Forget(dpid uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.reports, dpid)
	delete(e.first, dpid)
	delete(e.dead, dpid)
	delete(e.settled, dpid)
}

var _ vnet.Auditor = (*Engine)(nil)
