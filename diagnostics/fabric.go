package diagnostics

import (
	"fmt"
	"sort"
	"strings"

	"github.com/satellite-sdn/satellite/controller"
)

// Endpoint is a port of a switch.
type Endpoint struct {
	DPID uint64
	Port uint32
}

// Verdicts of a trace.
const (
	Delivered  = "delivered"
	Dropped    = "dropped"
	Controller = "controller"
	Flooded    = "flooded"
	Looped     = "looped"
)

// TunnelHop is where a packet sent into a tunnel port comes out.
type TunnelHop struct {
	Remote     uint64 // the remote switch
	RemotePort uint32 // the tunnel port it arrives on there
	Path       int    // the underlay path (1, 2, ...)
	Desc       string // e.g. "GRE path 1 to h3 (gre-h3-p1)"
	Down       string // non-empty: why the path cannot carry it
}

// Delivery is what sits at an edge port.
type Delivery struct {
	Name   string // e.g. `interface "a2" (net1)`
	Drop   string // non-empty: why the endpoint does not get it
	Object string
}

// Answer is what the controller does with a packet sent to it.
type Answer struct {
	Answers bool   // it replies (ARP, DHCP, ICMP)
	What    string // the reply, or why there is none
	Object  string
}

// Fabric is every switch's tables and how they are connected. Only
// Switches is required; the functions add what the tables cannot say.
type Fabric struct {
	Switches map[uint64]*Tables
	// Load, when set, supplies the tables of a switch not in Switches
	// (nil: not connected); what it returns is kept in Switches.
	Load func(dpid uint64) *Tables
	// Names names switches that have no tables.
	Names map[uint64]string
	// Links are the direct links between switches (both directions).
	Links map[Endpoint]Endpoint
	// Tunnel maps a tunnel port to its remote end.
	Tunnel func(dpid uint64, port uint32) (TunnelHop, bool)
	// Edge names what is at an edge port and checks that it takes the packet.
	Edge func(dpid uint64, port uint32, p Packet) Delivery
	// Controller says what the controller does with a packet-in.
	Controller func(dpid uint64, inPort uint32, p Packet) Answer
	// Explain turns a switch's drop into words and names the object
	// responsible (a security group, an interface, ...).
	Explain func(dpid uint64, st Step, d Drop, p Packet) (reason, object string)
	// Owner decodes a flow cookie.
	Owner func(cookie uint64) Owner
	// Target, when set, is where the packet should arrive.
	Target *Endpoint
	// MaxSwitches bounds the switches one packet crosses (default 32).
	MaxSwitches int
}

// Owner is the object a flow belongs to.
type Owner struct {
	Kind    string `json:"kind"`
	Network string `json:"network,omitempty"`
	ID      uint32 `json:"id"`
	Name    string `json:"name,omitempty"`
}

// HopFlow is the flow a hop matched.
type HopFlow struct {
	Priority uint16 `json:"priority"`
	Match    string `json:"match"`
	Actions  string `json:"actions"`
	Cookie   string `json:"cookie"`
	Owner    Owner  `json:"owner"`
}

// Hop is one table lookup on one switch.
type Hop struct {
	DPID       string   `json:"dpid"`
	Switch     string   `json:"switch"`
	Table      uint8    `json:"table"`
	InPort     uint32   `json:"in_port"`
	InPortName string   `json:"in_port_name,omitempty"`
	Flow       *HopFlow `json:"flow"`
	Out        string   `json:"out"`
	Headers    string   `json:"headers"`
	Note       string   `json:"note,omitempty"`

	dpid uint64
	flow *Flow
}

// DropInfo is where and why the packet was dropped.
type DropInfo struct {
	DPID   string `json:"dpid"`
	Switch string `json:"switch,omitempty"`
	Table  uint8  `json:"table"`
	Reason string `json:"reason"`
	Object string `json:"object,omitempty"`
	hop    int
}

