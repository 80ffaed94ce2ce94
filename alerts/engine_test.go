package alerts

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/topology"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newEngine(t *testing.T, cfg Config, rules ...Rule) *Engine {
	t.Helper()
	cfg.Rules, cfg.Logger = rules, quiet
	if cfg.StaleAfter == 0 {
		cfg.StaleAfter = 3 * time.Second
	}
	e, err := New(cfg, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// portBatch is one port poll of switch 1 with tx rates for ports 1..n.
func portBatch(t time.Time, txBps ...float64) *collector.Batch {
	b := &collector.Batch{Kind: collector.KindPort, DPID: 1, Time: t.UnixNano()}
	for i, v := range txBps {
		b.Ports = append(b.Ports, collector.PortSample{
			Key: "port/0000000000000001/" + string(rune('1'+i)), DPID: 1, Port: uint32(i + 1), Name: "vm" + string(rune('1'+i)),
			Rates: collector.PortRates{TxBps: v, RxBps: math.NaN()},
		})
	}
	return b
}

func states(e *Engine) map[string]string {
	out := map[string]string{}
	for _, a := range e.Active() {
		out[a.Rule+" "+a.Series] = a.State
	}
	return out
}

func TestPendingFiringHysteresisResolved(t *testing.T) {
	e := newEngine(t, Config{}, Rule{Name: "tx", Metric: MetricPortTxBps, Op: ">", Value: th(20e6), Clear: th(10e6), For: Duration(2 * time.Second)})
	sub := e.Stream().Subscribe(64)
	defer sub.Close()
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	key := "tx port/0000000000000001/1"

	e.onBatch(portBatch(at(0), 5e6))
	if len(e.Active()) != 0 {
		t.Fatal("alert below the threshold")
	}
	e.onBatch(portBatch(at(1), 30e6))
	if st := states(e); st[key] != StatePending {
		t.Fatalf("after rising: %v", st)
	}
	e.onBatch(portBatch(at(2), 30e6))
	e.tick(at(2.5)) // held for 1.5 s
	if st := states(e); st[key] != StatePending {
		t.Fatalf("before `for` passed: %v", st)
	}
	e.tick(at(3.1)) // held for 2.1 s: the tick fires it without a new sample
	if st := states(e); st[key] != StateFiring {
		t.Fatalf("after `for`: %v", st)
	}
	// hovering between clear (10M) and fire (20M): stays firing
	for i, v := range []float64{15e6, 11e6, 19e6, 10.5e6} {
		e.onBatch(portBatch(at(4+float64(i)), v))
		e.tick(at(4.5 + float64(i)))
	}
	if st := states(e); st[key] != StateFiring {
		t.Fatalf("between the thresholds: %v", st)
	}
	e.onBatch(portBatch(at(9), 10e6)) // not > 10M: resolves
	if len(e.Active()) != 0 {
		t.Fatalf("after dropping: %v", states(e))
	}
	h := e.History()
	if len(h) != 2 || h[0].Kind != StateFiring || h[1].Kind != StateResolved {
		t.Fatalf("history %+v", h)
	}
	a := h[1].Alert
	if a.Labels["name"] != "vm1" || a.Labels["dpid"] != "0000000000000001" || a.FiredAt == nil || !a.FiredAt.Equal(at(3.1)) ||
		!a.ResolvedAt.Equal(at(9)) || !a.Since.Equal(at(1)) || !strings.Contains(a.Reason, "no longer > 10M") {
		t.Fatalf("resolved alert %+v", a)
	}
	if !strings.Contains(h[0].Alert.Message, "port_tx_bps of port/0000000000000001/1 (vm1) is 30M > 20M for 2.1s") {
		t.Fatalf("message %q", h[0].Alert.Message)
	}
	var kinds []string
	for len(sub.C) > 0 {
		kinds = append(kinds, (<-sub.C).Kind)
	}
	if strings.Join(kinds, ",") != "pending,firing,resolved" {
		t.Fatalf("stream: %v", kinds)
	}
}

func TestPendingDropsWhenConditionEnds(t *testing.T) {
	e := newEngine(t, Config{}, Rule{Name: "tx", Metric: MetricPortTxBps, Op: ">", Value: th(20e6), For: Duration(5 * time.Second)})
	t0 := time.Unix(1000, 0)
	e.onBatch(portBatch(t0, 30e6))
	e.onBatch(portBatch(t0.Add(time.Second), 19e6))
	e.tick(t0.Add(10 * time.Second))
	if len(e.Active()) != 0 || len(e.History()) != 0 {
		t.Fatalf("a blip fired: %v %v", e.Active(), e.History())
	}
}

func TestOneAlertPerRuleAndSeriesAndSelectors(t *testing.T) {
	e := newEngine(t, Config{},
		Rule{Name: "all", Metric: MetricPortTxBps, Op: ">", Value: th(1e6)},
		Rule{Name: "port2", Metric: MetricPortTxBps, Op: ">", Value: th(1e6), Selector: Selector{DPID: "0x1", Port: u32(2)}},
		Rule{Name: "other-switch", Metric: MetricPortTxBps, Op: ">", Value: th(1e6), Selector: Selector{DPID: "2"}},
	)
	t0 := time.Unix(1000, 0)
	for i := 0; i < 3; i++ {
		e.onBatch(portBatch(t0.Add(time.Duration(i)*time.Second), 5e6, 5e6, 0))
	}
	got := states(e)
	want := map[string]string{"all port/0000000000000001/1": StateFiring, "all port/0000000000000001/2": StateFiring, "port2 port/0000000000000001/2": StateFiring}
	if len(got) != len(want) {
		t.Fatalf("alerts %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("alerts %v, want %v", got, want)
		}
	}
	if n := len(e.History()); n != 3 {
		t.Fatalf("%d firing events, want 3 (one per rule and series)", n)
	}
}

func TestUnknownValuesAndStaleSeries(t *testing.T) {
	e := newEngine(t, Config{StaleAfter: 3 * time.Second}, Rule{Name: "tx", Metric: MetricPortTxBps, Op: ">", Value: th(1e6)})
	t0 := time.Unix(1000, 0)
	e.onBatch(portBatch(t0, 5e6))
	// a sample without a rate (counter reset) changes nothing
	e.onBatch(portBatch(t0.Add(time.Second), math.NaN()))
	if st := states(e); st["tx port/0000000000000001/1"] != StateFiring {
		t.Fatalf("after NaN: %v", st)
	}
	// the port stops reporting: resolved as gone after StaleAfter
	e.tick(t0.Add(2 * time.Second))
	if len(e.Active()) != 1 {
		t.Fatal("resolved too early")
	}
	e.tick(t0.Add(5 * time.Second))
	h := e.History()
	if len(e.Active()) != 0 || len(h) != 2 || !strings.Contains(h[1].Alert.Reason, "stopped reporting") {
		t.Fatalf("stale: active %v history %+v", e.Active(), h)
	}
}

func TestRuleChangesThroughTheAPI(t *testing.T) {
	e := newEngine(t, Config{})
	if info, err := e.AddRule(Rule{Name: "tx", Metric: MetricPortTxBps, Op: ">", Value: th(1e6)}); err != nil || info.Source != SourceAPI || info.Status != StatusActive {
		t.Fatalf("add: %+v %v", info, err)
	}
	if _, err := e.AddRule(Rule{Name: "tx", Metric: MetricPortRxBps, Op: ">", Value: th(1)}); !isErr(err, ErrRuleExists) {
		t.Fatalf("duplicate add: %v", err)
	}
	if _, err := e.AddRule(Rule{Name: "bad", Metric: "nope"}); err == nil {
		t.Fatal("invalid rule added")
	}
	t0 := time.Unix(1000, 0)
	e.onBatch(portBatch(t0, 5e6))
	// same metric and selector: the alert stays, with the new threshold
	info, created, err := e.PutRule(Rule{Name: "tx", Metric: MetricPortTxBps, Op: ">", Value: th(2e6), Severity: "critical"})
	if err != nil || created || info.Source != "api" {
		t.Fatalf("put: %+v %v %v", info, created, err)
	}
	if a := e.Active(); len(a) != 1 || a[0].Threshold != 2e6 || a[0].Severity != "critical" {
		t.Fatalf("after put: %+v", a)
	}
	// another metric: the alert resolves
	if _, _, err := e.PutRule(Rule{Name: "tx", Metric: MetricPortRxBps, Op: ">", Value: th(2e6)}); err != nil {
		t.Fatal(err)
	}
	if len(e.Active()) != 0 || e.History()[1].Alert.Reason != "rule changed" {
		t.Fatalf("after changing the metric: %v %+v", e.Active(), e.History())
	}
	if _, err := e.DeleteRule("tx"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.DeleteRule("tx"); !isErr(err, ErrRuleNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if len(e.Rules()) != 0 {
		t.Fatal("rule still listed")
	}
}

// TestConfigRulesAreReadOnly: the API cannot add, replace or delete a
// rule of the configuration file (it would come back, or go, at the next
// start); the rule keeps working unchanged.
func TestConfigRulesAreReadOnly(t *testing.T) {
	e := newEngine(t, Config{}, Rule{Name: "tx", Metric: MetricPortTxBps, Op: ">", Value: th(1e6)})
	if _, err := e.AddRule(Rule{Name: "tx", Metric: MetricPortRxBps, Op: ">", Value: th(1)}); !errors.Is(err, ErrRuleReadOnly) {
		t.Fatalf("add over a config rule: %v", err)
	}
	if _, _, err := e.PutRule(Rule{Name: "tx", Metric: MetricPortTxBps, Op: ">", Value: th(2e6)}); !errors.Is(err, ErrRuleReadOnly) {
		t.Fatalf("put over a config rule: %v", err)
	}
	if _, err := e.DeleteRule("tx"); !errors.Is(err, ErrRuleReadOnly) {
		t.Fatalf("delete of a config rule: %v", err)
	}
	if r, ok := e.Rule("tx"); !ok || r.Source != SourceConfig || r.Status != StatusActive || float64(*r.Value) != 1e6 || r.Metric != MetricPortTxBps {
		t.Fatalf("config rule changed: %+v", r)
	}
	e.onBatch(portBatch(time.Unix(1000, 0), 5e6))
	if st := states(e); st["tx port/0000000000000001/1"] != StateFiring {
		t.Fatalf("the config rule does not fire: %v", st)
	}
}

func isErr(err, target error) bool {
	return err != nil && strings.Contains(err.Error(), target.Error())
}

func TestHistoryIsBounded(t *testing.T) {
	e := newEngine(t, Config{History: 4}, Rule{Name: "tx", Metric: MetricPortTxBps, Op: ">", Value: th(1e6)})
	t0 := time.Unix(1000, 0)
	for i := 0; i < 10; i++ {
		v := 5e6
		if i%2 == 1 {
			v = 0
		}
		e.onBatch(portBatch(t0.Add(time.Duration(i)*time.Second), v))
	}
	h := e.History()
	if len(h) != 4 || !h[0].Time.Equal(t0.Add(6*time.Second)) || !h[3].Time.Equal(t0.Add(9*time.Second)) {
		t.Fatalf("history %d: %v .. %v", len(h), h[0].Time, h[len(h)-1].Time)
	}
}

func TestFlowRulesSelectByOwnerAndNetwork(t *testing.T) {
	e := newEngine(t, Config{},
		Rule{Name: "net5", Metric: MetricFlowBps, Op: ">", Value: th(1e3), Selector: Selector{Network: u32(5)}},
		Rule{Name: "api-pps", Metric: MetricFlowPps, Op: ">", Value: th(10), Selector: Selector{Owner: "api"}},
	)
	mk := func(c controller.Cookie, key string) *collector.FlowInfo {
		return &collector.FlowInfo{Key: key, DPID: 1, Cookie: c}
	}
	iface := mk(controller.NewCookie(controller.OwnerInterface, 5, 1), "flow/0000000000000001/a")
	api := mk(controller.NewCookie(controller.OwnerAPI, 0, 7), "flow/0000000000000001/b")
	foreign := mk(controller.Cookie(0x5), "flow/0000000000000001/c")
	b := &collector.Batch{Kind: collector.KindFlow, DPID: 1, Time: time.Unix(1000, 0).UnixNano(), Flows: []collector.FlowSample{
		{Info: iface, Bps: 5e3, Pps: 100}, {Info: api, Bps: 5e3, Pps: 100}, {Info: foreign, Bps: 5e3, Pps: 100},
	}}
	e.onBatch(b)
	got := states(e)
	if len(got) != 2 || got["net5 flow/0000000000000001/a"] != StateFiring || got["api-pps flow/0000000000000001/b"] != StateFiring {
		t.Fatalf("alerts %v", got)
	}
	for _, a := range e.Active() {
		if a.Rule == "net5" && (a.Labels["owner"] != "interface:1@net:5" || a.Labels["network"] != "5") {
			t.Fatalf("labels %v", a.Labels)
		}
	}
}

func TestStateAndTopologyMetrics(t *testing.T) {
	m := topology.New(topology.Options{})
	e, err := New(Config{Logger: quiet, Rules: []Rule{
		{Name: "sw", Metric: MetricSwitchDown, For: Duration(2 * time.Second)},
		{Name: "port", Metric: MetricPortDown, Selector: Selector{Port: u32(2)}},
		{Name: "link", Metric: MetricLinkDown},
		{Name: "lat", Metric: MetricLinkLatency, Op: ">", Value: th(50)},
		{Name: "forged", Metric: MetricSecurityEvents, Op: ">", Selector: Selector{Event: "lldp-forged"}},
		{Name: "lonely", Metric: MetricHostCount, Op: "<", Value: th(1)},
	}}, Sources{Model: m})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// switch 1 up with port 2 down, then the switch goes down
	e.onSwitchUp(1, []portInfo{{No: 1, Name: "vm1"}, {No: 2, Name: "vm2", State: 1}})
	e.mu.Lock()
	e.evalState(now)
	e.switchDown[1] = true
	e.evalState(now.Add(time.Second))
	e.evalState(now.Add(3 * time.Second))
	e.mu.Unlock()
	got := states(e)
	if got["port port/0000000000000001/2"] != StateFiring || got["sw switch/0000000000000001"] != StateFiring || len(got) != 2 {
		t.Fatalf("state alerts %v", got)
	}
	e.mu.Lock()
	e.switchDown[1] = false
	e.portDown[topology.Endpoint{DPID: 1, Port: 2}] = false
	e.evalState(now.Add(4 * time.Second))
	e.mu.Unlock()
	if len(e.Active()) != 0 {
		t.Fatalf("after recovery: %v", states(e))
	}

	// topology: two switches with a link; the link goes; a forged frame
	a := topology.Endpoint{DPID: 1, Port: 101}
	b := topology.Endpoint{DPID: 2, Port: 101}
	m.SwitchUp(topology.Switch{DPID: 1}, []topology.Port{{Number: 101, Up: true}})
	m.SwitchUp(topology.Switch{DPID: 2}, []topology.Port{{Number: 101, Up: true}})
	m.LinkSeen(a, b, topology.LinkDirect, 80*time.Millisecond)
	sub := m.Subscribe(0, 64)
	defer sub.Close()
	drain := func() {
		for len(sub.C) > 0 {
			e.onDelta(<-sub.C)
		}
	}
	drain()
	e.mu.Lock()
	e.evalTopology(time.Now())
	e.mu.Unlock()
	if got := states(e); got["lat link/0000000000000001/101>0000000000000002/101"] != StateFiring {
		t.Fatalf("latency: %v", got)
	}
	m.PortRemove(b)
	m.AddEvent(topology.Event{Kind: "lldp-forged", DPID: 1, Port: 101, Message: "forged"})
	m.AddEvent(topology.Event{Kind: "lldp-unsigned", DPID: 2, Port: 3, Message: "unsigned"})
	drain()
	e.mu.Lock()
	e.evalTopology(time.Now())
	e.mu.Unlock()
	got = states(e)
	if got["link link/0000000000000001/101>0000000000000002/101"] != StateFiring || got["forged port/0000000000000001/101"] != StateFiring ||
		got["lat link/0000000000000001/101>0000000000000002/101"] != "" {
		t.Fatalf("after link loss: %v", got)
	}
	for _, a := range e.Active() {
		if a.Rule == "forged" && a.Labels["event"] != "lldp-forged" {
			t.Fatalf("labels %v", a.Labels)
		}
	}
	// the link comes back; the forged event ages out of its minute
	m.SwitchUp(topology.Switch{DPID: 2}, []topology.Port{{Number: 101, Up: true}})
	m.LinkSeen(a, b, topology.LinkDirect, time.Millisecond)
	drain()
	e.mu.Lock()
	e.evalTopology(time.Now().Add(2 * time.Minute))
	e.mu.Unlock()
	got = states(e)
	if got["link link/0000000000000001/101>0000000000000002/101"] != "" || got["forged port/0000000000000001/101"] != "" {
		t.Fatalf("after recovery: %v", got)
	}
}

func TestWebhookRetriesAndDelivers(t *testing.T) {
	var mu sync.Mutex
	var got []WebhookMessage
	fails := 2
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var m WebhookMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		got = append(got, m)
	}))
	defer srv.Close()
	h, err := newWebhook(WebhookConfig{URL: srv.URL, Retries: 3}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	h.backoff = 10 * time.Millisecond
	h.deliver(t.Context(), Event{Kind: StateFiring, Time: time.Now(), Alert: Alert{Rule: "r", Series: "port/x/1", Value: 5}})
	h.deliver(t.Context(), Event{Kind: StateResolved, Time: time.Now(), Alert: Alert{Rule: "r", Series: "port/x/1"}})
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0].Status != StateFiring || got[1].Status != StateResolved || got[0].Alert.Rule != "r" || got[0].Version != 1 {
		t.Fatalf("received %+v", got)
	}
	if st := h.stats(); st.Delivered != 2 || st.Retried != 2 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWebhookGivesUp(t *testing.T) {
	calls := 0
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		if r.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond)
		}
		if r.URL.Path == "/reject" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer srv.Close()
	for path, wantCalls := range map[string]int{"/down": 3, "/reject": 1, "/slow": 3} {
		calls = 0
		h, _ := newWebhook(WebhookConfig{URL: srv.URL + path, Retries: 2, Timeout: 100 * time.Millisecond}, quiet)
		h.backoff = time.Millisecond
		h.deliver(t.Context(), Event{Kind: StateFiring, Alert: Alert{Rule: "r"}})
		mu.Lock()
		n := calls
		mu.Unlock()
		if st := h.stats(); n != wantCalls || st.Failed != 1 || st.Delivered != 0 {
			t.Errorf("%s: %d calls, stats %+v; want %d calls and a failure", path, n, st, wantCalls)
		}
	}
	// a full queue drops and counts, never blocks
	h, _ := newWebhook(WebhookConfig{URL: srv.URL, Queue: 2}, quiet)
	for i := 0; i < 5; i++ {
		h.enqueue(Event{})
	}
	if st := h.stats(); st.Dropped != 3 {
		t.Fatalf("dropped %d", st.Dropped)
	}
	if _, err := newWebhook(WebhookConfig{URL: "ftp://x"}, quiet); err == nil {
		t.Fatal("ftp webhook accepted")
	}
}

