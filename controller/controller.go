// Package controller is Satellite's embedded OpenFlow 1.3 controller: it
// accepts switch connections, keeps one Session per datapath, publishes
// switch events on a Bus, and programs flows and groups.
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	of "github.com/netrack/openflow"
	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// Config holds the controller's settings. Zero values take the defaults.
type Config struct {
	// Listen holds OpenFlow listen targets in OVS syntax: "tcp:[HOST]:PORT"
	// or "unix:PATH". Default: tcp::6653.
	Listen []string
	// EchoInterval is how often a quiet switch is sent an echo request
	// (default 1s); after EchoMisses intervals without any message the
	// session is declared dead (default 3).
	EchoInterval time.Duration
	EchoMisses   int
	// RequestTimeout bounds requests whose context has no deadline (default 5s).
	RequestTimeout time.Duration
	// HandshakeTimeout bounds hello + features + port description (default 10s).
	HandshakeTimeout time.Duration
	// WriteTimeout bounds each write to a switch (default 5s).
	WriteTimeout time.Duration
	// Per-switch packet-out and packet-in rate limits in packets/s and burst
	// (default 2000/s, burst 500).
	PacketOutRate, PacketInRate   float64
	PacketOutBurst, PacketInBurst int
	// MaxMultipartBytes caps one reassembled multipart reply (default 256 MiB).
	MaxMultipartBytes int
	// Logger receives structured logs (default: slog.Default()).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if len(c.Listen) == 0 {
		c.Listen = []string{"tcp::6653"}
	}
	if c.EchoInterval <= 0 {
		c.EchoInterval = time.Second
	}
	if c.EchoMisses <= 0 {
		c.EchoMisses = 3
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 5 * time.Second
	}
	if c.PacketOutRate <= 0 {
		c.PacketOutRate = 2000
	}
	if c.PacketOutBurst <= 0 {
		c.PacketOutBurst = 500
	}
	if c.PacketInRate <= 0 {
		c.PacketInRate = 2000
	}
	if c.PacketInBurst <= 0 {
		c.PacketInBurst = 500
	}
	if c.MaxMultipartBytes <= 0 {
		c.MaxMultipartBytes = 256 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Controller accepts switch connections and owns their sessions.
type Controller struct {
	cfg Config
	log *slog.Logger
	bus *Bus

	mu       sync.RWMutex
	sessions map[uint64]*Session
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

// New returns a controller; call Run (or Serve) to accept switches.
func New(cfg Config) *Controller {
	cfg.setDefaults()
	return &Controller{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "controller"),
		bus:      NewBus(),
		sessions: make(map[uint64]*Session),
		conns:    make(map[net.Conn]struct{}),
	}
}

// Config returns the effective configuration (defaults filled in).
func (c *Controller) Config() Config { return c.cfg }

// Bus returns the event stream that switch events are published on.
func (c *Controller) Bus() *Bus { return c.bus }

// Switch returns the session of a connected switch, or nil.
func (c *Controller) Switch(dpid uint64) *Session {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.sessions[dpid]
}

// Switches returns the connected switches sorted by datapath id.
func (c *Controller) Switches() []*Session {
	c.mu.RLock()
	out := make([]*Session, 0, len(c.sessions))
	for _, s := range c.sessions {
		out = append(out, s)
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].DPID() < out[j].DPID() })
	return out
}

