package lldp_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/topology"
)

// BenchmarkIdleVswitchd measures what discovery costs one ovs-vswitchd at
// idle: a private ovsdb-server and ovs-vswitchd (in a network namespace
// of its own, userspace datapath) with 60 netdev bridges in a ring of
// patch ports, connected to a controller that runs discovery only (the
// topology tracker and lldp.Discovery, no collector, no tunnel prober).
// Once every link is found and the ports have settled, one op is a 10 s
// idle window; reported are ovs-vswitchd's CPU (% of one core) and the
// controller's (this process). Sub-benchmarks: no controller (the floor),
// discovery=off (the controller and the tracker's flows, no probes: what
// a connection costs), steady=1s (every port probed every interval, the
// old schedule) and steady=3s (the default). Needs root and Open vSwitch:
//
//	SATELLITE_BENCH_OVS=1 flock /tmp/sat-ovs.lock go test -run '^$' -bench IdleVswitchd -benchtime=1x -count=3 ./lldp/
func BenchmarkIdleVswitchd(b *testing.B) {
	if os.Getenv("SATELLITE_BENCH_OVS") == "" {
		b.Skip("starts a private Open vSwitch for a minute: set SATELLITE_BENCH_OVS=1 (and hold /tmp/sat-ovs.lock)")
	}
	if os.Geteuid() != 0 {
		b.Skip("needs root (a network namespace and a private Open vSwitch)")
	}
	if _, err := exec.LookPath("ovs-vswitchd"); err != nil {
		b.Skip("needs Open vSwitch: ovs-vswitchd not on PATH")
	}
	for _, v := range []struct {
		name   string
		steady time.Duration // 0: no controller; <0: controller and tracker, no discovery
	}{{"controller=none", 0}, {"discovery=off", -1}, {"steady=1s", time.Second}, {"steady=3s", 3 * time.Second}} {
		b.Run(v.name, func(b *testing.B) {
			const bridges = 60
			o := startOVS(b, bridges)
			probes := func() uint64 { return 0 }
			if v.steady != 0 {
				log := slog.New(slog.NewTextHandler(io.Discard, nil))
				ctl := controller.New(controller.Config{Logger: log})
				ln, err := controller.Listen("unix:" + filepath.Join(o.dir, "of.sock"))
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				model := topology.New(topology.Options{})
				disc := lldp.NewDiscovery(lldp.DiscoveryConfig{Interval: time.Second, SteadyInterval: v.steady, Logger: log}, ctl, model, lldp.NewRandomSigner())
				var wg sync.WaitGroup
				wg.Add(3)
				go func() { defer wg.Done(); ctl.Serve(ctx, ln) }()
				go func() { defer wg.Done(); topology.NewTracker(topology.TrackerConfig{Logger: log}, ctl, model).Run(ctx) }()
				go func() {
					defer wg.Done()
					if v.steady > 0 {
						disc.Run(ctx)
					}
				}()
				b.Cleanup(func() { cancel(); wg.Wait() })
				probes = func() uint64 { return disc.Stats().ProbesSent }
				var args []string
				for i := 1; i <= bridges; i++ {
					args = append(args, "--", "set-controller", fmt.Sprintf("br%d", i), "unix:"+filepath.Join(o.dir, "of.sock"))
				}
				o.vsctl(b, args...)
				deadline := time.Now().Add(30 * time.Second)
				for v.steady > 0 && len(model.Links()) < 2*bridges {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d links after 30 s", len(model.Links()), 2*bridges)
					}
					time.Sleep(10 * time.Millisecond)
				}
				for len(ctl.Switches()) < bridges {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d bridges connected after 30 s", len(ctl.Switches()), bridges)
					}
					time.Sleep(10 * time.Millisecond)
				}
				time.Sleep(3*time.Second + max(v.steady, 0)) // the ports settle
			} else {
				time.Sleep(2 * time.Second)
			}
			var sw, own, rate float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s0, c0, p0, t0 := o.cpu(b), selfCPU(), probes(), time.Now()
				time.Sleep(10 * time.Second)
				s1, c1, p1, t1 := o.cpu(b), selfCPU(), probes(), time.Now()
				wall := t1.Sub(t0).Seconds()
				sw += (s1 - s0) / wall * 100
				own += (c1 - c0) / wall * 100
				rate += float64(p1-p0) / wall
			}
			b.ReportMetric(sw/float64(b.N), "vswitchd-cpu-%")
			b.ReportMetric(own/float64(b.N), "controller-cpu-%")
			b.ReportMetric(rate/float64(b.N), "probes/s")
		})
	}
}

