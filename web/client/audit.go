package client

import (
	"context"
	"net/url"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/audit"
)

func freshQuery(fresh bool) url.Values {
	if !fresh {
		return nil
	}
	return url.Values{"fresh": {"true"}}
}

// Audit returns every switch's flow audit (GET /api/v1/audit); fresh reads
// the switches now rather than answering the last audit.
func (c *Client) Audit(ctx context.Context, fresh bool) (audit.Overview, error) {
	var out audit.Overview
	return out, c.do(ctx, "GET", api.AuditPath, freshQuery(fresh), nil, &out)
}

// SwitchAudit returns one switch's flow audit (GET /api/v1/audit/{dpid});
// dpid is a datapath id or name, escaped (see canonicalDPID in the CLI).
func (c *Client) SwitchAudit(ctx context.Context, dpid string, fresh bool) (audit.Report, error) {
	var out audit.Report
	return out, c.do(ctx, "GET", api.AuditPath+"/"+dpid, freshQuery(fresh), nil, &out)
}

// AuditFix asks the reconciler to converge every switch now and returns
// the audit made after it (POST /api/v1/audit/fix; operator role).
func (c *Client) AuditFix(ctx context.Context) (audit.Overview, error) {
	var out audit.Overview
	return out, c.do(ctx, "POST", api.AuditPath+"/fix", nil, nil, &out)
}
