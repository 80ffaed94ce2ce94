package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/topology"
	"github.com/satellite-sdn/satellite/web/client"
)

// EnvServer names the API server the client commands talk to.
const EnvServer = "SATELLITE_SERVER"

// session is what a client command runs with.
type session struct {
	cl   *client.Client
	out  io.Writer
	json bool
	// server: --server or $SATELLITE_SERVER was given (token commands
	// then use the API rather than the local store)
	server bool
}

// print writes v as indented JSON (-o json) or calls table.
func (s *session) print(v any, table func(w io.Writer)) error {
	if s.json {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(s.out, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// clientCommand is one subcommand: its positional arguments and its
// flags, defined by setup, which returns the function that runs it.
type clientCommand struct {
	args  string // positional arguments, for usage
	nargs int    // required positional arguments
	opt   int    // optional positional arguments after them
	about string
	setup func(fs *flag.FlagSet) func(ctx context.Context, s *session, args []string) error
}

// The CLI's command table: every client command, with its arguments, its
// line in the usage and the function that sets up its flags, and the
// usage of every command with subcommands. It is baseCommands and
// baseGroups with the virtual-network commands (vnet.go, generated per
// kind of object) added, built once, here.
var clientCommands, commandGroups = commandTable()

func commandTable() (map[string]clientCommand, map[string]string) {
	cmds, groups := map[string]clientCommand{}, map[string]string{}
	for k, v := range baseCommands {
		cmds[k] = v
	}
	for k, v := range baseGroups {
		groups[k] = v
	}
	addVNetCommands(cmds, groups)
	return cmds, groups
}

var baseCommands = map[string]clientCommand{
	"health":          {"", 0, 0, "server status", setupHealth},
	"switches":        {"", 0, 0, "connected switches", setupSwitches},
	"switch":          {"DPID", 1, 0, "one switch with its ports", setupSwitch},
	"ports":           {"DPID", 1, 0, "port state and counters", setupPorts},
	"flows":           {"DPID", 1, 0, "flow table with counters", setupFlows},
	"flow add":        {"DPID 'SPEC'", 2, 0, "install an API flow (SPEC in ovs-ofctl syntax, e.g. 'table=0,priority=100,in_port=1,actions=output:2')", setupFlowAdd},
	"flow del":        {"DPID", 1, 0, "delete API flows (flows of another owner only with --owner; those Satellite keeps converged also need --force)", setupFlowDel},
	"groups":          {"DPID", 1, 0, "groups with buckets and counters", setupGroups},
	"tables":          {"DPID", 1, 0, "flow tables in use", setupTables},
	"flow":            {"add|del ...", -1, 0, "add or delete flows", nil},
	"links":           {"", 0, 0, "links between switches, as LLDP discovery found them", setupLinks},
	"hosts":           {"", 0, 0, "end hosts and where they are attached", setupHosts},
	"events":          {"", 0, 0, "the history of changes (the journal): links down and up, switches, ports, hosts, tunnel paths, alerts, rejected LLDP frames", setupEvents},
	"discovery":       {"", 0, 0, "LLDP discovery settings and counters", setupDiscovery},
	"topology export": {"", 0, 0, "write the live topology (or, with --at, the topology at a time) as a snapshot (JSON) to stdout or a file", setupTopologyExport},
	"topology show":   {"", 0, 0, "the switches and links, live or (--at TIME) as they were, rebuilt from the journal", setupTopologyShow},
	"topology import": {"FILE", 1, 0, "store a snapshot file on the server and print its id", setupTopologyImport},
	"topology list":   {"", 0, 0, "snapshots stored on the server", setupTopologyList},
	"topology diff": {"A [B]", 1, 1, "compare two topologies; A and B are each a snapshot FILE, the id of a snapshot stored on the server (s1) " +
		"or live (B defaults to live); two files are compared without a server", setupTopologyDiff},
	"topology":       {"show|export|import|list|diff ...", -1, 0, "show, export, import and compare topologies", nil},
	"exporters":      {"", 0, 0, "exporters (InfluxDB, Fluentd) and /metrics: state, queue, delivered, dropped, last error", setupExporters},
	"metrics ports":  {"", 0, 0, "latest rates and counters of every port", setupMetricsPorts},
	"metrics flows":  {"", 0, 0, "latest rates and counters of flows, with their owners", setupMetricsFlows},
	"metrics series": {"KEY", 1, 0, "history of one series (KEY from metrics ports or flows, e.g. port/0000000000000001/2)", setupMetricsSeries},
	"metrics stats":  {"", 0, 0, "collector health: polls, skipped slow polls, dropped stream samples, series, memory", setupMetricsStats},
	"metrics":        {"ports|flows|series|stats ...", -1, 0, "statistics from the collector", nil},
	"alerts":         {"[history]", 0, 1, "active alerts (pending and firing); alerts history: firing and resolved events", setupAlerts},
	"rules list":     {"", 0, 0, "alert rules", setupRulesList},
	"rules add":      {"", 0, 0, "add alert rules, from flags or from a YAML or JSON file (-f)", setupRulesAdd},
	"rules show":     {"NAME", 1, 0, "one alert rule", setupRulesShow},
	"rules delete":   {"NAME", 1, 0, "delete an alert rule (its firing alerts resolve)", setupRulesDelete},
	"rules":          {"list|add|show|delete ...", -1, 0, "alert rules", nil},
	"token create":   {"NAME", 1, 0, "create an API token with --role viewer, operator or admin and print it (shown only once)", setupTokenCreate},
	"token list":     {"", 0, 0, "API tokens: names, roles, when created", setupTokenList},
	"token revoke":   {"NAME", 1, 0, "revoke an API token: it stops working at once", setupTokenRevoke},
	"token":          {"create|list|revoke ...", -1, 0, "manage API tokens", nil},
	"audit-log":      {"", 0, 0, "every state-changing API request: who, role, what, status, from where (needs an admin token)", setupAuditLog},
	"trace": {"FROM TO", 1, 1, "trace a packet hop by hop through the switches' flow tables (why can't FROM reach TO?); " +
		"FROM: an interface name or SWITCH:PORT; TO: an interface name, an IP or a MAC (none for --proto dhcp)", setupTrace},
	"tunnels": {"", 0, 0, "GRE paths between hosts: state, RTT, loss, which path carries the traffic", setupTunnels},
	"watch":   {"", 0, 0, "follow the live stream (topology changes, metrics, alerts, events) as JSON lines; Ctrl-C stops", setupWatch},
	"openapi": {"", 0, 0, "print the server's OpenAPI document", setupOpenAPI},
	// several instances on etcd (cluster.go): they read the config file's cluster section and talk to etcd
	"cluster status": {"", 0, 0, "the cluster's instances, which switch each masters, their leases and the etcd members' health", setupClusterStatus},
	"cluster import": {"", 0, 0, "copy the state file (virtual networks, DHCP leases) into the cluster's etcd, keeping its revision", setupClusterImport},
	"cluster export": {"", 0, 0, "copy the cluster's state from etcd into a state file (-f, default the config's state_file)", setupClusterExport},
	"cluster":        {"status|import|export ...", -1, 0, "several instances as one controller, on etcd", nil},
}

// commandGroups are the commands with subcommands, with their usage.
var baseGroups = map[string]string{
	"flow": "Usage: satellite flow add DPID 'SPEC' [--id N]\n       satellite flow del DPID [--owner api] [--network N] [--id N] [--table N]\n",
	"topology": "Usage: satellite topology export [-f FILE] [--at TIME]\n       satellite topology show [--at TIME]\n       satellite topology import FILE\n       satellite topology list\n" +
		"       satellite topology diff A [B]   (A, B: a snapshot FILE, a stored snapshot id such as s1, or live; B defaults to live)\n" +
		"       satellite topology diff --from T1 [--to T2]   (the topologies at two times, from the journal; T2 defaults to live)\n",
	"metrics": "Usage: satellite metrics ports [--dpid DPID] [--port N|local]\n" +
		"       satellite metrics flows [--dpid DPID] [--owner KIND] [--network N] [--id N] [--table N] [--sort key|bps|pps] [--limit N]\n" +
		"       satellite metrics series KEY [--from T] [--to T] [--step D] [--resolution raw|downsampled]\n" +
		"       satellite metrics stats\n",
	"rules": "Usage: satellite rules list\n" +
		"       satellite rules add --name N --metric M --op OP --value V [--for D] [--clear V] [--dpid DPID] [--port N] ...\n" +
		"       satellite rules add -f FILE [--replace]   (YAML or JSON: one rule, a list, or {rules: [...]})\n" +
		"       satellite rules show NAME\n" +
		"       satellite rules delete NAME\n",
	"token": "Usage: satellite token create NAME --role viewer|operator|admin [--replace]\n       satellite token list\n       satellite token revoke NAME\n" +
		"Without --server, the store next to the state file is used directly when no server holds it, else the API (needs an admin token).\n",
	"cluster": "Usage: satellite cluster status [--config FILE] [-o json]\n" +
		"       satellite cluster import [--config FILE] [--state-file FILE] [--replace]\n" +
		"       satellite cluster export [--config FILE] [-f FILE] [--replace]\n" +
		"The cluster (name, etcd) is the config file's cluster section (docs/cluster.md).\n",
}

func runClient(ctx context.Context, name string, cmd clientCommand, args []string, stdout, stderr io.Writer) int {
	if usage, ok := commandGroups[name]; ok {
		sub := ""
		if len(args) > 0 {
			sub = args[0]
		}
		if name == "flow" && sub == "delete" {
			sub = "del"
		}
		c, ok := clientCommands[name+" "+sub]
		if sub == "" || !ok {
			fmt.Fprint(stderr, usage)
			return 2
		}
		name, cmd, args = name+" "+sub, c, args[1:]
	}
	fs := flag.NewFlagSet("satellite "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "", "API server `URL` (default $"+EnvServer+" or "+client.DefaultServer+")")
	output := fs.String("o", "table", "output `format`: table or json")
	token := fs.String("token", "", "API `token` (default $"+client.EnvToken+")")
	caFile := fs.String("ca-file", "", "PEM `file` of the CA that signed an https server's certificate (default $"+EnvCAFile+"; else the system's)")
	runCmd := cmd.setup(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: satellite %s %s [flags]\n\n%s%s.\n\nFlags:\n", name, cmd.args, strings.ToUpper(cmd.about[:1]), cmd.about[1:])
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	// topology diff --from T1 [--to T2] needs no positional argument
	fromTime := name == "topology diff" && fs.Lookup("from").Value.String() != "" && len(pos) == 0
	if (len(pos) < cmd.nargs || len(pos) > cmd.nargs+cmd.opt) && !fromTime {
		if cmd.opt == 0 {
			fmt.Fprintf(stderr, "satellite %s: want %d argument(s) (%s), got %d\n", name, cmd.nargs, cmd.args, len(pos))
		} else {
			fmt.Fprintf(stderr, "satellite %s: want %d to %d arguments (%s), got %d\n", name, cmd.nargs, cmd.nargs+cmd.opt, cmd.args, len(pos))
		}
		fs.Usage()
		return 2
	}
	if *output != "table" && *output != "json" && !(*output == "yaml" && yamlOutput[name]) {
		fmt.Fprintf(stderr, "satellite %s: -o %q: want table or json\n", name, *output)
		return 2
	}
	if *server == "" {
		*server = os.Getenv(EnvServer)
	}
	if *token == "" {
		*token = os.Getenv(client.EnvToken)
	}
	if *caFile == "" {
		*caFile = os.Getenv(EnvCAFile)
	}
	hc, err := httpClient(*caFile)
	if err != nil {
		fmt.Fprintf(stderr, "satellite: %v\n", err)
		return 2
	}
	cl, err := client.New(*server, hc)
	if err != nil {
		fmt.Fprintf(stderr, "satellite: %v\n", err)
		return 2
	}
	cl.SetToken(*token)
	err = runCmd(ctx, &session{cl: cl, out: stdout, json: *output == "json", server: *server != ""}, pos)
	var ce *client.ConnError
	var ae *client.APIError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "satellite: %v; is `satellite serve` running at %s? (another server: --server URL or $%s)\n", err, ce.URL, EnvServer)
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && *token == "":
		fmt.Fprintf(stderr, "satellite: %v\nsatellite: no token given: pass --token TOKEN or set $%s\n", err, client.EnvToken)
	default:
		fmt.Fprintf(stderr, "satellite: %v\n", err)
	}
	return 1
}

// parseArgs parses flags that may come before, between or after the
// positional arguments, and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// optUint is an optional unsigned flag: set says whether it was given.
type optUint struct {
	v   uint64
	set bool
	max uint64
}

func (o *optUint) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatUint(o.v, 10)
}

func (o *optUint) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > o.max {
		return fmt.Errorf("want a whole number from 0 to %d", o.max)
	}
	o.v, o.set = n, true
	return nil
}

