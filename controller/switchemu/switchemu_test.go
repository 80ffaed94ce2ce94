package switchemu_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/switchemu"
)

// A packet-out through a cabled port reaches the controller from the far
// end, once the far switch has flows and while both ports are up.
func TestCableRelaysPacketOuts(t *testing.T) {
	ctl := controller.New(controller.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go ctl.Serve(ctx, ln)
	a := switchemu.New(switchemu.Config{DPID: 1, Ports: 2})
	b := switchemu.New(switchemu.Config{DPID: 2, Ports: 2})
	if err := switchemu.Connect(a, 1, b, 2); err != nil {
		t.Fatal(err)
	}
	if err := switchemu.Connect(a, 1, b, 1); err == nil {
		t.Fatal("a port cabled twice")
	}
	if err := switchemu.Connect(a, 9, b, 1); err == nil {
		t.Fatal("a missing port cabled")
	}
	sub := ctl.Bus().Subscribe(64, controller.PacketIn)
	defer sub.Close()
	for _, sw := range []*switchemu.Switch{a, b} {
		go sw.Dial(ctx, "tcp", ln.Addr().String())
	}
	for ctl.Switch(1) == nil || ctl.Switch(2) == nil {
		time.Sleep(time.Millisecond)
	}
	sa, sb := ctl.Switch(1), ctl.Switch(2)
	frame := bytes.Repeat([]byte{0xab}, 60)
	out := func(s *controller.Session, port uint32) {
		t.Helper()
		if err := s.PacketOut(ctx, uint32(ofp.PortController), ofp.Actions{&ofp.ActionOutput{Port: ofp.PortNo(port)}}, frame); err != nil {
			t.Fatal(err)
		}
		if err := s.Barrier(ctx); err != nil { // the packet-out was handled
			t.Fatal(err)
		}
	}
	quiet := func() {
		t.Helper()
		select {
		case e := <-sub.C:
			t.Fatalf("packet-in %+v", e)
		case <-time.After(50 * time.Millisecond):
		}
	}
	// b has no flows yet: the frame is lost, like a table miss on OVS
	out(sa, 1)
	quiet()
	if b.Dropped.Load() != 1 {
		t.Fatalf("dropped %d, want 1", b.Dropped.Load())
	}
	f, err := controller.ParseFlow("priority=1,actions=controller")
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.AddFlows(ctx, f); err != nil {
		t.Fatal(err)
	}
	out(sa, 1)
	select {
	case e := <-sub.C:
		if e.DPID != 2 || e.PacketIn.InPort() != 2 || !bytes.Equal(e.PacketIn.Data, frame) {
			t.Fatalf("packet-in from %016x port %d, %d bytes", e.DPID, e.PacketIn.InPort(), len(e.PacketIn.Data))
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no packet-in from the far end")
	}
	out(sa, 2) // port 2 of a is not cabled
	quiet()
	if err := b.SetPortDown(2, true); err != nil {
		t.Fatal(err)
	}
	out(sa, 1)
	quiet()
	if got := b.Relayed.Load(); got != 1 {
		t.Fatalf("relayed %d, want 1", got)
	}
}
