package exporters

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
	"github.com/satellite-sdn/satellite/topology"
)

// The conversions below define Satellite's export schema; docs/exporters.md
// documents it and dashboards/grafana-satellite.json uses it. Tags are
// sorted by key. Counters are integers (the all-ones "unsupported" value
// of Open vSwitch is left out), rates are floats (unknown rates, NaN, are
// left out).

// Names gives a switch's name (its datapath description, such as br-int)
// from its datapath id; nil or "" leaves the switch tag out.
type Names func(dpid uint64) string

// ControllerNames names ctl's switches: the name of the bridge's LOCAL
// port (the bridge name, such as br-int), else the datapath description
// unless the switch left it unset ("None").
func ControllerNames(ctl interface {
	Switch(dpid uint64) *controller.Session
}) Names {
	return func(dpid uint64) string {
		s := ctl.Switch(dpid)
		if s == nil {
			return ""
		}
		for _, p := range s.Ports() {
			if p.No == topology.LocalPort && p.Name != "" {
				return p.Name
			}
		}
		if d := s.Desc().Datapath; d != "None" {
			return d
		}
		return ""
	}
}

// batchNames looks the name of a batch's switch up once.
func batchNames(b *collector.Batch, names Names) Names {
	if names == nil {
		return nil
	}
	name := names(b.DPID)
	return func(dpid uint64) string {
		if dpid == b.DPID {
			return name
		}
		return names(dpid)
	}
}

// PortNumber formats an OpenFlow port number: LOCAL for the bridge's own
// port, else decimal.
func PortNumber(p uint32) string {
	if p == topology.LocalPort {
		return "LOCAL"
	}
	return strconv.FormatUint(uint64(p), 10)
}

type fieldList []Field

func (f *fieldList) counter(key string, v uint64) {
	if v != collector.Unsupported {
		*f = append(*f, Field{Key: key, Value: Uint(v)})
	}
}

func (f *fieldList) rate(key string, v float64) {
	if !math.IsNaN(v) && !math.IsInf(v, 0) {
		*f = append(*f, Field{Key: key, Value: Float(v)})
	}
}

func switchTags(tags []Tag, dpid uint64, names Names) []Tag {
	tags = append(tags, Tag{Key: "dpid", Value: controller.FormatDPID(dpid)})
	if names != nil {
		if n := names(dpid); n != "" {
			tags = append(tags, Tag{Key: "switch", Value: n})
		}
	}
	return tags
}

