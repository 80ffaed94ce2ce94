// Package switchemu is an emulated OpenFlow 1.3 switch. It speaks the real
// protocol over any net.Conn: handshake, echo, features, descriptions, a
// flow table that honours add/modify/delete by cookie, port and flow
// statistics split into multipart parts like a real switch, groups,
// barriers and roles.
//
// It exists for what Open vSwitch cannot do on one small machine: unit
// tests without root, fuzzing the session layer, benchmarks, and scale
// runs with hundreds of switches (the way cbench and ONOS null providers
// are used). Functional tests of Satellite run against real OVS.
//
// Switches can be cabled together with Connect: a packet-out through a
// cabled port arrives at the far end as a packet-in, which is enough for
// link discovery at scale (see Connect for what is and is not emulated).
package switchemu

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	of "github.com/netrack/openflow"

	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// Config describes the emulated switch.
type Config struct {
	DPID  uint64
	Ports int // ports 1..Ports, named p1..pN (plus LOCAL)
	// MaxReplyBytes caps each multipart reply part (default 65000), so large
	// tables are split into several parts like OVS does.
	MaxReplyBytes int
	// Versions is the bitmap offered in the hello (default: 1.3 only).
	Versions uint32
}

// Flow is one entry of the emulated flow table.
type Flow struct {
	Table       uint8
	Priority    uint16
	Cookie      uint64
	IdleTimeout uint16
	HardTimeout uint16
	Flags       uint16
	Match       []byte // encoded ofp_match with padding
	Inst        []byte // encoded instructions
	Packets     uint64
	Bytes       uint64
	Added       time.Time
}

// Port is an emulated port with counters.
type Port struct {
	ofwire.PortStats
	Name   string
	HWAddr net.HardwareAddr
	Down   bool
}

// Switch is one emulated switch. Methods are safe for concurrent use.
type Switch struct {
	cfg Config

	mu     sync.Mutex
	flows  []*Flow
	groups map[uint32][]byte // group id -> encoded group-desc entry
	ports  map[uint32]*Port
	role   uint32
	cables map[uint32]end // port -> the far end of its cable

	wmu  sync.Mutex
	conn net.Conn

	PacketOuts atomic.Uint64
	FlowMods   atomic.Uint64
	// Relayed counts frames that crossed a cable into this switch and went
	// to the controller; Dropped those that arrived but could not (port
	// down, empty table 0, not connected).
	Relayed, Dropped atomic.Uint64
	// RejectFlowMods, while set, answers every flow-mod with
	// OFPET_FLOW_MOD_FAILED / OFPFMFC_TABLE_FULL, like a full switch.
	RejectFlowMods atomic.Bool
}

// New returns a switch with the given configuration.
func New(cfg Config) *Switch {
	if cfg.MaxReplyBytes <= 0 {
		cfg.MaxReplyBytes = 65000
	}
	if cfg.Versions == 0 {
		cfg.Versions = 1 << ofwire.Version
	}
	s := &Switch{cfg: cfg, groups: make(map[uint32][]byte), ports: make(map[uint32]*Port), cables: make(map[uint32]end)}
	for i := 1; i <= cfg.Ports; i++ {
		s.ports[uint32(i)] = &Port{PortStats: ofwire.PortStats{PortNo: uint32(i)}, Name: fmt.Sprintf("p%d", i), HWAddr: mac(cfg.DPID, i)}
	}
	s.ports[0xfffffffe] = &Port{PortStats: ofwire.PortStats{PortNo: 0xfffffffe}, Name: "br0", HWAddr: mac(cfg.DPID, 0)}
	return s
}

func mac(dpid uint64, port int) net.HardwareAddr {
	return net.HardwareAddr{0x0e, byte(dpid >> 16), byte(dpid >> 8), byte(dpid), byte(port >> 8), byte(port)}
}

// Dial connects to a controller ("tcp" or "unix") and serves it until ctx
// ends or the connection fails.
func (s *Switch) Dial(ctx context.Context, network, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, conn)
}

