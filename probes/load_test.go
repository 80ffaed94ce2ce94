package probes_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/probes"
	"github.com/satellite-sdn/satellite/topology"
)

// TestMain doubles as the load test's CPU hog: run by startHog as a child
// process with SAT_CPU_HOG=n, the test binary keeps n busy loops spinning
// until it is killed.
func TestMain(m *testing.M) {
	if n, _ := strconv.Atoi(os.Getenv("SAT_CPU_HOG")); n > 0 {
		runtime.GOMAXPROCS(n)
		for i := 0; i < n; i++ {
			go func() {
				x := uint64(1)
				for {
					x = x*6364136223846793005 + 1442695040888963407
				}
			}()
		}
		select {}
	}
	os.Exit(m.Run())
}

// startHog starts 2 busy workers per core in a child process and stops it
// at the end of the test.
func startHog(t testing.TB) {
	t.Helper()
	n := 2 * runtime.NumCPU()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SAT_CPU_HOG="+strconv.Itoa(n))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	t.Logf("CPU hog: %d busy workers on %d cores (pid %d)", n, runtime.NumCPU(), cmd.Process.Pid)
}

// burst is one SIGSTOP..SIGCONT of a host's ovs-vswitchd.
type burst struct{ stop, cont time.Time }

// freezeBursts stops host h's ovs-vswitchd for 50-300 ms at a time, with
// 300-900 ms between, until ctx ends, and returns the bursts.
func (e *env) freezeBursts(ctx context.Context, h int) []burst {
	b, err := os.ReadFile(filepath.Join(e.topo.Lab.Config().HostDir(h), "ovs-vswitchd.pid"))
	pid, err2 := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || err2 != nil {
		e.tb.Errorf("h%d ovs-vswitchd pid: %v %v", h, err, err2)
		return nil
	}
	defer syscall.Kill(pid, syscall.SIGCONT)
	rnd := rand.New(rand.NewSource(time.Now().UnixNano()))
	var out []burst
	for {
		select {
		case <-ctx.Done():
			return out
		case <-time.After(time.Duration(300+rnd.Intn(600)) * time.Millisecond):
		}
		d := time.Duration(50+rnd.Intn(251)) * time.Millisecond
		bu := burst{stop: time.Now()}
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			e.tb.Errorf("SIGSTOP h%d ovs-vswitchd: %v", h, err)
			return out
		}
		time.Sleep(d)
		syscall.Kill(pid, syscall.SIGCONT)
		bu.cont = time.Now()
		out = append(out, bu)
	}
}

// pinger pings every 10 ms from one host's endpoint to another's and
// keeps the sequence numbers answered with when the answer came.
type pinger struct {
	from, to int
	cmd      *exec.Cmd
	out      strings.Builder
	done     chan struct{}
	sent     int
	answered map[int]time.Time
}

var (
	pingLine    = regexp.MustCompile(`^\[(\d+)\.(\d+)\].*icmp_seq=(\d+)`)
	pingSummary = regexp.MustCompile(`(\d+) packets transmitted`)
)

// The ping runs for d (-w: a loaded machine sends fewer than 100 a
// second, and the test must not stretch with it); the pings of its last
// second are not judged, as the ping may end before their answers come.
func (e *env) startPing(from, to int, d time.Duration) *pinger {
	p := &pinger{from: from, to: to, done: make(chan struct{}), answered: map[int]time.Time{}}
	cmd, err := e.topo.ExecCommand(context.Background(), e.topo.Host(from).Endpoints[0].Namespace,
		"ping", "-D", "-i", "0.01", "-w", strconv.Itoa(int(d/time.Second)), "-W", "1", fmt.Sprintf("10.1.0.1%d", to))
	if err != nil {
		e.tb.Fatal(err)
	}
	cmd.Stdout = &p.out
	if err := cmd.Start(); err != nil {
		e.tb.Fatal(err)
	}
	p.cmd = cmd
	go func() { cmd.Wait(); close(p.done) }()
	return p
}

// wait waits for the ping to end and parses its answers.
func (p *pinger) wait() {
	<-p.done
	sc := bufio.NewScanner(strings.NewReader(p.out.String()))
	for sc.Scan() {
		if m := pingSummary.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.Atoi(m[1])
			p.sent = max(0, n-100) // the last second is not judged
		}
		m := pingLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		sec, _ := strconv.ParseInt(m[1], 10, 64)
		frac := (m[2] + "000000")[:6]
		us, _ := strconv.ParseInt(frac, 10, 64)
		seq, _ := strconv.Atoi(m[3])
		p.answered[seq] = time.Unix(sec, us*1000)
	}
}

