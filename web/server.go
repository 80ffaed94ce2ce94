// Package web is Satellite's HTTP API: JSON views of the switches the
// embedded controller is connected to (ports, port counters, flows,
// groups, tables), flow programming for operators, and the topology
// (links, hosts, events, snapshots and their differences).
//
// Routes (all answer JSON; errors are {"error": "...", "field": "..."}):
//
//	GET    /healthz
//	GET    /api/v1/switches
//	GET    /api/v1/switches/{dpid}
//	GET    /api/v1/switches/{dpid}/ports
//	GET    /api/v1/switches/{dpid}/ports/stats[?port=N|local]
//	GET    /api/v1/switches/{dpid}/flows[?table=N&owner=KIND&network=N&id=N]
//	POST   /api/v1/switches/{dpid}/flows      {"flow": "SPEC", "id": N}
//	DELETE /api/v1/switches/{dpid}/flows[?owner=api&network=N&id=N&table=N]
//	GET    /api/v1/switches/{dpid}/groups
//	GET    /api/v1/switches/{dpid}/tables
//	GET    /api/v1/links[?kind=direct|tunnel&dpid=X]
//	GET    /api/v1/hosts[?dpid=X&mac=M]
//	GET    /api/v1/topology
//	GET    /api/v1/topology/events[?kind=K]
//	GET    /api/v1/events[?since=&until=&kind=&switch=]  the journal (web/eventsapi)
//	GET    /api/v1/discovery
//	POST   /api/v1/topology/snapshots         a snapshot as GET /api/v1/topology returns it
//	GET    /api/v1/topology/snapshots
//	GET    /api/v1/topology/snapshots/{id}
//	DELETE /api/v1/topology/snapshots/{id}
//	GET    /api/v1/topology/diff?from=ID|live[&to=ID|live]
//	GET    /api/v1/metrics/...                statistics (web/metricsapi, WithCollector)
//	GET    /api/v1/alerts/..., rules          alerts and rules (web/alertsapi, WithAlerts)
//	GET    /api/v1/stream[?since=V&epoch=E&topics=T]  websocket: hello, snapshot, deltas, rates, alerts (stream.go)
//	GET    /api/openapi.json                  the OpenAPI document of every route (openapi.go)
//	GET    /api/v1/whoami, /api/v1/tokens[/{name}], /api/v1/audit-log  credentials (auth.go)
//	GET    /ui/...                            the web UI, when given (WithUI), with /ui/login
//	/api/v1/datapaths, networks, interfaces, routers, security-groups, trunks,
//	leases, vnet/...                          virtual networks (vnet.go, WithVirtualNetworks)
//	POST   /api/v1/trace                      a packet trace: why can't A reach B? (web/traceapi, WithTracer)
//	GET    /api/v1/audit[/{dpid}][?fresh=true] the flow audit; POST /api/v1/audit/fix converges now (web/auditapi)
//
// The topology routes answer 503 unless the server was given a model
// (WithTopology), /api/v1/discovery unless it was given the discovery
// (WithDiscovery).
//
// Flows, hosts, links, topology events and alert history also take
// ?limit=N&after=CURSOR (paging.go).
//
// Every request passes the layers of security.go (Host check, audit,
// authentication, admission, authorization by the route's role in
// roles.go) before its handler; see docs/security.md.
//
// See docs/api.md for the documents and status codes.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/web/auditapi"
	"github.com/satellite-sdn/satellite/web/insightsapi"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"
	"github.com/satellite-sdn/satellite/web/traceapi"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/cluster"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
	"github.com/satellite-sdn/satellite/internal/auth"
	"github.com/satellite-sdn/satellite/journal"
	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/probes"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/vnet"
)

// Defaults of the server options.
const (
	DefaultRequestTimeout = 5 * time.Second
	DefaultMaxBodyBytes   = 1 << 20
	// DefaultMaxSnapshotBytes limits the body of a snapshot import, which
	// is larger than other requests: a big fabric's snapshot is megabytes.
	DefaultMaxSnapshotBytes = 32 << 20
	// DefaultMaxSnapshots is how many imported snapshots are kept.
	DefaultMaxSnapshots = 20
)

