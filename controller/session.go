package controller

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	of "github.com/netrack/openflow"
	"github.com/netrack/openflow/ofp"
	"golang.org/x/time/rate"

	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// Errors returned by session requests.
var (
	ErrSessionClosed = errors.New("switch session closed")
	ErrRateLimited   = errors.New("packet-out rate limit reached")
	ErrTooLarge      = errors.New("multipart reply exceeds the configured size limit")
	// ErrNotMaster: another controller of the cluster masters the switch.
	ErrNotMaster = errors.New("this controller is not the switch's master (another instance of the cluster is)")
)

// Session is the controller's connection to one switch. All methods are
// safe for concurrent use.
type Session struct {
	cfg    *Config
	log    *slog.Logger
	bus    *Bus
	conn   net.Conn
	remote string

	features    ofwire.Features
	desc        ofwire.Desc
	connectedAt time.Time
	ready       atomic.Bool

	mu    sync.RWMutex
	ports map[uint32]ofwire.Port

	wmu sync.Mutex // serialises writes
	xid atomic.Uint32

	pmu     sync.Mutex
	pending map[uint32]*call

	lastRx atomic.Int64 // unix nanoseconds of the last message received

	done      chan struct{}
	gone      chan struct{} // closed once the controller published its SwitchDown (registered sessions)
	closeOnce sync.Once
	reason    atomic.Value // string

	pktOut *rate.Limiter
	// Packet-in allowances: the tunnel probes' replies have their own, so
	// no tenant can starve them; everything else shares pktIn, and each
	// in_port may use at most PacketInPortRate of it (pktInPort, used by
	// the read loop only), so one noisy port cannot starve the others.
	pktIn, pktInProbe *rate.Limiter
	pktInPort         map[uint32]*rate.Limiter

	stats sessionCounters

	// role is this controller's role on the switch as far as it knows
	// (RoleEqual without Config.Mastership), generation the generation id
	// of the last role request the switch accepted.
	role       atomic.Uint32
	generation atomic.Uint64
	roleMu     sync.Mutex // one role request at a time
}

type sessionCounters struct {
	rxMessages, txMessages   atomic.Uint64
	malformed                atomic.Uint64
	packetInDropped          atomic.Uint64
	packetInDroppedProbe     atomic.Uint64
	packetInPortLimited      atomic.Uint64
	packetOutLimited         atomic.Uint64
	echoSent, unmatchedReply atomic.Uint64
}

// SessionStats are counters of one session.
type SessionStats struct {
	RxMessages      uint64 `json:"rx_messages"`
	TxMessages      uint64 `json:"tx_messages"`
	Malformed       uint64 `json:"malformed"`
	PacketInDropped uint64 `json:"packet_in_dropped"`
	// PacketInDroppedProbe: of PacketInDropped, tunnel probe replies (their
	// own allowance was used up); PacketInPortLimited: of PacketInDropped,
	// those from a port that used up its per-port allowance.
	PacketInDroppedProbe uint64 `json:"packet_in_dropped_probe"`
	PacketInPortLimited  uint64 `json:"packet_in_port_limited"`
	PacketOutLimited     uint64 `json:"packet_out_limited"`
	EchoSent             uint64 `json:"echo_sent"`
	UnmatchedReplies     uint64 `json:"unmatched_replies"`
}

// call is one outstanding request.
type call struct {
	multipart bool
	mpType    uint16
	parts     [][]byte
	size      int
	errOnly   bool // a fire-and-forget message: only errors are collected
	err       error
	done      chan result
}

type result struct {
	msg ofwire.Message
	err error
}

func newSession(conn net.Conn, cfg *Config, bus *Bus, log *slog.Logger) *Session {
	s := &Session{
		cfg:     cfg,
		log:     log,
		bus:     bus,
		conn:    conn,
		remote:  remoteName(conn),
		ports:   make(map[uint32]ofwire.Port),
		pending: make(map[uint32]*call),
		done:    make(chan struct{}),
		gone:    make(chan struct{}),
		pktOut:  rate.NewLimiter(rate.Limit(cfg.PacketOutRate), cfg.PacketOutBurst),
		pktIn:   rate.NewLimiter(rate.Limit(cfg.PacketInRate), cfg.PacketInBurst),

		pktInProbe: rate.NewLimiter(rate.Limit(cfg.PacketInRate), cfg.PacketInBurst),
		pktInPort:  make(map[uint32]*rate.Limiter),
	}
	s.lastRx.Store(time.Now().UnixNano())
	s.role.Store(RoleEqual)
	if cfg.Mastership {
		s.role.Store(RoleSlave)
	}
	return s
}

