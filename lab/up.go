package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// progressLog writes plain "lab: ..." lines to a writer (nil = discard).
type progressLog struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *progressLog) logf(format string, args ...any) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "lab: "+format+"\n", args...)
}

// Up creates the lab described by cfg, or converges a running lab of the
// same prefix to it: missing namespaces, links, daemons and ports are
// (re)created, extra hosts/endpoints/links are removed, path and link cuts
// are undone. It installs openvswitch-switch, iproute2, ethtool,
// iputils-ping (and util-linux) with apt-get when a command is missing.
// Progress lines go to progress (may be nil). Needs root.
func Up(ctx context.Context, cfg Config, progress io.Writer) (*Topology, error) {
	c, err := cfg.Normalize()
	if err != nil {
		return nil, err
	}
	pl := &progressLog{w: progress}
	if os.Geteuid() != 0 {
		return nil, errors.New("lab: Up needs root (network namespaces and OVS): run as root, e.g. `sudo go run ./lab/cmd/satlab up 3`")
	}
	if err := EnsurePackages(ctx, pl.logf); err != nil {
		return nil, err
	}
	lk, err := lockFile(ctx, c.lockPath())
	if err != nil {
		return nil, err
	}
	defer lk.unlock()
	t0 := time.Now()
	l := &Lab{cfg: c}
	if err := l.prepareDir(); err != nil {
		return nil, err
	}
	if err := l.up(ctx, pl); err != nil {
		return nil, err
	}
	pl.logf("lab up: %d host(s) in %.2fs (prefix %s, state %s)", c.Hosts, time.Since(t0).Seconds(), c.Prefix, c.Dir)
	return l.Status(ctx)
}

func (l *Lab) prepareDir() error {
	c := l.cfg
	if ents, err := os.ReadDir(c.Dir); err == nil && len(ents) > 0 {
		if _, err := os.Stat(filepath.Join(c.Dir, markerFile)); err != nil {
			return fmt.Errorf("lab: %s exists and is not a lab state directory (no %s): choose another --prefix or dir", c.Dir, markerFile)
		}
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, markerFile), []byte("state directory of a satlab lab; `satlab down` removes it\n"), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := c.save(); err != nil {
		return fmt.Errorf("lab: saving config: %w", err)
	}
	return nil
}

func (l *Lab) up(ctx context.Context, pl *progressLog) error {
	c := l.cfg
	for _, h := range l.existingHosts() {
		if h > c.Hosts {
			pl.logf("removing host h%d", h)
			if err := l.removeHost(ctx, h); err != nil {
				return err
			}
		}
	}
	if err := l.ensureUnderlay(ctx); err != nil {
		return err
	}
	pl.logf("hosts h1..h%d (%d endpoint(s) each)", c.Hosts, c.vms())
	if err := forEach(c.Hosts, c.Jobs, func(i int) error { return l.ensureHost(ctx, i) }); err != nil {
		return err
	}
	// undo switch-level path cuts
	if err := ipBatch(ctx, c.UnderlayNS(), []string{"link set sw1 up", "link set sw2 up"}); err != nil {
		return err
	}
	pl.logf("direct links (%s)", c.Links)
	if err := l.ensureLinks(ctx); err != nil {
		return err
	}
	if c.Hosts > 1 {
		pl.logf("GRE tunnels (full mesh, 2 paths, BFD %v)", c.BFD)
	}
	if err := forEach(c.Hosts, c.Jobs, func(i int) error { return l.ensureTunnels(ctx, i) }); err != nil {
		return err
	}
	if c.needsMgmt() {
		pl.logf("management network %s.0/24 (gateway %s.254 in the root namespace)", c.MgmtNet, c.MgmtNet)
		if err := l.ensureMgmt(ctx); err != nil {
			return err
		}
	} else if err := l.removeMgmt(ctx); err != nil {
		return err
	}
	if c.BFD && c.Hosts > 1 {
		l.waitBFD(ctx, pl, 20*time.Second)
	}
	if c.TLS {
		pl.logf("OpenFlow PKI in %s (ovs-pki)", c.pki().Dir)
		if err := l.ensurePKI(ctx); err != nil {
			return err
		}
		if err := forEach(c.Hosts, c.Jobs, func(i int) error {
			cert, key := c.pki().HostCert(c.DPID(i))
			return l.setSSL(ctx, i, cert, key)
		}); err != nil {
			return err
		}
	}
	if len(c.Controllers) > 0 {
		pl.logf("controller(s): %s", strings.Join(c.Controllers, ","))
	}
	return forEach(c.Hosts, c.Jobs, func(i int) error { return l.setControllers(ctx, i) })
}