// Outcome is how one copy of the packet ended.
type Outcome struct {
	Kind   string `json:"kind"` // delivered, dropped, controller, looped
	DPID   string `json:"dpid"`
	Switch string `json:"switch"`
	Port   uint32 `json:"port,omitempty"`
	What   string `json:"what"`
	Object string `json:"object,omitempty"`
	Hop    int    `json:"hop"` // index into Hops
	table  uint8
	at     Endpoint
}

// Trace is the result of tracing one packet.
type Trace struct {
	Verdict  string    `json:"verdict"`
	Summary  string    `json:"summary"`
	Hops     []Hop     `json:"hops"`
	Drop     *DropInfo `json:"drop,omitempty"`
	Outcomes []Outcome `json:"outcomes"`

	visits []visit // every switch the packet entered, in order
}

// visit is one switch's part of a trace: the packet as it arrived.
type visit struct {
	at  Endpoint
	pkt Packet
	res SwitchResult
}

// maxVisits bounds the switch visits of one trace, whatever the copies.
const maxVisits = 1024

type pending struct {
	at    Endpoint
	pkt   Packet
	depth int
	from  int // hop index that sent it, -1 at the start
}

// Name returns a switch's name (its dpid when it has none).
func (f *Fabric) Name(dpid uint64) string {
	if t := f.Switches[dpid]; t != nil && t.Name != "" {
		return t.Name
	}
	if n := f.Names[dpid]; n != "" {
		return n
	}
	return fmt.Sprintf("%016x", dpid)
}

func (f *Fabric) portName(dpid uint64, port uint32) string {
	if t := f.tables(dpid); t != nil {
		if p, ok := t.Ports[port]; ok && p.Name != "" {
			return p.Name
		}
	}
	return ""
}

func (f *Fabric) portText(dpid uint64, port uint32) string {
	if n := f.portName(dpid, port); n != "" {
		return fmt.Sprintf("%s port %d (%s)", f.Name(dpid), port, n)
	}
	return fmt.Sprintf("%s port %d", f.Name(dpid), port)
}

func (f *Fabric) owner(ck uint64) Owner {
	if f.Owner != nil {
		return f.Owner(ck)
	}
	o := controller.Cookie(ck).Owner()
	return Owner{Kind: o.Kind, ID: o.Object}
}

