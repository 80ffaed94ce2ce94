package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// cmdTimeout bounds every command the lab runs (on top of the caller's ctx).
const cmdTimeout = 30 * time.Second

// netnsDir is where `ip netns` keeps its named namespaces.
const netnsDir = "/run/netns"

// CmdError is returned when a command fails; it carries the command line and
// what it printed on stderr.
type CmdError struct {
	Args   []string
	Err    error
	Stderr string
}

func (e *CmdError) Error() string {
	msg := fmt.Sprintf("lab: `%s`: %v", strings.Join(e.Args, " "), e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		if len(s) > 2000 {
			s = s[:2000] + "..."
		}
		msg += ": " + s
	}
	return msg
}

func (e *CmdError) Unwrap() error { return e.Err }

// cmdSpec is one command to run.
type cmdSpec struct {
	env     []string // added to the environment
	stdin   string
	timeout time.Duration
	dir     string // working directory ("" = ours)
}

// run executes name args with a timeout and returns stdout. Failures are
// *CmdError with the command line and stderr.
func run(ctx context.Context, spec cmdSpec, name string, args ...string) ([]byte, error) {
	to := spec.timeout
	if to == 0 {
		to = cmdTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if len(spec.env) > 0 {
		cmd.Env = append(os.Environ(), spec.env...)
	}
	if spec.stdin != "" {
		cmd.Stdin = strings.NewReader(spec.stdin)
	}
	cmd.Dir = spec.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return stdout.Bytes(), &CmdError{Args: append([]string{name}, args...), Err: err, Stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

// ip runs `ip args...` in the root namespace.
func ip(ctx context.Context, args ...string) error {
	_, err := run(ctx, cmdSpec{}, "ip", args...)
	return err
}

// ipBatch runs several ip commands in namespace ns ("" = root) with one
// process; it stops at the first failing line.
func ipBatch(ctx context.Context, ns string, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	args := []string{"-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	_, err := run(ctx, cmdSpec{stdin: strings.Join(lines, "\n") + "\n"}, "ip", args...)
	return err
}

// nsenterArgs prefixes args with nsenter into the named network namespace.
func nsenterArgs(ns string, args ...string) []string {
	return append([]string{"--net=" + netnsDir + "/" + ns, "--"}, args...)
}

// inNS runs a command inside network namespace ns.
func inNS(ctx context.Context, ns string, args ...string) ([]byte, error) {
	return run(ctx, cmdSpec{}, "nsenter", nsenterArgs(ns, args...)...)
}

func netnsExists(name string) bool {
	_, err := os.Stat(netnsDir + "/" + name)
	return err == nil
}

// listNetns returns the names of all named network namespaces.
func listNetns() []string {
	ents, err := os.ReadDir(netnsDir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// netnsAdd creates namespace name (if needed) with lo up and, unless ipv6,
// IPv6 disabled so that no RS/ND/MLD packets appear on the data path.
func netnsAdd(ctx context.Context, name string, ipv6 bool) error {
	if !netnsExists(name) {
		if err := ip(ctx, "netns", "add", name); err != nil {
			// lost a race with a concurrent creator: fine if it exists now
			if !netnsExists(name) {
				return err
			}
		}
	}
	script := "ip link set lo up"
	if !ipv6 {
		script = "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6 && " + script
	}
	_, err := inNS(ctx, name, "sh", "-c", script)
	return err
}

// nsLinks returns the link names in namespace ns ("" = root).
func nsLinks(ctx context.Context, ns string) (map[string]bool, error) {
	args := []string{"-o", "link", "show"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	out, err := run(ctx, cmdSpec{}, "ip", args...)
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.SplitN(line, ": ", 3)
		if len(f) < 2 {
			continue
		}
		name := f[1]
		if k := strings.IndexByte(name, '@'); k >= 0 {
			name = name[:k]
		}
		m[name] = true
	}
	return m, nil
}

// forEach runs fn(i) for i = 1..n with at most jobs at a time and returns all
// errors joined.
func forEach(n, jobs int, fn func(i int) error) error {
	if jobs < 1 {
		jobs = 1
	}
	sem := make(chan struct{}, jobs)
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn(i)
		}(i)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ---------------------------------------------------------------- packages

// requiredCommands maps each command the lab runs to its Debian package.
var requiredCommands = []struct{ cmd, pkg string }{
	{"ovs-vswitchd", "openvswitch-switch"},
	{"ovsdb-server", "openvswitch-switch"},
	{"ovsdb-tool", "openvswitch-switch"},
	{"ovs-vsctl", "openvswitch-switch"},
	{"ovs-ofctl", "openvswitch-switch"},
	{"ovs-appctl", "openvswitch-switch"},
	{"ip", "iproute2"},
	{"ethtool", "ethtool"},
	{"ping", "iputils-ping"},
	{"nsenter", "util-linux"},
}

var aptUpdated sync.Once

// EnsurePackages installs the Debian packages of any missing command with
// apt-get (apt-get update runs once per process).
func EnsurePackages(ctx context.Context, progress func(string, ...any)) error {
	missing := func() []string {
		var pkgs []string
		seen := map[string]bool{}
		for _, rc := range requiredCommands {
			if _, err := exec.LookPath(rc.cmd); err != nil && !seen[rc.pkg] {
				seen[rc.pkg] = true
				pkgs = append(pkgs, rc.pkg)
			}
		}
		return pkgs
	}
	if len(missing()) == 0 {
		return nil
	}
	// parallel test packages must not run apt-get at the same time (dpkg
	// lock); the one that waited finds the commands installed
	const aptLock = "/run/satlab-apt.lock"
	lk, err := lockFile(ctx, aptLock)
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(aptLock); lk.unlock() }() // waiters re-check the inode
	pkgs := missing()
	if len(pkgs) == 0 {
		return nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("lab: missing %s and no apt-get to install them: install them with your package manager", strings.Join(pkgs, ", "))
	}
	progress("installing %s with apt-get", strings.Join(pkgs, " "))
	env := cmdSpec{env: []string{"DEBIAN_FRONTEND=noninteractive"}, timeout: 10 * time.Minute}
	var uerr error
	aptUpdated.Do(func() { _, uerr = run(ctx, env, "apt-get", "update", "-q") })
	if uerr != nil {
		progress("apt-get update failed (%v); trying the install anyway", uerr)
	}
	for attempt := 1; attempt <= 3; attempt++ {
		args := append([]string{"-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q", "--no-install-recommends"}, pkgs...)
		if _, err = run(ctx, env, "apt-get", args...); err == nil {
			break
		}
		progress("apt-get install failed (attempt %d): %v", attempt, err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	if err != nil {
		return fmt.Errorf("lab: could not install %s: %w", strings.Join(pkgs, " "), err)
	}
	for _, rc := range requiredCommands {
		if _, err := exec.LookPath(rc.cmd); err != nil {
			return fmt.Errorf("lab: %s still missing after installing %s (is /usr/sbin in PATH?)", rc.cmd, rc.pkg)
		}
	}
	return nil
}
