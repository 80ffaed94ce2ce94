// Package ui is Satellite's web UI: pages rendered on the server with
// templ (the *.templ files; the generated *_templ.go files are committed
// and `make ui-check` verifies they are current) and a little plain
// JavaScript that fetches the JSON API and follows the websocket stream
// (/api/v1/stream). The front-end libraries (cytoscape.js, uPlot) are
// copied from pinned npm packages into assets/vendor by `make ui-assets`
// and embedded in the binary: the UI needs no internet.
//
// Pages, all under /ui/:
//
//	/ui/insights   what is wrong now: the insights engine's ranked list (the landing page while it lists something)
//	/ui/topology   the live graph of switches, links and hosts; click for ports, flows, details
//	/ui/metrics    charts of port and flow rates over a selectable range (?key=SERIES&range=15m)
//	/ui/alerts     active alerts, recent alert events, rules with a form to create and edit them
//	/ui/events     a live log of topology and security events
//	/ui/assets/... the embedded CSS, JavaScript and libraries
//
// Mount it with web.WithUI(ui.New(...)).
package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/satellite-sdn/satellite/insights"
	"github.com/satellite-sdn/satellite/internal/auth"
	"github.com/satellite-sdn/satellite/journal"
	"github.com/satellite-sdn/satellite/topology"
)

//go:embed assets
var assetFS embed.FS

// Prefix is where the UI is mounted.
const Prefix = "/ui/"

