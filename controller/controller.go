// Package controller is Satellite's embedded OpenFlow 1.3 controller: it
// accepts switch connections, keeps one Session per datapath, publishes
// switch events on a Bus, and programs flows and groups.
package controller

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
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
// DefaultEchoMisses is how many silent echo intervals end a session by
// default (Config.EchoMisses).
const DefaultEchoMisses = 10

type Config struct {
	// Listen holds OpenFlow listen targets in OVS syntax: "tcp:[HOST]:PORT",
	// "ssl:[HOST]:PORT" (needs TLS) or "unix:PATH". Default:
	// tcp:127.0.0.1:6653.
	Listen []string
	// TLS is the server configuration of ssl: listeners (see ServerTLS:
	// client certificates required and verified).
	TLS *tls.Config
	// Access pins datapath ids to certificates and source addresses.
	Access Access
	// MaxHandshakes bounds the connections whose handshake (TLS and
	// OpenFlow) is in progress (default 256), MaxHandshakesPerSource
	// those from one address (default 8; unix peers count globally only).
	// Connections over the limit are closed at once.
	MaxHandshakes, MaxHandshakesPerSource int
	// TakeoverEchoTimeout: when a connection claims the datapath id of a
	// connected switch, that switch is sent an echo; it keeps its session
	// if it answers within this time (default 1s), and the newcomer is
	// refused.
	TakeoverEchoTimeout time.Duration
	// WarnEvery is the interval of repeated warnings and security events:
	// one line per kind of problem (and switch) per interval, then a
	// summary of how many were suppressed (default 10s).
	WarnEvery time.Duration
	// EchoInterval is how often a quiet switch is sent an echo request
	// (default 1s); after EchoMisses intervals without any message the
	// session is declared dead (default 10: ten seconds, the dead time
	// OVS itself grants its controller with its 5 s inactivity probe). A
	// switch process stalled for a few seconds is slow, not dead:
	// dropping its session would take its links and probes down with it.
	EchoInterval time.Duration
	EchoMisses   int
	// RequestTimeout bounds requests whose context has no deadline (default 5s).
	RequestTimeout time.Duration
	// HandshakeTimeout bounds the TLS handshake, and then hello + features
	// + port description (default 5s).
	HandshakeTimeout time.Duration
	// WriteTimeout bounds each write to a switch (default 5s).
	WriteTimeout time.Duration
	// Per-switch packet-out and packet-in rate limits in packets/s and burst
	// (default 2000/s, burst 500).
	PacketOutRate, PacketInRate   float64
	PacketOutBurst, PacketInBurst int
	// PacketInPortRate and PacketInPortBurst cap what one in_port may use
	// of the packet-in allowance (default a quarter of PacketInRate and
	// PacketInBurst). Tunnel probe replies (cookie owner probe) have an
	// allowance of their own (PacketInRate, PacketInBurst).
	PacketInPortRate  float64
	PacketInPortBurst int
	// MaxMultipartBytes caps one reassembled multipart reply (default 256 MiB).
	MaxMultipartBytes int
	// Mastership: several controllers share the switches (a cluster,
	// docs/cluster.md). A session starts as a slave and stays one until
	// SetRole makes it master: a slave's flow-, group-, meter-, port- and
	// table-mods and packet-outs are refused here (ErrNotMaster) before
	// they reach the switch. Off (alone): every session may send anything.
	Mastership bool
	// Logger receives structured logs (default: slog.Default()).
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if len(c.Listen) == 0 {
		c.Listen = []string{"tcp:127.0.0.1:6653"}
	}
	if c.MaxHandshakes <= 0 {
		c.MaxHandshakes = 256
	}
	if c.MaxHandshakesPerSource <= 0 {
		c.MaxHandshakesPerSource = 8
	}
	if c.TakeoverEchoTimeout <= 0 {
		c.TakeoverEchoTimeout = time.Second
	}
	if c.WarnEvery <= 0 {
		c.WarnEvery = 10 * time.Second
	}
	if c.EchoInterval <= 0 {
		c.EchoInterval = time.Second
	}
	if c.EchoMisses <= 0 {
		c.EchoMisses = DefaultEchoMisses
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 5 * time.Second
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
	if c.PacketInPortRate <= 0 {
		c.PacketInPortRate = c.PacketInRate / 4
	}
	if c.PacketInPortBurst <= 0 {
		c.PacketInPortBurst = max(c.PacketInBurst/4, 1)
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
	claims   map[uint64]bool // datapath ids whose connected session is being verified
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup

	adm       admission
	warn      *warnLimiter
	sec       secCounters
	flushOnce sync.Once
}

// New returns a controller; call Run (or Serve) to accept switches.
func New(cfg Config) *Controller {
	cfg.setDefaults()
	return &Controller{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "controller"),
		bus:      NewBus(),
		sessions: make(map[uint64]*Session),
		claims:   make(map[uint64]bool),
		conns:    make(map[net.Conn]struct{}),
		adm:      admission{max: cfg.MaxHandshakes, perSource: cfg.MaxHandshakesPerSource, bySource: make(map[netip.Addr]int)},
		warn:     newWarnLimiter(cfg.WarnEvery),
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

// Master reports whether this controller may change switch dpid: it is
// connected and, with Config.Mastership, this controller is its master.
// Consumers that act on a switch on their own (discovery probes, statistics
// polls, DHCP and ARP answers) ask it first.
func (c *Controller) Master(dpid uint64) bool {
	s := c.Switch(dpid)
	return s != nil && s.Writable()
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
// stale unix socket file left by a previous run is replaced. ssl: targets
// need a TLS configuration: use ListenTLS.
func Listen(target string) (net.Listener, error) { return ListenTLS(target, nil) }

// ListenTLS opens one listen target: "tcp:[HOST]:PORT", "ssl:[HOST]:PORT"
// (TLS with tc, see ServerTLS) or "unix:PATH". "tcp:PORT" and "ssl:PORT"
// mean every address, as do an empty HOST ("tcp::6653"); OVS's passive
// spellings ptcp:, pssl: and punix: are accepted too.
func ListenTLS(target string, tc *tls.Config) (net.Listener, error) {
	network, addr, ok := strings.Cut(target, ":")
	if !ok {
		return nil, fmt.Errorf("openflow target %q: want tcp:[HOST]:PORT, ssl:[HOST]:PORT or unix:PATH", target)
	}
	switch network {
	case "tcp", "ptcp", "ssl", "pssl":
		tcpNet := strings.TrimPrefix(network, "p")
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			// OVS style "tcp:6653" means port only
			if _, perr := fmt.Sscanf(addr, "%d", new(int)); perr == nil && !strings.Contains(addr, ":") {
				host, port = "", addr
			} else {
				return nil, fmt.Errorf("openflow target %q: %v (want %s:[HOST]:PORT)", target, err, tcpNet)
			}
		}
		if tcpNet == "ssl" && tc == nil {
			return nil, fmt.Errorf("openflow target %q: ssl needs the controller's certificate, key and the switch CA: set openflow_tls {cert, key, ca} (with ovs-pki: NAME-cert.pem, NAME-privkey.pem and <pki>/switchca/cacert.pem)", target)
		}
		lnet := "tcp"
		if ip := net.ParseIP(host); ip != nil && ip.To4() != nil {
			lnet = "tcp4" // 0.0.0.0 means IPv4 only, not Go's dual stack
		}
		ln, err := net.Listen(lnet, net.JoinHostPort(host, port))
		if err != nil {
			return nil, fmt.Errorf("openflow target %q: %w", target, err)
		}
		if tcpNet == "ssl" {
			return tls.NewListener(ln, tc), nil
		}
		return ln, nil
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
		return nil, fmt.Errorf("openflow target %q: unsupported network %q (want tcp, ssl or unix)", target, network)
	}
}

// DescribeListener says where ln really listens, for the log: the
// address, and whether that is every interface (IPv4 and IPv6), loopback
// only, or a unix socket.
func DescribeListener(ln net.Listener) (addr, scope string) {
	a := ln.Addr()
	addr = a.String()
	ta, ok := a.(*net.TCPAddr)
	switch {
	case !ok:
		return addr, "unix socket"
	case ta.IP == nil || ta.IP.IsUnspecified():
		if ta.IP.To4() != nil && !ta.IP.Equal(net.IPv6zero) {
			return addr, "all IPv4 interfaces"
		}
		return addr, "all interfaces (IPv4 and IPv6)"
	case ta.IP.IsLoopback():
		return addr, "loopback only"
	}
	return addr, "one interface"
}

// Run listens on every configured target and serves switches until ctx
// ends; then it closes the listeners and every session.
func (c *Controller) Run(ctx context.Context) error {
	var lns []net.Listener
	for _, t := range c.cfg.Listen {
		ln, err := ListenTLS(t, c.cfg.TLS)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return err
		}
		addr, scope := DescribeListener(ln)
		c.log.Info("openflow listening", "target", t, "addr", addr, "on", scope)
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
// Connections from addresses outside Access.Sources, and those over the
// handshake limits, are closed at once.
func (c *Controller) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	c.flushOnce.Do(func() { go c.flushLoop(ctx) })
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
			c.warnf("accept", "accept failed, retrying", "err", err, "in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		ip, isIP := remoteIP(conn)
		if isIP && len(c.cfg.Access.Sources) > 0 && !inPrefixes(c.cfg.Access.Sources, ip) {
			conn.Close()
			c.security(SecSourceRefused, 0, remoteName(conn), fmt.Sprintf("%s is not in openflow_access.sources (%s)", ip, prefixList(c.cfg.Access.Sources)))
			continue
		}
		if !isIP {
			ip = netip.Addr{}
		}
		release, err := c.adm.acquire(ip)
		if err != nil {
			conn.Close()
			c.sec.handshakeLimited.Add(1)
			c.warnf("handshake-limit", "switch connection closed: too many handshakes in progress", "remote", remoteName(conn), "err", err)
			continue
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.serveConn(ctx, conn, release)
		}()
	}
}

// flushLoop logs the summaries of suppressed warnings until ctx ends.
func (c *Controller) flushLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.WarnEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.flushWarnings()
			return
		case <-t.C:
			c.flushWarnings()
		}
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
// (Serve applies the handshake limits; a caller of ServeConn does its own.)
func (c *Controller) ServeConn(ctx context.Context, conn net.Conn) {
	c.serveConn(ctx, conn, func() {})
}

// serveConn is ServeConn; release is called once the handshake is over.
func (c *Controller) serveConn(ctx context.Context, conn net.Conn, release func()) {
	defer release()
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

	if tc, ok := conn.(*tls.Conn); ok {
		hctx, cancel := context.WithTimeout(ctx, c.cfg.HandshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			c.sec.tlsFailed.Add(1)
			c.warnf("tls-handshake", "switch TLS handshake failed; connection closed (a switch needs a certificate signed by the openflow_tls CA)", "remote", remoteName(conn), "err", err)
			return
		}
	}
	s := newSession(conn, &c.cfg, c.bus, c.log)
	r := newReader(conn)
	if err := c.handshake(ctx, s, r); err != nil {
		c.sec.handshakeFailed.Add(1)
		c.warnf("handshake", "switch handshake failed; connection closed", "remote", s.remote, "err", err)
		s.Close("handshake failed: " + err.Error())
		return
	}
	release()
	if kind, msg := c.authorize(s); kind != "" {
		c.security(kind, s.DPID(), s.remote, msg)
		s.Close("refused: " + msg)
		return
	}
	dpid := fmt.Sprintf("%016x", s.DPID())
	s.log = c.log.With("dpid", dpid)
	if !c.claim(s) {
		return
	}
	s.ready.Store(true)
	s.log.Info("switch connected", "remote", s.remote, "ports", len(s.Ports()), "software", s.desc.Software)
	s.publish(Event{Kind: SwitchUp})

	go s.keepalive()
	stop := context.AfterFunc(ctx, func() { s.Close("controller shutting down") })
	defer stop()
	<-s.done

	// The SwitchDown goes out under the lock that registers sessions, so
	// that a new session of the same datapath (claim) publishes its
	// SwitchUp after it: consumers never see the switch down while it is
	// up again. A replaced session's claimant waits for gone.
	c.mu.Lock()
	if c.sessions[s.DPID()] == s {
		delete(c.sessions, s.DPID())
	}
	s.bus.Publish(Event{Kind: SwitchDown, DPID: s.DPID(), Time: time.Now(), Reason: s.CloseReason()})
	c.mu.Unlock()
	close(s.gone)
	s.log.Info("switch disconnected", "reason", s.CloseReason())
}

// claim registers s as its datapath's session. When another session of
// that datapath is connected, that one is sent an echo first: if it
// answers within TakeoverEchoTimeout it keeps the datapath and s is
// refused (a switch-conflict); if not, s replaces it. Until claim
// returns true, s is not listed, publishes nothing and gets no flows.
func (c *Controller) claim(s *Session) bool {
	dpid := s.DPID()
	c.mu.Lock()
	old := c.sessions[dpid]
	if c.claims[dpid] {
		c.mu.Unlock()
		msg := fmt.Sprintf("datapath %016x claimed from %s while another claim for it is being verified", dpid, s.remote)
		c.security(SecSwitchConflict, dpid, s.remote, msg)
		s.Close("refused: " + msg)
		return false
	}
	if old == nil {
		c.sessions[dpid] = s
		c.mu.Unlock()
		return true
	}
	c.claims[dpid] = true
	c.mu.Unlock()

	alive := old.answersEcho(c.cfg.TakeoverEchoTimeout)
	c.mu.Lock()
	delete(c.claims, dpid)
	if alive && c.sessions[dpid] == old {
		c.mu.Unlock()
		msg := fmt.Sprintf("datapath %016x claimed from %s, but its connected session from %s answered an echo: new connection refused", dpid, s.remote, old.remote)
		c.security(SecSwitchConflict, dpid, s.remote, msg)
		s.Close("refused: " + msg)
		return false
	}
	cur := c.sessions[dpid]
	c.sessions[dpid] = s
	c.mu.Unlock()
	if cur != nil {
		if cur == old && !alive && !isDone(old) {
			c.sec.takeovers.Add(1)
			c.security(SecSwitchConflict, dpid, s.remote, fmt.Sprintf("datapath %016x claimed from %s; its session from %s did not answer an echo within %s and was replaced", dpid, s.remote, old.remote, c.cfg.TakeoverEchoTimeout))
		}
		cur.Close("replaced by a new connection from the same datapath (the old one did not answer an echo)")
		<-cur.Done()
		select { // its SwitchDown before our SwitchUp
		case <-cur.gone:
		case <-time.After(2 * time.Second):
		}
	}
	return true
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
