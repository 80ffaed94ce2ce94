package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"
)

// Start brings up a lab for a test and registers its teardown. It skips the
// test when not root, unless the CI environment variable is set, in which
// case it fails. With an empty cfg.Prefix it picks a unique one
// ("st" + 4 random characters + "-") so parallel test packages never
// collide; a stale lab of the same prefix is torn down first. Cleanup runs
// even when the test fails, and then logs the tail of every host's
// ovs-vswitchd.log first.
func Start(t testing.TB, cfg Config) *Topology {
	t.Helper()
	RequireRoot(t)
	if cfg.Prefix == "" {
		cfg.Prefix = RandomPrefix("st")
	}
	norm, err := cfg.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	l := &Lab{cfg: norm}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := Down(ctx, norm, nil); err != nil {
		t.Fatalf("lab: removing a stale lab %s: %v", norm.Prefix, err)
	}
	// registered before Up: a half-built lab must go too
	t.Cleanup(func() {
		if t.Failed() {
			for i := 1; i <= norm.Hosts; i++ {
				t.Logf("lab %s: tail of h%d ovs-vswitchd.log:\n%s", norm.Prefix, i, l.VSwitchdLogTail(i, 40))
			}
		}
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer dcancel()
		if err := Down(dctx, norm, nil); err != nil {
			t.Errorf("lab: teardown: %v", err)
		}
	})
	var progress bytes.Buffer
	topo, err := Up(ctx, norm, &progress)
	if s := strings.TrimSpace(progress.String()); s != "" {
		t.Log(s)
	}
	if err != nil {
		t.Fatalf("lab: up: %v", err)
	}
	return topo
}

// RequireRoot skips the test when not running as root, or fails it when the
// CI environment variable is set (CI must not silently skip the lab tests).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		msg := "needs root for network namespaces and OVS: run as root or via make test in CI"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI is set, so this is a failure, not a skip)")
		}
		t.Skip(msg)
	}
}

// RandomPrefix returns stem + 4 random lowercase letters/digits + "-",
// a valid lab prefix when stem is 1..3 lowercase letters/digits starting with
// a letter.
func RandomPrefix(stem string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	for k := range b {
		b[k] = alphabet[int(b[k])%len(alphabet)]
	}
	return stem + string(b) + "-"
}
