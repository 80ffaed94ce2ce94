package journal

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/topology"
)

// Sources are what a Feeder journals. Any may be nil.
type Sources struct {
	// Model: switches, ports, links, hosts and the model's events (host
	// moves, discovery's and the controller's security events, tunnel
	// path changes and failover).
	Model *topology.Model
	// Controller: the reason of each switch disconnection.
	Controller interface{ Bus() *controller.Bus } // *controller.Controller
	// Alerts: alerts firing and resolving.
	Alerts *alerts.Engine
}

// Feeder journals every change of its sources. It never blocks them: it
// reads their streams, which drop or resubscribe when it falls behind.
type Feeder struct {
	// CheckpointEvery and CheckpointRecords: a checkpoint of the whole
	// topology (for TopologyAt) is journaled when Run starts, then after
	// this long or this many records, whichever comes first (defaults
	// 10m and 20,000). Set them before Run.
	CheckpointEvery   time.Duration
	CheckpointRecords int

	j       *Journal
	src     Sources
	log     *slog.Logger
	msub    *topology.Subscription
	bus     *controller.Subscription
	alerts  *collector.Sub[alerts.Event]
	version uint64
	portUp  map[topology.Endpoint]bool // the last state journaled, for port-up and port-down
	moved   *topology.Host             // the host of the last host update, for the host-move event after it
	since   int                        // records since the last checkpoint
	first   *topology.Snapshot         // the model as subscribed to: Run's first checkpoint
}

// NewFeeder subscribes to the sources at once, so that nothing that
// happens between now and Run is missed.
func NewFeeder(j *Journal, src Sources, log *slog.Logger) *Feeder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Feeder{j: j, src: src, log: log, portUp: map[topology.Endpoint]bool{}}
	if src.Model != nil {
		snap := src.Model.Snapshot()
		for _, p := range snap.Ports {
			f.portUp[p.Key()] = p.Up
		}
		// The first checkpoint is this snapshot, taken now: changes made
		// before Run starts come after it, so the topology at their time
		// can be rebuilt however late Run is scheduled.
		f.first = &snap
		f.version = snap.Version
		f.msub = src.Model.Subscribe(f.version, 4096) // from now: the past is in the journal already
	}
	if src.Controller != nil {
		f.bus = src.Controller.Bus().Subscribe(1024, controller.SwitchDown)
	}
	if src.Alerts != nil {
		f.AddAlerts(src.Alerts)
	}
	return f
}

// AddAlerts subscribes to an alert engine's events (before Run).
func (f *Feeder) AddAlerts(e *alerts.Engine) {
	f.src.Alerts = e
	f.alerts = e.Stream().Subscribe(1024)
}