func remoteName(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		return a.String()
	}
	if a := c.LocalAddr(); a != nil {
		return "unix:" + a.String()
	}
	return "unknown"
}

// DPID returns the datapath id.
func (s *Session) DPID() uint64 { return s.features.DatapathID }

// Features returns the features reply received during the handshake.
func (s *Session) Features() ofwire.Features { return s.features }

// Desc returns the switch description (manufacturer, software, ...).
func (s *Session) Desc() ofwire.Desc { return s.desc }

// RemoteAddr names the peer (an address, or the unix socket path).
func (s *Session) RemoteAddr() string { return s.remote }

// ConnectedAt is when the handshake completed.
func (s *Session) ConnectedAt() time.Time { return s.connectedAt }

// LastReceived is when the last message from the switch was read.
func (s *Session) LastReceived() time.Time { return time.Unix(0, s.lastRx.Load()) }

// Done is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.done }

// CloseReason says why the session ended ("" while it is open).
func (s *Session) CloseReason() string {
	r, _ := s.reason.Load().(string)
	return r
}

// Stats returns the session's counters.
func (s *Session) Stats() SessionStats {
	return SessionStats{
		RxMessages: s.stats.rxMessages.Load(), TxMessages: s.stats.txMessages.Load(),
		Malformed: s.stats.malformed.Load(), PacketInDropped: s.stats.packetInDropped.Load(),
		PacketInDroppedProbe: s.stats.packetInDroppedProbe.Load(), PacketInPortLimited: s.stats.packetInPortLimited.Load(),
		PacketOutLimited: s.stats.packetOutLimited.Load(), EchoSent: s.stats.echoSent.Load(),
		UnmatchedReplies: s.stats.unmatchedReply.Load(),
	}
}

// Ports returns the switch's ports sorted by number.
func (s *Session) Ports() []ofwire.Port {
	s.mu.RLock()
	out := make([]ofwire.Port, 0, len(s.ports))
	for _, p := range s.ports {
		out = append(out, p)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].No < out[j].No })
	return out
}

// BridgeName is the name of the switch's LOCAL port: for Open vSwitch the
// bridge's name (br-int); "" when it has none.
func (s *Session) BridgeName() string {
	p, _ := s.Port(0xfffffffe)
	return p.Name
}

// Port returns one port.
func (s *Session) Port(no uint32) (ofwire.Port, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.ports[no]
	return p, ok
}

// Close ends the session; reason is logged and reported on the SwitchDown event.
func (s *Session) Close(reason string) {
	s.closeOnce.Do(func() {
		s.reason.Store(reason)
		close(s.done)
		s.conn.Close()
		s.pmu.Lock()
		for xid, c := range s.pending {
			delete(s.pending, xid)
			if !c.errOnly {
				c.done <- result{err: fmt.Errorf("%w: %s", ErrSessionClosed, reason)}
			}
		}
		s.pmu.Unlock()
	})
}

func (s *Session) nextXID() uint32 {
	for {
		if x := s.xid.Add(1); x != 0 {
			return x
		}
	}
}

// write sends pre-encoded messages in one write, bounded by WriteTimeout.
// A failed write ends the session: the stream is no longer in sync.
func (s *Session) write(msgs ...[]byte) error {
	var buf []byte
	if len(msgs) == 1 {
		buf = msgs[0]
	} else {
		n := 0
		for _, m := range msgs {
			n += len(m)
		}
		buf = make([]byte, 0, n)
		for _, m := range msgs {
			buf = append(buf, m...)
		}
	}
	if s.role.Load() == RoleSlave {
		for _, m := range msgs {
			if len(m) > 1 && masterOnly[m[1]] {
				return fmt.Errorf("dpid %016x: %v: %w", s.DPID(), of.Type(m[1]), ErrNotMaster)
			}
		}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	select {
	case <-s.done:
		return fmt.Errorf("%w: %s", ErrSessionClosed, s.CloseReason())
	default:
	}
	timeout := s.cfg.WriteTimeout + time.Duration(len(buf)/(1<<20))*time.Second
	_ = s.conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := s.conn.Write(buf); err != nil {
		s.Close("write failed: " + err.Error())
		return fmt.Errorf("dpid %016x: write: %w", s.DPID(), err)
	}
	s.stats.txMessages.Add(uint64(len(msgs)))
	return nil
}

// Send writes one message without waiting for any reply. It returns the xid used.
func (s *Session) Send(t of.Type, body io.WriterTo) (uint32, error) {
	xid := s.nextXID()
	b, err := ofwire.Encode(t, xid, body)
	if err != nil {
		return 0, err
	}
	return xid, s.write(b)
}

func (s *Session) register(c *call) uint32 {
	xid := s.nextXID()
	s.pmu.Lock()
	s.pending[xid] = c
	s.pmu.Unlock()
	return xid
}

func (s *Session) unregister(xid uint32) *call {
	s.pmu.Lock()
	c := s.pending[xid]
	delete(s.pending, xid)
	s.pmu.Unlock()
	return c
}

func (s *Session) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.cfg.RequestTimeout)
}

