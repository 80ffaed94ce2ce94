package web

// The OpenAPI 3.0 document of the API, GET /api/openapi.json. Operations
// come from the table below (apiDocs, keyed by the route pattern each
// file registers with handle); schemas are derived from the Go types the
// handlers encode, by reflection, so they cannot drift from the JSON.
// TestOpenAPI checks that every registered route is documented and every
// documented route exists, and that the query parameters documented are
// the ones the route accepts.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"

	"github.com/satellite-sdn/satellite/web/internal/httpapi"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/audit"
	"github.com/satellite-sdn/satellite/web/openapi"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/cluster"
	"github.com/satellite-sdn/satellite/diagnostics"
	"github.com/satellite-sdn/satellite/insights"
	"github.com/satellite-sdn/satellite/internal/auth"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/vnet"
)

// Routes returns the pattern of every API route, as registered
// ("GET /api/v1/switches/{dpid}").
func (s *Server) Routes() []string { return append([]string(nil), s.patterns...) }

// Param documents one query parameter.
type Param struct {
	Name  string
	Type  string // string, integer, boolean
	About string
}

// RouteDoc documents one route.
type RouteDoc struct {
	Summary string
	Tag     string
	Query   []Param
	Body    any // a value of the request body's type, or nil
	Resp    any // a value of the response's type, or nil (no JSON body)
	Status  int // the success status (default 200)
	// Also: other success statuses (PUT answers 201 when it creates).
	Also []int
	// Text: the response is not JSON (e.g. YAML), described here.
	Notes string
}

var (
	pDPID     = Param{"dpid", "string", "a datapath id: 1-16 hex digits, 0x..., or colon-separated bytes"}
	pLimit    = Param{"limit", "integer", "page size (1-1000000); see the X-Next-After and Link headers"}
	pAfter    = Param{"after", "string", "the cursor of the previous page (X-Next-After or the Link header)"}
	pLogLimit = Param{"limit", "integer", "the newest N; with after: at most N after the cursor"}
)

func crud[T any](tag, what string) map[string]RouteDoc {
	var v T
	return map[string]RouteDoc{
		"GET":         {Summary: "list " + what + "s", Tag: tag, Resp: []T{}},
		"GET name":    {Summary: "one " + what, Tag: tag, Resp: v},
		"POST":        {Summary: "create a " + what, Tag: tag, Body: v, Resp: v, Status: http.StatusCreated},
		"PUT name":    {Summary: "create or replace a " + what, Tag: tag, Body: v, Resp: v, Also: []int{http.StatusCreated}},
		"DELETE name": {Summary: "delete a " + what + " (answers it as it was)", Tag: tag, Resp: v},
	}
}

