// Command satlab builds and operates Satellite's Open vSwitch testbed (see
// docs/lab.md). It needs root.
//
//	satlab up N [--controller unix:/path.sock,...] [--links chain|ring|full|none]
//	            [--vms 2] [--no-bfd] [--bfd-ms 300] [--prefix sat-]
//	satlab status | down
//	satlab cut-path HOST|all PATH [PEER]      satlab restore-path HOST|all PATH [PEER] | all
//	satlab cut-link A B                       satlab restore-link A B
//	satlab stop-host H | start-host H | kill-switch H
//	satlab ovs H ovs-ofctl -O OpenFlow13 dump-flows br-int
//	satlab exec NETNS cmd...
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/satellite-sdn/satellite/lab"
)

const usage = `usage: satlab [--prefix P] [--dir D] COMMAND [ARGS]

  up N [flags]                 create or converge an N-host lab (1..32); prints
                               the topology JSON on stdout, progress on stderr
      --controller T[,T...]    OpenFlow targets: unix:/abs/path.sock, tcp:IP:PORT,
                               ssl:IP:PORT (tcp/ssl need the mgmt network: listen
                               on 10.250.0.254)
      --tls                    create an OpenFlow PKI with ovs-pki in <dir>/pki and
                               give every host its certificate (for ssl: targets;
                               Satellite: --openflow-cert <dir>/pki/ctl-cert.pem
                               --openflow-key <dir>/pki/ctl-privkey.pem
                               --openflow-ca <dir>/pki/switchca/cacert.pem)
      --links chain|ring|full|none   direct bridge-to-bridge links (default chain)
      --vms N                  endpoints per host (default 2, 0 = none)
      --no-bfd                 no BFD on the GRE ports (default: BFD on)
      --bfd-ms MS              BFD interval (default 300)
      --dpid-base N            added to the host number to form the dpid
      --of-versions V[,V]      br-int protocols (default OpenFlow13)
      --mgmt-net A.B.C         management /24 for tcp controllers (default 10.250.0)
      --ipv6                   keep IPv6 enabled in the lab namespaces
  status                       topology JSON of the running lab (live state)
  down                         remove everything the lab created
  cut-path HOST|all PATH [PEER]      cut underlay path 1|2 (all: the whole
                                     switch; HOST: its uplink; PEER: only
                                     HOST<->PEER, by drop flows)
  restore-path HOST|all PATH [PEER]  undo; "restore-path all" undoes every cut
  cut-link A B | restore-link A B    direct link between hosts A and B down/up
  stop-host H | start-host H         stop / start host H's ovs-vswitchd
  kill-switch H                      SIGKILL host H's ovs-vswitchd
  ovs H CMD [ARGS...]          run an OVS utility against host H's private OVS,
                               e.g. ovs h1 ovs-ofctl -O OpenFlow13 dump-flows br-int
  exec NETNS CMD [ARGS...]     run a command in a lab namespace (h1-vm1, h2, ul)

Hosts are written h1 or 1. --prefix (default sat-, or $SATLAB_PREFIX) selects
the lab; its state lives in --dir (default /run/<prefix>lab, or $SATLAB_DIR).
`

func main() {
	os.Exit(run(os.Args[1:]))
}

type opts struct {
	prefix, dir string
	flags       map[string]string
	pos         []string
}

// boolFlags take no value.
var boolFlags = map[string]bool{"no-bfd": true, "ipv6": true, "tls": true, "help": true}

var upFlags = map[string]bool{"controller": true, "links": true, "vms": true, "no-bfd": true, "bfd-ms": true,
	"dpid-base": true, "of-versions": true, "mgmt-net": true, "ipv6": true, "tls": true, "jobs": true}

