// Package core assembles Satellite below its API: New builds every
// component of `satellite serve` but the web front from a configuration,
// in the order the data flows (switch events -> model -> collector,
// probes, diagnostics -> alerts -> journal and exporters), and Run runs
// them together until its context ends or one of them fails, then stops
// them in the reverse order and closes what they held.
//
// internal/app puts the API, the UI and their credentials on top (one
// more part, registered with Add); `satellite serve` is app.New and Run.
// Tests of the lower layers run this core through internal/testenv,
// without depending on the web packages. A new subsystem is one
// registration here: build it in New after what it consumes and Add it
// (docs/architecture.md).
package core

import (
	"context"
	"errors"
	"fmt"
	"github.com/satellite-sdn/satellite/audit"
	"log/slog"
	"net"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/satellite-sdn/satellite/alerts"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/satellite-sdn/satellite/cluster"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/diagnostics"
	"github.com/satellite-sdn/satellite/insights"
	"github.com/satellite-sdn/satellite/journal"
	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/probes"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/vnet"
)

// Options are what the configuration file does not say: who runs
// Satellite, and what a test leaves out.
type Options struct {
	Logger  *slog.Logger // nil: discard
	Version string       // shown by the API and the UI
	// Without leaves components out by name: "exporters", "alerts",
	// "journal", "probes", "collector", "discovery". The controller, the
	// model, the tracker and the virtual networks are Satellite itself.
	Without []string
	// Tune adjusts what the configuration file cannot say (tests).
	Tune Tune
	// Signer signs and checks LLDP probes instead of the key of
	// discovery.secret_file (a test that forges probes holds the key).
	Signer *lldp.Signer
}

// Tune holds adjustments of the components' settings after they were
// derived from the configuration; nil ones change nothing.
type Tune struct {
	Controller func(*controller.Config)
	Discovery  func(*lldp.DiscoveryConfig)
	VNet       func(*vnet.Options)
	Probes     func(*probes.Config)
	Collector  func(*collector.Config)
}

// Core is Satellite assembled. Its exported fields are the components,
// for the layer above and for tests to use after New; Run runs them.
type Core struct {
	Controller *controller.Controller
	Model      *topology.Model
	Journal    *journal.Journal // nil when journal.enabled is false
	Tracker    *topology.Tracker
	Discovery  *lldp.Discovery
	Signer     *lldp.Signer // signs and verifies the LLDP probes
	VNets      *vnet.Manager
	Collector  *collector.Collector // nil without it
	Prober     *probes.Manager      // nil when probes.enabled is false
	Alerts     *alerts.Engine       // nil without it
	Insights   *insights.Engine     // nil without the collector
	Tracer     *diagnostics.Tracer
	Exporters  *Exporters // nil without them
	// Cluster is this instance's part in a cluster's switch mastership
	// (nil: alone, on the state file).
	Cluster *cluster.Member
	Audit   *audit.Engine // the flow audit (docs/audit.md)

	etcd    *clientv3.Client // the cluster's etcd (nil: alone)
	cfg     config.Config
	log     *slog.Logger
	without map[string]bool
	parts   []part
	ofAddrs []net.Addr
	started atomic.Bool
	closed  bool
}

// part is one component: run runs it until its context ends (nil: it has
// nothing to run), close releases what it holds once every part has
// stopped (nil: nothing).
type part struct {
	name  string
	run   func(ctx context.Context) error
	close func() error
}

// Add registers a component: run runs it until its context ends (nil: it
// has nothing to run; an error stops Satellite), close releases what it
// holds once every part has stopped (nil: nothing). Parts start in the
// order they are added and stop in the reverse order; closes run in the
// reverse order too. Add before Run.
func (a *Core) Add(name string, run func(context.Context) error, close func() error) {
	a.parts = append(a.parts, part{name: name, run: run, close: close})
}

