package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// CutPath cuts underlay path (1 or 2):
//
//   - host 0 (all): switch sw<path> goes down, the path is dead for everybody;
//   - host i, peer 0: the switch side of host i's uplink goes down, so ul<path>
//     in host i loses carrier and all of its path tunnels fail;
//   - host i, peer k: only i <-> k on that path, by priority-65000 drop flows
//     in br-ul<path> of both hosts.
//
// Without BFD a cut tunnel port stays LIVE in OpenFlow; with BFD, OVS clears
// LIVE (and sends a port-status) about 3 BFD intervals later.
func (l *Lab) CutPath(ctx context.Context, host, path, peer int) error {
	return l.pathOp(ctx, true, host, path, peer)
}

// RestorePath undoes CutPath with the same arguments.
func (l *Lab) RestorePath(ctx context.Context, host, path, peer int) error {
	return l.pathOp(ctx, false, host, path, peer)
}

// RestoreAll undoes every path cut (switches, uplinks, pair flows).
func (l *Lab) RestoreAll(ctx context.Context) error {
	c := l.cfg
	lines := []string{"link set sw1 up", "link set sw2 up"}
	for i := 1; i <= c.Hosts; i++ {
		for p := 1; p <= 2; p++ {
			lines = append(lines, fmt.Sprintf("link set h%dp%d up", i, p))
		}
	}
	if err := ipBatch(ctx, c.UnderlayNS(), lines); err != nil {
		return err
	}
	return forEach(c.Hosts, c.Jobs, func(i int) error {
		for p := 1; p <= 2; p++ {
			if _, err := l.ofctl(ctx, i, "del-flows", fmt.Sprintf("br-ul%d", p), cutCookieMatch(p, 0)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (l *Lab) pathOp(ctx context.Context, cut bool, host, path, peer int) error {
	c := l.cfg
	if path != 1 && path != 2 {
		return fmt.Errorf("lab: path must be 1 or 2 (got %d)", path)
	}
	state := "up"
	if cut {
		state = "down"
	}
	if host == 0 {
		if peer != 0 {
			return fmt.Errorf("lab: a peer makes no sense when cutting a path for all hosts")
		}
		return ipBatch(ctx, c.UnderlayNS(), []string{fmt.Sprintf("link set sw%d %s", path, state)})
	}
	if err := l.checkHost(host); err != nil {
		return err
	}
	if peer == 0 {
		return ipBatch(ctx, c.UnderlayNS(), []string{fmt.Sprintf("link set h%dp%d %s", host, path, state)})
	}
	if err := l.checkHost(peer); err != nil {
		return err
	}
	if peer == host {
		return fmt.Errorf("lab: host and peer must differ")
	}
	br := fmt.Sprintf("br-ul%d", path)
	for _, e := range [][2]int{{host, peer}, {peer, host}} {
		a, b := e[0], e[1]
		if cut {
			cookie := fmt.Sprintf("cookie=%#x", cutCookieBase|path<<8|b)
			remote := c.UnderlayIP(b, path)
			flows := fmt.Sprintf("%s,priority=65000,ip,nw_dst=%s,actions=drop\n%s,priority=65000,ip,nw_src=%s,actions=drop\n", cookie, remote, cookie, remote)
			if _, err := run(ctx, cmdSpec{env: ovsEnv(c.HostDir(a)), stdin: flows}, "ovs-ofctl", "add-flows", br, "-"); err != nil {
				return err
			}
		} else if _, err := l.ofctl(ctx, a, "del-flows", br, cutCookieMatch(path, b)); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) linkOp(ctx context.Context, a, b int, state string) error {
	if err := l.checkHost(a); err != nil {
		return err
	}
	if err := l.checkHost(b); err != nil {
		return err
	}
	found := false
	for _, k := range l.cfg.linkPeers(a) {
		found = found || k == b
	}
	if !found {
		return fmt.Errorf("lab: no direct link between h%d and h%d (links: %s)", a, b, l.cfg.Links)
	}
	if err := ipBatch(ctx, l.cfg.HostNS(a), []string{"link set " + LinkPort(b) + " " + state}); err != nil {
		return err
	}
	return ipBatch(ctx, l.cfg.HostNS(b), []string{"link set " + LinkPort(a) + " " + state})
}

// CutLink takes the direct link between hosts a and b down (`ip link set
// down` on both veth ends), so both bridges send an OpenFlow port-status
// with LINK_DOWN.
func (l *Lab) CutLink(ctx context.Context, a, b int) error { return l.linkOp(ctx, a, b, "down") }

// RestoreLink brings the direct link between a and b up again.
func (l *Lab) RestoreLink(ctx context.Context, a, b int) error { return l.linkOp(ctx, a, b, "up") }

// StopHost stops host i's ovs-vswitchd (SIGTERM, SIGKILL after 5 s). Its
// ovsdb-server keeps running, so the bridge configuration survives; the
// flows do not. The switch's controller connections drop.
func (l *Lab) StopHost(ctx context.Context, i int) error {
	return l.signalSwitch(ctx, i, syscall.SIGTERM)
}

// KillSwitch SIGKILLs host i's ovs-vswitchd (a crash, not a clean exit).
func (l *Lab) KillSwitch(ctx context.Context, i int) error {
	return l.signalSwitch(ctx, i, syscall.SIGKILL)
}

func (l *Lab) signalSwitch(ctx context.Context, i int, sig syscall.Signal) error {
	if err := l.checkHost(i); err != nil {
		return err
	}
	pf := filepath.Join(l.cfg.HostDir(i), "ovs-vswitchd.pid")
	pid := pidfileAlive(pf)
	if pid == 0 {
		return nil
	}
	if sig == syscall.SIGKILL {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if left := waitGone([]int{pid}, 5*time.Second); len(left) > 0 {
			return fmt.Errorf("lab: h%d ovs-vswitchd (pid %d) survived SIGKILL", i, pid)
		}
		return nil
	}
	if left := stopPids([]int{pid}, 5*time.Second); len(left) > 0 {
		return fmt.Errorf("lab: h%d ovs-vswitchd (pid %d) could not be stopped", i, pid)
	}
	return nil
}

// StartHost starts host i's daemons again (those not running), waits until
// br-int answers OpenFlow, re-applies the underlay addresses and, with BFD
// off, re-resolves the tunnel next hops. The bridge configuration comes
// back from OVSDB with the same ports, ofports and datapath id; flows must
// be pushed again (the controller does that when it reconnects).
func (l *Lab) StartHost(ctx context.Context, i int) error {
	if err := l.checkHost(i); err != nil {
		return err
	}
	lk, err := lockFile(ctx, l.cfg.lockPath())
	if err != nil {
		return err
	}
	defer lk.unlock()
	if err := l.startDaemons(ctx, i); err != nil {
		return fmt.Errorf("h%d: %w", i, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := l.ofctl(ctx, i, "-O", "OpenFlow13", "show", Bridge)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: h%d: br-int does not answer after restart (see %s): %w", i, filepath.Join(l.cfg.HostDir(i), "ovs-vswitchd.log"), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := l.ensureUnderlayAddrs(ctx, i); err != nil {
		return err
	}
	if !l.cfg.BFD && l.cfg.Hosts > 1 {
		return l.seedNeighbours(ctx, i)
	}
	return nil
}

// VSwitchdLogTail returns the last n lines of host i's ovs-vswitchd.log.
func (l *Lab) VSwitchdLogTail(i, n int) string {
	return tailFile(filepath.Join(l.cfg.HostDir(i), "ovs-vswitchd.log"), n)
}

func tailFile(path string, n int) string {
	b, err := readFileTail(path, 256<<10)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// readFileTail reads at most max bytes from the end of path.
func readFileTail(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := st.Size() - max
	if off < 0 {
		off = 0
	}
	b := make([]byte, st.Size()-off)
	n, err := f.ReadAt(b, off)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return b[:n], nil
}