// BatchPoints appends the points of one collector batch to dst.
//
//	port_stats  tags dpid, port, port_name, switch
//	            fields rx_/tx_ bytes, packets, dropped, errors (integers),
//	            rx_/tx_ bps, pps, drops_ps, errors_ps, util_pct (floats)
//	flow_stats  tags dpid, flow (stable id), network, owner, owner_id, priority, switch, table
//	            fields bytes, packets (integers), bps, pps, duration_s (floats);
//	            only flows with a history of their own (collector flow_history)
//	flow_others tags dpid, switch, table; fields flows (integer), bps, pps:
//	            the sum of the table's other flows
//	table_stats tags dpid, switch, table; fields active, lookups, matched, lookups_ps, matched_ps
//	group_stats tags dpid, group, switch; fields ref_count, bytes, packets, bps, pps
//	tunnel_probe (a KindProbe batch: ProbePoints)
func BatchPoints(dst []Point, b *collector.Batch, names Names) []Point {
	if b.Kind == collector.KindProbe {
		return ProbePoints(dst, b.Probes)
	}
	names = batchNames(b, names)
	for i := range b.Ports {
		s := &b.Ports[i]
		c := &s.Counters
		tags := switchTags(make([]Tag, 0, 4), s.DPID, names)
		tags = append(tags, Tag{Key: "port", Value: PortNumber(s.Port)})
		if s.Name != "" {
			tags = append(tags, Tag{Key: "port_name", Value: s.Name})
		}
		f := make(fieldList, 0, 18)
		f.counter("rx_bytes", c.RxBytes)
		f.counter("tx_bytes", c.TxBytes)
		f.counter("rx_packets", c.RxPackets)
		f.counter("tx_packets", c.TxPackets)
		f.counter("rx_dropped", c.RxDropped)
		f.counter("tx_dropped", c.TxDropped)
		f.counter("rx_errors", c.RxErrors)
		f.counter("tx_errors", c.TxErrors)
		r := &s.Rates
		f.rate("rx_bps", r.RxBps)
		f.rate("tx_bps", r.TxBps)
		f.rate("rx_pps", r.RxPps)
		f.rate("tx_pps", r.TxPps)
		f.rate("rx_drops_ps", r.RxDrops)
		f.rate("tx_drops_ps", r.TxDrops)
		f.rate("rx_errors_ps", r.RxErrors)
		f.rate("tx_errors_ps", r.TxErrors)
		f.rate("rx_util_pct", r.RxUtil)
		f.rate("tx_util_pct", r.TxUtil)
		dst = append(dst, sorted(Point{Measurement: "port_stats", Tags: tags, Fields: f, Time: time.Unix(0, s.Time)}))
	}
	for i := range b.Flows {
		s := &b.Flows[i]
		if !s.History {
			continue // summed into its table's flow_others point
		}
		info := s.Info
		o := info.Owner()
		tags := switchTags(make([]Tag, 0, 8), info.DPID, names)
		id := info.Key
		if k := strings.LastIndexByte(id, '/'); k >= 0 {
			id = id[k+1:]
		}
		tags = append(tags,
			Tag{Key: "flow", Value: id},
			Tag{Key: "owner", Value: o.Kind},
			Tag{Key: "priority", Value: strconv.Itoa(int(info.Priority))},
			Tag{Key: "table", Value: strconv.Itoa(int(info.Table))})
		if o.Kind != "foreign" {
			tags = append(tags, Tag{Key: "owner_id", Value: strconv.FormatUint(uint64(o.Object), 10)})
			if o.Scope != 0 {
				tags = append(tags, Tag{Key: "network", Value: strconv.FormatUint(uint64(o.Scope), 10)})
			}
		}
		f := make(fieldList, 0, 5)
		f.counter("bytes", s.Bytes)
		f.counter("packets", s.Packets)
		f.rate("bps", s.Bps)
		f.rate("pps", s.Pps)
		f.rate("duration_s", s.DurationS)
		dst = append(dst, sorted(Point{Measurement: "flow_stats", Tags: tags, Fields: f, Time: time.Unix(0, s.Time)}))
	}
	for i := range b.Others {
		s := &b.Others[i]
		tags := switchTags(make([]Tag, 0, 3), s.DPID, names)
		tags = append(tags, Tag{Key: "table", Value: strconv.Itoa(int(s.Table))})
		f := make(fieldList, 0, 3)
		f.counter("flows", uint64(s.Flows))
		f.rate("bps", s.Bps)
		f.rate("pps", s.Pps)
		dst = append(dst, sorted(Point{Measurement: "flow_others", Tags: tags, Fields: f, Time: time.Unix(0, s.Time)}))
	}
	for i := range b.Tables {
		s := &b.Tables[i]
		tags := switchTags(make([]Tag, 0, 3), s.DPID, names)
		tags = append(tags, Tag{Key: "table", Value: strconv.Itoa(int(s.Table))})
		f := make(fieldList, 0, 5)
		f.counter("active", uint64(s.Active))
		f.counter("lookups", s.Lookups)
		f.counter("matched", s.Matched)
		f.rate("lookups_ps", s.LookupsPs)
		f.rate("matched_ps", s.MatchedPs)
		dst = append(dst, sorted(Point{Measurement: "table_stats", Tags: tags, Fields: f, Time: time.Unix(0, s.Time)}))
	}
	for i := range b.Groups {
		s := &b.Groups[i]
		tags := switchTags(make([]Tag, 0, 3), s.DPID, names)
		tags = append(tags, Tag{Key: "group", Value: strconv.FormatUint(uint64(s.Group), 10)})
		f := make(fieldList, 0, 5)
		f.counter("ref_count", uint64(s.RefCount))
		f.counter("bytes", s.Bytes)
		f.counter("packets", s.Packets)
		f.rate("bps", s.Bps)
		f.rate("pps", s.Pps)
		dst = append(dst, sorted(Point{Measurement: "group_stats", Tags: tags, Fields: f, Time: time.Unix(0, s.Time)}))
	}
	return dst
}

