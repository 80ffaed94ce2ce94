package web

// The websocket stream: GET /api/v1/stream[?since=VERSION][&topics=...].
//
// Topics (default topology,metrics,alerts; those the server has no source
// for are left out): topology (the model: snapshot and deltas), metrics
// (port rates, coalesced per port per second), flows (flow rates, the
// same way) and alerts (every pending, firing and resolved transition).
//
// The first message is a "hello" with the server's epoch (random per
// server start) and the topics. Versions count from 1 again when the
// server restarts, so a client resumes with ?since=V&epoch=E: a different
// epoch means another server's versions, and it gets a snapshot.
//
// On connect the client gets the topology as one "snapshot" message at a
// version, then every change of the model as it happens. A client that
// reconnects with ?since=V (the version of the last message it processed)
// gets the changes after V replayed in order, or a fresh snapshot when V is
// too old for the model's replay buffer: either way nothing is missed.
//
// Every client has its own bounded queue (the model subscription). The
// model never waits for a client: a client whose queue fills up is dropped
// by the model, and the stream resubscribes from the last version it sent,
// which replays the backlog or, when it is too long, coalesces it into one
// snapshot. A client that falls behind MaxLags times within LagWindow, or
// does not take one message within WriteTimeout, is disconnected with a
// close reason (1013, "try again later"). The server pings every
// PingInterval and drops clients that have not answered (pong or any
// message) within PongWait.

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/satellite-sdn/satellite/api"
	"github.com/satellite-sdn/satellite/web/internal/httpapi"
	"github.com/satellite-sdn/satellite/web/metricsapi"

	"github.com/gorilla/websocket"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/collector"
	"github.com/satellite-sdn/satellite/topology"
)

// StreamConfig tunes the websocket stream. Zero fields take the defaults.
type StreamConfig struct {
	// Queue is each client's queue of deltas (default 1024).
	Queue int
	// SendBuffer is the kernel send buffer of each client's socket
	// (default 256 KiB; Linux doubles it). It bounds what a client that
	// stopped reading holds on the server besides its queue, and makes it
	// fall behind (and be coalesced) soon instead of after megabytes.
	SendBuffer int
	// WriteTimeout bounds the write of one message to a client (default
	// 10s); a client that does not take it in time is disconnected.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings (default 15s).
	PingInterval time.Duration
	// PongWait is how long a client may stay silent (no pong, no message)
	// before it is disconnected (default 3 pings: 45s).
	PongWait time.Duration
	// MaxLags and LagWindow: a client whose queue overflows MaxLags times
	// (default 3) within LagWindow (default 1m) is disconnected. Before
	// that, each overflow coalesces the backlog (replay or snapshot).
	MaxLags   int
	LagWindow time.Duration
	// MaxClients is how many clients may be connected at once (default
	// 256); one more is answered 503 before the upgrade.
	MaxClients int
	// AllowedOrigins are origins (scheme://host[:port]) allowed besides the
	// server's own host. Requests without an Origin header (not from a
	// browser) are always allowed; "*" allows every origin.
	AllowedOrigins []string
}

// Defaults of StreamConfig.
const (
	DefaultStreamQueue        = 1024
	DefaultStreamSendBuffer   = 256 << 10
	DefaultStreamWriteTimeout = 10 * time.Second
	DefaultStreamPingInterval = 15 * time.Second
	DefaultStreamMaxLags      = 3
	DefaultStreamLagWindow    = time.Minute
	DefaultStreamMaxClients   = 256
)

// Close codes and reasons the stream sends.
const (
	// CloseSlowClient (1013, try again later) ends a client that kept
	// falling behind.
	CloseSlowClient = websocket.CloseTryAgainLater
)

func (c StreamConfig) withDefaults() StreamConfig {
	if c.Queue <= 0 {
		c.Queue = DefaultStreamQueue
	}
	if c.SendBuffer <= 0 {
		c.SendBuffer = DefaultStreamSendBuffer
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultStreamWriteTimeout
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultStreamPingInterval
	}
	if c.PongWait <= 0 {
		c.PongWait = 3 * c.PingInterval
	}
	if c.MaxLags <= 0 {
		c.MaxLags = DefaultStreamMaxLags
	}
	if c.LagWindow <= 0 {
		c.LagWindow = DefaultStreamLagWindow
	}
	if c.MaxClients <= 0 {
		c.MaxClients = DefaultStreamMaxClients
	}
	return c
}

