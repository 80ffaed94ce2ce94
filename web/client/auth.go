package client

import (
	"context"
	"net/url"
	"strconv"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/internal/auth"
)

// Whoami returns GET /api/v1/whoami: who the server takes the client for.
func (c *Client) Whoami(ctx context.Context) (auth.Identity, error) {
	var id auth.Identity
	return id, c.do(ctx, "GET", "/api/v1/whoami", nil, nil, &id)
}

// Tokens returns GET /api/v1/tokens.
func (c *Client) Tokens(ctx context.Context) ([]auth.Token, error) {
	var out []auth.Token
	return out, c.do(ctx, "GET", "/api/v1/tokens", nil, nil, &out)
}

// CreateToken creates a token (POST /api/v1/tokens) and returns it with
// its secret.
func (c *Client) CreateToken(ctx context.Context, req api.CreateTokenRequest) (api.CreatedToken, error) {
	var out api.CreatedToken
	return out, c.do(ctx, "POST", "/api/v1/tokens", nil, req, &out)
}

// RevokeToken revokes a token (DELETE /api/v1/tokens/NAME).
func (c *Client) RevokeToken(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", "/api/v1/tokens/"+url.PathEscape(name), nil, nil, nil)
}

// AuditLog returns GET /api/v1/audit-log: the newest limit entries (0:
// all), or those after cursor.
func (c *Client) AuditLog(ctx context.Context, limit int, after string) ([]auth.AuditEntry, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if after != "" {
		q.Set("after", after)
	}
	var out []auth.AuditEntry
	return out, c.do(ctx, "GET", "/api/v1/audit-log", q, nil, &out)
}