// Options configure the UI.
type Options struct {
	// Model is the topology the pages render (counts, the switch list,
	// recent events) before the page's script takes over; nil renders
	// empty pages that say topology is off.
	Model *topology.Model
	// Journal, when set, is where the events page reads its history
	// (docs/journal.md), so that a reload keeps every event; without it
	// the page shows the model's recent events.
	Journal *journal.Journal
	// Insights, when set, is what the insights page lists; the landing
	// page (/ui/) is the insights page while it lists something, the
	// topology otherwise.
	Insights InsightSource
	// Version is shown in the page header.
	Version string
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// UI serves the pages and assets. It is an http.Handler.
type UI struct {
	opt    Options
	mux    *http.ServeMux
	assets fs.FS
	hash   map[string]string // asset path -> short content hash, for cache busting
}

// New returns the UI.
func New(opt Options) *UI {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	u := &UI{opt: opt, mux: http.NewServeMux(), assets: sub, hash: hashAssets(sub)}
	u.mux.HandleFunc("GET /ui/{$}", u.landing)
	u.mux.HandleFunc("GET /ui/insights", u.insights)
	u.mux.HandleFunc("GET /ui/topology", u.topology)
	u.mux.HandleFunc("GET /ui/events", u.events)
	u.mux.HandleFunc("GET /ui/metrics", u.metrics)
	u.mux.HandleFunc("GET /ui/alerts", u.alerts)
	u.mux.Handle("GET /ui/assets/", http.StripPrefix("/ui/assets/", http.HandlerFunc(u.asset)))
	u.mux.HandleFunc("/", u.notFound)
	return u
}

// ServeHTTP implements http.Handler.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.mux.ServeHTTP(w, r) }

func hashAssets(fsys fs.FS) map[string]string {
	out := map[string]string{}
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	return out
}

// assetURL returns the URL of an embedded asset with its content hash, so
// browsers may cache it for good.
func (u *UI) assetURL(name string) string {
	return Prefix + "assets/" + name + "?v=" + u.hash[name]
}

func (u *UI) asset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	h, ok := u.hash[name]
	if !ok {
		u.notFound(w, r)
		return
	}
	if v := r.URL.Query().Get("v"); v != "" && v == h {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("ETag", `"`+h+`"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeFileFS(w, r, u.assets, name)
}

// page is what every page's layout needs.
type page struct {
	Name    string // topology, events
	Title   string
	Version string
	// TopoVersion is the model's version the page was rendered at; the
	// page's script resumes the stream from it.
	TopoVersion uint64
	HasTopology bool
	// User and Role: who is signed in (internal/auth; "" for a server without
	// authentication). CanEdit: the role may change alert rules
	// (operator or admin); a viewer gets the pages without their forms
	// and edit buttons.
	User, Role string
	CanEdit    bool
	asset      func(string) string
}

func (u *UI) page(r *http.Request, name, title string) page {
	p := page{Name: name, Title: title, Version: u.opt.Version, asset: u.assetURL, HasTopology: u.opt.Model != nil}
	id := auth.FromContext(r.Context())
	p.CanEdit = id.Role >= auth.RoleOperator
	if id.Via != "open" && id.Role != auth.RoleNone {
		p.User, p.Role = id.Name, id.Role.String()
	}
	return p
}

func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'")
	w.WriteHeader(status)
	if err := c.Render(r.Context(), w); err != nil {
		u.opt.Logger.Debug("ui: rendering failed", "path", r.URL.Path, "err", err)
	}
}

// topoSummary is what the topology page renders on the server.
type topoSummary struct {
	Switches []switchRow
	Links    int // physical links (pairs of directions), up
	Tunnels  int
	Hosts    int
}

type switchRow struct {
	DPID     string
	Remote   string
	Ports    int
	Software string
	Since    time.Time
}

func summarize(s topology.Snapshot) topoSummary {
	var out topoSummary
	nports := map[topology.DPID]int{}
	for _, p := range s.Ports {
		if p.Number != topology.LocalPort {
			nports[p.DPID]++
		}
	}
	for _, sw := range s.Switches {
		out.Switches = append(out.Switches, switchRow{DPID: sw.DPID.String(), Remote: sw.Remote, Ports: nports[sw.DPID], Software: sw.Software, Since: sw.Since})
	}
	pairs := map[[2]topology.Endpoint]string{}
	for _, l := range s.Links {
		if !l.Up() { // down links are kept for history; the page draws them red
			continue
		}
		a, b := l.Src, l.Dst
		if b.DPID < a.DPID || (b.DPID == a.DPID && b.Port < a.Port) {
			a, b = b, a
		}
		pairs[[2]topology.Endpoint{a, b}] = l.Kind
	}
	for _, k := range pairs {
		if k == topology.LinkTunnel {
			out.Tunnels++
		} else {
			out.Links++
		}
	}
	out.Hosts = len(s.Hosts)
	return out
}

func (u *UI) topology(w http.ResponseWriter, r *http.Request) {
	p := u.page(r, "topology", "Topology")
	var sum topoSummary
	if u.opt.Model != nil {
		snap := u.opt.Model.Snapshot()
		p.TopoVersion = snap.Version
		sum = summarize(snap)
	}
	u.render(w, r, http.StatusOK, topologyPage(p, sum))
}

// maxEventRows is how many past events the events page renders.
const maxEventRows = 500

func (u *UI) events(w http.ResponseWriter, r *http.Request) {
	p := u.page(r, "events", "Events")
	var evs []topology.Event
	if u.opt.Model != nil {
		// version first: an event recorded in between shows twice rather
		// than never
		p.TopoVersion = u.opt.Model.Version()
		all := u.opt.Model.Events()
		if u.opt.Journal != nil {
			all = u.journalEvents()
		}
		for i := len(all) - 1; i >= 0 && len(evs) < maxEventRows; i-- {
			evs = append(evs, all[i])
		}
	}
	u.render(w, r, http.StatusOK, eventsPage(p, evs))
}

func (u *UI) metrics(w http.ResponseWriter, r *http.Request) {
	u.render(w, r, http.StatusOK, metricsPage(u.page(r, "metrics", "Metrics")))
}

func (u *UI) alerts(w http.ResponseWriter, r *http.Request) {
	u.render(w, r, http.StatusOK, alertsPage(u.page(r, "alerts", "Alerts")))
}

// InsightSource is what the UI needs of the insights engine.
type InsightSource interface {
	Items() []insights.Item
}

// landing sends a fabric with problems to what is wrong, else to the
// topology.
func (u *UI) landing(w http.ResponseWriter, r *http.Request) {
	to := "/ui/topology"
	if u.opt.Insights != nil && len(u.opt.Insights.Items()) > 0 {
		to = "/ui/insights"
	}
	http.Redirect(w, r, to, http.StatusFound)
}

func (u *UI) insights(w http.ResponseWriter, r *http.Request) {
	items := []insights.Item{}
	if u.opt.Insights != nil {
		items = u.opt.Insights.Items()
	}
	u.render(w, r, http.StatusOK, insightsPage(u.page(r, "insights", "What's wrong now"), items, u.opt.Insights != nil))
}

func (u *UI) notFound(w http.ResponseWriter, r *http.Request) {
	u.render(w, r, http.StatusNotFound, notFoundPage(u.page(r, "", "Not found"), r.URL.Path))
}

// journalEvents are the newest journaled events of the last day, oldest
// first. A journal that cannot be read leaves the page with none (logged).
func (u *UI) journalEvents() []topology.Event {
	_ = u.opt.Journal.Sync() // what the model did before the version above
	recs, err := u.opt.Journal.Read(journal.Query{Since: time.Now().Add(-24 * time.Hour), Limit: maxEventRows, Newest: true})
	if err != nil {
		u.opt.Logger.Warn("events page: cannot read the journal", "err", err)
	}
	out := make([]topology.Event, 0, len(recs))
	for _, r := range recs {
		out = append(out, topology.Event{Kind: r.Kind, Time: r.Time, DPID: r.DPID, Port: r.Port, Message: r.Message})
	}
	return out
}

// eventClass sorts event kinds for the page's colours and filter.
func eventClass(kind string) string {
	switch {
	case strings.HasPrefix(kind, "lldp-"):
		return "security"
	case strings.HasPrefix(kind, "host-"):
		return "host"
	default:
		return "topology"
	}
}

// eventWhere is the dpid/port an event is about, or "".
func eventWhere(e topology.Event) string {
	switch {
	case e.DPID == 0:
		return ""
	case e.Port == 0:
		return e.DPID.String()
	default:
		return e.DPID.String() + "/" + strconv.FormatUint(uint64(e.Port), 10)
	}
}

// eventDPID and eventPort are the event's switch and port for the page's
// script, which names them (h1/vm1); "" when the event has none.
func eventDPID(e topology.Event) string {
	if e.DPID == 0 {
		return ""
	}
	return e.DPID.String()
}

func eventPort(e topology.Event) string {
	if e.DPID == 0 || e.Port == 0 {
		return ""
	}
	return strconv.FormatUint(uint64(e.Port), 10)
}

// fmtTime is the one time format of the pages (stream.js fmt.time does
// the same in the browser): UTC, to the second.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}
