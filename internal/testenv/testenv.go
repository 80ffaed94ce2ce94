// Package testenv holds what Satellite's tests share below the assembly
// point: the one test log buffer, and a controller on a loopback port
// with emulated switches (controller/switchemu) connected to it, directly
// or through a relay the test can stall or cut.
//
// It imports no subsystem above the controller, so the tests of the lower
// layers (collector, alerts, lldp ...) can use it without depending on the
// web API. "Satellite as serve runs it" is internal/apptest.
package testenv

import (
	"context"
	"github.com/satellite-sdn/satellite/internal/testlog"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/internal/core"
)

// LogBuffer is the one test log buffer (internal/testlog).
type LogBuffer = testlog.Buffer

// Logger logs at level into a new buffer, and to stderr as well when
// $SAT_TEST_LOG is set (to follow a test as it runs).
func Logger(level slog.Level) (*slog.Logger, *LogBuffer) { return testlog.New(level) }

// Controller is a controller serving a loopback port for a test.
type Controller struct {
	t            testing.TB
	Ctl          *controller.Controller
	OpenFlowAddr string
	Logs         *LogBuffer
	Log          *slog.Logger
	ctx          context.Context
}

// StartController runs a controller (cfg's logger replaced by one into
// Logs, at debug level) on a loopback port until the test ends; the logs
// are printed if the test failed.
func StartController(t testing.TB, cfg controller.Config) *Controller {
	t.Helper()
	log, logs := Logger(slog.LevelDebug)
	cfg.Logger = log
	ctl := controller.New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ctl.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	})
	return &Controller{t: t, Ctl: ctl, OpenFlowAddr: ln.Addr().String(), Logs: logs, Log: log, ctx: ctx}
}

// Context ends when the test does.
func (e *Controller) Context() context.Context { return e.ctx }

// Connect starts an emulated switch, connects it to the controller and
// waits until the controller has announced it (SwitchUp).
func (e *Controller) Connect(cfg switchemu.Config) *switchemu.Switch {
	e.t.Helper()
	sub := e.Ctl.Bus().Subscribe(64, controller.SwitchUp)
	defer sub.Close()
	sw := switchemu.New(cfg)
	go func() { _ = sw.Dial(e.ctx, "tcp", e.OpenFlowAddr) }()
	e.waitUp(sub, cfg.DPID)
	return sw
}

func (e *Controller) waitUp(sub *controller.Subscription, dpid uint64) {
	e.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-sub.C:
			if ev.DPID == dpid {
				return
			}
		case <-timeout:
			e.t.Fatalf("switch %s did not connect within 5s", controller.FormatDPID(dpid))
		}
	}
}

// WaitSwitch waits up to 5s until the switch is (or is no longer) connected.
func (e *Controller) WaitSwitch(dpid uint64, connected bool) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if (e.Ctl.Switch(dpid) != nil) == connected {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("switch %s connected=%v not reached within 5s", controller.FormatDPID(dpid), connected)
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
func (e *Controller) ConnectLink(cfg switchemu.Config) (*switchemu.Switch, *Link) {
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
	e.waitUp(sub, cfg.DPID)
	return sw, l
}

// CoreOptions shape a test Satellite (internal/core, as serve assembles
// it, without the web front).
type CoreOptions struct {
	// Dir holds the state file, the journal and the OpenFlow socket; ""
	// is a new temporary directory. A test that restarts Satellite passes
	// the same Dir again.
	Dir string
	// Configure adjusts the configuration (config.Default with the state
	// in Dir and OpenFlow on the unix socket Dir/of.sock).
	Configure func(*config.Config)
	// KeepRunning leaves the stop to the test (Stop): a Satellite started
	// in a subtest that serves the subtests after it. Without it, the end
	// of the test that started it stops it.
	KeepRunning bool
	core.Options
}

// Core is a running test Satellite.
type Core struct {
	*core.Core
	Dir  string
	Sock string     // the OpenFlow unix socket, for lab.Config.Controllers as "unix:"+Sock
	Logs *LogBuffer // nil when CoreOptions.Logger was given
	ctx  context.Context
	stop func() error
}

// Context ends when Satellite is stopped.
func (s *Core) Context() context.Context { return s.ctx }

// Config is the configuration of a test Satellite with its state in dir:
// config.Default with the state file dir/state.db, OpenFlow on the unix
// socket dir/of.sock (returned) and the API on 127.0.0.1:0.
func Config(dir string) (config.Config, string) {
	sock := filepath.Join(dir, "of.sock")
	cfg := config.Default()
	cfg.StateFile = filepath.Join(dir, "state.db")
	cfg.OpenFlow = config.Targets{"unix:" + sock}
	cfg.HTTP.Addr = "127.0.0.1:0"
	return cfg, sock
}

// Run runs a Satellite's Run in the background. Unless keep, the end of
// the test stops it, reports what Run returned and prints logs (when not
// nil) if the test failed. stop stops it and returns what Run returned;
// stopping again returns the same.
func Run(t testing.TB, run func(context.Context) error, keep bool, logs *LogBuffer) (ctx context.Context, stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() { cancel(); stopErr = <-done })
		return stopErr
	}
	if !keep {
		t.Cleanup(func() {
			if err := stop(); err != nil {
				t.Errorf("satellite: %v", err)
			}
			if t.Failed() && logs != nil {
				t.Logf("satellite log:\n%s", logs.String())
			}
		})
	}
	return ctx, stop
}

// StartCore builds and runs Satellite's core until Stop or the end of the
// test; its logs (debug) are printed if the test failed.
func StartCore(t testing.TB, o CoreOptions) *Core {
	t.Helper()
	dir := o.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	cfg, sock := Config(dir)
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	log, logs := Logger(slog.LevelDebug)
	if o.Logger == nil {
		o.Logger = log
	} else {
		logs = nil
	}
	c, err := core.New(cfg, o.Options)
	if err != nil {
		t.Fatalf("satellite: %v", err)
	}
	s := &Core{Core: c, Dir: dir, Sock: sock, Logs: logs}
	s.ctx, s.stop = Run(t, c.Run, o.KeepRunning, logs)
	return s
}

// Stop stops Satellite and waits until everything it ran has returned
// and its files are closed (a test may then start it again on Dir); it
// returns what Run returned. Stopping again returns the same.
func (s *Core) Stop() error { return s.stop() }