var hostDirRE = regexp.MustCompile(`^h([1-9][0-9]*)$`)

// existingHosts lists host numbers found in the state dir or as namespaces.
func (l *Lab) existingHosts() []int {
	seen := map[int]bool{}
	if ents, err := os.ReadDir(l.cfg.Dir); err == nil {
		for _, e := range ents {
			if m := hostDirRE.FindStringSubmatch(e.Name()); m != nil && e.IsDir() {
				n, _ := strconv.Atoi(m[1])
				seen[n] = true
			}
		}
	}
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(l.cfg.Prefix) + `h([1-9][0-9]*)(-vm[1-9][0-9]*)?$`)
	for _, ns := range listNetns() {
		if m := re.FindStringSubmatch(ns); m != nil {
			n, _ := strconv.Atoi(m[1])
			seen[n] = true
		}
	}
	var out []int
	for n := range seen {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// removeHost stops host h's daemons and deletes its namespaces and run dir.
func (l *Lab) removeHost(ctx context.Context, h int) error {
	c := l.cfg
	d := c.HostDir(h)
	var pids []int
	for _, f := range []string{"ovs-vswitchd.pid", "ovsdb-server.pid"} {
		if p := pidfileAlive(filepath.Join(d, f)); p > 0 {
			pids = append(pids, p)
		}
	}
	stopPids(pids, 5*time.Second)
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(c.HostNS(h)) + `(-vm[1-9][0-9]*)?$`)
	var nss []string
	for _, ns := range ownedNetns(c.Prefix) {
		if re.MatchString(ns) {
			nss = append(nss, ns)
		}
	}
	if err := deleteNetns(ctx, nss); err != nil {
		return err
	}
	if links, err := nsLinks(ctx, ""); err == nil && links[c.mgmtLink(h)] {
		_ = ip(ctx, "link", "del", c.mgmtLink(h))
	}
	if _, err := os.Stat(filepath.Join(d, hostMarker)); err == nil {
		return os.RemoveAll(d)
	}
	return nil
}

