package alerts

// Sources: the inputs the engine evaluates - switch and controller events,
// topology deltas and the collector's batches - and their labels.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/topology"
)

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
