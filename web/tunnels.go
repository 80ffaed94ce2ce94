package web

import (
	"github.com/satellite-sdn/satellite/probes"
	"github.com/satellite-sdn/satellite/web/tunnelsapi"
)

// WithProbes enables GET /api/v1/tunnels (web/tunnelsapi): the GRE paths
// between hosts with their probe measurements and failover state.
func WithProbes(p *probes.Manager) Option { return func(s *Server) { s.probes = p } }

func (s *Server) tunnelRoutes() {
	h := &tunnelsapi.Handlers{Switch: s.switchID}
	if s.probes != nil {
		h.Probes = s.probes
	}
	h.Register(router{s})
}