// Trace follows p from the switch port it enters at until every copy is
// delivered, dropped, taken by the controller or found looping.
func (f *Fabric) Trace(start Endpoint, p Packet) *Trace {
	tr := &Trace{}
	maxSw := f.MaxSwitches
	if maxSw <= 0 {
		maxSw = 32
	}
	p.InPort = start.Port
	queue := []pending{{at: start, pkt: p, from: -1}}
	seen := map[string]bool{}
	visits := 0
	for len(queue) > 0 && len(tr.Outcomes) < maxEmits {
		cur := queue[0]
		queue = queue[1:]
		if visits++; visits > maxVisits {
			tr.Outcomes = append(tr.Outcomes, Outcome{Kind: Looped, DPID: fmt.Sprintf("%016x", cur.at.DPID), Switch: f.Name(cur.at.DPID), Port: cur.at.Port,
				What: fmt.Sprintf("the packet was copied into more than %d switch visits (a flood storm); the trace stops there", maxVisits), Hop: cur.from, at: cur.at})
			break
		}
		name := f.Name(cur.at.DPID)
		key := fmt.Sprintf("%d/%d/%v", cur.at.DPID, cur.at.Port, cur.pkt.key())
		if seen[key] || cur.depth >= maxSw {
			what := fmt.Sprintf("loop: the packet comes back to %s with the same headers", f.portText(cur.at.DPID, cur.at.Port))
			if !seen[key] {
				what = fmt.Sprintf("the packet crossed %d switches without arriving: stopped at %s", maxSw, f.portText(cur.at.DPID, cur.at.Port))
			}
			tr.Outcomes = append(tr.Outcomes, Outcome{Kind: Looped, DPID: fmt.Sprintf("%016x", cur.at.DPID), Switch: name, Port: cur.at.Port, What: what, Hop: cur.from, at: cur.at})
			continue
		}
		seen[key] = true
		tb := f.tables(cur.at.DPID)
		if tb == nil {
			tr.Outcomes = append(tr.Outcomes, Outcome{Kind: Dropped, DPID: fmt.Sprintf("%016x", cur.at.DPID), Switch: name, Port: cur.at.Port,
				What: fmt.Sprintf("switch %s is not connected: its tables are unknown", name), Hop: cur.from, at: cur.at})
			continue
		}
		cur.pkt.InPort = cur.at.Port
		cur.pkt.Metadata = 0
		cur.pkt.CtState, cur.pkt.CtZone = 0, 0 // conntrack is each switch's own
		res := tb.Run(cur.pkt)
		tr.visits = append(tr.visits, visit{at: cur.at, pkt: cur.pkt, res: res})
		base := len(tr.Hops)
		for _, st := range res.Steps {
			h := Hop{DPID: fmt.Sprintf("%016x", cur.at.DPID), Switch: name, Table: st.Table, InPort: st.InPort,
				InPortName: f.portName(cur.at.DPID, st.InPort), Out: st.Out, Headers: st.After.String(), Note: strings.Join(st.Notes, "; "),
				dpid: cur.at.DPID, flow: st.Flow}
			if st.Flow != nil {
				h.Flow = &HopFlow{Priority: st.Flow.Priority, Match: st.Flow.MatchString(), Actions: st.Flow.ActionsString(),
					Cookie: controller.Cookie(st.Flow.Cookie).String(), Owner: f.owner(st.Flow.Cookie)}
			}
			tr.Hops = append(tr.Hops, h)
		}
		for _, d := range res.Drops {
			st := res.Steps[d.Step]
			reason, object := d.Reason, ""
			if st.Flow != nil {
				o := f.owner(st.Flow.Cookie)
				object = ownerText(o)
			}
			if f.Explain != nil {
				reason, object = f.Explain(cur.at.DPID, st, d, st.After)
			}
			tr.Outcomes = append(tr.Outcomes, Outcome{Kind: Dropped, DPID: fmt.Sprintf("%016x", cur.at.DPID), Switch: name,
				What: reason, Object: object, Hop: base + d.Step, table: d.Table, at: cur.at})
		}
		nexts := map[int][]string{}
		for _, e := range res.Emits {
			hop := base + e.Step
			oc := Outcome{DPID: fmt.Sprintf("%016x", cur.at.DPID), Switch: name, Port: e.Port, Hop: hop, table: res.Steps[e.Step].Table, at: Endpoint{cur.at.DPID, e.Port}}
			switch e.Port {
			case PortController:
				a := Answer{What: "the controller gets a copy"}
				if f.Controller != nil {
					a = f.Controller(cur.at.DPID, cur.at.Port, e.Packet)
				}
				oc.Kind, oc.What, oc.Object = Controller, a.What, a.Object
				if !a.Answers {
					oc.Kind = Dropped
				}
				nexts[e.Step] = append(nexts[e.Step], "controller: "+a.What)
				tr.Outcomes = append(tr.Outcomes, oc)
				continue
			case PortLocal:
				oc.Kind, oc.What = Delivered, "the bridge's own interface (LOCAL)"
				tr.Outcomes = append(tr.Outcomes, oc)
				continue
			case PortNormal:
				oc.Kind, oc.What = Dropped, "handed to NORMAL, which the simulator does not follow"
				tr.Outcomes = append(tr.Outcomes, oc)
				continue
			}
			if peer, ok := f.Links[Endpoint{cur.at.DPID, e.Port}]; ok {
				q := e.Packet
				q.TunID = 0
				nexts[e.Step] = append(nexts[e.Step], "direct link to "+f.portText(peer.DPID, peer.Port))
				queue = append(queue, pending{at: peer, pkt: q, depth: cur.depth + 1, from: hop})
				continue
			}
			if f.Tunnel != nil {
				if th, ok := f.Tunnel(cur.at.DPID, e.Port); ok {
					if th.Down != "" {
						oc.Kind, oc.What = Dropped, th.Down
						tr.Outcomes = append(tr.Outcomes, oc)
						nexts[e.Step] = append(nexts[e.Step], th.Desc+": "+th.Down)
						continue
					}
					nexts[e.Step] = append(nexts[e.Step], fmt.Sprintf("%s, tun_id=0x%x -> %s", th.Desc, e.Packet.TunID, f.portText(th.Remote, th.RemotePort)))
					queue = append(queue, pending{at: Endpoint{th.Remote, th.RemotePort}, pkt: e.Packet, depth: cur.depth + 1, from: hop})
					continue
				}
			}
			d := Delivery{Name: f.portText(cur.at.DPID, e.Port)}
			if f.Edge != nil {
				d = f.Edge(cur.at.DPID, e.Port, e.Packet)
			}
			if d.Drop != "" {
				oc.Kind, oc.What, oc.Object = Dropped, d.Drop, d.Object
				nexts[e.Step] = append(nexts[e.Step], d.Drop)
			} else {
				oc.Kind, oc.What, oc.Object = Delivered, d.Name, d.Object
				nexts[e.Step] = append(nexts[e.Step], "delivered to "+d.Name)
			}
			tr.Outcomes = append(tr.Outcomes, oc)
		}
		for step, ns := range nexts {
			h := &tr.Hops[base+step]
			h.Out += " -> " + strings.Join(ns, "; ")
		}
	}
	f.verdict(tr)
	return tr
}