// lost returns the unanswered sequence numbers with when each was about
// to be answered (interpolated between the answered neighbours).
func (p *pinger) lost() map[int]time.Time {
	var seqs []int
	for s := range p.answered {
		seqs = append(seqs, s)
	}
	sort.Ints(seqs)
	out := map[int]time.Time{}
	for s := 1; s <= p.sent; s++ {
		if _, ok := p.answered[s]; ok {
			continue
		}
		i := sort.SearchInts(seqs, s)
		switch {
		case len(seqs) == 0:
			out[s] = time.Time{}
		case i == 0:
			out[s] = p.answered[seqs[0]].Add(-time.Duration(seqs[0]-s) * 10 * time.Millisecond)
		case i == len(seqs):
			out[s] = p.answered[seqs[i-1]].Add(time.Duration(s-seqs[i-1]) * 10 * time.Millisecond)
		default:
			a, b := seqs[i-1], seqs[i]
			ta, tb := p.answered[a], p.answered[b]
			out[s] = ta.Add(time.Duration(float64(tb.Sub(ta)) * float64(s-a) / float64(b-a)))
		}
	}
	return out
}

// counts are the events that must not happen under load.
func (e *env) harmEvents() map[string]int {
	out := map[string]int{}
	for _, ev := range e.model.Events() {
		switch ev.Kind {
		case "tunnel-failover", "tunnel-down", "tunnel-path-down", "tunnel-kept", "host-move", "tunnel-port-dead":
			out[ev.Kind]++
		}
	}
	return out
}

// linkIdentity names every link with when it was first seen: a link
// removed and found again has a new FirstSeen.
func linkIdentity(m *topology.Model) map[string]time.Time {
	out := map[string]time.Time{}
	for _, l := range m.Links() {
		out[fmt.Sprintf("%s>%s", l.Src, l.Dst)] = l.FirstSeen
	}
	return out
}

// loadRun runs the load phase: the CPU hog is on, host 2's ovs-vswitchd is
// frozen in bursts for d, and every host pair pings every 10 ms. It returns
// the events raised, the links removed and the pings lost outside the
// bursts (those whose path crosses host 2 may be lost while it is frozen).
func (e *env) loadRun(t *testing.T, d time.Duration) (events map[string]int, linksRemoved []string, badLoss map[string]int, bursts []burst) {
	before := e.harmEvents()
	links := linkIdentity(e.model)
	pairs := [][2]int{{1, 2}, {1, 3}, {2, 3}}
	var pings []*pinger
	for _, pr := range pairs {
		pings = append(pings, e.startPing(pr[0], pr[1], d))
	}
	ctx, cancel := context.WithTimeout(context.Background(), d-time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); bursts = e.freezeBursts(ctx, 2) }()
	wg.Wait()
	for _, p := range pings {
		p.wait()
	}
	events = e.harmEvents()
	for k, v := range before {
		events[k] -= v
		if events[k] == 0 {
			delete(events, k)
		}
	}
	now := linkIdentity(e.model)
	for k, first := range links {
		if got, ok := now[k]; !ok || !got.Equal(first) {
			linksRemoved = append(linksRemoved, k)
		}
	}
	var frozen time.Duration
	for _, b := range bursts {
		frozen += b.cont.Sub(b.stop)
	}
	badLoss = map[string]int{}
	for _, p := range pings {
		name := fmt.Sprintf("h%d->h%d", p.from, p.to)
		lost := p.lost()
		during := 0
		for _, at := range lost {
			in := false
			if p.from == 2 || p.to == 2 {
				for _, b := range bursts {
					// answered about when it would have been, give or take
					// the reply's own delay behind the frozen datapath
					if !at.Before(b.stop.Add(-100*time.Millisecond)) && !at.After(b.cont.Add(200*time.Millisecond)) {
						in = true
					}
				}
			}
			if in {
				during++
			} else {
				badLoss[name]++
			}
		}
		t.Logf("%s: %d of %d pings answered, %d lost during the freezes, %d outside", name, p.sent-len(lost), p.sent, during, badLoss[name])
		if badLoss[name] == 0 {
			delete(badLoss, name)
		}
	}
	t.Logf("%d freezes of h2's ovs-vswitchd, %s in all; events %v; held probes %d; load %+v", len(bursts), frozen.Round(time.Millisecond), events,
		e.pm.Load().HeldProbes, e.pm.Load())
	return events, linksRemoved, badLoss, bursts
}

