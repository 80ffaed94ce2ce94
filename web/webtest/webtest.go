// Package webtest starts a real controller with emulated switches behind
// an httptest server running the API, for tests of the API, its client
// and the CLI.
package webtest

import (
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/internal/auth"
	"github.com/satellite-sdn/satellite/internal/testenv"
	"github.com/satellite-sdn/satellite/web"
)

// Env is a running controller (with its emulated switches: Connect,
// ConnectLink, WaitSwitch) with the API in front of it.
type Env struct {
	*testenv.Controller
	API  *web.Server
	HTTP *httptest.Server
	URL  string

	// set by StartSecure: a token per role, and where they are kept
	Tokens map[auth.Role]string
	Store  *auth.TokenStore
	Audit  *auth.AuditLog
}

// LogBuffer is the shared test log buffer.
type LogBuffer = testenv.LogBuffer

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

// Start runs a controller on a loopback port and the API on an httptest
// server, answering every request as an admin without credentials
// (web.WithoutAuth) unless opts hold web.WithSecurity; see StartSecure
// for a server that asks for tokens. Both stop when the test ends; the
// logs are printed if the test failed.
func Start(t testing.TB, opts ...web.Option) *Env {
	t.Helper()
	c := testenv.StartController(t, controller.Config{})
	api := web.New(c.Ctl, append([]web.Option{web.WithLogger(c.Log), web.WithoutAuth()}, opts...)...)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close) // before the controller stops (cleanups run last first)
	return &Env{Controller: c, API: api, HTTP: srv, URL: srv.URL}
}