// Serve speaks OpenFlow on conn until it fails or ctx ends.
func (s *Switch) Serve(ctx context.Context, conn net.Conn) error {
	s.wmu.Lock()
	s.conn = conn
	s.wmu.Unlock()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	hello := make([]byte, 8)
	binary.BigEndian.PutUint16(hello[0:], 1)
	binary.BigEndian.PutUint16(hello[2:], 8)
	binary.BigEndian.PutUint32(hello[4:], s.cfg.Versions)
	if err := s.send(of.TypeHello, 1, hello); err != nil {
		return err
	}
	r := ofwire.NewReader(bufio.NewReaderSize(conn, 64<<10))
	r.Version = ofwire.Version
	for {
		msg, err := r.ReadMessage()
		if err != nil {
			return err
		}
		if err := s.handle(msg); err != nil {
			return err
		}
	}
}

// Conn returns the current connection (nil before Serve).
func (s *Switch) Conn() net.Conn {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.conn
}

// ErrNotConnected is returned for messages sent before Serve or Dial.
var ErrNotConnected = errors.New("switchemu: not connected to a controller")

// WriteRaw writes bytes as they are (for tests that send garbage).
func (s *Switch) WriteRaw(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.conn == nil {
		return ErrNotConnected
	}
	_, err := s.conn.Write(b)
	return err
}

// portStatus tells the controller about a port change; before the switch
// is connected there is nobody to tell (the port description at the
// handshake will include the port).
func (s *Switch) portStatus(body []byte) error {
	if err := s.send(of.TypePortStatus, 0, body); err != nil && !errors.Is(err, ErrNotConnected) {
		return err
	}
	return nil
}

func (s *Switch) send(t of.Type, xid uint32, body []byte) error {
	b := make([]byte, ofwire.HeaderLen+len(body))
	ofwire.PutHeader(b, ofwire.Header{Version: ofwire.Version, Type: t, Length: uint16(len(b)), XID: xid})
	copy(b[ofwire.HeaderLen:], body)
	return s.WriteRaw(b)
}

func (s *Switch) sendError(xid uint32, typ, code uint16, data []byte) error {
	b := make([]byte, 4, 4+64)
	binary.BigEndian.PutUint16(b, typ)
	binary.BigEndian.PutUint16(b[2:], code)
	if len(data) > 64 {
		data = data[:64]
	}
	return s.send(of.TypeError, xid, append(b, data...))
}

func (s *Switch) handle(msg ofwire.Message) error {
	switch msg.Type {
	case of.TypeHello, of.TypeEchoReply, of.TypeSetConfig:
		return nil
	case of.TypeEchoRequest:
		return s.send(of.TypeEchoReply, msg.XID, msg.Body)
	case of.TypeFeaturesRequest:
		b := make([]byte, 24)
		binary.BigEndian.PutUint64(b, s.cfg.DPID)
		binary.BigEndian.PutUint32(b[8:], 0)
		b[12] = 254
		binary.BigEndian.PutUint32(b[16:], 0x4f) // flow, table, port, group stats, ip reasm-less
		return s.send(of.TypeFeaturesReply, msg.XID, b)
	case of.TypeBarrierRequest:
		return s.send(of.TypeBarrierReply, msg.XID, nil)
	case of.TypeRoleRequest:
		if len(msg.Body) < 16 {
			return s.sendError(msg.XID, 1, 0, msg.Body)
		}
		s.mu.Lock()
		if r := binary.BigEndian.Uint32(msg.Body); r != 0 {
			s.role = r
		}
		reply := append([]byte(nil), msg.Body[:16]...)
		binary.BigEndian.PutUint32(reply, s.role)
		s.mu.Unlock()
		return s.send(of.TypeRoleReply, msg.XID, reply)
	case of.TypePacketOut:
		s.PacketOuts.Add(1)
		s.relay(msg.Body)
		return nil
	case of.TypeFlowMod:
		s.FlowMods.Add(1)
		fm, err := ofwire.DecodeFlowMod(msg.Body)
		if err != nil {
			return s.sendError(msg.XID, 1, 0, msg.Body) // bad request
		}
		if s.RejectFlowMods.Load() {
			return s.sendError(msg.XID, 5, 1, msg.Body) // flow-mod failed, table full
		}
		if fm.Table == 0xff && fm.Command == 0 {
			return s.sendError(msg.XID, 5, 2, msg.Body) // flow-mod failed, bad table id
		}
		s.flowMod(fm)
		return nil
	case of.TypeGroupMod:
		return s.groupMod(msg)
	case of.TypeMultipartRequest:
		return s.multipart(msg)
	default:
		return s.sendError(msg.XID, 1, 1, msg.Body) // bad request, bad type
	}
}

