package probes

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestForgedAndStaleRepliesAreIgnored(t *testing.T) {
	m := New(Config{Logger: quiet}, controller.New(controller.Config{Logger: quiet}), nil, nil)
	k := PathKey{Local: 1, Remote: 3, Path: 1}
	now := time.Now()
	p := &path{set: m.cfg.settingsFor("", "", 1), key: k, port: 201, up: true, live: true, outstanding: map[uint32]pending{}}
	m.paths[k] = p
	p.outstanding[7] = pending{sent: now, deadline: now.Add(time.Second)}
	ev := func(frame []byte) controller.Event {
		return controller.Event{Kind: controller.PacketIn, DPID: 1, Time: now.Add(2 * time.Millisecond),
			PacketIn: &ofwire.PacketIn{Cookie: uint64(controller.NewCookie(controller.OwnerProbe, 0, 2)), Data: frame,
				Match: []ofp.XM{{Class: ofp.XMClassOpenflowBasic, Type: ofp.XMTypeInPort, Value: ofp.XMValue{0, 0, 0, 201}}}}}
	}
	ctx := context.Background()
	// signed by another controller
	other := newSigner()
	m.reply(ctx, ev(other.encode(probe{Local: 1, Remote: 3, Path: 1, Seq: 7, Sent: now})))
	// a sequence never sent
	m.reply(ctx, ev(m.sign.encode(probe{Local: 1, Remote: 3, Path: 1, Seq: 8, Sent: now})))
	// the right sequence with another send time (a replay of an older probe)
	m.reply(ctx, ev(m.sign.encode(probe{Local: 1, Remote: 3, Path: 1, Seq: 7, Sent: now.Add(-time.Minute)})))
	if p.recv != 0 || p.ignored != 2 || m.Forged() != 1 {
		t.Fatalf("recv %d ignored %d forged %d, want 0, 2 and 1", p.recv, p.ignored, m.Forged())
	}
	// the genuine reply counts once
	m.reply(ctx, ev(m.sign.encode(probe{Local: 1, Remote: 3, Path: 1, Seq: 7, Sent: now})))
	m.reply(ctx, ev(m.sign.encode(probe{Local: 1, Remote: 3, Path: 1, Seq: 7, Sent: now})))
	if p.recv != 1 || p.ignored != 3 {
		t.Fatalf("recv %d ignored %d, want 1 and 3", p.recv, p.ignored)
	}
	if rtt := p.rtts[0]; rtt != 2*time.Millisecond {
		t.Fatalf("rtt %s", rtt)
	}
}

func TestJudgeMissesLossAndHoldDown(t *testing.T) {
	m := New(Config{Interval: 10 * time.Millisecond, HoldDown: 100 * time.Millisecond, LossWindow: 20, Logger: quiet}, controller.New(controller.Config{Logger: quiet}), nil, nil)
	p := &path{set: m.cfg.settingsFor("", "", 1), key: PathKey{1, 2, 1}, up: true, live: true, outstanding: map[uint32]pending{}}
	now := time.Now()
	for i := 0; i < 2; i++ {
		m.result(p, false, 0, now)
		if m.judge(p, now) {
			t.Fatal("down after fewer than 3 misses")
		}
	}
	m.result(p, false, 0, now)
	if !m.judge(p, now) || p.up {
		t.Fatal("not down after 3 misses")
	}
	// answers again, but not yet for the hold-down
	for i := 0; i < 5; i++ {
		now = now.Add(10 * time.Millisecond)
		m.result(p, true, time.Millisecond, now)
		if m.judge(p, now) {
			t.Fatal("up before the hold-down")
		}
	}
	// one miss restarts the hold-down
	m.result(p, false, 0, now)
	for i := 0; i < 25; i++ {
		now = now.Add(10 * time.Millisecond)
		m.result(p, true, time.Millisecond, now)
		if m.judge(p, now) {
			if i < 10 {
				t.Fatalf("up after %d ms of answers", (i+1)*10)
			}
			return
		}
	}
	t.Fatal("never up again")
}

func TestPublishPaths(t *testing.T) {
	got := make(chan []PathStatus, 10)
	m := New(Config{Logger: quiet, PublishInterval: 10 * time.Millisecond, Publish: func(at time.Time, ps []PathStatus) {
		select {
		case got <- ps:
		default:
		}
	}}, controller.New(controller.Config{Logger: quiet}), nil, nil)
	if m.Config().PublishInterval != 10*time.Millisecond {
		t.Fatalf("interval %s", m.Config().PublishInterval)
	}
	now := time.Now()
	p := &path{set: m.cfg.settingsFor("h1", "h2", 1), key: PathKey{1, 2, 1}, localName: "h1", remName: "h2", port: 201, up: true, live: true, outstanding: map[uint32]pending{}}
	m.paths[p.key] = p
	for i := 0; i < 4; i++ {
		m.result(p, i != 3, time.Duration(i+1)*time.Millisecond, now)
	}
	p.sent, p.recv = 4, 3
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.publish(ctx) }()
	var ps []PathStatus
	select {
	case ps = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("nothing published")
	}
	cancel()
	<-done
	if len(ps) != 1 {
		t.Fatalf("published %+v", ps)
	}
	s := ps[0]
	if s.Local != "0000000000000001" || s.Remote != "0000000000000002" || s.Path != 1 || s.State != "up" || !s.Active ||
		s.Loss != 0.25 || s.RTTAvgMs != 2 || s.RTTMaxMs != 3 || s.Sent != 4 || s.Received != 3 {
		t.Fatalf("status %+v", s)
	}
}

func TestGroupsOverridePathSettings(t *testing.T) {
	cfg := Config{Interval: 30 * time.Millisecond, Groups: []Group{
		{Local: "h1", Remote: "h3", Path: 2, Interval: 100 * time.Millisecond, DownAfter: 5},
		{Remote: "h3", LossThreshold: 0.5, HoldDown: 10 * time.Second},
	}}
	cfg.defaults()
	if got := cfg.tick(); got != 30*time.Millisecond {
		t.Fatalf("tick %s", got)
	}
	st := cfg.settingsFor("h1", "h3", 2)
	if st.interval != 100*time.Millisecond || st.timeout != 200*time.Millisecond || st.downAfter != 5 || st.lossThreshold != 0.2 {
		t.Fatalf("first group: %+v", st)
	}
	st = cfg.settingsFor("h2", "h3", 1)
	if st.interval != 30*time.Millisecond || st.downAfter != 3 || st.lossThreshold != 0.5 || st.holdDown != 10*time.Second {
		t.Fatalf("second group: %+v", st)
	}
	st = cfg.settingsFor("h1", "h2", 1)
	if st.interval != 30*time.Millisecond || st.downAfter != 3 || st.lossThreshold != 0.2 || st.holdDown != 2*time.Second {
		t.Fatalf("defaults: %+v", st)
	}
	// the group's miss threshold is what the verdict uses
	m := New(Config{Logger: quiet, Groups: cfg.Groups}, controller.New(controller.Config{Logger: quiet}), nil, nil)
	p := &path{set: m.cfg.settingsFor("h1", "h3", 2), key: PathKey{1, 3, 2}, up: true, live: true, outstanding: map[uint32]pending{}}
	now := time.Now()
	for i := 1; i <= 5; i++ {
		m.result(p, false, 0, now)
		if down := m.judge(p, now); down != (i == 5) {
			t.Fatalf("after %d misses: changed=%v", i, down)
		}
	}
}