// parse splits args into flags and positional arguments. For ovs and exec
// everything after the first two positional arguments is passed through.
func parse(args []string) (*opts, error) {
	o := &opts{prefix: os.Getenv("SATLAB_PREFIX"), dir: os.Getenv("SATLAB_DIR"), flags: map[string]string{}}
	for k := 0; k < len(args); k++ {
		a := args[k]
		if len(o.pos) > 0 && (o.pos[0] == "ovs" || o.pos[0] == "exec") && len(o.pos) >= 2 {
			o.pos = append(o.pos, args[k:]...)
			break
		}
		if a == "--" {
			o.pos = append(o.pos, args[k+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			o.pos = append(o.pos, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		val, hasVal := "", false
		if i := strings.IndexByte(name, '='); i >= 0 {
			name, val, hasVal = name[:i], name[i+1:], true
		}
		if name == "h" {
			name = "help"
		}
		if boolFlags[name] {
			if hasVal {
				return nil, fmt.Errorf("--%s takes no value", name)
			}
			o.flags[name] = "true"
			continue
		}
		if name != "prefix" && name != "dir" && !upFlags[name] {
			return nil, fmt.Errorf("unknown flag --%s", name)
		}
		if !hasVal {
			if k+1 >= len(args) {
				return nil, fmt.Errorf("--%s needs a value", name)
			}
			k++
			val = args[k]
		}
		switch name {
		case "prefix":
			o.prefix = val
		case "dir":
			o.dir = val
		default:
			o.flags[name] = val
		}
	}
	return o, nil
}

func run(args []string) int {
	o, err := parse(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "satlab: %v\n\n%s", err, usage)
		return 2
	}
	if o.flags["help"] != "" || len(o.pos) == 0 {
		fmt.Fprint(os.Stderr, usage)
		if len(o.pos) == 0 && o.flags["help"] == "" {
			return 2
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, rest := o.pos[0], o.pos[1:]
	if cmd != "up" {
		for f := range o.flags {
			if upFlags[f] {
				fmt.Fprintf(os.Stderr, "satlab: --%s only applies to `satlab up`\n", f)
				return 2
			}
		}
	}
	if err := dispatch(ctx, o, cmd, rest); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "satlab: %v\n\n%s", err, usage)
			return 2
		}
		fmt.Fprintf(os.Stderr, "satlab: %v\n", err)
		return 1
	}
	return 0
}

type usageError string

func (u usageError) Error() string { return string(u) }

func nargs(cmd string, rest []string, min, max int) error {
	if len(rest) < min || len(rest) > max {
		return usageError(fmt.Sprintf("%s: wrong number of arguments", cmd))
	}
	return nil
}

func (o *opts) base() lab.Config {
	return lab.Config{Prefix: o.prefix, Dir: o.dir}
}

// open finds the running lab of --prefix / --dir.
func (o *opts) open() (*lab.Lab, error) {
	where := o.dir
	if where == "" {
		where = o.prefix
	}
	l, err := lab.Open(where)
	if err != nil {
		return nil, err
	}
	if o.prefix != "" && l.Config().Prefix != o.prefix {
		return nil, fmt.Errorf("%s holds lab %s, not %s", l.Config().Dir, l.Config().Prefix, o.prefix)
	}
	return l, nil
}

func parseHost(s string, allowAll bool) (int, error) {
	if allowAll && s == "all" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "h"))
	if err != nil || n < 1 {
		want := "h<N> or <N>"
		if allowAll {
			want += " or all"
		}
		return 0, usageError(fmt.Sprintf("bad host %q (want %s)", s, want))
	}
	return n, nil
}

