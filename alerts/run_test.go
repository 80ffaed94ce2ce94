package alerts_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/internal/testenv"
)

// hookRecorder is a webhook receiver.
type hookRecorder struct {
	mu   sync.Mutex
	msgs []alerts.WebhookMessage
	srv  *httptest.Server
}

func newHookRecorder(t *testing.T) *hookRecorder {
	h := &hookRecorder{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m alerts.WebhookMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.msgs = append(h.msgs, m)
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookRecorder) statuses(rule string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, m := range h.msgs {
		if m.Alert.Rule == rule {
			out = append(out, m.Status)
		}
	}
	return out
}

// TestEngineWithCollectorAndController runs the engine on a live
// collector and controller with an emulated switch: a port rate rule goes
// pending, fires, stays firing between the thresholds and resolves; a
// switch_down rule fires when the switch disconnects; the webhook gets
// every transition.
func TestEngineWithCollectorAndController(t *testing.T) {
	env := testenv.StartController(t, controller.Config{})
	sw, link := env.ConnectLink(switchemu.Config{DPID: 1, Ports: 2})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	coll := collector.New(collector.Config{Interval: 100 * time.Millisecond, SkipFlows: true, SkipTables: true, SkipGroups: true, Logger: log}, env.Ctl)
	hook := newHookRecorder(t)
	rules, err := alerts.ParseRules([]byte(`
- {name: tx-high, metric: port_tx_bps, selector: {dpid: "1", port: 2}, op: ">", value: 4M, clear: 2M, for: 300ms}
- {name: switch-gone, metric: switch_down, for: 0s, severity: critical}
`))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := alerts.New(alerts.Config{Rules: rules, Webhook: alerts.WebhookConfig{URL: hook.srv.URL}, Interval: 50 * time.Millisecond, Logger: log},
		alerts.Sources{Collector: coll, Controller: env.Ctl})
	if err != nil {
		t.Fatal(err)
	}
	events := eng.Stream().Subscribe(64)
	defer events.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); coll.Run(ctx) }()
	go func() { defer wg.Done(); eng.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	// traffic out of port 2 at a rate set by the test (bits/s)
	var rateMu sync.Mutex
	rate := 8e6
	setRate := func(r float64) { rateMu.Lock(); rate = r; rateMu.Unlock() }
	go func() {
		// bytes by the time elapsed, not per tick: a loaded host that
		// misses ticks must not lower the rate
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		last := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tk.C:
				rateMu.Lock()
				bytes := uint64(rate / 8 * now.Sub(last).Seconds())
				rateMu.Unlock()
				last = now
				sw.Count(2, 0, 0, bytes/1000+1, bytes)
			}
		}
	}()
	next := func(kind string, limit time.Duration) alerts.Event {
		t.Helper()
		timeout := time.After(limit)
		for {
			select {
			case ev := <-events.C:
				if ev.Kind == kind {
					return ev
				}
				t.Fatalf("got %s of %s, want %s", ev.Kind, ev.Alert.Rule, kind)
			case <-timeout:
				t.Fatalf("no %s event within %s; active %+v", kind, limit, eng.Active())
			}
		}
	}
	p := next(alerts.StatePending, 5*time.Second)
	f := next(alerts.StateFiring, 5*time.Second)
	if p.Alert.Rule != "tx-high" || f.Alert.Series != "port/0000000000000001/2" || f.Time.Sub(p.Time) < 300*time.Millisecond {
		t.Fatalf("pending %+v, firing %+v", p, f)
	}
	// between clear (2M) and fire (4M): stays firing for a second
	setRate(3e6)
	time.Sleep(time.Second)
	if a := eng.Active(); len(a) != 1 || a[0].State != alerts.StateFiring || a[0].Value < 2e6 || a[0].Value > 4e6 {
		t.Fatalf("while hovering: %+v", a)
	}
	setRate(0)
	r := next(alerts.StateResolved, 5*time.Second)
	if r.Alert.Rule != "tx-high" {
		t.Fatalf("resolved %+v", r)
	}
	// the switch disconnects
	link.Close()
	f = next(alerts.StatePending, 5*time.Second)
	f = next(alerts.StateFiring, 5*time.Second)
	if f.Alert.Rule != "switch-gone" || f.Alert.Series != "switch/0000000000000001" || f.Alert.Severity != "critical" {
		t.Fatalf("switch down: %+v", f)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(hook.statuses("tx-high")) < 2 || len(hook.statuses("switch-gone")) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("webhook got tx-high %v, switch-gone %v", hook.statuses("tx-high"), hook.statuses("switch-gone"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := hook.statuses("tx-high"); got[0] != "firing" || got[1] != "resolved" {
		t.Fatalf("webhook: %v", got)
	}
	if st := eng.Stats(); st.Webhook.Delivered < 3 || st.Webhook.Failed != 0 || st.Rules != 2 {
		t.Fatalf("stats %+v", st)
	}
}
