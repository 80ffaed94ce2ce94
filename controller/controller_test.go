package controller_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"github.com/satellite-sdn/satellite/internal/testenv"
	"github.com/satellite-sdn/satellite/internal/testlog"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
	"github.com/satellite-sdn/satellite/controller/switchemu"
)

// logBuffer is the shared test log buffer.
type logBuffer = testlog.Buffer

type harness struct {
	t    *testing.T
	ctl  *controller.Controller
	addr string
	logs *logBuffer
	ctx  context.Context
}

func newHarness(t *testing.T, cfg controller.Config) *harness {
	t.Helper()
	c := testenv.StartController(t, cfg)
	return &harness{t: t, ctl: c.Ctl, addr: c.OpenFlowAddr, logs: c.Logs, ctx: c.Context()}
}

// connect starts an emulated switch and waits until the controller lists it.
func (h *harness) connect(cfg switchemu.Config) *switchemu.Switch {
	h.t.Helper()
	sw := switchemu.New(cfg)
	go sw.Dial(h.ctx, "tcp", h.addr)
	h.waitSwitch(cfg.DPID, true)
	return sw
}

func (h *harness) waitSwitch(dpid uint64, present bool) *controller.Session {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s := h.ctl.Switch(dpid)
		if (s != nil) == present {
			return s
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatalf("switch %016x present=%v not reached within 5s", dpid, present)
	return nil
}

func TestHandshakeListsSwitchWithPorts(t *testing.T) {
	h := newHarness(t, controller.Config{})
	sub := h.ctl.Bus().Subscribe(16, controller.SwitchUp)
	defer sub.Close()
	h.connect(switchemu.Config{DPID: 0xabc, Ports: 4})
	s := h.ctl.Switch(0xabc)
	ports := s.Ports()
	if len(ports) != 5 {
		t.Fatalf("got %d ports, want 4 + LOCAL", len(ports))
	}
	if ports[0].No != 1 || ports[0].Name != "p1" || !ports[0].Up() {
		t.Fatalf("port 1 = %+v", ports[0])
	}
	if ports[4].No != 0xfffffffe || ports[4].Name != "br0" {
		t.Fatalf("LOCAL port = %+v (name must have its NUL padding removed)", ports[4])
	}
	if got := s.Desc().Software; got != "switchemu 1.0" {
		t.Fatalf("software = %q", got)
	}
	select {
	case e := <-sub.C:
		if e.DPID != 0xabc {
			t.Fatalf("switch-up for %x", e.DPID)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no switch-up event")
	}
}

func TestRejectsSwitchWithoutOpenFlow13(t *testing.T) {
	h := newHarness(t, controller.Config{})
	sw := switchemu.New(switchemu.Config{DPID: 7, Versions: 1 << 1}) // OpenFlow 1.0 only
	err := sw.Dial(h.ctx, "tcp", h.addr)
	if err == nil {
		t.Fatal("expected the controller to close the connection")
	}
	if h.ctl.Switch(7) != nil {
		t.Fatal("a 1.0-only switch must not get a session")
	}
	if !strings.Contains(h.logs.String(), "not 1.3") {
		t.Fatalf("no clear log line about the version:\n%s", h.logs.String())
	}
}

func TestFlowsRoundTripWithCookieAndMultipartReassembly(t *testing.T) {
	h := newHarness(t, controller.Config{})
	sw := h.connect(switchemu.Config{DPID: 1, Ports: 2, MaxReplyBytes: 4000})
	s := h.ctl.Switch(1)
	ctx := context.Background()
	const n = 3000
	flows := make([]controller.Flow, n)
	for i := range flows {
		f, err := controller.ParseFlow(fmt.Sprintf("table=1,priority=%d,ip,nw_dst=10.%d.%d.0/24,actions=output:2", 100+i%7, i/256, i%256))
		if err != nil {
			t.Fatal(err)
		}
		f.Cookie = controller.NewCookie(controller.OwnerAPI, 3, uint32(i))
		flows[i] = f
	}
	if err := s.AddFlows(ctx, flows...); err != nil {
		t.Fatal(err)
	}
	if got := len(sw.Flows()); got != n {
		t.Fatalf("switch has %d flows, want %d", got, n)
	}
	stats, err := s.FlowStats(ctx, controller.OwnedBy(controller.OwnerAPI, 3))
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != n {
		t.Fatalf("flow stats returned %d entries, want %d (multipart reassembly)", len(stats), n)
	}
	seen := make(map[uint32]bool)
	for _, fs := range stats {
		c := controller.Cookie(fs.Cookie)
		if c.Kind() != controller.OwnerAPI || c.Scope() != 3 {
			t.Fatalf("cookie %s", c)
		}
		seen[c.Object()] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct cookies, want %d", len(seen), n)
	}
	want := "dl_type=0x800,nw_dst=10.0.5.0/24"
	for _, fs := range stats {
		if controller.Cookie(fs.Cookie).Object() == 5 {
			if got := controller.FormatMatch(fs.Match); got != want {
				t.Fatalf("match = %q, want %q", got, want)
			}
			if got := controller.FormatInstructions(fs.Instructions); got != "output:2" {
				t.Fatalf("actions = %q", got)
			}
		}
	}
	if err := s.DeleteFlows(ctx, controller.FlowFilter{Table: controller.TableAll, Cookie: uint64(controller.NewCookie(controller.OwnerAPI, 3, 5)), CookieMask: controller.CookieMaskAll}); err != nil {
		t.Fatal(err)
	}
	if got := len(sw.Flows()); got != n-1 {
		t.Fatalf("after deleting one cookie: %d flows", got)
	}
	if err := s.DeleteFlows(ctx, controller.OwnedBy(controller.OwnerAPI, 0)); err != nil {
		t.Fatal(err)
	}
	if got := len(sw.Flows()); got != 0 {
		t.Fatalf("after deleting all API flows: %d flows", got)
	}
}

func TestSwitchErrorIsReturnedToTheCaller(t *testing.T) {
	h := newHarness(t, controller.Config{})
	h.connect(switchemu.Config{DPID: 2, Ports: 1})
	s := h.ctl.Switch(2)
	good, _ := controller.ParseFlow("priority=1,actions=drop")
	bad := good
	bad.Table = 0xff // the emulator rejects ADD to table 255 like a real switch
	err := s.AddFlows(context.Background(), good, bad, good)
	if err == nil || !strings.Contains(err.Error(), "#1") {
		t.Fatalf("want an error naming flow #1, got %v", err)
	}
	var e *ofwire.Error
	if !asError(err, &e) || e.Type != 5 {
		t.Fatalf("want an ofwire.Error of type flow-mod-failed, got %v", err)
	}
}

func asError(err error, target **ofwire.Error) bool {
	for _, e := range unwrapAll(err) {
		if oe, ok := e.(*ofwire.Error); ok {
			*target = oe
			return true
		}
	}
	return false
}

func unwrapAll(err error) []error {
	out := []error{err}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, unwrapAll(e)...)
		}
	case interface{ Unwrap() error }:
		if e := u.Unwrap(); e != nil {
			out = append(out, unwrapAll(e)...)
		}
	}
	return out
}

