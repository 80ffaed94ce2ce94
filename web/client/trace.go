package client

import (
	"context"

	"github.com/satellite-sdn/satellite/diagnostics"
	"github.com/satellite-sdn/satellite/web"
)

// Trace runs a packet trace (POST /api/v1/trace).
func (c *Client) Trace(ctx context.Context, req diagnostics.Request) (diagnostics.Result, error) {
	var out diagnostics.Result
	return out, c.do(ctx, "POST", web.TracePath, nil, req, &out)
}
