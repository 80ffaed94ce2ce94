// Package app is Satellite as `satellite serve` runs it: the core
// (internal/core: controller, model, discovery, virtual networks,
// collector, probes, alerts, journal, exporters) with the API, the UI and
// their credentials on top, registered as the core's last part so that
// it stops first. cmd/satellite is flags -> config -> New -> Run; the
// tests that need the whole of Satellite use internal/apptest.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/satellite-sdn/satellite/cluster"
	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/internal/auth"
	"github.com/satellite-sdn/satellite/internal/core"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/ui"
)

// ShutdownTimeout bounds how long in-flight API requests may take to
// finish once a shutdown has begun.
const ShutdownTimeout = 5 * time.Second

// Options are the core's options; Without may also name "http" (the API
// handler is built, App.API, but nothing listens).
type Options = core.Options

// App is Satellite: the core and the API in front of it.
type App struct {
	*core.Core
	API    *web.Server
	Tokens *auth.TokenStore

	sec    *apiSecurity
	httpLn net.Listener
}

// New builds Satellite from cfg; on error, whatever was opened is closed.
func New(cfg config.Config, opt Options) (*App, error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
		opt.Logger = log
	}
	without := map[string]bool{}
	for _, w := range opt.Without {
		without[w] = true
	}
	c, err := core.New(cfg, opt)
	if err != nil {
		return nil, err
	}
	a := &App{Core: c}
	if err := a.front(cfg, opt, without["http"]); err != nil {
		_ = c.Close()
		return nil, err
	}
	return a, nil
}

// front opens the credentials and the HTTP listener and builds the API.
func (a *App) front(cfg config.Config, opt Options, noHTTP bool) error {
	log := a.Logger()
	sec, err := openSecurity(cfg, log)
	if err != nil {
		return err
	}
	a.sec, a.Tokens = sec, sec.tokens
	a.Add("api credentials", nil, func() error { sec.close(); return nil })
	if !noHTTP {
		if a.httpLn, err = sec.listen(cfg, log); err != nil {
			return err
		}
		ln := a.httpLn
		a.Add("http listener", nil, func() error { _ = ln.Close(); return nil })
	}
	opts := sec.options(cfg)
	uiOpts := ui.Options{Model: a.Model, Journal: a.Journal, Version: opt.Version, Logger: log}
	if a.Insights != nil {
		uiOpts.Insights = a.Insights
	}
	if e := a.Exporters; e != nil {
		opts = append(opts, web.WithExporters(e.Set))
		if e.Prometheus != nil {
			opts = append(opts, web.WithMetrics(e.Prometheus.Handler(), e.Prometheus.Series))
		}
	}
	opts = append(opts, web.WithLogger(log), web.WithVersion(opt.Version), web.WithRequestTimeout(time.Duration(cfg.RequestTimeout)),
		web.WithTopology(a.Model), web.WithDiscovery(a.Discovery), web.WithVirtualNetworks(a.VNets), web.WithTracer(a.Tracer),
		web.WithUI(ui.New(uiOpts)))
	if a.Collector != nil {
		opts = append(opts, web.WithCollector(a.Collector))
	}
	if a.Alerts != nil {
		opts = append(opts, web.WithAlerts(a.Alerts))
	}
	if a.Insights != nil {
		opts = append(opts, web.WithInsights(a.Insights))
	}
	if a.Journal != nil {
		opts = append(opts, web.WithJournal(a.Journal))
	}
	if a.Prober != nil {
		opts = append(opts, web.WithProbes(a.Prober))
	}
	if a.Cluster != nil {
		opts = append(opts, web.WithCluster(func(ctx context.Context) (cluster.Status, error) { return a.Cluster.Status(ctx, cfg.Cluster.Etcd) }))
	}
	if a.Audit != nil {
		opts = append(opts, web.WithAudit(a.Audit))
	}
	a.API = web.New(a.Controller, opts...)
	if a.httpLn != nil {
		a.Add("http", a.serveHTTP, nil)
	}
	return nil
}

// serveHTTP serves the API until ctx ends, then lets in-flight requests
// finish (ShutdownTimeout at most).
func (a *App) serveHTTP(ctx context.Context) error {
	cfg, log := a.Config(), a.Logger()
	srv := &http.Server{
		Handler:           a.API,
		ReadHeaderTimeout: time.Duration(cfg.HTTP.ReadHeaderTimeout), // slow or trickled headers
		ReadTimeout:       time.Duration(cfg.HTTP.ReadTimeout),       // trickled bodies (streams clear it)
		IdleTimeout:       time.Duration(cfg.HTTP.IdleTimeout),
		TLSConfig:         a.sec.tls,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(a.httpLn) }()
	a.sec.reloadOnHUP(ctx, log)
	log.Info("http listening", "addr", a.httpLn.Addr().String(), "url", a.URL(),
		"tls", a.sec.tls != nil, "max_connections", cfg.HTTP.MaxConnections)
	select {
	case err := <-done:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	a.API.Close() // websocket streams: Shutdown does not track them
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown incomplete", "err", err)
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
	return a.sec.scheme() + "://" + core.DisplayAddr(a.httpLn.Addr())
}
