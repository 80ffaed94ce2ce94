package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/gorilla/websocket"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/controller/switchemu"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/web"
	"github.com/satellite-sdn/satellite/web/webtest"
)

// streamMsg is a stream message as a client decodes it.
type streamMsg struct {
	Type string `json:"type"`
	topology.Delta
}

func wsURL(env *webtest.Env, query string) string {
	return "ws" + strings.TrimPrefix(env.URL, "http") + api.StreamPath + query
}

// dial opens the stream; smallBuffer shrinks the client's socket receive
// buffer so that a client that does not read backs up quickly.
func dial(t *testing.T, env *webtest.Env, query string, smallBuffer bool, hdr http.Header) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	if smallBuffer {
		d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var nd net.Dialer
			c, err := nd.DialContext(ctx, network, addr)
			if err == nil {
				_ = c.(*net.TCPConn).SetReadBuffer(4096)
			}
			return c, err
		}
		d.ReadBufferSize = 1024
	}
	c, resp, err := d.Dial(wsURL(env, query), hdr)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", query, err, status)
	}
	t.Cleanup(func() { c.Close() })
	// the first message is always the hello
	var h api.StreamHello
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := c.ReadJSON(&h); err != nil || h.Type != api.StreamHelloType || len(h.Epoch) != 16 || len(h.Topics) == 0 {
		t.Fatalf("first message: %+v, %v; want a hello with the epoch and topics", h, err)
	}
	return c
}

func readMsg(t *testing.T, c *websocket.Conn) streamMsg {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m streamMsg
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	if m.Type != api.StreamTopology {
		t.Fatalf("message type %q, want %q", m.Type, api.StreamTopology)
	}
	return m
}

func TestStreamSnapshotThenDeltas(t *testing.T) {
	env, m := startTopology(t)
	t.Cleanup(env.API.Close)
	c := dial(t, env, "", false, nil)
	first := readMsg(t, c)
	if first.Op != topology.OpSnapshot || first.Snapshot == nil || first.Version != m.Version() || first.Snapshot.Version != first.Version {
		t.Fatalf("first message: op %q version %d (model at %d), snapshot %v", first.Op, first.Version, m.Version(), first.Snapshot != nil)
	}
	if len(first.Snapshot.Switches) != 2 || len(first.Snapshot.Links) != 3 || len(first.Snapshot.Hosts) != 2 {
		t.Fatalf("snapshot has %d switches, %d links, %d hosts; want 2, 3, 2", len(first.Snapshot.Switches), len(first.Snapshot.Links), len(first.Snapshot.Hosts))
	}

	// A port going down removes both directions of its link.
	m.PortUpdate(topology.Port{DPID: 1, Number: 102, Name: "lnk-h2", Up: false})
	m.AddEvent(topology.Event{Kind: "lldp-replayed", DPID: 1, Port: 102, Message: "replayed probe"})
	want := first.Version
	var linkRemoved, portDown, event bool
	for want < m.Version() {
		d := readMsg(t, c)
		if d.Version != want+1 {
			t.Fatalf("delta version %d after %d: a gap or a repeat", d.Version, want)
		}
		want = d.Version
		switch {
		case d.Op == topology.OpRemove && d.Link != nil:
			linkRemoved = d.Link.State == "down"
		case d.Op == topology.OpUpdate && d.Port != nil && d.Port.Number == 102:
			portDown = portDown || !d.Port.Up
		case d.Op == topology.OpEvent && d.Event != nil:
			event = d.Event.Kind == "lldp-replayed"
		}
	}
	if !linkRemoved || !portDown || !event {
		t.Fatalf("deltas: link removed %v, port down %v, event %v", linkRemoved, portDown, event)
	}
}

