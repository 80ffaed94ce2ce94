package probes

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/controller"
)

// Telling a slow host from a broken path.
//
// A probe that was not answered in time is only evidence against its
// path when something shows that the rest of the system was working at
// that moment. The prober measures its own lateness (how late its loop
// ran, how long a probe reply waited between the switch connection's read
// loop and the prober) and every datapath's (an OpenFlow echo round trip
// every EchoInterval). A span of time in which one of them was later than
// LateLimit is "late": probes sent or judged in it are held — counted
// neither as answered nor as lost.

// lateSpan is a stretch of time in which the host (dp 0) or one datapath
// was later than the limit.
type lateSpan struct {
	from, to time.Time
	late     time.Duration
	what     string
}

// echoState is the datapath echo of one switch.
type echoState struct {
	out    time.Time // when the echo now on its way was sent (zero: none)
	sent   time.Time // when the last answered echo was sent
	at     time.Time // when its answer came
	rtt    time.Duration
	worst  winMax
	failed bool
}

// winMax is the largest value seen over the last one to two windows.
type winMax struct {
	cur, prev float64
	start     time.Time
}

const loadWindow = 10 * time.Second

func (w *winMax) add(v float64, now time.Time) {
	w.roll(now)
	if v > w.cur {
		w.cur = v
	}
}

func (w *winMax) roll(now time.Time) {
	if now.Sub(w.start) >= 2*loadWindow {
		w.cur, w.prev, w.start = 0, 0, now
	} else if now.Sub(w.start) >= loadWindow {
		w.prev, w.cur, w.start = w.cur, 0, w.start.Add(loadWindow)
	}
}

func (w *winMax) get(now time.Time) float64 {
	w.roll(now)
	return max(w.cur, w.prev)
}

// loadState is what the prober knows of its own and the datapaths' delays;
// guarded by Manager.mu.
type loadState struct {
	spans      map[uint64][]lateSpan // 0: this host
	echo       map[uint64]*echoState
	tickLate   winMax
	eventDelay winMax
	overloaded bool
	hostLate   bool // the episode includes this host, not only datapaths
	since      time.Time
	what       string
	held       uint64 // probes held since start
	// the log says it once: a warning at the first episode, one info line
	// after a quiet minute (episodes in between are not logged again)
	logged    bool
	logSince  time.Time
	lastOff   time.Time
	episodes  int
	heldAtLog uint64
}

// logQuiet is how long no episode may come before the log says verdicts
// resume.
const logQuiet = 30 * time.Second

// Load is how late this host and the datapaths are, and whether probe
// verdicts are held because of it (GET /api/v1/tunnels, /healthz).
type Load struct {
	// Degraded is empty when all is well, else what is held and why, such
	// as "host overloaded, verdicts held".
	Degraded string    `json:"degraded,omitempty"`
	Since    time.Time `json:"since,omitempty"`
	// Cause names the measurement that crossed the limit.
	Cause string `json:"cause,omitempty"`
	// LateLimitMs is the lateness beyond which verdicts are held.
	LateLimitMs float64 `json:"late_limit_ms"`
	// TickLateMs is the prober loop's worst lateness over the last 10-20 s.
	TickLateMs float64 `json:"tick_late_ms"`
	// EventDelayMs is the worst delay of a probe reply between the
	// switch's read loop and the prober over the last 10-20 s.
	EventDelayMs float64 `json:"event_delay_ms"`
	// HeldProbes counts probes neither answered nor counted as lost
	// because the host or a datapath was late when they were due.
	HeldProbes uint64         `json:"held_probes"`
	Datapaths  []DatapathLoad `json:"datapaths"`
}

// DatapathLoad is one datapath's echo round trip.
type DatapathLoad struct {
	DPID        string  `json:"dpid"`
	Name        string  `json:"name,omitempty"`
	EchoMs      float64 `json:"echo_ms"`       // the last answered echo
	EchoWorstMs float64 `json:"echo_worst_ms"` // over the last 10-20 s
	Late        bool    `json:"late"`
}