// Tunnel probe samples, as the prober publishes them on the collector's
// stream: probe_rtt_ms with a selector on one path, probe_loss on every
// path with hysteresis; unknown RTTs change nothing; a path that stops
// reporting resolves.
func TestProbeMetrics(t *testing.T) {
	e := newEngine(t, Config{StaleAfter: 3 * time.Second},
		Rule{Name: "slow", Metric: MetricProbeRTT, Selector: Selector{DPID: "1", Remote: "3", Path: ip(1)}, Op: ">", Value: th(5), For: Duration(2 * time.Second)},
		Rule{Name: "lossy", Metric: MetricProbeLoss, Op: ">", Value: th(0.2), Clear: th(0.05)},
	)
	c := collector.New(collector.Config{}, nil)
	sub := c.Subscribe(64)
	defer sub.Close()
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	publish := func(s int, rtt1, loss1, loss2 float64) {
		t.Helper()
		c.PublishProbes(at(s), []collector.ProbeSample{
			{Local: 1, Remote: 3, LocalName: "h1", RemoteName: "h3", Path: 1, Port: 7, Up: true, RTTAvgMs: rtt1, Loss: loss1},
			{Local: 1, Remote: 3, LocalName: "h1", RemoteName: "h3", Path: 2, Port: 8, Up: true, RTTAvgMs: 50, Loss: loss2},
			{Local: 3, Remote: 1, LocalName: "h3", RemoteName: "h1", Path: 1, Port: 9, Up: true, RTTAvgMs: 50},
		})
		select {
		case b := <-sub.C:
			e.onBatch(b)
		case <-time.After(time.Second):
			t.Fatal("no batch")
		}
	}
	slow1 := "slow probe/0000000000000001/0000000000000003/1"
	lossy2 := "lossy probe/0000000000000001/0000000000000003/2"
	publish(0, 1, 0, 0)
	if len(e.Active()) != 0 {
		t.Fatalf("alerts on a healthy fabric: %v", states(e))
	}
	// path 1 slows down (the other paths are slow all along but not selected)
	publish(1, 8, 0, 0.3)
	if st := states(e); len(st) != 2 || st[slow1] != StatePending || st[lossy2] != StateFiring {
		t.Fatalf("after rising: %v", st)
	}
	publish(2, math.NaN(), 0, 0.1) // no probe answered in the window: unknown RTT; loss between the thresholds
	publish(3, 9, 0, 0.1)
	if st := states(e); st[slow1] != StateFiring || st[lossy2] != StateFiring {
		t.Fatalf("after `for`: %v", st)
	}
	var fired Alert
	for _, a := range e.Active() {
		if a.Rule == "slow" {
			fired = a
		}
	}
	if fired.Value != 9 || fired.Labels["remote"] != "0000000000000003" || fired.Labels["path"] != "1" || fired.Labels["local_name"] != "h1" ||
		fired.Message != "probe_rtt_ms of probe/0000000000000001/0000000000000003/1 (h1 to h3, path 1) is 9 > 5 for 2s" {
		t.Fatalf("alert %+v", fired)
	}
	publish(4, 9, 0, 0.04) // loss under the clear threshold
	if st := states(e); st[lossy2] != "" {
		t.Fatalf("loss cleared: %v", st)
	}
	// path 1 is no longer published (its host left): resolved as gone
	c.PublishProbes(at(5), nil)
	<-sub.C
	e.tick(at(8))
	h := e.History()
	if len(e.Active()) != 0 || len(h) != 4 || h[3].Alert.Rule != "slow" || !strings.Contains(h[3].Alert.Reason, "tunnel path gone") {
		t.Fatalf("active %v, history %+v", states(e), h)
	}
}