// apiDocs documents every route, by pattern.
var apiDocs = func() map[string]RouteDoc {
	d := map[string]RouteDoc{
		"GET /healthz":                            {Summary: "server status", Tag: "server", Resp: api.Health{}},
		"GET " + api.OpenAPIPath:                  {Summary: "this document", Tag: "server", Resp: map[string]any{}},
		"GET /api/v1/switches":                    {Summary: "connected switches, by datapath id", Tag: "switches", Resp: []api.Switch{}},
		"GET /api/v1/switches/{dpid}":             {Summary: "one switch with its ports", Tag: "switches", Resp: api.Switch{}},
		"GET /api/v1/switches/{dpid}/ports":       {Summary: "port descriptions", Tag: "switches", Resp: []api.Port{}},
		"GET /api/v1/switches/{dpid}/ports/stats": {Summary: "port counters", Tag: "switches", Resp: []api.PortStats{}, Query: []Param{{"port", "string", "one port: a number or local"}}},
		"GET /api/v1/switches/{dpid}/groups":      {Summary: "groups with buckets and counters", Tag: "switches", Resp: []api.Group{}},
		"GET /api/v1/switches/{dpid}/tables":      {Summary: "flow table counters", Tag: "switches", Resp: []api.Table{}},
		"POST /api/v1/switches/{dpid}/flows":      {Summary: "install a flow owned by the API", Tag: "flows", Body: api.AddFlowRequest{}, Resp: api.Flow{}, Status: http.StatusCreated},
		"GET /api/v1/links":                       {Summary: "links between bridges, one per direction (paginated)", Tag: "topology", Resp: []api.Link{}, Query: []Param{{"kind", "string", "direct or tunnel"}, pDPID, pLimit, pAfter}},
		"GET /api/v1/hosts":                       {Summary: "hosts learned on edge ports (paginated)", Tag: "topology", Resp: []api.Host{}, Query: []Param{pDPID, {"mac", "string", "one host"}, pLimit, pAfter}},
		"GET /api/v1/topology":                    {Summary: "the whole topology at one version; with at, as it was then, rebuilt from the journal", Tag: "topology", Resp: topology.Snapshot{}, Query: []Param{{"at", "string", "RFC 3339 time or a duration back from now (1h): the topology then (404 before the journal's first checkpoint)"}}},
		"GET /api/v1/events": {Summary: "the journal: every change (links, switches, ports, hosts, tunnel paths, alerts) with its kind and severity, oldest first (paginated like a log)", Tag: "topology", Resp: []api.Event{},
			Query: []Param{{"since", "string", "RFC 3339 time or a duration back from now (default 24h)"}, {"until", "string", "RFC 3339 time or a duration back from now"},
				{"kind", "string", "event kinds, comma separated: link-down, link-up, switch-disconnect, ..."}, {"switch", "string", "datapath ids or names, comma separated"}, pLogLimit, pAfter}},
		"GET /api/v1/topology/events":       {Summary: "host moves and security events, oldest first (paginated like a log)", Tag: "topology", Resp: []topology.Event{}, Query: []Param{{"kind", "string", "event kind, e.g. host-move, lldp-forged"}, pLogLimit, pAfter}},
		"GET /api/v1/discovery":             {Summary: "LLDP discovery settings and counters", Tag: "topology", Resp: api.Discovery{}},
		"GET /api/v1/tunnels":               {Summary: "tunnel paths with probe measurements and failover state", Tag: "topology", Resp: api.Tunnels{}, Query: []Param{{"local", "string", "local datapath"}, {"remote", "string", "remote datapath"}, {"state", "string", "path state"}}},
		"POST " + snapshotsPath:             {Summary: "import a snapshot", Tag: "snapshots", Body: topology.Snapshot{}, Resp: api.SnapshotInfo{}, Status: http.StatusCreated},
		"GET " + snapshotsPath:              {Summary: "imported snapshots", Tag: "snapshots", Resp: []api.SnapshotInfo{}},
		"GET " + snapshotsPath + "/{id}":    {Summary: "one imported snapshot", Tag: "snapshots", Resp: topology.Snapshot{}},
		"DELETE " + snapshotsPath + "/{id}": {Summary: "forget an imported snapshot", Tag: "snapshots", Resp: api.SnapshotInfo{}},
		"GET /api/v1/topology/diff":         {Summary: "differences between two snapshots (or live)", Tag: "snapshots", Resp: topology.Diff{}, Query: []Param{{"from", "string", "a snapshot id or live (required)"}, {"to", "string", "a snapshot id or live (default live)"}}},
		"GET /api/v1/metrics/ports":         {Summary: "latest port counters and rates", Tag: "metrics", Resp: []api.PortMetrics{}, Query: []Param{pDPID, {"port", "integer", "one port"}}},
		"GET /api/v1/metrics/flows":         {Summary: "latest flow counters and rates", Tag: "metrics", Resp: []api.FlowMetrics{}, Query: []Param{pDPID, {"table", "integer", "table"}, {"owner", "string", "owner kind"}, {"network", "integer", "virtual network"}, {"id", "integer", "object id"}, {"sort", "string", "key, bps or pps"}, {"limit", "integer", "at most N flows (default 1000)"}}},
		"GET /api/v1/metrics/tables":        {Summary: "latest table counters and rates", Tag: "metrics", Resp: []api.TableMetrics{}, Query: []Param{pDPID}},
		"GET /api/v1/metrics/groups":        {Summary: "latest group counters and rates", Tag: "metrics", Resp: []api.GroupMetrics{}, Query: []Param{pDPID}},
		"GET /api/v1/metrics/series":        {Summary: "the history of one series", Tag: "metrics", Resp: api.Series{}, Query: []Param{{"key", "string", "series key, e.g. port/0000000000000001/2 (required)"}, {"from", "string", "RFC 3339, Unix seconds, now or -15m (default -1h)"}, {"to", "string", "as from (default now)"}, {"step", "string", "a duration, at least 1s"}, {"resolution", "string", "raw or downsampled"}}},
		"GET /api/v1/metrics/stats":         {Summary: "collector settings and counters", Tag: "metrics", Resp: api.MetricsStats{}},
		"GET /api/v1/alerts":                {Summary: "pending and firing alerts", Tag: "alerts", Resp: []alerts.Alert{}, Query: []Param{{"state", "string", "pending or firing"}, {"severity", "string", "info, warning or critical"}, {"rule", "string", "rule name"}}},
		"GET /api/v1/alerts/history":        {Summary: "firing and resolved events, oldest first (paginated like a log)", Tag: "alerts", Resp: []alerts.Event{}, Query: []Param{{"rule", "string", "rule name"}, pLogLimit, pAfter}},
		"GET /api/v1/alerts/metrics":        {Summary: "the metrics rules can watch", Tag: "alerts", Resp: []alerts.MetricInfo{}},
		"GET /api/v1/insights": {Summary: "what is wrong now: findings of the baselines and anomaly detectors, the highest score first (an empty list when nothing is)", Tag: "insights", Resp: api.Insights{},
			Query: []Param{{"kind", "string", "detectors, comma separated: errors, drops, traffic-down, traffic-rise, stopped-sending, asymmetric-link, rtt-drift, probe-loss, host-moves"}, {"min_score", "number", "only items scoring at least this (scores start at 1)"}, {"switch", "string", "a datapath id or name: items about it"}}},
		"GET /api/v1/insights/history": {Summary: "findings raised and cleared, oldest first", Tag: "insights", Resp: []insights.Event{}},
		"GET /api/v1/insights/top": {Summary: "top talkers: flows, interfaces, hosts or virtual networks by bytes or packets over a window, at any time in the history", Tag: "insights", Resp: api.TopTalkers{},
			Query: []Param{{"what", "string", "flows, interfaces (default), hosts or networks"}, {"by", "string", "bytes (default) or packets"}, {"from", "string", "RFC 3339, Unix seconds, now or -15m (default: 15 minutes before to)"}, {"to", "string", "as from (default now)"}, {"limit", "integer", "at most N (default 10, at most 1000)"}}},
		"GET /api/v1/networks/{name}/traffic": {Summary: "one virtual network on its own: its interfaces with their ports' rates, the switches serving it with its flows on each (summed by owner), the tunnel paths between them", Tag: "virtual networks", Resp: api.NetworkTraffic{}},
		"GET /api/v1/insights/stats":          {Summary: "series judged and the engine's counters", Tag: "insights", Resp: insights.Stats{}},
		"GET /api/v1/alerts/stats":            {Summary: "rule, alert and webhook counters", Tag: "alerts", Resp: alerts.Stats{}},
		"POST " + api.TracePath: {Summary: "trace a packet hop by hop through the switches' flow tables and the intended ones (why can't A reach B?)", Tag: "diagnostics",
			Body: diagnostics.Request{}, Resp: diagnostics.Result{}},
		"GET " + api.AuditPath: {Summary: "the flow audit: per switch what differs from the intent (missing, modified, extra, foreign) and what the tables hold that cannot work (shadowed, dead), and the networks' black holes and loops", Tag: "diagnostics",
			Resp: audit.Overview{}, Query: []Param{{"fresh", "boolean", "true: read every switch now (default: the last audit, made at each reconciliation)"}}},
		"GET " + api.AuditPath + "/{dpid}": {Summary: "one switch's flow audit (a datapath id or name)", Tag: "diagnostics", Resp: audit.Report{},
			Query: []Param{{"fresh", "boolean", "true: read the switch now (default: the last audit)"}}},
		"POST " + api.AuditPath + "/fix":                        {Summary: "the reconciler converges every switch now; answers the audit made after it", Tag: "diagnostics", Resp: audit.Overview{}},
		"POST /api/v1/networks/auto":                            {Summary: "create (or find) the automatic network", Tag: "virtual networks", Body: api.AutoNetworkRequest{}, Resp: vnet.AutoResult{}, Also: []int{http.StatusCreated}},
		"GET /api/v1/trunks":                                    {Summary: "trunk ports", Tag: "virtual networks", Resp: []api.Trunk{}, Query: []Param{{"datapath", "string", "datapath name"}}},
		"GET /api/v1/leases":                                    {Summary: "DHCP leases: the record of every address with its state and expiry", Tag: "virtual networks", Resp: []api.Lease{}, Query: []Param{{"network", "string", "network name"}}},
		"GET /api/v1/vnet/status":                               {Summary: "reconciliation status per datapath", Tag: "virtual networks", Resp: api.VNetStatus{}},
		"GET /api/v1/vnet/flows/{dpid}":                         {Summary: "the compiled flows and groups of a datapath", Tag: "virtual networks", Resp: api.VNetProgram{}},
		"GET /api/v1/vnet/config":                               {Summary: "the whole virtual network configuration", Tag: "virtual networks", Resp: vnet.Config{}, Query: []Param{{"format", "string", "json (default) or yaml"}}},
		"PUT /api/v1/vnet/config":                               {Summary: "replace the whole configuration", Tag: "virtual networks", Body: vnet.Config{}, Resp: vnet.ApplyResult{}},
		"GET /api/v1/whoami":                                    {Summary: "who the caller is: token or certificate name, role (none when anonymous) and how it authenticated", Tag: "security", Resp: auth.Identity{}},
		"GET /api/v1/tokens":                                    {Summary: "API tokens: names, roles, creation (never the secrets)", Tag: "security", Resp: []auth.Token{}},
		"POST /api/v1/tokens":                                   {Summary: "create a token; the answer holds its secret, shown only once (409 if the name is taken, unless replace)", Tag: "security", Body: api.CreateTokenRequest{}, Resp: api.CreatedToken{}, Status: http.StatusCreated},
		"DELETE /api/v1/tokens/{name}":                          {Summary: "revoke a token: it stops working at once", Tag: "security", Resp: auth.Token{}},
		"GET /api/v1/audit-log":                                 {Summary: "every state-changing request (who, role, method, path, status, remote address), oldest first (paginated like a log)", Tag: "security", Resp: []auth.AuditEntry{}, Query: []Param{pLogLimit, pAfter}},
		"GET /api/v1/exporters":                                 {Summary: "exporter status and counters", Tag: "exporters", Resp: api.ExportersStatus{}},
		"GET /api/v1/cluster":                                   {Summary: "the cluster: instances, the master of every switch, leases, etcd health (404 when this instance runs alone)", Tag: "cluster", Resp: cluster.Status{}},
		"GET /api/v1/switches/{dpid}/flows":                     {Summary: "flow table with owners and counters (paginated)", Tag: "flows", Resp: []api.Flow{}, Query: []Param{{"table", "integer", "table 0-254"}, {"owner", "string", "owner kind, or foreign"}, {"network", "integer", "with owner: virtual network"}, {"id", "integer", "with owner: object id"}, pLimit, pAfter}},
		"DELETE /api/v1/switches/{dpid}/flows":                  {Summary: "delete flows by owner (API flows unless owner names another)", Tag: "flows", Resp: api.DeleteResult{}, Query: []Param{{"owner", "string", "owner kind"}, {"network", "integer", "virtual network"}, {"id", "integer", "object id"}, {"table", "integer", "table"}}},
		"GET " + api.StreamPath:                                 {Summary: "websocket: topology snapshot and deltas, port and flow rates, alert transitions (see docs/ui.md)", Tag: "stream", Query: []Param{{"since", "integer", "resume after this version"}, {"epoch", "string", "the epoch of the hello the version came with; another epoch gets a snapshot"}, {"topics", "string", "comma-separated: topology, metrics, flows, alerts"}}, Status: http.StatusSwitchingProtocols},
		"GET " + api.RulesPath:                                  {Summary: "alert rules", Tag: "alerts", Resp: []alerts.RuleInfo{}},
		"POST " + api.RulesPath:                                 {Summary: "create a rule, stored and kept across restarts (409 if the name is taken or belongs to a configuration-file rule)", Tag: "alerts", Body: alerts.Rule{}, Resp: alerts.RuleInfo{}, Status: http.StatusCreated},
		"GET " + api.RulesPath + "/{name}":                      {Summary: "one rule", Tag: "alerts", Resp: alerts.RuleInfo{}},
		"PUT " + api.RulesPath + "/{name}":                      {Summary: "create or replace a stored rule (409 for configuration-file rules, which are read-only here)", Tag: "alerts", Body: alerts.Rule{}, Resp: alerts.RuleInfo{}, Also: []int{http.StatusCreated}},
		"DELETE " + api.RulesPath + "/{name}":                   {Summary: "delete a stored rule (409 for configuration-file rules)", Tag: "alerts", Resp: alerts.RuleInfo{}},
		"GET /api/v1/routers/{name}/interfaces":                 {Summary: "a router's interfaces", Tag: "virtual networks", Resp: []vnet.RouterInterface{}},
		"GET /api/v1/routers/{name}/routes":                     {Summary: "a router's static routes", Tag: "virtual networks", Resp: []vnet.Route{}},
		"GET /api/v1/security-groups/{name}/rules":              {Summary: "a security group's rules", Tag: "virtual networks", Resp: []vnet.Rule{}},
		"GET /api/v1/floating-ips/{name}/stats":                 {Summary: "a floating IP's packets and bytes each way, from its gateway switch", Tag: "virtual networks", Resp: vnet.FloatingIPStats{}},
		"POST /api/v1/routers/{name}/interfaces":                {Summary: "attach a router to a network", Tag: "virtual networks", Body: vnet.RouterInterface{}, Resp: vnet.RouterInterface{}, Status: http.StatusCreated},
		"POST /api/v1/routers/{name}/routes":                    {Summary: "add a static route", Tag: "virtual networks", Body: vnet.Route{}, Resp: vnet.Route{}, Status: http.StatusCreated},
		"POST /api/v1/security-groups/{name}/rules":             {Summary: "add a rule", Tag: "virtual networks", Body: vnet.Rule{}, Resp: vnet.Rule{}, Status: http.StatusCreated},
		"GET /api/v1/routers/{name}/interfaces/{network...}":    {Summary: "one router interface", Tag: "virtual networks", Resp: vnet.RouterInterface{}},
		"PUT /api/v1/routers/{name}/interfaces/{network...}":    {Summary: "replace a router interface", Tag: "virtual networks", Body: vnet.RouterInterface{}, Resp: vnet.RouterInterface{}},
		"DELETE /api/v1/routers/{name}/interfaces/{network...}": {Summary: "detach a router from a network", Tag: "virtual networks", Resp: vnet.RouterInterface{}},
		"GET /api/v1/routers/{name}/routes/{destination...}":    {Summary: "one static route", Tag: "virtual networks", Resp: vnet.Route{}},
		"PUT /api/v1/routers/{name}/routes/{destination...}":    {Summary: "replace a static route", Tag: "virtual networks", Body: vnet.Route{}, Resp: vnet.Route{}},
		"DELETE /api/v1/routers/{name}/routes/{destination...}": {Summary: "delete a static route", Tag: "virtual networks", Resp: vnet.Route{}},
		"GET /api/v1/security-groups/{name}/rules/{n...}":       {Summary: "one rule (by position, from 1)", Tag: "virtual networks", Resp: vnet.Rule{}},
		"PUT /api/v1/security-groups/{name}/rules/{n...}":       {Summary: "replace a rule", Tag: "virtual networks", Body: vnet.Rule{}, Resp: vnet.Rule{}},
		"DELETE /api/v1/security-groups/{name}/rules/{n...}":    {Summary: "delete a rule", Tag: "virtual networks", Resp: vnet.Rule{}},
	}
	add := func(path string, ops map[string]RouteDoc) {
		for k, v := range ops {
			method, named, _ := strings.Cut(k, " ")
			p := path
			if named == "name" {
				p += "/{name}"
			}
			d[method+" "+p] = v
		}
	}
	add("/api/v1/datapaths", crud[vnet.Datapath]("virtual networks", "datapath"))
	add("/api/v1/networks", crud[vnet.Network]("virtual networks", "network"))
	add("/api/v1/interfaces", crud[vnet.Interface]("virtual networks", "interface"))
	add("/api/v1/routers", crud[vnet.Router]("virtual networks", "router"))
	add("/api/v1/security-groups", crud[vnet.SecurityGroup]("virtual networks", "security group"))
	add("/api/v1/floating-ips", crud[vnet.FloatingIP]("virtual networks", "floating IP"))
	return d
}()

