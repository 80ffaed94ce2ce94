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
  flow del DPID [--owner api] [--network N] [--id N] [--table N]
                                delete API flows (another owner only when named)
  groups DPID                   groups with buckets and counters
  tables DPID [--all]           flow tables in use (--all: every table)

Topology (needs a server with topology enabled):
  links [--kind direct|tunnel] [--dpid DPID]
                                links between switches found by LLDP discovery
  hosts [--dpid DPID] [--mac MAC]
                                end hosts and where they are attached
  events [--kind KIND]          host moves, rejected LLDP frames (lldp-forged, ...)
  discovery                     LLDP discovery settings and counters
  topology export [-f FILE]     write the live topology as a snapshot (JSON)
  topology import FILE          store a snapshot on the server, print its id (s1)
  topology list                 snapshots stored on the server
  topology diff A [B]           what changed from A to B; each is a snapshot FILE,
                                a stored id (s1) or live (B defaults to live);
                                two files are compared offline

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
  leases [--network NET]        DHCP leases: state and expiry
  trunks [--datapath DP]        ports that carry tagged (VLAN) networks
  vnet status                   reconciliation state of every datapath
  vnet flows DPID|NAME          the flows the virtual networks want on a switch
  apply -f FILE                 replace the whole configuration (YAML or JSON); idempotent
  export [-o yaml|json] [-f FILE]
                                write the whole configuration

DPID is 1-16 hex digits (1, 0x1, 0000000000000001) or 00:00:00:00:00:00:00:01.
Run 'satellite COMMAND -h' for a command's flags.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command and returns the exit status: 0 success, 1
// failure, 2 usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
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
	fmt.Fprintf(stderr, "satellite: unknown command %q\n\n%s", cmd, usage)
	return 2
}
