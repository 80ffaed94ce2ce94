package probes

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/netrack/openflow/ofp"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/controller/ofwire"
)

// verdictEnv is a prober with both paths from h1 (dpid 1) to h3 (dpid 3)
// whose probes the test sends, answers and settles by hand.
type verdictEnv struct {
	t      *testing.T
	m      *Manager
	p      [3]*path // p[1], p[2]
	seq    uint32
	sentAt map[[2]uint32]time.Time
}

func newVerdictEnv(t *testing.T, cfg Config) *verdictEnv {
	cfg.Logger = quiet
	m := New(cfg, controller.New(controller.Config{Logger: quiet}), nil, nil)
	e := &verdictEnv{t: t, m: m, sentAt: map[[2]uint32]time.Time{}}
	for pn := 1; pn <= 2; pn++ {
		k := PathKey{Local: 1, Remote: 3, Path: pn}
		e.p[pn] = &path{set: m.cfg.settingsFor("h1", "h3", pn), key: k, localName: "h1", remName: "h3", port: uint32(200 + pn), up: true, live: true,
			outstanding: map[uint32]pending{}}
		m.paths[k] = e.p[pn]
	}
	return e
}

// send puts a probe on path pn at time at and returns its sequence.
func (e *verdictEnv) send(pn int, at time.Time) uint32 {
	m, p := e.m, e.p[pn]
	m.mu.Lock()
	defer m.mu.Unlock()
	p.seq++
	pd := pending{sent: at, deadline: at.Add(p.timeout(&m.cfg))}
	p.outstanding[p.seq] = pd
	p.record(p.seq, pd)
	p.sent++
	return p.seq
}

// answer delivers the signed reply to probe seq of path pn, read at at.
func (e *verdictEnv) answer(pn int, seq uint32, sent, at time.Time) {
	p := e.p[pn]
	frame := e.m.sign.encode(probe{Local: 1, Remote: 3, Path: uint8(pn), Seq: seq, Sent: sent})
	e.m.reply(context.Background(), controller.Event{Kind: controller.PacketIn, DPID: 1, Time: at,
		PacketIn: &ofwire.PacketIn{Cookie: uint64(controller.NewCookie(controller.OwnerProbe, 0, 2)), Data: frame,
			Match: []ofp.XM{{Class: ofp.XMClassOpenflowBasic, Type: ofp.XMTypeInPort, Value: ofp.XMValue{0, 0, 0, byte(p.port)}}}}})
}

// settle judges the probes past their deadline at now, as a round does
// (the switch's connection has delivered something newer).
func (e *verdictEnv) settle(now time.Time) map[[2]uint64]bool {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	return e.m.expireLocked(now, func(uint64) time.Time { return now })
}

// echo records an answered datapath echo sent at sent that took rtt.
func (e *verdictEnv) echo(dp uint64, sent time.Time, rtt time.Duration) {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	st := &echoState{sent: sent, at: sent.Add(rtt), rtt: rtt}
	e.m.load.echo[dp] = st
	e.m.noteLate(dp, sent, sent.Add(rtt), rtt, "echo")
}

func (e *verdictEnv) state() string {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	return fmt.Sprintf("p1 up=%v miss=%d held=%d, p2 up=%v miss=%d held=%d, order %v",
		e.p[1].up, e.p[1].consecMiss, e.p[1].held, e.p[2].up, e.p[2].consecMiss, e.p[2].held, e.m.orderLocked(1, 3))
}

// A probe lost on path 1 while path 2's probe of the same moment comes
// back is the path's fault: three in a row fail path 1 over, as fast as
// without the witness rule.
func TestLossOnOnePathAmongHealthyOnesFailsItOver(t *testing.T) {
	e := newVerdictEnv(t, Config{Interval: 30 * time.Millisecond})
	now := time.Now()
	for i := 0; i < 3; i++ {
		e.send(1, now)
		s2 := e.send(2, now)
		e.answer(2, s2, now, now.Add(time.Millisecond))
		now = now.Add(30 * time.Millisecond)
		e.settle(now)
	}
	e.settle(now.Add(31 * time.Millisecond))
	if e.p[1].up || !e.p[2].up || fmt.Sprint(e.m.PathOrder(1, 3)) != "[2]" {
		t.Fatalf("want path 1 down and the traffic on path 2: %s", e.state())
	}
	if e.p[1].held != 0 {
		t.Fatalf("a witnessed loss was held: %s", e.state())
	}
}

