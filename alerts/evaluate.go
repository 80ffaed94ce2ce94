package alerts

// Evaluation: the alert state machine (pending, firing, resolved), its
// history and stream, and the per-tick evaluation of state, topology,
// drift and insight rules.

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/topology"
)

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