func (s *Switch) flowMod(fm ofwire.FlowMod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cookieOK := func(f *Flow) bool { return f.Cookie&fm.CookieMask == fm.Cookie&fm.CookieMask }
	tableOK := func(f *Flow) bool { return fm.Table == 0xff || f.Table == fm.Table }
	same := func(f *Flow) bool {
		return f.Table == fm.Table && f.Priority == fm.Priority && bytes.Equal(f.Match, fm.MatchBytes)
	}
	switch fm.Command {
	case 0: // add
		nf := &Flow{Table: fm.Table, Priority: fm.Priority, Cookie: fm.Cookie, IdleTimeout: fm.IdleTimeout,
			HardTimeout: fm.HardTimeout, Flags: fm.Flags, Match: append([]byte(nil), fm.MatchBytes...),
			Inst: append([]byte(nil), fm.InstructionBytes...), Added: time.Now()}
		for i, f := range s.flows {
			if same(f) {
				s.flows[i] = nf
				return
			}
		}
		s.flows = append(s.flows, nf)
	case 1, 2: // modify, modify strict
		for _, f := range s.flows {
			if cookieOK(f) && tableOK(f) && (fm.Command == 1 || same(f)) {
				f.Inst = append([]byte(nil), fm.InstructionBytes...)
			}
		}
	case 3, 4: // delete, delete strict (match filtering: only exact or match-all)
		kept := s.flows[:0]
		for _, f := range s.flows {
			del := cookieOK(f) && tableOK(f)
			if fm.Command == 4 {
				del = del && same(f)
			} else if len(fm.Match) > 0 {
				del = del && bytes.Equal(f.Match, fm.MatchBytes)
			}
			if !del {
				kept = append(kept, f)
			}
		}
		for i := len(kept); i < len(s.flows); i++ {
			s.flows[i] = nil
		}
		s.flows = kept
	}
}

func (s *Switch) groupMod(msg ofwire.Message) error {
	if len(msg.Body) < 8 {
		return s.sendError(msg.XID, 1, 0, msg.Body)
	}
	cmd := binary.BigEndian.Uint16(msg.Body)
	typ := msg.Body[2]
	id := binary.BigEndian.Uint32(msg.Body[4:])
	s.mu.Lock()
	defer s.mu.Unlock()
	switch cmd {
	case 0, 1: // add, modify
		_, exists := s.groups[id]
		if cmd == 0 && exists {
			return s.sendError(msg.XID, 6, 0, msg.Body) // group exists
		}
		if cmd == 1 && !exists {
			return s.sendError(msg.XID, 6, 8, msg.Body) // unknown group
		}
		buckets := msg.Body[8:]
		e := make([]byte, 8, 8+len(buckets))
		binary.BigEndian.PutUint16(e, uint16(8+len(buckets)))
		e[2] = typ
		binary.BigEndian.PutUint32(e[4:], id)
		s.groups[id] = append(e, buckets...)
	case 2:
		if id == 0xfffffffc {
			clear(s.groups)
		} else {
			delete(s.groups, id)
		}
	}
	return nil
}