// deleteNetns stops the processes inside the given namespaces and deletes
// them (one ip process for all).
func deleteNetns(ctx context.Context, nss []string) error {
	if len(nss) == 0 {
		return nil
	}
	var pids []int
	for _, ps := range procsInNetns(nss) {
		pids = append(pids, ps...)
	}
	stopPids(pids, 3*time.Second)
	var lines []string
	for _, ns := range nss {
		lines = append(lines, "netns del "+ns)
	}
	if _, err := run(ctx, cmdSpec{stdin: strings.Join(lines, "\n") + "\n"}, "ip", "-force", "-batch", "-"); err != nil {
		var left []string
		for _, ns := range nss {
			if netnsExists(ns) {
				left = append(left, ns)
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("lab: could not delete namespace(s) %s: %w", strings.Join(left, " "), err)
		}
	}
	return nil
}

// ensureUnderlay creates the underlay namespace with the Linux bridges sw1
// (path 1) and sw2 (path 2).
func (l *Lab) ensureUnderlay(ctx context.Context) error {
	c := l.cfg
	ns := c.UnderlayNS()
	if err := netnsAdd(ctx, ns, c.IPv6); err != nil {
		return err
	}
	links, err := nsLinks(ctx, ns)
	if err != nil {
		return err
	}
	var lines []string
	for p := 1; p <= 2; p++ {
		sw := fmt.Sprintf("sw%d", p)
		if !links[sw] {
			lines = append(lines, fmt.Sprintf("link add %s type bridge stp_state 0", sw))
		}
		lines = append(lines, fmt.Sprintf("link set %s mtu %d up", sw, c.UnderlayMTU))
	}
	return ipBatch(ctx, ns, lines)
}

// schemaPath finds vswitch.ovsschema.
func schemaPath() (string, error) {
	cands := []string{"/usr/share/openvswitch/vswitch.ovsschema", "/usr/local/share/openvswitch/vswitch.ovsschema"}
	for _, s := range cands {
		if _, err := os.Stat(s); err == nil {
			return s, nil
		}
	}
	return "", fmt.Errorf("lab: vswitch.ovsschema not found in %s (is openvswitch-switch installed?)", strings.Join(cands, ", "))
}

// startDaemons starts host i's ovsdb-server and ovs-vswitchd unless they
// already run.
func (l *Lab) startDaemons(ctx context.Context, i int) error {
	c := l.cfg
	d := c.HostDir(i)
	ns := c.HostNS(i)
	if pidfileAlive(filepath.Join(d, "ovsdb-server.pid")) == 0 {
		schema, err := schemaPath()
		if err != nil {
			return err
		}
		db := filepath.Join(d, "conf.db")
		if st, err := os.Stat(db); err != nil || st.Size() == 0 {
			_ = os.Remove(db)
			if _, err := run(ctx, cmdSpec{}, "ovsdb-tool", "create", db, schema); err != nil {
				return err
			}
		} else if out, err := run(ctx, cmdSpec{}, "ovsdb-tool", "needs-conversion", db, schema); err == nil && strings.TrimSpace(string(out)) == "yes" {
			if _, err := run(ctx, cmdSpec{}, "ovsdb-tool", "convert", db, schema); err != nil {
				return err
			}
		}
		_ = os.Remove(filepath.Join(d, "db.sock"))
		if err := startDaemon(ctx, ns, d, "ovsdb-server", db,
			"--remote=punix:"+filepath.Join(d, "db.sock"),
			"--pidfile="+filepath.Join(d, "ovsdb-server.pid"),
			"--log-file="+filepath.Join(d, "ovsdb-server.log"),
			"--detach", "--no-chdir", "-vconsole:off", "-vsyslog:off"); err != nil {
			return err
		}
		if _, err := l.vsctl(ctx, i, "--no-wait", "init"); err != nil {
			return err
		}
	}
	if pidfileAlive(filepath.Join(d, "ovs-vswitchd.pid")) == 0 {
		// A daemon that was just killed can still hold its pidfile lock
		// while its threads finish exiting (its zombie looks gone to
		// pidfileAlive): OVS then refuses with "already running". Retry
		// for a few seconds.
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := startDaemon(ctx, ns, d, "ovs-vswitchd", "unix:"+filepath.Join(d, "db.sock"),
				"--pidfile="+filepath.Join(d, "ovs-vswitchd.pid"),
				"--log-file="+filepath.Join(d, "ovs-vswitchd.log"),
				"--detach", "--no-chdir", "-vconsole:off", "-vsyslog:off")
			if err == nil {
				break
			}
			if !strings.Contains(err.Error(), "already running") || time.Now().After(deadline) {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// listPorts returns the ports of a bridge on host i (empty if it is missing).
func (l *Lab) listPorts(ctx context.Context, i int, br string) map[string]bool {
	m := map[string]bool{}
	out, err := l.vsctl(ctx, i, "list-ports", br) // fails when br does not exist yet
	if err != nil {
		return m
	}
	for _, p := range strings.Fields(string(out)) {
		m[p] = true
	}
	return m
}

var vmPortRE = regexp.MustCompile(`^vm([1-9][0-9]*)$`)

// ensureHost converges host i: namespace, daemons, underlay uplinks,
// endpoints, bridges and endpoint ports, underlay addresses.
func (l *Lab) ensureHost(ctx context.Context, i int) error {
	c := l.cfg
	ns := c.HostNS(i)
	d := c.HostDir(i)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := os.WriteFile(filepath.Join(d, hostMarker), nil, 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := netnsAdd(ctx, ns, c.IPv6); err != nil {
		return err
	}
	if err := l.startDaemons(ctx, i); err != nil {
		return fmt.Errorf("h%d: %w", i, err)
	}
	hl, err := nsLinks(ctx, ns)
	if err != nil {
		return err
	}
	ul, err := nsLinks(ctx, c.UnderlayNS())
	if err != nil {
		return err
	}
	hp := l.listPorts(ctx, i, Bridge)

	// underlay uplinks ul<p> (host) <-> h<i>p<p> (port of switch sw<p>)
	var hostLines, ulLines []string
	var dels []string // ovs-vsctl args: ports whose veth was re-created
	for p := 1; p <= 2; p++ {
		up := fmt.Sprintf("ul%d", p)
		sp := fmt.Sprintf("h%dp%d", i, p)
		if !hl[up] {
			if ul[sp] {
				_ = ip(ctx, "-n", c.UnderlayNS(), "link", "del", sp)
			}
			if err := ip(ctx, "link", "add", up, "netns", ns, "mtu", strconv.Itoa(c.UnderlayMTU), "type", "veth",
				"peer", "name", sp, "netns", c.UnderlayNS(), "mtu", strconv.Itoa(c.UnderlayMTU)); err != nil {
				return err
			}
			if l.listPorts(ctx, i, fmt.Sprintf("br-ul%d", p))[up] {
				dels = append(dels, "--", "--if-exists", "del-port", up)
			}
		}
		ulLines = append(ulLines, fmt.Sprintf("link set %s mtu %d master sw%d up", sp, c.UnderlayMTU, p))
		hostLines = append(hostLines, fmt.Sprintf("link set %s mtu %d up", up, c.UnderlayMTU))
	}
	if err := ipBatch(ctx, c.UnderlayNS(), ulLines); err != nil {
		return err
	}

	// endpoints: veth vm<j> (host) <-> eth0 (endpoint namespace)
	for j := 1; j <= c.vms(); j++ {
		vns := c.VMNS(i, j)
		port := VMPort(j)
		if err := netnsAdd(ctx, vns, c.IPv6); err != nil {
			return err
		}
		if !hl[port] {
			_ = ip(ctx, "-n", vns, "link", "del", "eth0")
			if hp[port] {
				dels = append(dels, "--", "--if-exists", "del-port", port)
			}
			if err := ip(ctx, "link", "add", port, "netns", ns, "type", "veth", "peer", "name", "eth0", "netns", vns); err != nil {
				return err
			}
		}
		// the userspace datapath never completes partial checksums: with
		// tx offload on, ping works but TCP and UDP arrive corrupt
		if _, err := inNS(ctx, vns, "ethtool", "-K", "eth0", "tx", "off"); err != nil {
			return err
		}
		if err := ipBatch(ctx, vns, []string{
			"link set eth0 address " + VMMAC(i, j),
			fmt.Sprintf("address replace %s/16 dev eth0", c.VMIP(i, j)),
			"link set eth0 up",
		}); err != nil {
			return err
		}
		hostLines = append(hostLines, "link set "+port+" up")
	}
	if err := ipBatch(ctx, ns, hostLines); err != nil {
		return err
	}
	// endpoints beyond c.vms(): ports and namespaces
	for port := range hp {
		if m := vmPortRE.FindStringSubmatch(port); m != nil {
			if j, _ := strconv.Atoi(m[1]); j > c.vms() {
				dels = append(dels, "--", "--if-exists", "del-port", port)
			}
		}
	}
	var extra []string
	vre := regexp.MustCompile(`^` + regexp.QuoteMeta(c.HostNS(i)) + `-vm([1-9][0-9]*)$`)
	for _, n := range listNetns() {
		if m := vre.FindStringSubmatch(n); m != nil {
			if j, _ := strconv.Atoi(m[1]); j > c.vms() {
				extra = append(extra, n)
			}
		}
	}
	if err := deleteNetns(ctx, extra); err != nil {
		return err
	}
	if len(dels) > 0 {
		// a port whose veth was re-created must be removed and re-added for
		// OVS to reopen the new device
		if _, err := l.vsctl(ctx, i, dels...); err != nil {
			return err
		}
	}

	args := []string{
		"--", "--may-exist", "add-br", Bridge,
		"--", "set", "bridge", Bridge, "datapath_type=netdev", "fail_mode=" + c.FailMode,
		"protocols=" + c.OFVersions, "other_config:datapath-id=" + DPIDString(c.DPID(i)),
		"other_config:disable-in-band=true",
	}
	for p := 1; p <= 2; p++ {
		br := fmt.Sprintf("br-ul%d", p)
		args = append(args,
			"--", "--may-exist", "add-br", br,
			"--", "set", "bridge", br, "datapath_type=netdev", "fail_mode=standalone",
			fmt.Sprintf("other_config:hwaddr=%q", UnderlayMAC(i, p)), "other_config:disable-in-band=true",
			"--", "--may-exist", "add-port", br, fmt.Sprintf("ul%d", p))
	}
	for j := 1; j <= c.vms(); j++ {
		args = append(args, "--", "--may-exist", "add-port", Bridge, VMPort(j),
			"--", "set", "interface", VMPort(j), fmt.Sprintf("ofport_request=%d", VMOFPort(j)))
	}
	if _, err := l.vsctl(ctx, i, args...); err != nil {
		return fmt.Errorf("h%d: %w", i, err)
	}
	if err := l.ensureUnderlayAddrs(ctx, i); err != nil {
		return err
	}
	// undo pair cuts (drop flows in br-ul<p>)
	for p := 1; p <= 2; p++ {
		if _, err := l.ofctl(ctx, i, "del-flows", fmt.Sprintf("br-ul%d", p), cutCookieMatch(p, 0)); err != nil {
			return err
		}
	}
	return nil
}

// ensureUnderlayAddrs waits for the br-ul<p> internal ports (taps created
// by ovs-vswitchd) and puts the underlay addresses on them. OVS's userspace
// tunnel routing copies the connected routes from this namespace's kernel
// table, so the interface must be up with its address.
func (l *Lab) ensureUnderlayAddrs(ctx context.Context, i int) error {
	c := l.cfg
	ns := c.HostNS(i)
	deadline := time.Now().Add(10 * time.Second)
	for {
		links, err := nsLinks(ctx, ns)
		if err != nil {
			return err
		}
		if links["br-ul1"] && links["br-ul2"] {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: h%d: internal ports br-ul1/br-ul2 did not appear in %s (see %s)", i, ns, filepath.Join(c.HostDir(i), "ovs-vswitchd.log"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	var lines []string
	for p := 1; p <= 2; p++ {
		lines = append(lines,
			fmt.Sprintf("address replace %s/24 dev br-ul%d", c.UnderlayIP(i, p), p),
			fmt.Sprintf("link set br-ul%d up", p))
	}
	return ipBatch(ctx, ns, lines)
}

// cutCookieMatch is the ovs-ofctl cookie match for pair-cut flows of path p
// towards peer (0 = all peers).
func cutCookieMatch(p, peer int) string {
	if peer == 0 {
		return fmt.Sprintf("cookie=%#x/0xffffff00", cutCookieBase|p<<8)
	}
	return fmt.Sprintf("cookie=%#x/-1", cutCookieBase|p<<8|peer)
}

var linkPortRE = regexp.MustCompile(`^lnk-h([1-9][0-9]*)$`)

// ensureLinks converges the direct bridge-to-bridge veth links: lnk-h<b>
// in host a <-> lnk-h<a> in host b, both up (undoing CutLink).
func (l *Lab) ensureLinks(ctx context.Context) error {
	c := l.cfg
	hl := make([]map[string]bool, c.Hosts+1)
	hp := make([]map[string]bool, c.Hosts+1)
	var mu sync.Mutex
	err := forEach(c.Hosts, c.Jobs, func(i int) error {
		links, err := nsLinks(ctx, c.HostNS(i))
		if err != nil {
			return err
		}
		ports := l.listPorts(ctx, i, Bridge)
		mu.Lock()
		hl[i], hp[i] = links, ports
		mu.Unlock()
		want := map[string]bool{}
		for _, k := range c.linkPeers(i) {
			want[LinkPort(k)] = true
		}
		var lines []string
		for n := range links {
			if linkPortRE.MatchString(n) && !want[n] {
				lines = append(lines, "link del "+n)
			}
		}
		if len(lines) > 0 {
			_, _ = run(ctx, cmdSpec{stdin: strings.Join(lines, "\n") + "\n"}, "ip", "-n", c.HostNS(i), "-force", "-batch", "-")
		}
		return nil
	})
	if err != nil {
		return err
	}
	up := make([][]string, c.Hosts+1)
	readd := make([][]string, c.Hosts+1)
	for _, pr := range c.linkPairs() {
		a, b := pr[0], pr[1]
		pa, pb := LinkPort(b), LinkPort(a) // port in a, port in b
		if !hl[a][pa] || !hl[b][pb] {
			_ = ip(ctx, "-n", c.HostNS(a), "link", "del", pa)
			_ = ip(ctx, "-n", c.HostNS(b), "link", "del", pb)
			if hp[a][pa] {
				readd[a] = append(readd[a], "--", "--if-exists", "del-port", pa)
			}
			if hp[b][pb] {
				readd[b] = append(readd[b], "--", "--if-exists", "del-port", pb)
			}
			if err := ip(ctx, "link", "add", pa, "netns", c.HostNS(a), "type", "veth", "peer", "name", pb, "netns", c.HostNS(b)); err != nil {
				return err
			}
		}
		up[a] = append(up[a], "link set "+pa+" up")
		up[b] = append(up[b], "link set "+pb+" up")
	}
	return forEach(c.Hosts, c.Jobs, func(i int) error {
		if err := ipBatch(ctx, c.HostNS(i), up[i]); err != nil {
			return err
		}
		args := readd[i]
		if len(args) > 0 {
			if _, err := l.vsctl(ctx, i, args...); err != nil {
				return err
			}
			args = nil
		}
		want := map[string]bool{}
		for _, k := range c.linkPeers(i) {
			want[LinkPort(k)] = true
			args = append(args, "--", "--may-exist", "add-port", Bridge, LinkPort(k),
				"--", "set", "interface", LinkPort(k), fmt.Sprintf("ofport_request=%d", LinkOFPort(k)))
		}
		for p := range hp[i] {
			if linkPortRE.MatchString(p) && !want[p] {
				args = append(args, "--", "--if-exists", "del-port", Bridge, p)
			}
		}
		if len(args) == 0 {
			return nil
		}
		_, err := l.vsctl(ctx, i, args...)
		return err
	})
}

var grePortRE = regexp.MustCompile(`^gre-h([1-9][0-9]*)-p([12])$`)

// ensureTunnels converges host i's GRE ports: gre-h<k>-p<p> towards every
// other host k on both paths.
func (l *Lab) ensureTunnels(ctx context.Context, i int) error {
	c := l.cfg
	bfd := []string{"bfd:enable=false"}
	if c.BFD {
		ms := strconv.Itoa(c.BFDIntervalMS)
		bfd = []string{"bfd:enable=true", "bfd:min_tx=" + ms, "bfd:min_rx=" + ms}
	}
	var args []string
	for p := range l.listPorts(ctx, i, Bridge) {
		if m := grePortRE.FindStringSubmatch(p); m != nil {
			if k, _ := strconv.Atoi(m[1]); k > c.Hosts || k == i {
				args = append(args, "--", "--if-exists", "del-port", Bridge, p)
			}
		}
	}
	for k := 1; k <= c.Hosts; k++ {
		if k == i {
			continue
		}
		for p := 1; p <= 2; p++ {
			name := TunnelPort(k, p)
			args = append(args, "--", "--may-exist", "add-port", Bridge, name,
				"--", "set", "interface", name, "type=gre", "options:remote_ip="+c.UnderlayIP(k, p), "options:key=flow",
				fmt.Sprintf("ofport_request=%d", TunnelOFPort(k, p)))
			args = append(args, bfd...)
		}
	}
	if len(args) > 0 {
		if _, err := l.vsctl(ctx, i, args...); err != nil {
			return fmt.Errorf("h%d: %w", i, err)
		}
	}
	if !c.BFD && c.Hosts > 1 {
		return l.seedNeighbours(ctx, i)
	}
	return nil
}

// seedNeighbours resolves the underlay next hops of host i's tunnels. OVS's
// userspace tunnel code ARPs for a next hop when a packet needs it and drops
// that packet; with BFD off nothing else would trigger the ARP, so the first
// packet into every tunnel would be lost. One packet-out to all unresolved
// tunnel ports triggers the resolution; static entries are the fallback.
func (l *Lab) seedNeighbours(ctx context.Context, i int) error {
	c := l.cfg
	// idle entries expire (default 15 min); keep them for the maximum
	_, _ = l.appctl(ctx, i, "tnl/neigh/aging", "3600")
	sent := false
	deadline := time.Now().Add(2 * time.Second)
	for {
		out, err := l.appctl(ctx, i, "tnl/neigh/show")
		if err != nil {
			return err
		}
		known := map[string]bool{}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 {
				known[f[0]+" "+f[len(f)-1]] = true
			}
		}
		var missing [][2]int
		var acts []string
		for k := 1; k <= c.Hosts; k++ {
			for p := 1; p <= 2; p++ {
				if k != i && !known[fmt.Sprintf("%s br-ul%d", c.UnderlayIP(k, p), p)] {
					missing = append(missing, [2]int{k, p})
					acts = append(acts, fmt.Sprintf("output:%d", TunnelOFPort(k, p)))
				}
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			for _, m := range missing {
				if _, err := l.appctl(ctx, i, "tnl/neigh/set", fmt.Sprintf("br-ul%d", m[1]), c.UnderlayIP(m[0], m[1]), UnderlayMAC(m[0], m[1])); err != nil {
					return err
				}
			}
			return nil
		}
		if !sent {
			// broadcast frame, local experimental ethertype 0x88b5, zero payload
			frame := "ffffffffffff02feff00000088b5" + strings.Repeat("00", 46)
			if _, err := l.ofctl(ctx, i, "-O", "OpenFlow13", "packet-out", Bridge, "CONTROLLER", strings.Join(acts, ","), frame); err != nil {
				return err
			}
			sent = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitBFD waits until every BFD session is up so that Up returns a lab
// whose tunnel ports are LIVE; it only warns on timeout.
func (l *Lab) waitBFD(ctx context.Context, pl *progressLog, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for i := 1; i <= l.cfg.Hosts; i++ {
		for {
			out, err := l.vsctl(ctx, i, "--format=csv", "--data=bare", "--no-headings", "--columns=bfd_status", "find", "interface", "type=gre")
			bad := 0
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if !strings.Contains(line, "forwarding=true") {
					bad++
				}
			}
			if err == nil && bad == 0 {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				pl.logf("WARNING: h%d: %d BFD session(s) not up after %s", i, bad, timeout)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// ensureMgmt builds the management network for tcp:/ssl: controllers: a
// Linux bridge <P>mgmt in the root namespace with <MgmtNet>.254/24 and a
// veth <P>m<i> to interface mgmt (<MgmtNet>.<i>/24) in every host.
func (l *Lab) ensureMgmt(ctx context.Context) error {
	c := l.cfg
	br := c.mgmtBridge()
	links, err := nsLinks(ctx, "")
	if err != nil {
		return err
	}
	if !links[br] {
		out, _ := run(ctx, cmdSpec{}, "ip", "-4", "route", "show", "to", c.MgmtNet+".0/24")
		if s := strings.TrimSpace(string(out)); s != "" {
			return fmt.Errorf("lab: the root namespace already routes %s.0/24 (%s): set another management network (Config.MgmtNet / --mgmt-net) or use a unix: controller", c.MgmtNet, s)
		}
		if err := ip(ctx, "link", "add", br, "type", "bridge", "stp_state", "0"); err != nil {
			return err
		}
	}
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+br+"/disable_ipv6", []byte("1"), 0o644)
	if err := ipBatch(ctx, "", []string{
		fmt.Sprintf("address replace %s.254/24 dev %s", c.MgmtNet, br),
		"link set " + br + " up",
	}); err != nil {
		return err
	}
	for i := 1; i <= c.Hosts; i++ {
		rl := c.mgmtLink(i)
		hl, err := nsLinks(ctx, c.HostNS(i))
		if err != nil {
			return err
		}
		if !hl["mgmt"] || !links[rl] {
			_ = ip(ctx, "link", "del", rl)
			_ = ip(ctx, "-n", c.HostNS(i), "link", "del", "mgmt")
			if err := ip(ctx, "link", "add", rl, "type", "veth", "peer", "name", "mgmt", "netns", c.HostNS(i)); err != nil {
				return err
			}
		}
		_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+rl+"/disable_ipv6", []byte("1"), 0o644)
		if err := ipBatch(ctx, "", []string{fmt.Sprintf("link set %s master %s up", rl, br)}); err != nil {
			return err
		}
		if err := ipBatch(ctx, c.HostNS(i), []string{
			fmt.Sprintf("address replace %s.%d/24 dev mgmt", c.MgmtNet, i),
			"link set mgmt up",
			fmt.Sprintf("route replace default via %s.254 dev mgmt", c.MgmtNet),
		}); err != nil {
			return err
		}
	}
	return nil
}

// removeMgmt removes the management network (when no tcp/ssl controller).
func (l *Lab) removeMgmt(ctx context.Context) error {
	c := l.cfg
	links, err := ownedRootLinks(ctx, c.Prefix)
	if err != nil {
		return err
	}
	for _, n := range links {
		_ = ip(ctx, "link", "del", n)
	}
	return nil
}

// setControllers points host i's br-int at the configured controllers.
// OVS connects to unix sockets only inside its own run directory, so a
// symlink <rundir>/controller<n>.sock -> the real socket is configured.
// The controller list is only written when it differs: setting the first
// controller (or removing the last) flushes the bridge's flows.
func (l *Lab) setControllers(ctx context.Context, i int) error {
	c := l.cfg
	d := c.HostDir(i)
	var want []string
	n := 0
	for _, t := range c.Controllers {
		if strings.HasPrefix(t, "unix:") {
			n++
			link := filepath.Join(d, fmt.Sprintf("controller%d.sock", n))
			if cur, err := os.Readlink(link); err != nil || cur != t[5:] {
				_ = os.Remove(link)
				if err := os.Symlink(t[5:], link); err != nil {
					return fmt.Errorf("lab: %w", err)
				}
			}
			want = append(want, "unix:"+link)
		} else {
			want = append(want, t)
		}
	}
	// stale symlinks of removed unix targets
	for k := n + 1; ; k++ {
		link := filepath.Join(d, fmt.Sprintf("controller%d.sock", k))
		if _, err := os.Lstat(link); err != nil {
			break
		}
		_ = os.Remove(link)
	}
	out, err := l.vsctl(ctx, i, "get-controller", Bridge)
	if err != nil {
		return err
	}
	cur := strings.Fields(string(out))
	sort.Strings(cur)
	sorted := append([]string(nil), want...)
	sort.Strings(sorted)
	same := strings.Join(cur, " ") == strings.Join(sorted, " ")
	if len(want) == 0 {
		if same {
			return nil
		}
		_, err := l.vsctl(ctx, i, "del-controller", Bridge)
		return err
	}
	if same {
		// same targets: only refresh the connection settings
		out, err := l.vsctl(ctx, i, "--bare", "--columns=_uuid", "list", "controller")
		if err != nil {
			return err
		}
		var args []string
		for _, u := range strings.Fields(string(out)) {
			args = append(args, "--", "set", "controller", u,
				fmt.Sprintf("max_backoff=%d", c.MaxBackoffMS), fmt.Sprintf("inactivity_probe=%d", c.ProbeMS),
				"connection_mode=out-of-band")
		}
		if len(args) == 0 {
			return nil
		}
		_, err = l.vsctl(ctx, i, args...)
		return err
	}
	var args, refs []string
	for k, t := range want {
		id := fmt.Sprintf("@c%d", k)
		args = append(args, "--", "--id="+id, "create", "controller", fmt.Sprintf("target=%q", t),
			fmt.Sprintf("max_backoff=%d", c.MaxBackoffMS), fmt.Sprintf("inactivity_probe=%d", c.ProbeMS),
			"connection_mode=out-of-band")
		refs = append(refs, id)
	}
	args = append(args, "--", "set", "bridge", Bridge, "controller=["+strings.Join(refs, ",")+"]")
	_, err = l.vsctl(ctx, i, args...)
	return err
}