func (o *optUint) u32() *uint32 {
	if !o.set {
		return nil
	}
	v := uint32(o.v)
	return &v
}

func (o *optUint) u8() *uint8 {
	if !o.set {
		return nil
	}
	v := uint8(o.v)
	return &v
}

func newOpt(fs *flag.FlagSet, name string, max uint64, usage string) *optUint {
	o := &optUint{max: max}
	fs.Var(o, name, usage)
	return o
}

// canonicalDPID reads a switch argument before it goes into a URL: a
// datapath id (1, 0x1f, 16 hex digits, colons) is canonicalised; a name
// (h1: any other letters or _ . -) goes to the server, which resolves the
// names of virtual-network datapaths. A name made of hex digits only
// reads as a datapath id here.
func canonicalDPID(s string) (string, error) {
	d, err := controller.ParseDPID(s)
	if err == nil {
		return controller.FormatDPID(d), nil
	}
	if switchNameRE.MatchString(s) {
		return url.PathEscape(s), nil
	}
	return "", fmt.Errorf("%w (or the name of a datapath, such as h1)", err)
}

// switchNameRE matches what may name a switch.
var switchNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

func setupHealth(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, _ []string) error {
		h, err := s.cl.Health(ctx)
		if err != nil {
			return err
		}
		return s.print(h, func(w io.Writer) {
			fmt.Fprintf(w, "%s: %d switch(es) connected, up %s, version %s, at %s\n", h.Status, h.Switches,
				age(time.Duration(h.UptimeS*float64(time.Second))), orDash(h.Version), s.cl.URL())
			if h.Degraded != "" && h.Load != nil {
				fmt.Fprintf(w, "degraded: %s: %s\n%s\n", h.Degraded, orDash(h.Load.Cause), lateness(*h.Load))
			}
		})
	}
}

