// Command satellite runs Satellite (`satellite serve`: the OpenFlow
// controller and the HTTP API) and talks to a running one (`satellite
// switches`, `satellite flows DPID`, `satellite links`, ...). Run
// `satellite help` for usage.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Usage: satellite COMMAND [ARGS]

Server:
  serve [--config FILE] [--openflow TARGET]... [--http ADDR] [--insecure] [--log-level L] [--log-format text|json]
                        run the OpenFlow controller and the HTTP API
  version               print the version

Credentials (docs/security.md):
  token create NAME --role viewer|operator|admin [--replace]
                        create an API token and print it (shown only once)
  token list | token revoke NAME
                        the store next to the state file when no server holds it,
                        else (or with --server) the API with an admin token
  audit-log [--limit N] every state-changing request: who, what, status, from where

Cluster (several instances on etcd; the config file's cluster section, docs/cluster.md):
  cluster status        instances, the switches each masters, leases, etcd health
  cluster import [--state-file FILE] [--replace]
                        copy the state file (virtual networks, leases) into etcd
  cluster export [-f FILE] [--replace]
                        copy the cluster's state from etcd into a state file

Client (talks to a running server; --server URL or $SATELLITE_SERVER,
default http://127.0.0.1:8080; --token TOKEN or $SATELLITE_TOKEN;
--ca-file FILE or $SATELLITE_CA_FILE for https; -o json prints the API's JSON):
  health                        server status
  switches                      connected switches
  switch DPID                   one switch with its ports
  ports DPID [--port N|local]   port state and counters
  flows DPID [--table N] [--owner KIND] [--network N] [--id N]
                                flow table with counters
  flow add DPID 'SPEC' [--id N] install an API flow, e.g.
                                'table=0,priority=100,in_port=1,actions=output:2'
  flow del DPID [--owner api] [--network N] [--id N] [--table N] [--force]
                                delete API flows (another owner only when named; owners
                                Satellite keeps converged, such as network, need --force)
  groups DPID                   groups with buckets and counters
  tables DPID [--all]           flow tables in use (--all: every table)

  watch [--topics T,...]        follow the live stream (topology, metrics, flows, alerts) as JSON lines
  openapi                       print the server's OpenAPI document
  exporters                     exporters (InfluxDB, Fluentd) and /metrics: state, queue, delivered, dropped

Diagnostics (README, "Why can't A reach B?"):
  trace FROM [TO] [--proto icmp|tcp|udp|arp|dhcp] [--dport N] [--sport N] [--vlan N] [--live]
                                a packet hop by hop through the real flow tables (FROM: an
                                interface or SWITCH:PORT; TO: an interface, IP or MAC), with
                                the intended flows next to the real ones; --live injects it
  audit [SWITCH] [--fix] [--last]
                                the flow audit: missing, modified, extra, foreign, shadowed
                                and dead flows, black holes and loops; exit status 1 when
                                anything is found; --fix: the reconciler converges now

Topology (needs a server with topology enabled):
  links [--kind direct|tunnel] [--dpid DPID]
                                links between switches found by LLDP discovery
  hosts [--dpid DPID] [--mac MAC]
                                end hosts and where they are attached
  events [--kind KIND]          host moves, rejected LLDP frames (lldp-forged, ...)
  discovery                     LLDP discovery settings and counters
  tunnels [--local SWITCH] [--remote SWITCH] [--state up|down]
                                GRE paths between hosts: state, RTT, loss, which path carries the traffic
  topology export [-f FILE]     write the live topology as a snapshot (JSON)
  topology import FILE          store a snapshot on the server, print its id (s1)
  topology list                 snapshots stored on the server
  topology diff A [B]           what changed from A to B; each is a snapshot FILE,
                                a stored id (s1) or live (B defaults to live);
                                two files are compared offline

What's wrong now (README, "What's wrong now"; needs the collector):
  insights [--kind K,...] [--min-score N] [--switch S] [--history]
                                ports, flows, networks, tunnel paths and hosts off their baselines, worst first
  top [--what flows|interfaces|hosts|networks] [--by bytes|packets] [--from T] [--to T] [-n N]
                                top talkers over any window of the history
  network show NET --traffic    one network on its own: interfaces, switches, flows, tunnels

Statistics and alerts (needs a server with the collector and alerts):
  metrics ports [--dpid DPID] [--port N|local]
                                latest rates (bit/s, packets/s, drops, errors,
                                utilisation) and counters of every port
  metrics flows [--dpid DPID] [--owner KIND] [--network N] [--sort bps|pps] [--limit N]
                                latest rates of flows with their owners
  metrics series KEY [--from T] [--to T] [--step D]
                                history of one port or flow (KEY from the lists)
  metrics stats                 collector health: polls, skipped polls, series, memory
  alerts [--state pending|firing] [--severity S] [--rule NAME]
                                active alerts
  alerts history [--rule NAME] [--limit N]
                                firing and resolved alerts
  rules list                    alert rules
  rules add --name N --metric M --op OP --value V [--for D] [--clear V] [--dpid DPID] [--port N] [--remote DPID --path N]
  rules add -f FILE [--replace] add rules from a YAML or JSON file
  rules show NAME | rules delete NAME

Virtual networks (see docs/vnet-api.md):
  datapaths|networks|interfaces|routers|secgroups [list]
                                the objects, as tables
  KIND show|create|update|delete NAME [flags]
                                KIND is datapath, network, interface, router or secgroup;
                                create and update take a flag per field, e.g.
                                network create net1 --subnet 10.1.0.0/24 --gateway 10.1.0.1 --dhcp
  network auto [--dns IP]       a ready network "default" with DHCP and router "default-router"
  router interface add|del|list ROUTER [NETWORK[=IP]]
  router route add|del|list ROUTER [DEST via NEXTHOP]
  secgroup rule add|del|list GROUP [N] [--protocol P --port N[-M] --remote-cidr CIDR]
  floatingips|floatingip list   floating IPs: external addresses given 1:1 to interfaces
  floatingip create --network EXT [--ip A.B.C.D] --interface NAME
  floatingip show|move|delete IP [--interface NAME]
  leases [--network NET]        DHCP leases: state and expiry
  trunks [--datapath DP]        ports that carry tagged (VLAN) networks
  vnet status                   reconciliation state of every datapath
  vnet flows DPID|NAME          the flows the virtual networks want on a switch
  apply -f FILE                 replace the whole configuration (YAML or JSON); idempotent
  export [-o yaml|json] [-f FILE]
                                write the whole configuration

DPID is 1-16 hex digits (1, 0x1, 0000000000000001) or 00:00:00:00:00:00:00:01.
The client flags (--server, --token, --ca-file, -o) go before or after the
command: satellite --server https://sat1:8443 switches.
Run 'satellite COMMAND -h' for a command's flags.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command and returns the exit status: 0 success, 1
// failure, 2 usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	globals, args, err := leadingGlobals(args)
	if err != nil {
		fmt.Fprintf(stderr, "satellite: %v\n", err)
		return 2
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	if len(globals) > 0 {
		if _, client := clientCommands[cmd]; !client {
			fmt.Fprintf(stderr, "satellite: %s is a flag of the client commands, not of %q\n", globals[0], cmd)
			return 2
		}
		// the command's own flag set parses them, wherever they stand
		rest = append(append([]string(nil), rest...), globals...)
	}
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "satellite %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	if c, ok := clientCommands[cmd]; ok {
		return runClient(ctx, cmd, c, rest, stdout, stderr)
	}
	if near := nearCommands(cmd); len(near) > 0 {
		fmt.Fprintf(stderr, "satellite: unknown command %q; did you mean %s?\nRun 'satellite help' for every command.\n", cmd, strings.Join(near, " or "))
	} else {
		fmt.Fprintf(stderr, "satellite: unknown command %q\nRun 'satellite help' for every command.\n", cmd)
	}
	return 2
}

// globalFlags are the client flags every client command takes; before the
// command name they are moved behind it.
var globalFlags = map[string]bool{"server": true, "token": true, "ca-file": true, "o": true}

// leadingGlobals takes the client flags in front of the command name
// (--server URL, --token=T, ...) off args.
func leadingGlobals(args []string) (globals, rest []string, err error) {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" && args[0] != "--" {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		if !globalFlags[name] {
			if name == "h" || name == "help" || name == "version" {
				return globals, args, nil // handled as commands
			}
			return nil, nil, fmt.Errorf("unknown flag %s before the command; the client flags are --server, --token, --ca-file and -o (run 'satellite help')", args[0])
		}
		if hasValue {
			globals, args = append(globals, args[0]), args[1:]
			continue
		}
		if len(args) < 2 {
			return nil, nil, fmt.Errorf("flag %s needs a value", args[0])
		}
		globals, args = append(globals, args[0], args[1]), args[2:]
	}
	return globals, args, nil
}

// nearCommands returns the commands a mistyped name may have meant: an
// edit distance of at most 2 (a third of its length for short names), or
// a prefix.
func nearCommands(name string) []string {
	names := map[string]bool{"serve": true, "version": true, "help": true}
	for k := range clientCommands {
		names[strings.Fields(k)[0]] = true
	}
	var near []string
	for n := range names {
		limit := min(2, max(1, len(name)/3))
		if editDistance(name, n) <= limit || len(name) >= 3 && strings.HasPrefix(n, name) {
			near = append(near, strconv.Quote(n))
		}
	}
	sort.Strings(near)
	if len(near) > 4 {
		near = near[:4]
	}
	return near
}

// editDistance is the Damerau-Levenshtein distance (adjacent swaps count
// as one edit: "swtiches" is one away from "switches").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