// WithStream sets the websocket stream's settings.
func WithStream(c StreamConfig) Option { return func(s *Server) { s.streamCfg = c } }

// streamHub tracks the connected clients so that Close can end them.
type streamHub struct {
	mu      sync.Mutex
	closed  bool
	clients map[*streamClient]struct{}
	n       int // clients connected or upgrading (reserve)

	// the last snapshot sent, encoded once for every client that gets it
	snapMu  sync.Mutex
	snapVer uint64
	snapBuf []byte

	epochOnce sync.Once
	epochID   string
}

// epoch returns the server's random epoch.
func (h *streamHub) epoch() string {
	h.epochOnce.Do(func() {
		var b [8]byte
		_, _ = rand.Read(b[:])
		h.epochID = hex.EncodeToString(b[:])
	})
	return h.epochID
}

func (h *streamHub) add(c *streamClient) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	if h.clients == nil {
		h.clients = make(map[*streamClient]struct{})
	}
	h.clients[c] = struct{}{}
	return true
}

// reserve takes a place for one more client, false when max are taken.
func (h *streamHub) reserve(max int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n >= max {
		return false
	}
	h.n++
	return true
}

func (h *streamHub) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n--
}

// snapshot returns the encoded message of snapshot delta d, encoding it
// only when no client was sent this version yet: a burst of clients
// connecting to a large topology costs one encoding, and one buffer.
func (h *streamHub) snapshot(d *topology.Delta) ([]byte, error) {
	h.snapMu.Lock()
	defer h.snapMu.Unlock()
	if h.snapBuf != nil && h.snapVer == d.Version {
		return h.snapBuf, nil
	}
	b, err := json.Marshal(api.StreamMessage{Type: api.StreamTopology, Delta: d})
	if err != nil {
		return nil, err
	}
	h.snapVer, h.snapBuf = d.Version, b
	return b, nil
}

func (h *streamHub) remove(c *streamClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, c)
}

// StreamClients returns how many websocket clients are connected.
func (s *Server) StreamClients() int {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return len(s.hub.clients)
}

// Close ends every websocket stream with 1001 (going away) and refuses new
// ones. http.Server.Shutdown does not do this: it does not track
// connections taken over by websockets.
func (s *Server) Close() {
	s.hub.mu.Lock()
	s.hub.closed = true
	clients := make([]*streamClient, 0, len(s.hub.clients))
	for c := range s.hub.clients {
		clients = append(clients, c)
	}
	s.hub.mu.Unlock()
	for _, c := range clients {
		c.stop()
	}
}

// hijackWriter gives the upgrader the http.Hijacker of a response writer
// wrapped by the middleware.
type hijackWriter struct{ http.ResponseWriter }

func (h hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(h.ResponseWriter).Hijack()
}