func setupSwitches(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, _ []string) error {
		list, err := s.cl.Switches(ctx)
		if err != nil {
			return err
		}
		return s.print(list, func(w io.Writer) {
			if len(list) == 0 {
				fmt.Fprintln(w, "no switches connected")
				return
			}
			fmt.Fprintln(w, "DPID\tNAME\tREMOTE\tCONNECTED\tPORTS\tMANUFACTURER\tSOFTWARE\tDATAPATH")
			for _, sw := range list {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s ago\t%d\t%s\t%s\t%s\n", sw.DPID, orDash(sw.Name), sw.Remote, age(time.Since(sw.ConnectedAt)), len(sw.Ports),
					orDash(sw.Manufacturer), orDash(sw.Software), orDash(sw.DatapathDesc))
			}
		})
	}
}

func setupSwitch(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, args []string) error {
		dpid, err := canonicalDPID(args[0])
		if err != nil {
			return err
		}
		sw, err := s.cl.Switch(ctx, dpid)
		if err != nil {
			return err
		}
		return s.print(sw, func(w io.Writer) {
			fmt.Fprintf(w, "dpid:\t%s\n", sw.DPID)
			fmt.Fprintf(w, "remote:\t%s\n", sw.Remote)
			fmt.Fprintf(w, "connected:\t%s (%s ago)\n", sw.ConnectedAt.Format(time.RFC3339), age(time.Since(sw.ConnectedAt)))
			fmt.Fprintf(w, "manufacturer:\t%s\n", orDash(sw.Manufacturer))
			fmt.Fprintf(w, "hardware:\t%s\n", orDash(sw.Hardware))
			fmt.Fprintf(w, "software:\t%s\n", orDash(sw.Software))
			fmt.Fprintf(w, "serial:\t%s\n", orDash(sw.Serial))
			fmt.Fprintf(w, "datapath:\t%s\n", orDash(sw.DatapathDesc))
			fmt.Fprintf(w, "tables:\t%d\n", sw.NTables)
			fmt.Fprintf(w, "messages:\trx %d, tx %d, malformed %d, echo requests %d\n", sw.Session.RxMessages, sw.Session.TxMessages, sw.Session.Malformed, sw.Session.EchoSent)
			fmt.Fprintln(w)
			portTable(w, sw.Ports)
		})
	}
}

func portTable(w io.Writer, ports []api.Port) {
	fmt.Fprintln(w, "PORT\tNAME\tSTATE\tHW_ADDR\tSPEED\tMAX_SPEED")
	for _, p := range ports {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", portName(p.Number, p.Reserved), orDash(p.Name), p.State, orDash(p.HWAddr),
			speed(p.CurrSpeedKbps), speed(p.MaxSpeedKbps))
	}
}

