// Package app is the one place that assembles Satellite: New builds every
// component of `satellite serve` from a configuration, in the order the
// data flows (switch events -> model -> collector, probes, diagnostics ->
// alerts -> web and exporters), and Run runs them together until its
// context ends or one of them fails, then stops them in the reverse order
// and closes what they held.
//
// `satellite serve` is New and Run; so is every test that wants
// "Satellite as serve runs it" (internal/testenv). A new subsystem is one
// registration here: build it in New after what it consumes, and add it
// with a.add (docs/architecture.md).
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/diagnostics"
	"github.com/satellite-sdn/satellite/journal"
	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/probes"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/vnet"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/auth"
	"github.com/satellite-sdn/satellite/web/ui"
)

// ShutdownTimeout bounds how long in-flight API requests may take to
// finish once a shutdown has begun.
const ShutdownTimeout = 5 * time.Second

// Options are what the configuration file does not say: who runs
// Satellite, and what a test leaves out.
type Options struct {
	Logger  *slog.Logger // nil: discard
	Version string       // shown by the API and the UI
	// Without leaves components out by name: "http" (no API listener; the
	// handler is still built, App.API), "exporters", "alerts", "journal",
	// "probes", "collector". The controller, the model, discovery, the
	// tracker and the virtual networks are Satellite itself.
	Without []string
}

// App is Satellite assembled. Its exported fields are the components, for
// the caller to look at (tests) after New; Run runs them.
type App struct {
	Controller *controller.Controller
	Model      *topology.Model
	Journal    *journal.Journal // nil when journal.enabled is false
	Tracker    *topology.Tracker
	Discovery  *lldp.Discovery
	VNets      *vnet.Manager
	Collector  *collector.Collector // nil without it
	Prober     *probes.Manager      // nil when probes.enabled is false
	Alerts     *alerts.Engine       // nil without it
	Tracer     *diagnostics.Tracer
	API        *web.Server
	Tokens     *auth.TokenStore

	cfg      config.Config
	log      *slog.Logger
	without  map[string]bool
	parts    []part
	ofAddrs  []net.Addr
	httpLn   net.Listener
	scheme   string
	started  atomic.Bool
	closed   bool
	security *apiSecurity
}

// part is one component: run runs it until its context ends (nil: it has
// nothing to run), close releases what it holds once every part has
// stopped (nil: nothing).
type part struct {
	name  string
	run   func(ctx context.Context) error
	close func() error
}

// add registers a component. Parts start in the order they are added and
// stop in the reverse order; closes run in the reverse order too.
func (a *App) add(name string, run func(context.Context) error, close func() error) {
	a.parts = append(a.parts, part{name: name, run: run, close: close})
}