func TestConcurrentRequestsAreCorrelated(t *testing.T) {
	h := newHarness(t, controller.Config{})
	sw := h.connect(switchemu.Config{DPID: 3, Ports: 8})
	sw.Count(5, 11, 1100, 22, 2200)
	s := h.ctl.Switch(3)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 50; i++ {
		wg.Add(3)
		go func() {
			defer wg.Done()
			ps, err := s.PortStats(context.Background(), 5)
			if err == nil && (len(ps) != 1 || ps[0].RxBytes != 1100 || ps[0].TxPackets != 22) {
				err = fmt.Errorf("port stats %+v", ps)
			}
			errs <- err
		}()
		go func() { defer wg.Done(); errs <- s.Barrier(context.Background()) }()
		go func() {
			defer wg.Done()
			r, err := s.SetRole(context.Background(), controller.RoleEqual, 0)
			if err == nil && r.Role != controller.RoleEqual {
				err = fmt.Errorf("role %d", r.Role)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestPortStatusEvents(t *testing.T) {
	h := newHarness(t, controller.Config{})
	sub := h.ctl.Bus().Subscribe(16, controller.PortAdd, controller.PortModify)
	defer sub.Close()
	sw := h.connect(switchemu.Config{DPID: 4, Ports: 1})
	if err := sw.AddPort(9, "new0"); err != nil {
		t.Fatal(err)
	}
	if err := sw.SetPortDown(1, true); err != nil {
		t.Fatal(err)
	}
	e := next(t, sub)
	if e.Kind != controller.PortAdd || e.Port.No != 9 || e.Port.Name != "new0" || e.DPID != 4 {
		t.Fatalf("first event %+v", e)
	}
	e = next(t, sub)
	if e.Kind != controller.PortModify || e.Port.No != 1 || e.Port.Up() {
		t.Fatalf("second event %+v", e)
	}
	if p, _ := h.ctl.Switch(4).Port(1); p.Up() {
		t.Fatal("session port state not updated")
	}
}

func next(t *testing.T, sub *controller.Subscription) controller.Event {
	t.Helper()
	select {
	case e := <-sub.C:
		return e
	case <-time.After(3 * time.Second):
		t.Fatal("no event within 3s")
	}
	return controller.Event{}
}

func TestSlowSubscriberDoesNotBlockTheSwitch(t *testing.T) {
	h := newHarness(t, controller.Config{PacketInRate: 1e6, PacketInBurst: 1e6})
	slow := h.ctl.Bus().Subscribe(1, controller.PacketIn) // never read
	defer slow.Close()
	sw := h.connect(switchemu.Config{DPID: 5, Ports: 1})
	frame := make([]byte, 60)
	for i := 0; i < 500; i++ {
		if err := sw.PacketIn(1, frame); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := h.ctl.Switch(5).Barrier(ctx); err != nil {
		t.Fatalf("session stalled behind a slow subscriber: %v", err)
	}
	if slow.Dropped() < 400 {
		t.Fatalf("dropped %d, want the slow subscriber to lose most packet-ins", slow.Dropped())
	}
}

func TestPacketInRateLimit(t *testing.T) {
	h := newHarness(t, controller.Config{PacketInRate: 10, PacketInBurst: 10})
	sub := h.ctl.Bus().Subscribe(1000, controller.PacketIn)
	defer sub.Close()
	sw := h.connect(switchemu.Config{DPID: 6, Ports: 1})
	for i := 0; i < 100; i++ {
		sw.PacketIn(1, []byte{1, 2, 3})
	}
	h.ctl.Switch(6).Barrier(context.Background())
	st := h.ctl.Switch(6).Stats()
	if st.PacketInDropped < 80 || len(sub.C) > 20 {
		t.Fatalf("dropped=%d delivered=%d: the limiter did not hold", st.PacketInDropped, len(sub.C))
	}
	if e := <-sub.C; e.PacketIn.InPort() != 1 || len(e.PacketIn.Data) != 3 {
		t.Fatalf("packet-in %+v", e.PacketIn)
	}
}

func TestKeepaliveDetectsDeadPeer(t *testing.T) {
	h := newHarness(t, controller.Config{EchoInterval: 100 * time.Millisecond, EchoMisses: 3})
	sub := h.ctl.Bus().Subscribe(4, controller.SwitchDown)
	defer sub.Close()
	// A peer that completes the handshake and then goes silent.
	conn, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pipeA, pipeB := net.Pipe()
	sw := switchemu.New(switchemu.Config{DPID: 8, Ports: 1})
	go sw.Serve(h.ctx, pipeA)
	stopRelay := make(chan struct{})
	go relay(conn, pipeB, stopRelay)
	h.waitSwitch(8, true)
	start := time.Now()
	close(stopRelay) // from now on nothing reaches the controller
	e := next(t, sub)
	took := time.Since(start)
	if !strings.Contains(e.Reason, "keepalive") {
		t.Fatalf("reason %q", e.Reason)
	}
	if took > 2*time.Second {
		t.Fatalf("dead peer detected after %s, budget is 3 x 100ms", took)
	}
}

// relay copies between a and b until stop is closed, then drops what comes from b.
func relay(a, b net.Conn, stop chan struct{}) {
	go io.Copy(b, a)
	buf := make([]byte, 4096)
	for {
		n, err := b.Read(buf)
		if err != nil {
			return
		}
		select {
		case <-stop:
			continue
		default:
		}
		a.Write(buf[:n])
	}
}

func TestBadPeersAreDisconnectedOthersKeepWorking(t *testing.T) {
	h := newHarness(t, controller.Config{})
	h.connect(switchemu.Config{DPID: 0x99, Ports: 2})
	hello := []byte{4, 0, 0, 16, 0, 0, 0, 1, 0, 1, 0, 8, 0, 0, 0, 0x10}
	cases := map[string][]byte{
		"garbage":         []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"truncated":       {4, 0, 0},
		"short length":    {4, 0, 0, 4, 0, 0, 0, 1},
		"wrong version":   {1, 0, 0, 8, 0, 0, 0, 1},
		"huge length":     {4, 0, 0xff, 0xff, 0, 0, 0, 1, 1, 2, 3},
		"bad after hello": append(append([]byte{}, hello...), 9, 9, 0, 8, 0, 0, 0, 2),
		"features garbage": append(append([]byte{}, hello...),
			4, 6, 0, 12, 0, 0, 0, 2, 1, 2, 3, 4),
	}
	for name, payload := range cases {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.Write(payload)
			if name == "huge length" || name == "truncated" {
				conn.(*net.TCPConn).CloseWrite()
			}
			conn.SetReadDeadline(time.Now().Add(15 * time.Second))
			if _, err := io.Copy(io.Discard, conn); err != nil {
				t.Fatalf("controller did not close the connection: %v", err)
			}
		})
	}
	// The good switch is still served.
	s := h.ctl.Switch(0x99)
	if s == nil {
		t.Fatal("good switch lost")
	}
	if err := s.Barrier(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.logs.String(), "handshake failed") {
		t.Fatal("no log line for the bad peers")
	}
}

func TestMalformedMessageIsDroppedNotTheSession(t *testing.T) {
	h := newHarness(t, controller.Config{})
	sw := h.connect(switchemu.Config{DPID: 0x42, Ports: 1})
	// a port-status whose body is too short
	bad := []byte{4, 12, 0, 12, 0, 0, 0, 0, 0, 1, 2, 3}
	if err := sw.WriteRaw(bad); err != nil {
		t.Fatal(err)
	}
	s := h.ctl.Switch(0x42)
	if err := s.Barrier(context.Background()); err != nil {
		t.Fatalf("session died on a malformed message: %v", err)
	}
	if s.Stats().Malformed != 1 {
		t.Fatalf("malformed = %d", s.Stats().Malformed)
	}
}

func TestReconnectReplacesSession(t *testing.T) {
	h := newHarness(t, controller.Config{})
	sub := h.ctl.Bus().Subscribe(16, controller.SwitchUp, controller.SwitchDown)
	defer sub.Close()
	ctx, cancel := context.WithCancel(h.ctx)
	sw := switchemu.New(switchemu.Config{DPID: 0x10, Ports: 1})
	go sw.Dial(ctx, "tcp", h.addr)
	first := h.waitSwitch(0x10, true)
	cancel()
	<-first.Done()
	h.waitSwitch(0x10, false)
	h.connect(switchemu.Config{DPID: 0x10, Ports: 3})
	if got := len(h.ctl.Switch(0x10).Ports()); got != 4 {
		t.Fatalf("reconnected session has %d ports", got)
	}
	kinds := []controller.EventKind{next(t, sub).Kind, next(t, sub).Kind, next(t, sub).Kind}
	if kinds[0] != controller.SwitchUp || kinds[1] != controller.SwitchDown || kinds[2] != controller.SwitchUp {
		t.Fatalf("events %v", kinds)
	}
}

func TestGroupsWithBuckets(t *testing.T) {
	h := newHarness(t, controller.Config{})
	h.connect(switchemu.Config{DPID: 0x20, Ports: 3})
	s := h.ctl.Switch(0x20)
	g := controller.Group{ID: 7, Type: controller.GroupFastFailover, Buckets: []ofwire.Bucket{
		{WatchPort: 2, Actions: ofp.Actions{&ofp.ActionOutput{Port: 2}}},
		{WatchPort: 3, Actions: ofp.Actions{&ofp.ActionOutput{Port: 3}}},
	}}
	ctx := context.Background()
	if err := s.AddGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := s.AddGroup(ctx, g); err == nil {
		t.Fatal("adding an existing group must fail")
	}
	gd, err := s.GroupDesc(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(gd) != 1 || gd[0].GroupID != 7 || len(gd[0].Buckets) != 2 || gd[0].Buckets[1].WatchPort != 3 {
		t.Fatalf("group desc %+v", gd)
	}
	if got := controller.FormatActions(gd[0].Buckets[0].Actions); got != "output:2" {
		t.Fatalf("bucket actions %q", got)
	}
	gs, err := s.GroupStats(ctx)
	if err != nil || len(gs) != 1 || len(gs[0].Buckets) != 2 {
		t.Fatalf("group stats %+v %v", gs, err)
	}
}

func TestUnixListener(t *testing.T) {
	path := t.TempDir() + "/of.sock"
	ln, err := controller.Listen("unix:" + path)
	if err != nil {
		t.Fatal(err)
	}
	ctl := controller.New(controller.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ctl.Serve(ctx, ln)
	sw := switchemu.New(switchemu.Config{DPID: 0x77, Ports: 1})
	go sw.Dial(ctx, "unix", path)
	deadline := time.Now().Add(5 * time.Second)
	for ctl.Switch(0x77) == nil {
		if time.Now().After(deadline) {
			t.Fatal("switch did not connect over the unix socket")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := controller.Listen("unix:" + path); err == nil {
		t.Fatal("a second listener on a live socket must be refused")
	}
}

func TestListenTargets(t *testing.T) {
	for _, bad := range []string{"6653", "udp:1.2.3.4:6653", "unix:", "tcp:1.2.3.4"} {
		if ln, err := controller.Listen(bad); err == nil {
			ln.Close()
			t.Errorf("Listen(%q) accepted", bad)
		}
	}
	ln, err := controller.Listen("tcp:127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}

var _ = binary.BigEndian
