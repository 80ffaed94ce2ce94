package web

import (
	"github.com/satellite-sdn/satellite/audit"
	"github.com/satellite-sdn/satellite/web/auditapi"
)

// WithAudit serves the flow audit from e (web/auditapi); without it the
// routes answer 503.
func WithAudit(e *audit.Engine) Option {
	return func(s *Server) {
		if e != nil {
			s.flowAudit = e
		}
	}
}

func (s *Server) auditRoutes() {
	(&auditapi.Handlers{Audit: s.flowAudit, Switch: s.parseDPIDParam}).Register(router{s})
}