// replyParts sends entries as multipart reply parts of at most MaxReplyBytes.
func (s *Switch) replyParts(xid uint32, mpType uint16, entries [][]byte) error {
	part := make([]byte, 8, s.cfg.MaxReplyBytes)
	flush := func(more bool) error {
		binary.BigEndian.PutUint16(part, mpType)
		var flags uint16
		if more {
			flags = ofwire.MultipartReplyMore
		}
		binary.BigEndian.PutUint16(part[2:], flags)
		return s.send(of.TypeMultipartReply, xid, part)
	}
	for _, e := range entries {
		if len(part)+len(e) > s.cfg.MaxReplyBytes && len(part) > 8 {
			if err := flush(true); err != nil {
				return err
			}
			part = part[:8]
		}
		part = append(part, e...)
	}
	return flush(false)
}

func (s *Switch) multipart(msg ofwire.Message) error {
	if len(msg.Body) < 8 {
		return s.sendError(msg.XID, 1, 0, msg.Body)
	}
	mpType := binary.BigEndian.Uint16(msg.Body)
	s.mu.Lock()
	var entries [][]byte
	switch mpType {
	case ofwire.MultipartDesc:
		b := make([]byte, 1056)
		copy(b, "Satellite")
		copy(b[256:], "switchemu")
		copy(b[512:], "switchemu 1.0")
		copy(b[1056-256-32:], fmt.Sprintf("%016x", s.cfg.DPID))
		copy(b[800:], fmt.Sprintf("emulated switch %016x", s.cfg.DPID))
		entries = [][]byte{b}
	case ofwire.MultipartPortDesc:
		for _, no := range s.sortedPorts() {
			entries = append(entries, encodePort(s.ports[no]))
		}
	case ofwire.MultipartPortStats:
		want := uint32(0xffffffff)
		if len(msg.Body) >= 12 {
			want = binary.BigEndian.Uint32(msg.Body[8:])
		}
		for _, no := range s.sortedPorts() {
			if want == 0xffffffff || want == no {
				entries = append(entries, encodePortStats(&s.ports[no].PortStats))
			}
		}
	case ofwire.MultipartFlow:
		req := msg.Body[8:]
		var table uint8 = 0xff
		var cookie, mask uint64
		if len(req) >= 32 {
			table = req[0]
			cookie = binary.BigEndian.Uint64(req[16:])
			mask = binary.BigEndian.Uint64(req[24:])
		}
		now := time.Now()
		for _, f := range s.flows {
			if (table == 0xff || f.Table == table) && f.Cookie&mask == cookie&mask {
				entries = append(entries, encodeFlowStats(f, now))
			}
		}
	case ofwire.MultipartTable:
		counts := map[uint8]uint32{}
		for _, f := range s.flows {
			counts[f.Table]++
		}
		for t := 0; t < 254; t++ {
			b := make([]byte, 24)
			b[0] = uint8(t)
			binary.BigEndian.PutUint32(b[4:], counts[uint8(t)])
			entries = append(entries, b)
		}
	case ofwire.MultipartGroupDesc:
		for _, g := range s.groups {
			entries = append(entries, g)
		}
	case ofwire.MultipartGroup:
		for id, g := range s.groups {
			nb := countBuckets(g[8:])
			b := make([]byte, 40+16*nb)
			binary.BigEndian.PutUint16(b, uint16(len(b)))
			binary.BigEndian.PutUint32(b[4:], id)
			entries = append(entries, b)
		}
	default:
		s.mu.Unlock()
		return s.sendError(msg.XID, 1, 2, msg.Body) // bad request, bad multipart
	}
	s.mu.Unlock()
	return s.replyParts(msg.XID, mpType, entries)
}

func countBuckets(b []byte) int {
	n := 0
	for len(b) >= 2 {
		l := int(binary.BigEndian.Uint16(b))
		if l < 16 || l > len(b) {
			break
		}
		b = b[l:]
		n++
	}
	return n
}

