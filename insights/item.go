package insights

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/satellite-sdn/satellite/controller"
)

// Item is one thing wrong now.
type Item struct {
	// Object is what it is about, by name: "h2 port lnk-h3", "network
	// net1", "path h1->h3 p2", "link h1 lnk-h2 -> h2 lnk-h1".
	Object string `json:"object"`
	// Reason says what is wrong, with the value and its baseline.
	Reason string `json:"reason"`
	// Score ranks the items: 1 at a detector's threshold, one more for
	// each doubling beyond it, at most 20.
	Score float64 `json:"score"`
	// Kind is the detector: errors, drops, traffic-down, traffic-rise,
	// stopped-sending, asymmetric-link, rtt-drift, probe-loss, host-moves.
	Kind string `json:"kind"`
	// Series is the collector series the finding is about (port/…,
	// probe/…), or owner/DPID/OWNER, network/ID, host/MAC for the
	// insights' own aggregates.
	Series string `json:"series"`
	// Link is the UI page that shows the object.
	Link string `json:"link,omitempty"`
	// Labels are the object's ids (dpid, port, network, remote, path, mac).
	Labels   map[string]string `json:"labels"`
	Value    float64           `json:"value"`
	Baseline float64           `json:"baseline"`
	Since    time.Time         `json:"since"`
}

type objKind uint8

const (
	objPort objKind = iota + 1
	objLink
	objOwner
	objNetwork
	objPath
	objHost
)

// object is what a finding is about, in ids; it is named when listed.
type object struct {
	kind    objKind
	dpid    uint64
	port    uint32
	name    string // port name; a path's local host's name
	remote  uint64
	rport   uint32
	rname   string
	path    int
	network uint32
	owner   controller.Cookie
	mac, ip string
}

func dpidHex(d uint64) string { return fmt.Sprintf("%016x", d) }

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

func (e *Engine) switchName(dpid uint64, fallback string) string {
	if e.names != nil {
		if n := e.names.SwitchName(dpid); n != "" {
			return n
		}
	}
	if fallback != "" {
		return fallback
	}
	return dpidHex(dpid)
}

func (e *Engine) networkName(id uint32) string {
	if e.names != nil {
		if n := e.names.NetworkName(id); n != "" {
			return n
		}
	}
	return "net:" + itoa(uint64(id))
}

func portLabel(name string, port uint32) string {
	if name != "" {
		return name
	}
	return itoa(uint64(port))
}

// item renders a finding. The caller holds e.mu.
func (e *Engine) item(f *finding) Item {
	o := f.obj
	it := Item{Kind: detKinds[f.det], Series: f.series, Score: math.Round(f.score*100) / 100, Value: f.value, Baseline: f.base,
		Since: time.Unix(0, f.since).UTC(), Labels: map[string]string{}}
	sw := e.switchName(o.dpid, "")
	switch o.kind {
	case objPort:
		it.Object = sw + " port " + portLabel(o.name, o.port)
		it.Labels["dpid"], it.Labels["port"] = dpidHex(o.dpid), itoa(uint64(o.port))
		it.Link = "/ui/metrics?key=" + f.series
	case objLink:
		it.Object = "link " + sw + " " + portLabel(o.name, o.port) + " -> " + e.switchName(o.remote, "") + " " + portLabel(o.rname, o.rport)
		it.Labels["dpid"], it.Labels["port"] = dpidHex(o.dpid), itoa(uint64(o.port))
		it.Labels["remote"], it.Labels["remote_port"] = dpidHex(o.remote), itoa(uint64(o.rport))
		it.Link = "/ui/topology"
	case objOwner:
		it.Object = sw + " flows of " + o.owner.String()
		it.Labels["dpid"], it.Labels["owner"] = dpidHex(o.dpid), o.owner.String()
		if sc := o.owner.Scope(); sc != 0 {
			it.Labels["network"] = itoa(uint64(sc))
			it.Object = sw + " flows of " + ownerName(o.owner) + " in network " + e.networkName(sc)
		}
		it.Link = "/ui/metrics"
	case objNetwork:
		it.Object = "network " + e.networkName(o.network)
		it.Labels["network"] = itoa(uint64(o.network))
		it.Link = "/ui/topology"
	case objPath:
		it.Object = "path " + e.switchName(o.dpid, o.name) + "->" + e.switchName(o.remote, o.rname) + " p" + strconv.Itoa(o.path)
		it.Labels["dpid"], it.Labels["remote"], it.Labels["path"] = dpidHex(o.dpid), dpidHex(o.remote), strconv.Itoa(o.path)
		it.Link = "/ui/metrics?key=" + f.series
	case objHost:
		it.Object = "host " + o.mac
		if o.ip != "" {
			it.Object += " (" + o.ip + ")"
		}
		it.Labels["mac"] = o.mac
	}
	it.Reason = e.reason(f, sw)
	return it
}