// checkOrigin allows requests without an Origin (not from a browser),
// from the server's own host, and from the configured origins.
func checkOrigin(r *http.Request, allowed []string) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return nil
		}
	}
	return httpapi.Errorf(http.StatusForbidden, "Origin", "origin %q may not open the stream: only pages served by %s (or allowed origins) may", origin, r.Host)
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request) error {
	q, err := httpapi.Query(r, "since", "epoch", "topics")
	if err != nil {
		return err
	}
	topics, err := s.streamTopics(q)
	if err != nil {
		return err
	}
	since, _, err := httpapi.UintParam(q, "since", 1<<63, "a version: a whole number from a previous message (0 for a snapshot)")
	if err != nil {
		return err
	}
	if q.Has("epoch") && q.Get("epoch") != s.hub.epoch() {
		since = 0 // versions of another run of the server: start with a snapshot
	}
	if !websocket.IsWebSocketUpgrade(r) {
		return httpapi.Errorf(http.StatusBadRequest, "", "%s is a websocket: want a request with Connection: Upgrade and Upgrade: websocket", api.StreamPath)
	}
	cfg := s.streamCfg.withDefaults()
	if err := checkOrigin(r, cfg.AllowedOrigins); err != nil {
		return err
	}
	if !s.hub.reserve(cfg.MaxClients) {
		w.Header().Set("Retry-After", "10")
		return httpapi.Errorf(http.StatusServiceUnavailable, "", "too many stream clients: %d are connected, the limit (http.max_stream_clients) is %d; try again later", cfg.MaxClients, cfg.MaxClients)
	}
	defer s.hub.release()
	// the server's read deadline (http.read_timeout) must not end the
	// stream; read sets its own (PongWait)
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	up := websocket.Upgrader{
		HandshakeTimeout:  5 * time.Second,
		EnableCompression: true,
		CheckOrigin:       func(*http.Request) bool { return true }, // checked above, with a JSON error
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			s.writeError(w, httpapi.Errorf(status, "", "websocket handshake: %v", reason))
		},
	}
	conn, err := up.Upgrade(hijackWriter{w}, r, nil)
	if err != nil {
		return nil // the upgrader answered already
	}
	if tc, ok := conn.NetConn().(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(cfg.SendBuffer)
	}
	c := &streamClient{s: s, topics: topics, conn: conn, cfg: cfg, remote: r.RemoteAddr, done: make(chan struct{})}
	if topics[api.TopicTopology] {
		c.m = s.model
	}
	if !s.hub.add(c) {
		c.closeWith(websocket.CloseGoingAway, "server shutting down")
		conn.Close()
		return nil
	}
	defer s.hub.remove(c)
	c.run(since)
	return nil
}

// streamTopics parses ?topics=: a comma-separated subset of topology,
// metrics, flows and alerts (default topology,metrics,alerts). Topics the
// server has no source for are left out; when none is left, 503.
func (s *Server) streamTopics(q url.Values) (map[string]bool, error) {
	have := map[string]bool{api.TopicTopology: s.model != nil, api.TopicMetrics: s.coll != nil, api.TopicFlows: s.coll != nil, api.TopicAlerts: s.alertEng != nil}
	what := map[string]string{api.TopicTopology: "topology", api.TopicMetrics: "statistics collection", api.TopicFlows: "statistics collection", api.TopicAlerts: "alerts"}
	asked := []string{api.TopicTopology, api.TopicMetrics, api.TopicAlerts}
	if q.Has("topics") {
		asked = strings.Split(q.Get("topics"), ",")
		for i, t := range asked {
			asked[i] = strings.TrimSpace(t)
			if _, ok := have[asked[i]]; !ok {
				return nil, httpapi.Errorf(http.StatusBadRequest, "topics", "unknown topic %q: want a comma-separated list of topology, metrics, flows, alerts", asked[i])
			}
		}
	}
	out := map[string]bool{}
	var off []string
	for _, t := range asked {
		if have[t] {
			out[t] = true
		} else {
			off = append(off, what[t])
		}
	}
	if len(out) == 0 {
		if !q.Has("topics") {
			return nil, httpapi.Errorf(http.StatusServiceUnavailable, "", "nothing to stream: topology is not enabled on this server, nor statistics or alerts")
		}
		return nil, httpapi.Errorf(http.StatusServiceUnavailable, "topics", "nothing to stream: %s not enabled on this server", strings.Join(slices.Compact(off), " and "))
	}
	return out, nil
}

// streamClient is one websocket client. run is its only writer (besides
// the close frame of stop, which gorilla allows concurrently).
type streamClient struct {
	s      *Server
	m      *topology.Model // nil without the topology topic
	topics map[string]bool
	conn   *websocket.Conn
	cfg    StreamConfig
	remote string

	once sync.Once
	done chan struct{} // closed by stop
}

func (c *streamClient) stop() { c.once.Do(func() { close(c.done) }) }

// closeWith sends a close frame (best effort: a client that does not read
// may never see it).
func (c *streamClient) closeWith(code int, reason string) {
	if len(reason) > 120 { // a close frame's payload is at most 125 bytes
		reason = reason[:120]
	}
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}