func setupPorts(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	port := fs.String("port", "", "only this port (a `number` or local)")
	return func(ctx context.Context, s *session, args []string) error {
		dpid, err := canonicalDPID(args[0])
		if err != nil {
			return err
		}
		stats, err := s.cl.PortStats(ctx, dpid, *port)
		if err != nil {
			return err
		}
		return s.print(stats, func(w io.Writer) {
			fmt.Fprintln(w, "PORT\tNAME\tSTATE\tRX_PACKETS\tRX_BYTES\tRX_DROPPED\tRX_ERRORS\tTX_PACKETS\tTX_BYTES\tTX_DROPPED\tTX_ERRORS")
			for _, p := range stats {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", portName(p.Number, p.Reserved), orDash(p.Name), orDash(p.State),
					count(p.RxPackets), count(p.RxBytes), count(p.RxDropped), count(p.RxErrors),
					count(p.TxPackets), count(p.TxBytes), count(p.TxDropped), count(p.TxErrors))
			}
		})
	}
}

// selectorFlags defines the flags that select flows.
func selectorFlags(fs *flag.FlagSet, ownerDefault string) func() client.FlowQuery {
	ownerUsage := "only flows of this owner `kind` (api, core, foreign, ...)"
	if ownerDefault != "" {
		ownerUsage = "delete flows of this owner `kind` (default " + ownerDefault + "); deleting another owner's flows can break what it set up"
	}
	owner := fs.String("owner", "", ownerUsage)
	table := newOpt(fs, "table", 254, "only this flow `table` (0-254)")
	network := newOpt(fs, "network", controller.MaxScope, "only flows of this virtual `network` (needs --owner)")
	id := newOpt(fs, "id", 1<<32-1, "only flows with this owner object `id` (needs --owner)")
	return func() client.FlowQuery {
		return client.FlowQuery{Table: table.u8(), Owner: *owner, Network: network.u32(), ID: id.u32()}
	}
}

func setupFlows(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	query := selectorFlags(fs, "")
	return func(ctx context.Context, s *session, args []string) error {
		dpid, err := canonicalDPID(args[0])
		if err != nil {
			return err
		}
		flows, err := s.cl.Flows(ctx, dpid, query())
		if err != nil {
			return err
		}
		return s.print(flows, func(w io.Writer) {
			if len(flows) == 0 {
				fmt.Fprintf(w, "no flows on %s match\n", dpid)
				return
			}
			fmt.Fprintln(w, "TABLE\tPRIORITY\tOWNER\tPACKETS\tBYTES\tAGE\tTIMEOUTS\tMATCH\tACTIONS")
			for _, f := range flows {
				fmt.Fprintf(w, "%d\t%d\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", f.Table, f.Priority, ownerName(f), f.Packets, f.Bytes,
					age(time.Duration(f.DurationS*float64(time.Second))), timeouts(f.IdleTimeout, f.HardTimeout), orStar(f.Match), f.Actions)
			}
		})
	}
}

func setupFlowAdd(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	id := newOpt(fs, "id", 1<<32-1, "API object `id` put in the flow's cookie (default: the next free one)")
	return func(ctx context.Context, s *session, args []string) error {
		dpid, err := canonicalDPID(args[0])
		if err != nil {
			return err
		}
		f, err := s.cl.AddFlow(ctx, dpid, args[1], id.u32())
		if err != nil {
			return err
		}
		return s.print(f, func(w io.Writer) {
			fmt.Fprintf(w, "added flow %s to %s: table=%d,priority=%d", ownerName(f), dpid, f.Table, f.Priority)
			if f.Match != "" {
				fmt.Fprintf(w, ",%s", f.Match)
			}
			fmt.Fprintf(w, ",actions=%s\n", f.Actions)
			for _, warn := range f.Warnings {
				fmt.Fprintf(w, "warning: %s\n", warn)
			}
		})
	}
}

func setupFlowDel(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	query := selectorFlags(fs, "api")
	force := fs.Bool("force", false, "delete flows Satellite keeps converged (owners network, interface, router, secgroup, tunnel, discovery, probe)")
	return func(ctx context.Context, s *session, args []string) error {
		dpid, err := canonicalDPID(args[0])
		if err != nil {
			return err
		}
		q := query()
		after, owned := reconciledOwner(q.Owner)
		if owned && !*force {
			return fmt.Errorf("refusing to delete %s flows without --force: Satellite keeps them converged, so %s; "+
				"to see what differs without deleting anything: satellite audit %s", q.Owner, after, args[0])
		}
		res, err := s.cl.DeleteFlows(ctx, dpid, q)
		if err != nil {
			return err
		}
		return s.print(res, func(w io.Writer) {
			if owned {
				defer fmt.Fprintf(w, "note: %s\n", after)
			}
			what := res.Owner + " flows"
			if res.Network != nil {
				what += fmt.Sprintf(" of network %d", *res.Network)
			}
			if res.ID != nil {
				what += fmt.Sprintf(" with id %d", *res.ID)
			}
			if res.Table != nil {
				what += fmt.Sprintf(" in table %d", *res.Table)
			}
			fmt.Fprintf(w, "deleted %s from %s (%d matched just before the delete)\n", what, dpid, res.Matched)
		})
	}
}

// reconciledOwner says what happens to deleted flows of an owner kind that
// Satellite keeps converged (ok false: none does).
func reconciledOwner(owner string) (after string, ok bool) {
	switch owner {
	case "network", "interface", "router", "secgroup", "tunnel":
		return "the virtual networks' reconciler puts them back at its next pass (vnet.resync, 30s by default; at once with satellite audit --fix), " +
			"journaling a flow-drift and a flow-repair event, and traffic they carry is dropped until then", true
	case "discovery":
		return "LLDP discovery and host tracking stop seeing the switch's packets until the ingress flows are put back (when the switch reconnects; the LLDP one also when a port comes up); satellite audit reports them missing", true
	case "probe":
		return "the tunnel probes stop measuring the switch's paths until their flows are put back (the probes reinstall them); satellite audit reports them missing", true
	}
	return "", false
}