// Every path between the two hosts loses its probes at the same moment and
// nothing shows the datapaths answering: no path is blamed. After maxWait
// the probes are held, counted neither way, and both paths stay up.
func TestCorrelatedLossOnAllPathsIsHeld(t *testing.T) {
	e := newVerdictEnv(t, Config{Interval: 30 * time.Millisecond})
	start := time.Now()
	now := start
	for i := 0; i < 10; i++ {
		e.send(1, now)
		e.send(2, now)
		now = now.Add(30 * time.Millisecond)
		if ch := e.settle(now); len(ch) != 0 {
			t.Fatalf("round %d changed verdicts: %s", i, e.state())
		}
	}
	if e.p[1].consecMiss != 0 || e.p[2].consecMiss != 0 || !e.p[1].up || !e.p[2].up {
		t.Fatalf("correlated loss counted against the paths: %s", e.state())
	}
	e.settle(now.Add(maxWait + time.Second))
	if e.p[1].held != 10 || e.p[2].held != 10 || len(e.p[1].outstanding) != 0 {
		t.Fatalf("want the 10 probes of each path held: %s", e.state())
	}
	if !e.p[1].up || !e.p[2].up || fmt.Sprint(e.m.PathOrder(1, 3)) != "[1 2]" {
		t.Fatalf("verdicts changed: %s", e.state())
	}

	// late replies of a stalled datapath (it answered everything 300 ms
	// late) count as answered, not lost
	e2 := newVerdictEnv(t, Config{Interval: 30 * time.Millisecond})
	now = time.Now()
	var seqs [][3]uint32
	var sent []time.Time
	for i := 0; i < 10; i++ {
		seqs = append(seqs, [3]uint32{0, e2.send(1, now), e2.send(2, now)})
		sent = append(sent, now)
		now = now.Add(30 * time.Millisecond)
		e2.settle(now)
	}
	for i, s := range seqs {
		e2.answer(1, s[1], sent[i], now)
		e2.answer(2, s[2], sent[i], now)
	}
	if e2.p[1].recv != 10 || e2.p[2].recv != 10 || e2.p[1].consecMiss != 0 {
		t.Fatalf("late answers not counted: %s", e2.state())
	}
}

// While this host is late (the prober's loop ran 300 ms late), probes
// that were due are held even when only one path lost them.
func TestLossWhileTheHostIsLateIsHeld(t *testing.T) {
	e := newVerdictEnv(t, Config{Interval: 30 * time.Millisecond})
	now := time.Now()
	e.m.mu.Lock()
	e.m.noteTick(now, now.Add(30*time.Millisecond), now.Add(330*time.Millisecond))
	e.m.mu.Unlock()
	for i := 0; i < 5; i++ {
		e.send(1, now)
		s2 := e.send(2, now)
		e.answer(2, s2, now, now.Add(time.Millisecond))
		now = now.Add(60 * time.Millisecond)
		e.settle(now)
	}
	e.settle(now.Add(time.Millisecond))
	if !e.p[1].up || e.p[1].consecMiss != 0 || e.p[1].held != 5 {
		t.Fatalf("want path 1's 5 probes held while the host was late: %s", e.state())
	}
	// a late echo of the remote datapath holds its paths' verdicts too
	e = newVerdictEnv(t, Config{Interval: 30 * time.Millisecond})
	now = time.Now()
	e.echo(3, now, 250*time.Millisecond)
	for i := 0; i < 4; i++ {
		e.send(1, now)
		s2 := e.send(2, now)
		e.answer(2, s2, now, now.Add(time.Millisecond))
		now = now.Add(60 * time.Millisecond)
		e.settle(now)
	}
	e.settle(now.Add(time.Millisecond))
	if !e.p[1].up || e.p[1].held != 4 {
		t.Fatalf("want path 1's probes held while h3's echo was late: %s", e.state())
	}
	l := e.m.Load()
	if len(l.Datapaths) != 1 || l.Datapaths[0].Name != "h3" || l.Datapaths[0].EchoMs != 250 {
		t.Fatalf("load %+v", l)
	}
}

// Both paths lose everything while both datapaths answer their echoes
// promptly: the network between the hosts failed. Both paths go down,
// but the datapath still says both are live, so the traffic stays where
// it was: controller evidence alone never drops it.
func TestAllPathsDownKeepsTheDatapathsLivePaths(t *testing.T) {
	e := newVerdictEnv(t, Config{Interval: 30 * time.Millisecond})
	now := time.Now()
	e.m.mu.Lock()
	e.m.order[[2]uint64{1, 3}] = []int{2, 1} // the last pushed order
	e.m.mu.Unlock()
	for i := 0; i < 6; i++ {
		e.send(1, now)
		e.send(2, now)
		now = now.Add(30 * time.Millisecond)
		e.echo(1, now, time.Millisecond)
		e.echo(3, now, time.Millisecond)
		now = now.Add(70 * time.Millisecond)
		e.settle(now)
	}
	if e.p[1].up || e.p[2].up {
		t.Fatalf("both paths lost everything with both datapaths answering: want both down: %s", e.state())
	}
	if got := fmt.Sprint(e.m.PathOrder(1, 3)); got != "[2 1]" {
		t.Fatalf("order %s, want the live paths in the last pushed order [2 1]", got)
	}
	// the datapath says path 2 is dead: only path 1 is kept
	e.m.mu.Lock()
	e.p[2].live = false
	e.m.mu.Unlock()
	if got := fmt.Sprint(e.m.PathOrder(1, 3)); got != "[1]" {
		t.Fatalf("order %s, want [1]", got)
	}
	// and with no live path left, the traffic is dropped
	e.m.mu.Lock()
	e.p[1].live = false
	e.m.mu.Unlock()
	if got := e.m.PathOrder(1, 3); len(got) != 0 {
		t.Fatalf("order %v, want none", got)
	}
}

