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

	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/journal"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

// satellite events reads the journal: filters by kind, switch and time,
// -o json with each event's kind.
func TestEventsFromJournal(t *testing.T) {
	m := fabricWith(topology.Options{KeepDownLinks: time.Hour})
	j, err := journal.Open(journal.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := journal.NewFeeder(j, journal.Sources{Model: m}, nil)
	go f.Run(ctx)
	env := webtest.Start(t, web.WithTopology(m), web.WithJournal(j))
	t.Setenv(EnvServer, env.URL)

	// the feeder's first checkpoint holds the fabric with its links up
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = j.Sync()
		if _, err := j.TopologyAt(time.Now()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint")
		}
		time.Sleep(10 * time.Millisecond)
	}
	beforeCut := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(10 * time.Millisecond)
	m.PortUpdate(topology.Port{DPID: 2, Number: 101, Name: "lnk-h1", Up: false})
	m.HostSeen("02:00:00:00:00:01", "", topology.Endpoint{DPID: 2, Port: 1})
	for !strings.Contains(ok(t, "events"), "host-move") {
		if time.Now().After(deadline) {
			t.Fatalf("events:\n%s", ok(t, "events"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := ok(t, "events", "--since", "5m", "--kind", "link-down")
	wantLines(t, out, `(?m)^TIME +SEVERITY +KIND +AT +MESSAGE$`,
		`(?m)^\S+ +critical +link-down +0000000000000001/102 +direct link 0000000000000001/102>0000000000000002/101 is down`,
		`(?m)^\S+ +critical +link-down +0000000000000002/101 +direct link 0000000000000002/101>0000000000000001/102 is down`)
	if n := strings.Count(out, "\n"); n != 3 {
		t.Fatalf("--kind link-down: %d lines\n%s", n, out)
	}
	out = ok(t, "events", "--switch", "2", "--kind", "port-down,host-move")
	wantLines(t, out, `(?m)^\S+ +critical +port-down +0000000000000002/101 +port lnk-h1`, `(?m)^\S+ +info +host-move +0000000000000002/1 +host 02:00:00:00:00:01 moved`)
	if regexp.MustCompile(`(?m)^\S+ +\S+ +\S+ +0000000000000001`).MatchString(out) {
		t.Fatalf("--switch 2:\n%s", out)
	}
	var evs []map[string]any
	if err := json.Unmarshal([]byte(ok(t, "events", "-o", "json", "--limit", "2")), &evs); err != nil || len(evs) != 2 || evs[1]["kind"] != "host-move" {
		t.Fatalf("-o json --limit 2: %v %+v", err, evs)
	}
	wantLines(t, ok(t, "events", "--since", "2030-01-01T00:00:00Z"), `^no events\n$`)

	// time travel: the fabric before the cut, the diff from then to now
	wantLines(t, ok(t, "topology", "show", "--at", beforeCut), `(?m)^topology at \S+: 2 switches, 6 ports, 3 links, 2 hosts$`,
		`(?m)^0000000000000002/101 \(lnk-h1\) +0000000000000001/102 \(lnk-h2\) +direct +up `)
	wantLines(t, ok(t, "topology", "show"), `(?m)^0000000000000002/101 \(lnk-h1\) +0000000000000001/102 \(lnk-h2\) +direct +down `)
	out = ok(t, "topology", "diff", "--from", beforeCut)
	wantLines(t, out, `(?m)^~ link 0000000000000001/102 -> 0000000000000002/101: state up -> down$`, `(?m)^~ link 0000000000000002/101 -> 0000000000000001/102: state up -> down$`)
	var snap topology.Snapshot
	if err := json.Unmarshal([]byte(ok(t, "topology", "export", "--at", beforeCut)), &snap); err != nil || len(snap.Links) != 3 || snap.Links[0].State != "up" {
		t.Fatalf("export --at: %v %+v", err, snap.Links)
	}
	fails(t, 1, `satellite: at=2020-01-01T00:00:00Z: the journal has no checkpoint at or before that time`, "topology", "show", "--at", "2020-01-01T00:00:00Z")
	fails(t, 1, "give A [B] or --from T1 [--to T2], not both", "topology", "diff", "s1", "--from", "1h")
	fails(t, 1, `satellite: since="soon": want an RFC 3339 time`, "events", "--since", "soon")
	fails(t, 1, `satellite: switch "h9": not a datapath id`, "events", "--switch", "h9")
}

// `satellite serve` journals next to the state file: a switch that
// connects and goes away is in the journal, with the reason, and still
// there after a restart.
func TestServeJournal(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "lib", "state.db")
	t.Setenv(config.EnvStateFile, state)
	cfgFile := filepath.Join(dir, "satellite.yaml")
	if err := os.WriteFile(cfgFile, []byte("journal: {max_size: 8MiB, max_age: 24h}\ndiscovery: {forget_down_after: 10m}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, cfgFile)
	wantLines(t, s.log.String(), `msg=journal dir=`+filepath.Join(dir, "lib", "state-journal")+` records=0 `)
	swCtx, swCancel := context.WithCancel(context.Background())
	defer swCancel()
	go switchemu.New(switchemu.Config{DPID: 0x42, Ports: 2}).Dial(swCtx, "tcp", s.ofAddr)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(ok(t, "events", "--kind", "switch-connect"), "0000000000000042") {
		if time.Now().After(deadline) {
			t.Fatalf("no switch-connect:\n%s", s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	swCancel()
	for !strings.Contains(ok(t, "events", "--kind", "switch-disconnect"), "0000000000000042") {
		if time.Now().After(deadline) {
			t.Fatalf("no switch-disconnect:\n%s", ok(t, "events"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := ok(t, "events", "--switch", "42")
	s.stop()

	s = startServe(t, cfgFile)
	wantLines(t, s.log.String(), `msg=journal dir=\S+ records=[1-9]\d* truncated_bytes=0`)
	after := ok(t, "events", "--switch", "42")
	if after != before {
		t.Fatalf("after a restart:\n%s\nbefore:\n%s", after, before)
	}
	wantLines(t, after, `(?m)^\S+ +ok +switch-connect +0000000000000042 +switch 0000000000000042 connected from 127\.0\.0\.1`,
		`(?m)^\S+ +info +port-add +0000000000000042/1 `,
		`(?m)^\S+ +critical +switch-disconnect +0000000000000042 +switch 0000000000000042 disconnected: \S`)
}
