package web

import (
	"math"
	"net/http"
	"sort"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/vnet"
)

// GET /api/v1/networks/{name}/traffic: one virtual network seen on its
// own (issue 19): its interfaces with their ports' latest rates, the
// switches that serve it with its flows on each (owner-grouped sums), and
// the tunnel paths between those switches.

func finiteOrNil(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func (s *Server) getNetworkTraffic(w http.ResponseWriter, r *http.Request) error {
	c, err := s.collector()
	if err != nil {
		return err
	}
	if s.vnets == nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "", "virtual networks are not enabled on this server")
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	name := r.PathValue("name")
	cfg, _ := s.vnets.Config()
	var nw *vnet.Network
	for i := range cfg.Networks {
		if cfg.Networks[i].Name == name {
			nw = &cfg.Networks[i]
		}
	}
	if nw == nil {
		return httpapi.Errorf(http.StatusNotFound, "name", "no network %q (satellite networks lists them)", name)
	}
	dpidOf, nameOf := map[string]uint64{}, map[uint64]string{}
	for _, dp := range cfg.Datapaths {
		if d, err := ParseDPID(dp.DPID); err == nil {
			dpidOf[dp.Name], nameOf[d] = d, dp.Name
		}
	}
	type portKey struct {
		dpid uint64
		name string
		no   uint32
	}
	ports := map[portKey]collector.PortSample{}
	for _, p := range c.Ports(collector.PortFilter{}) {
		ports[portKey{p.DPID, p.Name, 0}] = p
		ports[portKey{p.DPID, "", p.Port}] = p
	}
	out := api.NetworkTraffic{Network: nw.Name, ID: nw.ID, Interfaces: []api.InterfaceTraffic{}, Switches: []api.SwitchTraffic{}, Tunnels: []api.TunnelTraffic{}}
	serving := map[uint64]bool{}
	for _, in := range cfg.Interfaces {
		if in.Network != nw.Name {
			continue
		}
		it := api.InterfaceTraffic{Name: in.Name, Switch: in.Datapath, Port: in.Port}
		if d, ok := dpidOf[in.Datapath]; ok {
			serving[d] = true
			p, found := ports[portKey{d, in.Port, 0}]
			if in.Port == "" {
				p, found = ports[portKey{d, "", in.PortNo}]
			}
			if found {
				it.Port, it.Series = p.Name, p.Key
				it.RxBps, it.TxBps = finiteOrNil(p.Rates.RxBps), finiteOrNil(p.Rates.TxBps)
				it.RxPps, it.TxPps = finiteOrNil(p.Rates.RxPps), finiteOrNil(p.Rates.TxPps)
			}
		}
		out.Interfaces = append(out.Interfaces, it)
	}
	sw := map[uint64]*api.SwitchTraffic{}
	for _, f := range c.Flows(collector.FlowFilter{}) {
		if f.Info.Cookie.Scope() != nw.ID || nw.ID == 0 {
			continue
		}
		d := f.Info.DPID
		st := sw[d]
		if st == nil {
			st = &api.SwitchTraffic{Switch: nameOf[d], DPID: FormatDPID(d), Owners: map[string]float64{}}
			sw[d] = st
		}
		st.Flows++
		if !math.IsNaN(f.Bps) {
			st.Bps += f.Bps
			st.Owners[f.Info.Cookie.Kind().String()] += f.Bps
		}
		serving[d] = true
	}
	for d := range serving {
		if sw[d] == nil {
			sw[d] = &api.SwitchTraffic{Switch: nameOf[d], DPID: FormatDPID(d), Owners: map[string]float64{}}
		}
		out.Switches = append(out.Switches, *sw[d])
	}
	sort.Slice(out.Switches, func(i, j int) bool { return out.Switches[i].DPID < out.Switches[j].DPID })
	for _, p := range c.Probes(collector.ProbeFilter{}) {
		if serving[p.Local] && serving[p.Remote] {
			out.Tunnels = append(out.Tunnels, api.TunnelTraffic{From: orDPID(nameOf[p.Local], p.Local), To: orDPID(nameOf[p.Remote], p.Remote), Path: p.Path,
				Up: p.Up, Active: p.Active, RTTMs: finiteOrNil(p.RTTAvgMs), Series: p.Key})
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func orDPID(name string, d uint64) string {
	if name != "" {
		return name
	}
	return FormatDPID(d)
}