func (s *Switch) sortedPorts() []uint32 {
	out := make([]uint32, 0, len(s.ports))
	for no := range s.ports {
		out = append(out, no)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func encodePort(p *Port) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b, p.PortNo)
	copy(b[8:14], p.HWAddr)
	copy(b[16:32], p.Name)
	if p.Down {
		binary.BigEndian.PutUint32(b[36:], ofwire.PortStateDown)
	} else {
		binary.BigEndian.PutUint32(b[36:], ofwire.PortStateLive)
	}
	binary.BigEndian.PutUint32(b[40:], 0x840) // 10GB-FD, copper
	binary.BigEndian.PutUint32(b[56:], 1e7)   // curr speed kbps
	binary.BigEndian.PutUint32(b[60:], 1e7)   // max speed kbps
	return b
}

func encodePortStats(p *ofwire.PortStats) []byte {
	b := make([]byte, 112)
	binary.BigEndian.PutUint32(b, p.PortNo)
	for i, v := range []uint64{p.RxPackets, p.TxPackets, p.RxBytes, p.TxBytes, p.RxDropped, p.TxDropped,
		p.RxErrors, p.TxErrors, p.RxFrameErr, p.RxOverErr, p.RxCRCErr, p.Collisions} {
		binary.BigEndian.PutUint64(b[8+8*i:], v)
	}
	return b
}

func encodeFlowStats(f *Flow, now time.Time) []byte {
	n := 48 + len(f.Match) + len(f.Inst)
	b := make([]byte, 48, n)
	binary.BigEndian.PutUint16(b, uint16(n))
	b[2] = f.Table
	d := now.Sub(f.Added)
	binary.BigEndian.PutUint32(b[4:], uint32(d/time.Second))
	binary.BigEndian.PutUint32(b[8:], uint32(d%time.Second))
	binary.BigEndian.PutUint16(b[12:], f.Priority)
	binary.BigEndian.PutUint16(b[14:], f.IdleTimeout)
	binary.BigEndian.PutUint16(b[16:], f.HardTimeout)
	binary.BigEndian.PutUint16(b[18:], f.Flags)
	binary.BigEndian.PutUint64(b[24:], f.Cookie)
	binary.BigEndian.PutUint64(b[32:], f.Packets)
	binary.BigEndian.PutUint64(b[40:], f.Bytes)
	b = append(b, f.Match...)
	return append(b, f.Inst...)
}

// Flows returns a copy of the flow table.
func (s *Switch) Flows() []Flow {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Flow, len(s.flows))
	for i, f := range s.flows {
		out[i] = *f
	}
	return out
}

// Count adds traffic to a port's counters and to every flow whose cookie
// matches (for rate tests).
func (s *Switch) Count(port uint32, rxPackets, rxBytes, txPackets, txBytes uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.ports[port]; ok {
		p.RxPackets += rxPackets
		p.RxBytes += rxBytes
		p.TxPackets += txPackets
		p.TxBytes += txBytes
	}
}

// AddPort adds a port and tells the controller (port-status ADD).
func (s *Switch) AddPort(no uint32, name string) error {
	s.mu.Lock()
	p := &Port{PortStats: ofwire.PortStats{PortNo: no}, Name: name, HWAddr: mac(s.cfg.DPID, int(no))}
	s.ports[no] = p
	body := append(make([]byte, 8), encodePort(p)...)
	s.mu.Unlock()
	body[0] = ofwire.PortReasonAdd
	return s.portStatus(body)
}

// SetPortDown changes a port's link state and tells the controller (MODIFY).
func (s *Switch) SetPortDown(no uint32, down bool) error {
	s.mu.Lock()
	p, ok := s.ports[no]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("no port %d", no)
	}
	p.Down = down
	body := append(make([]byte, 8), encodePort(p)...)
	s.mu.Unlock()
	body[0] = ofwire.PortReasonModify
	return s.portStatus(body)
}

// PacketIn sends a packet-in for a frame received on inPort (table miss).
func (s *Switch) PacketIn(inPort uint32, frame []byte) error {
	return s.PacketInCookie(inPort, 0, frame)
}