// Request sends one message and waits for the reply with the same xid. An
// OFPT_ERROR reply is returned as *ofwire.Error. Without a deadline on ctx,
// the configured request timeout applies.
func (s *Session) Request(ctx context.Context, t of.Type, body io.WriterTo) (ofwire.Message, error) {
	return s.request(ctx, t, body, &call{done: make(chan result, 1)})
}

func (s *Session) request(ctx context.Context, t of.Type, body io.WriterTo, c *call) (ofwire.Message, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	xid := s.register(c)
	b, err := ofwire.Encode(t, xid, body)
	if err != nil {
		s.unregister(xid)
		return ofwire.Message{}, err
	}
	if err := s.write(b); err != nil {
		s.unregister(xid)
		return ofwire.Message{}, err
	}
	select {
	case r := <-c.done:
		return r.msg, r.err
	case <-ctx.Done():
		s.unregister(xid)
		return ofwire.Message{}, fmt.Errorf("dpid %016x: %v xid %d: no reply: %w", s.DPID(), t, xid, ctx.Err())
	}
}

// Multipart sends a multipart request and returns the reassembled reply
// payload (all parts concatenated, multipart headers removed). OpenFlow
// never splits an entry across parts, so the result decodes as one body.
func (s *Session) Multipart(ctx context.Context, mpType uint16, body io.WriterTo) ([]byte, error) {
	req := ofp.NewMultipartRequest(ofp.MultipartType(mpType), body)
	c := &call{multipart: true, mpType: mpType, done: make(chan result, 1)}
	msg, err := s.request(ctx, of.TypeMultipartRequest, req, c)
	if err != nil {
		return nil, err
	}
	return msg.Body, nil
}

// Barrier waits until the switch has processed every message sent before it.
func (s *Session) Barrier(ctx context.Context) error {
	_, err := s.Request(ctx, of.TypeBarrierRequest, nil)
	return err
}

// Echo sends an echo request and waits for the reply. The round trip is
// the switch's own delay in answering plus this controller's in reading
// the answer: a slow datapath or a starved read loop shows here first.
func (s *Session) Echo(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	_, err := s.Request(ctx, of.TypeEchoRequest, &ofp.EchoRequest{Data: []byte("satellite-rtt")})
	return time.Since(start), err
}

// Roles for SetRole (OpenFlow 1.3 ofp_controller_role).
const (
	RoleNoChange = uint32(ofp.ControllerRoleNoChange)
	RoleEqual    = uint32(ofp.ControllerRoleEqual)
	RoleMaster   = uint32(ofp.ControllerRoleMaster)
	RoleSlave    = uint32(ofp.ControllerRoleSlave)
)

// masterOnly are the message types only a master sends (OpenFlow 1.3
// 6.3.5: those a switch refuses from a slave with OFPBRC_IS_SLAVE).
var masterOnly = [256]bool{
	byte(of.TypeFlowMod): true, byte(of.TypeGroupMod): true, byte(of.TypePortMod): true,
	byte(of.TypeTableMod): true, byte(of.TypePacketOut): true, byte(of.TypeMeterMod): true,
}

