package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/diagnostics"
	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/probes"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/vnet"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/ui"
)

// shutdownTimeout bounds how long in-flight API requests may take to
// finish once a shutdown has begun.
const shutdownTimeout = 5 * time.Second

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("satellite serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: satellite serve [flags]\n\nRuns the OpenFlow controller and the HTTP API until SIGINT or SIGTERM.\nFlags override $SATELLITE_* variables, which override the config file.\n\n")
		fs.PrintDefaults()
	}
	flags := config.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "satellite serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := flags.Load()
	if err != nil {
		fmt.Fprintf(stderr, "satellite: %s\n", strings.ReplaceAll(err.Error(), "\n", "\nsatellite: "))
		return 1
	}
	log := cfg.Logger(stderr)
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("satellite stopped", "err", err)
		return 1
	}
	return 0
}

// serve runs the controller and the API until ctx ends or SIGINT/SIGTERM
// arrives, then shuts down: the API first (in-flight requests may finish),
// then the switch connections.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	ctx, stopSignals := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stopSignals()
	log.Info("satellite starting", "version", version, "go", runtime.Version(), "config", cfg.File())

	// Listen on everything first, so that a port in use fails the start
	// before anything runs.
	var ofListeners []net.Listener
	closeAll := func() {
		for _, ln := range ofListeners {
			ln.Close()
		}
	}
	ccfg := cfg.Controller(log)
	for _, t := range cfg.OpenFlow {
		ln, err := controller.ListenTLS(t, ccfg.TLS)
		if err != nil {
			closeAll()
			return err
		}
		ofListeners = append(ofListeners, ln)
	}
	sec, err := openSecurity(cfg, log)
	if err != nil {
		closeAll()
		return err
	}
	defer sec.close() // after the API has stopped (below)
	httpLn, err := sec.listen(cfg, log)
	if err != nil {
		closeAll()
		return err
	}

	ctl := controller.New(ccfg)
	ctlCtx, stopController := context.WithCancel(context.Background())
	defer stopController()
	ctlDone := make(chan error, len(ofListeners))
	for i, ln := range ofListeners {
		logOpenFlowListener(log, cfg.OpenFlow[i], ln, len(ccfg.Access.Sources) > 0)
		go func() { ctlDone <- ctl.Serve(ctlCtx, ln) }()
	}

	// Discovery and switch events feed the topology model.
	signer, err := lldpSigner(cfg.Discovery.SecretFile)
	if err != nil {
		closeAll()
		httpLn.Close()
		return err
	}
	model := topology.New(topology.Options{MaxHostsPerPort: cfg.Hosts.MaxPerPort, MaxHostsPerSwitch: cfg.Hosts.MaxPerSwitch,
		KeepDownLinks: time.Duration(cfg.Discovery.ForgetDownAfter)})
	// The journal keeps the history of every change next to the state
	// file (docs/journal.md); it subscribes now and runs with the alerts.
	jrnl, feeder, err := openJournal(cfg, log, model, ctl)
	if err != nil {
		closeAll()
		httpLn.Close()
		return err
	}
	defer jrnl.Close() // after the feeder has stopped (below)
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
	tracker := topology.NewTracker(topology.TrackerConfig{HostIdle: time.Duration(cfg.Hosts.Idle), TunnelPrefixes: cfg.Discovery.TunnelPrefixes,
		ClassifyWait: time.Duration(cfg.Discovery.Interval), Admit: admit, Logger: log}, ctl, model)
	disc := lldp.NewDiscovery(lldp.DiscoveryConfig{
		Interval: time.Duration(cfg.Discovery.Interval), SteadyInterval: time.Duration(cfg.Discovery.SteadyInterval), Misses: cfg.Discovery.Misses,
		MaxAge: time.Duration(cfg.Discovery.MaxAge), EdgePort: edgePort, Logger: log,
	}, ctl, model, signer)
	go tracker.Run(ctlCtx)
	go disc.Run(ctlCtx)
	go recordSecurityEvents(ctlCtx, ctl, model)

	// Virtual networks: the configuration and the DHCP leases are kept in
	// the state file; the Manager keeps every switch converged to them.
	store, err := vnet.OpenBolt(cfg.StateFile)
	if err != nil {
		closeAll()
		httpLn.Close()
		return fmt.Errorf("state_file: %w", err)
	}
	vnets, err := vnet.NewManager(store, ctl, model, cfg.VNetOptions(log))
	if err != nil {
		store.Close()
		closeAll()
		httpLn.Close()
		return err
	}
	vnetsRef.Store(vnets)
	// Statistics feed the alerts, the exporters (InfluxDB, Fluentd,
	// /metrics) and the UI's charts; the tunnel prober publishes its
	// measurements there too.
	coll := collector.New(cfg.CollectorConfig(log), ctl)
	// Tunnel probes decide which underlay path each host pair uses; the
	// virtual networks build their tunnel groups in that order.
	var prober *probes.Manager
	if cfg.Probes.Enabled {
		pcfg := cfg.ProbesConfig(log)
		pcfg.Publish, pcfg.PublishInterval = publishProbes(coll), collector.ProbeInterval
		prober = probes.New(pcfg, ctl, vnets, model)
		vnets.SetPathOrder(prober.PathOrder)
		disc.SetHold(prober.Held) // no link removal by misses while this host is overloaded
		go prober.Run(ctlCtx)
	}
	vnetsDone := make(chan struct{})
	go func() { defer close(vnetsDone); _ = vnets.Run(ctlCtx) }()
	defer func() { // the Manager stops (it may be storing a lease) before its store closes
		stopController()
		<-vnetsDone
		store.Close()
	}()
	vcfg, rev := vnets.Config()
	log.Info("virtual networks", "state_file", cfg.StateFile, "revision", rev, "networks", len(vcfg.Networks), "interfaces", len(vcfg.Interfaces))

	// Statistics feed the exporters (InfluxDB, Fluentd, /metrics), as do
	// topology changes. A destination that is down or misconfigured is
	// reported and buffered for; it never stops Satellite.
	go coll.Run(ctlCtx)
	// Alert rules (config file and API) watch the statistics and the
	// topology; firing and resolved alerts go to the webhook. The rules
	// created through the API are kept in their own bbolt file next to the
	// state file; the config file's rules are read-only through the API.
	ruleStore, err := alerts.OpenRuleStore(cfg.AlertRulesFile())
	if err != nil {
		closeAll()
		httpLn.Close()
		return fmt.Errorf("alerts: %w", err)
	}
	defer ruleStore.Close() // after the API has stopped (below)
	acfg := cfg.AlertsConfig(log)
	acfg.Store = ruleStore
	alertEng, err := alerts.New(acfg, alerts.Sources{Collector: coll, Controller: ctl, Model: model})
	if err != nil {
		closeAll()
		httpLn.Close()
		return fmt.Errorf("alerts: %w", err)
	}
	var nConfig, nStored, nSkipped int
	for _, r := range alertEng.Rules() {
		switch {
		case r.Status == alerts.StatusSkipped:
			nSkipped++
		case r.Source == alerts.SourceConfig:
			nConfig++
		default:
			nStored++
		}
	}
	log.Info("alert rules", "store", ruleStore.Path(), "config", nConfig, "stored", nStored, "skipped", nSkipped)
	go alertEng.Run(ctlCtx)
	feederDone := feeder.start(ctlCtx, alertEng)
	defer func() { stopController(); <-feederDone }()
	exp, err := newExporters(cfg, log)
	if err != nil {
		closeAll()
		httpLn.Close()
		return err
	}
	exp.start(exportSources{ctl: ctl, model: model, collector: coll, alerts: alertEng}, log)
	defer exp.close()

	api := web.New(ctl, append(append(exp.webOptions(), sec.options(cfg)...),
		web.WithLogger(log), web.WithVersion(version), web.WithRequestTimeout(time.Duration(cfg.RequestTimeout)),
		web.WithCollector(coll), web.WithAlerts(alertEng),
		web.WithTopology(model), web.WithJournal(jrnl), web.WithDiscovery(disc), web.WithVirtualNetworks(vnets), web.WithProbes(prober),
		web.WithTracer(diagnostics.NewTracer(ctl, model, vnets, traceMaxAge(cfg.VNet.TraceMaxAge))),
		web.WithUI(ui.New(ui.Options{Model: model, Journal: jrnl, Version: version, Logger: log})))...)
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: time.Duration(cfg.HTTP.ReadHeaderTimeout), // slow or trickled headers
		ReadTimeout:       time.Duration(cfg.HTTP.ReadTimeout),       // trickled bodies (streams clear it)
		IdleTimeout:       time.Duration(cfg.HTTP.IdleTimeout),
		TLSConfig:         sec.tls,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(httpLn) }()
	sec.reloadOnHUP(ctlCtx, log)
	log.Info("http listening", "addr", httpLn.Addr().String(), "url", sec.scheme()+"://"+displayAddr(httpLn.Addr()),
		"tls", sec.tls != nil, "max_connections", cfg.HTTP.MaxConnections)

	var runErr error
	running := len(ofListeners)
	select {
	case <-ctx.Done():
		log.Info("shutting down", "reason", shutdownReason(ctx))
	case err := <-httpDone:
		runErr = fmt.Errorf("http: %w", err)
	case err := <-ctlDone:
		running--
		if err == nil {
			err = errors.New("listener closed")
		}
		runErr = fmt.Errorf("openflow: %w", err)
	}
	stopSignals() // a second signal kills the process the default way

	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	api.Close() // websocket streams: Shutdown does not track them
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown incomplete", "err", err)
		srv.Close()
	}
	stopController()
	closeAll()
	for ; running > 0; running-- {
		<-ctlDone
	}
	if runErr == nil {
		log.Info("stopped")
	}
	return runErr
}

