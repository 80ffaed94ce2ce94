// Package webtest starts a real controller with emulated switches behind
// an httptest server running the API, for tests of the API, its client
// and the CLI.
package webtest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/web"
)

// Env is a running controller with the API in front of it.
type Env struct {
	t    testing.TB
	Ctl  *controller.Controller
	API  *web.Server
	HTTP *httptest.Server
	// URL is the base URL of the API server ("http://127.0.0.1:PORT").
	URL string
	// Logs holds everything the controller and the API logged (debug level).
	Logs *LogBuffer
	// OpenFlowAddr is the controller's TCP address ("127.0.0.1:PORT").
	OpenFlowAddr string

	ctx context.Context
}

// LogBuffer is a concurrency-safe log sink.
type LogBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start runs a controller on a loopback port and the API on an httptest
// server; both stop when the test ends. The logs are printed if the test
// failed.
func Start(t testing.TB, opts ...web.Option) *Env {
	t.Helper()
	logs := &LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctl := controller.New(controller.Config{Logger: log})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ctl.Serve(ctx, ln) }()
	api := web.New(ctl, append([]web.Option{web.WithLogger(log)}, opts...)...)
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &Env{t: t, Ctl: ctl, API: api, HTTP: srv, URL: srv.URL, Logs: logs, ctx: ctx, OpenFlowAddr: ln.Addr().String()}
}

// Connect starts an emulated switch, connects it to the controller and
// waits until the controller has announced it (SwitchUp).
func (e *Env) Connect(cfg switchemu.Config) *switchemu.Switch {
	e.t.Helper()
	sub := e.Ctl.Bus().Subscribe(64, controller.SwitchUp)
	defer sub.Close()
	sw := switchemu.New(cfg)
	go func() { _ = sw.Dial(e.ctx, "tcp", e.OpenFlowAddr) }()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-sub.C:
			if ev.DPID == cfg.DPID {
				return sw
			}
		case <-timeout:
			e.t.Fatalf("switch %016x did not connect within 5s", cfg.DPID)
		}
	}
}

// WaitSwitch waits up to 5s until the switch is (or is no longer) connected.
func (e *Env) WaitSwitch(dpid uint64, connected bool) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if (e.Ctl.Switch(dpid) != nil) == connected {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("switch %016x connected=%v not reached within 5s", dpid, connected)
}

// Link is the connection of a switch connected through ConnectLink: a
// relay the test can stall (the controller stops hearing from the switch)
// or cut.
type Link struct {
	conn    net.Conn
	stalled atomic.Bool
}

// Stall drops everything the switch sends from now on; the controller's
// requests go unanswered until its keepalive gives up.
func (l *Link) Stall() { l.stalled.Store(true) }

// Close cuts the connection.
func (l *Link) Close() { l.conn.Close() }

// ConnectLink is Connect through a relay the test controls.
func (e *Env) ConnectLink(cfg switchemu.Config) (*switchemu.Switch, *Link) {
	e.t.Helper()
	sub := e.Ctl.Bus().Subscribe(64, controller.SwitchUp)
	defer sub.Close()
	conn, err := net.Dial("tcp", e.OpenFlowAddr)
	if err != nil {
		e.t.Fatal(err)
	}
	l := &Link{conn: conn}
	swEnd, relayEnd := net.Pipe()
	sw := switchemu.New(cfg)
	go func() { _ = sw.Serve(e.ctx, swEnd) }()
	go func() { _, _ = io.Copy(relayEnd, conn); relayEnd.Close() }()
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := relayEnd.Read(buf)
			if err != nil {
				conn.Close()
				return
			}
			if !l.stalled.Load() {
				if _, err := conn.Write(buf[:n]); err != nil {
					relayEnd.Close()
					return
				}
			}
		}
	}()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-sub.C:
			if ev.DPID == cfg.DPID {
				return sw, l
			}
		case <-timeout:
			e.t.Fatalf("switch %016x did not connect within 5s", cfg.DPID)
		}
	}
}
