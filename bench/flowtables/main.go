// Command flowtables measures Satellite against large flow tables on real
// Open vSwitch (issue "Large flow tables"): for each table size it loads
// the flows with ovs-ofctl add-flows with no controller and with
// `satellite serve` connected (interleaved rounds), times ovs-ofctl
// dump-flows (the floor) against the API's flow listing, and reads the
// resident memory of the satellite process once its collector has polled
// the whole table. Run as root: `make bench-flows` (BENCHMARKS.md).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/satellite-sdn/satellite/lab"
)

func main() {
	sizes := flag.String("sizes", "10000,50000,100000,200000", "table sizes, comma-separated")
	rounds := flag.Int("rounds", 3, "add-flows rounds per size and mode (interleaved)")
	bin := flag.String("satellite", "bin/satellite", "the satellite binary")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *sizes, *rounds, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "flowtables:", err)
		os.Exit(1)
	}
}

type result struct {
	n                  int
	addNone, addSat    []time.Duration
	dumpOfctl, dumpAPI []time.Duration
	rssSteady, rssPeak int64 // KiB
	apiBytes           int64
	polls              string
}

func run(ctx context.Context, sizeList string, rounds int, bin string) error {
	var sizes []int
	for _, s := range strings.Split(sizeList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("size %q: want a whole number", s)
		}
		sizes = append(sizes, n)
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s: %w (run make build first)", bin, err)
	}
	dir, err := os.MkdirTemp("", "satellite-flowtables-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "of.sock")
	topo, err := lab.Up(ctx, lab.Config{Prefix: "sfb-", Hosts: 1, VMs: -1, Links: lab.LinksNone, Controllers: []string{"unix:" + sock}}, os.Stderr)
	if err != nil {
		return err
	}
	l := topo.Lab
	defer func() {
		if err := lab.Down(context.Background(), l.Config(), os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "flowtables:", err)
		}
	}()
	// the lab's own controller target (a socket link in the host's run
	// directory: OVS refuses unix sockets elsewhere), restored for the
	// rounds with Satellite
	out, err := l.OVS(ctx, 1, "ovs-vsctl", "get-controller", "br-int")
	if err != nil {
		return err
	}
	target := strings.TrimSpace(string(out))
	ofctl := func(args ...string) error {
		_, err := l.OVS(ctx, 1, "ovs-ofctl", append([]string{"-O", "OpenFlow13"}, args...)...)
		return err
	}

	var results []result
	for _, n := range sizes {
		file := filepath.Join(dir, fmt.Sprintf("flows-%d.txt", n))
		if err := writeFlows(file, n); err != nil {
			return err
		}
		r := result{n: n}
		for round := 0; round < rounds; round++ {
			for _, withSat := range []bool{round%2 == 1, round%2 == 0} { // interleaved A/B
				if err := ofctl("del-flows", "br-int", "table=10"); err != nil {
					return err
				}
				var sat *satellite
				if withSat {
					if _, err := l.OVS(ctx, 1, "ovs-vsctl", "set-controller", "br-int", target); err != nil {
						return err
					}
					if sat, err = startSatellite(ctx, bin, dir, sock); err != nil {
						return err
					}
				} else if _, err := l.OVS(ctx, 1, "ovs-vsctl", "del-controller", "br-int"); err != nil {
					// the floor: a bridge with no controller at all
					return err
				}
				t0 := time.Now()
				if err := ofctl("add-flows", "br-int", file); err != nil {
					sat.stop()
					return err
				}
				took := time.Since(t0)
				if withSat {
					r.addSat = append(r.addSat, took)
					if round == rounds-1 || round == rounds-2 {
						if err := measureSatellite(ctx, sat, n, &r, l); err != nil {
							sat.stop()
							return err
						}
					}
					sat.stop()
				} else {
					r.addNone = append(r.addNone, took)
				}
				fmt.Fprintf(os.Stderr, "flowtables: %d flows, round %d, satellite %v: add-flows %.2fs\n", n, round+1, withSat, took.Seconds())
			}
		}
		results = append(results, r)
	}
	printResults(os.Stdout, results, rounds)
	return nil
}

// writeFlows writes n foreign flows for table 10 in ovs-ofctl syntax.
func writeFlows(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "table=10,priority=%d,ip,nw_src=10.%d.%d.%d,nw_dst=192.168.%d.0/24,actions=drop\n",
			100+i%50, i>>16&255, i>>8&255, i&255, i%200)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type satellite struct {
	cmd   *exec.Cmd
	base  string
	done  chan struct{}
	token string // the admin token the first start writes next to the state file
	state string
}