func shutdownReason(ctx context.Context) string {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause.Error()
	}
	return "interrupted"
}

// displayAddr turns a wildcard listen address into one a client can use.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// logOpenFlowListener logs where an OpenFlow listener really listens, and
// warns when plain TCP is reachable from other machines with no source
// list: any host that reaches it can then claim a switch's datapath.
func logOpenFlowListener(log *slog.Logger, target string, ln net.Listener, sources bool) {
	addr, scope := controller.DescribeListener(ln)
	log.Info("openflow listening", "target", target, "addr", addr, "on", scope)
	n, path, _ := strings.Cut(target, ":")
	if (n == "tcp" || n == "ptcp") && scope != "loopback only" && !sources {
		log.Warn("openflow: plain TCP reachable from other machines: any host that reaches it can speak for a switch; use an ssl: target with openflow_tls, or openflow_access.sources", "target", target, "addr", addr)
	}
	if n == "unix" || n == "punix" {
		if dir, outside := outsideOVSRunDir(path); outside {
			log.Warn("openflow: this machine's Open vSwitch connects only to unix sockets in its run directory and refuses this one (\"possibility for remote exploit\"): its bridges will not appear. Put the socket there, or a symbolic link to it, and point the bridges at that (an OVS with its own run directory, like satlab's, needs the link in its directory)",
				"socket", path, "ovs_rundir", dir, "example", "ln -s "+path+" "+filepath.Join(dir, "satellite.sock")+"; ovs-vsctl set-controller BRIDGE unix:"+filepath.Join(dir, "satellite.sock"))
		}
	}
}

