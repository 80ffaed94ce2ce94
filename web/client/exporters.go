package client

import (
	"context"

	"github.com/satellite-sdn/satellite/api"
)

// Exporters returns the health of the exporters and of /metrics.
func (c *Client) Exporters(ctx context.Context) (api.ExportersStatus, error) {
	var out api.ExportersStatus
	return out, c.do(ctx, "GET", "/api/v1/exporters", nil, nil, &out)
}
