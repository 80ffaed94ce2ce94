package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/insights"
)

// InsightQuery filters GET /api/v1/insights; zero fields select all.
type InsightQuery struct {
	Kind     string  // detectors, comma separated
	MinScore float64 // only items scoring at least this
	Switch   string  // a datapath id or name
}

// Insights returns what is wrong now, the highest score first.
func (c *Client) Insights(ctx context.Context, q InsightQuery) (api.Insights, error) {
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
	var out api.Insights
	return out, c.do(ctx, "GET", "/api/v1/insights", v, nil, &out)
}

// InsightHistory returns the findings raised and cleared, oldest first.
func (c *Client) InsightHistory(ctx context.Context) ([]insights.Event, error) {
	var out []insights.Event
	return out, c.do(ctx, "GET", "/api/v1/insights/history", nil, nil, &out)
}

// TopQuery asks GET /api/v1/insights/top; zero fields take the server's
// defaults.
type TopQuery struct {
	What, By, From, To string
	Limit              int
}

// TopTalkers returns the top talkers over a window of the history.
func (c *Client) TopTalkers(ctx context.Context, q TopQuery) (api.TopTalkers, error) {
	v := url.Values{}
	for k, x := range map[string]string{"what": q.What, "by": q.By, "from": q.From, "to": q.To} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out api.TopTalkers
	return out, c.do(ctx, "GET", "/api/v1/insights/top", v, nil, &out)
}

// NetworkTraffic returns one virtual network on its own with its traffic.
func (c *Client) NetworkTraffic(ctx context.Context, name string) (api.NetworkTraffic, error) {
	var out api.NetworkTraffic
	return out, c.do(ctx, "GET", "/api/v1/networks/"+url.PathEscape(name)+"/traffic", nil, nil, &out)
}
