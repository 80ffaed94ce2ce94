package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/internal/testlog"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

// syncBuffer is the shared test log buffer.
type syncBuffer = testlog.Buffer

// sat runs the CLI and returns its exit status, stdout and stderr.
func sat(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut syncBuffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// ok runs the CLI, expects success and returns stdout.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := sat(t, args...)
	if code != 0 {
		t.Fatalf("satellite %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// fails runs the CLI, expects the exit code and a stderr containing msg.
func fails(t *testing.T, code int, msg string, args ...string) {
	t.Helper()
	c, out, errOut := sat(t, args...)
	if c != code || !strings.Contains(errOut, msg) {
		t.Fatalf("satellite %s: exit %d, stderr %q (stdout %q); want exit %d and %q", strings.Join(args, " "), c, errOut, out, code, msg)
	}
}

func wantLines(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(out) {
			t.Errorf("output does not match %q:\n%s", p, out)
		}
	}
}

func TestVersionAndUsage(t *testing.T) {
	out := ok(t, "version")
	if out != "satellite dev ("+runtime.Version()+", "+runtime.GOOS+"/"+runtime.GOARCH+")\n" {
		t.Fatalf("version %q", out)
	}
	if out := ok(t, "help"); !strings.Contains(out, "Usage: satellite COMMAND") || !strings.Contains(out, "flow add DPID") {
		t.Fatalf("help %q", out)
	}
	fails(t, 2, "Usage: satellite COMMAND")
	fails(t, 2, `unknown command "frobnicate"`, "frobnicate")
	fails(t, 2, "want 1 argument(s) (DPID), got 0", "flows")
	fails(t, 2, "want 1 argument(s) (DPID), got 2", "switch", "1", "2")
	fails(t, 2, "Usage: satellite flow add", "flow")
	fails(t, 2, "Usage: satellite flow add", "flow", "edit")
	fails(t, 2, `invalid value "300" for flag -table`, "flows", "1", "--table", "300")
	fails(t, 2, `-o "yaml": want table or json`, "switches", "-o", "yaml")
	fails(t, 2, "flag provided but not defined: -bogus", "switches", "--bogus")
	fails(t, 2, `unexpected argument "x"`, "serve", "x")
	if code, _, errOut := sat(t, "flows", "-h"); code != 0 || !strings.Contains(errOut, "Usage: satellite flows DPID [flags]") {
		t.Fatalf("flows -h: %d %q", code, errOut)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	fails(t, 1, "is `satellite serve` running at http://"+addr+"?", "switches", "--server", "http://"+addr)
	t.Setenv(EnvServer, "http://"+addr)
	fails(t, 1, "satellite: cannot reach http://"+addr+": ", "health")
	fails(t, 2, "want http://HOST:PORT", "health", "--server", "ftp://x")
}

func TestClientCommands(t *testing.T) {
	env := webtest.Start(t, web.WithVersion("test"))
	t.Setenv(EnvServer, env.URL)
	sw := env.Connect(switchemu.Config{DPID: 0x1f, Ports: 2})
	env.Connect(switchemu.Config{DPID: 2, Ports: 1})
	sw.Count(1, 5, 500, 6, 600)

	wantLines(t, ok(t, "health"), `^ok: 2 switch\(es\) connected, up \d+s, version test, at `+regexp.QuoteMeta(env.URL)+`\n$`)

	out := ok(t, "switches")
	wantLines(t, out, `(?m)^DPID +NAME +REMOTE +CONNECTED +PORTS +MANUFACTURER +SOFTWARE +DATAPATH$`,
		`(?m)^0000000000000002 +br0 +127\.0\.0\.1:\d+ +\d+s ago +2 +Satellite +switchemu 1\.0 +emulated switch 0000000000000002$`,
		`(?s)0000000000000002.*000000000000001f`)
	var list []api.Switch
	if err := json.Unmarshal([]byte(ok(t, "switches", "-o", "json")), &list); err != nil || len(list) != 2 {
		t.Fatalf("switches -o json: %v %+v", err, list)
	}

	out = ok(t, "switch", "00:00:00:00:00:00:00:1f")
	wantLines(t, out, `(?m)^dpid: +000000000000001f$`, `(?m)^software: +switchemu 1\.0$`, `(?m)^tables: +254$`,
		`(?m)^PORT +NAME +STATE +HW_ADDR +SPEED +MAX_SPEED$`, `(?m)^1 +p1 +up +0e:00:00:1f:00:01 +10G +10G$`, `(?m)^LOCAL +br0 +up `)
	fails(t, 1, "satellite: switch 00000000000000ff is not connected", "switch", "ff")
	fails(t, 1, "satellite: datapath id \"xyz\": want 1-16 hex digits", "switch", "xyz")

	out = ok(t, "ports", "1f")
	wantLines(t, out, `(?m)^PORT +NAME +STATE +RX_PACKETS +RX_BYTES +RX_DROPPED +RX_ERRORS +TX_PACKETS +TX_BYTES +TX_DROPPED +TX_ERRORS$`,
		`(?m)^1 +p1 +up +5 +500 +0 +0 +6 +600 +0 +0$`, `(?m)^LOCAL +br0 +up `)
	wantLines(t, ok(t, "ports", "1f", "--port", "2"), `(?m)^2 +p2 +up `)
	fails(t, 1, "satellite: port \"x\": want a port number", "ports", "1f", "--port", "x")

	// flows: add, list, filter, delete
	wantLines(t, ok(t, "flows", "1f"), `^no flows on 000000000000001f match\n$`)
	wantLines(t, ok(t, "flow", "add", "1f", "table=0,priority=100,in_port=1,actions=output:2", "--id", "7"),
		`^added flow api:7 to 000000000000001f: table=0,priority=100,in_port=1,actions=output:2\n$`)
	wantLines(t, ok(t, "flow", "add", "--id", "9", "1f", "table=1,priority=5,actions=drop"),
		`^added flow api:9 to 000000000000001f: table=1,priority=5,actions=drop\n$`)
	var added api.Flow
	if err := json.Unmarshal([]byte(ok(t, "flow", "add", "1f", "priority=1,dl_type=0x0806,actions=normal", "-o", "json")), &added); err != nil || added.Owner.ID != 10 || len(added.Warnings) != 0 {
		t.Fatalf("flow add -o json: %v %+v", err, added)
	}
	// output to a port the switch does not have: installed, with a warning
	wantLines(t, ok(t, "flow", "add", "1f", "table=2,priority=10,actions=output:999", "--id", "11"),
		`(?m)^added flow api:11 to 000000000000001f: table=2,priority=10,actions=output:999$`,
		`(?m)^warning: output to port 999, which 000000000000001f does not have \(yet\)`)
	ok(t, "flow", "del", "1f", "--id", "11")
	fails(t, 1, `satellite: unknown action "teleport"`, "flow", "add", "1f", "actions=teleport")
	fails(t, 2, "want 2 argument(s)", "flow", "add", "1f")
	if err := env.Ctl.Switch(0x1f).AddFlows(context.Background(), controller.Flow{Table: 0, Priority: 0,
		Cookie: controller.NewCookie(controller.OwnerNetwork, 5, 3)}); err != nil {
		t.Fatal(err)
	}

	out = ok(t, "flows", "1f")
	wantLines(t, out, `(?m)^TABLE +PRIORITY +OWNER +PACKETS +BYTES +AGE +TIMEOUTS +MATCH +ACTIONS$`,
		`(?m)^0 +100 +api:7 +0 +0 +\d+s +- +in_port=1 +output:2$`,
		`(?m)^0 +1 +api:10 +0 +0 +\d+s +- +dl_type=0x806 +output:NORMAL$`,
		`(?m)^0 +0 +network:3@net:5 +0 +0 +\d+s +- +\* +drop$`,
		`(?m)^1 +5 +api:9 `)
	out = ok(t, "flows", "1f", "--owner", "api", "--table", "0")
	if strings.Count(out, "api:") != 2 || strings.Contains(out, "network:") {
		t.Fatalf("filtered flows:\n%s", out)
	}
	var flows []api.Flow
	if err := json.Unmarshal([]byte(ok(t, "flows", "1f", "--owner", "network", "--network", "5", "-o", "json")), &flows); err != nil || len(flows) != 1 {
		t.Fatalf("flows -o json: %v %+v", err, flows)
	}
	fails(t, 1, "satellite: id needs owner=KIND", "flows", "1f", "--id", "7")
	fails(t, 1, `satellite: unknown owner kind "nobody"`, "flows", "1f", "--owner", "nobody")

	wantLines(t, ok(t, "flow", "del", "1f", "--id", "7"), `^deleted api flows with id 7 from 000000000000001f \(1 matched just before the delete\)\n$`)
	wantLines(t, ok(t, "flow", "delete", "1f"), `^deleted api flows from 000000000000001f \(2 matched just before the delete\)\n$`)
	if fl := sw.Flows(); len(fl) != 1 || controller.Cookie(fl[0].Cookie).Kind() != controller.OwnerNetwork {
		t.Fatalf("after deleting API flows: %+v", fl)
	}
	// flows the reconciler keeps converged need --force, and the answer says what happens next
	fails(t, 1, "satellite: refusing to delete network flows without --force: Satellite keeps them converged, so the virtual networks' reconciler puts them back",
		"flow", "del", "1f", "--owner", "network", "--network", "5", "--table", "0")
	if fl := sw.Flows(); len(fl) != 1 {
		t.Fatalf("a refused delete deleted: %+v", fl)
	}
	wantLines(t, ok(t, "flow", "del", "1f", "--owner", "network", "--network", "5", "--table", "0", "--force"),
		`^deleted network flows of network 5 in table 0 from 000000000000001f \(1 matched just before the delete\)\nnote: the virtual networks' reconciler puts them back at its next pass`)
	if fl := sw.Flows(); len(fl) != 0 {
		t.Fatalf("flows left: %+v", fl)
	}

	// groups and tables
	wantLines(t, ok(t, "groups", "1f"), `^no groups on 000000000000001f\n$`)
	out1 := ofp.Actions{&ofp.ActionOutput{Port: 1}}
	if err := env.Ctl.Switch(0x1f).AddGroup(context.Background(), controller.Group{ID: 4, Type: controller.GroupFastFailover,
		Buckets: []ofwire.Bucket{{WatchPort: 1, Actions: out1}, {WatchPort: 2, Actions: ofp.Actions{&ofp.ActionOutput{Port: 2}}}}}); err != nil {
		t.Fatal(err)
	}
	out = ok(t, "groups", "1f")
	wantLines(t, out, `(?m)^GROUP +TYPE +REFS +PACKETS +BYTES +BUCKET +WEIGHT +WATCH +BUCKET_PACKETS +ACTIONS$`,
		`(?m)^4 +ff +0 +0 +0 +0 +0 +port 1 +0 +output:1$`, `(?m)^ +1 +0 +port 2 +0 +output:2$`)
	wantLines(t, ok(t, "tables", "1f"), `^no table of 000000000000001f has flows or lookups`)
	ok(t, "flow", "add", "1f", "table=3,actions=drop")
	wantLines(t, ok(t, "tables", "1f"), `^TABLE +ACTIVE +LOOKUPS +MATCHED\n3 +1 +0 +0\n$`)
	if out := ok(t, "tables", "1f", "--all"); strings.Count(out, "\n") != 255 {
		t.Fatalf("tables --all: %d lines", strings.Count(out, "\n"))
	}
	fails(t, 1, "satellite: switch 0000000000000003 is not connected", "tables", "3")
}

func TestServe(t *testing.T) {
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	sock := dir + "/of.sock"
	t.Setenv("SATELLITE_STATE_FILE", dir+"/state.db")
	t.Setenv("SATELLITE_TOKEN", "")
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--http", "127.0.0.1:0", "--openflow", "tcp:127.0.0.1:0", "--openflow", "unix:" + sock}, &stdout, &stderr)
	}()
	httpRE := regexp.MustCompile(`msg="http listening" addr=\S+ url=(http://\S+)`)
	ofRE := regexp.MustCompile(`msg="openflow listening" target=tcp:127.0.0.1:0 addr=(\S+)`)
	var url, ofAddr string
	deadline := time.Now().Add(5 * time.Second)
	for url == "" || ofAddr == "" {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not report its addresses:\n%s", stderr.String())
		}
		if m := httpRE.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
		}
		if m := ofRE.FindStringSubmatch(stderr.String()); m != nil {
			ofAddr = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}

	// the first start made an admin token, in a 0600 file whose path (not
	// the token) it logged; without it the API answers nothing
	tokenFile := dir + "/state-admin.token"
	if !strings.Contains(stderr.String(), "file="+tokenFile) {
		t.Fatalf("serve did not log the token file %s:\n%s", tokenFile, stderr.String())
	}
	if fi, err := os.Stat(tokenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	tok, err := os.ReadFile(tokenFile)
	if err != nil || strings.Contains(stderr.String(), strings.TrimSpace(string(tok))) {
		t.Fatalf("the log shows the token (or it is unreadable: %v)", err)
	}
	fails(t, 1, "needs a token with role viewer", "switches", "--server", url)
	t.Setenv("SATELLITE_TOKEN", strings.TrimSpace(string(tok)))

	swCtx, swCancel := context.WithCancel(context.Background())
	defer swCancel()
	go switchemu.New(switchemu.Config{DPID: 0x77, Ports: 1}).Dial(swCtx, "tcp", ofAddr)
	go switchemu.New(switchemu.Config{DPID: 0x78, Ports: 1}).Dial(swCtx, "unix", sock)
	for {
		_, out, _ := sat(t, "switches", "--server", url)
		if strings.Contains(out, "0000000000000077") && strings.Contains(out, "0000000000000078") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("switches did not show up: %s\n%s", out, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	ok(t, "flow", "add", "77", "actions=drop", "--server", url)

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("serve did not stop:\n%s", stderr.String())
	}
	logs := stderr.String()
	for _, want := range []string{`msg="satellite starting" version=dev`, `msg="switch connected"`, `msg="shutting down"`,
		`msg="switch disconnected"`, `msg=stopped`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	// quiet by default: no per-request lines at info level
	if strings.Contains(logs, "http request") || strings.Contains(logs, "level=DEBUG") {
		t.Errorf("info-level log shows debug lines:\n%s", logs)
	}
	if stdout.String() != "" {
		t.Errorf("serve wrote to stdout: %q", stdout.String())
	}
}

func TestServeFailsToStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fails(t, 1, "address already in use", "serve", "--http", ln.Addr().String(), "--openflow", "tcp:127.0.0.1:0")
	fails(t, 1, "address already in use", "serve", "--http", "127.0.0.1:0", "--openflow", "tcp:"+ln.Addr().String())
	fails(t, 1, `satellite: config: log_format: "xml" is not a log format`, "serve", "--log-format", "xml")
	fails(t, 1, "config file", "serve", "--config", t.TempDir()+"/missing.yaml")
	// plain HTTP on every address: refused, saying how to set up TLS
	fails(t, 1, "is not a loopback address and HTTPS is off", "serve", "--http", ":0", "--openflow", "tcp:127.0.0.1:0")
	fails(t, 1, "openflow_tls: an ssl: target needs openflow_tls {cert, key, ca}", "serve", "--http", "127.0.0.1:0", "--openflow", "ssl:127.0.0.1:0")
	t.Setenv("SATELLITE_HTTP", "nope")
	fails(t, 1, `http: "nope": want HOST:PORT or :PORT (such as :8080 or 127.0.0.1:8080) (set in SATELLITE_HTTP)`, "serve")
}

func TestFormatting(t *testing.T) {
	for kbps, want := range map[uint32]string{0: "-", 10_000_000: "10G", 100_000: "100M", 1500: "1500k"} {
		if got := speed(kbps); got != want {
			t.Errorf("speed(%d) = %q, want %q", kbps, got, want)
		}
	}
	for d, want := range map[time.Duration]string{-time.Second: "0s", 45 * time.Second: "45s", 192 * time.Second: "3m12s",
		5*time.Hour + 3*time.Minute: "5h3m", 52 * time.Hour: "2d4h"} {
		if got := age(d); got != want {
			t.Errorf("age(%s) = %q, want %q", d, got, want)
		}
	}
}

// The CLI guides: client flags before the command, a suggestion for a
// typo, every command in the usage.
func TestCLIGuides(t *testing.T) {
	var out, errb strings.Builder
	if code := run(context.Background(), []string{"swtiches"}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), `unknown command "swtiches"; did you mean "switches"?`) || strings.Contains(errb.String(), "Usage:") {
		t.Fatalf("typo: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	// --server before the command reaches the command (the server is not there)
	if code := run(context.Background(), []string{"--server", "http://127.0.0.1:1", "switches"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "cannot reach http://127.0.0.1:1") || !strings.Contains(errb.String(), "--server URL or $SATELLITE_SERVER") {
		t.Fatalf("--server first: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"--server=http://127.0.0.1:1", "-o", "json", "switches"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "cannot reach http://127.0.0.1:1") {
		t.Fatalf("--server= and -o first: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"--server", "x", "serve"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "not of \"serve\"") {
		t.Fatalf("client flag before serve: exit %d, %q", code, errb.String())
	}
	// every command is in the usage
	for name := range clientCommands {
		word := strings.Fields(name)[0]
		re := regexp.MustCompile(`(?m)^  (\S+\|)*` + regexp.QuoteMeta(word) + `(\||\s|$)`)
		vnetKind := regexp.MustCompile(`KIND is (\w+, )*` + regexp.QuoteMeta(word) + `\b`)
		if !re.MatchString(usage) && !vnetKind.MatchString(usage) {
			t.Errorf("command %q is not in the usage", word)
		}
	}
}
