package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/lab"
)

// startServeOn runs `satellite serve` with an OpenFlow target (the lab's
// switches reach a unix socket, not the test's loopback) until the test
// ends or stop is called.
func startServeOn(t *testing.T, cfgFile, target string) *serveRun {
	t.Helper()
	stderr := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfgFile, "--http", "127.0.0.1:0", "--openflow", target}, &syncBuffer{}, stderr)
	}()
	httpRE := regexp.MustCompile(`msg="http listening" addr=\S+ url=(https?://\S+)`)
	r := &serveRun{log: stderr}
	deadline := time.Now().Add(10 * time.Second)
	for r.url == "" {
		select {
		case code := <-done:
			t.Fatalf("serve exit %d:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start:\n%s", stderr.String())
		}
		if m := httpRE.FindStringSubmatch(stderr.String()); m != nil {
			r.url = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exit %d:\n%s", code, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Errorf("serve did not stop:\n%s", stderr.String())
		}
	}
	t.Cleanup(r.stop)
	t.Setenv(EnvServer, r.url)
	useAdminToken(t)
	return r
}

// TestJournalOnOVS is the proof on a real Open vSwitch lab: a cut link
// shows as down in `satellite links` (GET /api/v1/links), `satellite
// events --since 5m` lists the link-down, the restored link comes back
// up, and after a restart of Satellite the journal still has it all.
func TestJournalOnOVS(t *testing.T) {
	lab.RequireRoot(t)
	dir := t.TempDir()
	t.Setenv(config.EnvStateFile, filepath.Join(dir, "lib", "state.db"))
	cfgFile := filepath.Join(dir, "satellite.yaml")
	if err := os.WriteFile(cfgFile, []byte("discovery: {interval: 250ms, forget_down_after: 10m}\nprobes: {enabled: false}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "of.sock")
	s := startServeOn(t, cfgFile, "unix:"+sock)
	topo := lab.Start(t, lab.Config{Hosts: 2, VMs: -1, Controllers: []string{"unix:" + sock}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	direct := func(state string) int {
		var links []api.Link
		if err := json.Unmarshal([]byte(ok(t, "links", "--kind", "direct", "-o", "json")), &links); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range links {
			if l.State == state && (state == "up" || l.DownSince != nil) {
				n++
			}
		}
		return n
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: links\n%s\nevents\n%s", what, ok(t, "links"), ok(t, "events"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("the direct link up both ways", func() bool { return direct("up") == 2 })

	cut := time.Now()
	if err := topo.CutLink(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	waitFor("the cut link kept as down both ways", func() bool { return direct("down") == 2 })
	wantLines(t, ok(t, "links", "--kind", "direct"), `(?m)^\S+ \(\S+\) +\S+ \(\S+\) +direct +down `)
	downRE := `(?m)^\S+ +critical +link-down +\S+ +direct link \S+>\S+ is down`
	wantLines(t, ok(t, "events", "--since", "5m", "--kind", "link-down"), downRE)
	out := ok(t, "events", "--since", "5m", "--kind", "link-down")
	if n := strings.Count(out, "\n") - 1; n != 2 {
		t.Fatalf("want one link-down per direction:\n%s", out)
	}
	t.Logf("link down in the model %s after the cut", time.Since(cut).Round(time.Millisecond))

	if err := topo.RestoreLink(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	waitFor("the restored link up both ways", func() bool { return direct("up") == 2 })
	wantLines(t, ok(t, "events", "--since", "5m", "--kind", "link-up,link-down"), downRE,
		`(?m)^\S+ +ok +link-up +\S+ +direct link \S+>\S+ is up`)
	before := ok(t, "events", "--since", "5m", "--kind", "link-up,link-down")
	s.stop()

	// a restart: the journal still has the cut and the restore
	s = startServeOn(t, cfgFile, "unix:"+sock)
	wantLines(t, s.log.String(), `msg=journal dir=\S+ records=[1-9]\d* truncated_bytes=0`)
	after := ok(t, "events", "--since", "5m", "--kind", "link-up,link-down")
	if !strings.HasPrefix(after, strings.TrimRight(before, "\n")) {
		t.Fatalf("after a restart:\n%s\nbefore:\n%s", after, before)
	}
	if !regexp.MustCompile(downRE).MatchString(after) {
		t.Fatalf("no link-down after a restart:\n%s", after)
	}
}
