package web

import (
	"github.com/satellite-sdn/satellite/insights"
	"github.com/satellite-sdn/satellite/web/insightsapi"
)

// WithInsights serves the insight routes (web/insightsapi) from e;
// without it they answer 503.
func WithInsights(e *insights.Engine) Option {
	return func(s *Server) {
		if e != nil {
			s.insights = e
		}
	}
}

func (s *Server) insightRoutes() {
	h := &insightsapi.Handlers{Engine: s.insights, Names: webNames{s}, Switch: s.switchID}
	if s.coll != nil {
		h.History = s.coll
	}
	if s.model != nil {
		h.Hosts = s.model.Hosts
	}
	h.Register(router{s})
	s.handle("GET /api/v1/networks/{name}/traffic", s.getNetworkTraffic) // nettraffic.go
}

// webNames names switches and networks after the virtual network
// configuration.
type webNames struct{ s *Server }

func (n webNames) SwitchName(dpid uint64) string {
	if n.s.vnets == nil {
		return ""
	}
	cfg, _ := n.s.vnets.Config()
	for _, dp := range cfg.Datapaths {
		if d, err := ParseDPID(dp.DPID); err == nil && d == dpid {
			return dp.Name
		}
	}
	return ""
}

func (n webNames) NetworkName(id uint32) string {
	if n.s.vnets == nil {
		return ""
	}
	cfg, _ := n.s.vnets.Config()
	for _, nw := range cfg.Networks {
		if nw.ID == id {
			return nw.Name
		}
	}
	return ""
}
