package web_test

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

func TestAlertRulesCRUD(t *testing.T) {
	m := startMetrics(t)
	rule := `{"name": "tx-high", "metric": "port_tx_bps", "selector": {"dpid": "1", "port": 2}, "op": ">", "value": "800M", "for": "30s", "clear": "600M", "labels": {"team": "net"}}`
	r := do(t, m.Env, "POST", "/api/v1/alerts/rules", rule)
	var ri alerts.RuleInfo
	r.decode(t, 201, &ri)
	if r.header.Get("Location") != "/api/v1/alerts/rules/tx-high" || ri.Source != "api" || float64(*ri.Value) != 800e6 ||
		float64(*ri.Clear) != 600e6 || time.Duration(ri.For) != 30*time.Second || ri.Severity != "warning" || *ri.Selector.Port != 2 {
		t.Fatalf("created %+v (location %q)", ri, r.header.Get("Location"))
	}
	do(t, m.Env, "POST", "/api/v1/alerts/rules", rule).wantError(t, 409, "name", `a rule named "tx-high" exists`)
	for body, want := range map[string][2]string{
		`{"name": "a", "metric": "port_tx_bsp", "op": ">", "value": 1}`:                       {"metric", `unknown metric "port_tx_bsp"`},
		`{"name": "a", "metric": "port_tx_bps", "op": "=>", "value": 1}`:                      {"op", `unknown operator "=>"`},
		`{"name": "a", "metric": "port_tx_bps", "op": ">", "value": 1, "for": "-2s"}`:         {"for", "-2s is negative"},
		`{"name": "a", "metric": "port_tx_bps", "op": ">", "value": 1, "clear": 2}`:           {"clear", "above value"},
		`{"name": "a", "metric": "flow_bps", "op": ">", "value": 1, "selector": {"port": 1}}`: {"selector.port", "flow metric"},
		`{"name": "a", "metric": "port_tx_bps", "op": ">", "value": "fast"}`:                  {"value", `"fast" is not a number`},
		`{"name": "a", "metric": "port_tx_bps", "treshold": 1}`:                               {"treshold", "unknown field"},
		`{"name": "a b", "metric": "port_tx_bps", "op": ">", "value": 1}`:                     {"name", "want 1-64 letters"},
		`[]`: {"", "want a JSON object"},
		``:   {"", "request body is empty"},
	} {
		do(t, m.Env, "POST", "/api/v1/alerts/rules", body).wantError(t, 400, want[0], want[1])
	}
	var list []alerts.RuleInfo
	do(t, m.Env, "GET", "/api/v1/alerts/rules", "").decode(t, 200, &list)
	if len(list) != 1 || list[0].Name != "tx-high" {
		t.Fatalf("list %+v", list)
	}
	do(t, m.Env, "GET", "/api/v1/alerts/rules/tx-high", "").decode(t, 200, &ri)
	do(t, m.Env, "GET", "/api/v1/alerts/rules/nope", "").wantError(t, 404, "name", `no rule "nope"`)
	// PUT creates, then replaces; the name comes from the path
	r = do(t, m.Env, "PUT", "/api/v1/alerts/rules/sw-down", `{"metric": "switch_down", "for": "5s", "severity": "critical"}`)
	r.decode(t, 201, &ri)
	if ri.Name != "sw-down" || ri.Op != "==" || float64(*ri.Value) != 1 {
		t.Fatalf("put created %+v", ri)
	}
	do(t, m.Env, "PUT", "/api/v1/alerts/rules/sw-down", `{"metric": "switch_down", "for": "9s"}`).decode(t, 200, &ri)
	if time.Duration(ri.For) != 9*time.Second {
		t.Fatalf("replaced %+v", ri)
	}
	do(t, m.Env, "PUT", "/api/v1/alerts/rules/sw-down", `{"name": "other", "metric": "switch_down"}`).wantError(t, 400, "name", "differs")
	do(t, m.Env, "DELETE", "/api/v1/alerts/rules/sw-down", "").decode(t, 200, &ri)
	do(t, m.Env, "DELETE", "/api/v1/alerts/rules/sw-down", "").wantError(t, 404, "name", "no rule")
	do(t, m.Env, "PATCH", "/api/v1/alerts/rules/tx-high", "").wantError(t, 405, "", "not allowed")
}

