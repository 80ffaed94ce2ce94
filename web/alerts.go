package web

import (
	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/web/alertsapi"
)

// WithAlerts serves the alert routes (web/alertsapi) from e, and the
// stream's alerts topic; without it the routes answer 503.
func WithAlerts(e *alerts.Engine) Option { return func(s *Server) { s.alertEng = e } }

func (s *Server) alertRoutes() {
	h := &alertsapi.Handlers{}
	if s.alertEng != nil {
		h.Engine = s.alertEng
	}
	h.Register(router{s})
}
