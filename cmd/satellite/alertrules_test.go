package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/web/client"
)

// serveRun is one `satellite serve` started by a test.
type serveRun struct {
	url, ofAddr string
	log         *syncBuffer
	stop        func()
}

// startServe runs `satellite serve` with the config file on free ports
// until stop, and waits until it listens.
func startServe(t *testing.T, cfgFile string) *serveRun {
	t.Helper()
	stderr := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", cfgFile, "--http", "127.0.0.1:0", "--openflow", "tcp:127.0.0.1:0"}, &syncBuffer{}, stderr)
	}()
	httpRE := regexp.MustCompile(`msg="http listening" addr=\S+ url=(https?://\S+)`)
	ofRE := regexp.MustCompile(`msg="openflow listening" target=tcp:127.0.0.1:0 addr=(\S+)`)
	r := &serveRun{log: stderr}
	deadline := time.Now().Add(10 * time.Second)
	for r.url == "" || r.ofAddr == "" {
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
		if m := ofRE.FindStringSubmatch(stderr.String()); m != nil {
			r.ofAddr = m[1]
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
	cfg := config.Default()
	cfg.StateFile = os.Getenv(config.EnvStateFile)
	if _, err := os.Stat(cfg.BootstrapTokenFile()); err == nil {
		useAdminToken(t)
	}
	return r
}

// useAdminToken points the CLI ($SATELLITE_TOKEN) at the admin token the
// first `satellite serve` wrote next to the state file
// ($SATELLITE_STATE_FILE), and returns it.
func useAdminToken(t *testing.T) string {
	t.Helper()
	cfg := config.Default()
	cfg.StateFile = os.Getenv(config.EnvStateFile)
	b, err := os.ReadFile(cfg.BootstrapTokenFile())
	if err != nil {
		t.Fatalf("the admin token of the first start: %v", err)
	}
	tok := strings.TrimSpace(string(b))
	t.Setenv(client.EnvToken, tok)
	return tok
}

// TestServeKeepsAPIRules: rules created through the CLI (the API) are
// kept next to the state file and come back, active, when `satellite
// serve` restarts with the same state file; deleting one survives a
// restart too. The config file's rules are read-only through the API. A
// stored rule that no longer validates does not stop the start: it is
// logged, listed as skipped and can be deleted.
func TestServeKeepsAPIRules(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "lib", "state.db")
	rulesFile := filepath.Join(dir, "lib", "state-alerts.db")
	t.Setenv(config.EnvStateFile, state)
	cfgFile := filepath.Join(dir, "satellite.yaml")
	if err := os.WriteFile(cfgFile, []byte(`
collector: {interval: 200ms}
alerts:
  interval: 100ms
  rules:
    - {name: from-file, metric: link_down, severity: info}
`), 0o644); err != nil {
		t.Fatal(err)
	}

	// 1: create two rules through the CLI
	s := startServe(t, cfgFile)
	wantLines(t, s.log.String(), `msg="alert rules" store=`+regexp.QuoteMeta(rulesFile)+` config=1 stored=0 skipped=0`)
	wantLines(t, ok(t, "rules", "add", "--name", "sw-gone", "--metric", "switch_down", "--dpid", "42", "--severity", "critical"),
		`added rule sw-gone: switch_down == 1 for 0s`)
	wantLines(t, ok(t, "rules", "add", "--name", "doomed", "--metric", "port_tx_bps", "--op", "gt", "--value", "1G", "--for", "1m"),
		`added rule doomed: port_tx_bps > 1.0G for 1m0s`)
	// the config file's rule cannot be changed through the API
	readOnly := `rule "from-file" comes from the configuration file (alerts.rules) and cannot be changed through the API`
	fails(t, 1, readOnly, "rules", "delete", "from-file")
	fails(t, 1, readOnly, "rules", "add", "--name", "from-file", "--metric", "switch_down")
	replace := filepath.Join(dir, "replace.yaml")
	os.WriteFile(replace, []byte("{name: from-file, metric: switch_down}\n"), 0o644)
	_, _, errOut := sat(t, "rules", "add", "-f", replace, "--replace")
	if !strings.Contains(errOut, readOnly) || strings.Contains(errOut, "use --replace") {
		t.Errorf("replacing a config rule: %q", errOut)
	}
	wantLines(t, ok(t, "rules", "list"),
		`doomed +port_tx_bps +all +> 1.0G +1m0s +1.0G +warning +api +active`,
		`from-file +link_down +all +== 1 +0s +1 +info +config +active`,
		`sw-gone +switch_down +dpid=42 +== 1 +0s +1 +critical +api +active`)
	s.stop()
	if _, err := os.Stat(rulesFile); err != nil {
		t.Fatalf("no rule store next to the state file: %v", err)
	}

	// 2: after a restart both are back and active: sw-gone fires when switch 42 goes
	s = startServe(t, cfgFile)
	wantLines(t, s.log.String(), `msg="alert rules" store=`+regexp.QuoteMeta(rulesFile)+` config=1 stored=2 skipped=0`)
	wantLines(t, ok(t, "rules", "list"),
		`doomed +port_tx_bps +all +> 1.0G +1m0s +1.0G +warning +api +active`,
		`sw-gone +switch_down +dpid=42 +== 1 +0s +1 +critical +api +active`)
	swCtx, swCancel := context.WithCancel(context.Background())
	defer swCancel()
	go switchemu.New(switchemu.Config{DPID: 0x42, Ports: 1}).Dial(swCtx, "tcp", s.ofAddr)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(ok(t, "switches"), "0000000000000042") {
		if time.Now().After(deadline) {
			t.Fatalf("switch 42 did not connect:\n%s", s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	swCancel()
	for !strings.Contains(ok(t, "alerts"), "firing") {
		if time.Now().After(deadline) {
			t.Fatalf("the stored rule sw-gone did not fire: %s", ok(t, "alerts"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantLines(t, ok(t, "alerts"), `firing +critical +sw-gone +switch/0000000000000042`)
	wantLines(t, ok(t, "rules", "delete", "doomed"), `deleted rule doomed`)
	s.stop()

	// a rule this Satellite no longer accepts, as an older version could have stored it
	db, err := bolt.Open(rulesFile, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("rules")).Put([]byte("old-metric"), []byte(`{"rule": {"name": "old-metric", "metric": "port_tx_bits", "op": ">", "value": 1}}`))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	// 3: the deletion survived; the bad rule is skipped, logged and listed, and can be deleted
	s = startServe(t, cfgFile)
	wantLines(t, s.log.String(),
		`level=WARN msg="stored alert rule skipped" component=alerts rule=old-metric problem="no longer valid: metric: unknown metric \\"port_tx_bits\\"`,
		`msg="alert rules" store=\S+ config=1 stored=1 skipped=1`)
	out := ok(t, "rules", "list")
	if strings.Contains(out, "doomed") {
		t.Errorf("the deleted rule is back:\n%s", out)
	}
	wantLines(t, out,
		`sw-gone +switch_down +dpid=42 +== 1 +0s +1 +critical +api +active`,
		`old-metric +port_tx_bits +all +> 1 +0s +- +- +api +skipped`,
		`stored rule old-metric is skipped: no longer valid: metric: unknown metric "port_tx_bits"`)
	wantLines(t, ok(t, "rules", "show", "old-metric"), `status:\s+skipped`, `problem:\s+no longer valid: metric: unknown metric "port_tx_bits"`)
	wantLines(t, ok(t, "rules", "delete", "old-metric"), `deleted rule old-metric`)
	fails(t, 1, `no rule "old-metric"`, "rules", "show", "old-metric")
	s.stop()

	// 4: and that deletion survives too
	s = startServe(t, cfgFile)
	wantLines(t, s.log.String(), `msg="alert rules" store=\S+ config=1 stored=1 skipped=0`)
	fails(t, 1, `no rule "old-metric"`, "rules", "show", "old-metric")
	s.stop()
}
