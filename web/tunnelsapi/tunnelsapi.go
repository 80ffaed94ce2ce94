// Package tunnelsapi serves the GRE paths between hosts with their
// probe measurements and failover state (probes/):
//
//	GET /api/v1/tunnels[?local=S&remote=S&state=up|down]
package tunnelsapi

import (
	"net/http"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/probes"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"
)

// Prober is what the route needs of the prober (*probes.Manager).
type Prober interface {
	Config() probes.Config
	Forged() uint64
	Load() probes.Load
	Paths() []probes.PathStatus
}

// Handlers serve the tunnels route.
type Handlers struct {
	// Probes measures the paths, or is nil: the route answers 503.
	Probes Prober
	// Switch reads a switch as the API accepts it: a datapath id or a name.
	Switch func(string) (uint64, error)
}

// Register adds the route to r.
func (h *Handlers) Register(r httpapi.Router) {
	r.Handle("GET /api/v1/tunnels", h.getTunnels)
}

func (h *Handlers) getTunnels(w http.ResponseWriter, r *http.Request) error {
	if h.Probes == nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "", "tunnel probes are not enabled on this server")
	}
	q, err := httpapi.Query(r, "local", "remote", "state")
	if err != nil {
		return err
	}
	var local, remote uint64
	if v := q.Get("local"); v != "" {
		if local, err = h.Switch(v); err != nil {
			return httpapi.Errorf(http.StatusBadRequest, "local", "%v", err)
		}
	}
	if v := q.Get("remote"); v != "" {
		if remote, err = h.Switch(v); err != nil {
			return httpapi.Errorf(http.StatusBadRequest, "remote", "%v", err)
		}
	}
	state := q.Get("state")
	if state != "" && state != "up" && state != "down" {
		return httpapi.Errorf(http.StatusBadRequest, "state", "%q: want up or down", state)
	}
	c := h.Probes.Config()
	out := api.Tunnels{IntervalMs: ms(c.Interval.Seconds()), TimeoutMs: ms(c.Timeout.Seconds()), DownAfter: c.DownAfter,
		LossWindow: c.LossWindow, LossThreshold: c.LossThreshold, HoldDownS: c.HoldDown.Seconds(),
		ForgedReplies: h.Probes.Forged(), TimeoutMaxMs: ms(c.TimeoutMax.Seconds()), Guarded: !c.Unguarded, Load: h.Probes.Load(),
		Paths: []probes.PathStatus{}}
	for _, p := range h.Probes.Paths() {
		if (local != 0 && p.Local != controller.FormatDPID(local)) || (remote != 0 && p.Remote != controller.FormatDPID(remote)) || (state != "" && p.State != state) {
			continue
		}
		out.Paths = append(out.Paths, p)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func ms(seconds float64) float64 { return seconds * 1000 }
