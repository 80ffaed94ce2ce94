// Package apptest runs the whole of Satellite (internal/app: the core and
// the API with its credentials) for a test, as `satellite serve` runs it:
// configuration defaults, the state in a temporary directory, OpenFlow on
// a unix socket there, the API on a loopback port. The tests of the
// lower layers use internal/testenv instead, which does not depend on the
// web packages.
package apptest

import (
	"context"
	"github.com/satellite-sdn/satellite/internal/testenv"
	"log/slog"
	"testing"

	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/internal/app"
	"github.com/satellite-sdn/satellite/internal/auth"
	"github.com/satellite-sdn/satellite/internal/testlog"
)

// Options shape a test Satellite.
type Options struct {
	// Dir holds the state file, the journal, the tokens and the OpenFlow
	// socket; "" is a new temporary directory.
	Dir string
	// Configure adjusts the configuration (config.Default with the state
	// in Dir, OpenFlow on Dir/of.sock and the API on 127.0.0.1:0).
	Configure func(*config.Config)
	// Role is the role of the token in Satellite.Token (default operator).
	Role auth.Role
	app.Options
}

// Satellite is a running test Satellite.
type Satellite struct {
	*app.App
	Dir   string
	Sock  string // the OpenFlow unix socket ("unix:"+Sock for the lab)
	URL   string // the API
	Token string // a bearer token of Options.Role
	Logs  *testlog.Buffer
	ctx   context.Context
	stop  func() error
}

// Start builds and runs Satellite until the end of the test (or Stop);
// its logs (info) are printed if the test failed.
func Start(t testing.TB, o Options) *Satellite {
	t.Helper()
	dir := o.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	cfg, sock := testenv.Config(dir)
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	log, logs := testlog.New(slog.LevelInfo)
	if o.Logger == nil {
		o.Logger = log
	} else {
		logs = nil
	}
	if o.Version == "" {
		o.Version = "test"
	}
	a, err := app.New(cfg, o.Options)
	if err != nil {
		t.Fatalf("satellite: %v", err)
	}
	role := o.Role
	if role == 0 {
		role = auth.RoleOperator
	}
	token, _, err := a.Tokens.Create("test-"+role.String(), role, "apptest", false)
	if err != nil {
		_ = a.Close()
		t.Fatal(err)
	}
	s := &Satellite{App: a, Dir: dir, Sock: sock, URL: a.URL(), Token: token, Logs: logs}
	s.ctx, s.stop = testenv.Run(t, a.Run, false, logs)
	return s
}

// Context ends when Satellite is stopped.
func (s *Satellite) Context() context.Context { return s.ctx }

// Stop stops Satellite and waits until it has; it returns what Run
// returned.
func (s *Satellite) Stop() error { return s.stop() }
