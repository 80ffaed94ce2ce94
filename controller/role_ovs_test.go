package controller_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
	"github.com/satellite-sdn/satellite/lab"
)

func startMastershipController(t *testing.T, sock string) *controller.Controller {
	t.Helper()
	ctl := controller.New(controller.Config{Mastership: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := controller.Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); ctl.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-served })
	return ctl
}

func isSwitchError(err error, typ ofp.ErrType, code ofp.ErrCode) bool {
	var e *ofwire.Error
	return errors.As(err, &e) && e.Type == uint16(typ) && e.Code == uint16(code)
}

// Two controllers of one bridge (two controller targets): a slave sends no
// flow-mod; the master with the higher generation id takes over, and the
// switch itself refuses the deposed master's flow-mods (IS_SLAVE) and its
// stale role request, whatever that master still believes.
func TestRolesOVS(t *testing.T) {
	dir := t.TempDir()
	sa, sb := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	a, b := startMastershipController(t, sa), startMastershipController(t, sb)
	topo := lab.Start(t, lab.Config{Hosts: 1, VMs: -1, Links: lab.LinksNone, Controllers: []string{"unix:" + sa, "unix:" + sb}})
	dpid := topo.Hosts[0].DatapathID
	as := waitFor(t, 20*time.Second, func() *controller.Session { return a.Switch(dpid) })
	bs := waitFor(t, 20*time.Second, func() *controller.Session { return b.Switch(dpid) })
	ctx := context.Background()
	flow := func(prio uint16) controller.Flow {
		return controller.Flow{Table: 0, Priority: prio, Cookie: 0x5a7e, Instructions: ofp.Instructions{}}
	}
	events := a.Bus().Subscribe(16, controller.RoleChange)
	defer events.Close()

	if a.Master(dpid) || as.Writable() {
		t.Fatal("a session starts as a master; want a slave until SetRole")
	}
	if err := as.AddFlows(ctx, flow(100)); !errors.Is(err, controller.ErrNotMaster) {
		t.Fatalf("a slave's flow-mod: want ErrNotMaster, got %v", err)
	}
	if err := as.PacketOut(ctx, uint32(ofp.PortController), nil, make([]byte, 60)); !errors.Is(err, controller.ErrNotMaster) {
		t.Fatalf("a slave's packet-out: want ErrNotMaster, got %v", err)
	}
	if _, err := as.FlowStats(ctx, controller.FlowFilter{Table: controller.TableAll}); err != nil {
		t.Fatalf("a slave reads the flow table: %v", err)
	}

	r, err := as.SetRole(ctx, controller.RoleMaster, 10)
	if err != nil || r.Role != controller.RoleMaster || r.GenerationID != 10 {
		t.Fatalf("a becomes master: %+v %v", r, err)
	}
	if !a.Master(dpid) {
		t.Fatal("a is master, Master says no")
	}
	if e := <-events.C; e.DPID != dpid || e.Reason != "master" {
		t.Fatalf("role event %+v", e)
	}
	if err := as.AddFlows(ctx, flow(100)); err != nil {
		t.Fatalf("the master's flow-mod: %v", err)
	}
	if _, err := bs.SetRole(ctx, controller.RoleSlave, 10); err != nil {
		t.Fatalf("b becomes slave: %v", err)
	}

	// b takes over with a newer generation; a does not know
	if r, err := bs.SetRole(ctx, controller.RoleMaster, 11); err != nil || r.Role != controller.RoleMaster {
		t.Fatalf("b becomes master: %+v %v", r, err)
	}
	if role, gen := as.Role(); role != controller.RoleMaster || gen != 10 {
		t.Fatalf("a believes %s/%d, want master/10 (nobody told it)", controller.RoleName(role), gen)
	}
	err = as.AddFlows(ctx, flow(200))
	if !isSwitchError(err, ofp.ErrTypeBadRequest, ofp.ErrCodeBadRequestIsSlave) {
		t.Fatalf("the deposed master's flow-mod: want the switch's OFPBRC_IS_SLAVE, got %v", err)
	}
	if as.Writable() {
		t.Fatal("a still writes after the switch called it a slave")
	}
	if e := <-events.C; e.Reason != "slave" {
		t.Fatalf("role event %+v, want slave", e)
	}
	if _, err := as.SetRole(ctx, controller.RoleMaster, 10); !isSwitchError(err, ofp.ErrTypeRoleRequestFailed, ofp.ErrCodeRoleRequestFailedStale) {
		t.Fatalf("a claims master with the old generation: want OFPRRFC_STALE, got %v", err)
	}
	if err := bs.AddFlows(ctx, flow(300)); err != nil {
		t.Fatalf("the new master's flow-mod: %v", err)
	}
	fs, err := bs.FlowStats(ctx, controller.FlowFilter{Table: controller.TableAll})
	if err != nil {
		t.Fatal(err)
	}
	prios := map[uint16]bool{}
	for _, f := range fs {
		if f.Cookie == 0x5a7e {
			prios[f.Priority] = true
		}
	}
	if !prios[100] || prios[200] || !prios[300] || len(prios) != 2 {
		t.Fatalf("flows on the switch by priority: %v; want 100 (a as master) and 300 (b), not 200 (a deposed)", prios)
	}
}
