// Package insightsapi serves the insights (insights/, docs/insights.md):
//
//	GET /api/v1/insights[?kind=K&min_score=N&switch=S]   what is wrong now, the highest score first
//	GET /api/v1/insights/history                         raised and cleared findings, oldest first
//	GET /api/v1/insights/stats                           series judged and counters
//	GET /api/v1/insights/top[?what=W&by=B&from=&to=&limit=N]   top talkers over a window of the history (needs the collector only)
package insightsapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/insights"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"
)

// Engine is what the routes need of the insight engine (*insights.Engine).
type Engine interface {
	Items() []insights.Item
	History() []insights.Event
	Stats() insights.Stats
}

// Handlers serve the insight routes.
type Handlers struct {
	// Engine finds what is wrong now, or is nil: those routes answer 503.
	Engine Engine
	// History is the collector's history for top talkers, or nil: that
	// route answers 503.
	History insights.History
	// Hosts lists the hosts the topology knows (top hosts), or is nil.
	Hosts func() []topology.Host
	// Names names switches and networks in the lists, or is nil.
	Names insights.Namer
	// Switch reads a switch as the API accepts it: a datapath id or a name.
	Switch func(string) (uint64, error)
}

// Kinds are the values of ?kind=.
var Kinds = []string{insights.KindErrors, insights.KindDrops, insights.KindTrafficDown, insights.KindTrafficRise,
	insights.KindStopped, insights.KindAsymmetric, insights.KindRTT, insights.KindLoss, insights.KindMoves}

// Register adds the routes to r.
func (h *Handlers) Register(r httpapi.Router) {
	r.Handle("GET /api/v1/insights", h.getInsights)
	r.Handle("GET /api/v1/insights/history", httpapi.Get(h.ready, func() any { return h.Engine.History() }))
	r.Handle("GET /api/v1/insights/stats", httpapi.Get(h.ready, func() any { return h.Engine.Stats() }))
	r.Handle("GET /api/v1/insights/top", h.getTopTalkers)
}

func (h *Handlers) ready() error {
	_, err := h.engine()
	return err
}

func (h *Handlers) engine() (Engine, error) {
	if h.Engine == nil {
		return nil, httpapi.Errorf(http.StatusServiceUnavailable, "", "insights are not enabled on this server (they need the collector: statistics.enabled)")
	}
	return h.Engine, nil
}

func (h *Handlers) getInsights(w http.ResponseWriter, r *http.Request) error {
	e, err := h.engine()
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "kind", "min_score", "switch")
	if err != nil {
		return err
	}
	kinds := map[string]bool{}
	if q.Has("kind") {
		for _, k := range strings.Split(q.Get("kind"), ",") {
			if !httpapi.OneOf(k, Kinds) {
				return httpapi.Errorf(http.StatusBadRequest, "kind", "kind %q: want one of %s (comma separated)", k, strings.Join(Kinds, ", "))
			}
			kinds[k] = true
		}
	}
	minScore := 0.0
	if q.Has("min_score") {
		minScore, err = strconv.ParseFloat(q.Get("min_score"), 64)
		if err != nil || minScore < 0 {
			return httpapi.Errorf(http.StatusBadRequest, "min_score", "min_score %q: want a number of at least 0 (scores start at 1)", q.Get("min_score"))
		}
	}
	var dpid *string
	if q.Has("switch") {
		d, err := h.Switch(q.Get("switch"))
		if err != nil {
			return httpapi.Errorf(http.StatusBadRequest, "switch", "switch: %v", err)
		}
		v := controller.FormatDPID(d)
		dpid = &v
	}
	out := api.Insights{Items: []insights.Item{}}
	for _, it := range e.Items() {
		if (len(kinds) == 0 || kinds[it.Kind]) && it.Score >= minScore && (dpid == nil || it.Labels["dpid"] == *dpid || it.Labels["remote"] == *dpid) {
			out.Items = append(out.Items, it)
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// GET /api/v1/insights/top?what=flows|interfaces|hosts|networks&by=bytes|packets&from=&to=&limit=N
func (h *Handlers) getTopTalkers(w http.ResponseWriter, r *http.Request) error {
	if h.History == nil {
		return httpapi.Errorf(http.StatusServiceUnavailable, "", "statistics collection is not enabled on this server")
	}
	q, err := httpapi.Query(r, "what", "by", "from", "to", "limit")
	if err != nil {
		return err
	}
	tq := insights.TopQuery{What: q.Get("what"), Limit: 10, Names: h.Names}
	if tq.What == "" {
		tq.What = insights.TopInterfaces
	}
	if !httpapi.OneOf(tq.What, insights.TopWhat) {
		return httpapi.Errorf(http.StatusBadRequest, "what", "what %q: want one of %s", tq.What, strings.Join(insights.TopWhat, ", "))
	}
	switch q.Get("by") {
	case "", "bytes":
	case "packets":
		tq.Packets = true
	default:
		return httpapi.Errorf(http.StatusBadRequest, "by", "by %q: want bytes or packets", q.Get("by"))
	}
	now := time.Now()
	tq.To = now
	if t, ok, err := httpapi.ParseTime(q, "to", now); err != nil {
		return err
	} else if ok {
		tq.To = t
	}
	tq.From = tq.To.Add(-15 * time.Minute)
	if t, ok, err := httpapi.ParseTime(q, "from", now); err != nil {
		return err
	} else if ok {
		tq.From = t
	}
	if !tq.To.After(tq.From) {
		return httpapi.Errorf(http.StatusBadRequest, "from", "from %s is not before to %s", tq.From.UTC().Format(time.RFC3339), tq.To.UTC().Format(time.RFC3339))
	}
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > 1000 {
			return httpapi.Errorf(http.StatusBadRequest, "limit", "limit %q: want a number from 1 to 1000", q.Get("limit"))
		}
		tq.Limit = n
	}
	if tq.What == insights.TopHosts && h.Hosts != nil {
		tq.Hosts = h.Hosts()
	}
	out, err := insights.Top(h.History, tq)
	if err != nil {
		return httpapi.Errorf(http.StatusBadRequest, "", "%v", err)
	}
	httpapi.WriteJSON(w, http.StatusOK, api.TopTalkers{What: tq.What, From: tq.From.UTC(), To: tq.To.UTC(), Talkers: out})
	return nil
}