func (c *streamClient) run(since uint64) {
	log := c.s.log.With("remote", c.remote)
	defer c.conn.Close()
	readerDone := make(chan error, 1)
	go c.read(readerDone)

	// nil channels for the topics the client did not ask for
	var sub *topology.Subscription
	var deltas <-chan topology.Delta
	if c.m != nil {
		sub = c.m.Subscribe(since, c.cfg.Queue)
		deltas = sub.C
		defer func() { sub.Close() }()
	}
	var batches <-chan *collector.Batch
	var flush <-chan time.Time
	rates := newRateBuffer(c.topics[api.TopicFlows])
	if c.topics[api.TopicMetrics] || c.topics[api.TopicFlows] {
		bs := c.s.coll.Subscribe(64)
		defer bs.Close()
		batches = bs.C
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		flush = tick.C
	}
	var alertEvents <-chan alerts.Event
	if c.topics[api.TopicAlerts] {
		as := c.s.alertEng.Stream().Subscribe(256)
		defer as.Close()
		alertEvents = as.C
	}
	hello := api.StreamHello{Type: api.StreamHelloType, Epoch: c.s.hub.epoch(), Topics: []string{}}
	for _, t := range []string{api.TopicTopology, api.TopicMetrics, api.TopicFlows, api.TopicAlerts} {
		if c.topics[t] {
			hello.Topics = append(hello.Topics, t)
		}
	}
	if err := c.writeJSON(hello); err != nil {
		log.Debug("stream client disconnected", "reason", "write failed: "+err.Error())
		return
	}
	last := since
	var lags []time.Time
	ping := time.NewTicker(c.cfg.PingInterval)
	defer ping.Stop()
	log.Debug("stream client connected", "since", since)
	for {
		select {
		case d, ok := <-deltas:
			if !ok {
				if !errors.Is(sub.Err(), topology.ErrLagged) {
					return // closed by us
				}
				now := time.Now()
				lags = append(lags, now)
				for len(lags) > 0 && now.Sub(lags[0]) > c.cfg.LagWindow {
					lags = lags[1:]
				}
				if len(lags) >= c.cfg.MaxLags {
					reason := fmt.Sprintf("client too slow: fell behind %d times within %s", len(lags), c.cfg.LagWindow)
					log.Info("stream client disconnected", "reason", reason, "version", last)
					c.closeWith(CloseSlowClient, reason)
					return
				}
				log.Debug("stream client fell behind; coalescing", "version", last, "lags", len(lags))
				sub = c.m.Subscribe(last, c.cfg.Queue)
				deltas = sub.C
				continue
			}
			if err := c.write(&d); err != nil {
				log.Info("stream client disconnected", "reason", "write failed: "+err.Error(), "version", last)
				return
			}
			last = d.Version
		case b, ok := <-batches:
			if !ok {
				batches = nil // the collector stopped: no more rates (and no busy loop)
				continue
			}
			rates.add(b, c.topics[api.TopicMetrics])
		case now := <-flush:
			if msg := rates.take(now); msg != nil {
				if err := c.writeJSON(msg); err != nil {
					log.Info("stream client disconnected", "reason", "write failed: "+err.Error())
					return
				}
			}
		case ev, ok := <-alertEvents:
			if !ok {
				alertEvents = nil
				continue
			}
			if err := c.writeJSON(api.StreamAlertEvent{Type: api.StreamAlert, Kind: ev.Kind, Time: ev.Time, Alert: ev.Alert}); err != nil {
				log.Info("stream client disconnected", "reason", "write failed: "+err.Error())
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.cfg.WriteTimeout)); err != nil {
				log.Info("stream client disconnected", "reason", "ping failed: "+err.Error())
				return
			}
		case err := <-readerDone:
			log.Debug("stream client disconnected", "reason", err.Error(), "version", last)
			return
		case <-c.done:
			c.closeWith(websocket.CloseGoingAway, "server shutting down")
			return
		}
	}
}

// compressAbove is the size from which messages are compressed (when
// the client negotiated permessage-deflate): snapshots and the rates of
// large fabrics; small deltas are not worth the CPU.
const compressAbove = 4096

// write sends one delta. A snapshot is encoded once for all clients
// (streamHub.snapshot) and d lets go of it before the write, which may
// take until WriteTimeout for a client that does not read.
func (c *streamClient) write(d *topology.Delta) error {
	if d.Op != topology.OpSnapshot {
		return c.writeJSON(api.StreamMessage{Type: api.StreamTopology, Delta: d})
	}
	b, err := c.s.hub.snapshot(d)
	if err != nil {
		return err
	}
	d.Snapshot = nil
	return c.writeBytes(b)
}

