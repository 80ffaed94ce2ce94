package web

import (
	"net/http"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"

	"github.com/satellite-sdn/satellite/probes"
)

// WithProbes enables GET /api/v1/tunnels: the GRE paths between hosts
// with their probe measurements and failover state.
func WithProbes(p *probes.Manager) Option { return func(s *Server) { s.probes = p } }

func (s *Server) getTunnels(w http.ResponseWriter, r *http.Request) error {
	if s.probes == nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "", "tunnel probes are not enabled on this server")
	}
	q, err := httpapi.Query(r, "local", "remote", "state")
	if err != nil {
		return err
	}
	var local, remote uint64
	if v := q.Get("local"); v != "" {
		if local, err = s.switchID(v); err != nil {
			return httpapi.Errorf(http.StatusBadRequest, "local", "%v", err)
		}
	}
	if v := q.Get("remote"); v != "" {
		if remote, err = s.switchID(v); err != nil {
			return httpapi.Errorf(http.StatusBadRequest, "remote", "%v", err)
		}
	}
	state := q.Get("state")
	if state != "" && state != "up" && state != "down" {
		return httpapi.Errorf(http.StatusBadRequest, "state", "%q: want up or down", state)
	}
	c := s.probes.Config()
	out := api.Tunnels{IntervalMs: ms(c.Interval.Seconds()), TimeoutMs: ms(c.Timeout.Seconds()), DownAfter: c.DownAfter,
		LossWindow: c.LossWindow, LossThreshold: c.LossThreshold, HoldDownS: c.HoldDown.Seconds(),
		ForgedReplies: s.probes.Forged(), TimeoutMaxMs: ms(c.TimeoutMax.Seconds()), Guarded: !c.Unguarded, Load: s.probes.Load(),
		Paths: []probes.PathStatus{}}
	for _, p := range s.probes.Paths() {
		if (local != 0 && p.Local != FormatDPID(local)) || (remote != 0 && p.Remote != FormatDPID(remote)) || (state != "" && p.State != state) {
			continue
		}
		out.Paths = append(out.Paths, p)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func ms(seconds float64) float64 { return seconds * 1000 }