func ownerName(c controller.Cookie) string {
	o := c.Owner()
	switch o.Kind {
	case "interface", "router":
		return o.Kind + " " + itoa(uint64(o.Object))
	}
	return o.Kind
}

func (e *Engine) reason(f *finding, sw string) string {
	o := f.obj
	switch f.det {
	case detRxErrors, detTxErrors:
		return fmt.Sprintf("%s errors %s/s, baseline %s", f.dir, num(f.value), num(f.base))
	case detRxDrops, detTxDrops:
		return fmt.Sprintf("%s drops %s/s, baseline %s", f.dir, num(f.value), num(f.base))
	case detRxDown, detTxDown:
		what := "traffic"
		if f.dir != "" {
			what = f.dir + " traffic"
		}
		return fmt.Sprintf("%s down %.0f %% in %s: %s, baseline %s", what, 100*(1-f.value/f.base), ago(f), Bits(f.value), Bits(f.base))
	case detRxRise, detTxRise:
		what := "traffic"
		if f.dir != "" {
			what = f.dir + " traffic"
		}
		return fmt.Sprintf("%s %sx its baseline: %s, baseline %s", what, num(f.value/f.base), Bits(f.value), Bits(f.base))
	case detStopped:
		return fmt.Sprintf("stopped sending: rx %s, baseline %s, while %s is still sent to it", Bits(f.value), Bits(f.base), Bits(f.extra))
	case detAsym:
		return fmt.Sprintf("%s sends %s on it, %s receives %s (%.0f %% missing)", sw, Bits(f.base), e.switchName(o.remote, ""), Bits(f.value), 100*(1-f.value/f.base))
	case detRTT:
		return fmt.Sprintf("RTT %sx its baseline: %s ms, baseline %s ms", num(f.value/math.Max(f.base, 0.001)), num(f.value), num(f.base))
	case detLoss:
		return fmt.Sprintf("probe loss %.0f %%, baseline %.0f %%", 100*f.value, 100*f.base)
	case detMoves:
		at := e.switchName(o.dpid, "") + " port " + portLabel(o.name, o.port)
		return fmt.Sprintf("moved %.0f times in %s, now at %s", f.value, time.Duration(f.extra), at)
	}
	return ""
}

// ago is how long a finding has held, in whole seconds.
func ago(f *finding) string {
	return time.Duration(f.seen - f.since).Truncate(time.Second).String()
}

// num formats a count or ratio with up to 3 significant digits.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "?"
	case v == 0:
		return "0"
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	case math.Abs(v) >= 10:
		return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// Bits formats a rate in bit/s: "0 bit/s", "850 kbit/s", "10.2 Mbit/s".
func Bits(v float64) string {
	switch {
	case math.IsNaN(v):
		return "? bit/s"
	case v >= 1e9:
		return num(v/1e9) + " Gbit/s"
	case v >= 1e6:
		return num(v/1e6) + " Mbit/s"
	case v >= 1e3:
		return num(v/1e3) + " kbit/s"
	}
	return num(v) + " bit/s"
}
