// Package client is a Go client of Satellite's HTTP API (package web).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/topology"
)

// DefaultServer is the API address used when none is given.
const DefaultServer = "http://127.0.0.1:8080"

// Client talks to one Satellite server.
type Client struct {
	base  *url.URL
	http  *http.Client
	token string
}

// EnvToken holds the API token the CLI sends.
const EnvToken = "SATELLITE_TOKEN"

// SetToken makes the client send Authorization: Bearer token ("": none).
func (c *Client) SetToken(token string) { c.token = strings.TrimSpace(token) }

// authorize adds the client's credentials to h.
func (c *Client) authorize(h http.Header) {
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
}

// New returns a client of the server at base ("http://HOST:PORT"; a bare
// "HOST:PORT" gets http://). httpClient may be nil (a client with a 30s
// timeout is used).
func New(base string, httpClient *http.Client) (*Client, error) {
	if base == "" {
		base = DefaultServer
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http://HOST:PORT", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: u, http: httpClient}, nil
}

// URL returns the server's base URL.
func (c *Client) URL() string { return c.base.String() }

// APIError is an error response of the API.
type APIError struct {
	Status  int    // HTTP status
	Message string // the "error" field
	Field   string // the "field" field, "" when absent
}

func (e *APIError) Error() string { return e.Message }

// ConnError says the server could not be reached at all.
type ConnError struct {
	URL string
	Err error
}

func (e *ConnError) Error() string { return fmt.Sprintf("cannot reach %s: %v", e.URL, e.Err) }
func (e *ConnError) Unwrap() error { return e.Err }

// do sends a request and decodes a JSON response into out (unless nil).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	// path is escaped (see switchPath)
	u := *c.base
	unescaped, err := url.PathUnescape(path)
	if err != nil {
		return err
	}
	u.RawPath = c.base.EscapedPath() + path
	u.Path += unescaped
	u.RawQuery = q.Encode()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	c.authorize(req.Header)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &ConnError{URL: c.base.String(), Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 512<<20))
	if err != nil {
		return &ConnError{URL: c.base.String(), Err: err}
	}
	if resp.StatusCode >= 300 {
		var e api.Error
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return &APIError{Status: resp.StatusCode, Message: e.Error, Field: e.Field}
		}
		msg := strings.TrimSpace(string(b))
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		return &APIError{Status: resp.StatusCode, Message: fmt.Sprintf("%s %s: %s: %s (is %s a Satellite server?)", method, u.Path, resp.Status, msg, c.base)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decoding the response: %v (is %s a Satellite server?)", method, u.Path, err, c.base)
	}
	return nil
}

// switchPath returns the escaped path of a switch resource.
func switchPath(dpid string, rest string) string {
	return "/api/v1/switches/" + url.PathEscape(dpid) + rest
}

// Health returns GET /healthz.
func (c *Client) Health(ctx context.Context) (api.Health, error) {
	var h api.Health
	return h, c.do(ctx, "GET", "/healthz", nil, nil, &h)
}

// Switches lists the connected switches.
func (c *Client) Switches(ctx context.Context) ([]api.Switch, error) {
	var out []api.Switch
	return out, c.do(ctx, "GET", "/api/v1/switches", nil, nil, &out)
}

// Switch returns one switch. dpid is in any form the API accepts.
func (c *Client) Switch(ctx context.Context, dpid string) (api.Switch, error) {
	var out api.Switch
	return out, c.do(ctx, "GET", switchPath(dpid, ""), nil, nil, &out)
}

// Ports returns the port descriptions of a switch.
func (c *Client) Ports(ctx context.Context, dpid string) ([]api.Port, error) {
	var out []api.Port
	return out, c.do(ctx, "GET", switchPath(dpid, "/ports"), nil, nil, &out)
}

// PortStats returns the counters of every port (port "" ) or of one port
// (a number or "local").
func (c *Client) PortStats(ctx context.Context, dpid, port string) ([]api.PortStats, error) {
	q := url.Values{}
	if port != "" {
		q.Set("port", port)
	}
	var out []api.PortStats
	return out, c.do(ctx, "GET", switchPath(dpid, "/ports/stats"), q, nil, &out)
}

// FlowQuery selects flows. Nil fields select everything; Owner "" is
// every owner for Flows and "api" for DeleteFlows.
type FlowQuery struct {
	Table   *uint8
	Owner   string
	Network *uint32
	ID      *uint32
}

func (f FlowQuery) values() url.Values {
	q := url.Values{}
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
	return q
}

// Flows returns the selected flows with their counters.
func (c *Client) Flows(ctx context.Context, dpid string, f FlowQuery) ([]api.Flow, error) {
	var out []api.Flow
	return out, c.do(ctx, "GET", switchPath(dpid, "/flows"), f.values(), nil, &out)
}

// AddFlow installs a flow given in ovs-ofctl syntax as an API-owned flow
// with the given id (nil: the server picks the next free one).
func (c *Client) AddFlow(ctx context.Context, dpid, spec string, id *uint32) (api.Flow, error) {
	var out api.Flow
	return out, c.do(ctx, "POST", switchPath(dpid, "/flows"), nil, api.AddFlowRequest{Flow: spec, ID: id}, &out)
}

// DeleteFlows deletes the selected flows (API-owned ones unless f.Owner
// names another owner).
func (c *Client) DeleteFlows(ctx context.Context, dpid string, f FlowQuery) (api.DeleteResult, error) {
	var out api.DeleteResult
	return out, c.do(ctx, "DELETE", switchPath(dpid, "/flows"), f.values(), nil, &out)
}

// Groups returns the groups of a switch with their counters.
func (c *Client) Groups(ctx context.Context, dpid string) ([]api.Group, error) {
	var out []api.Group
	return out, c.do(ctx, "GET", switchPath(dpid, "/groups"), nil, nil, &out)
}