// SetRole sends a role request and returns the switch's answer. The
// session's role (Role, Writable) is the one the switch accepted; asking
// to be a slave closes the gate at once, and a request the switch refuses
// as stale (a newer master exists) leaves a slave. A change of role
// publishes a RoleChange event.
func (s *Session) SetRole(ctx context.Context, role uint32, generation uint64) (ofwire.RoleReply, error) {
	s.roleMu.Lock()
	defer s.roleMu.Unlock()
	if role == RoleSlave {
		s.setRole(RoleSlave, s.generation.Load()) // stop sending at once, whatever the switch answers
	}
	msg, err := s.Request(ctx, of.TypeRoleRequest, &ofp.RoleRequest{Role: ofp.ControllerRole(role), GenerationID: generation})
	if err != nil {
		var e *ofwire.Error
		if errors.As(err, &e) && e.Type == uint16(ofp.ErrTypeRoleRequestFailed) && e.Code == uint16(ofp.ErrCodeRoleRequestFailedStale) && s.cfg.Mastership {
			s.setRole(RoleSlave, s.generation.Load())
		}
		return ofwire.RoleReply{}, err
	}
	r, err := ofwire.DecodeRoleReply(msg.Body)
	if err != nil {
		return r, err
	}
	if role != RoleNoChange {
		s.setRole(r.Role, r.GenerationID)
	}
	return r, nil
}

// Role returns this controller's role on the switch and the generation id
// of the last role request the switch accepted.
func (s *Session) Role() (role uint32, generation uint64) {
	return s.role.Load(), s.generation.Load()
}

// Writable reports whether this controller may change the switch: its
// master, or an equal (no mastership).
func (s *Session) Writable() bool { return s.role.Load() != RoleSlave }

func (s *Session) setRole(role uint32, generation uint64) {
	s.generation.Store(generation)
	if old := s.role.Swap(role); old != role {
		s.log.Info("switch role changed", "role", RoleName(role), "was", RoleName(old), "generation", generation)
		if s.ready.Load() {
			s.publish(Event{Kind: RoleChange, Reason: RoleName(role)})
		}
	}
}

// RoleName names a role: equal, master, slave (nochange for 0).
func RoleName(role uint32) string {
	switch role {
	case RoleEqual:
		return "equal"
	case RoleMaster:
		return "master"
	case RoleSlave:
		return "slave"
	}
	return "nochange"
}

// sendChecked writes fire-and-forget messages (flow-mods, group-mods)
// followed by a barrier, and returns the errors the switch reported for
// them. OpenFlow sends those errors before the barrier reply.
func (s *Session) sendChecked(ctx context.Context, t of.Type, bodies []io.WriterTo) error {
	calls := make([]*call, len(bodies))
	xids := make([]uint32, len(bodies))
	msgs := make([][]byte, 0, len(bodies))
	defer func() {
		for _, x := range xids {
			if x != 0 {
				s.unregister(x)
			}
		}
	}()
	for i, body := range bodies {
		calls[i] = &call{errOnly: true}
		xids[i] = s.register(calls[i])
		b, err := ofwire.Encode(t, xids[i], body)
		if err != nil {
			return err
		}
		msgs = append(msgs, b)
	}
	// Keep single writes to a reasonable size so the write deadline stays meaningful.
	const chunk = 1024
	for i := 0; i < len(msgs); i += chunk {
		if err := s.write(msgs[i:min(i+chunk, len(msgs))]...); err != nil {
			return err
		}
	}
	if err := s.Barrier(ctx); err != nil {
		return err
	}
	var errs []error
	s.pmu.Lock()
	for i, c := range calls {
		if c.err != nil {
			errs = append(errs, fmt.Errorf("%v #%d: %w", t, i, c.err))
		}
	}
	s.pmu.Unlock()
	if len(errs) > 0 {
		return fmt.Errorf("dpid %016x: %w", s.DPID(), errors.Join(errs...))
	}
	return nil
}

// PacketOut sends a packet out of the switch, waiting for the per-switch
// rate limiter at most until ctx ends.
func (s *Session) PacketOut(ctx context.Context, inPort uint32, actions ofp.Actions, data []byte) error {
	if err := s.pktOut.Wait(ctx); err != nil {
		s.stats.packetOutLimited.Add(1)
		return fmt.Errorf("dpid %016x: %w: %v", s.DPID(), ErrRateLimited, err)
	}
	_, err := s.Send(of.TypePacketOut, &ofp.PacketOut{Buffer: ofp.NoBuffer, InPort: ofp.PortNo(inPort), Actions: actions, Data: data})
	return err
}

// readLoop reads and dispatches messages until the connection fails.
func (s *Session) readLoop(r *ofwire.Reader) {
	defer func() {
		// A bug in our decoding must not take the process down: drop this
		// switch's connection (it reconnects) and keep serving the others.
		if p := recover(); p != nil {
			s.log.Error("internal error while reading from a switch; connection dropped", "panic", fmt.Sprint(p))
			s.Close(fmt.Sprintf("internal error: %v", p))
		}
	}()
	for {
		msg, err := r.ReadMessage()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
				s.Close("connection closed by switch")
			case errors.Is(err, net.ErrClosed):
				s.Close("connection closed")
			default:
				s.stats.malformed.Add(1)
				s.Close("read: " + err.Error())
			}
			return
		}
		s.lastRx.Store(time.Now().UnixNano())
		s.stats.rxMessages.Add(1)
		s.dispatch(msg)
	}
}