// New builds Satellite from cfg: it opens every listener and file first,
// so that a port in use or an unreadable state file fails here, before
// anything runs. On error, whatever was opened is closed again.
func New(cfg config.Config, opt Options) (a *App, err error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a = &App{cfg: cfg, log: log, without: map[string]bool{}}
	for _, w := range opt.Without {
		a.without[w] = true
	}
	defer func() {
		if err != nil {
			a.closeAll()
			a = nil
		}
	}()
	log.Info("satellite starting", "version", opt.Version, "go", runtime.Version(), "config", cfg.File())

	// Listen on everything first.
	ccfg := cfg.Controller(log)
	var ofListeners []net.Listener
	for _, t := range cfg.OpenFlow {
		ln, err := controller.ListenTLS(t, ccfg.TLS)
		if err != nil {
			return a, err
		}
		ofListeners = append(ofListeners, ln)
		a.ofAddrs = append(a.ofAddrs, ln.Addr())
		a.add("openflow "+t, nil, ln.Close)
	}
	sec, err := openSecurity(cfg, log)
	if err != nil {
		return a, err
	}
	a.security, a.Tokens = sec, sec.tokens
	a.add("api credentials", nil, func() error { sec.close(); return nil })
	if !a.without["http"] {
		if a.httpLn, err = sec.listen(cfg, log); err != nil {
			return a, err
		}
		a.scheme = sec.scheme()
		ln := a.httpLn
		a.add("http listener", nil, func() error { _ = ln.Close(); return nil })
	}

	// The controller: one part per OpenFlow listener.
	ctl := controller.New(ccfg)
	a.Controller = ctl
	for i, ln := range ofListeners {
		target := cfg.OpenFlow[i]
		logOpenFlowListener(log, target, ln, len(ccfg.Access.Sources) > 0)
		a.add("openflow "+target, func(ctx context.Context) error {
			err := ctl.Serve(ctx, ln)
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				err = errors.New("listener closed")
			}
			return fmt.Errorf("openflow: %w", err)
		}, nil)
	}

	// Discovery and switch events feed the topology model.
	signer, err := lldpSigner(cfg.Discovery.SecretFile)
	if err != nil {
		return a, err
	}
	model := topology.New(topology.Options{MaxHostsPerPort: cfg.Hosts.MaxPerPort, MaxHostsPerSwitch: cfg.Hosts.MaxPerSwitch,
		KeepDownLinks: time.Duration(cfg.Discovery.ForgetDownAfter)})
	a.Model = model
	// The journal keeps the history of every change next to the state
	// file (docs/journal.md); its feeder subscribes now, so that nothing
	// between here and Run is missed.
	var feeder *journal.Feeder
	if !a.without["journal"] {
		if a.Journal, feeder, err = openJournal(cfg, log, model, ctl); err != nil {
			return a, err
		}
		if a.Journal != nil {
			a.add("journal", nil, a.Journal.Close)
		}
	}
	// Ports that carry a virtual-network interface face VMs: discovery
	// sends no LLDP there and believes none from there, and the tracker
	// learns there only the MACs the data path admits. The virtual
	// networks are made below; until then nothing is an interface port.
	var vnetsRef atomic.Pointer[vnet.Manager]
	edgePort := func(dpid uint64, port uint32) bool {
		m := vnetsRef.Load()
		return m != nil && m.InterfacePort(dpid, port)
	}
	admit := func(dpid uint64, port uint32, mac string) bool {
		m := vnetsRef.Load()
		return m == nil || m.Admits(dpid, port, mac)
	}
	a.Tracker = topology.NewTracker(topology.TrackerConfig{HostIdle: time.Duration(cfg.Hosts.Idle), TunnelPrefixes: cfg.Discovery.TunnelPrefixes,
		ClassifyWait: time.Duration(cfg.Discovery.Interval), Admit: admit, Logger: log}, ctl, model)
	a.Discovery = lldp.NewDiscovery(lldp.DiscoveryConfig{
		Interval: time.Duration(cfg.Discovery.Interval), SteadyInterval: time.Duration(cfg.Discovery.SteadyInterval), Misses: cfg.Discovery.Misses,
		MaxAge: time.Duration(cfg.Discovery.MaxAge), EdgePort: edgePort, Logger: log,
	}, ctl, model, signer)
	a.add("tracker", until(a.Tracker.Run), nil)
	a.add("discovery", until(a.Discovery.Run), nil)
	a.add("security events", runs(func(ctx context.Context) { recordSecurityEvents(ctx, ctl, model) }), nil)

	// Virtual networks: the configuration and the DHCP leases are kept in
	// the state file; the Manager keeps every switch converged to them.
	store, err := vnet.OpenBolt(cfg.StateFile)
	if err != nil {
		return a, fmt.Errorf("state_file: %w", err)
	}
	a.add("state file", nil, store.Close) // after the Manager has stopped: it may be storing a lease
	if a.VNets, err = vnet.NewManager(store, ctl, model, cfg.VNetOptions(log)); err != nil {
		return a, err
	}
	vnetsRef.Store(a.VNets)
	vcfg, rev := a.VNets.Config()
	log.Info("virtual networks", "state_file", cfg.StateFile, "revision", rev, "networks", len(vcfg.Networks), "interfaces", len(vcfg.Interfaces))

	// Statistics feed the alerts, the exporters (InfluxDB, Fluentd,
	// /metrics) and the UI's charts; the tunnel prober publishes its
	// measurements there too.
	if !a.without["collector"] {
		a.Collector = collector.New(cfg.CollectorConfig(log), ctl)
	}
	// Tunnel probes decide which underlay path each host pair uses; the
	// virtual networks, the one owner of the tunnel groups, build them in
	// that order (docs/probes.md, "the tunnel group contract").
	if cfg.Probes.Enabled && !a.without["probes"] {
		pcfg := cfg.ProbesConfig(log)
		if a.Collector != nil {
			pcfg.Publish, pcfg.PublishInterval = publishProbes(a.Collector), collector.ProbeInterval
		}
		a.Prober = probes.New(pcfg, ctl, a.VNets, model)
		a.VNets.SetPathOrder(a.Prober.PathOrder)
		a.Discovery.SetHold(a.Prober.Held) // no link removal by misses while this host is overloaded
		a.add("probes", until(a.Prober.Run), nil)
	}
	a.add("virtual networks", until(a.VNets.Run), nil)
	if a.Collector != nil {
		a.add("collector", runs(a.Collector.Run), nil)
	}

	// Alert rules (config file and API) watch the statistics and the
	// topology. The rules created through the API are kept in their own
	// bbolt file next to the state file.
	if !a.without["alerts"] && a.Collector != nil {
		if err := a.openAlerts(); err != nil {
			return a, fmt.Errorf("alerts: %w", err)
		}
		a.add("alerts", runs(a.Alerts.Run), nil)
	}
	if feeder != nil {
		if a.Alerts != nil {
			feeder.AddAlerts(a.Alerts)
		}
		a.add("journal feeder", runs(feeder.Run), nil)
	}

	// Statistics and topology changes feed the exporters. A destination
	// that is down or misconfigured is reported and buffered for; it
	// never stops Satellite.
	var webOpts []web.Option
	if !a.without["exporters"] {
		exp, err := newExporters(cfg, log)
		if err != nil {
			return a, err
		}
		webOpts = exp.webOptions()
		src := exportSources{ctl: ctl, model: model, collector: a.Collector, alerts: a.Alerts}
		a.add("exporters", func(ctx context.Context) error {
			exp.start(src, log)
			<-ctx.Done()
			exp.close() // the feeds stop, the queues drain
			return nil
		}, nil)
	}

	// The diagnostics and the API on top of everything.
	a.Tracer = diagnostics.NewTracer(ctl, model, a.VNets, traceMaxAge(cfg.VNet.TraceMaxAge))
	webOpts = append(webOpts, sec.options(cfg)...)
	webOpts = append(webOpts, web.WithLogger(log), web.WithVersion(opt.Version), web.WithRequestTimeout(time.Duration(cfg.RequestTimeout)),
		web.WithTopology(model), web.WithDiscovery(a.Discovery), web.WithVirtualNetworks(a.VNets), web.WithTracer(a.Tracer),
		web.WithUI(ui.New(ui.Options{Model: model, Journal: a.Journal, Version: opt.Version, Logger: log})))
	if a.Collector != nil {
		webOpts = append(webOpts, web.WithCollector(a.Collector))
	}
	if a.Alerts != nil {
		webOpts = append(webOpts, web.WithAlerts(a.Alerts))
	}
	if a.Journal != nil {
		webOpts = append(webOpts, web.WithJournal(a.Journal))
	}
	if a.Prober != nil {
		webOpts = append(webOpts, web.WithProbes(a.Prober))
	}
	a.API = web.New(ctl, webOpts...)
	if a.httpLn != nil {
		a.add("http", a.serveHTTP, nil)
	}
	return a, nil
}