// APIDocs returns the documentation of every route, by pattern.
func APIDocs() map[string]RouteDoc {
	out := make(map[string]RouteDoc, len(apiDocs))
	for k, v := range apiDocs {
		out[k] = v
	}
	return out
}

// Paginated reports whether a route takes ?limit=&after= (paging.go).
func Paginated(pattern string) bool {
	_, ok := pagers[pattern]
	return ok
}

// ---- the document

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	if _, err := httpapi.Query(r); err != nil {
		return err
	}
	doc := s.OpenAPI()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(doc)
	return nil
}

var pathParamRE = regexp.MustCompile(`\{([a-z_]+)(\.\.\.)?\}`)

// OpenAPI returns the document for the routes this server has.
func (s *Server) OpenAPI() map[string]any {
	g := openapi.New(specialTypes, "/web", "satellite/api")
	g.Ref(reflect.TypeOf(api.Error{}))
	paths := map[string]map[string]any{}
	for _, pattern := range s.patterns {
		d, ok := apiDocs[pattern]
		if !ok {
			continue // TestOpenAPI fails on this
		}
		method, path, _ := strings.Cut(pattern, " ")
		var params []any
		for _, m := range pathParamRE.FindAllStringSubmatch(path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"},
				"description": pathParamAbout(m[1])})
		}
		for _, q := range d.Query {
			params = append(params, map[string]any{"name": q.Name, "in": "query", "schema": map[string]any{"type": q.Type}, "description": q.About})
		}
		op := map[string]any{"summary": d.Summary, "tags": []string{d.Tag}, "operationId": operationID(method, path)}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if d.Body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": g.Schema(reflect.TypeOf(d.Body))}}}
		}
		status := d.Status
		if status == 0 {
			status = http.StatusOK
		}
		responses := map[string]any{}
		for _, st := range append([]int{status}, d.Also...) {
			resp := map[string]any{"description": http.StatusText(st)}
			if d.Resp != nil && st != http.StatusSwitchingProtocols {
				resp["content"] = map[string]any{"application/json": map[string]any{"schema": g.Schema(reflect.TypeOf(d.Resp))}}
			}
			responses[fmt.Sprint(st)] = resp
		}
		errResp := func(what string) map[string]any {
			return map[string]any{"description": what, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
		}
		need := s.roles[pattern]
		open := need == auth.RoleNone
		for _, p := range s.sec.OpenPaths {
			open = open || (method == http.MethodGet && p == path)
		}
		op["x-satellite-role"] = need.String()
		if need > auth.RoleNone {
			op["description"] = "Needs a token (or certificate) with role " + need.String() + " or higher."
			responses["401"] = errResp("no credentials, or a token that is not valid")
		}
		if need > auth.RoleViewer {
			responses["403"] = errResp("the caller's role is below " + need.String() + ", or a cross-site request")
		}
		if open {
			op["security"] = []any{map[string]any{}}
		}
		if method != http.MethodGet && method != http.MethodHead {
			responses["415"] = errResp("a body that is not " + describeTypes(s.bodyTypesOf(pattern)))
		} else if need == auth.RoleNone {
			responses["400"] = errResp("bad input")
		}
		responses["default"] = map[string]any{"description": `an error: {"error": "...", "field": "..."}, 4xx for bad input`,
			"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
		op["responses"] = responses
		p := pathParamRE.ReplaceAllString(path, "{$1}")
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "Satellite API", "version": s.version,
			"description": "Satellite's HTTP API: switches, flows, topology, statistics, alerts, virtual networks. Errors are {\"error\": \"...\", \"field\": \"...\"}. See docs/api.md."},
		"paths": paths,
		// a bearer token, the UI's cookie, or a TLS client certificate
		// (mutualTLS is OpenAPI 3.1; the certificate maps to a role the
		// same way, see docs/security.md)
		"security": []any{map[string]any{"bearer": []string{}}, map[string]any{"cookie": []string{}}},
		"components": map[string]any{"schemas": g.Components(), "securitySchemes": map[string]any{
			"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "a token of satellite token create (sat_...)"},
			"cookie": map[string]any{"type": "apiKey", "in": "cookie", "name": CookieName, "description": "the UI's session: the token given at /ui/login"},
		}},
	}
}