func (s *Session) malformed(msg ofwire.Message, err error) {
	s.stats.malformed.Add(1)
	s.log.Warn("dropped malformed message from switch", "type", msg.Type.String(), "xid", msg.XID, "len", msg.Length, "err", err)
}

func (s *Session) dispatch(msg ofwire.Message) {
	switch msg.Type {
	case of.TypeEchoRequest:
		b, _ := ofwire.Encode(of.TypeEchoReply, msg.XID, &ofp.EchoReply{Data: msg.Body})
		_ = s.write(b)
	case of.TypeEchoReply:
		// liveness was recorded by the read loop; Echo (and answersEcho) may be waiting
		s.deliver(msg, nil)
	case of.TypeHello:
		// liveness was recorded by the read loop
	case of.TypeError:
		e, err := ofwire.DecodeError(msg.Body)
		if err != nil {
			s.malformed(msg, err)
			return
		}
		if e.Type == uint16(ofp.ErrTypeBadRequest) && e.Code == uint16(ofp.ErrCodeBadRequestIsSlave) && s.cfg.Mastership && s.role.Load() != RoleSlave {
			// the switch has a newer master: this controller was deposed
			// (fenced by the generation id) and stops sending at once
			s.log.Warn("the switch refused a message as from a slave: another controller is its master now; stepping down", "xid", msg.XID)
			s.setRole(RoleSlave, s.generation.Load())
		}
		if s.deliver(msg, e) {
			return
		}
		s.log.Warn("switch reported an error", "xid", msg.XID, "err", e.Error())
		s.publish(Event{Kind: SwitchError, Error: e})
	case of.TypeMultipartReply:
		s.deliverMultipart(msg)
	case of.TypeBarrierReply, of.TypeRoleReply, of.TypeFeaturesReply, of.TypeGetConfigReply,
		of.TypeGetAsyncReply, of.TypeQueueGetConfigReply:
		if !s.deliver(msg, nil) {
			s.stats.unmatchedReply.Add(1)
			s.log.Debug("reply for no outstanding request", "type", msg.Type.String(), "xid", msg.XID)
		}
	case of.TypePacketIn:
		if !s.allowPacketIn(msg.Body) {
			s.stats.packetInDropped.Add(1)
			return
		}
		p, err := ofwire.DecodePacketIn(msg.Body)
		if err != nil {
			s.malformed(msg, err)
			return
		}
		s.publish(Event{Kind: PacketIn, PacketIn: &p})
	case of.TypePortStatus:
		ps, err := ofwire.DecodePortStatus(msg.Body)
		if err != nil {
			s.malformed(msg, err)
			return
		}
		s.portStatus(ps)
	case of.TypeFlowRemoved:
		fr, err := ofwire.DecodeFlowRemoved(msg.Body)
		if err != nil {
			s.malformed(msg, err)
			return
		}
		s.publish(Event{Kind: FlowRemoved, FlowRemoved: &fr})
	default:
		s.log.Debug("ignored message", "type", msg.Type.String(), "xid", msg.XID)
	}
}

// maxPortLimiters bounds the per-port packet-in limiters of one switch;
// ports beyond share the last one.
const maxPortLimiters = 4096

// allowPacketIn applies the packet-in allowances before the body is
// decoded: the cookie is at a fixed offset, and OVS puts in_port first in
// the match (otherwise the packet counts against port 0's allowance).
func (s *Session) allowPacketIn(body []byte) bool {
	if len(body) >= 16 && Cookie(binary.BigEndian.Uint64(body[8:16])).Kind() == OwnerProbe {
		if !s.pktInProbe.Allow() {
			s.stats.packetInDroppedProbe.Add(1)
			return false
		}
		return true
	}
	var port uint32
	if len(body) >= 28 && binary.BigEndian.Uint32(body[20:24]) == 0x80000004 {
		port = binary.BigEndian.Uint32(body[24:28])
	}
	pl := s.pktInPort[port]
	if pl == nil {
		if len(s.pktInPort) >= maxPortLimiters {
			port = 0xffffffff
			pl = s.pktInPort[port]
		}
		if pl == nil {
			pl = rate.NewLimiter(rate.Limit(s.cfg.PacketInPortRate), s.cfg.PacketInPortBurst)
			s.pktInPort[port] = pl
		}
	}
	// the port's own allowance first, so that a port over it does not use
	// up the switch's
	if !pl.Allow() {
		s.stats.packetInPortLimited.Add(1)
		return false
	}
	return s.pktIn.Allow()
}