// outsideOVSRunDir reports whether a unix socket path lies outside the
// run directory of the system's Open vSwitch ($OVS_RUNDIR, else
// /var/run/openvswitch, which is /run/openvswitch on Debian), where
// ovs-vswitchd refuses to connect to it.
func outsideOVSRunDir(path string) (string, bool) {
	dir := os.Getenv("OVS_RUNDIR")
	if dir == "" {
		dir = "/var/run/openvswitch"
	}
	if _, err := os.Stat(filepath.Join(dir, "db.sock")); err != nil {
		return dir, false // no Open vSwitch runs from there
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return dir, false
	}
	for _, d := range []string{dir, "/run/openvswitch"} {
		if rel, err := filepath.Rel(d, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return dir, false
		}
	}
	return dir, true
}

// recordSecurityEvents puts the controller's security events (refused
// switch connections, datapath conflicts) into the topology's event log,
// where the API, `satellite events` and the security_events alert metric
// see them.
func recordSecurityEvents(ctx context.Context, ctl *controller.Controller, model *topology.Model) {
	sub := ctl.Bus().Subscribe(256, controller.Security)
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.C:
			if !ok {
				return
			}
			model.AddEvent(topology.Event{Kind: e.Security.Kind, Time: e.Time, DPID: topology.DPID(e.DPID),
				Message: e.Security.Message + " (from " + e.Security.Remote + ")"})
		}
	}
}

// lldpSigner returns the LLDP signer: the key from file, or a random one.
func lldpSigner(file string) (*lldp.Signer, error) {
	if file == "" {
		return lldp.NewRandomSigner(), nil
	}
	key, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("discovery.secret_file: %w", err)
	}
	s, err := lldp.NewSigner([]byte(strings.TrimSpace(string(key))))
	if err != nil {
		return nil, fmt.Errorf("discovery.secret_file %s: %w", file, err)
	}
	return s, nil
}

// traceMaxAge converts vnet.trace_max_age: 0s means always read the tables.
func traceMaxAge(d config.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return time.Duration(d)
}