func printJSON(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func dispatch(ctx context.Context, o *opts, cmd string, rest []string) error {
	switch cmd {
	case "up":
		if err := nargs(cmd, rest, 1, 1); err != nil {
			return err
		}
		n, err := strconv.Atoi(rest[0])
		if err != nil {
			return usageError(fmt.Sprintf("up: N must be a number of hosts (got %q)", rest[0]))
		}
		cfg := o.base()
		cfg.Hosts = n
		cfg.BFD = o.flags["no-bfd"] == ""
		cfg.IPv6 = o.flags["ipv6"] != ""
		cfg.TLS = o.flags["tls"] != ""
		cfg.Links = o.flags["links"]
		cfg.OFVersions = o.flags["of-versions"]
		cfg.MgmtNet = o.flags["mgmt-net"]
		if v := o.flags["controller"]; v != "" && v != "none" {
			cfg.Controllers = strings.Split(v, ",")
		}
		for name, dst := range map[string]*int{"vms": &cfg.VMs, "bfd-ms": &cfg.BFDIntervalMS, "jobs": &cfg.Jobs} {
			if v, ok := o.flags[name]; ok {
				x, err := strconv.Atoi(v)
				if err != nil {
					return usageError(fmt.Sprintf("--%s must be a number", name))
				}
				*dst = x
			}
		}
		if v, ok := o.flags["vms"]; ok && v == "0" {
			cfg.VMs = -1
		}
		if v, ok := o.flags["dpid-base"]; ok {
			x, err := strconv.ParseUint(v, 0, 64)
			if err != nil {
				return usageError("--dpid-base must be a number (e.g. 0x100)")
			}
			cfg.DPIDBase = x
		}
		if _, err := cfg.Normalize(); err != nil {
			return err // nothing built yet
		}
		if os.Geteuid() != 0 {
			return errors.New("up needs root (network namespaces and OVS): run it as root, e.g. `sudo go run ./lab/cmd/satlab up 3`")
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		topo, err := lab.Up(ctx, cfg, os.Stderr)
		if err != nil {
			return fmt.Errorf("%w\n(fix the cause and run `satlab up` again: it converges; `satlab down` removes a half-built lab)", err)
		}
		os.Stdout.Write(topo.JSON())
		return nil
	case "status":
		if err := nargs(cmd, rest, 0, 0); err != nil {
			return err
		}
		l, err := o.open()
		if err != nil {
			return err
		}
		topo, err := l.Status(ctx)
		if err != nil {
			return err
		}
		os.Stdout.Write(topo.JSON())
		return nil
	case "down":
		if err := nargs(cmd, rest, 0, 0); err != nil {
			return err
		}
		cfg := o.base()
		if l, err := o.open(); err == nil {
			cfg = l.Config()
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		return lab.Down(ctx, cfg, os.Stderr)
	case "cut-path", "restore-path":
		if cmd == "restore-path" && len(rest) == 1 && rest[0] == "all" {
			l, err := o.open()
			if err != nil {
				return err
			}
			if err := l.RestoreAll(ctx); err != nil {
				return err
			}
			printJSON(map[string]any{"op": cmd, "host": "all", "path": "all"})
			return nil
		}
		if err := nargs(cmd, rest, 2, 3); err != nil {
			return err
		}
		h, err := parseHost(rest[0], true)
		if err != nil {
			return err
		}
		p, err := strconv.Atoi(rest[1])
		if err != nil || (p != 1 && p != 2) {
			return usageError("PATH must be 1 or 2")
		}
		peer := 0
		if len(rest) == 3 {
			if peer, err = parseHost(rest[2], false); err != nil {
				return err
			}
		}
		l, err := o.open()
		if err != nil {
			return err
		}
		if cmd == "cut-path" {
			err = l.CutPath(ctx, h, p, peer)
		} else {
			err = l.RestorePath(ctx, h, p, peer)
		}
		if err != nil {
			return err
		}
		out := map[string]any{"op": cmd, "host": rest[0], "path": p, "peer": nil}
		if peer > 0 {
			out["peer"] = fmt.Sprintf("h%d", peer)
		}
		printJSON(out)
		return nil
	case "cut-link", "restore-link":
		if err := nargs(cmd, rest, 2, 2); err != nil {
			return err
		}
		a, err := parseHost(rest[0], false)
		if err != nil {
			return err
		}
		b, err := parseHost(rest[1], false)
		if err != nil {
			return err
		}
		l, err := o.open()
		if err != nil {
			return err
		}
		if cmd == "cut-link" {
			err = l.CutLink(ctx, a, b)
		} else {
			err = l.RestoreLink(ctx, a, b)
		}
		if err != nil {
			return err
		}
		printJSON(map[string]any{"op": cmd, "a": fmt.Sprintf("h%d", a), "b": fmt.Sprintf("h%d", b)})
		return nil
	case "stop-host", "start-host", "kill-switch":
		if err := nargs(cmd, rest, 1, 1); err != nil {
			return err
		}
		h, err := parseHost(rest[0], false)
		if err != nil {
			return err
		}
		l, err := o.open()
		if err != nil {
			return err
		}
		switch cmd {
		case "stop-host":
			err = l.StopHost(ctx, h)
		case "start-host":
			err = l.StartHost(ctx, h)
		default:
			err = l.KillSwitch(ctx, h)
		}
		if err != nil {
			return err
		}
		printJSON(map[string]any{"op": cmd, "host": fmt.Sprintf("h%d", h)})
		return nil
	case "ovs", "exec":
		if len(rest) < 2 {
			return usageError(cmd + ": needs a target and a command")
		}
		l, err := o.open()
		if err != nil {
			return err
		}
		var c *exec.Cmd
		if cmd == "ovs" {
			h, err := parseHost(rest[0], false)
			if err != nil {
				return err
			}
			c, err = l.OVSCommand(ctx, h, rest[1], rest[2:]...)
			if err != nil {
				return err
			}
		} else if c, err = l.ExecCommand(ctx, rest[0], rest[1:]...); err != nil {
			return err
		}
		c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
		return c.Run()
	}
	return usageError(fmt.Sprintf("unknown command %q", cmd))
}