func (s *Session) portStatus(ps ofwire.PortStatus) {
	p := ps.Port
	var kind EventKind
	s.mu.Lock()
	switch ps.Reason {
	case ofwire.PortReasonAdd:
		kind = PortAdd
		s.ports[p.No] = p
	case ofwire.PortReasonDelete:
		kind = PortDelete
		delete(s.ports, p.No)
	default:
		kind = PortModify
		if _, known := s.ports[p.No]; !known {
			kind = PortAdd
		}
		s.ports[p.No] = p
	}
	s.mu.Unlock()
	s.log.Debug("port status", "port", p.No, "name", p.Name, "event", kind.String(), "up", p.Up())
	s.publish(Event{Kind: kind, Port: &p})
}

func (s *Session) publish(e Event) {
	if !s.ready.Load() {
		return
	}
	e.DPID = s.DPID()
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	s.bus.Publish(e)
}

// deliver hands a reply (or an error, when e is non-nil) to the request
// waiting for msg.XID. It reports whether anybody was waiting.
func (s *Session) deliver(msg ofwire.Message, e *ofwire.Error) bool {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	c, ok := s.pending[msg.XID]
	if !ok {
		return false
	}
	if c.errOnly {
		if e != nil {
			c.err = e
		}
		return true
	}
	delete(s.pending, msg.XID)
	if e != nil {
		c.done <- result{err: e}
	} else {
		c.done <- result{msg: msg}
	}
	return true
}

func (s *Session) deliverMultipart(msg ofwire.Message) {
	h, payload, err := ofwire.SplitMultipart(msg.Body)
	if err != nil {
		s.malformed(msg, err)
		return
	}
	s.pmu.Lock()
	defer s.pmu.Unlock()
	c, ok := s.pending[msg.XID]
	if !ok || !c.multipart {
		s.stats.unmatchedReply.Add(1)
		return
	}
	if h.Type != c.mpType {
		delete(s.pending, msg.XID)
		c.done <- result{err: fmt.Errorf("multipart reply of type %d to a request of type %d", h.Type, c.mpType)}
		return
	}
	c.size += len(payload)
	if c.size > s.cfg.MaxMultipartBytes {
		delete(s.pending, msg.XID)
		c.done <- result{err: fmt.Errorf("%w (%d bytes)", ErrTooLarge, s.cfg.MaxMultipartBytes)}
		return
	}
	c.parts = append(c.parts, payload)
	if h.Flags&ofwire.MultipartReplyMore != 0 {
		return
	}
	delete(s.pending, msg.XID)
	body := payload
	if len(c.parts) > 1 {
		body = make([]byte, 0, c.size)
		for _, p := range c.parts {
			body = append(body, p...)
		}
	}
	msg.Body = body
	c.done <- result{msg: msg}
}

// keepalive sends echo requests while the switch is quiet and ends the
// session when nothing has arrived for EchoMisses intervals.
func (s *Session) keepalive() {
	t := time.NewTicker(s.cfg.EchoInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			idle := now.Sub(time.Unix(0, s.lastRx.Load()))
			if idle >= time.Duration(s.cfg.EchoMisses)*s.cfg.EchoInterval {
				s.Close(fmt.Sprintf("keepalive timeout: nothing received for %s (%d echo requests unanswered)", idle.Round(time.Millisecond), s.cfg.EchoMisses))
				return
			}
			if idle >= s.cfg.EchoInterval-s.cfg.EchoInterval/10 {
				s.stats.echoSent.Add(1)
				_, _ = s.Send(of.TypeEchoRequest, &ofp.EchoRequest{Data: []byte("satellite")})
			}
		}
	}
}

// answersEcho sends an echo request and reports whether the switch
// answered it within timeout.
func (s *Session) answersEcho(timeout time.Duration) bool {
	if isDone(s) {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s.stats.echoSent.Add(1)
	_, err := s.Echo(ctx)
	return err == nil
}

func isDone(s *Session) bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// newReader wraps the connection for the read loop.
func newReader(c net.Conn) *ofwire.Reader { return ofwire.NewReader(bufio.NewReaderSize(c, 64<<10)) }
