package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const clockTicks = 100 // USER_HZ on Linux

// cpuTicks returns utime+stime of pid (all its threads), in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st, nil
}

// rssKiB reads VmRSS of pid.
func rssKiB(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}

// cpuOver measures the CPU share (percent of one core) of each pid over d.
func cpuOver(ctx context.Context, d time.Duration, pids ...int) ([]float64, error) {
	start := make([]int64, len(pids))
	for i, p := range pids {
		t, err := cpuTicks(p)
		if err != nil {
			return nil, err
		}
		start[i] = t
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(d):
	}
	el := time.Since(t0).Seconds()
	out := make([]float64, len(pids))
	for i, p := range pids {
		t, err := cpuTicks(p)
		if err != nil {
			return nil, err
		}
		out[i] = float64(t-start[i]) / clockTicks / el * 100
	}
	return out, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

const settle = 5 * time.Second // after discovery, before an idle window or a flow fetch

type sessionFunc func(p peer, fn func(c controller, discovered time.Duration) error) error

// measureIdle: per round, no controller, Satellite and os-ken in rotating
// order; each attached to the whole ring, links discovered, settled, then
// the CPU of the controller and of ovs-vswitchd over o.idle and the
// controller's RSS.
func measureIdle(ctx context.Context, o options, r *ring, peers []peer, session sessionFunc, vsPid int, res *results) error {
	modes := append([]string{"none"}, peers[0].name, peers[1].name)
	for round := 0; round < o.rounds; round++ {
		for k := 0; k < len(modes); k++ {
			mode := modes[(k+round)%len(modes)]
			if mode == "none" {
				if err := sleep(ctx, settle); err != nil {
					return err
				}
				cpu, err := cpuOver(ctx, o.idle, vsPid)
				if err != nil {
					return err
				}
				res.add("vswitchd", "floor", cpu[0])
				logf("idle round %d, no controller: ovs-vswitchd %.1f%%", round+1, cpu[0])
				continue
			}
			p := peers[0]
			if mode != p.name {
				p = peers[1]
			}
			err := session(p, func(c controller, d time.Duration) error {
				if d < 0 {
					return fmt.Errorf("%s did not discover the %d-bridge ring in %v", p.name, r.n, -d)
				}
				if err := sleep(ctx, settle); err != nil {
					return err
				}
				cpu, err := cpuOver(ctx, o.idle, c.pid(), vsPid)
				if err != nil {
					return err
				}
				rss := float64(rssKiB(c.pid())) / 1024
				res.add("ctlcpu", p.name, cpu[0])
				res.add("vswitchd", p.name, cpu[1])
				res.add("rss", p.name, rss)
				logf("idle round %d, %s: controller %.1f%%, ovs-vswitchd %.1f%%, RSS %.0f MB", round+1, p.name, cpu[0], cpu[1], rss)
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// writeFlows writes n flows for table 10 in ovs-ofctl syntax.
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

// measureFlows: per round and peer, attached to the ring, o.flows flows
// loaded into bridge 1, then ovs-ofctl dump-flows (the floor) and the
// peer's API: one request, and for Satellite page by page
// (?limit=o.pageLimit following the Link header).
func measureFlows(ctx context.Context, o options, r *ring, peers []peer, session sessionFunc, res *results) error {
	dir, err := os.MkdirTemp("", "spb-flows-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "flows.txt")
	if err := writeFlows(file, o.flows); err != nil {
		return err
	}
	b1 := bridge(1)
	dpid := dpidOf(1)
	for round := 0; round < o.rounds; round++ {
		for _, p := range abOrder(peers, round) {
			err := session(p, func(c controller, d time.Duration) error {
				// OVS flushes a bridge's flows when it gets its first
				// controller (and loses its last), so the flows go in now.
				t0 := time.Now()
				if _, err := r.l.OVS(ctx, 1, "ovs-ofctl", "-O", "OpenFlow13", "add-flows", b1, file); err != nil {
					return err
				}
				logf("flows round %d, %s: %d flows added in %.1fs", round+1, p.name, o.flows, time.Since(t0).Seconds())
				if err := sleep(ctx, settle); err != nil {
					return err
				}
				t0 = time.Now()
				if _, err := r.l.OVS(ctx, 1, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", b1); err != nil {
					return err
				}
				res.add("flows", "floor", time.Since(t0))
				logf("flows round %d: ovs-ofctl dump-flows %.2fs", round+1, time.Since(t0).Seconds())
				switch c := c.(type) {
				case *satellite:
					t0 := time.Now()
					n, _, err := c.api.count(ctx, "/api/v1/switches/"+dpid+"/flows")
					if err != nil {
						return err
					}
					took := time.Since(t0)
					if n < o.flows {
						out, _ := r.l.OVS(ctx, 1, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", b1)
						return fmt.Errorf("satellite listed %d flows, want at least %d (the switch holds %d)", n, o.flows, strings.Count(string(out), "\n")-1)
					}
					res.add("flows", p.name, took)
					t0 = time.Now()
					path := fmt.Sprintf("/api/v1/switches/%s/flows?limit=%d", dpid, o.pageLimit)
					total, pages := 0, 0
					for path != "" && pages < 10000 {
						n, link, err := c.api.count(ctx, path)
						if err != nil {
							return err
						}
						total += n
						pages++
						path = nextLink(link)
					}
					paged := time.Since(t0)
					if total < o.flows {
						return fmt.Errorf("satellite's pages held %d flows, want at least %d", total, o.flows)
					}
					res.add("pages", p.name, paged)
					res.pages = pages
					logf("flows round %d, Satellite: one request %.2fs, %d pages %.2fs", round+1, took.Seconds(), pages, paged.Seconds())
				case *osken:
					t0 := time.Now()
					n, _, err := c.api.count(ctx, "/flows/"+dpid)
					if err != nil {
						return err
					}
					took := time.Since(t0)
					if n < o.flows {
						out, _ := r.l.OVS(ctx, 1, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", b1)
						return fmt.Errorf("os-ken listed %d flows, want at least %d (the switch holds %d)", n, o.flows, strings.Count(string(out), "\n")-1)
					}
					res.add("flows", p.name, took)
					logf("flows round %d, os-ken: %.2fs", round+1, took.Seconds())
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// nextLink returns the target of a Link header's rel="next", or "".
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		if !strings.Contains(part, `rel="next"`) {
			continue
		}
		if i, j := strings.IndexByte(part, '<'), strings.IndexByte(part, '>'); i >= 0 && j > i {
			return part[i+1 : j]
		}
	}
	return ""
}
