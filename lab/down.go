package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Down removes everything the lab of cfg.Prefix / cfg.Dir created, and only
// that (cfg.Hosts is ignored):
//
//  1. the OVS daemons of its host run directories: the pids in
//     <dir>/h<N>/{ovs-vswitchd,ovsdb-server}.pid, and any process whose
//     command line carries --pidfile=<dir>/h<N>/... (found even when the
//     pidfiles are gone) - a pid is never signalled on the pidfile alone;
//  2. the root-namespace links <P>mgmt and <P>m<N>;
//  3. every process still running inside one of its namespaces, then the
//     namespaces <P>ul, <P>h<N>, <P>h<N>-vm<M> (exact patterns);
//  4. the state dir, only if it carries the lab's marker file.
//
// It works without a state dir (after a crash) from the prefix alone and
// returns an error listing anything it could not remove.
func Down(ctx context.Context, cfg Config, progress io.Writer) error {
	c, err := baseConfig(cfg)
	if err != nil {
		return err
	}
	pl := &progressLog{w: progress}
	if os.Geteuid() != 0 {
		return errors.New("lab: Down needs root: run as root")
	}
	t0 := time.Now()
	lk, err := lockFile(ctx, c.lockPath())
	if err != nil {
		return err
	}
	defer lk.unlock()

	// 1. daemons
	pids := map[int]bool{}
	if ents, err := os.ReadDir(c.Dir); err == nil {
		for _, e := range ents {
			if !e.IsDir() || !hostDirRE.MatchString(e.Name()) {
				continue
			}
			for _, f := range []string{"ovs-vswitchd.pid", "ovsdb-server.pid"} {
				if p := pidfileAlive(filepath.Join(c.Dir, e.Name(), f)); p > 0 {
					pids[p] = true
				}
			}
		}
	}
	for _, p := range procsWithPidfileUnder(c.Dir) {
		pids[p] = true
	}
	var list []int
	for p := range pids {
		list = append(list, p)
	}
	if left := stopPids(list, 5*time.Second); len(left) > 0 {
		pl.logf("WARNING: processes %v survived SIGKILL", left)
	}

	// 2. root links first: deleting them is synchronous, unlike the links
	// of a deleted namespace
	if links, err := ownedRootLinks(ctx, c.Prefix); err == nil {
		for _, n := range links {
			_ = ip(ctx, "link", "del", n)
		}
	}

	// 3. processes in the namespaces, then the namespaces
	nss := ownedNetns(c.Prefix)
	if err := deleteNetns(ctx, nss); err != nil {
		pl.logf("WARNING: %v", err)
	}

	// 4. state dir
	var problems []string
	if _, err := os.Stat(c.Dir); err == nil {
		if _, err := os.Stat(filepath.Join(c.Dir, markerFile)); err == nil {
			if err := os.RemoveAll(c.Dir); err != nil {
				problems = append(problems, fmt.Sprintf("state dir %s: %v", c.Dir, err))
			}
		} else {
			problems = append(problems, fmt.Sprintf("state dir %s has no %s marker and was left in place", c.Dir, markerFile))
		}
	}
	_ = os.Remove(c.lockPath())

	// verify
	for _, ns := range ownedNetns(c.Prefix) {
		problems = append(problems, "namespace "+ns)
	}
	if links, err := ownedRootLinks(ctx, c.Prefix); err == nil {
		sort.Strings(links)
		for _, n := range links {
			problems = append(problems, "root link "+n)
		}
	}
	for _, p := range procsWithPidfileUnder(c.Dir) {
		problems = append(problems, fmt.Sprintf("process %d (%s)", p, strings.Join(procCmdline(p), " ")))
	}
	if len(problems) > 0 {
		return fmt.Errorf("lab: down %s left behind: %s", c.Prefix, strings.Join(problems, "; "))
	}
	pl.logf("lab down: %s removed in %.2fs (%d daemon(s), %d namespace(s))", c.Prefix, time.Since(t0).Seconds(), len(list), len(nss))
	return nil
}

// Down tears this lab down (see the package-level Down).
func (l *Lab) Down(ctx context.Context) error { return Down(ctx, l.cfg, nil) }

// baseConfig validates only what Down needs: prefix and dir.
func baseConfig(cfg Config) (Config, error) {
	c := cfg
	c.Hosts = 1
	n, err := c.Normalize()
	if err != nil {
		return cfg, err
	}
	n.Hosts = cfg.Hosts
	return n, nil
}
