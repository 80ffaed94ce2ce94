package client

import (
	"context"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/diagnostics"
)

// Trace runs a packet trace (POST /api/v1/trace).
func (c *Client) Trace(ctx context.Context, req diagnostics.Request) (diagnostics.Result, error) {
	var out diagnostics.Result
	return out, c.do(ctx, "POST", api.TracePath, nil, req, &out)
}