func TestTunnelStateMetrics(t *testing.T) {
	e := newEngine(t, Config{StaleAfter: 3 * time.Second},
		Rule{Name: "path-down", Metric: MetricTunnelPathDown, Selector: Selector{DPID: "1"}},
		Rule{Name: "flapping", Metric: MetricTunnelFlapping},
		Rule{Name: "unreachable", Metric: MetricTunnelUnreachable, Severity: "critical"},
	)
	c := collector.New(collector.Config{}, nil)
	sub := c.Subscribe(64)
	defer sub.Close()
	t0 := time.Unix(1000, 0)
	publish := func(s int, up1, live1, up2, flap2 bool) {
		t.Helper()
		c.PublishProbes(t0.Add(time.Duration(s)*time.Second), []collector.ProbeSample{
			{Local: 1, Remote: 3, LocalName: "h1", RemoteName: "h3", Path: 1, Up: up1, Live: live1},
			{Local: 1, Remote: 3, LocalName: "h1", RemoteName: "h3", Path: 2, Up: up2, Live: true, Flapping: flap2},
			{Local: 3, Remote: 1, LocalName: "h3", RemoteName: "h1", Path: 1, Up: true, Live: true},
		})
		select {
		case b := <-sub.C:
			e.onBatch(b)
		case <-time.After(time.Second):
			t.Fatal("no batch")
		}
	}
	publish(0, true, true, true, false)
	if len(e.Active()) != 0 {
		t.Fatalf("alerts on a healthy fabric: %v", states(e))
	}
	// BFD takes path 1's port down: the path is down, the pair still reachable
	publish(1, true, false, true, false)
	st := states(e)
	if st["path-down probe/0000000000000001/0000000000000003/1"] != StateFiring || len(st) != 1 {
		t.Fatalf("after BFD: %v", st)
	}
	// path 2 is judged down by the probes too, and flaps: both paths gone
	publish(2, true, false, false, true)
	st = states(e)
	if st["unreachable tunnel/0000000000000001/0000000000000003"] != StateFiring || st["flapping probe/0000000000000001/0000000000000003/2"] != StateFiring ||
		st["path-down probe/0000000000000001/0000000000000003/2"] != StateFiring {
		t.Fatalf("both paths down: %v", st)
	}
	// everything recovers
	publish(3, true, true, true, false)
	if len(e.Active()) != 0 {
		t.Fatalf("after recovery: %v", states(e))
	}
	// a path selector makes no sense for the pair metric
	if _, err := compile(Rule{Name: "x", Metric: MetricTunnelUnreachable, Selector: Selector{Path: ip(1)}}); err == nil || !strings.Contains(err.Error(), "all paths between two hosts") {
		t.Fatalf("path selector on tunnel_unreachable: %v", err)
	}
}