// Listen opens one listen target ("tcp:[HOST]:PORT" or "unix:PATH"). A
// stale unix socket file left by a previous run is replaced.
func Listen(target string) (net.Listener, error) {
	network, addr, ok := strings.Cut(target, ":")
	if !ok {
		return nil, fmt.Errorf("openflow target %q: want tcp:[HOST]:PORT or unix:PATH", target)
	}
	switch network {
	case "tcp", "ptcp":
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			// OVS style "tcp:6653" means port only
			if _, perr := fmt.Sscanf(addr, "%d", new(int)); perr == nil && !strings.Contains(addr, ":") {
				host, port = "", addr
			} else {
				return nil, fmt.Errorf("openflow target %q: %v (want tcp:[HOST]:PORT)", target, err)
			}
		}
		return net.Listen("tcp", net.JoinHostPort(host, port))
	case "unix", "punix":
		if addr == "" {
			return nil, fmt.Errorf("openflow target %q: missing socket path", target)
		}
		if err := os.MkdirAll(filepath.Dir(addr), 0o755); err != nil {
			return nil, fmt.Errorf("openflow target %q: %w", target, err)
		}
		if fi, err := os.Lstat(addr); err == nil && fi.Mode()&os.ModeSocket != 0 {
			if conn, err := net.Dial("unix", addr); err == nil {
				conn.Close()
				return nil, fmt.Errorf("openflow target %q: another process is listening on that socket", target)
			}
			os.Remove(addr)
		}
		return net.Listen("unix", addr)
	default:
		return nil, fmt.Errorf("openflow target %q: unsupported network %q (want tcp or unix)", target, network)
	}
}

// Run listens on every configured target and serves switches until ctx
// ends; then it closes the listeners and every session.
func (c *Controller) Run(ctx context.Context) error {
	var lns []net.Listener
	for _, t := range c.cfg.Listen {
		ln, err := Listen(t)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return err
		}
		c.log.Info("openflow listening", "target", t, "addr", ln.Addr().String())
		lns = append(lns, ln)
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- c.Serve(ctx, ln) }()
	}
	var first error
	for range lns {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Serve accepts switches on ln until ctx ends. It closes ln and, on
// return, every session that was accepted through any listener.
func (c *Controller) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				c.closeAll("controller shutting down")
				c.wg.Wait()
				return nil
			}
			// temporary errors (e.g. out of file descriptors): back off
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			c.log.Warn("accept failed, retrying", "err", err, "in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.ServeConn(ctx, conn)
		}()
	}
}

func (c *Controller) closeAll(reason string) {
	c.mu.RLock()
	conns := make([]net.Conn, 0, len(c.conns))
	for conn := range c.conns {
		conns = append(conns, conn)
	}
	sessions := make([]*Session, 0, len(c.sessions))
	for _, s := range c.sessions {
		sessions = append(sessions, s)
	}
	c.mu.RUnlock()
	for _, s := range sessions {
		s.Close(reason)
	}
	for _, conn := range conns {
		conn.Close()
	}
}

// ServeConn runs one switch connection to its end: handshake, then the
// session until the connection fails, the keepalive gives up or ctx ends.
// Any problem with the peer is logged and closes only this connection.
func (c *Controller) ServeConn(ctx context.Context, conn net.Conn) {
	c.mu.Lock()
	c.conns[conn] = struct{}{}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.conns, conn)
		c.mu.Unlock()
		conn.Close()
	}()
	// A bug in our decoding must never take the process down: log it and
	// drop this one connection.
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("internal error while serving a switch; connection dropped", "remote", remoteName(conn), "panic", fmt.Sprint(r))
		}
	}()

	s := newSession(conn, &c.cfg, c.bus, c.log)
	r := newReader(conn)
	if err := c.handshake(ctx, s, r); err != nil {
		c.log.Warn("switch handshake failed; connection closed", "remote", s.remote, "err", err)
		s.Close("handshake failed: " + err.Error())
		return
	}
	dpid := fmt.Sprintf("%016x", s.DPID())
	s.log = c.log.With("dpid", dpid)

	c.mu.Lock()
	old := c.sessions[s.DPID()]
	c.sessions[s.DPID()] = s
	c.mu.Unlock()
	if old != nil {
		old.Close("replaced by a new connection from the same datapath")
		<-old.Done()
	}
	s.ready.Store(true)
	s.log.Info("switch connected", "remote", s.remote, "ports", len(s.Ports()), "software", s.desc.Software)
	s.publish(Event{Kind: SwitchUp})

	go s.keepalive()
	stop := context.AfterFunc(ctx, func() { s.Close("controller shutting down") })
	defer stop()
	<-s.done

	c.mu.Lock()
	if c.sessions[s.DPID()] == s {
		delete(c.sessions, s.DPID())
	}
	c.mu.Unlock()
	s.log.Info("switch disconnected", "reason", s.CloseReason())
	s.bus.Publish(Event{Kind: SwitchDown, DPID: s.DPID(), Time: time.Now(), Reason: s.CloseReason()})
}