type privateOVS struct {
	dir, ns string
	pid     int
}

// startOVS starts ovsdb-server and ovs-vswitchd in a network namespace of
// their own, with n netdev bridges br1..brN in a ring of patch ports
// (port 1 of br i to port 2 of br i+1), and stops them at cleanup.
func startOVS(b *testing.B, n int) *privateOVS {
	b.Helper()
	rnd := make([]byte, 3)
	rand.Read(rnd)
	dir, err := os.MkdirTemp("", "satidle")
	if err != nil {
		b.Fatal(err)
	}
	o := &privateOVS{dir: dir, ns: "satidle-" + hex.EncodeToString(rnd)}
	run := func(args ...string) {
		b.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_LOGDIR="+dir, "OVS_DBDIR="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("ip", "netns", "add", o.ns)
	b.Cleanup(func() {
		for _, f := range []string{"ovs-vswitchd.pid", "ovsdb-server.pid"} {
			if pid := readPid(filepath.Join(dir, f)); pid > 0 {
				syscall.Kill(pid, syscall.SIGTERM)
				for i := 0; i < 50 && syscall.Kill(pid, 0) == nil; i++ {
					time.Sleep(100 * time.Millisecond)
				}
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		exec.Command("ip", "netns", "del", o.ns).Run()
		os.RemoveAll(dir)
	})
	run("ovsdb-tool", "create", filepath.Join(dir, "conf.db"), "/usr/share/openvswitch/vswitch.ovsschema")
	run("ip", "netns", "exec", o.ns, "ovsdb-server", filepath.Join(dir, "conf.db"), "--remote=punix:"+filepath.Join(dir, "db.sock"),
		"--pidfile="+filepath.Join(dir, "ovsdb-server.pid"), "--detach", "--log-file="+filepath.Join(dir, "ovsdb-server.log"))
	o.vsctl(b, "--no-wait", "init")
	run("ip", "netns", "exec", o.ns, "ovs-vswitchd", "unix:"+filepath.Join(dir, "db.sock"),
		"--pidfile="+filepath.Join(dir, "ovs-vswitchd.pid"), "--detach", "--log-file="+filepath.Join(dir, "ovs-vswitchd.log"))
	o.pid = readPid(filepath.Join(dir, "ovs-vswitchd.pid"))
	var args []string
	for i := 1; i <= n; i++ {
		next := i%n + 1
		args = append(args, "--", "add-br", fmt.Sprintf("br%d", i),
			"--", "set", "bridge", fmt.Sprintf("br%d", i), "datapath_type=netdev", "fail-mode=secure", "protocols=OpenFlow13",
			fmt.Sprintf("other-config:datapath-id=%016x", i),
			"--", "add-port", fmt.Sprintf("br%d", i), fmt.Sprintf("r%da", i),
			"--", "set", "interface", fmt.Sprintf("r%da", i), "type=patch", fmt.Sprintf("options:peer=r%db", next), "ofport_request=1",
			"--", "add-port", fmt.Sprintf("br%d", next), fmt.Sprintf("r%db", next),
			"--", "set", "interface", fmt.Sprintf("r%db", next), "type=patch", fmt.Sprintf("options:peer=r%da", i), "ofport_request=2")
	}
	// bridges first (a port cannot join a bridge made later in the transaction)
	var brs, ports []string
	for j := 0; j < len(args); {
		k := j + 1
		for k < len(args) && args[k] != "--" {
			k++
		}
		if args[j+1] == "add-br" || (args[j+1] == "set" && args[j+2] == "bridge") {
			brs = append(brs, args[j:k]...)
		} else {
			ports = append(ports, args[j:k]...)
		}
		j = k
	}
	o.vsctl(b, append(brs, ports...)...)
	return o
}

func (o *privateOVS) vsctl(b *testing.B, args ...string) {
	b.Helper()
	full := append([]string{"--db=unix:" + filepath.Join(o.dir, "db.sock"), "--timeout=30"}, args...)
	if len(args) > 0 && args[0] == "--" {
		full = append(full[:2], args[1:]...)
	}
	cmd := exec.Command("ovs-vsctl", full...)
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+o.dir, "OVS_LOGDIR="+o.dir, "OVS_DBDIR="+o.dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("ovs-vsctl %s: %v\n%s", strings.Join(full, " "), err, out)
	}
}

// cpu returns ovs-vswitchd's user+system CPU seconds.
func (o *privateOVS) cpu(b *testing.B) float64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", o.pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func readPid(f string) int {
	b, err := os.ReadFile(f)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}