// New builds Satellite from cfg: it opens every listener and file first,
// so that a port in use or an unreadable state file fails here, before
// anything runs. On error, whatever was opened is closed again.
func New(cfg config.Config, opt Options) (a *Core, err error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a = &Core{cfg: cfg, log: log, without: map[string]bool{}}
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
	if opt.Tune.Controller != nil {
		opt.Tune.Controller(&ccfg)
	}
	var ofListeners []net.Listener
	for _, t := range cfg.OpenFlow {
		ln, err := controller.ListenTLS(t, ccfg.TLS)
		if err != nil {
			return a, err
		}
		ofListeners = append(ofListeners, ln)
		a.ofAddrs = append(a.ofAddrs, ln.Addr())
		a.Add("openflow "+t, nil, ln.Close)
	}
	// The controller: one part per OpenFlow listener.
	ctl := controller.New(ccfg)
	a.Controller = ctl
	for i, ln := range ofListeners {
		target := cfg.OpenFlow[i]
		logOpenFlowListener(log, target, ln, len(ccfg.Access.Sources) > 0)
		a.Add("openflow "+target, func(ctx context.Context) error {
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

	// With a cluster section etcd holds the shared state and the LLDP
	// key (internal/core/cluster.go).
	if err := a.dialCluster(cfg); err != nil {
		return a, err
	}
	// Discovery and switch events feed the topology model.
	signer := opt.Signer
	if signer == nil {
		if signer, err = a.lldpSigner(cfg); err != nil {
			return a, err
		}
	}
	a.Signer = signer
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
			a.Add("journal", nil, a.Journal.Close)
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
	dcfg := lldp.DiscoveryConfig{
		Interval: time.Duration(cfg.Discovery.Interval), SteadyInterval: time.Duration(cfg.Discovery.SteadyInterval), Misses: cfg.Discovery.Misses,
		MaxAge: time.Duration(cfg.Discovery.MaxAge), EdgePort: edgePort, Logger: log,
	}
	if opt.Tune.Discovery != nil {
		opt.Tune.Discovery(&dcfg)
	}
	a.Discovery = lldp.NewDiscovery(dcfg, ctl, model, signer)
	a.Add("tracker", until(a.Tracker.Run), nil)
	if !a.without["discovery"] {
		a.Add("discovery", until(a.Discovery.Run), nil)
	}
	a.Add("security events", runs(func(ctx context.Context) { recordSecurityEvents(ctx, ctl, model) }), nil)

	// Virtual networks: the configuration and the DHCP leases are kept in
	// the state file; the Manager keeps every switch converged to them.
	// With a cluster section they are in etcd, shared (internal/core/cluster.go).
	store, where, err := a.openState(cfg, log, ctl)
	if err != nil {
		return a, err
	}
	vopt := cfg.VNetOptions(log)
	if opt.Tune.VNet != nil {
		opt.Tune.VNet(&vopt)
	}
	if a.VNets, err = vnet.NewManager(store, ctl, model, vopt); err != nil {
		return a, err
	}
	vnetsRef.Store(a.VNets)
	vcfg, rev := a.VNets.Config()
	log.Info("virtual networks", "state_file", where, "revision", rev, "networks", len(vcfg.Networks), "interfaces", len(vcfg.Interfaces))

	// Statistics feed the alerts, the exporters (InfluxDB, Fluentd,
	// /metrics) and the UI's charts; the tunnel prober publishes its
	// measurements there too.
	if !a.without["collector"] {
		ccfg := cfg.CollectorConfig(log)
		if opt.Tune.Collector != nil {
			opt.Tune.Collector(&ccfg)
		}
		a.Collector = collector.New(ccfg, ctl)
	}
	// Tunnel probes decide which underlay path each host pair uses; the
	// virtual networks, the one owner of the tunnel groups, build them in
	// that order (docs/probes.md, "the tunnel group contract").
	if cfg.Probes.Enabled && !a.without["probes"] {
		pcfg := cfg.ProbesConfig(log)
		if a.Collector != nil {
			pcfg.Publish, pcfg.PublishInterval = publishProbes(a.Collector), collector.ProbeInterval
		}
		if opt.Tune.Probes != nil {
			opt.Tune.Probes(&pcfg)
		}
		a.Prober = probes.New(pcfg, ctl, a.VNets, model)
		a.VNets.SetPathOrder(a.Prober.PathOrder)
		a.Discovery.SetHold(a.Prober.Held) // no link removal by misses while this host is overloaded
		a.Add("probes", until(a.Prober.Run), nil)
	}
	a.Add("virtual networks", until(a.VNets.Run), nil)
	if a.Collector != nil {
		a.Add("collector", runs(a.Collector.Run), nil)
	}

	// Insights judge every series against its baseline (what is wrong
	// now); rules on anomaly_score read their findings.
	if !a.without["insights"] && a.Collector != nil {
		a.Insights = insights.New(insights.Config{Interval: a.Collector.Config().Interval, Names: vnetNames{a.VNets}, Logger: log},
			a.Collector, model)
		a.Add("insights", runs(a.Insights.Run), nil)
	}

	// Alert rules (config file and API) watch the statistics and the
	// topology. The rules created through the API are kept in their own
	// bbolt file next to the state file.
	if !a.without["alerts"] && a.Collector != nil {
		if err := a.openAlerts(); err != nil {
			return a, fmt.Errorf("alerts: %w", err)
		}
		a.Add("alerts", runs(a.Alerts.Run), nil)
	}
	if feeder != nil {
		if a.Alerts != nil {
			feeder.AddAlerts(a.Alerts)
		}
		a.Add("journal feeder", runs(feeder.Run), nil)
	}

	// Statistics and topology changes feed the exporters. A destination
	// that is down or misconfigured is reported and buffered for; it
	// never stops Satellite.
	src := &exportSources{} // filled below; the flow audit joins it later
	if !a.without["exporters"] {
		exp, err := newExporters(cfg, log)
		if err != nil {
			return a, err
		}
		a.Exporters = &Exporters{Set: exp.set, Prometheus: exp.sink}
		*src = exportSources{ctl: ctl, model: model, collector: a.Collector, alerts: a.Alerts, insights: a.Insights}
		a.Add("exporters", func(ctx context.Context) error {
			exp.start(*src, log)
			<-ctx.Done()
			exp.close() // the feeds stop, the queues drain
			return nil
		}, nil)
	}
	a.Tracer = diagnostics.NewTracer(ctl, model, a.VNets, traceMaxAge(cfg.VNet.TraceMaxAge))
	// The flow audit compares every switch with the intent at each
	// reconciliation (the reconciler's own read) and on demand.
	aopt := cfg.AuditOptions()
	aopt.Logger, aopt.Events, aopt.Tracer = log, model, a.Tracer
	if a.Prober != nil {
		aopt.Probes = a.Prober.IntendedFlows
		aopt.Hold = a.Prober.Held // no periodic reads of every switch while this host is overloaded
	}
	a.Audit = audit.New(ctl, a.VNets, aopt)
	src.audit = a.Audit // the exporters' /metrics (satellite_flow_drift_total)
	a.VNets.SetAuditor(a.Audit)
	a.Add("flow audit", runs(a.Audit.Run), nil)
	return a, nil
}

// Config is the configuration Satellite was built from.
func (a *Core) Config() config.Config { return a.cfg }

// Logger is the logger every component logs to.
func (a *Core) Logger() *slog.Logger { return a.log }

// openAlerts opens the rule store and builds the alert engine.
func (a *Core) openAlerts() error {
	ruleStore, err := alerts.OpenRuleStore(a.cfg.AlertRulesFile())
	if err != nil {
		return err
	}
	a.Add("alert rules", nil, ruleStore.Close)
	acfg := a.cfg.AlertsConfig(a.log)
	acfg.Store = ruleStore
	src := alerts.Sources{Collector: a.Collector, Controller: a.Controller, Model: a.Model}
	if a.Insights != nil {
		src.Insights = a.Insights
	}
	if a.Alerts, err = alerts.New(acfg, src); err != nil {
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

// OpenFlowAddrs are the addresses the OpenFlow listeners listen on, in
// the order of the configuration's targets.
func (a *Core) OpenFlowAddrs() []net.Addr { return a.ofAddrs }

// Run runs every component until ctx ends or one of them fails; then it
// stops them in the reverse order of their start (the API first, so that
// in-flight requests finish against a working controller; the switch
// connections last), closes what they held, and returns the first
// failure (nil after a normal stop). Run may be called once.
func (a *Core) Run(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return errors.New("core: Run called twice")
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

// Close releases what New opened, for a Core that is not Run (Run closes
// everything itself when it returns).
func (a *Core) Close() error {
	if a.started.Load() {
		return nil
	}
	a.closeAll()
	return nil
}

// closeAll closes every part's resources, in the reverse order.
func (a *Core) closeAll() {
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

// vnetNames names switches and networks after the virtual network
// configuration (switches without a datapath there by their bridge), for
// the insights' list.
type vnetNames struct{ m *vnet.Manager }

func (n vnetNames) SwitchName(dpid uint64) string { return n.m.SwitchName(dpid) }

func (n vnetNames) NetworkName(id uint32) string {
	cfg, _ := n.m.Config()
	for _, nw := range cfg.Networks {
		if nw.ID == id {
			return nw.Name
		}
	}
	return ""
}
