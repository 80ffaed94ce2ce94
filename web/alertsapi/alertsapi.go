// Package alertsapi serves the alerts and their rules (alerts/):
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
package alertsapi

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"
)

// Engine is what the routes need of the alert engine (*alerts.Engine).
type Engine interface {
	Active() []alerts.Alert
	History() []alerts.Event
	Stats() alerts.Stats
	Rules() []alerts.RuleInfo
	Rule(name string) (alerts.RuleInfo, bool)
	AddRule(r alerts.Rule) (alerts.RuleInfo, error)
	PutRule(r alerts.Rule) (alerts.RuleInfo, bool, error)
	DeleteRule(name string) (alerts.RuleInfo, error)
}

// Handlers serve the alert routes.
type Handlers struct {
	// Engine evaluates the rules, or is nil: the routes answer 503.
	Engine Engine
}

// Register adds the routes to r.
func (h *Handlers) Register(r httpapi.Router) {
	r.Handle("GET /api/v1/alerts", h.getAlerts)
	r.Handle("GET /api/v1/alerts/history", h.getAlertHistory)
	r.Handle("GET /api/v1/alerts/metrics", h.getAlertMetrics)
	r.Handle("GET /api/v1/alerts/stats", httpapi.Get(h.ready, func() any { return h.Engine.Stats() }))
	r.Handle("GET "+api.RulesPath, httpapi.Get(h.ready, func() any { return h.Engine.Rules() }))
	r.Handle("POST "+api.RulesPath, h.addRule)
	r.Handle("GET "+api.RulesPath+"/{name}", h.getRule)
	r.Handle("PUT "+api.RulesPath+"/{name}", h.putRule)
	r.Handle("DELETE "+api.RulesPath+"/{name}", h.deleteRule)
}

func (h *Handlers) ready() error {
	_, err := h.engine()
	return err
}

func (h *Handlers) engine() (Engine, error) {
	if h.Engine == nil {
		return nil, httpapi.Errorf(http.StatusServiceUnavailable, "", "alerts are not enabled on this server")
	}
	return h.Engine, nil
}

func (h *Handlers) getAlerts(w http.ResponseWriter, r *http.Request) error {
	e, err := h.engine()
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

func (h *Handlers) getAlertHistory(w http.ResponseWriter, r *http.Request) error {
	e, err := h.engine()
	if err != nil {
		return err
	}
	q, err := httpapi.Query(r, "rule", "limit")
	if err != nil {
		return err
	}
	limit, hasLimit, err := httpapi.UintParam(q, "limit", 1_000_000, "a whole number from 1 to 1000000")
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

func (h *Handlers) getAlertMetrics(w http.ResponseWriter, r *http.Request) error {
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, alerts.Metrics)
	return nil
}

func (h *Handlers) getRule(w http.ResponseWriter, r *http.Request) error {
	e, err := h.engine()
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
		return httpapi.Errorf(http.StatusConflict, "name", "a rule named %q exists; PUT %s/%s replaces it", name, api.RulesPath, name)
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

func (h *Handlers) addRule(w http.ResponseWriter, r *http.Request) error {
	e, err := h.engine()
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
	w.Header().Set("Location", api.RulesPath+"/"+url.PathEscape(ri.Name))
	httpapi.WriteJSON(w, http.StatusCreated, ri)
	return nil
}

func (h *Handlers) putRule(w http.ResponseWriter, r *http.Request) error {
	e, err := h.engine()
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
		w.Header().Set("Location", api.RulesPath+"/"+url.PathEscape(ri.Name))
	}
	httpapi.WriteJSON(w, status, ri)
	return nil
}

func (h *Handlers) deleteRule(w http.ResponseWriter, r *http.Request) error {
	e, err := h.engine()
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