// writeJSON sends one message.
func (c *streamClient) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.writeBytes(b)
}

// writeBytes sends one encoded message.
func (c *streamClient) writeBytes(b []byte) error {
	c.conn.EnableWriteCompression(len(b) >= compressAbove)
	if err := c.conn.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout)); err != nil {
		return err
	}
	return c.conn.WriteMessage(websocket.TextMessage, b)
}

// rateBuffer coalesces the collector's samples per series: it keeps only
// the latest sample of each port (and flow) until the next flush, so a
// client gets at most one value per series per second however often the
// switches are polled, and its memory is bounded by the number of series.
type rateBuffer struct {
	flows bool
	ports map[string]api.StreamPort
	fl    map[string]api.StreamFlow
}

func newRateBuffer(flows bool) *rateBuffer {
	return &rateBuffer{flows: flows, ports: map[string]api.StreamPort{}, fl: map[string]api.StreamFlow{}}
}

// num is a rate for JSON: nil for NaN or infinities.
func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func (rb *rateBuffer) add(b *collector.Batch, ports bool) {
	if ports {
		for i := range b.Ports {
			p := &b.Ports[i]
			rb.ports[p.Key] = api.StreamPort{
				Key: p.Key, DPID: FormatDPID(p.DPID), Port: p.Port, Name: p.Name, SpeedKbps: p.SpeedKbps, T: time.Unix(0, p.Time).UTC(),
				PortRates: metricsapi.PortRates(&p.Rates, num),
			}
		}
	}
	if rb.flows {
		// flows with a history of their own, and per table the sum of the
		// others: a switch with 200,000 flows costs a client a few hundred
		// entries per poll (docs/collector.md, "Large flow tables")
		for i := range b.Flows {
			f := &b.Flows[i]
			if !f.History {
				continue
			}
			rb.fl[f.Info.Key] = api.StreamFlow{Key: f.Info.Key, DPID: FormatDPID(f.Info.DPID), T: time.Unix(0, f.Time).UTC(), Bps: num(f.Bps), Pps: num(f.Pps)}
		}
		for i := range b.Others {
			o := &b.Others[i]
			rb.fl[o.Key] = api.StreamFlow{Key: o.Key, DPID: FormatDPID(o.DPID), T: time.Unix(0, o.Time).UTC(), Bps: num(o.Bps), Pps: num(o.Pps)}
		}
	}
}

// take returns the buffered samples as one message (sorted by key), or
// nil when there are none, and empties the buffer.
func (rb *rateBuffer) take(now time.Time) *api.StreamRates {
	if len(rb.ports) == 0 && len(rb.fl) == 0 {
		return nil
	}
	msg := &api.StreamRates{Type: api.StreamMetrics, Time: now.UTC()}
	for _, p := range rb.ports {
		msg.Ports = append(msg.Ports, p)
	}
	for _, f := range rb.fl {
		msg.Flows = append(msg.Flows, f)
	}
	sort.Slice(msg.Ports, func(i, j int) bool { return msg.Ports[i].Key < msg.Ports[j].Key })
	sort.Slice(msg.Flows, func(i, j int) bool { return msg.Flows[i].Key < msg.Flows[j].Key })
	clear(rb.ports)
	clear(rb.fl)
	return msg
}

// read consumes what the client sends (nothing is expected but control
// frames) and reports why the connection ended: a close, an error, or
// silence longer than PongWait.
func (c *streamClient) read(done chan<- error) {
	c.conn.SetReadLimit(4096)
	alive := func() { _ = c.conn.SetReadDeadline(time.Now().Add(c.cfg.PongWait)) }
	alive()
	c.conn.SetPongHandler(func(string) error { alive(); return nil })
	for {
		if _, _, err := c.conn.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			var ne net.Error
			switch {
			case errors.As(err, &ce):
				err = fmt.Errorf("client closed (%d %s)", ce.Code, ce.Text)
			case errors.As(err, &ne) && ne.Timeout():
				err = fmt.Errorf("no pong within %s", c.cfg.PongWait)
			}
			done <- err
			return
		}
		alive()
	}
}
