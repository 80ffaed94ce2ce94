package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Start brings up a lab for a test and registers its teardown. It skips the
// test when not root, unless the CI environment variable is set, in which
// case it fails. With an empty cfg.Prefix it picks a unique one
// ("st" + 4 random characters + "-") so parallel test packages never
// collide; a stale lab of the same prefix is torn down first, and so is
// any lab left by an earlier test process that died before its cleanup
// (Start records the owning process in the state dir). Cleanup runs
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
	reapOrphanTestLabs(ctx, t)
	if err := Down(ctx, norm, nil); err != nil {
		t.Fatalf("lab: removing a stale lab %s: %v", norm.Prefix, err)
	}
	if err := claimTestLab(norm); err != nil {
		t.Fatal(err)
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

// ownerFile in a state dir names the test process that owns the lab:
// "<pid> <start time in clock ticks>". Only Start writes it.
const ownerFile = "test-owner"

// procStartTime is field 22 of /proc/<pid>/stat ("" if pid is gone), which
// tells a live owner from a recycled pid.
func procStartTime(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	k := bytes.LastIndexByte(b, ')')
	if k < 0 {
		return ""
	}
	f := strings.Fields(string(b[k+1:]))
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// claimTestLab creates the state dir with the marker and the owner file
// before Up, so that a crash even during Up leaves a lab that a later Start
// can identify as orphaned.
func claimTestLab(c Config) error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, markerFile), []byte("state directory of a satlab lab\n"), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := c.save(); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	pid := os.Getpid()
	return os.WriteFile(filepath.Join(c.Dir, ownerFile), []byte(fmt.Sprintf("%d %s\n", pid, procStartTime(pid))), 0o644)
}

// reapOrphanTestLabs tears down labs under /run whose owner file names a
// test process that no longer runs.
func reapOrphanTestLabs(ctx context.Context, t testing.TB) {
	t.Helper()
	dirs, _ := filepath.Glob("/run/*lab")
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, markerFile)); err != nil {
			continue
		}
		var pid int
		var start string
		if n, _ := fmt.Sscan(string(b), &pid, &start); n == 2 && procStartTime(pid) == start && !procGone(pid) {
			continue // owner alive (maybe a parallel test package)
		}
		c, err := Load(dir)
		if err != nil {
			continue
		}
		t.Logf("lab: removing orphaned test lab %s (owner process %d is gone)", c.Prefix, pid)
		if err := Down(ctx, c, nil); err != nil {
			t.Logf("lab: %v", err)
		}
	}
}