func setupGroups(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, args []string) error {
		dpid, err := canonicalDPID(args[0])
		if err != nil {
			return err
		}
		groups, err := s.cl.Groups(ctx, dpid)
		if err != nil {
			return err
		}
		return s.print(groups, func(w io.Writer) {
			if len(groups) == 0 {
				fmt.Fprintf(w, "no groups on %s\n", dpid)
				return
			}
			fmt.Fprintln(w, "GROUP\tTYPE\tREFS\tPACKETS\tBYTES\tBUCKET\tWEIGHT\tWATCH\tBUCKET_PACKETS\tACTIONS")
			for _, g := range groups {
				head := fmt.Sprintf("%d\t%s\t%d\t%d\t%d", g.ID, g.Type, g.RefCount, g.Packets, g.Bytes)
				if len(g.Buckets) == 0 {
					fmt.Fprintf(w, "%s\t-\t-\t-\t-\t-\n", head)
				}
				for i, b := range g.Buckets {
					if i > 0 {
						head = "\t\t\t\t"
					}
					fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%d\t%s\n", head, i, b.Weight, watch(b), b.Packets, b.Actions)
				}
			}
		})
	}
}

func setupTables(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	all := fs.Bool("all", false, "list every table, also the unused ones")
	return func(ctx context.Context, s *session, args []string) error {
		dpid, err := canonicalDPID(args[0])
		if err != nil {
			return err
		}
		tables, err := s.cl.Tables(ctx, dpid)
		if err != nil {
			return err
		}
		if !*all {
			used := tables[:0:0]
			for _, t := range tables {
				if t.ActiveCount > 0 || t.LookupCount > 0 {
					used = append(used, t)
				}
			}
			tables = used
		}
		return s.print(tables, func(w io.Writer) {
			if len(tables) == 0 {
				fmt.Fprintf(w, "no table of %s has flows or lookups (--all lists every table)\n", dpid)
				return
			}
			fmt.Fprintln(w, "TABLE\tACTIVE\tLOOKUPS\tMATCHED")
			for _, t := range tables {
				fmt.Fprintf(w, "%d\t%d\t%d\t%d\n", t.Table, t.ActiveCount, t.LookupCount, t.MatchedCount)
			}
		})
	}
}

// ---- topology

func setupLinks(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	kind := fs.String("kind", "", "only links of this `kind`: direct or tunnel")
	dpidFlag := fs.String("dpid", "", "only links from or to this switch (`DPID`)")
	return func(ctx context.Context, s *session, _ []string) error {
		q := client.LinkQuery{Kind: *kind}
		if *dpidFlag != "" {
			d, err := canonicalDPID(*dpidFlag)
			if err != nil {
				return err
			}
			q.DPID = d
		}
		links, err := s.cl.Links(ctx, q)
		if err != nil {
			return err
		}
		return s.print(links, func(w io.Writer) {
			if len(links) == 0 {
				if q != (client.LinkQuery{}) {
					fmt.Fprintln(w, "no links match")
				} else {
					fmt.Fprintln(w, "no links discovered")
				}
				return
			}
			fmt.Fprintln(w, "SRC\tDST\tKIND\tSTATE\tLATENCY\tUNIDIR")
			for _, l := range links {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", linkEnd(l.Src), linkEnd(l.Dst), l.Kind, l.State, latency(l.LatencyMs), yesNo(l.Unidirectional))
			}
		})
	}
}

func setupHosts(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	dpidFlag := fs.String("dpid", "", "only hosts attached to this switch (`DPID`)")
	mac := fs.String("mac", "", "only the host with this `MAC` address")
	return func(ctx context.Context, s *session, _ []string) error {
		q := client.HostQuery{MAC: *mac}
		if *dpidFlag != "" {
			d, err := canonicalDPID(*dpidFlag)
			if err != nil {
				return err
			}
			q.DPID = d
		}
		hosts, err := s.cl.Hosts(ctx, q)
		if err != nil {
			return err
		}
		return s.print(hosts, func(w io.Writer) {
			if len(hosts) == 0 {
				if q != (client.HostQuery{}) {
					fmt.Fprintln(w, "no hosts match")
				} else {
					fmt.Fprintln(w, "no hosts seen")
				}
				return
			}
			fmt.Fprintln(w, "MAC\tIPS\tDPID\tPORT\tFIRST_SEEN\tLAST_SEEN")
			for _, h := range hosts {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s ago\t%s ago\n", h.MAC, orDash(strings.Join(h.IPs, ",")), h.DPID,
					withName(strconv.FormatUint(uint64(h.Port), 10), h.PortName), age(time.Since(h.FirstSeen)), age(time.Since(h.LastSeen)))
			}
		})
	}
}

func setupEvents(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	kind := fs.String("kind", "", "only events of these `kinds`, comma separated (link-down, link-up, switch-disconnect, port-modify, host-move, tunnel-path-down, alert-firing, lldp-forged, ...)")
	since := fs.String("since", "1h", "events since this `time`: a duration back from now (1h, 30m) or an RFC 3339 time")
	until := fs.String("until", "", "events before this `time` (a duration back from now or an RFC 3339 time)")
	sw := fs.String("switch", "", "only events of these `switches` (datapath ids or names, comma separated)")
	limit := fs.Int("limit", 0, "only the newest `N` events")
	return func(ctx context.Context, s *session, _ []string) error {
		split := func(v string) []string {
			if v == "" {
				return nil
			}
			return strings.Split(v, ",")
		}
		events, err := s.cl.Events(ctx, client.EventQuery{Since: *since, Until: *until, Kinds: split(*kind), Switches: split(*sw), Limit: *limit})
		var apiErr *client.APIError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusServiceUnavailable && strings.Contains(apiErr.Message, "journal") {
			return topologyEvents(ctx, s, *kind) // a server without the journal: the events it keeps in memory
		}
		if err != nil {
			return err
		}
		return s.print(events, func(w io.Writer) {
			if len(events) == 0 {
				fmt.Fprintln(w, "no events")
				return
			}
			fmt.Fprintln(w, "TIME\tSEVERITY\tKIND\tAT\tMESSAGE")
			for _, e := range events {
				at := "-"
				switch {
				case e.Port == topology.LocalPort:
					at = e.DPID.String() + "/LOCAL"
				case e.Port != 0:
					at = topology.Endpoint{DPID: e.DPID, Port: e.Port}.String()
				case e.DPID != 0:
					at = e.DPID.String()
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format(time.RFC3339), e.Severity, e.Kind, at, e.Message)
			}
		})
	}
}

