package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/satellite-sdn/satellite/insights"
	"github.com/satellite-sdn/satellite/web"
)

// InsightQuery filters GET /api/v1/insights; zero fields select all.
type InsightQuery struct {
	Kind     string  // detectors, comma separated
	MinScore float64 // only items scoring at least this
	Switch   string  // a datapath id or name
}

// Insights returns what is wrong now, the highest score first.
func (c *Client) Insights(ctx context.Context, q InsightQuery) (web.Insights, error) {
	v := url.Values{}
	if q.Kind != "" {
		v.Set("kind", q.Kind)
	}
	if q.MinScore > 0 {
		v.Set("min_score", strconv.FormatFloat(q.MinScore, 'f', -1, 64))
	}
	if q.Switch != "" {
		v.Set("switch", q.Switch)
	}
	var out web.Insights
	return out, c.do(ctx, "GET", "/api/v1/insights", v, nil, &out)
}

// InsightHistory returns the findings raised and cleared, oldest first.
func (c *Client) InsightHistory(ctx context.Context) ([]insights.Event, error) {
	var out []insights.Event
	return out, c.do(ctx, "GET", "/api/v1/insights/history", nil, nil, &out)
}
