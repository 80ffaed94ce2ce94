package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Lab is a handle on a lab (running or not) described by its Config. All
// operations besides Up take it; a Topology embeds one.
type Lab struct {
	cfg Config
}

// Open returns a handle on the running lab whose state dir or prefix is
// given ("" = default prefix); it reads the Config saved by Up.
func Open(prefixOrDir string) (*Lab, error) {
	cfg, err := Load(prefixOrDir)
	if err != nil {
		return nil, err
	}
	return &Lab{cfg: cfg}, nil
}

// Config returns the lab's effective (normalized) configuration.
func (l *Lab) Config() Config { return l.cfg }

func (l *Lab) checkHost(i int) error {
	if i < 1 || i > l.cfg.Hosts {
		return fmt.Errorf("lab: no host %d (lab %s has h1..h%d)", i, l.cfg.Prefix, l.cfg.Hosts)
	}
	return nil
}

// vsctl runs ovs-vsctl against host i's private ovsdb-server.
func (l *Lab) vsctl(ctx context.Context, i int, args ...string) ([]byte, error) {
	return run(ctx, cmdSpec{env: ovsEnv(l.cfg.HostDir(i))}, "ovs-vsctl", append([]string{"--timeout=20"}, args...)...)
}

// ofctl runs ovs-ofctl against host i (bridges are reached through
// <rundir>/<bridge>.mgmt because OVS_RUNDIR is set).
func (l *Lab) ofctl(ctx context.Context, i int, args ...string) ([]byte, error) {
	return run(ctx, cmdSpec{env: ovsEnv(l.cfg.HostDir(i))}, "ovs-ofctl", args...)
}

// appctl runs ovs-appctl against host i's ovs-vswitchd.
func (l *Lab) appctl(ctx context.Context, i int, args ...string) ([]byte, error) {
	return run(ctx, cmdSpec{env: ovsEnv(l.cfg.HostDir(i))}, "ovs-appctl", append([]string{"--timeout=10"}, args...)...)
}

var ovsToolRE = regexp.MustCompile(`^ovs(db)?-[a-z-]+$`)

// OVSCommand prepares an Open vSwitch utility (ovs-vsctl, ovs-ofctl,
// ovs-appctl, ovsdb-client, ...) to run against host i's private OVS:
// OVS_RUNDIR/OVS_DBDIR/OVS_LOGDIR point at the host's run directory, so
// `ovs-ofctl -O OpenFlow13 dump-flows br-int` reaches <rundir>/br-int.mgmt.
// The caller sets stdio and runs it.
func (l *Lab) OVSCommand(ctx context.Context, host int, name string, args ...string) (*exec.Cmd, error) {
	if err := l.checkHost(host); err != nil {
		return nil, err
	}
	if !ovsToolRE.MatchString(filepath.Base(name)) {
		return nil, fmt.Errorf("lab: %q is not an Open vSwitch utility (use ovs-vsctl, ovs-ofctl, ovs-appctl, ...)", name)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), ovsEnv(l.cfg.HostDir(host))...)
	return cmd, nil
}

// OVS runs an Open vSwitch utility against host i's private OVS and returns
// its stdout; errors carry the command line and stderr. Example:
//
//	out, err := l.OVS(ctx, 1, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int")
func (l *Lab) OVS(ctx context.Context, host int, name string, args ...string) ([]byte, error) {
	if _, err := l.OVSCommand(ctx, host, name, args...); err != nil {
		return nil, err
	}
	return run(ctx, cmdSpec{env: ovsEnv(l.cfg.HostDir(host))}, name, args...)
}

// NetnsName resolves a namespace of this lab: its full name ("sat-h1-vm1")
// or the name without the prefix ("h1-vm1", "h2", "ul"). Only the lab's own
// namespace patterns are accepted.
func (l *Lab) NetnsName(ns string) (string, error) {
	full := ns
	if !strings.HasPrefix(ns, l.cfg.Prefix) {
		full = l.cfg.Prefix + ns
	}
	if !l.ownsNetns(full) {
		return "", fmt.Errorf("lab: %q is not a namespace of lab %s (want h<i>, h<i>-vm<j> or ul, with or without the prefix)", ns, l.cfg.Prefix)
	}
	if !netnsExists(full) {
		return "", fmt.Errorf("lab: namespace %s does not exist (is the lab up? `satlab status`)", full)
	}
	return full, nil
}

// ExecCommand prepares a command to run inside one of the lab's network
// namespaces (see NetnsName), e.g. ping from an endpoint.
func (l *Lab) ExecCommand(ctx context.Context, netns string, args ...string) (*exec.Cmd, error) {
	full, err := l.NetnsName(netns)
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("lab: exec needs a command")
	}
	return exec.CommandContext(ctx, "nsenter", nsenterArgs(full, args...)...), nil
}

// Exec runs a command inside one of the lab's namespaces and returns its
// stdout; a failure is a *CmdError with stderr. The caller's ctx bounds it
// (plus a 30 s safety limit).
func (l *Lab) Exec(ctx context.Context, netns string, args ...string) ([]byte, error) {
	full, err := l.NetnsName(netns)
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("lab: exec needs a command")
	}
	return inNS(ctx, full, args...)
}

// ownsNetns reports whether name follows one of the lab's namespace
// patterns: <P>ul, <P>h<i>, <P>h<i>-vm<j>.
func (l *Lab) ownsNetns(name string) bool { return ownedNetnsRE(l.cfg.Prefix).MatchString(name) }

func ownedNetnsRE(prefix string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `(ul|h[1-9][0-9]*|h[1-9][0-9]*-vm[1-9][0-9]*)$`)
}

func ownedRootLinkRE(prefix string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `(mgmt|m[1-9][0-9]*)$`)
}

func ownedNetns(prefix string) []string {
	re := ownedNetnsRE(prefix)
	var out []string
	for _, n := range listNetns() {
		if re.MatchString(n) {
			out = append(out, n)
		}
	}
	return out
}

func ownedRootLinks(ctx context.Context, prefix string) ([]string, error) {
	links, err := nsLinks(ctx, "")
	if err != nil {
		return nil, err
	}
	re := ownedRootLinkRE(prefix)
	var out []string
	for n := range links {
		if re.MatchString(n) {
			out = append(out, n)
		}
	}
	return out, nil
}
