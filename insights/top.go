package insights

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/topology"
)

// History is what top talkers need of the collector: its series and their
// history.
type History interface {
	Ports(collector.PortFilter) []collector.PortSample
	Flows(collector.FlowFilter) []collector.FlowSample
	Series(key string, q collector.SeriesQuery) (collector.SeriesData, error)
}

// What top talkers rank.
const (
	TopFlows      = "flows"
	TopInterfaces = "interfaces"
	TopHosts      = "hosts"
	TopNetworks   = "networks"
)

// TopWhat lists the values of TopQuery.What.
var TopWhat = []string{TopFlows, TopInterfaces, TopHosts, TopNetworks}

// TopQuery asks for the top talkers over a window of the history.
type TopQuery struct {
	What     string // flows, interfaces, hosts or networks
	Packets  bool   // rank by packets instead of bytes
	From, To time.Time
	Limit    int             // default 10
	Hosts    []topology.Host // for What == hosts: where the hosts are
	Names    Namer           // nil: ids
}

// Talker is one of the top talkers: the bytes and packets it carried over
// the window (rx + tx for an interface or host), from the series' history.
type Talker struct {
	Object  string  `json:"object"`
	Series  string  `json:"series,omitempty"`
	Bytes   float64 `json:"bytes"`
	Packets float64 `json:"packets"`
	Bps     float64 `json:"bps"` // mean over the window
	Pps     float64 `json:"pps"`
}

// Top returns the top talkers over q's window, the busiest first. The
// series are the ones the collector holds now (a flow gone before the
// query is not in it); their traffic is what their history recorded in
// the window.
func Top(h History, q TopQuery) ([]Talker, error) {
	if q.Limit <= 0 {
		q.Limit = 10
	}
	if !q.To.After(q.From) {
		return nil, fmt.Errorf("the window from %s to %s is empty", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	win := q.To.Sub(q.From)
	// one bucket over the window: the mean rate
	mean := func(key string, idx ...int) (bps, pps float64, ok bool) {
		d, err := h.Series(key, collector.SeriesQuery{From: q.From, To: q.To, Step: win})
		if err != nil {
			return 0, 0, false
		}
		var sums [2]float64
		var ns [2]int
		for _, p := range d.Points {
			for j := 0; j < 2; j++ {
				for _, i := range idx[j*len(idx)/2 : (j+1)*len(idx)/2] {
					if i < len(p.V) && !math.IsNaN(p.V[i]) {
						sums[j] += p.V[i]
						ns[j]++
					}
				}
			}
		}
		if ns[0] == 0 {
			return 0, 0, false
		}
		// each point is a bucket's mean; the series' directions add up
		per := float64(len(idx) / 2)
		return sums[0] / float64(ns[0]) * per, sums[1] / math.Max(1, float64(ns[1])) * per, true
	}
	name := func(dpid uint64) string {
		if q.Names != nil {
			if n := q.Names.SwitchName(dpid); n != "" {
				return n
			}
		}
		return dpidHex(dpid)
	}
	var out []Talker
	add := func(obj, series string, bps, pps float64) {
		out = append(out, Talker{Object: obj, Series: series, Bps: bps, Pps: pps, Bytes: bps / 8 * win.Seconds(), Packets: pps * win.Seconds()})
	}
	switch q.What {
	case TopInterfaces, TopHosts:
		at := map[portID][]string{}
		for _, ho := range q.Hosts {
			id := portID{uint64(ho.DPID), ho.Port}
			label := ho.MAC
			if len(ho.IPs) > 0 {
				label += " (" + ho.IPs[0] + ")"
			}
			at[id] = append(at[id], label)
		}
		for _, p := range h.Ports(collector.PortFilter{}) {
			if p.Port == topology.LocalPort {
				continue
			}
			// rx_bps, tx_bps | rx_pps, tx_pps
			bps, pps, ok := mean(p.Key, 0, 1, 2, 3)
			if !ok {
				continue
			}
			obj := name(p.DPID) + " port " + portLabel(p.Name, p.Port)
			if q.What == TopHosts {
				hosts := at[portID{p.DPID, p.Port}]
				if len(hosts) != 1 {
					continue // no host there, or several sharing the port's traffic
				}
				obj = "host " + hosts[0] + " at " + obj
			}
			add(obj, p.Key, bps, pps)
		}
	case TopFlows, TopNetworks:
		nets := map[uint32][2]float64{}
		for _, f := range h.Flows(collector.FlowFilter{}) {
			if !f.History {
				continue // summed in its table's others series
			}
			bps, pps, ok := mean(f.Info.Key, 0, 1)
			if !ok {
				continue
			}
			c := f.Info.Cookie
			if q.What == TopNetworks {
				k := c.Kind()
				if sc := c.Scope(); sc != 0 && (k == controller.OwnerInterface || k == controller.OwnerRouter || k == controller.OwnerNetwork) {
					v := nets[sc]
					nets[sc] = [2]float64{v[0] + bps, v[1] + pps}
				}
				continue
			}
			add(name(f.Info.DPID)+" table "+itoa(uint64(f.Info.Table))+" "+f.Info.Match()+" ("+c.String()+")", f.Info.Key, bps, pps)
		}
		for id, v := range nets {
			n := ""
			if q.Names != nil {
				n = q.Names.NetworkName(id)
			}
			if n == "" {
				n = "net:" + itoa(uint64(id))
			}
			add("network "+n, "", v[0], v[1])
		}
	default:
		return nil, fmt.Errorf("what %q: want one of flows, interfaces, hosts, networks", q.What)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Bytes, out[j].Bytes
		if q.Packets {
			a, b = out[i].Packets, out[j].Packets
		}
		if a != b {
			return a > b
		}
		return out[i].Object < out[j].Object
	})
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	if out == nil {
		out = []Talker{}
	}
	return out, nil
}