// Unguarded (probes.hold_on_overload: false) is the behaviour before the
// guards: correlated loss takes every path down and drops the traffic.
func TestUnguardedCountsCorrelatedLoss(t *testing.T) {
	e := newVerdictEnv(t, Config{Interval: 30 * time.Millisecond, Unguarded: true})
	now := time.Now()
	for i := 0; i < 4; i++ {
		e.send(1, now)
		e.send(2, now)
		now = now.Add(70 * time.Millisecond)
		e.settle(now)
	}
	if e.p[1].up || e.p[2].up || len(e.m.PathOrder(1, 3)) != 0 {
		t.Fatalf("unguarded: want both down and nothing kept: %s", e.state())
	}
}

// The timeout follows the path's round trips: at the floor while they are
// short, above a step up to 150 ms within a few probes, back to the
// floor after they are short again, and never over the ceiling.
func TestTimeoutAdaptsToAnRTTStep(t *testing.T) {
	e := newVerdictEnv(t, Config{Interval: 30 * time.Millisecond, TimeoutMax: 400 * time.Millisecond})
	p := e.p[1]
	c := &e.m.cfg
	if got := p.timeout(c); got != 60*time.Millisecond {
		t.Fatalf("before any answer: %s, want the floor 60ms (2 x interval)", got)
	}
	now := time.Now()
	feed := func(rtt time.Duration, n int) {
		for i := 0; i < n; i++ {
			s := e.send(1, now)
			e.answer(1, s, now, now.Add(rtt))
			now = now.Add(30 * time.Millisecond)
		}
	}
	feed(time.Millisecond, 20)
	if got := p.timeout(c); got != 60*time.Millisecond {
		t.Fatalf("1 ms round trips: timeout %s, want the floor 60ms", got)
	}
	feed(150*time.Millisecond, 3)
	if got := p.timeout(c); got <= 150*time.Millisecond || got > 400*time.Millisecond {
		t.Fatalf("after a step to 150 ms: timeout %s, want above 150ms and at most the ceiling 400ms", got)
	}
	feed(150*time.Millisecond, 30)
	if got := p.timeout(c); got < 150*time.Millisecond || got > 200*time.Millisecond {
		t.Fatalf("steady 150 ms: timeout %s, want 150..200ms", got)
	}
	feed(2*time.Second, 5)
	if got := p.timeout(c); got != 400*time.Millisecond {
		t.Fatalf("2 s round trips: timeout %s, want the ceiling 400ms", got)
	}
	feed(time.Millisecond, 60)
	if got := p.timeout(c); got != 60*time.Millisecond {
		t.Fatalf("short round trips again: timeout %s, want the floor", got)
	}
	if st := e.m.Paths()[0]; st.RTOMs != 60 {
		t.Fatalf("status rto %v", st.RTOMs)
	}
	// unguarded: the fixed timeout
	e.m.cfg.Unguarded = true
	feed(150*time.Millisecond, 10)
	if got := p.timeout(c); got != 60*time.Millisecond {
		t.Fatalf("unguarded: timeout %s, want the fixed 60ms", got)
	}
}