func TestAlertsActiveAndHistory(t *testing.T) {
	m := startMetrics(t)
	do(t, m.Env, "POST", "/api/v1/alerts/rules", `{"name": "busy", "metric": "port_tx_bps", "op": ">", "value": 1000000, "selector": {"port": 2}, "severity": "critical"}`).decode(t, 201, nil)
	m.traffic(t, 8e6)
	var active []alerts.Alert
	waitUntil(t, "a firing alert", func() bool {
		do(t, m.Env, "GET", "/api/v1/alerts?state=firing", "").decode(t, 200, &active)
		return len(active) == 1
	})
	a := active[0]
	if a.Rule != "busy" || a.Series != "port/0000000000000001/2" || a.Labels["name"] != "p2" || a.Severity != "critical" || a.FiredAt == nil || a.Value <= 1e6 {
		t.Fatalf("alert %+v", a)
	}
	do(t, m.Env, "GET", "/api/v1/alerts?severity=info", "").decode(t, 200, &active)
	if len(active) != 0 {
		t.Fatalf("info alerts: %+v", active)
	}
	var hist []alerts.Event
	do(t, m.Env, "GET", "/api/v1/alerts/history?rule=busy&limit=10", "").decode(t, 200, &hist)
	if len(hist) != 1 || hist[0].Kind != "firing" {
		t.Fatalf("history %+v", hist)
	}
	// deleting the rule resolves its alert
	do(t, m.Env, "DELETE", "/api/v1/alerts/rules/busy", "").decode(t, 200, nil)
	do(t, m.Env, "GET", "/api/v1/alerts/history", "").decode(t, 200, &hist)
	if len(hist) != 2 || hist[1].Kind != "resolved" || hist[1].Alert.Reason != "rule deleted" {
		t.Fatalf("history after delete %+v", hist)
	}
	var metrics []alerts.MetricInfo
	do(t, m.Env, "GET", "/api/v1/alerts/metrics", "").decode(t, 200, &metrics)
	if len(metrics) != len(alerts.Metrics) || metrics[0].Name != "port_rx_bps" || metrics[0].Scope != "port" {
		t.Fatalf("metrics %+v", metrics[:1])
	}
	var st alerts.Stats
	do(t, m.Env, "GET", "/api/v1/alerts/stats", "").decode(t, 200, &st)
	if st.Rules != 0 || st.Evaluations == 0 {
		t.Fatalf("stats %+v", st)
	}
	do(t, m.Env, "GET", "/api/v1/alerts?state=gone", "").wantError(t, 400, "state", "want pending or firing")
	do(t, m.Env, "GET", "/api/v1/alerts?severity=urgent", "").wantError(t, 400, "severity", "want one of info, warning, critical")
	do(t, m.Env, "GET", "/api/v1/alerts/history?limit=0", "").wantError(t, 400, "limit", "limit 0")
	_ = api.Error{}
}

// TestAlertRulesStoredAndReadOnly: the rules of the configuration file
// cannot be changed through the API (409, the rule unchanged); API rules
// are in the store once the API answered; when the store cannot be
// written the API answers 500 and no rule changed.
func TestAlertRulesStoredAndReadOnly(t *testing.T) {
	logs := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := alerts.OpenRuleStore(filepath.Join(t.TempDir(), "state-alerts.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	eng, err := alerts.New(alerts.Config{Logger: logs, Store: store,
		Rules: []alerts.Rule{{Name: "from-file", Metric: alerts.MetricSwitchDown, Severity: "critical"}}}, alerts.Sources{})
	if err != nil {
		t.Fatal(err)
	}
	env := webtest.Start(t, web.WithAlerts(eng))
	const readOnly = `rule "from-file" comes from the configuration file (alerts.rules) and cannot be changed through the API`
	do(t, env, "POST", "/api/v1/alerts/rules", `{"name": "from-file", "metric": "port_down"}`).wantError(t, 409, "name", readOnly)
	do(t, env, "PUT", "/api/v1/alerts/rules/from-file", `{"metric": "port_down"}`).wantError(t, 409, "name", readOnly)
	do(t, env, "DELETE", "/api/v1/alerts/rules/from-file", "").wantError(t, 409, "name", readOnly)
	var ri alerts.RuleInfo
	do(t, env, "GET", "/api/v1/alerts/rules/from-file", "").decode(t, 200, &ri)
	if ri.Metric != alerts.MetricSwitchDown || ri.Source != "config" || ri.Status != "active" || ri.Severity != "critical" {
		t.Fatalf("the config rule changed: %+v", ri)
	}

	do(t, env, "POST", "/api/v1/alerts/rules", `{"name": "mine", "metric": "port_tx_bps", "op": ">", "value": "1M"}`).decode(t, 201, &ri)
	if ri.Source != "api" || ri.Status != "active" {
		t.Fatalf("created %+v", ri)
	}
	stored, err := store.LoadRules()
	if err != nil || len(stored) != 1 || stored[0].Rule.Name != "mine" || float64(*stored[0].Rule.Value) != 1e6 {
		t.Fatalf("stored %+v %v", stored, err)
	}

	store.Close() // a store that cannot be written any more (a real bbolt file, closed)
	const failed = "storing the rule change failed, nothing was changed: alert rule store "
	do(t, env, "POST", "/api/v1/alerts/rules", `{"name": "new", "metric": "switch_down"}`).wantError(t, 500, "", failed)
	do(t, env, "PUT", "/api/v1/alerts/rules/new", `{"metric": "switch_down"}`).wantError(t, 500, "", failed)
	do(t, env, "PUT", "/api/v1/alerts/rules/mine", `{"metric": "port_rx_bps", "op": ">", "value": "9M"}`).wantError(t, 500, "", failed)
	do(t, env, "DELETE", "/api/v1/alerts/rules/mine", "").wantError(t, 500, "", failed)
	do(t, env, "GET", "/api/v1/alerts/rules/new", "").wantError(t, 404, "name", `no rule "new"`)
	var list []alerts.RuleInfo
	do(t, env, "GET", "/api/v1/alerts/rules", "").decode(t, 200, &list)
	if len(list) != 2 || list[0].Name != "from-file" || list[1].Name != "mine" || list[1].Metric != "port_tx_bps" || float64(*list[1].Value) != 1e6 {
		t.Fatalf("rules after failed writes: %+v", list)
	}
	// a bad rule is still a 400 naming the field, before the store is tried
	do(t, env, "POST", "/api/v1/alerts/rules", `{"name": "x", "metric": "nope"}`).wantError(t, 400, "metric", "unknown metric")
}

func thr(v float64) *alerts.Threshold {
	t := alerts.Threshold(v)
	return &t
}

func u32p(v uint32) *uint32 { return &v }