// topologyEvents lists the events a server without the journal keeps in
// memory (host moves, security and tunnel events).
func topologyEvents(ctx context.Context, s *session, kind string) error {
	events, err := s.cl.TopologyEvents(ctx, kind)
	if err != nil {
		return err
	}
	return s.print(events, func(w io.Writer) {
		if len(events) == 0 {
			fmt.Fprintln(w, "no events")
			return
		}
		fmt.Fprintln(w, "TIME\tKIND\tAT\tMESSAGE")
		for _, e := range events {
			at := "-"
			if e.DPID != 0 || e.Port != 0 {
				at = topology.Endpoint{DPID: e.DPID, Port: e.Port}.String()
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Time.Local().Format(time.RFC3339), e.Kind, at, e.Message)
		}
	})
}

func setupDiscovery(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, _ []string) error {
		d, err := s.cl.Discovery(ctx)
		if err != nil {
			return err
		}
		return s.print(d, func(w io.Writer) {
			c := d.Counters
			fmt.Fprintf(w, "interval:\t%s (each live port is probed once per interval)\n", seconds(d.IntervalS))
			fmt.Fprintf(w, "misses:\t%d (a link is removed after %d intervals without a probe)\n", d.Misses, d.Misses)
			fmt.Fprintf(w, "max age:\t%s (older signed probes are stale; a probe received twice is a replay at any age)\n", seconds(d.MaxAgeS))
			fmt.Fprintf(w, "ttl:\t%s\n", seconds(d.TTLS))
			fmt.Fprintf(w, "system name:\t%s\n", orDash(d.SystemName))
			fmt.Fprintf(w, "security events:\tat most one per port and kind every %s\n", seconds(d.SecurityEventEveryS))
			fmt.Fprintf(w, "probes sent:\t%d (%d send errors)\n", c.ProbesSent, c.SendErrors)
			fmt.Fprintf(w, "received:\t%d\n", c.Received)
			fmt.Fprintf(w, "accepted:\t%d\n", c.Accepted)
			fmt.Fprintf(w, "rejected:\t%d unsigned, %d bad signature, %d replayed, %d stale, %d future, %d malformed\n",
				c.Unsigned, c.BadSignature, c.Replayed, c.Stale, c.Future, c.Malformed)
			fmt.Fprintf(w, "unknown source:\t%d (valid probes from or to a port the topology does not know)\n", c.UnknownSource)
			fmt.Fprintf(w, "held removals:\t%d (silent links kept: every other link of their switch was silent too, or this host was overloaded)\n", c.HeldRemovals)
			if d.Degraded != "" {
				fmt.Fprintf(w, "degraded:\t%s\n", d.Degraded)
			}
		})
	}
}

func setupTopologyExport(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	file := fs.String("f", "", "write the snapshot to `FILE` instead of stdout")
	at := fs.String("at", "", "the topology as it was at this `time` (rebuilt from the journal: an RFC 3339 time or a duration back, such as 1h)")
	return func(ctx context.Context, s *session, _ []string) error {
		snap, err := loadSnapshot(ctx, s.cl, "live")
		if *at != "" {
			snap, err = s.cl.TopologyAt(ctx, *at)
		}
		if err != nil {
			return err
		}
		if *file == "" {
			return topology.WriteSnapshot(s.out, snap)
		}
		var b bytes.Buffer
		if err := topology.WriteSnapshot(&b, snap); err != nil {
			return err
		}
		if err := os.WriteFile(*file, b.Bytes(), 0o644); err != nil {
			return err
		}
		_, err = fmt.Fprintf(s.out, "exported version %d (%s) to %s\n", snap.Version, snapshotCounts(len(snap.Switches), len(snap.Ports), len(snap.Links), len(snap.Hosts)), *file)
		return err
	}
}

func setupTopologyShow(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	at := fs.String("at", "", "as it was at this `time` (an RFC 3339 time or a duration back, such as 1h)")
	return func(ctx context.Context, s *session, _ []string) error {
		arg := "live"
		if *at != "" {
			arg = "@" + *at
		}
		snap, err := loadSnapshot(ctx, s.cl, arg)
		if err != nil {
			return err
		}
		return s.print(snap, func(w io.Writer) {
			when := fmt.Sprintf("version %d", snap.Version)
			if *at != "" {
				when = "at " + snap.Taken.Local().Format(time.RFC3339)
			}
			fmt.Fprintf(w, "topology %s: %s\n", when, snapshotCounts(len(snap.Switches), len(snap.Ports), len(snap.Links), len(snap.Hosts)))
			names := map[topology.Endpoint]string{}
			for _, p := range snap.Ports {
				names[p.Key()] = p.Name
			}
			end := func(e topology.Endpoint) string {
				if n := names[e]; n != "" {
					return e.String() + " (" + n + ")"
				}
				return e.String()
			}
			fmt.Fprintln(w, "SWITCH\tCONNECTED\tREMOTE")
			for _, sw := range snap.Switches {
				fmt.Fprintf(w, "%s\t%s\t%s\n", sw.DPID, sw.Since.Local().Format(time.RFC3339), orDash(sw.Remote))
			}
			if len(snap.Links) > 0 {
				fmt.Fprintln(w, "SRC\tDST\tKIND\tSTATE\tSINCE")
			}
			for _, l := range snap.Links {
				since := l.FirstSeen
				if l.DownSince != nil {
					since = *l.DownSince
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", end(l.Src), end(l.Dst), l.Kind, l.State, since.Local().Format(time.RFC3339))
			}
		})
	}
}

// readSnapshotFile reads a snapshot file strictly.
func readSnapshotFile(path string) (topology.Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return topology.Snapshot{}, err
	}
	defer f.Close()
	snap, err := topology.ReadSnapshot(f)
	if err != nil {
		return snap, fmt.Errorf("%s: %w", path, err)
	}
	return snap, nil
}