func TestSwitchConflictEventsFireSecurityAlerts(t *testing.T) {
	m := topology.New(topology.Options{})
	e, err := New(Config{Logger: quiet, Rules: []Rule{
		{Name: "conflict", Metric: MetricSecurityEvents, Op: ">", Selector: Selector{Event: "switch-conflict"}},
	}}, Sources{Model: m})
	if err != nil {
		t.Fatal(err)
	}
	sub := m.Subscribe(0, 64)
	defer sub.Close()
	m.AddEvent(topology.Event{Kind: "switch-conflict", DPID: 7, Message: "datapath 0000000000000007 claimed from 192.0.2.9:4242"})
	for len(sub.C) > 0 {
		e.onDelta(<-sub.C)
	}
	e.mu.Lock()
	e.evalTopology(time.Now())
	e.mu.Unlock()
	if got := states(e); got["conflict port/0000000000000007/0"] != StateFiring {
		t.Fatalf("alerts %v", got)
	}
}

// A cut link loses both directions: link_down raises one alert for the
// link (named from its lower end, with both port names), carrying the
// rule's description, and resolves it when the link is back.
func TestLinkDownOneAlertPerLink(t *testing.T) {
	m := topology.New(topology.Options{KeepDownLinks: time.Hour})
	e, err := New(Config{Logger: quiet, Rules: []Rule{
		{Name: "cut", Metric: MetricLinkDown, Severity: "critical", Description: "a link between switches is down: check the cable"},
	}}, Sources{Model: m})
	if err != nil {
		t.Fatal(err)
	}
	a := topology.Endpoint{DPID: 1, Port: 102}
	b := topology.Endpoint{DPID: 2, Port: 101}
	e.onSwitchUp(1, []portInfo{{No: 102, Name: "lnk-h2"}})
	e.onSwitchUp(2, []portInfo{{No: 101, Name: "lnk-h1"}})
	m.SwitchUp(topology.Switch{DPID: 1}, []topology.Port{{Number: 102, Up: true}})
	m.SwitchUp(topology.Switch{DPID: 2}, []topology.Port{{Number: 101, Up: true}})
	m.LinkSeen(a, b, topology.LinkDirect, time.Millisecond)
	m.LinkSeen(b, a, topology.LinkDirect, time.Millisecond)
	sub := m.Subscribe(0, 64)
	defer sub.Close()
	drain := func() {
		for len(sub.C) > 0 {
			e.onDelta(<-sub.C)
		}
	}
	drain()
	m.PortRemove(b) // both directions go
	drain()
	e.mu.Lock()
	e.evalTopology(time.Now())
	e.mu.Unlock()
	act := e.Active()
	if len(act) != 1 {
		t.Fatalf("%d alerts for one cut link, want 1: %v", len(act), states(e))
	}
	al := act[0]
	if al.Series != "link/0000000000000001/102>0000000000000002/101" || al.State != StateFiring {
		t.Fatalf("alert %s %s, want the link from its lower end, firing", al.Series, al.State)
	}
	if al.Description != "a link between switches is down: check the cable" {
		t.Fatalf("description %q", al.Description)
	}
	if al.Labels["src_name"] != "lnk-h2" || al.Labels["dst_name"] != "lnk-h1" || !strings.Contains(al.Message, "lnk-h2 ↔ lnk-h1") {
		t.Fatalf("labels %v, message %q: want both port names", al.Labels, al.Message)
	}
	m.SwitchUp(topology.Switch{DPID: 2}, []topology.Port{{Number: 101, Up: true}})
	m.LinkSeen(a, b, topology.LinkDirect, time.Millisecond)
	m.LinkSeen(b, a, topology.LinkDirect, time.Millisecond)
	drain()
	e.mu.Lock()
	e.evalTopology(time.Now())
	e.mu.Unlock()
	if len(e.Active()) != 0 {
		t.Fatalf("after the link is back: %v", states(e))
	}
}