// noteLate records a lateness measurement of the host (dp 0) or of a
// datapath; beyond the limit, the span becomes late. m.mu is held.
func (m *Manager) noteLate(dp uint64, from, to time.Time, late time.Duration, what string) {
	if late <= m.cfg.LateLimit {
		return
	}
	list := m.load.spans[dp]
	for len(list) > 0 && to.Sub(list[0].to) > time.Minute {
		list = list[1:]
	}
	if n := len(list); n > 0 && list[n-1].what == what && !list[n-1].to.Before(from) {
		// the same lateness, measured again: one longer span
		s := &list[n-1]
		s.from, s.to, s.late = minTime(s.from, from), maxTime(s.to, to), max(s.late, late)
		m.load.spans[dp] = list
		return
	}
	m.load.spans[dp] = append(list, lateSpan{from: from, to: to, late: late, what: what})
}

// lateDuring reports whether the host or either datapath was late at any
// moment of [from, to]. m.mu is held.
func (m *Manager) lateDuring(local, remote uint64, from, to time.Time) bool {
	for _, dp := range []uint64{0, local, remote} {
		for _, s := range m.load.spans[dp] {
			if !s.to.Before(from) && !s.from.After(to) {
				return true
			}
		}
		if dp == 0 {
			continue
		}
		// an echo on its way for longer than the limit: late now
		if e := m.load.echo[dp]; e != nil && !e.out.IsZero() && to.Sub(e.out) > m.cfg.LateLimit {
			return true
		}
	}
	return false
}

// echoFresh reports whether datapath dp answered promptly an echo sent
// after t, at least margin before now. m.mu is held.
func (m *Manager) echoFresh(dp uint64, t, now time.Time, margin time.Duration) bool {
	e := m.load.echo[dp]
	return e != nil && e.sent.After(t) && e.rtt <= m.cfg.LateLimit && now.Sub(e.at) >= margin
}

// echoLoop measures every datapath's echo round trip.
func (m *Manager) echoLoop(ctx context.Context) {
	t := time.NewTicker(m.cfg.EchoInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, s := range m.ctl.Switches() {
			m.echoOnce(ctx, s)
		}
	}
}

// echoOnce sends one echo to s unless one is already on its way.
func (m *Manager) echoOnce(ctx context.Context, s *controller.Session) {
	id := s.DPID()
	m.mu.Lock()
	e := m.load.echo[id]
	if e == nil {
		e = &echoState{}
		m.load.echo[id] = e
	}
	if !e.out.IsZero() {
		m.mu.Unlock()
		return
	}
	sent := time.Now()
	e.out = sent
	m.mu.Unlock()
	go func() {
		ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rtt, err := s.Echo(ectx)
		cancel()
		now := time.Now()
		m.mu.Lock()
		defer m.mu.Unlock()
		e.out = time.Time{}
		e.failed = err != nil
		if err != nil {
			return // a closed connection: its paths go with it
		}
		e.sent, e.at, e.rtt = sent, now, rtt
		e.worst.add(float64(rtt)/1e6, now)
		m.noteLate(id, sent, now, rtt, "echo")
	}()
}

// noteEventDelay measures how long a probe reply waited between the read
// loop and the prober. m.mu is held.
func (m *Manager) noteEventDelay(read, now time.Time) {
	d := now.Sub(read)
	m.load.eventDelay.add(float64(d)/1e6, now)
	m.noteLate(0, read, now, d, "probe replies waited")
}

// noteTick measures the prober loop's lateness: the tick that was due at
// due ran at now, prev is when the previous round ran. m.mu is held.
func (m *Manager) noteTick(prev, due, now time.Time) {
	late := now.Sub(due)
	if !prev.IsZero() {
		late = max(late, now.Sub(prev)-m.cfg.tick())
	}
	if late < 0 {
		late = 0
	}
	m.load.tickLate.add(float64(late)/1e6, now)
	from := prev
	if from.IsZero() {
		from = due
	}
	m.noteLate(0, from, now, late, "prober tick late")
}

