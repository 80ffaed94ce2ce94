package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"

	"github.com/satellite-sdn/satellite/insights"
)

// Insight routes (package insights):
//
//	GET /api/v1/insights[?kind=K&min_score=N&switch=S]   what is wrong now, the highest score first
//	GET /api/v1/insights/history                         raised and cleared findings, oldest first
//	GET /api/v1/insights/stats                           series judged and counters
//	GET /api/v1/insights/top[?what=W&by=B&from=&to=&limit=N]   top talkers over a window of the history (needs the collector only)
//
// They answer 503 unless the server was given an engine (WithInsights).

// WithInsights serves the insight routes from e; without it they answer 503.
func WithInsights(e *insights.Engine) Option { return func(s *Server) { s.insights = e } }

// insightKinds are the values of ?kind=.
var insightKinds = []string{insights.KindErrors, insights.KindDrops, insights.KindTrafficDown, insights.KindTrafficRise,
	insights.KindStopped, insights.KindAsymmetric, insights.KindRTT, insights.KindLoss, insights.KindMoves}

func (s *Server) insightRoutes() {
	s.handle("GET /api/v1/insights", s.getInsights)
	s.handle("GET /api/v1/insights/history", s.getInsightHistory)
	s.handle("GET /api/v1/insights/stats", s.getInsightStats)
	s.handle("GET /api/v1/insights/top", s.getTopTalkers)
	s.handle("GET /api/v1/networks/{name}/traffic", s.getNetworkTraffic) // nettraffic.go
}

func (s *Server) insightEngine() (*insights.Engine, error) {
	if s.insights == nil {
		return nil, httpapi.Errorf(http.StatusServiceUnavailable, "", "insights are not enabled on this server (they need the collector: statistics.enabled)")
	}
	return s.insights, nil
}

func (s *Server) getInsights(w http.ResponseWriter, r *http.Request) error {
	e, err := s.insightEngine()
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
			if !oneOf(k, insightKinds) {
				return httpapi.Errorf(http.StatusBadRequest, "kind", "kind %q: want one of %s (comma separated)", k, strings.Join(insightKinds, ", "))
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
		d, err := s.switchID(q.Get("switch"))
		if err != nil {
			return httpapi.Errorf(http.StatusBadRequest, "switch", "switch: %v", err)
		}
		v := FormatDPID(d)
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

func (s *Server) getInsightHistory(w http.ResponseWriter, r *http.Request) error {
	e, err := s.insightEngine()
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, e.History())
	return nil
}

func (s *Server) getInsightStats(w http.ResponseWriter, r *http.Request) error {
	e, err := s.insightEngine()
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, e.Stats())
	return nil
}

// GET /api/v1/insights/top?what=flows|interfaces|hosts|networks&by=bytes|packets&from=&to=&limit=N
func (s *Server) getTopTalkers(w http.ResponseWriter, r *http.Request) error {
	c, err := s.collector()
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "what", "by", "from", "to", "limit")
	if err != nil {
		return err
	}
	tq := insights.TopQuery{What: q.Get("what"), Limit: 10, Names: webNames{s}}
	if tq.What == "" {
		tq.What = insights.TopInterfaces
	}
	if !oneOf(tq.What, insights.TopWhat) {
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
	if t, ok, err := parseTime(q, "to", now); err != nil {
		return err
	} else if ok {
		tq.To = t
	}
	tq.From = tq.To.Add(-15 * time.Minute)
	if t, ok, err := parseTime(q, "from", now); err != nil {
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
	if tq.What == insights.TopHosts && s.model != nil {
		tq.Hosts = s.model.Hosts()
	}
	out, err := insights.Top(c, tq)
	if err != nil {
		return httpapi.Errorf(http.StatusBadRequest, "", "%v", err)
	}
	httpapi.WriteJSON(w, http.StatusOK, api.TopTalkers{What: tq.What, From: tq.From.UTC(), To: tq.To.UTC(), Talkers: out})
	return nil
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