// A late prober loop makes the host "overloaded": said once in the log,
// in Load (the API's degraded) and Held (discovery's judge), with the
// lateness; after two quiet seconds verdicts resume, and after a quiet
// half minute the log says so, once too (episodes in between are not
// logged again).
func TestOverloadIsReportedOnce(t *testing.T) {
	logs := &syncBuffer{}
	m := New(Config{Interval: 30 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))},
		controller.New(controller.Config{Logger: quiet}), nil, nil)
	now := time.Now()
	m.mu.Lock()
	m.updateLoad(now)
	for i := 0; i < 5; i++ {
		m.noteTick(now, now.Add(30*time.Millisecond), now.Add(330*time.Millisecond))
		now = now.Add(330 * time.Millisecond)
		m.updateLoad(now)
	}
	m.mu.Unlock()
	l := m.Load()
	if l.Degraded != "host overloaded, verdicts held" || l.TickLateMs != 300 || !strings.Contains(l.Cause, "prober tick late 300ms") {
		t.Fatalf("load %+v", l)
	}
	if held, why := m.Held(); !held || !strings.Contains(why, "host overloaded, verdicts held (prober tick late 300ms)") {
		t.Fatalf("held %v %q", held, why)
	}
	if n := strings.Count(logs.String(), "host overloaded, verdicts held"); n != 1 {
		t.Fatalf("said %d times, want once:\n%s", n, logs)
	}
	m.mu.Lock()
	m.updateLoad(now.Add(3 * time.Second))
	m.updateLoad(now.Add(4 * time.Second))
	m.mu.Unlock()
	if l := m.Load(); l.Degraded != "" {
		t.Fatalf("still degraded: %+v", l)
	}
	if held, _ := m.Held(); held {
		t.Fatal("still held")
	}
	// another episode ten seconds later: held again, not logged again
	now = now.Add(10 * time.Second)
	m.mu.Lock()
	m.noteTick(now, now.Add(30*time.Millisecond), now.Add(330*time.Millisecond))
	m.updateLoad(now.Add(330 * time.Millisecond))
	m.mu.Unlock()
	if held, _ := m.Held(); !held {
		t.Fatal("second episode not held")
	}
	m.mu.Lock()
	m.updateLoad(now.Add(3 * time.Second))
	m.updateLoad(now.Add(20 * time.Second))
	m.mu.Unlock()
	if n := strings.Count(logs.String(), "host overloaded, verdicts held"); n != 1 || strings.Contains(logs.String(), "verdicts resume") {
		t.Fatalf("want one warning and no resume yet:\n%s", logs)
	}
	m.mu.Lock()
	m.updateLoad(now.Add(40 * time.Second))
	m.updateLoad(now.Add(50 * time.Second))
	m.mu.Unlock()
	if n := strings.Count(logs.String(), "verdicts resume"); n != 1 || !strings.Contains(logs.String(), "episodes=2") {
		t.Fatalf("resume said %d times:\n%s", n, logs)
	}
}

// A frozen remote datapath answers everything at once when it thaws,
// path 1's answers a few milliseconds before path 2's: the first answers
// are no witness against path 2 until they are a round old.
func TestAnswersInABurstAreNoWitness(t *testing.T) {
	e := newVerdictEnv(t, Config{Interval: 30 * time.Millisecond, LateLimit: time.Hour})
	start := time.Now()
	now := start
	var s1, s2 []uint32
	for i := 0; i < 6; i++ {
		s1 = append(s1, e.send(1, now))
		s2 = append(s2, e.send(2, now))
		now = now.Add(30 * time.Millisecond)
		e.settle(now)
	}
	for i := range s1 {
		e.answer(1, s1[i], start.Add(time.Duration(i)*30*time.Millisecond), now)
	}
	e.settle(now.Add(5 * time.Millisecond))
	for i := range s2 {
		e.answer(2, s2[i], start.Add(time.Duration(i)*30*time.Millisecond), now.Add(10*time.Millisecond))
	}
	e.settle(now.Add(40 * time.Millisecond))
	if e.p[2].consecMiss != 0 || e.p[2].recv != 6 || !e.p[2].up {
		t.Fatalf("path 2 blamed for answering a few ms after path 1: %s", e.state())
	}
}

// A switch from which nothing at all was read for longer than the limit
// while its probes' answers were due is late: its probes are held, not
// lost, even when a sibling's answer came (it was read before the freeze).
func TestSilentSwitchIsLate(t *testing.T) {
	e := newVerdictEnv(t, Config{Interval: 30 * time.Millisecond})
	start := time.Now()
	now := start
	frozen := start.Add(15 * time.Millisecond) // the last read from h1
	for i := 0; i < 10; i++ {
		e.send(1, now)
		s2 := e.send(2, now)
		if i == 0 {
			e.answer(2, s2, now, now.Add(time.Millisecond))
		}
		now = now.Add(30 * time.Millisecond)
		e.m.mu.Lock()
		e.m.expireLocked(now, func(uint64) time.Time { return frozen })
		e.m.mu.Unlock()
	}
	// h1 thaws: everything read again, the probes of the freeze unanswered
	e.settle(now.Add(time.Second))
	if !e.p[1].up || e.p[1].consecMiss != 0 || e.p[1].held == 0 {
		t.Fatalf("probes of a silent switch counted as lost: %s", e.state())
	}
	if l := e.m.Load(); len(l.Datapaths) != 0 {
		t.Fatalf("load %+v", l)
	}
}