func TestFlowDriftMetric(t *testing.T) {
	m := topology.New(topology.Options{})
	e, err := New(Config{Logger: quiet, Rules: []Rule{
		{Name: "drift", Metric: MetricFlowDrift, Op: ">"},
		{Name: "foreign-h2", Metric: MetricFlowDrift, Op: ">", Selector: Selector{DPID: "2", Event: "foreign"}},
	}}, Sources{Model: m})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := compile(Rule{Name: "x", Metric: MetricFlowDrift, Op: ">", Selector: Selector{Event: "lost"}}); err == nil || !strings.Contains(err.Error(), "want a flow audit kind") {
		t.Fatalf("unknown kind: %v", err)
	}
	sub := m.Subscribe(0, 64)
	defer sub.Close()
	m.AddEvent(topology.Event{Kind: "flow-drift", DPID: 1, Data: json.RawMessage(`{"kind":"missing","flows":3}`)})
	m.AddEvent(topology.Event{Kind: "flow-repair", DPID: 2, Data: json.RawMessage(`{"kind":"foreign","flows":1}`)}) // a repair is no drift
	for len(sub.C) > 0 {
		e.onDelta(<-sub.C)
	}
	now := time.Now()
	e.mu.Lock()
	e.evalTopology(now)
	e.mu.Unlock()
	got := states(e)
	if got["drift switch/0000000000000001/drift"] != StateFiring || len(got) != 1 {
		t.Fatalf("after drift on switch 1: %v", got)
	}
	for _, a := range e.Active() {
		if a.Value != 3 || a.Labels["kind"] != "missing" {
			t.Fatalf("alert %+v", a)
		}
	}
	// a minute later the switch stayed clean: resolved
	e.mu.Lock()
	e.evalTopology(now.Add(SecurityWindow + time.Second))
	e.mu.Unlock()
	if len(e.Active()) != 0 {
		t.Fatalf("after a clean minute: %v", states(e))
	}
}