// updateLoad works out whether the host or a datapath is late now and
// logs when that changes (once per episode). m.mu is held.
func (m *Manager) updateLoad(now time.Time) {
	hold := max(2*time.Second, 10*m.cfg.tick())
	var what []string
	host := false
	names := m.namesLocked()
	for dp, list := range m.load.spans {
		if len(list) == 0 {
			continue
		}
		s := list[len(list)-1]
		if now.Sub(s.to) > hold {
			continue
		}
		if dp == 0 {
			host = true
			what = append(what, fmt.Sprintf("%s %s", s.what, s.late.Round(time.Millisecond)))
		} else {
			what = append(what, fmt.Sprintf("%s of %s %s", s.what, nameOr(names, dp), s.late.Round(time.Millisecond)))
		}
	}
	for dp, e := range m.load.echo {
		if !e.out.IsZero() && now.Sub(e.out) > m.cfg.LateLimit {
			what = append(what, fmt.Sprintf("echo of %s unanswered for %s", nameOr(names, dp), now.Sub(e.out).Round(time.Millisecond)))
		}
	}
	sort.Strings(what)
	on := len(what) > 0
	l := &m.load
	switch {
	case on && !l.overloaded:
		l.overloaded, l.since, l.hostLate = true, now, host
		l.what = strings.Join(what, ", ")
		l.episodes++
		if !l.logged {
			l.logged, l.logSince, l.heldAtLog, l.episodes = true, now, l.held, 1
			m.log.Warn(m.degradedText(host)+": a late host is not a broken path", "cause", l.what,
				"late_limit", m.cfg.LateLimit, "hint", "probe verdicts and LLDP link removal resume when the delays are gone")
		}
	case on:
		l.what, l.hostLate = strings.Join(what, ", "), l.hostLate || host
	case l.overloaded:
		l.overloaded, l.lastOff = false, now
	case l.logged && now.Sub(l.lastOff) >= logQuiet:
		l.logged = false
		m.log.Info("delays gone: probe verdicts resume", "late_for", l.lastOff.Sub(l.logSince).Round(time.Millisecond),
			"episodes", l.episodes, "held_probes", l.held-l.heldAtLog)
	}
}

func (m *Manager) degradedText(host bool) string {
	if m.cfg.Unguarded {
		if host {
			return "host overloaded, verdicts not held (probes.hold_on_overload is false)"
		}
		return "datapath late, verdicts not held (probes.hold_on_overload is false)"
	}
	if host {
		return "host overloaded, verdicts held"
	}
	return "datapath late, verdicts of its paths held"
}

func nameOr(names map[uint64]string, dp uint64) string {
	if n := names[dp]; n != "" {
		return n
	}
	return controller.FormatDPID(dp)
}

// namesLocked maps the datapaths of the probed paths to their names.
func (m *Manager) namesLocked() map[uint64]string {
	out := map[uint64]string{}
	for _, p := range m.paths {
		out[p.key.Local], out[p.key.Remote] = p.localName, p.remName
	}
	return out
}

// Load returns the measured delays and whether verdicts are held.
func (m *Manager) Load() Load {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	l := Load{LateLimitMs: float64(m.cfg.LateLimit) / 1e6, TickLateMs: round2(m.load.tickLate.get(now)),
		EventDelayMs: round2(m.load.eventDelay.get(now)), HeldProbes: m.load.held, Datapaths: []DatapathLoad{}}
	if m.load.overloaded {
		l.Degraded, l.Since, l.Cause = m.degradedText(m.load.hostLate), m.load.since, m.load.what
	}
	names := m.namesLocked()
	for dp, e := range m.load.echo {
		if e.failed && e.at.IsZero() {
			continue
		}
		d := DatapathLoad{DPID: controller.FormatDPID(dp), Name: names[dp], EchoMs: round2(float64(e.rtt) / 1e6),
			EchoWorstMs: round2(e.worst.get(now)), Late: m.lateDuring(dp, dp, now.Add(-2*time.Second), now)}
		l.Datapaths = append(l.Datapaths, d)
	}
	sort.Slice(l.Datapaths, func(i, j int) bool { return l.Datapaths[i].DPID < l.Datapaths[j].DPID })
	return l
}

// Held reports whether verdicts are held because this host or a datapath
// is late, and why: LLDP discovery holds link removal by misses on it.
// Unguarded, nothing is held.
func (m *Manager) Held() (bool, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.load.overloaded || m.cfg.Unguarded {
		return false, ""
	}
	return true, m.degradedText(m.load.hostLate) + " (" + m.load.what + ")"
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