func TestStreamResume(t *testing.T) {
	env, m := startTopology(t)
	t.Cleanup(env.API.Close)
	c := dial(t, env, "", false, nil)
	v := readMsg(t, c).Version
	c.Close()

	for i := 0; i < 5; i++ {
		m.AddEvent(topology.Event{Kind: "test", Message: fmt.Sprint("while away ", i)})
	}
	c = dial(t, env, fmt.Sprintf("?since=%d", v), false, nil)
	for i := 0; i < 5; i++ {
		d := readMsg(t, c)
		if d.Op != topology.OpEvent || d.Version != v+uint64(i)+1 || d.Event.Message != fmt.Sprint("while away ", i) {
			t.Fatalf("resumed delta %d: op %q version %d event %+v; want event %d at version %d", i, d.Op, d.Version, d.Event, i, v+uint64(i)+1)
		}
	}
	// then live deltas follow on the same connection
	m.AddEvent(topology.Event{Kind: "test", Message: "live"})
	if d := readMsg(t, c); d.Version != v+6 || d.Event == nil || d.Event.Message != "live" {
		t.Fatalf("live delta after the replay: %+v", d)
	}

	t.Run("epoch", func(t *testing.T) {
		c := dial(t, env, fmt.Sprintf("?since=%d&epoch=%s", m.Version()-2, epochOf(t, env)), false, nil)
		if d := readMsg(t, c); d.Op != topology.OpEvent || d.Version != m.Version()-1 {
			t.Fatalf("same epoch: got %q at %d, want the replay from %d", d.Op, d.Version, m.Version()-1)
		}
		c = dial(t, env, fmt.Sprintf("?since=%d&epoch=0123456789abcdef", m.Version()-2), false, nil)
		if d := readMsg(t, c); d.Op != topology.OpSnapshot || d.Version != m.Version() {
			t.Fatalf("another server's epoch: got %q at %d, want a snapshot at %d", d.Op, d.Version, m.Version())
		}
	})
	t.Run("up to date", func(t *testing.T) {
		c := dial(t, env, fmt.Sprintf("?since=%d", m.Version()), false, nil)
		m.AddEvent(topology.Event{Kind: "test", Message: "next"})
		if d := readMsg(t, c); d.Op != topology.OpEvent || d.Version != m.Version() {
			t.Fatalf("got %q at %d, want the next event at %d", d.Op, d.Version, m.Version())
		}
	})
	t.Run("from the future gets a snapshot", func(t *testing.T) {
		// a client of a server that restarted holds a version this model never had
		c := dial(t, env, fmt.Sprintf("?since=%d", m.Version()+1000), false, nil)
		if d := readMsg(t, c); d.Op != topology.OpSnapshot || d.Version != m.Version() {
			t.Fatalf("got %q at %d, want a snapshot at %d", d.Op, d.Version, m.Version())
		}
	})
	t.Run("older than the replay buffer gets a snapshot", func(t *testing.T) {
		small := topology.New(topology.Options{Replay: 4})
		env := webtest.Start(t, web.WithTopology(small))
		t.Cleanup(env.API.Close)
		for i := 0; i < 10; i++ {
			small.AddEvent(topology.Event{Kind: "test", Message: fmt.Sprint(i)})
		}
		c := dial(t, env, "?since=2", false, nil)
		if d := readMsg(t, c); d.Op != topology.OpSnapshot || d.Version != 10 {
			t.Fatalf("got %q at %d, want a snapshot at 10", d.Op, d.Version)
		}
		c = dial(t, env, "?since=7", false, nil)
		if d := readMsg(t, c); d.Op != topology.OpEvent || d.Version != 8 {
			t.Fatalf("got %q at %d, want the replay from 8", d.Op, d.Version)
		}
	})
}