func (f *Fabric) tables(dpid uint64) *Tables {
	if f.Switches == nil {
		f.Switches = map[uint64]*Tables{}
	}
	t := f.Switches[dpid]
	if t == nil && f.Load != nil {
		if t = f.Load(dpid); t != nil {
			f.Switches[dpid] = t
		}
	}
	return t
}

func ownerText(o Owner) string {
	s := o.Kind
	if o.Name != "" {
		s += " " + o.Name
	} else if o.ID != 0 || o.Kind == "foreign" {
		s += fmt.Sprintf(" %d", o.ID)
	}
	if o.Network != "" {
		s += " in " + o.Network
	}
	return s
}

func (f *Fabric) verdict(tr *Trace) {
	var delivered, answered, looped, dropped []Outcome
	for _, o := range tr.Outcomes {
		switch o.Kind {
		case Delivered:
			delivered = append(delivered, o)
		case Controller:
			answered = append(answered, o)
		case Looped:
			looped = append(looped, o)
		default:
			dropped = append(dropped, o)
		}
	}
	sort.SliceStable(dropped, func(i, j int) bool { return dropped[i].Hop < dropped[j].Hop })
	switch {
	case len(delivered) > 0:
		tr.Verdict = Delivered
		var names []string
		hit := -1
		for i, d := range delivered {
			names = append(names, d.What)
			if f.Target != nil && d.at == *f.Target {
				hit = i
			}
		}
		switch {
		case hit >= 0:
			tr.Summary = "delivered to " + delivered[hit].What
			if len(delivered) > 1 {
				tr.Summary += fmt.Sprintf(" (and %d more copies)", len(delivered)-1)
			}
		case len(delivered) == 1:
			tr.Summary = "delivered to " + names[0]
			if f.Target != nil {
				tr.Summary += ", not to " + f.portText(f.Target.DPID, f.Target.Port)
			}
		default:
			tr.Verdict = Flooded
			tr.Summary = fmt.Sprintf("flooded to %d ports: %s", len(names), strings.Join(names, ", "))
		}
	case len(answered) > 0:
		tr.Verdict = Controller
		tr.Summary = "sent to the controller: " + answered[0].What
	case len(looped) > 0:
		tr.Verdict = Looped
		tr.Summary = looped[0].What
	default:
		tr.Verdict = Dropped
		if len(dropped) == 0 {
			tr.Summary = "dropped"
			return
		}
		// a drop right after a copy to the controller that the controller
		// does not answer is explained by the controller's reason
		d := dropped[0]
		for _, o := range dropped {
			if o.Port == PortController {
				d = o
				break
			}
		}
		tr.Drop = &DropInfo{DPID: d.DPID, Switch: d.Switch, Table: d.table, Reason: d.What, Object: d.Object, hop: d.Hop}
		tr.Summary = fmt.Sprintf("dropped on %s table %d: %s", d.Switch, d.table, d.What)
	}
}