func sorted(p Point) Point {
	p.Sort()
	return p
}

// PortStatsPoint is the port_stats point of raw counters, for callers
// that poll ports themselves (no rates).
func PortStatsPoint(dpid uint64, sw string, st ofwire.PortStats, name string, at time.Time) Point {
	b := collector.Batch{Ports: []collector.PortSample{{DPID: dpid, Port: st.PortNo, Name: name, Time: at.UnixNano(), Counters: st,
		Rates: collector.PortRates{RxBps: math.NaN(), TxBps: math.NaN(), RxPps: math.NaN(), TxPps: math.NaN(), RxDrops: math.NaN(),
			TxDrops: math.NaN(), RxErrors: math.NaN(), TxErrors: math.NaN(), RxUtil: math.NaN(), TxUtil: math.NaN()}}}}
	return BatchPoints(nil, &b, func(uint64) string { return sw })[0]
}

// AlertPoint converts an alert transition.
//
//	alert  tags metric, rule, series, severity (and the rule's labels)
//	       fields active (1 firing, 0 pending or resolved), state, value,
//	       threshold, message
func AlertPoint(ev alerts.Event) Point {
	a := &ev.Alert
	tags := []Tag{{Key: "metric", Value: a.Metric}, {Key: "rule", Value: a.Rule}, {Key: "series", Value: a.Series}, {Key: "severity", Value: a.Severity}}
	for k, v := range a.Labels {
		switch k {
		case "metric", "rule", "series", "severity":
			continue
		}
		tags = append(tags, Tag{Key: k, Value: v})
	}
	active := int64(0)
	if ev.Kind == "firing" {
		active = 1
	}
	f := fieldList{{Key: "active", Value: Int(active)}, {Key: "state", Value: String(ev.Kind)}}
	f.rate("value", a.Value)
	f.rate("threshold", a.Threshold)
	if a.Message != "" {
		f = append(f, Field{Key: "message", Value: String(a.Message)})
	}
	return sorted(Point{Measurement: "alert", Tags: tags, Fields: f, Time: ev.Time})
}

// DeltaPoints appends the points of one topology change to dst:
//
//	switch          tags dpid; fields connected (1/0)
//	port            tags dpid, port, port_name, kind; fields up, live (1/0), speed_kbps
//	link            tags kind, src_dpid, src_port, dst_dpid, dst_port;
//	                fields up (1/0), state, latency_ms, unidirectional (1/0)
//	topology_event  tags kind, dpid, port; fields message
//
// A snapshot delta gives the points of every switch, port and link.
func DeltaPoints(dst []Point, d topology.Delta) []Point {
	at := d.Time
	if at.IsZero() {
		at = time.Now()
	}
	removed := d.Op == topology.OpRemove
	switch {
	case d.Snapshot != nil:
		at = d.Snapshot.Taken
		for i := range d.Snapshot.Switches {
			dst = append(dst, switchPoint(&d.Snapshot.Switches[i], false, at))
		}
		for i := range d.Snapshot.Ports {
			dst = append(dst, portPoint(&d.Snapshot.Ports[i], false, at))
		}
		for i := range d.Snapshot.Links {
			dst = append(dst, linkPoint(&d.Snapshot.Links[i], false, at))
		}
	case d.Switch != nil:
		dst = append(dst, switchPoint(d.Switch, removed, at))
	case d.Port != nil:
		dst = append(dst, portPoint(d.Port, removed, at))
	case d.Link != nil:
		dst = append(dst, linkPoint(d.Link, removed, at))
	case d.Event != nil:
		e := d.Event
		tags := []Tag{{Key: "kind", Value: e.Kind}}
		if e.DPID != 0 {
			tags = append(tags, Tag{Key: "dpid", Value: e.DPID.String()})
		}
		if e.Port != 0 {
			tags = append(tags, Tag{Key: "port", Value: PortNumber(e.Port)})
		}
		t := e.Time
		if t.IsZero() {
			t = at
		}
		dst = append(dst, sorted(Point{Measurement: "topology_event", Tags: tags, Fields: []Field{{Key: "message", Value: String(e.Message)}}, Time: t}))
	}
	return dst
}

