package alerts

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openStore(t *testing.T, path string) *BoltRuleStore {
	t.Helper()
	s, err := OpenRuleStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// storedByName loads a store and indexes it.
func storedByName(t *testing.T, s RuleStore) map[string]StoredRule {
	t.Helper()
	list, err := s.LoadRules()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]StoredRule{}
	for _, r := range list {
		out[r.Rule.Name] = r
	}
	return out
}

func TestRuleStoreRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "dir", "state-alerts.db") // the directory is created
	s := openStore(t, path)
	path2 := 2
	rules := []Rule{
		{Name: "uplink-busy", Metric: MetricPortTxBps, Selector: Selector{DPID: "1", Port: u32(2)}, Op: ">", Value: th(800e6),
			For: Duration(30 * time.Second), Clear: th(600e6), Severity: "critical", Labels: map[string]string{"team": "net"}, Description: "the uplink"},
		{Name: "sw-down", Metric: MetricSwitchDown, For: Duration(5 * time.Second)}, // op and value left to the defaults
		{Name: "slow-path", Metric: MetricProbeRTT, Selector: Selector{DPID: "0x1", Remote: "3", Path: &path2}, Op: ">=", Value: th(0.5)},
		{Name: "tenant", Metric: MetricFlowBps, Selector: Selector{Network: u32(3), Owner: "interface"}, Op: ">", Value: th(1e9)},
	}
	before := time.Now().Add(-time.Second)
	for _, r := range rules {
		if err := s.SaveRule(r); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	s = openStore(t, path)
	got := storedByName(t, s)
	if len(got) != len(rules) {
		t.Fatalf("%d rules stored, want %d: %+v", len(got), len(rules), got)
	}
	for _, r := range rules {
		g := got[r.Name]
		if g.Err != nil || !reflect.DeepEqual(g.Rule, r) {
			t.Errorf("rule %s: stored %+v (err %v), want %+v", r.Name, g.Rule, g.Err, r)
		}
		if g.Saved.Before(before) || g.Saved.After(time.Now()) {
			t.Errorf("rule %s: saved at %v", r.Name, g.Saved)
		}
	}
	// the rule is stored as given: the defaults are filled in when loaded
	if sw := got["sw-down"].Rule; sw.Op != "" || sw.Value != nil || sw.Severity != "" {
		t.Errorf("sw-down stored with defaults: %+v", sw)
	}

	// replace one, delete one, delete one that is not there
	rules[0].Value = th(900e6)
	if err := s.SaveRule(rules[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRule("sw-down"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRule("never-was"); err != nil {
		t.Fatalf("deleting a missing rule: %v", err)
	}
	s.Close()
	got = storedByName(t, openStore(t, path))
	if _, ok := got["sw-down"]; ok || len(got) != 3 || float64(*got["uplink-busy"].Rule.Value) != 900e6 {
		t.Fatalf("after replace and delete: %+v", got)
	}
}

func TestRuleStoreSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state-alerts.db")
	openStore(t, path).Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *bolt.Tx) error {
		if v := string(tx.Bucket(ruleBucketMeta).Get(ruleKeySchema)); v != "1" {
			t.Errorf("schema version %q, want 1", v)
		}
		return nil
	})
	// a file from a newer Satellite is refused, not misread
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(ruleBucketMeta).Put(ruleKeySchema, []byte("2")) })
	db.Close()
	_, err = OpenRuleStore(path)
	if err == nil || !strings.Contains(err.Error(), "alert rule store "+path+": schema version 2, this Satellite reads version 1: upgrade Satellite or move the file away") {
		t.Fatalf("newer schema: %v", err)
	}
	// a path that cannot be a file
	if _, err := OpenRuleStore(t.TempDir()); err == nil || !strings.Contains(err.Error(), "alert rule store") {
		t.Fatalf("a directory: %v", err)
	}
}

