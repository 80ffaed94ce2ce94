package web

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/satellite-sdn/satellite/web/internal/httpapi"

	"github.com/satellite-sdn/satellite/alerts"
)

// Alert routes (package alerts):
//
//	GET    /api/v1/alerts[?state=pending|firing&severity=S&rule=NAME]   active alerts
//	GET    /api/v1/alerts/history[?rule=NAME&limit=N]                   firing and resolved events, oldest first
//	GET    /api/v1/alerts/metrics                                       the metrics rules can use
//	GET    /api/v1/alerts/stats                                         rule, alert and webhook counters
//	GET    /api/v1/alerts/rules
//	POST   /api/v1/alerts/rules                                         a rule; 409 if its name is taken
//	GET    /api/v1/alerts/rules/{name}
//	PUT    /api/v1/alerts/rules/{name}                                  create or replace
//	DELETE /api/v1/alerts/rules/{name}
//
// They answer 503 unless the server was given an engine (WithAlerts).
// Rules of the configuration file are read-only: POST, PUT and DELETE of
// their names answer 409. Rules created through the API are stored by
// the engine (alerts.Config.Store) before they take effect; when the
// store fails the change answers 500 and nothing changed.

// WithAlerts serves the alert routes from e; without it they answer 503.
func WithAlerts(e *alerts.Engine) Option { return func(s *Server) { s.alertEng = e } }

const rulesPath = "/api/v1/alerts/rules"

func (s *Server) alertRoutes() {
	s.handle("GET /api/v1/alerts", s.getAlerts)
	s.handle("GET /api/v1/alerts/history", s.getAlertHistory)
	s.handle("GET /api/v1/alerts/metrics", s.getAlertMetrics)
	s.handle("GET /api/v1/alerts/stats", s.getAlertStats)
	s.handle("GET "+rulesPath, s.listRules)
	s.handle("POST "+rulesPath, s.addRule)
	s.handle("GET "+rulesPath+"/{name}", s.getRule)
	s.handle("PUT "+rulesPath+"/{name}", s.putRule)
	s.handle("DELETE "+rulesPath+"/{name}", s.deleteRule)
}

func (s *Server) engine() (*alerts.Engine, error) {
	if s.alertEng == nil {
		return nil, httpapi.Errorf(http.StatusServiceUnavailable, "", "alerts are not enabled on this server")
	}
	return s.alertEng, nil
}

func (s *Server) getAlerts(w http.ResponseWriter, r *http.Request) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "state", "severity", "rule")
	if err != nil {
		return err
	}
	state, severity := q.Get("state"), q.Get("severity")
	if q.Has("state") && state != alerts.StatePending && state != alerts.StateFiring {
		return httpapi.Errorf(http.StatusBadRequest, "state", "state %q: want pending or firing", state)
	}
	if q.Has("severity") && !httpapi.OneOf(severity, alerts.Severities) {
		return httpapi.Errorf(http.StatusBadRequest, "severity", "severity %q: want one of %s", severity, strings.Join(alerts.Severities, ", "))
	}
	out := []alerts.Alert{}
	for _, a := range e.Active() {
		if (state == "" || a.State == state) && (severity == "" || a.Severity == severity) && (!q.Has("rule") || a.Rule == q.Get("rule")) {
			out = append(out, a)
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getAlertHistory(w http.ResponseWriter, r *http.Request) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "rule", "limit")
	if err != nil {
		return err
	}
	limit, hasLimit, err := uintParam(q, "limit", 1_000_000, "a whole number from 1 to 1000000")
	if err != nil {
		return err
	}
	if hasLimit && limit == 0 {
		return httpapi.Errorf(http.StatusBadRequest, "limit", "limit 0: want a whole number from 1 to 1000000")
	}
	out := []alerts.Event{}
	for _, ev := range e.History() {
		if !q.Has("rule") || ev.Alert.Rule == q.Get("rule") {
			out = append(out, ev)
		}
	}
	if hasLimit && uint64(len(out)) > limit {
		out = out[uint64(len(out))-limit:] // the newest
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getAlertMetrics(w http.ResponseWriter, r *http.Request) error {
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, alerts.Metrics)
	return nil
}

func (s *Server) getAlertStats(w http.ResponseWriter, r *http.Request) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, e.Stats())
	return nil
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, e.Rules())
	return nil
}