func b2i(b bool) Value {
	if b {
		return Int(1)
	}
	return Int(0)
}

func switchPoint(s *topology.Switch, removed bool, at time.Time) Point {
	return Point{Measurement: "switch", Tags: []Tag{{Key: "dpid", Value: s.DPID.String()}},
		Fields: []Field{{Key: "connected", Value: b2i(s.Connected && !removed)}}, Time: at}
}

func portPoint(p *topology.Port, removed bool, at time.Time) Point {
	tags := []Tag{{Key: "dpid", Value: p.DPID.String()}, {Key: "kind", Value: p.Kind}, {Key: "port", Value: PortNumber(p.Number)}}
	if p.Name != "" {
		tags = append(tags, Tag{Key: "port_name", Value: p.Name})
	}
	return sorted(Point{Measurement: "port", Tags: tags, Fields: []Field{
		{Key: "up", Value: b2i(p.Up && !removed)}, {Key: "live", Value: b2i(p.Live && !removed)},
		{Key: "speed_kbps", Value: Uint(uint64(p.SpeedKbps))}}, Time: at})
}

func linkPoint(l *topology.Link, removed bool, at time.Time) Point {
	state := l.State
	if removed {
		state = "down"
	}
	f := fieldList{{Key: "up", Value: b2i(!removed && l.State == topology.LinkUp)}, {Key: "state", Value: String(state)},
		{Key: "unidirectional", Value: b2i(l.Unidirectional)}}
	if !removed && l.State == topology.LinkUp {
		f.rate("latency_ms", l.LatencyMs)
	}
	return sorted(Point{Measurement: "link", Tags: []Tag{
		{Key: "dst_dpid", Value: l.Dst.DPID.String()}, {Key: "dst_port", Value: PortNumber(l.Dst.Port)},
		{Key: "kind", Value: l.Kind},
		{Key: "src_dpid", Value: l.Src.DPID.String()}, {Key: "src_port", Value: PortNumber(l.Src.Port)},
	}, Fields: f, Time: at})
}

// ProbePoints appends one tunnel_probe point per path sample (the tunnel
// prober's, published on the collector's stream once a second) to dst:
//
//	tunnel_probe  tags local, remote (dpids), local_name, remote_name, path (1, 2), port
//	              fields up, live, active, flapping (1/0), sent, received (integers),
//	              loss (0..1), rtt_min_ms, rtt_avg_ms, rtt_max_ms, rtt_p99_ms, jitter_ms
//	              (RTTs left out when no probe of the window was answered)
func ProbePoints(dst []Point, samples []collector.ProbeSample) []Point {
	for i := range samples {
		p := &samples[i]
		tags := []Tag{{Key: "local", Value: controller.FormatDPID(p.Local)}, {Key: "path", Value: strconv.Itoa(p.Path)}, {Key: "port", Value: PortNumber(p.Port)}, {Key: "remote", Value: controller.FormatDPID(p.Remote)}}
		if p.LocalName != "" {
			tags = append(tags, Tag{Key: "local_name", Value: p.LocalName})
		}
		if p.RemoteName != "" {
			tags = append(tags, Tag{Key: "remote_name", Value: p.RemoteName})
		}
		f := fieldList{{Key: "up", Value: b2i(p.Up)}, {Key: "live", Value: b2i(p.Live)}, {Key: "active", Value: b2i(p.Active)},
			{Key: "flapping", Value: b2i(p.Flapping)}, {Key: "sent", Value: Uint(p.Sent)}, {Key: "received", Value: Uint(p.Received)}}
		f.rate("loss", p.Loss)
		f.rate("rtt_min_ms", p.RTTMinMs) // NaN (left out) when unknown
		f.rate("rtt_avg_ms", p.RTTAvgMs)
		f.rate("rtt_max_ms", p.RTTMaxMs)
		f.rate("rtt_p99_ms", p.RTTP99Ms)
		f.rate("jitter_ms", p.JitterMs)
		dst = append(dst, sorted(Point{Measurement: "tunnel_probe", Tags: tags, Fields: f, Time: time.Unix(0, p.Time)}))
	}
	return dst
}