func startSatellite(ctx context.Context, bin, dir, sock string) (*satellite, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "satellite.yaml")
	state := filepath.Join(dir, "state.db")
	for _, f := range []string{state, "state-tokens.db", "state-admin.token", "state-audit.log", "state-alerts.db"} {
		os.Remove(filepath.Join(dir, filepath.Base(f)))
	}
	if err := os.WriteFile(cfg, []byte("state_file: "+state+"\nlog_level: warn\n"), 0o600); err != nil {
		return nil, err
	}
	os.Remove(sock)
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", cfg, "--openflow", "unix:"+sock, "--http", addr)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &satellite{cmd: cmd, base: "http://" + addr, done: make(chan struct{}), state: state}
	go func() { cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var sw []map[string]any
		if err := s.get("/api/v1/switches", &sw); err == nil && len(sw) == 1 {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("satellite at %s: the lab's switch did not connect in 20 s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *satellite) stop() {
	if s == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// do sends an authenticated GET: the bootstrap admin token that serve
// writes on its first start, state-admin.token next to the state file.
func (s *satellite) do(path string) (*http.Response, error) {
	if s.token == "" {
		b, err := os.ReadFile(strings.TrimSuffix(s.state, ".db") + "-admin.token")
		if err != nil {
			return nil, fmt.Errorf("the admin token: %w", err)
		}
		s.token = strings.TrimSpace(string(b))
	}
	req, err := http.NewRequest("GET", s.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	return http.DefaultClient.Do(req)
}

func (s *satellite) get(path string, v any) error {
	resp, err := s.do(path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// status reads VmRSS and VmHWM (KiB) of pid.
func status(pid int) (rss, hwm int64) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			switch f[0] {
			case "VmRSS:":
				rss = v
			case "VmHWM:":
				hwm = v
			}
		}
	}
	return rss, hwm
}

type flowKind struct {
	Polls       uint64   `json:"polls"`
	Series      int      `json:"series"`
	WithHistory *int     `json:"with_history"`
	IntervalS   *float64 `json:"interval_s"`
}

// measureSatellite waits until the collector has polled all n flows twice,
// then reads the process's memory, times the API listing against
// ovs-ofctl dump-flows and reads the peak memory.
func measureSatellite(ctx context.Context, s *satellite, n int, r *result, l *lab.Lab) error {
	flowStats := func() (flowKind, error) {
		var st struct {
			Switches []struct {
				Kinds map[string]flowKind `json:"kinds"`
			} `json:"switches"`
		}
		if err := s.get("/api/v1/metrics/stats", &st); err != nil || len(st.Switches) == 0 {
			return flowKind{}, fmt.Errorf("metrics stats: %v", err)
		}
		return st.Switches[0].Kinds["flow"], nil
	}
	deadline := time.Now().Add(5 * time.Minute)
	var full uint64
	for {
		fk, err := flowStats()
		if err != nil {
			return err
		}
		if fk.Series >= n && full == 0 {
			full = fk.Polls
		}
		if full != 0 && fk.Polls >= full+1 {
			wh, iv := 0, 0.0
			if fk.WithHistory != nil {
				wh = *fk.WithHistory
			}
			if fk.IntervalS != nil {
				iv = *fk.IntervalS
			}
			r.polls = fmt.Sprintf("%d series, %d with history, flow interval %.0fs", fk.Series, wh, iv)
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d flows: the collector had not polled the whole table twice after 5 minutes (%+v)", n, fk)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	rss, _ := status(s.cmd.Process.Pid)
	r.rssSteady = max(r.rssSteady, rss)

	t0 := time.Now()
	if _, err := l.OVS(ctx, 1, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int"); err != nil {
		return err
	}
	r.dumpOfctl = append(r.dumpOfctl, time.Since(t0))

	t0 = time.Now()
	resp, err := s.do("/api/v1/switches/1/flows")
	if err != nil {
		return err
	}
	nb, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		return fmt.Errorf("flow listing: %s %v", resp.Status, err)
	}
	r.dumpAPI = append(r.dumpAPI, time.Since(t0))
	r.apiBytes = nb
	_, hwm := status(s.cmd.Process.Pid)
	r.rssPeak = max(r.rssPeak, hwm)
	return nil
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func span(d []time.Duration) string {
	if len(d) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f-%.2f", slices.Min(d).Seconds(), slices.Max(d).Seconds())
}

func printResults(w io.Writer, rs []result, rounds int) {
	fmt.Fprintf(w, "\n| flows | add-flows, no controller | add-flows, Satellite connected | ratio | dump-flows (ovs-ofctl) | API listing | ratio | Satellite RSS after 2 full polls | peak RSS (listing included) |\n")
	fmt.Fprintf(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		an, as := median(r.addNone), median(r.addSat)
		do, da := median(r.dumpOfctl), median(r.dumpAPI)
		fmt.Fprintf(w, "| %d | %.2f s (%s) | %.2f s (%s) | %.2fx | %.2f s | %.2f s (%.0f MB) | %.2fx | %.0f MB | %.0f MB |\n",
			r.n, an.Seconds(), span(r.addNone), as.Seconds(), span(r.addSat), as.Seconds()/an.Seconds(),
			do.Seconds(), da.Seconds(), float64(r.apiBytes)/1e6, da.Seconds()/do.Seconds(), float64(r.rssSteady)/1024, float64(r.rssPeak)/1024)
	}
	fmt.Fprintf(w, "\nmedians of %d interleaved rounds (add-flows), of 2 (dumps, memory: the larger); collector at the end: ", rounds)
	for i, r := range rs {
		if i > 0 {
			fmt.Fprint(w, "; ")
		}
		fmt.Fprintf(w, "%d: %s", r.n, r.polls)
	}
	fmt.Fprintln(w)
	if len(rs) >= 2 {
		a, b := rs[len(rs)-2], rs[len(rs)-1]
		per := float64(b.rssSteady-a.rssSteady) / 1024 / (float64(b.n-a.n) / 10000)
		fmt.Fprintf(w, "RSS per 10,000 additional flows (%d -> %d): %.1f MB\n", a.n, b.n, per)
	}
}