// cutUnderLoad cuts path 1 between h1 and h3 n times while h1 pings h3
// and returns the longest gap of each cut.
func (e *env) cutUnderLoad(t *testing.T, n int) []int {
	var gaps []int
	for i := 0; i < n; i++ {
		e.waitActive(t, 1)
		before := len(e.events("tunnel-failover"))
		sent, answered := e.pingRun(3*time.Second, func() {
			time.Sleep(800 * time.Millisecond)
			if err := e.topo.CutPath(e.ctx, 1, 1, 3); err != nil {
				t.Fatal(err)
			}
		})
		gap, _ := longestGap(sent, answered)
		if err := e.topo.RestorePath(e.ctx, 1, 1, 3); err != nil {
			t.Fatal(err)
		}
		if len(e.events("tunnel-failover")) == before {
			t.Fatalf("cut %d of path 1 under load: no failover: %+v", i+1, e.pm.Paths())
		}
		if len(answered) == 0 || answered[len(answered)-1] < sent-20 {
			t.Fatalf("cut %d: the ping did not resume on path 2", i+1)
		}
		gaps = append(gaps, gap)
	}
	return gaps
}

func loadConfig() probes.Config {
	// no flap damping: the cuts at the end come in quick succession
	return probes.Config{HoldDown: time.Second, FlapLimit: 1 << 30}
}

// Do no harm under load: with a CPU hog of 2 busy workers per core and
// host 2's ovs-vswitchd frozen for 50-300 ms at a time, for a minute,
// Satellite moves no traffic, takes no tunnel down, removes no link and
// reports no host move, and no ping is lost but those crossing the frozen
// datapath while it is frozen. Then, still under load, a real cut of path
// 1 fails over.
func TestNoHarmUnderLoad(t *testing.T) {
	d := 60 * time.Second
	if s := os.Getenv("SAT_LOAD_SECONDS"); s != "" {
		n, _ := strconv.Atoi(s)
		d = time.Duration(n) * time.Second
	}
	for _, mode := range []struct {
		name  string
		bfdMS int
	}{{"bfd off", 0}, {"bfd on", 300}} {
		t.Run(mode.name, func(t *testing.T) {
			e := startEnv(t, envOpts{bfdMS: mode.bfdMS, pcfg: loadConfig(), hosts: []int{1, 2, 3}, discovery: true})
			e.t = t
			e.waitLinksSettled(t)
			startHog(t)
			events, removed, badLoss, _ := e.loadRun(t, d)
			if len(events) != 0 {
				t.Errorf("under load: events %v:\n%s", events, e.eventLog())
			}
			if len(removed) != 0 {
				t.Errorf("under load: %d links removed or found again: %v", len(removed), removed)
			}
			if len(badLoss) != 0 {
				t.Errorf("under load: pings lost outside the freezes: %v", badLoss)
			}
			if e.pm.Load().HeldProbes == 0 {
				t.Errorf("no probe held: the freezes went unnoticed")
			}
			for _, l := range strings.Split(e.logs.String(), "\n") {
				if strings.Contains(l, "verdicts held") || strings.Contains(l, "verdicts resume") {
					t.Log(l)
				}
			}
			gaps := e.cutUnderLoad(t, 2)
			sort.Ints(gaps)
			t.Logf("path 1 cut under load: gaps %v ms (median %d)", gaps, gaps[len(gaps)/2])
		})
	}
}

// The same load with the guards off (probes.hold_on_overload: false, the
// behaviour before them) makes false failovers: the test above would see
// them.
func TestUnguardedHarmsUnderLoad(t *testing.T) {
	d := 15 * time.Second
	cfg := loadConfig()
	cfg.Unguarded = true
	e := startEnv(t, envOpts{pcfg: cfg, hosts: []int{1, 2, 3}, discovery: true})
	e.t = t
	e.waitLinksSettled(t)
	startHog(t)
	events, _, badLoss, _ := e.loadRun(t, d)
	if events["tunnel-path-down"] == 0 || events["tunnel-failover"]+events["tunnel-down"] == 0 {
		t.Fatalf("unguarded under load: events %v; want false path-downs and failovers", events)
	}
	t.Logf("unguarded: events %v, pings lost outside the freezes %v", events, badLoss)
}

// waitLinksSettled waits until LLDP found every link (4 direct, 12 tunnel)
// and the discovery interval passed once more.
func (e *env) waitLinksSettled(t *testing.T) {
	deadline := time.Now().Add(20 * time.Second)
	for len(e.model.Links()) < 16 {
		if time.Now().After(deadline) {
			t.Fatalf("links %d, want 16: %+v", len(e.model.Links()), e.model.Links())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
}

func (e *env) eventLog() string {
	var b strings.Builder
	for _, ev := range e.model.Events() {
		fmt.Fprintf(&b, "%s %s %s\n", ev.Time.Format("15:04:05.000"), ev.Kind, ev.Message)
	}
	return b.String()
}