// PacketInCookie sends a packet-in for a frame received on inPort, sent
// to the controller by the flow with this cookie (reason action).
func (s *Switch) PacketInCookie(inPort uint32, cookie uint64, frame []byte) error {
	b := make([]byte, 16, 16+16+2+len(frame))
	binary.BigEndian.PutUint32(b, 0xffffffff)
	binary.BigEndian.PutUint16(b[4:], uint16(len(frame)))
	if cookie != 0 {
		b[6] = 1 // OFPR_ACTION
		binary.BigEndian.PutUint64(b[8:], cookie)
	}
	// match: OXM type, length 12, in_port TLV, padded to 16
	m := []byte{0, 1, 0, 12, 0x80, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(m[8:], inPort)
	b = append(b, m...)
	b = append(b, 0, 0)
	b = append(b, frame...)
	return s.send(of.TypePacketIn, 0, b)
}

// end is one end of a cable.
type end struct {
	sw   *Switch
	port uint32
}

// Connect cables port pa of a to port pb of b (both must exist, neither
// cabled yet): from then on a packet-out whose actions output to a cabled
// port arrives at the far end as a packet-in (reason table miss, in_port
// the far port), when both ports are up, the far switch is connected and
// its table 0 holds at least one flow. That last condition stands in for
// the controller's ingress flows: like an OpenFlow 1.3 switch, which
// drops a table miss unless a flow says otherwise, a switch that has not
// been given flows yet loses the frame. Flow matches are not evaluated.
func Connect(a *Switch, pa uint32, b *Switch, pb uint32) error {
	if a == b && pa == pb {
		return fmt.Errorf("switchemu: cannot cable port %d to itself", pa)
	}
	for _, e := range []end{{a, pa}, {b, pb}} {
		e.sw.mu.Lock()
		_, ok := e.sw.ports[e.port]
		_, cabled := e.sw.cables[e.port]
		e.sw.mu.Unlock()
		if !ok {
			return fmt.Errorf("switchemu: switch %016x has no port %d", e.sw.cfg.DPID, e.port)
		}
		if cabled {
			return fmt.Errorf("switchemu: port %d of switch %016x is cabled already", e.port, e.sw.cfg.DPID)
		}
	}
	a.mu.Lock()
	a.cables[pa] = end{b, pb}
	a.mu.Unlock()
	b.mu.Lock()
	b.cables[pb] = end{a, pa}
	b.mu.Unlock()
	return nil
}

// relay carries a packet-out's frame over the cables of the ports its
// output actions name.
func (s *Switch) relay(body []byte) {
	if len(body) < 16 {
		return
	}
	al := int(binary.BigEndian.Uint16(body[8:]))
	if 16+al > len(body) {
		return
	}
	actions, frame := body[16:16+al], body[16+al:]
	for len(actions) >= 8 {
		typ, l := binary.BigEndian.Uint16(actions), int(binary.BigEndian.Uint16(actions[2:]))
		if l < 8 || l > len(actions) {
			return
		}
		if typ == 0 && l >= 16 { // OFPAT_OUTPUT
			s.mu.Lock()
			no := binary.BigEndian.Uint32(actions[4:])
			p, c := s.ports[no], s.cables[no]
			s.mu.Unlock()
			if p != nil && !p.Down && c.sw != nil {
				c.sw.receive(c.port, frame)
			}
		}
		actions = actions[l:]
	}
}

// receive handles a frame that arrived over a cable on port in.
func (s *Switch) receive(in uint32, frame []byte) {
	s.mu.Lock()
	p := s.ports[in]
	flows := false
	for _, f := range s.flows {
		if f.Table == 0 {
			flows = true
			break
		}
	}
	s.mu.Unlock()
	if p == nil || p.Down || !flows || s.PacketIn(in, frame) != nil {
		s.Dropped.Add(1)
		return
	}
	s.Relayed.Add(1)
}