// Tables returns the counters of every flow table of a switch.
func (c *Client) Tables(ctx context.Context, dpid string) ([]api.Table, error) {
	var out []api.Table
	return out, c.do(ctx, "GET", switchPath(dpid, "/tables"), nil, nil, &out)
}

// LinkQuery selects links; empty fields select everything.
type LinkQuery struct {
	Kind string // direct or tunnel
	DPID string // links from or to this switch
}

// Links returns the links the server's topology holds, sorted by source
// then destination.
func (c *Client) Links(ctx context.Context, f LinkQuery) ([]api.Link, error) {
	q := url.Values{}
	if f.Kind != "" {
		q.Set("kind", f.Kind)
	}
	if f.DPID != "" {
		q.Set("dpid", f.DPID)
	}
	var out []api.Link
	return out, c.do(ctx, "GET", "/api/v1/links", q, nil, &out)
}

// HostQuery selects hosts; empty fields select everything.
type HostQuery struct {
	DPID string // hosts attached to this switch
	MAC  string // the host with this MAC address
}

// Hosts returns the hosts the server's topology holds, sorted by MAC.
func (c *Client) Hosts(ctx context.Context, f HostQuery) ([]api.Host, error) {
	q := url.Values{}
	if f.DPID != "" {
		q.Set("dpid", f.DPID)
	}
	if f.MAC != "" {
		q.Set("mac", f.MAC)
	}
	var out []api.Host
	return out, c.do(ctx, "GET", "/api/v1/hosts", q, nil, &out)
}

// Topology returns a snapshot of the server's live topology (the export
// format; see topology.WriteSnapshot).
func (c *Client) Topology(ctx context.Context) (topology.Snapshot, error) {
	var out topology.Snapshot
	return out, c.do(ctx, "GET", "/api/v1/topology", nil, nil, &out)
}

// TopologyAt returns the topology as it was at a time (an RFC 3339 time
// or a duration back from now, such as "1h"), rebuilt from the journal.
func (c *Client) TopologyAt(ctx context.Context, at string) (topology.Snapshot, error) {
	var out topology.Snapshot
	return out, c.do(ctx, "GET", "/api/v1/topology", url.Values{"at": {at}}, nil, &out)
}

// TopologyEvents returns the topology's events (host moves, security
// events of discovery), oldest first; kind "" selects every kind.
func (c *Client) TopologyEvents(ctx context.Context, kind string) ([]topology.Event, error) {
	q := url.Values{}
	if kind != "" {
		q.Set("kind", kind)
	}
	var out []topology.Event
	return out, c.do(ctx, "GET", "/api/v1/topology/events", q, nil, &out)
}

// EventQuery selects journaled events (GET /api/v1/events); zero fields
// select everything (since: the server's default, 24h).
type EventQuery struct {
	// Since and Until are RFC 3339 times or durations back from now ("1h").
	Since, Until string
	Kinds        []string
	Switches     []string // datapath ids or names
	Limit        int      // the newest N
}

// Events returns journaled events, oldest first.
func (c *Client) Events(ctx context.Context, f EventQuery) ([]api.Event, error) {
	q := url.Values{}
	if f.Since != "" {
		q.Set("since", f.Since)
	}
	if f.Until != "" {
		q.Set("until", f.Until)
	}
	if len(f.Kinds) > 0 {
		q.Set("kind", strings.Join(f.Kinds, ","))
	}
	if len(f.Switches) > 0 {
		q.Set("switch", strings.Join(f.Switches, ","))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	out := []api.Event{}
	return out, c.do(ctx, "GET", "/api/v1/events", q, nil, &out)
}

// Discovery returns the LLDP discovery settings and counters.
func (c *Client) Discovery(ctx context.Context) (api.Discovery, error) {
	var out api.Discovery
	return out, c.do(ctx, "GET", "/api/v1/discovery", nil, nil, &out)
}

const snapshotsPath = "/api/v1/topology/snapshots"

// ImportSnapshot stores a snapshot on the server and returns its id and
// summary.
func (c *Client) ImportSnapshot(ctx context.Context, s topology.Snapshot) (api.SnapshotInfo, error) {
	var out api.SnapshotInfo
	return out, c.do(ctx, "POST", snapshotsPath, nil, s, &out)
}

// Snapshots lists the snapshots stored on the server, oldest first.
func (c *Client) Snapshots(ctx context.Context) ([]api.SnapshotInfo, error) {
	var out []api.SnapshotInfo
	return out, c.do(ctx, "GET", snapshotsPath, nil, nil, &out)
}

// Snapshot returns a stored snapshot ("s1").
func (c *Client) Snapshot(ctx context.Context, id string) (topology.Snapshot, error) {
	var out topology.Snapshot
	return out, c.do(ctx, "GET", snapshotsPath+"/"+url.PathEscape(id), nil, nil, &out)
}

// DeleteSnapshot removes a stored snapshot and returns what it was.
func (c *Client) DeleteSnapshot(ctx context.Context, id string) (api.SnapshotInfo, error) {
	var out api.SnapshotInfo
	return out, c.do(ctx, "DELETE", snapshotsPath+"/"+url.PathEscape(id), nil, nil, &out)
}

// TopologyDiff compares two snapshots on the server; from and to are
// stored ids or "live" (to "" is live).
func (c *Client) TopologyDiff(ctx context.Context, from, to string) (topology.Diff, error) {
	q := url.Values{"from": {from}}
	if to != "" {
		q.Set("to", to)
	}
	var out topology.Diff
	return out, c.do(ctx, "GET", "/api/v1/topology/diff", q, nil, &out)
}
