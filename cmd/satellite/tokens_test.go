package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/satellite-sdn/satellite/internal/auth"
	"github.com/satellite-sdn/satellite/web/client"
)

// TestTokenCommands: before the first start, `satellite token create`
// works on the store next to the state file (and the server then makes
// no bootstrap token); while the server runs, the same commands go
// through its API with an admin token; audit-log shows who did what.
func TestTokenCommands(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.db")
	t.Setenv("SATELLITE_STATE_FILE", state)
	t.Setenv(client.EnvToken, "")
	t.Setenv(EnvServer, "")

	// offline: the local store
	admin := strings.TrimSpace(ok(t, "token", "create", "ops-admin", "--role", "admin"))
	if !strings.HasPrefix(admin, auth.TokenPrefix) {
		t.Fatalf("token create printed %q", admin)
	}
	fails(t, 1, "exists", "token", "create", "ops-admin", "--role", "viewer")
	fails(t, 1, `--role: role "root": want viewer, operator or admin`, "token", "create", "x", "--role", "root")
	wantLines(t, ok(t, "token", "list"), `(?m)^NAME +ROLE +CREATED +BY$`, `(?m)^ops-admin +admin +\S+ \S+ +cli`)
	if fi, err := os.Stat(filepath.Join(dir, "state-tokens.db")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token store: %v %v", fi, err)
	}

	// the local changes are in the audit log too, read from the file while no server runs
	wantLines(t, ok(t, "audit-log"),
		`(?m) cli\S* +admin +local +POST +/api/v1/tokens +201 +local +-$`,
		`(?m) cli\S* +admin +local +POST +/api/v1/tokens +409 +local +token "ops-admin": a token with this name exists`)

	cfg := filepath.Join(dir, "satellite.yaml")
	if err := os.WriteFile(cfg, []byte("http: 127.0.0.1:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startServe(t, cfg) // sets $SATELLITE_SERVER
	if strings.Contains(r.log.String(), "no API tokens yet") {
		t.Fatalf("a bootstrap token although one exists:\n%s", r.log.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "state-admin.token")); !os.IsNotExist(err) {
		t.Fatalf("bootstrap token file: %v", err)
	}
	t.Setenv(EnvServer, "") // the commands find the running server themselves: the store is held
	t.Setenv(client.EnvToken, "")
	fails(t, 1, "no token given", "token", "list", "--server", r.url)
	viewer := strings.TrimSpace(ok(t, "token", "create", "grafana", "--role", "viewer", "--server", r.url, "--token", admin))
	wantLines(t, ok(t, "switches", "--server", r.url, "--token", viewer), `no switches connected`)
	fails(t, 1, `token "grafana" has role viewer; POST /api/v1/tokens needs role admin`, "token", "create", "x", "--role", "admin", "--server", r.url, "--token", viewer)
	t.Setenv(client.EnvToken, admin)
	wantLines(t, ok(t, "token", "list", "--server", r.url), `(?m)^grafana +viewer +\S+ \S+ +ops-admin$`)
	wantLines(t, ok(t, "token", "revoke", "grafana", "--server", r.url), `token grafana revoked`)
	fails(t, 1, "the bearer token is not valid", "switches", "--server", r.url, "--token", viewer)
	// without --server: the store is held by the server, so the API (default address) is asked
	t.Setenv(EnvServer, r.url)
	if out := ok(t, "token", "list"); strings.Contains(out, "grafana") || !strings.Contains(out, "ops-admin") {
		t.Fatalf("token list through the API: %s", out)
	}
	wantLines(t, ok(t, "audit-log", "--server", r.url),
		`(?m)^TIME +USER +ROLE +VIA +METHOD +PATH +STATUS +REMOTE +ERROR$`,
		`(?m) ops-admin +admin +token +POST +/api/v1/tokens +201 +127\.0\.0\.1:\d+ +-$`,
		`(?m) grafana +viewer +token +POST +/api/v1/tokens +403 +127\.0\.0\.1:\d+ +token "grafana" has role viewer`,
		`(?m) ops-admin +admin +token +DELETE +/api/v1/tokens/grafana +200 `)
	fails(t, 1, "needs role admin", "audit-log", "--server", r.url, "--token", strings.TrimSpace(ok(t, "token", "create", "v2", "--role", "viewer", "--server", r.url)))
}
