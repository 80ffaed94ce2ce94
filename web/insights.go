package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/satellite-sdn/satellite/insights"
)

// Insight routes (package insights):
//
//	GET /api/v1/insights[?kind=K&min_score=N&switch=S]   what is wrong now, the highest score first
//	GET /api/v1/insights/history                         raised and cleared findings, oldest first
//	GET /api/v1/insights/stats                           series judged and counters
//
// They answer 503 unless the server was given an engine (WithInsights).

// WithInsights serves the insight routes from e; without it they answer 503.
func WithInsights(e *insights.Engine) Option { return func(s *Server) { s.insights = e } }

// Insights is the answer of GET /api/v1/insights.
type Insights struct {
	Items []insights.Item `json:"items"`
}

// insightKinds are the values of ?kind=.
var insightKinds = []string{insights.KindErrors, insights.KindDrops, insights.KindTrafficDown, insights.KindTrafficRise,
	insights.KindStopped, insights.KindAsymmetric, insights.KindRTT, insights.KindLoss, insights.KindMoves}

func (s *Server) insightRoutes() {
	s.handle("GET /api/v1/insights", s.getInsights)
	s.handle("GET /api/v1/insights/history", s.getInsightHistory)
	s.handle("GET /api/v1/insights/stats", s.getInsightStats)
}

func (s *Server) insightEngine() (*insights.Engine, error) {
	if s.insights == nil {
		return nil, errorf(http.StatusServiceUnavailable, "", "insights are not enabled on this server (they need the collector: statistics.enabled)")
	}
	return s.insights, nil
}

func (s *Server) getInsights(w http.ResponseWriter, r *http.Request) error {
	e, err := s.insightEngine()
	if err != nil {
		return err
	}
	q, err := query(r, "kind", "min_score", "switch")
	if err != nil {
		return err
	}
	kinds := map[string]bool{}
	if q.Has("kind") {
		for _, k := range strings.Split(q.Get("kind"), ",") {
			if !oneOf(k, insightKinds) {
				return errorf(http.StatusBadRequest, "kind", "kind %q: want one of %s (comma separated)", k, strings.Join(insightKinds, ", "))
			}
			kinds[k] = true
		}
	}
	minScore := 0.0
	if q.Has("min_score") {
		minScore, err = strconv.ParseFloat(q.Get("min_score"), 64)
		if err != nil || minScore < 0 {
			return errorf(http.StatusBadRequest, "min_score", "min_score %q: want a number of at least 0 (scores start at 1)", q.Get("min_score"))
		}
	}
	var dpid *string
	if q.Has("switch") {
		d, err := s.switchID(q.Get("switch"))
		if err != nil {
			return errorf(http.StatusBadRequest, "switch", "switch: %v", err)
		}
		v := FormatDPID(d)
		dpid = &v
	}
	out := Insights{Items: []insights.Item{}}
	for _, it := range e.Items() {
		if (len(kinds) == 0 || kinds[it.Kind]) && it.Score >= minScore && (dpid == nil || it.Labels["dpid"] == *dpid || it.Labels["remote"] == *dpid) {
			out.Items = append(out.Items, it)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getInsightHistory(w http.ResponseWriter, r *http.Request) error {
	e, err := s.insightEngine()
	if err != nil {
		return err
	}
	if _, err := query(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e.History())
	return nil
}

func (s *Server) getInsightStats(w http.ResponseWriter, r *http.Request) error {
	e, err := s.insightEngine()
	if err != nil {
		return err
	}
	if _, err := query(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, e.Stats())
	return nil
}
