// Command peers measures Satellite side by side with os-ken (issue #18) on
// one private Open vSwitch instance: N netdev bridges in a ring of patch
// ports (a few ring edges are veth pairs, so a link can go down), both
// controllers attached in turn, interleaved A/B rounds. It prints a
// markdown table: links discovered after attach, a veth link down -> gone
// from the API and back up -> rediscovered, a large flow table fetched
// through the API (and page by page) against ovs-ofctl dump-flows, and the
// idle CPU of the controller and of ovs-vswitchd against no controller.
// Run as root: `make bench-peers` (BENCHMARKS.md, bench/peers/README.md).
package main

import (
	"context"
	"flag"
	"fmt"
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

type options struct {
	sizes      []int
	rounds     int
	idleN      int
	idle       time.Duration
	flows      int
	pageLimit  int
	bin        string
	app        string
	timeout    time.Duration
	skipFlows  bool
	skipIdle   bool
	skipDownUp bool
}

func main() {
	var o options
	sizes := flag.String("sizes", "20,60,120,200", "ring sizes (bridges) for the discovery rows, comma-separated")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved A/B rounds per measurement")
	flag.IntVar(&o.idleN, "idle-bridges", 60, "ring size for the link down/up, idle and flow rows")
	flag.DurationVar(&o.idle, "idle", 20*time.Second, "idle CPU window per round and controller")
	flag.IntVar(&o.flows, "flows", 50000, "flows in one bridge for the flow-fetch rows")
	flag.IntVar(&o.pageLimit, "page", 5000, "page size (limit) of Satellite's paged flow listing")
	flag.StringVar(&o.bin, "satellite", "bin/satellite", "the satellite binary")
	flag.StringVar(&o.app, "osken-app", "bench/peers/osken_peer.py", "the os-ken app (links and flows over HTTP)")
	flag.DurationVar(&o.timeout, "timeout", 40*time.Second, "give up waiting for discovery after this long (the row then shows >timeout)")
	flag.BoolVar(&o.skipFlows, "no-flows", false, "skip the flow-fetch rows")
	flag.BoolVar(&o.skipIdle, "no-idle", false, "skip the idle CPU/RSS rows")
	flag.BoolVar(&o.skipDownUp, "no-downup", false, "skip the link down/up rows")
	flag.Parse()
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 4 {
			fmt.Fprintf(os.Stderr, "peers: size %q: want a whole number >= 4\n", s)
			os.Exit(2)
		}
		o.sizes = append(o.sizes, n)
	}
	if o.rounds < 1 || o.idleN < 4 {
		fmt.Fprintln(os.Stderr, "peers: -rounds must be >= 1 and -idle-bridges >= 4")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "peers: "+format+"\n", args...)
}

// ensureOSKen installs Debian's python3-os-ken when osken-manager is missing.
func ensureOSKen(ctx context.Context) error {
	if _, err := exec.LookPath("osken-manager"); err == nil {
		return nil
	}
	logf("installing python3-os-ken (apt-get)")
	cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "--no-install-recommends", "python3-os-ken")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("apt-get install python3-os-ken: %w (run apt-get update, or install it by hand)", err)
	}
	if _, err := exec.LookPath("osken-manager"); err != nil {
		return fmt.Errorf("python3-os-ken is installed but osken-manager is not on PATH: %w", err)
	}
	return nil
}

