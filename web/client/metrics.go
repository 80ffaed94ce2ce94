package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/alerts"
)

// PortMetricsQuery selects ports; empty fields select everything.
type PortMetricsQuery struct {
	DPID string // any form the API accepts
	Port string // a number or "local"
}

// MetricsPorts returns the latest rates and counters of the selected ports.
func (c *Client) MetricsPorts(ctx context.Context, f PortMetricsQuery) ([]api.PortMetrics, error) {
	q := url.Values{}
	if f.DPID != "" {
		q.Set("dpid", f.DPID)
	}
	if f.Port != "" {
		q.Set("port", f.Port)
	}
	var out []api.PortMetrics
	return out, c.do(ctx, "GET", "/api/v1/metrics/ports", q, nil, &out)
}

// FlowMetricsQuery selects flows; empty and nil fields select everything.
type FlowMetricsQuery struct {
	DPID    string
	Table   *uint8
	Owner   string // owner kind: api, interface, router, ..., foreign
	Network *uint32
	ID      *uint32
	Sort    string // key (default), bps or pps (highest first)
	Limit   int    // 0: the server's default (1000)
}

// MetricsFlows returns the latest rates and counters of the selected flows.
func (c *Client) MetricsFlows(ctx context.Context, f FlowMetricsQuery) ([]api.FlowMetrics, error) {
	q := url.Values{}
	if f.DPID != "" {
		q.Set("dpid", f.DPID)
	}
	if f.Table != nil {
		q.Set("table", strconv.Itoa(int(*f.Table)))
	}
	if f.Owner != "" {
		q.Set("owner", f.Owner)
	}
	if f.Network != nil {
		q.Set("network", strconv.FormatUint(uint64(*f.Network), 10))
	}
	if f.ID != nil {
		q.Set("id", strconv.FormatUint(uint64(*f.ID), 10))
	}
	if f.Sort != "" {
		q.Set("sort", f.Sort)
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out []api.FlowMetrics
	return out, c.do(ctx, "GET", "/api/v1/metrics/flows", q, nil, &out)
}

// MetricsTables returns the latest statistics of the flow tables in use
// (dpid "": of every switch).
func (c *Client) MetricsTables(ctx context.Context, dpid string) ([]api.TableMetrics, error) {
	q := url.Values{}
	if dpid != "" {
		q.Set("dpid", dpid)
	}
	var out []api.TableMetrics
	return out, c.do(ctx, "GET", "/api/v1/metrics/tables", q, nil, &out)
}

// MetricsGroups returns the latest statistics of the groups (dpid "": of
// every switch).
func (c *Client) MetricsGroups(ctx context.Context, dpid string) ([]api.GroupMetrics, error) {
	q := url.Values{}
	if dpid != "" {
		q.Set("dpid", dpid)
	}
	var out []api.GroupMetrics
	return out, c.do(ctx, "GET", "/api/v1/metrics/groups", q, nil, &out)
}

// SeriesQuery selects part of a series' history. From and To are RFC 3339,
// Unix seconds, "now" or relative ("-15m"); Step is a duration ("1m");
// Resolution is raw or downsampled. Empty fields take the server's
// defaults (the last hour, native resolution).
type SeriesQuery struct {
	Key, From, To, Step, Resolution string
}

// MetricsSeries returns a series' history.
func (c *Client) MetricsSeries(ctx context.Context, f SeriesQuery) (api.Series, error) {
	q := url.Values{"key": {f.Key}}
	for k, v := range map[string]string{"from": f.From, "to": f.To, "step": f.Step, "resolution": f.Resolution} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out api.Series
	return out, c.do(ctx, "GET", "/api/v1/metrics/series", q, nil, &out)
}

// MetricsStats returns the collector's health.
func (c *Client) MetricsStats(ctx context.Context) (api.MetricsStats, error) {
	var out api.MetricsStats
	return out, c.do(ctx, "GET", "/api/v1/metrics/stats", nil, nil, &out)
}

// AlertQuery selects active alerts; empty fields select everything.
type AlertQuery struct {
	State    string // pending or firing
	Severity string
	Rule     string
}

// Alerts returns the pending and firing alerts.
func (c *Client) Alerts(ctx context.Context, f AlertQuery) ([]alerts.Alert, error) {
	q := url.Values{}
	for k, v := range map[string]string{"state": f.State, "severity": f.Severity, "rule": f.Rule} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out []alerts.Alert
	return out, c.do(ctx, "GET", "/api/v1/alerts", q, nil, &out)
}

// AlertHistory returns the firing and resolved events, oldest first
// (rule "": of every rule; limit 0: all kept).
func (c *Client) AlertHistory(ctx context.Context, rule string, limit int) ([]alerts.Event, error) {
	q := url.Values{}
	if rule != "" {
		q.Set("rule", rule)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out []alerts.Event
	return out, c.do(ctx, "GET", "/api/v1/alerts/history", q, nil, &out)
}

// AlertStats returns the alert engine's counters.
func (c *Client) AlertStats(ctx context.Context) (alerts.Stats, error) {
	var out alerts.Stats
	return out, c.do(ctx, "GET", "/api/v1/alerts/stats", nil, nil, &out)
}

const rulesPath = "/api/v1/alerts/rules"

// AlertRules returns every rule.
func (c *Client) AlertRules(ctx context.Context) ([]alerts.RuleInfo, error) {
	var out []alerts.RuleInfo
	return out, c.do(ctx, "GET", rulesPath, nil, nil, &out)
}

// AlertRule returns one rule.
func (c *Client) AlertRule(ctx context.Context, name string) (alerts.RuleInfo, error) {
	var out alerts.RuleInfo
	return out, c.do(ctx, "GET", rulesPath+"/"+url.PathEscape(name), nil, nil, &out)
}

// AddAlertRule creates a rule (an *APIError with status 409 when the name
// is taken).
func (c *Client) AddAlertRule(ctx context.Context, r alerts.Rule) (alerts.RuleInfo, error) {
	var out alerts.RuleInfo
	return out, c.do(ctx, "POST", rulesPath, nil, r, &out)
}

// PutAlertRule creates or replaces a rule.
func (c *Client) PutAlertRule(ctx context.Context, r alerts.Rule) (alerts.RuleInfo, error) {
	var out alerts.RuleInfo
	return out, c.do(ctx, "PUT", rulesPath+"/"+url.PathEscape(r.Name), nil, r, &out)
}

// DeleteAlertRule deletes a rule and returns it.
func (c *Client) DeleteAlertRule(ctx context.Context, name string) (alerts.RuleInfo, error) {
	var out alerts.RuleInfo
	return out, c.do(ctx, "DELETE", rulesPath+"/"+url.PathEscape(name), nil, nil, &out)
}