// putRaw writes records straight into the rules bucket, as an older or
// newer Satellite (or a damaged file) would have left them.
func putRaw(t *testing.T, path string, records map[string]string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		for k, v := range records {
			if err := tx.Bucket(ruleBucketRules).Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStoredRulesThatCannotBeUsed: stored rules that no longer validate,
// cannot be decoded, or are named like a config file rule do not stop
// the engine: each is logged and listed as skipped, stays in the store,
// and can be deleted or replaced through the API.
func TestStoredRulesThatCannotBeUsed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state-alerts.db")
	openStore(t, path).Close()
	putRaw(t, path, map[string]string{
		"good":     `{"rule": {"name": "good", "metric": "port_tx_bps", "op": ">", "value": 1000000}, "saved": "2025-01-02T03:04:05Z"}`,
		"renamed":  `{"rule": {"name": "renamed", "metric": "port_tx_bits", "op": ">", "value": 1}}`,            // a metric that no longer exists
		"future":   `{"rule": {"name": "future", "metric": "port_tx_bps", "op": ">", "value": 1, "mode": "x"}}`, // a field this version does not know
		"garbage":  `{"rule": [1, 2`,
		"moved":    `{"rule": {"name": "other", "metric": "switch_down"}}`,
		"cfg-rule": `{"rule": {"name": "cfg-rule", "metric": "switch_down"}}`, // the config file has it too
		"bad-for":  `{"rule": {"name": "bad-for", "metric": "port_tx_bps", "op": ">", "value": 1, "for": "-5s"}}`,
	})
	var logs bytes.Buffer
	store := openStore(t, path)
	e, err := New(Config{
		Rules:  []Rule{{Name: "cfg-rule", Metric: MetricPortTxBps, Op: ">", Value: th(5)}},
		Store:  store,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	}, Sources{})
	if err != nil {
		t.Fatalf("a bad stored rule stopped the engine: %v", err)
	}

	wantProblems := map[string]string{
		"renamed":  `no longer valid: metric: unknown metric "port_tx_bits"`,
		"future":   `cannot be read: mode: unknown field`,
		"garbage":  "cannot be read: undecodable record",
		"moved":    `cannot be read: stored under "moved" but named "other"`,
		"cfg-rule": "the configuration file has a rule with this name, which is used instead",
		"bad-for":  "no longer valid: for: -5s is negative",
	}
	list := e.Rules()
	var names []string
	for _, r := range list {
		names = append(names, r.Name+"/"+r.Source+"/"+r.Status)
		if want, ok := wantProblems[r.Name]; ok && r.Status == StatusSkipped && !strings.Contains(r.Problem, want) {
			t.Errorf("rule %s: problem %q, want %q", r.Name, r.Problem, want)
		}
	}
	wantNames := "bad-for/api/skipped cfg-rule/config/active cfg-rule/api/skipped future/api/skipped garbage/api/skipped good/api/active moved/api/skipped renamed/api/skipped"
	if got := strings.Join(names, " "); got != wantNames {
		t.Fatalf("rules:\n got %s\nwant %s", got, wantNames)
	}
	if st := e.Stats(); st.Rules != 2 || st.Skipped != 6 {
		t.Fatalf("stats %+v", st)
	}
	// every skipped rule is one structured warning naming it and the store
	warned := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "stored alert rule skipped" && rec["level"] == "WARN" && rec["store"] == path && rec["component"] == "alerts" &&
			strings.Contains(rec["fix"].(string), "satellite rules delete") {
			warned[rec["rule"].(string)] = strings.Contains(rec["problem"].(string), wantProblems[rec["rule"].(string)])
		}
	}
	for name := range wantProblems {
		if !warned[name] {
			t.Errorf("no warning for %s in:\n%s", name, logs.String())
		}
	}
	// the good stored rule is evaluated; the config rule of the same name as a stored one too
	e.onBatch(portBatch(time.Unix(1000, 0), 5e6))
	if st := states(e); st["good port/0000000000000001/1"] != StateFiring || st["cfg-rule port/0000000000000001/1"] != StateFiring {
		t.Fatalf("states %v", st)
	}
	// skipped rules are shown by GET, taken by POST, fixed by PUT, removed by DELETE
	if r, ok := e.Rule("renamed"); !ok || r.Status != StatusSkipped || r.Metric != "port_tx_bits" {
		t.Fatalf("rule renamed: %+v %v", r, ok)
	}
	if _, err := e.AddRule(Rule{Name: "renamed", Metric: MetricPortTxBps, Op: ">", Value: th(1)}); !errors.Is(err, ErrRuleExists) {
		t.Fatalf("add over a skipped rule: %v", err)
	}
	if r, created, err := e.PutRule(Rule{Name: "renamed", Metric: MetricPortTxBps, Op: ">", Value: th(1)}); err != nil || created || r.Status != StatusActive {
		t.Fatalf("put over a skipped rule: %+v %v %v", r, created, err)
	}
	if r, err := e.DeleteRule("garbage"); err != nil || r.Status != StatusSkipped {
		t.Fatalf("delete of a skipped rule: %+v %v", r, err)
	}
	// deleting the name of a config rule removes the stored copy it shadows, then refuses
	if r, err := e.DeleteRule("cfg-rule"); err != nil || r.Source != SourceAPI || r.Status != StatusSkipped {
		t.Fatalf("delete of the shadowed stored copy: %+v %v", r, err)
	}
	if _, err := e.DeleteRule("cfg-rule"); !errors.Is(err, ErrRuleReadOnly) {
		t.Fatalf("second delete of cfg-rule: %v", err)
	}
	got := storedByName(t, store)
	if _, ok := got["garbage"]; ok {
		t.Error("garbage still stored")
	}
	if _, ok := got["cfg-rule"]; ok {
		t.Error("the shadowed copy of cfg-rule still stored")
	}
	if r := got["renamed"]; r.Err != nil || r.Rule.Metric != MetricPortTxBps {
		t.Errorf("renamed not replaced in the store: %+v", r)
	}
	if r := got["future"]; r.Err == nil {
		t.Error("the skipped rule future was dropped from the store or changed")
	}
}