// incompatibleText is sent to a switch that cannot speak OpenFlow 1.3.
const incompatibleText = "Satellite speaks OpenFlow 1.3 only; add OpenFlow13 to the bridge's protocols (ovs-vsctl set bridge BR protocols=OpenFlow13)"

func (c *Controller) handshake(ctx context.Context, s *Session, r *ofwire.Reader) error {
	deadline := time.Now().Add(c.cfg.HandshakeTimeout)
	hello := &ofp.Hello{Elements: ofp.HelloElems{&ofp.HelloElemVersionBitmap{Bitmaps: []uint32{1 << ofwire.Version}}}}
	b, err := ofwire.Encode(of.TypeHello, s.nextXID(), hello)
	if err != nil {
		return err
	}
	if err := s.write(b); err != nil {
		return err
	}
	_ = s.conn.SetReadDeadline(deadline)
	msg, err := r.ReadMessage()
	if err != nil {
		return fmt.Errorf("reading hello: %w", err)
	}
	if msg.Type != of.TypeHello {
		return fmt.Errorf("expected hello, got %v (version 0x%02x)", msg.Type, msg.Version)
	}
	h, err := ofwire.DecodeHello(msg.Body)
	if err != nil {
		return err
	}
	if !h.Supports(msg.Version, ofwire.Version) {
		e := &ofp.Error{Type: ofp.ErrTypeHelloFailed, Code: ofp.ErrCodeHelloFailedIncompatible, Data: []byte(incompatibleText)}
		if b, err := ofwire.Encode(of.TypeError, msg.XID, e); err == nil {
			_ = s.write(b)
		}
		return fmt.Errorf("switch offers OpenFlow version 0x%02x (bitmap %v), not 1.3: %s", msg.Version, h.Bitmap, incompatibleText)
	}
	_ = s.conn.SetReadDeadline(time.Time{})
	r.Version = ofwire.Version
	go s.readLoop(r)

	hctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	fr, err := s.Request(hctx, of.TypeFeaturesRequest, nil)
	if err != nil {
		return fmt.Errorf("features request: %w", err)
	}
	if s.features, err = ofwire.DecodeFeatures(fr.Body); err != nil {
		return err
	}
	if s.features.AuxiliaryID != 0 {
		return fmt.Errorf("auxiliary connections are not supported (auxiliary id %d)", s.features.AuxiliaryID)
	}
	// Full packets to the controller, no fragment reassembly.
	if _, err := s.Send(of.TypeSetConfig, &ofp.SwitchConfig{MissSendLength: ofp.ContentLenNoBuffer}); err != nil {
		return err
	}
	if body, err := s.Multipart(hctx, ofwire.MultipartDesc, nil); err == nil {
		s.desc, _ = ofwire.DecodeDesc(body)
	} else {
		return fmt.Errorf("description request: %w", err)
	}
	body, err := s.Multipart(hctx, ofwire.MultipartPortDesc, nil)
	if err != nil {
		return fmt.Errorf("port description request: %w", err)
	}
	ports, err := ofwire.DecodePorts(body)
	if err != nil {
		return err
	}
	s.mu.Lock()
	for _, p := range ports {
		s.ports[p.No] = p
	}
	s.mu.Unlock()
	s.connectedAt = time.Now()
	return nil
}