// Server serves the API. It is an http.Handler.
type Server struct {
	ctl     *controller.Controller
	log     *slog.Logger
	start   time.Time
	version string
	timeout time.Duration
	maxBody int64

	model   *topology.Model
	disc    *lldp.Discovery
	probes  *probes.Manager
	maxSnap int64 // body limit of snapshot imports
	nSnaps  int   // imported snapshots kept
	snaps   *snapshotStore

	mux     *http.ServeMux
	handler http.Handler

	// allocMu serialises flow id allocation with the install that uses it.
	allocMu sync.Mutex
	// flowSnaps keeps the dumps of paged flow listings (flowlist.go).
	flowSnaps flowSnapshots

	coll     *collector.Collector // statistics (WithCollector, metrics.go), or nil
	alertEng *alerts.Engine       // alert rules and alerts (WithAlerts, alerts.go), or nil
	insights insightsapi.Engine   // what is wrong now (web/insightsapi, WithInsights), or nil

	streamCfg StreamConfig // the websocket stream (stream.go)
	hub       streamHub    // its clients
	ui        http.Handler // the web UI under /ui/ (WithUI), or nil
	patterns  []string     // every route of handle, in order (openapi.go)

	vnets     *vnet.Manager    // virtual networks (vnet.go, WithVirtualNetworks), or nil
	journal   *journal.Journal // the history (events.go, WithJournal), or nil
	flowAudit auditapi.Auditor // the flow audit (web/auditapi, WithAudit), or nil

	tracer traceapi.Tracer // packet traces (web/traceapi, WithTracer), or nil

	exp exportersState // exporter health and /metrics (exporters.go)

	clusterStatus func(ctx context.Context) (cluster.Status, error) // GET /api/v1/cluster (cluster.go, WithCluster), or nil

	sec    Security             // who may do what (security.go, WithSecurity)
	roles  map[string]auth.Role // the role each route pattern needs (roles.go)
	bodies map[string][]string  // routes whose bodies are not only JSON (roles.go)
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger (default slog.Default()). Requests are logged
// at debug level, handler panics at error level.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithVersion sets the version reported by /healthz.
func WithVersion(v string) Option { return func(s *Server) { s.version = v } }

// WithRequestTimeout bounds the time each request may spend waiting for
// switches (default 5s).
func WithRequestTimeout(d time.Duration) Option { return func(s *Server) { s.timeout = d } }

// WithMaxBodyBytes limits request bodies (default 1 MiB); larger bodies
// are answered 413.
func WithMaxBodyBytes(n int64) Option { return func(s *Server) { s.maxBody = n } }

// WithTopology serves the topology routes from m; without it they answer
// 503.
func WithTopology(m *topology.Model) Option { return func(s *Server) { s.model = m } }

// WithDiscovery serves GET /api/v1/discovery from d; without it that
// route answers 503.
func WithDiscovery(d *lldp.Discovery) Option { return func(s *Server) { s.disc = d } }

// WithMaxSnapshotBytes limits the body of POST /api/v1/topology/snapshots
// (default 32 MiB) instead of WithMaxBodyBytes' limit.
func WithMaxSnapshotBytes(n int64) Option { return func(s *Server) { s.maxSnap = n } }

// WithMaxSnapshots sets how many imported snapshots are kept (default 20);
// importing one more evicts the oldest.
func WithMaxSnapshots(n int) Option { return func(s *Server) { s.nSnaps = n } }

// WithUI serves the web UI (package web/ui) under /ui/, and redirects /
// there.
func WithUI(h http.Handler) Option { return func(s *Server) { s.ui = h } }

// WithStartTime sets the time uptime is counted from (default: New).
func WithStartTime(t time.Time) Option { return func(s *Server) { s.start = t } }

// New returns the API server for ctl.
func New(ctl *controller.Controller, opts ...Option) *Server {
	s := &Server{ctl: ctl, log: slog.Default(), start: time.Now(), timeout: DefaultRequestTimeout, maxBody: DefaultMaxBodyBytes}
	for _, o := range opts {
		o(s)
	}
	if s.timeout <= 0 {
		s.timeout = DefaultRequestTimeout
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.maxSnap <= 0 {
		s.maxSnap = DefaultMaxSnapshotBytes
	}
	if s.nSnaps <= 0 {
		s.nSnaps = DefaultMaxSnapshots
	}
	s.snaps = &snapshotStore{max: s.nSnaps}
	s.log = s.log.With("component", "http")
	s.mux = http.NewServeMux()
	s.roles = map[string]auth.Role{}
	s.bodies = map[string][]string{}
	s.routes()
	// the layers of security.go, outermost first
	s.handler = s.recover(s.logRequests(s.limits(s.checkHost(s.audit(s.authenticate(s.admit(s.authorize(s.changeValues(http.HandlerFunc(s.route))))))))))
	return s
}

// Handler returns the server as an http.Handler.
func (s *Server) Handler() http.Handler { return s }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes() {
	s.handle("GET /healthz", s.health)
	s.handle("GET /api/v1/switches", s.listSwitches)
	s.handle("GET /api/v1/switches/{dpid}", s.getSwitch)
	s.handle("GET /api/v1/switches/{dpid}/ports", s.getPorts)
	s.handle("GET /api/v1/switches/{dpid}/ports/stats", s.getPortStats)
	s.handle("GET /api/v1/switches/{dpid}/flows", s.getFlows)
	s.handle("POST /api/v1/switches/{dpid}/flows", s.addFlow)
	s.handle("DELETE /api/v1/switches/{dpid}/flows", s.deleteFlows)
	s.handle("GET /api/v1/switches/{dpid}/groups", s.getGroups)
	s.handle("GET /api/v1/switches/{dpid}/tables", s.getTables)
	s.handle("GET /api/v1/links", s.getLinks)
	s.handle("GET /api/v1/hosts", s.getHosts)
	s.handle("GET /api/v1/topology", s.getTopology)
	s.handle("GET /api/v1/topology/events", s.getTopologyEvents)
	s.registerEvents() // GET /api/v1/events, the journal (web/eventsapi)
	s.handle("GET /api/v1/discovery", s.getDiscovery)
	s.tunnelRoutes() // GET /api/v1/tunnels (web/tunnelsapi)
	s.handle("POST "+snapshotsPath, s.importSnapshot)
	s.handle("GET "+snapshotsPath, s.listSnapshots)
	s.handle("GET "+snapshotsPath+"/{id}", s.getSnapshot)
	s.handle("DELETE "+snapshotsPath+"/{id}", s.deleteSnapshot)
	s.handle("GET /api/v1/topology/diff", s.topologyDiff)
	s.metricsRoutes() // /api/v1/metrics/... (metrics.go)
	s.alertRoutes()   // /api/v1/alerts/... (alerts.go)
	s.insightRoutes() // /api/v1/insights/... (insights.go)
	s.handle("GET "+api.StreamPath, s.stream)
	s.handle("GET "+api.OpenAPIPath, s.openAPI)
	s.vnetRoutes()
	s.traceRoutes() // POST /api/v1/trace (trace.go)
	s.auditRoutes() // /api/v1/audit (audit.go)
	s.exporterRoutes()
	s.clusterRoutes() // GET /api/v1/cluster (cluster.go)
	s.authRoutes()    // tokens, audit log, whoami, the UI's login (auth.go)
	if s.ui != nil {
		s.handleRaw("GET /ui/", auth.RoleViewer, s.ui)
		s.handleRaw("GET /{$}", auth.RoleViewer, http.RedirectHandler("/ui/", http.StatusFound))
	}
}

// handleRaw registers a plain http.Handler for pattern, needing role.
func (s *Server) handleRaw(pattern string, role auth.Role, h http.Handler) {
	s.roles[pattern] = role
	s.mux.Handle(pattern, h)
}

func (s *Server) handle(pattern string, h httpapi.HandlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.roles[pattern] = roleFor(pattern)
	if types, ok := routeBodies[pattern]; ok {
		s.bodies[pattern] = types
	}
	h = s.paginate(pattern, h) // lists that grow take ?limit=&after= (paging.go)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, err)
		}
	})
}