// openAlerts opens the rule store and builds the alert engine.
func (a *App) openAlerts() error {
	ruleStore, err := alerts.OpenRuleStore(a.cfg.AlertRulesFile())
	if err != nil {
		return err
	}
	a.add("alert rules", nil, ruleStore.Close)
	acfg := a.cfg.AlertsConfig(a.log)
	acfg.Store = ruleStore
	if a.Alerts, err = alerts.New(acfg, alerts.Sources{Collector: a.Collector, Controller: a.Controller, Model: a.Model}); err != nil {
		return err
	}
	var nConfig, nStored, nSkipped int
	for _, r := range a.Alerts.Rules() {
		switch {
		case r.Status == alerts.StatusSkipped:
			nSkipped++
		case r.Source == alerts.SourceConfig:
			nConfig++
		default:
			nStored++
		}
	}
	a.log.Info("alert rules", "store", ruleStore.Path(), "config", nConfig, "stored", nStored, "skipped", nSkipped)
	return nil
}

// serveHTTP serves the API until ctx ends, then lets in-flight requests
// finish (ShutdownTimeout at most).
func (a *App) serveHTTP(ctx context.Context) error {
	cfg := a.cfg
	srv := &http.Server{
		Handler:           a.API,
		ReadHeaderTimeout: time.Duration(cfg.HTTP.ReadHeaderTimeout), // slow or trickled headers
		ReadTimeout:       time.Duration(cfg.HTTP.ReadTimeout),       // trickled bodies (streams clear it)
		IdleTimeout:       time.Duration(cfg.HTTP.IdleTimeout),
		TLSConfig:         a.security.tls,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(a.httpLn) }()
	a.security.reloadOnHUP(ctx, a.log)
	a.log.Info("http listening", "addr", a.httpLn.Addr().String(), "url", a.URL(),
		"tls", a.security.tls != nil, "max_connections", cfg.HTTP.MaxConnections)
	select {
	case err := <-done:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	a.API.Close() // websocket streams: Shutdown does not track them
	if err := srv.Shutdown(sctx); err != nil {
		a.log.Warn("http shutdown incomplete", "err", err)
		srv.Close()
	}
	<-done
	return nil
}

// URL is where the API answers ("" without the http listener).
func (a *App) URL() string {
	if a.httpLn == nil {
		return ""
	}
	return a.scheme + "://" + displayAddr(a.httpLn.Addr())
}

// OpenFlowAddrs are the addresses the OpenFlow listeners listen on, in
// the order of the configuration's targets.
func (a *App) OpenFlowAddrs() []net.Addr { return a.ofAddrs }

// Run runs every component until ctx ends or one of them fails; then it
// stops them in the reverse order of their start (the API first, so that
// in-flight requests finish against a working controller; the switch
// connections last), closes what they held, and returns the first
// failure (nil after a normal stop). Run may be called once.
func (a *App) Run(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return errors.New("app: Run called twice")
	}
	defer a.closeAll()
	// Each part runs under its own context, so that the stop can go in
	// order; the group's context ends when any part fails.
	g, gctx := errgroup.WithContext(context.Background())
	type running struct {
		name   string
		cancel context.CancelFunc
		done   chan struct{}
	}
	var rs []running
	for _, p := range a.parts {
		if p.run == nil {
			continue
		}
		pctx, cancel := context.WithCancel(context.Background())
		r := running{name: p.name, cancel: cancel, done: make(chan struct{})}
		rs = append(rs, r)
		run := p.run
		g.Go(func() error {
			defer close(r.done)
			if err := run(pctx); err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			return nil
		})
	}
	select {
	case <-ctx.Done():
		a.log.Info("shutting down", "reason", shutdownReason(ctx))
	case <-gctx.Done(): // a part failed
	}
	for i := len(rs) - 1; i >= 0; i-- {
		start := time.Now()
		rs[i].cancel()
		<-rs[i].done
		a.log.Debug("stopped", "part", rs[i].name, "took", time.Since(start))
	}
	err := g.Wait()
	if err == nil {
		a.log.Info("stopped")
	}
	return err
}

// Close releases what New opened, for an App that is not Run (Run closes
// everything itself when it returns).
func (a *App) Close() error {
	if a.started.Load() {
		return nil
	}
	a.closeAll()
	return nil
}

// closeAll closes every part's resources, in the reverse order.
func (a *App) closeAll() {
	if a.closed {
		return
	}
	a.closed = true
	for i := len(a.parts) - 1; i >= 0; i-- {
		if c := a.parts[i].close; c != nil {
			start := time.Now()
			if err := c(); err != nil && !errors.Is(err, net.ErrClosed) {
				a.log.Warn("closing "+a.parts[i].name, "err", err)
			}
			a.log.Debug("closed", "part", a.parts[i].name, "took", time.Since(start))
		}
	}
}

// until adapts a Run(ctx) error: an error after ctx has ended is the
// stop, not a failure.
func until(f func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := f(ctx); err != nil && ctx.Err() == nil {
			return err
		}
		return nil
	}
}

// runs adapts a Run(ctx) that returns nothing.
func runs(f func(context.Context)) func(context.Context) error {
	return func(ctx context.Context) error { f(ctx); return nil }
}

func shutdownReason(ctx context.Context) string {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause.Error()
	}
	return "interrupted"
}
