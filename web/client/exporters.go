package client

import (
	"context"

	"github.com/satellite-sdn/satellite/web"
)

// Exporters returns the health of the exporters and of /metrics.
func (c *Client) Exporters(ctx context.Context) (web.ExportersStatus, error) {
	var out web.ExportersStatus
	return out, c.do(ctx, "GET", "/api/v1/exporters", nil, nil, &out)
}