// route dispatches to the mux, answering unknown routes and wrong methods
// with JSON errors instead of the mux's plain text.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	// The mux's own 404 or 405: find out which, and with which Allow header.
	var probe probeWriter
	probe.header = http.Header{}
	h.ServeHTTP(&probe, r)
	if probe.code == http.StatusMethodNotAllowed {
		allow := probe.header.Get("Allow")
		w.Header().Set("Allow", allow)
		s.writeError(w, httpapi.Errorf(http.StatusMethodNotAllowed, "", "method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow))
		return
	}
	s.writeError(w, httpapi.Errorf(http.StatusNotFound, "", "no route %s %s; see /api/v1/switches", r.Method, r.URL.Path))
}

// probeWriter records the status a handler answers with and discards the body.
type probeWriter struct {
	header http.Header
	code   int
}

func (p *probeWriter) Header() http.Header         { return p.header }
func (p *probeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (p *probeWriter) WriteHeader(code int) {
	if p.code == 0 {
		p.code = code
	}
}

// limits bounds each request's time and body size (snapshot imports
// have their own, larger, size limit).
func (s *Server) limits(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
		defer cancel()
		if r.Body != nil {
			limit := s.maxBody
			if r.Method == http.MethodPost && r.URL.Path == snapshotsPath {
				limit = s.maxSnap
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// statusWriter remembers the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	code  int
	bytes int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw, ok := w.(*statusWriter)
		if !ok {
			sw = &statusWriter{ResponseWriter: w}
		}
		next.ServeHTTP(sw, r)
		s.log.Debug("http request", "method", r.Method, "path", r.URL.RequestURI(), "status", sw.code,
			"bytes", sw.bytes, "duration", time.Since(start).Round(time.Microsecond), "remote", r.RemoteAddr)
	})
}

// recover turns a panic in a handler into a 500 with a JSON error.
func (s *Server) recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("internal error in HTTP handler", "method", r.Method, "path", r.URL.RequestURI(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if sw.code == 0 {
				s.writeError(sw, httpapi.Errorf(http.StatusInternalServerError, "", "internal error while serving %s %s; see the server log", r.Method, r.URL.Path))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

func (s *Server) writeError(w http.ResponseWriter, err error) {
	var ae *httpapi.Error
	if !errors.As(err, &ae) {
		ae = httpapi.Errorf(http.StatusInternalServerError, "", "%v", err)
	}
	if ae.Status >= 500 {
		s.log.Debug("http error", "status", ae.Status, "err", ae.Msg)
	}
	httpapi.WriteJSON(w, ae.Status, api.Error{Error: ae.Msg, Field: ae.Field})
}

// switchError maps an error of a request to a switch to an API error:
// 422 when the switch answered with an OpenFlow error, 504 when it did not
// answer in time, 503 when it disconnected, 502 for anything else it got
// wrong.
func (s *Server) switchError(dpid uint64, err error) error {
	var oe *ofwire.Error
	var ae *httpapi.Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &oe):
		return httpapi.Errorf(http.StatusUnprocessableEntity, "", "%v", err)
	case errors.Is(err, context.DeadlineExceeded):
		return httpapi.Errorf(http.StatusGatewayTimeout, "", "switch %s did not answer within %s", FormatDPID(dpid), s.timeout)
	case errors.Is(err, context.Canceled):
		return httpapi.Errorf(http.StatusServiceUnavailable, "", "request canceled: %v", err)
	case errors.Is(err, controller.ErrSessionClosed):
		return httpapi.Errorf(http.StatusServiceUnavailable, "", "switch %s disconnected: %v", FormatDPID(dpid), err)
	default:
		return httpapi.Errorf(http.StatusBadGateway, "", "switch %s: %v", FormatDPID(dpid), err)
	}
}

// router is the Router the handler packages (web/auditapi, ...) register
// their routes on: every route passes handle (paging, roles, the OpenAPI
// document's list).
type router struct{ s *Server }

func (r router) Handle(pattern string, h httpapi.HandlerFunc) { r.s.handle(pattern, h) }