// TestEngineStoresAPIRules: rules added, replaced and deleted through the
// engine are in the store, and a new engine on the same file (a restart)
// has them, active.
func TestEngineStoresAPIRules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state-alerts.db")
	store := openStore(t, path)
	cfgRule := Rule{Name: "from-file", Metric: MetricSwitchDown}
	e, err := New(Config{Rules: []Rule{cfgRule}, Store: store, Logger: quiet}, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddRule(Rule{Name: "tx", Metric: MetricPortTxBps, Op: ">", Value: th(1e6)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddRule(Rule{Name: "gone", Metric: MetricLinkDown}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.PutRule(Rule{Name: "tx", Metric: MetricPortTxBps, Op: ">", Value: th(2e6), Severity: "critical"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.DeleteRule("gone"); err != nil {
		t.Fatal(err)
	}
	got := storedByName(t, store)
	if len(got) != 1 || float64(*got["tx"].Rule.Value) != 2e6 {
		t.Fatalf("stored %+v (the config file's rules are not stored)", got)
	}
	store.Close()

	// restart
	store = openStore(t, path)
	e, err = New(Config{Rules: []Rule{cfgRule}, Store: store, Logger: quiet}, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	for _, r := range e.Rules() {
		list = append(list, r.Name+"/"+r.Source+"/"+r.Status)
	}
	if strings.Join(list, " ") != "from-file/config/active tx/api/active" {
		t.Fatalf("after restart: %v", list)
	}
	if r, _ := e.Rule("tx"); float64(*r.Value) != 2e6 || r.Severity != "critical" {
		t.Fatalf("tx after restart: %+v", r)
	}
	e.onBatch(portBatch(time.Unix(1000, 0), 5e6))
	if st := states(e); st["tx port/0000000000000001/1"] != StateFiring {
		t.Fatalf("tx does not fire after the restart: %v", st)
	}
}

// TestStoreFailureChangesNothing: when the store cannot be written (here
// a real bbolt file that was closed) every change fails with ErrRuleStore
// and the engine keeps exactly the rules it had: no rule is active that
// is not stored.
func TestStoreFailureChangesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state-alerts.db")
	store := openStore(t, path)
	e, err := New(Config{Store: store, Logger: quiet}, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddRule(Rule{Name: "tx", Metric: MetricPortTxBps, Op: ">", Value: th(1e6)}); err != nil {
		t.Fatal(err)
	}
	e.onBatch(portBatch(time.Unix(1000, 0), 5e6))
	store.Close() // every write fails from now on

	if _, err := e.AddRule(Rule{Name: "new", Metric: MetricSwitchDown}); !errors.Is(err, ErrRuleStore) || !strings.Contains(err.Error(), "database not open") {
		t.Fatalf("add: %v", err)
	}
	if _, _, err := e.PutRule(Rule{Name: "new2", Metric: MetricSwitchDown}); !errors.Is(err, ErrRuleStore) {
		t.Fatalf("put (create): %v", err)
	}
	if _, _, err := e.PutRule(Rule{Name: "tx", Metric: MetricPortRxBps, Op: ">", Value: th(9e6)}); !errors.Is(err, ErrRuleStore) {
		t.Fatalf("put (replace): %v", err)
	}
	if _, err := e.DeleteRule("tx"); !errors.Is(err, ErrRuleStore) {
		t.Fatalf("delete: %v", err)
	}
	// validation still comes first: a bad rule is a field error, not a store error
	if _, err := e.AddRule(Rule{Name: "bad", Metric: "nope"}); errors.Is(err, ErrRuleStore) || err == nil {
		t.Fatalf("bad rule: %v", err)
	}
	list := e.Rules()
	if len(list) != 1 || list[0].Name != "tx" || list[0].Metric != MetricPortTxBps || float64(*list[0].Value) != 1e6 {
		t.Fatalf("rules after failed writes: %+v", list)
	}
	if st := states(e); st["tx port/0000000000000001/1"] != StateFiring || len(e.History()) != 1 {
		t.Fatalf("the failed delete or replace touched the alert: %v %+v", st, e.History())
	}
	got := storedByName(t, openStore(t, path))
	if len(got) != 1 || float64(*got["tx"].Rule.Value) != 1e6 {
		t.Fatalf("store after failed writes: %+v", got)
	}
}