func setupTopologyImport(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, args []string) error {
		snap, err := readSnapshotFile(args[0])
		if err != nil {
			return err
		}
		info, err := s.cl.ImportSnapshot(ctx, snap)
		if err != nil {
			return err
		}
		return s.print(info, func(w io.Writer) { fmt.Fprintln(w, info.ID) })
	}
}

func setupTopologyList(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, _ []string) error {
		list, err := s.cl.Snapshots(ctx)
		if err != nil {
			return err
		}
		return s.print(list, func(w io.Writer) {
			if len(list) == 0 {
				fmt.Fprintln(w, "no snapshots stored (satellite topology import FILE stores one)")
				return
			}
			fmt.Fprintln(w, "ID\tVERSION\tTAKEN\tSTORED\tSWITCHES\tPORTS\tLINKS\tHOSTS")
			for _, i := range list {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s ago\t%d\t%d\t%d\t%d\n", i.ID, i.Version, i.Taken.Local().Format(time.RFC3339),
					age(time.Since(i.Stored)), i.Switches, i.Ports, i.Links, i.Hosts)
			}
		})
	}
}

// snapshotID matches the ids of snapshots stored on the server.
var snapshotID = regexp.MustCompile(`^s[0-9]+$`)

// isServerSnapshot says whether a diff argument names a snapshot on the
// server (live or a stored id) rather than a file. A file named like an id
// is given as ./s1.
func isServerSnapshot(arg string) bool { return arg == "live" || snapshotID.MatchString(arg) }

func setupTopologyDiff(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	from := fs.String("from", "", "compare the topology at this `time` (rebuilt from the journal: an RFC 3339 time or a duration back, such as 1h) instead of A")
	to := fs.String("to", "", "with --from: to the topology at this `time` (default live)")
	return func(ctx context.Context, s *session, args []string) error {
		var a, b string
		switch {
		case *from != "" && len(args) > 0:
			return errors.New("topology diff: give A [B] or --from T1 [--to T2], not both")
		case *from != "":
			a, b = "@"+*from, "live"
			if *to != "" {
				b = "@" + *to
			}
		case *to != "":
			return errors.New("topology diff: --to needs --from")
		default:
			a, b = args[0], "live"
			if len(args) > 1 {
				b = args[1]
			}
		}
		var d topology.Diff
		if isServerSnapshot(a) && isServerSnapshot(b) {
			var err error
			if d, err = s.cl.TopologyDiff(ctx, a, b); err != nil {
				return err
			}
		} else {
			from, err := loadSnapshot(ctx, s.cl, a)
			if err != nil {
				return err
			}
			to, err := loadSnapshot(ctx, s.cl, b)
			if err != nil {
				return err
			}
			d = topology.Compare(from, to)
		}
		return s.print(d, func(w io.Writer) {
			lines := diffLines(d)
			if len(lines) == 0 {
				fmt.Fprintln(w, "no differences")
				return
			}
			for _, l := range lines {
				fmt.Fprintln(w, l)
			}
		})
	}
}

// loadSnapshot reads a diff argument: a file, live or a stored id.
func loadSnapshot(ctx context.Context, cl *client.Client, arg string) (topology.Snapshot, error) {
	switch {
	case arg == "live":
		return cl.Topology(ctx)
	case strings.HasPrefix(arg, "@"): // a time: rebuilt from the journal
		return cl.TopologyAt(ctx, arg[1:])
	case snapshotID.MatchString(arg):
		return cl.Snapshot(ctx, arg)
	default:
		return readSnapshotFile(arg)
	}
}

