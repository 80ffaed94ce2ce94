package client

import (
	"context"
	"net/url"

	"github.com/satellite-sdn/satellite/api"
)

// Tunnels returns the GRE paths with their probe measurements; local,
// remote and state filter them ("" for all).
func (c *Client) Tunnels(ctx context.Context, local, remote, state string) (api.Tunnels, error) {
	q := url.Values{}
	for k, v := range map[string]string{"local": local, "remote": remote, "state": state} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out api.Tunnels
	return out, c.do(ctx, "GET", "/api/v1/tunnels", q, nil, &out)
}
