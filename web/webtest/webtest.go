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
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/auth"
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

	// Tokens are the secrets of a viewer, an operator and an admin token,
	// by role (StartSecure only).
	Tokens map[auth.Role]string
	// Store and Audit are the token store and the audit log (StartSecure only).
	Store *auth.TokenStore
	Audit *auth.AuditLog

	ctx context.Context
}

// StartSecure is Start with authentication: a token store and an audit
// log in a temporary directory, and one token per role (Env.Tokens, named
// viewer, operator and admin). sec's Tokens and Audit are set; its other
// settings are kept.
func StartSecure(t testing.TB, sec web.Security, opts ...web.Option) *Env {
	t.Helper()
	dir := t.TempDir()
	store, err := auth.OpenTokenStore(filepath.Join(dir, "tokens.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := auth.OpenAuditLog(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close(); audit.Close() })
	tokens := map[auth.Role]string{}
	for _, r := range []auth.Role{auth.RoleViewer, auth.RoleOperator, auth.RoleAdmin} {
		secret, _, err := store.Create(r.String(), r, "webtest", false)
		if err != nil {
			t.Fatal(err)
		}
		tokens[r] = secret
	}
	sec.Tokens, sec.Audit = store, audit
	e := Start(t, append([]web.Option{web.WithSecurity(sec)}, opts...)...)
	e.Tokens, e.Store, e.Audit = tokens, store, audit
	return e
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

// Start runs a controller on a loopback port and the API, answering
// every request as an admin without credentials (web.WithoutAuth) unless
// opts hold web.WithSecurity; see StartSecure for a server that asks for
// tokens.
//
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
	// Without credentials unless opts carry web.WithSecurity (StartSecure).
	api := web.New(ctl, append([]web.Option{web.WithLogger(log), web.WithoutAuth()}, opts...)...)
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