func pathParamAbout(name string) string {
	switch name {
	case "dpid":
		return "a datapath id: 1-16 hex digits, 0x..., or colon-separated bytes"
	case "name":
		return "the object's name"
	case "id":
		return "a stored snapshot id (s1, s2, ...)"
	default:
		return name
	}
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.Split(strings.TrimPrefix(path, "/api/v1"), "/") {
		part = strings.Trim(part, "{}.")
		for _, w := range strings.FieldsFunc(part, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// specialTypes are types whose JSON is not their Go shape.
var specialTypes = map[reflect.Type]map[string]any{
	reflect.TypeOf(topology.DPID(0)):       {"type": "string", "description": "datapath id, 16 hex digits"},
	reflect.TypeOf(alerts.Duration(0)):     {"type": "string", "description": "a duration such as 30s"},
	reflect.TypeOf(alerts.Threshold(0)):    {"description": "a number, or a string with a unit suffix such as 800M, 1.5G, 10k, 90%"},
	reflect.TypeOf(auth.Role(0)):           {"type": "string", "enum": []string{"none", "viewer", "operator", "admin"}},
	reflect.TypeOf(map[string]any{}):       {"type": "object"},
	reflect.TypeOf((*any)(nil)).Elem():     {},
	reflect.TypeOf(json.RawMessage(nil)):   {},
	reflect.TypeOf([]json.RawMessage(nil)): {"type": "array", "items": map[string]any{}},
}