func (s *Server) getRule(w http.ResponseWriter, r *http.Request) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	name := r.PathValue("name")
	ri, ok := e.Rule(name)
	if !ok {
		return httpapi.Errorf(http.StatusNotFound, "name", "no rule %q", name)
	}
	httpapi.WriteJSON(w, http.StatusOK, ri)
	return nil
}

// readRule reads and strictly decodes a rule from the request body.
func readRule(r *http.Request) (alerts.Rule, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return alerts.Rule{}, httpapi.Errorf(http.StatusRequestEntityTooLarge, "", "request body exceeds the limit of %d bytes", mbe.Limit)
		}
		return alerts.Rule{}, httpapi.Errorf(http.StatusBadRequest, "", "reading request body: %v", err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return alerts.Rule{}, httpapi.Errorf(http.StatusBadRequest, "", "request body is empty; want a rule such as %s", ruleExample)
	}
	rule, err := alerts.DecodeRule(b)
	if err != nil {
		return rule, ruleError(err, rule.Name)
	}
	return rule, nil
}

const ruleExample = `{"name": "uplink-busy", "metric": "port_tx_bps", "selector": {"dpid": "1", "port": 2}, "op": ">", "value": "800M", "for": "30s", "clear": "600M"}`

// ruleError maps an error of a rule change to an API error: a validation
// or decoding error to a 400 naming the field, a change to a rule of the
// configuration file to a 409, a failed store write to a 500.
func ruleError(err error, name string) error {
	var fe *alerts.FieldError
	switch {
	case errors.Is(err, alerts.ErrRuleReadOnly):
		return httpapi.Errorf(http.StatusConflict, "name", "rule %q comes from the configuration file (alerts.rules) and cannot be changed through the API; edit the file and restart satellite, or use another name", name)
	case errors.Is(err, alerts.ErrRuleStore):
		return httpapi.Errorf(http.StatusInternalServerError, "", "%v", err)
	case errors.Is(err, alerts.ErrRuleExists):
		return httpapi.Errorf(http.StatusConflict, "name", "a rule named %q exists; PUT %s/%s replaces it", name, rulesPath, name)
	case errors.Is(err, alerts.ErrRuleNotFound):
		return httpapi.Errorf(http.StatusNotFound, "name", "no rule %q", name)
	}
	if errors.As(err, &fe) {
		if fe.Field == "" {
			return httpapi.Errorf(http.StatusBadRequest, "", "request body: %s", fe.Msg)
		}
		return httpapi.Errorf(http.StatusBadRequest, fe.Field, "%s: %s", fe.Field, fe.Msg)
	}
	return httpapi.Errorf(http.StatusBadRequest, "", "%v", err)
}

func (s *Server) addRule(w http.ResponseWriter, r *http.Request) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	rule, err := readRule(r)
	if err != nil {
		return err
	}
	ri, err := e.AddRule(rule)
	if err != nil {
		return ruleError(err, rule.Name)
	}
	w.Header().Set("Location", rulesPath+"/"+url.PathEscape(ri.Name))
	httpapi.WriteJSON(w, http.StatusCreated, ri)
	return nil
}

func (s *Server) putRule(w http.ResponseWriter, r *http.Request) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	name := r.PathValue("name")
	rule, err := readRule(r)
	if err != nil {
		return err
	}
	if rule.Name == "" {
		rule.Name = name
	} else if rule.Name != name {
		return httpapi.Errorf(http.StatusBadRequest, "name", "name %q in the body differs from %q in the path", rule.Name, name)
	}
	ri, created, err := e.PutRule(rule)
	if err != nil {
		return ruleError(err, rule.Name)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", rulesPath+"/"+url.PathEscape(ri.Name))
	}
	httpapi.WriteJSON(w, status, ri)
	return nil
}

func (s *Server) deleteRule(w http.ResponseWriter, r *http.Request) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	name := r.PathValue("name")
	ri, err := e.DeleteRule(name)
	if err != nil {
		return ruleError(err, name)
	}
	httpapi.WriteJSON(w, http.StatusOK, ri)
	return nil
}
