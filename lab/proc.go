package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procState returns the one-letter state of pid (R, S, Z, ...) or "" when
// the process does not exist.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// "pid (comm) S ..." - comm may contain spaces and parentheses
	k := bytes.LastIndexByte(b, ')')
	if k < 0 || k+2 >= len(b) {
		return ""
	}
	return string(b[k+2 : k+3])
}

// procGone reports whether pid no longer runs. A zombie counts as gone: where
// PID 1 does not reap promptly, a dead daemon lingers as Z and `kill -0`
// would still succeed on it.
func procGone(pid int) bool {
	s := procState(pid)
	return s == "" || s == "Z" || s == "X"
}

func procCmdline(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// pidfileAlive returns the pid recorded in pidfile if that process is alive
// (not a zombie) and its command line carries --pidfile=<pidfile>, else 0.
func pidfileAlive(pidfile string) int {
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0
	}
	if procGone(pid) || !hasArg(procCmdline(pid), "--pidfile="+pidfile) {
		return 0
	}
	return pid
}

func hasArg(args []string, want string) bool {
	for _, a := range args {
		if a == want {
			return true
		}
	}
	return false
}

// waitGone polls until every pid is gone or the timeout passes; it returns
// the pids still running.
func waitGone(pids []int, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		var left []int
		for _, p := range pids {
			if !procGone(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopPids sends SIGTERM to all pids, waits up to grace, then SIGKILLs the
// rest and waits again. It returns the pids that survived even SIGKILL.
func stopPids(pids []int, grace time.Duration) []int {
	if len(pids) == 0 {
		return nil
	}
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGTERM)
	}
	left := waitGone(pids, grace)
	for _, p := range left {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	return waitGone(left, 3*time.Second)
}

// procsInNetns returns, for each named namespace, the live processes whose
// network namespace it is. One pass over /proc for all namespaces.
func procsInNetns(names []string) map[string][]int {
	ino := map[uint64]string{}
	for _, n := range names {
		var st syscall.Stat_t
		if err := syscall.Stat(netnsDir+"/"+n, &st); err == nil {
			ino[st.Ino] = n
		}
	}
	out := map[string][]int{}
	if len(ino) == 0 {
		return out
	}
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil || !strings.HasPrefix(l, "net:[") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(l, "net:["), "]"), 10, 64)
		if err != nil {
			continue
		}
		if ns, ok := ino[n]; ok && !procGone(pid) {
			out[ns] = append(out[ns], pid)
		}
	}
	return out
}

// procsWithPidfileUnder returns live processes whose command line has a
// --pidfile= argument naming a file directly inside one of the host run
// directories <dir>/h<N>/ (the lab's own daemons, even with lost pidfiles).
func procsWithPidfileUnder(dir string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	pre := "--pidfile=" + dir + "/h"
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || procGone(pid) {
			continue
		}
		for _, a := range procCmdline(pid) {
			if !strings.HasPrefix(a, pre) {
				continue
			}
			rest := strings.TrimPrefix(a, pre) // "<N>/ovs-vswitchd.pid"
			num, file, ok := strings.Cut(rest, "/")
			if ok && isDigits(num) && (file == "ovs-vswitchd.pid" || file == "ovsdb-server.pid") {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

var sealOnce sync.Once

// sealInheritedFDs marks every descriptor above stderr close-on-exec. Go
// opens its own files with O_CLOEXEC, but descriptors this process inherited
// (a caller's lock file, a make jobserver pipe, ...) would otherwise leak
// into the long-lived OVS daemons and be held open forever.
func sealInheritedFDs() {
	sealOnce.Do(func() {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			return
		}
		for _, e := range ents {
			if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
				syscall.CloseOnExec(fd)
			}
		}
	})
}

// startDaemon runs an OVS daemon with --detach inside namespace ns. The
// command returns once the daemon is ready; its early output goes to
// <rundir>/startup.log (never to a pipe the daemon could keep open).
func startDaemon(ctx context.Context, ns, rundir string, args ...string) error {
	sealInheritedFDs()
	logf, err := os.OpenFile(filepath.Join(rundir, "startup.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	defer logf.Close()
	off, _ := logf.Seek(0, 2)
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	full := nsenterArgs(ns, args...)
	cmd := exec.CommandContext(ctx, "nsenter", full...)
	cmd.Env = append(os.Environ(), ovsEnv(rundir)...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Dir = rundir
	// its own process group: a ^C to the CLI must not kill the daemons
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Run(); err != nil {
		msg, _ := os.ReadFile(logf.Name())
		if int(off) <= len(msg) {
			msg = msg[off:]
		}
		return &CmdError{Args: append([]string{"nsenter"}, full...), Err: err, Stderr: string(msg)}
	}
	return nil
}

// ovsEnv points the OVS tools and daemons at a private run directory. It
// matters for more than convenience: without OVS_RUNDIR the per-bridge
// .mgmt/.snoop sockets land in the system run directory, where a second
// instance silently takes them over.
func ovsEnv(rundir string) []string {
	return []string{"OVS_RUNDIR=" + rundir, "OVS_LOGDIR=" + rundir, "OVS_DBDIR=" + rundir}
}

// ---------------------------------------------------------------- locking

type fileLock struct{ f *os.File }

// lockFile takes an exclusive flock on path, waiting until ctx is done. It
// re-checks after locking that path still names the locked file (Down
// removes it while holding it).
func lockFile(ctx context.Context, path string) (*fileLock, error) {
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lab: lock %s: %w", path, err)
		}
		for {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if err == nil {
				break
			}
			if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
				f.Close()
				return nil, fmt.Errorf("lab: lock %s: %w", path, err)
			}
			select {
			case <-ctx.Done():
				f.Close()
				return nil, fmt.Errorf("lab: waiting for %s (another satlab up/down running?): %w", path, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
		var a, b syscall.Stat_t
		if syscall.Fstat(int(f.Fd()), &a) == nil && syscall.Stat(path, &b) == nil && a.Ino == b.Ino && a.Dev == b.Dev {
			return &fileLock{f}, nil
		}
		f.Close() // removed or replaced meanwhile: try again
	}
}

func (l *fileLock) unlock() {
	if l != nil && l.f != nil {
		l.f.Close()
	}
}