func TestStreamBadInput(t *testing.T) {
	env, _ := startTopology(t, web.WithStream(web.StreamConfig{AllowedOrigins: []string{"https://noc.example"}}))
	t.Cleanup(env.API.Close)
	hdr := func(origin string) http.Header {
		h := http.Header{}
		h.Set("Origin", origin)
		return h
	}
	for _, tc := range []struct {
		name, query     string
		header          http.Header
		status          int
		field, contains string
	}{
		{"since not a number", "?since=abc", nil, 400, "since", "want a version"},
		{"since negative", "?since=-1", nil, 400, "since", "want a version"},
		{"since twice", "?since=1&since=2", nil, 400, "since", "given 2 times"},
		{"unknown parameter", "?from=1", nil, 400, "from", "unknown query parameter"},
		{"foreign origin", "", hdr("http://evil.example"), 403, "Origin", "may not open the stream"},
		{"origin with the right host but another scheme", "", hdr("ftp://" + strings.TrimPrefix(env.URL, "http://")), 403, "Origin", "may not open the stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := websocket.DefaultDialer.Dial(wsURL(env, tc.query), tc.header)
			if err == nil || resp == nil {
				t.Fatalf("dial succeeded (or no response): %v", err)
			}
			defer resp.Body.Close()
			var e api.Error
			if resp.StatusCode != tc.status || json.NewDecoder(resp.Body).Decode(&e) != nil || e.Field != tc.field || !strings.Contains(e.Error, tc.contains) {
				t.Fatalf("status %d, error %+v; want %d with field %q and %q", resp.StatusCode, e, tc.status, tc.field, tc.contains)
			}
		})
	}
	t.Run("plain GET", func(t *testing.T) {
		do(t, env, "GET", api.StreamPath, "").wantError(t, 400, "", "is a websocket")
	})
	t.Run("wrong method", func(t *testing.T) {
		do(t, env, "POST", api.StreamPath, "").wantError(t, 405, "", "not allowed")
	})
	t.Run("own and allowed origins", func(t *testing.T) {
		for _, o := range []string{env.URL, "https://noc.example"} {
			c := dial(t, env, "", false, hdr(o))
			if d := readMsg(t, c); d.Op != topology.OpSnapshot {
				t.Fatalf("origin %s: first message %q", o, d.Op)
			}
		}
	})
	t.Run("no topology", func(t *testing.T) {
		env := webtest.Start(t)
		do(t, env, "GET", api.StreamPath, "").wantError(t, 503, "", "topology is not enabled")
	})
	t.Run("client sends a big message", func(t *testing.T) {
		c := dial(t, env, "", false, nil)
		readMsg(t, c)
		// the server closes the connection at once: the write itself may
		// already see the reset
		_ = c.WriteMessage(websocket.TextMessage, make([]byte, 64<<10))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("the server kept a client that sent 64 KiB: %v", err)
				}
				break
			}
		}
		deadline := time.Now().Add(2 * time.Second)
		for !strings.Contains(env.Logs.String(), "read limit exceeded") {
			if time.Now().After(deadline) {
				t.Fatal("the oversized message is not the logged reason")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestStreamSlowClient: a client that reads far slower than the model
// changes is coalesced, then disconnected with a reason, while a fast
// client on the same server sees every version and the model is never
// held up.
func TestStreamSlowClient(t *testing.T) {
	m := topology.New(topology.Options{})
	ports := make([]topology.Port, 200)
	for i := range ports {
		ports[i] = topology.Port{Number: uint32(i + 1), Name: fmt.Sprintf("port-with-a-longish-name-%04d", i+1), Up: true}
	}
	m.SwitchUp(topology.Switch{DPID: 1}, ports)
	env := webtest.Start(t, web.WithTopology(m), web.WithStream(web.StreamConfig{Queue: 256, SendBuffer: 16 << 10, MaxLags: 3, LagWindow: time.Minute, WriteTimeout: 5 * time.Second}))
	t.Cleanup(env.API.Close)

	fast := dial(t, env, "", false, nil)
	slow := dial(t, env, "", true, nil)
	readMsg(t, slow)
	v0 := readMsg(t, fast).Version

	// the fast client checks every version arrives in order (a snapshot
	// may coalesce, but nothing is skipped without one)
	var fastLast atomic.Uint64
	fastErr := make(chan error, 1)
	go func() {
		last := v0
		for {
			var d streamMsg
			_ = fast.SetReadDeadline(time.Now().Add(10 * time.Second))
			if err := fast.ReadJSON(&d); err != nil {
				fastErr <- fmt.Errorf("fast client: %w (at version %d)", err, last)
				return
			}
			if d.Op != topology.OpSnapshot && d.Version != last+1 {
				fastErr <- fmt.Errorf("fast client: version %d after %d", d.Version, last)
				return
			}
			last = d.Version
			fastLast.Store(last)
		}
	}()

	// the slow client takes one message every 5 ms
	slowDone := make(chan error, 1)
	var slowMsgs atomic.Int64
	go func() {
		for {
			_ = slow.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, _, err := slow.ReadMessage(); err != nil {
				slowDone <- err
				return
			}
			slowMsgs.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	}()

	// the model changes ~1000 times a second in bursts of 10 (the fast
	// client has a 256 ms queue of slack, the slow one takes 200 a second)
	var maxCall time.Duration
	stop := time.After(30 * time.Second)
	var slowErr error
produce:
	for i := 0; ; i++ {
		select {
		case slowErr = <-slowDone:
			break produce
		case err := <-fastErr:
			t.Fatal(err)
		case <-stop:
			t.Fatalf("the slow client (%d messages read) is still connected after 30s", slowMsgs.Load())
		case <-time.After(10 * time.Millisecond):
		}
		for j := 0; j < 10; j++ {
			p := &ports[(i*10+j)%len(ports)]
			p.DPID, p.Up = 1, !p.Up
			start := time.Now()
			m.PortUpdate(*p)
			maxCall = max(maxCall, time.Since(start))
		}
	}
	var ce *websocket.CloseError
	if !errors.As(slowErr, &ce) || ce.Code != web.CloseSlowClient || !strings.Contains(ce.Text, "too slow") {
		t.Fatalf("slow client ended with %v; want close %d with a reason", slowErr, web.CloseSlowClient)
	}
	t.Logf("slow client read %d messages, then: %v", slowMsgs.Load(), slowErr)
	if maxCall > time.Second {
		t.Errorf("a model change took %s: the stream held up the model", maxCall)
	}
	// the fast client catches up with the model at once
	final := m.Version()
	deadline := time.Now().Add(3 * time.Second)
	for fastLast.Load() < final {
		select {
		case err := <-fastErr:
			t.Fatal(err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("fast client at version %d, model at %d", fastLast.Load(), final)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(env.Logs.String(), "client too slow") {
		t.Errorf("the disconnect was not logged")
	}
}

func TestStreamKeepalive(t *testing.T) {
	env, _ := startTopology(t, web.WithStream(web.StreamConfig{PingInterval: 50 * time.Millisecond, PongWait: 300 * time.Millisecond}))
	t.Cleanup(env.API.Close)
	waitClients := func(n int) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for env.API.StreamClients() != n {
			if time.Now().After(deadline) {
				t.Fatalf("%d stream clients, want %d", env.API.StreamClients(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// A reading client answers pings (gorilla's default ping handler) and stays.
	alive := dial(t, env, "", false, nil)
	pings := make(chan struct{}, 100)
	alive.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return alive.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := alive.ReadMessage(); err != nil {
				return
			}
		}
	}()
	// A client that never reads never answers and is dropped.
	dial(t, env, "", false, nil)
	waitClients(2)
	time.Sleep(time.Second)
	waitClients(1)
	if len(pings) < 5 {
		t.Fatalf("%d pings in a second, want ~20", len(pings))
	}
	// Close ends the remaining client with 1001.
	done := make(chan error, 1)
	alive.SetCloseHandler(func(code int, text string) error {
		done <- &websocket.CloseError{Code: code, Text: text}
		return nil
	})
	env.API.Close()
	select {
	case err := <-done:
		if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no close frame after Server.Close")
	}
	waitClients(0)
}

// streamStatsEnv is a controller with one emulated switch (dpid 1, 2
// ports) whose port 1 receives traffic, a collector polling every 100 ms,
// an alert engine, and the API with the model, both and the stream.
func streamStatsEnv(t *testing.T) (*webtest.Env, *alerts.Engine) {
	t.Helper()
	model := topology.New(topology.Options{})
	logs := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctl := webtest.Start(t) // only for its controller
	coll := collector.New(collector.Config{Interval: 100 * time.Millisecond, Logger: logs}, ctl.Ctl)
	eng, err := alerts.New(alerts.Config{Interval: 50 * time.Millisecond, Logger: logs}, alerts.Sources{Collector: coll, Controller: ctl.Ctl, Model: model})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); coll.Run(ctx) }()
	go func() { defer wg.Done(); eng.Run(ctx) }()
	go func() {
		defer wg.Done()
		topology.NewTracker(topology.TrackerConfig{Logger: logs}, ctl.Ctl, model).Run(ctx)
	}()
	api := web.New(ctl.Ctl, web.WithLogger(logs), web.WithoutAuth(), web.WithTopology(model), web.WithCollector(coll), web.WithAlerts(eng))
	srv := httptest.NewServer(api)
	t.Cleanup(func() { api.Close(); srv.Close(); cancel(); wg.Wait() })
	sw := ctl.Connect(switchemu.Config{DPID: 1, Ports: 2})
	go func() {
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				sw.Count(1, 10, 10*1000, 0, 0) // 2000 packets/s, 16 Mbit/s in
			}
		}
	}()
	env := *ctl
	env.URL, env.API = srv.URL, api
	return &env, eng
}

// TestStreamMetricsAndAlerts: port rates arrive coalesced (one value per
// port per message, at most about one message a second although the
// switch is polled ten times a second), and an alert transition arrives
// as it happens.
func TestStreamMetricsAndAlerts(t *testing.T) {
	env, eng := streamStatsEnv(t)
	c := dial(t, env, "?topics=metrics,alerts", false, nil)
	type msg struct {
		Type  string           `json:"type"`
		Time  time.Time        `json:"time"`
		Ports []api.StreamPort `json:"ports"`
		Kind  string           `json:"kind"`
		Alert alerts.Alert     `json:"alert"`
		Flows []api.StreamFlow `json:"flows"`
		Op    string           `json:"op"`
	}
	read := func() msg {
		t.Helper()
		var m msg
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := c.ReadJSON(&m); err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		return m
	}
	var arrivals []time.Time
	var rx float64
	for len(arrivals) < 4 {
		m := read()
		if m.Type == api.StreamTopology || m.Op != "" {
			t.Fatalf("a topology message on a stream without the topology topic: %+v", m)
		}
		if m.Type != api.StreamMetrics {
			continue
		}
		arrivals = append(arrivals, time.Now())
		seen := map[string]bool{}
		for _, p := range m.Ports {
			if seen[p.Key] {
				t.Fatalf("port %s twice in one message: not coalesced", p.Key)
			}
			seen[p.Key] = true
			if p.Key == "port/0000000000000001/1" && p.RxPps != nil {
				rx = *p.RxPps
			}
		}
		if len(m.Flows) != 0 {
			t.Fatalf("flow rates without the flows topic")
		}
	}
	for i := 1; i < len(arrivals); i++ {
		if d := arrivals[i].Sub(arrivals[i-1]); d < 800*time.Millisecond {
			t.Errorf("metrics messages %s apart, want about 1 s", d)
		}
	}
	if rx < 500 || rx > 5000 {
		t.Fatalf("port 1 rx_pps %.0f in the stream, want about 2000", rx)
	}

	one := uint32(1)
	v := alerts.Threshold(100)
	if _, err := eng.AddRule(alerts.Rule{Name: "busy-port", Metric: alerts.MetricPortRxPps, Selector: alerts.Selector{DPID: "1", Port: &one}, Op: ">", Value: &v}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		m := read()
		if m.Type == api.StreamAlert && m.Kind == alerts.StateFiring && m.Alert.Rule == "busy-port" && m.Alert.Series == "port/0000000000000001/1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no firing alert on the stream")
		}
	}
}

func TestStreamTopics(t *testing.T) {
	env, _ := streamStatsEnv(t)
	for _, tc := range []struct {
		query           string
		status          int
		field, contains string
	}{
		{"?topics=weather", 400, "topics", `unknown topic "weather"`},
		{"?topics=metrics,", 400, "topics", `unknown topic ""`},
		{"?topics=metrics&topics=alerts", 400, "topics", "given 2 times"},
	} {
		_, resp, err := websocket.DefaultDialer.Dial(wsURL(env, tc.query), nil)
		if err == nil || resp == nil {
			t.Fatalf("%s: dial succeeded", tc.query)
		}
		var e api.Error
		if resp.StatusCode != tc.status || json.NewDecoder(resp.Body).Decode(&e) != nil || e.Field != tc.field || !strings.Contains(e.Error, tc.contains) {
			t.Errorf("%s: status %d, error %+v", tc.query, resp.StatusCode, e)
		}
		resp.Body.Close()
	}
	// topics whose source the server lacks are left out; none left is a 503
	bare, _ := startTopology(t)
	c := dial(t, bare, "?topics=topology,alerts,metrics", false, nil)
	if m := readMsg(t, c); m.Op != topology.OpSnapshot {
		t.Fatalf("first message %q", m.Op)
	}
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(bare, "?topics=alerts,flows"), nil)
	if err == nil && resp == nil {
		t.Fatal("dial succeeded")
	}
	var e api.Error
	if resp.StatusCode != 503 || json.NewDecoder(resp.Body).Decode(&e) != nil || e.Field != "topics" || !strings.Contains(e.Error, "alerts and statistics collection not enabled") {
		t.Errorf("only missing topics: status %d, error %+v", resp.StatusCode, e)
	}
	resp.Body.Close()
	// only topology: no metrics, and the snapshot first
	c = dial(t, env, "?topics=topology", false, nil)
	if m := readMsg(t, c); m.Op != topology.OpSnapshot {
		t.Fatalf("first message %q", m.Op)
	}
}

// epochOf returns the server's epoch from a stream's hello.
func epochOf(t *testing.T, env *webtest.Env) string {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(wsURL(env, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var h api.StreamHello
	if err := c.ReadJSON(&h); err != nil || h.Epoch == "" {
		t.Fatalf("hello %+v: %v", h, err)
	}
	return h.Epoch
}

// countingConn counts the bytes read from the network.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// TestStreamCompression: large messages (a snapshot) are compressed for
// clients that negotiate permessage-deflate, and arrive intact.
func TestStreamCompression(t *testing.T) {
	m := topology.New(topology.Options{})
	var ports []topology.Port
	for i := 1; i <= 300; i++ {
		ports = append(ports, topology.Port{Number: uint32(i), Name: fmt.Sprintf("port-%04d", i), Up: true, SpeedKbps: 10_000_000})
	}
	m.SwitchUp(topology.Switch{DPID: 1}, ports)
	env := webtest.Start(t, web.WithTopology(m))
	t.Cleanup(env.API.Close)
	snapshot := func(compress bool) (wire int64, size int) {
		var n atomic.Int64
		d := websocket.Dialer{EnableCompression: compress, NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var nd net.Dialer
			c, err := nd.DialContext(ctx, network, addr)
			return countingConn{c, &n}, err
		}}
		c, _, err := d.Dial(wsURL(env, "?topics=topology"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			var msg streamMsg
			if err := json.Unmarshal(b, &msg); err != nil {
				t.Fatal(err)
			}
			if msg.Op == topology.OpSnapshot {
				if len(msg.Snapshot.Ports) != 300 {
					t.Fatalf("snapshot with %d ports", len(msg.Snapshot.Ports))
				}
				return n.Load(), len(b)
			}
		}
	}
	plainWire, size := snapshot(false)
	zWire, _ := snapshot(true)
	t.Logf("snapshot of %d bytes: %d bytes on the wire plain, %d compressed", size, plainWire, zWire)
	if plainWire < int64(size) || zWire > int64(size)/3 {
		t.Fatalf("snapshot of %d bytes: %d plain, %d compressed on the wire", size, plainWire, zWire)
	}
}