// Run journals until ctx ends, then closes the subscriptions.
func (f *Feeder) Run(ctx context.Context) {
	var modelC <-chan topology.Delta
	if f.msub != nil {
		modelC = f.msub.C
		defer func() { f.msub.Close() }()
	}
	var busC <-chan controller.Event
	if f.bus != nil {
		defer f.bus.Close()
		busC = f.bus.C
	}
	var alertC <-chan alerts.Event
	if f.alerts != nil {
		defer f.alerts.Close()
		alertC = f.alerts.C
	}
	j := f.j
	every, maxRecs := f.CheckpointEvery, f.CheckpointRecords
	if every <= 0 {
		every = 10 * time.Minute
	}
	if maxRecs <= 0 {
		maxRecs = 20000
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	checkpoint := func() {
		if f.src.Model == nil {
			return
		}
		for f.first == nil && len(modelC) > 0 { // what the snapshot holds goes in before it
			d, ok := <-modelC
			if !ok {
				break
			}
			f.delta(d)
		}
		var snap topology.Snapshot
		if f.first != nil {
			snap, f.first = *f.first, nil
		} else {
			snap = f.src.Model.Snapshot()
		}
		j.Append(Record{Kind: KindCheckpoint, Time: snap.Taken, Data: raw(snap),
			Message: fmt.Sprintf("checkpoint at version %d: %d switches, %d ports, %d links, %d hosts", snap.Version, len(snap.Switches), len(snap.Ports), len(snap.Links), len(snap.Hosts))})
		f.since = 0
	}
	checkpoint()
	for {
		if f.since >= maxRecs {
			checkpoint()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			checkpoint()
		case d, ok := <-modelC:
			if !ok {
				f.log.Warn("journal: fell behind the topology model; resubscribing", "version", f.version)
				f.msub = f.src.Model.Subscribe(f.version, 4096)
				modelC = f.msub.C
				continue
			}
			if d.Op == topology.OpSnapshot && d.Version <= f.version {
				continue // the subscription's start (a model with no history yet): nothing was missed
			}
			if d.Op == topology.OpSnapshot {
				f.version = d.Version
				f.log.Warn("journal: some topology changes were missed (the journal fell too far behind)", "version", d.Version)
				checkpoint()
				continue
			}
			f.delta(d)
		case e, ok := <-busC:
			if !ok {
				busC = nil
				continue
			}
			reason := e.Reason
			if reason == "" {
				reason = "connection closed"
			}
			f.since++
			j.Append(Record{Kind: "switch-disconnect", Time: e.Time, DPID: topology.DPID(e.DPID),
				Object:  topology.DPID(e.DPID).String(),
				Message: fmt.Sprintf("switch %s disconnected: %s", topology.DPID(e.DPID), reason)})
		case e, ok := <-alertC:
			if !ok {
				alertC = nil
				continue
			}
			if r, ok := fromAlert(e); ok {
				f.since++
				j.Append(r)
			}
		}
	}
}

// delta journals one model change.
func (f *Feeder) delta(d topology.Delta) {
	f.version = d.Version
	if d.Host != nil && d.Op == topology.OpUpdate {
		h := *d.Host
		f.moved = &h
	}
	r, ok := fromDelta(d, f.bus != nil)
	if !ok {
		return
	}
	if p := d.Port; p != nil {
		was, known := f.portUp[p.Key()]
		if d.Op == topology.OpRemove {
			delete(f.portUp, p.Key())
		} else {
			f.portUp[p.Key()] = p.Up
		}
		if d.Op == topology.OpUpdate && known && was != p.Up {
			r.Kind = "port-" + map[bool]string{true: "up", false: "down"}[p.Up]
		}
	}
	if e := d.Event; e != nil && e.Kind == "host-move" && f.moved != nil && f.moved.DPID == e.DPID && f.moved.Port == e.Port {
		r.Object, r.Data = f.moved.MAC, raw(f.moved) // where the host is now, for TopologyAt
		f.moved = nil
	}
	f.since++
	f.j.Append(r)
}

func raw(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// LinkObject names a directed link: "src>dst".
func LinkObject(l topology.Link) string { return l.Src.String() + ">" + l.Dst.String() }

// fromDelta turns a model change into a record; ok is false for changes
// that are not journaled (latency updates, host refreshes).
// disconnects: the controller's stream journals switch disconnections
// (with their reason), so the model's removals are skipped.
func fromDelta(d topology.Delta, disconnects bool) (Record, bool) {
	r := Record{Time: d.Time}
	switch {
	case d.Switch != nil:
		s := d.Switch
		r.DPID, r.Object, r.Data = s.DPID, s.DPID.String(), raw(s)
		switch d.Op {
		case topology.OpRemove:
			if disconnects {
				return r, false
			}
			r.Kind, r.Message = "switch-disconnect", fmt.Sprintf("switch %s disconnected", s.DPID)
		default:
			r.Kind, r.Message = "switch-connect", fmt.Sprintf("switch %s connected from %s (%s)", s.DPID, orDash(s.Remote), orDash(s.Software))
		}
	case d.Port != nil:
		p := d.Port
		r.DPID, r.Port, r.Object, r.Data = p.DPID, p.Number, p.Key().String(), raw(p)
		state := "down"
		if p.Up {
			state = "up"
		}
		name := p.Name
		if name == "" {
			name = fmt.Sprint(p.Number)
		}
		switch d.Op {
		case topology.OpAdd:
			r.Kind, r.Message = "port-add", fmt.Sprintf("port %s (%s) added on %s, %s", name, p.Key(), p.DPID, state)
		case topology.OpUpdate:
			r.Kind, r.Message = "port-modify", fmt.Sprintf("port %s (%s) on %s: %s, %s", name, p.Key(), p.DPID, state, p.Kind)
		case topology.OpRemove:
			r.Kind, r.Message = "port-delete", fmt.Sprintf("port %s (%s) deleted from %s", name, p.Key(), p.DPID)
		}
	case d.Link != nil:
		l := d.Link
		r.DPID, r.Port, r.Object, r.Data = l.Src.DPID, l.Src.Port, LinkObject(*l), raw(l)
		switch {
		case d.Op == topology.OpAdd:
			r.Kind, r.Message = "link-up", fmt.Sprintf("%s link %s is up", l.Kind, LinkObject(*l))
		case d.Op == topology.OpRemove && l.DownSince != nil:
			r.Kind, r.Message = "link-forgotten", fmt.Sprintf("%s link %s, down since %s, is forgotten", l.Kind, LinkObject(*l), l.DownSince.UTC().Format("2006-01-02T15:04:05Z"))
		case d.Op == topology.OpRemove, l.State != topology.LinkUp:
			r.Kind, r.Message = "link-down", fmt.Sprintf("%s link %s is down (last seen %s)", l.Kind, LinkObject(*l), l.LastSeen.UTC().Format("15:04:05.000"))
		default:
			return r, false // latency, unidirectional
		}
	case d.Host != nil:
		h := d.Host
		r.DPID, r.Port, r.Object, r.Data = h.DPID, h.Port, h.MAC, raw(h)
		at := topology.Endpoint{DPID: h.DPID, Port: h.Port}
		switch d.Op {
		case topology.OpAdd:
			r.Kind, r.Message = "host-seen", fmt.Sprintf("host %s seen on %s %s", h.MAC, at, strings.Join(h.IPs, " "))
		case topology.OpRemove:
			r.Kind, r.Message = "host-aged", fmt.Sprintf("host %s on %s aged out (last seen %s)", h.MAC, at, h.LastSeen.UTC().Format("15:04:05"))
		default:
			return r, false // moves are events (host-move); new addresses are not journaled
		}
	case d.Event != nil:
		e := d.Event
		r.Kind, r.Time, r.DPID, r.Port, r.Message = e.Kind, e.Time, e.DPID, e.Port, e.Message
		if e.DPID != 0 {
			r.Object = topology.Endpoint{DPID: e.DPID, Port: e.Port}.String()
		}
		if e.Object != "" {
			r.Object = e.Object
		}
		r.Data = e.Data
	default:
		return r, false
	}
	r.Message = strings.TrimSpace(r.Message)
	return r, true
}

func fromAlert(e alerts.Event) (Record, bool) {
	if e.Kind != "firing" && e.Kind != "resolved" {
		return Record{}, false
	}
	a := e.Alert
	r := Record{Kind: "alert-" + e.Kind, Time: e.Time, Object: a.Rule + " " + a.Series, Data: raw(a)}
	if a.Severity == "warning" && e.Kind == "firing" {
		r.Severity = "warning"
	}
	if dp, ok := a.Labels["dpid"]; ok {
		if v, err := controller.ParseDPID(dp); err == nil {
			r.DPID = topology.DPID(v)
		}
	}
	r.Message = fmt.Sprintf("alert %s %s on %s: %s", a.Rule, e.Kind, a.Series, a.Message)
	if e.Kind == "resolved" && a.Reason != "" {
		r.Message += " (" + a.Reason + ")"
	}
	return r, true
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