// diffLines renders a diff for people: "+ " added, "- " removed, "~ "
// changed, switches, ports, links then hosts.
func diffLines(d topology.Diff) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for _, sw := range d.Switches.Added {
		add("+ switch %s%s", sw.DPID, switchDesc(sw))
	}
	for _, sw := range d.Switches.Removed {
		add("- switch %s%s", sw.DPID, switchDesc(sw))
	}
	for _, c := range d.Switches.Changed {
		var ch []string
		if c.Before.Connected != c.After.Connected {
			ch = append(ch, connected(c.Before.Connected)+" -> "+connected(c.After.Connected))
		}
		ch = changed(ch, "manufacturer", c.Before.Manufacturer, c.After.Manufacturer)
		ch = changed(ch, "software", c.Before.Software, c.After.Software)
		add("~ switch %s: %s", c.After.DPID, strings.Join(ch, ", "))
	}
	for _, p := range d.Ports.Added {
		add("+ port %s (%s, %s)", portDesc(p), p.Kind, upDown(p.Up))
	}
	for _, p := range d.Ports.Removed {
		add("- port %s", portDesc(p))
	}
	for _, c := range d.Ports.Changed {
		x, y := c.Before, c.After
		var ch []string
		if x.Up != y.Up {
			ch = append(ch, upDown(x.Up)+" -> "+upDown(y.Up))
		}
		if x.Live != y.Live {
			ch = append(ch, live(x.Live)+" -> "+live(y.Live))
		}
		ch = changed(ch, "kind", x.Kind, y.Kind)
		ch = changed(ch, "name", x.Name, y.Name)
		ch = changed(ch, "hw_addr", x.HWAddr, y.HWAddr)
		ch = changed(ch, "speed", speed(x.SpeedKbps), speed(y.SpeedKbps))
		ch = changed(ch, "tunnel", yesNo(x.Tunnel), yesNo(y.Tunnel))
		add("~ port %s: %s", portDesc(y), strings.Join(ch, ", "))
	}
	for _, l := range d.Links.Added {
		add("+ link %s -> %s %s%s", l.Src, l.Dst, l.Kind, unidir(l.Unidirectional))
	}
	for _, l := range d.Links.Removed {
		add("- link %s -> %s %s", l.Src, l.Dst, l.Kind)
	}
	for _, c := range d.Links.Changed {
		x, y := c.Before, c.After
		var ch []string
		ch = changed(ch, "kind", x.Kind, y.Kind)
		ch = changed(ch, "state", x.State, y.State)
		if x.Unidirectional != y.Unidirectional {
			ch = append(ch, direction(x.Unidirectional)+" -> "+direction(y.Unidirectional))
		}
		add("~ link %s -> %s: %s", y.Src, y.Dst, strings.Join(ch, ", "))
	}
	for _, h := range d.Hosts.Added {
		add("+ host %s at %s%s", h.MAC, topology.Endpoint{DPID: h.DPID, Port: h.Port}, ips(h.IPs))
	}
	for _, h := range d.Hosts.Removed {
		add("- host %s at %s%s", h.MAC, topology.Endpoint{DPID: h.DPID, Port: h.Port}, ips(h.IPs))
	}
	for _, c := range d.Hosts.Changed {
		x, y := c.Before, c.After
		var ch []string
		if x.DPID != y.DPID || x.Port != y.Port {
			ch = append(ch, fmt.Sprintf("moved %s -> %s", topology.Endpoint{DPID: x.DPID, Port: x.Port}, topology.Endpoint{DPID: y.DPID, Port: y.Port}))
		}
		ch = changed(ch, "ips", orDash(strings.Join(x.IPs, ",")), orDash(strings.Join(y.IPs, ",")))
		add("~ host %s: %s", y.MAC, strings.Join(ch, ", "))
	}
	return out
}

func changed(ch []string, what, before, after string) []string {
	if before == after {
		return ch
	}
	return append(ch, fmt.Sprintf("%s %s -> %s", what, orDash(before), orDash(after)))
}

func switchDesc(sw topology.Switch) string {
	desc := strings.TrimSpace(sw.Manufacturer + " " + sw.Software)
	if desc == "" {
		return ""
	}
	return " (" + desc + ")"
}

func portDesc(p topology.Port) string {
	return withName(p.Key().String(), p.Name)
}

func connected(c bool) string {
	if c {
		return "connected"
	}
	return "disconnected"
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func live(l bool) string {
	if l {
		return "live"
	}
	return "not live"
}

func direction(unidirectional bool) string {
	if unidirectional {
		return "unidirectional"
	}
	return "bidirectional"
}

func unidir(u bool) string {
	if u {
		return " (unidirectional)"
	}
	return ""
}

func ips(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return " (" + strings.Join(list, ", ") + ")"
}

func snapshotCounts(switches, ports, links, hosts int) string {
	return fmt.Sprintf("%d switches, %d ports, %d links, %d hosts", switches, ports, links, hosts)
}

// linkEnd renders a link end as DPID/PORT (NAME).
func linkEnd(e api.LinkEnd) string {
	return withName(fmt.Sprintf("%s/%d", e.DPID, e.Port), e.Name)
}

func withName(s, name string) string {
	if name == "" {
		return s
	}
	return s + " (" + name + ")"
}

// latency renders milliseconds without trailing zeros: 0.4ms, 12.345ms.
func latency(ms float64) string {
	return strconv.FormatFloat(ms, 'f', -1, 64) + "ms"
}

// seconds renders a number of seconds as a duration: 1s, 2m0s, 500ms.
func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// formatting helpers

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orStar(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

func portName(no uint32, reserved string) string {
	if reserved != "" {
		return strings.ToUpper(reserved)
	}
	return strconv.FormatUint(uint64(no), 10)
}

func count(v *uint64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatUint(*v, 10)
}

func speed(kbps uint32) string {
	switch {
	case kbps == 0:
		return "-"
	case kbps%1_000_000 == 0:
		return fmt.Sprintf("%dG", kbps/1_000_000)
	case kbps%1000 == 0:
		return fmt.Sprintf("%dM", kbps/1000)
	default:
		return fmt.Sprintf("%dk", kbps)
	}
}

func timeouts(idle, hard uint16) string {
	if idle == 0 && hard == 0 {
		return "-"
	}
	return fmt.Sprintf("idle %d, hard %d", idle, hard)
}

func watch(b api.Bucket) string {
	var parts []string
	if b.WatchPort != nil {
		parts = append(parts, "port "+portName(*b.WatchPort, reservedName(*b.WatchPort)))
	}
	if b.WatchGroup != nil {
		parts = append(parts, fmt.Sprintf("group %d", *b.WatchGroup))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func reservedName(p uint32) string {
	if p == 0xfffffffe {
		return "local"
	}
	return ""
}

// ownerName renders a flow's owner the way cookies print ("api:7",
// "network:3@net:5", "foreign:0x42").
func ownerName(f api.Flow) string {
	c, err := strconv.ParseUint(strings.TrimPrefix(f.Cookie, "0x"), 16, 64)
	if err != nil {
		return f.Owner.Kind
	}
	return controller.Cookie(c).String()
}

// age renders a duration briefly: 45s, 3m12s, 5h3m, 2d4h.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}