func run(ctx context.Context, o options) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("run as root (the harness starts Open vSwitch in a network namespace)")
	}
	for _, f := range []string{o.bin, o.app} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%s: %w (run from the repository root after make build)", f, err)
		}
	}
	if err := ensureOSKen(ctx); err != nil {
		return err
	}
	app, err := filepath.Abs(o.app)
	if err != nil {
		return err
	}
	o.app = app
	dir, err := os.MkdirTemp("", "spb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	topo, err := lab.Up(ctx, lab.Config{Prefix: "spb-", Hosts: 1, VMs: -1, Links: lab.LinksNone}, os.Stderr)
	if err != nil {
		return err
	}
	l := topo.Lab
	var ctrl controller // the one running, stopped on the way out
	defer func() {
		if ctrl != nil {
			ctrl.stop()
		}
		if err := lab.Down(context.Background(), l.Config(), os.Stderr); err != nil {
			logf("lab down: %v", err)
		}
	}()
	r := &ring{l: l, ns: l.Config().HostNS(1), vethEdges: vethEdges}
	vsPid, err := pidFile(filepath.Join(l.Config().HostDir(1), "ovs-vswitchd.pid"))
	if err != nil {
		return err
	}
	peers := []peer{
		{name: "Satellite", start: func() (controller, error) { return startSatellite(ctx, o.bin, dir, l.Config().HostDir(1)) }},
		{name: "os-ken", start: func() (controller, error) { return startOSKen(ctx, o.app, dir, l.Config().HostNS(1)) }},
	}
	res := newResults()

	sizes := slices.Clone(o.sizes)
	if !slices.Contains(sizes, o.idleN) && !(o.skipFlows && o.skipIdle && o.skipDownUp) {
		sizes = append(sizes, o.idleN)
	}
	slices.Sort(sizes)
	sizes = slices.Compact(sizes)

	// session runs one controller attached to the whole ring: start it,
	// attach, wait for every link, run fn, detach and stop it.
	session := func(p peer, fn func(c controller, discovered time.Duration) error) error {
		c, err := p.start()
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		ctrl = c
		defer func() {
			if err := r.detach(ctx); err != nil {
				logf("detach: %v", err)
			}
			c.stop()
			ctrl = nil
		}()
		t0 := time.Now()
		if err := r.attach(ctx, c.target()); err != nil {
			return err
		}
		d, err := r.waitLinks(ctx, c, func(s linkState) bool { return s.complete == r.n }, o.timeout)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		if d >= 0 {
			d = time.Since(t0)
		}
		return fn(c, d)
	}

	for _, n := range sizes {
		logf("ring of %d bridges", n)
		if err := r.grow(ctx, n); err != nil {
			return err
		}
		if slices.Contains(o.sizes, n) {
			for round := 0; round < o.rounds; round++ {
				for _, p := range abOrder(peers, round) {
					err := session(p, func(c controller, d time.Duration) error {
						res.add(fmt.Sprintf("discover/%d", n), p.name, d)
						logf("N=%d round %d %s: links after attach %s", n, round+1, p.name, fmtDur(d))
						return nil
					})
					if err != nil {
						return err
					}
				}
			}
		}
		if n != o.idleN {
			continue
		}
		if !o.skipDownUp {
			for round := 0; round < o.rounds; round++ {
				for _, p := range abOrder(peers, round) {
					err := session(p, func(c controller, d time.Duration) error {
						for _, e := range r.vethEdges {
							if e >= r.n {
								continue
							}
							down, up, err := r.flap(ctx, c, e, o.timeout)
							if err != nil {
								return fmt.Errorf("%s: edge %d: %w", p.name, e, err)
							}
							res.add("down", p.name, down)
							res.add("up", p.name, up)
							logf("round %d %s: edge %d down -> gone %s, up -> back %s", round+1, p.name, e, fmtDur(down), fmtDur(up))
						}
						return nil
					})
					if err != nil {
						return err
					}
				}
			}
		}
		if !o.skipIdle {
			if err := measureIdle(ctx, o, r, peers, session, vsPid, res); err != nil {
				return err
			}
		}
		if !o.skipFlows {
			if err := measureFlows(ctx, o, r, peers, session, res); err != nil {
				return err
			}
		}
	}
	res.print(os.Stdout, o, sizes)
	return nil
}

type peer struct {
	name  string
	start func() (controller, error)
}

// abOrder alternates which peer goes first, round by round.
func abOrder(ps []peer, round int) []peer {
	out := slices.Clone(ps)
	if round%2 == 1 {
		slices.Reverse(out)
	}
	return out
}

func pidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("ovs-vswitchd pidfile: %w", err)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
