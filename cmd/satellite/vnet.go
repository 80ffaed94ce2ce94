package main

// Virtual network commands: datapaths, networks, interfaces, routers,
// security groups, trunks, leases, the reconciliation status and compiled
// flows, and the declarative apply/export of the whole configuration.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/api"

	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/vnet"
	"github.com/satellite-sdn/satellite/web/client"
)

// yamlOutput are the commands whose -o also takes yaml.
var yamlOutput = map[string]bool{"export": true}

// addVNetCommands adds the virtual-network commands to the command table.
func addVNetCommands(clientCommands map[string]clientCommand, commandGroups map[string]string) {
	add := func(name string, c clientCommand) { clientCommands[name] = c }
	for _, k := range []kindCommands{datapathCLI, networkCLI, interfaceCLI, routerCLI, groupCLI} {
		k.register(add)
		commandGroups[k.name] = k.usage
	}
	add("network auto", clientCommand{"", 0, 0, `make sure the ready network "default" exists (first free 10.N.0.0/24, gateway .1, DHCP) with its router "default-router"`, setupNetworkAuto})
	add("router interface", clientCommand{"add|del|list ROUTER [NETWORK[=IP]]", 2, 1, "add, remove or list a router's interfaces (one per network; IP default: the network's gateway)", setupRouterInterface})
	add("router route", clientCommand{"add|del|list ROUTER [DEST [via] NEXTHOP]", 2, 3, "add, remove or list a router's static routes", setupRouterRoute})
	add("secgroup rule", clientCommand{"add|del|list GROUP [N]", 2, 1, "add, remove (by number) or list a security group's rules", setupRule})
	add("leases", clientCommand{"[list]", 0, 1, "DHCP leases: every address's state (offered, bound, grace, expired, released, declined) and expiry", setupLeases})
	add("trunks", clientCommand{"[list]", 0, 1, "ports that carry networks tagged with VLAN ids", setupTrunks})
	add("vnet status", clientCommand{"", 0, 0, "reconciliation state of every datapath, and why parts of the configuration are not realised", setupVNetStatus})
	add("vnet flows", clientCommand{"DPID|NAME", 1, 0, "the flows and groups the virtual networks want on a datapath (compiled now)", setupVNetFlows})
	add("vnet", clientCommand{"status|flows ...", -1, 0, "virtual network status and compiled flows", nil})
	commandGroups["vnet"] = "Usage: satellite vnet status\n       satellite vnet flows DPID|NAME\n"
	add("apply", clientCommand{"-f FILE", 0, 0, "replace the whole virtual network configuration with FILE (YAML or JSON; - is stdin); applying what is in effect changes nothing", setupApply})
	add("export", clientCommand{"", 0, 0, "write the whole virtual network configuration (-o yaml, the default, or json)", setupExport})
}

// ---- flags

// listFlag is a repeatable flag of values, also comma separated. Given at
// all, it replaces the whole list; given as ” it clears it.
type listFlag struct {
	v   []string
	set bool
}

func (l *listFlag) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(l.v, ",")
}

func (l *listFlag) Set(s string) error {
	if !l.set {
		l.v = []string{}
	}
	l.set = true
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			l.v = append(l.v, p)
		}
	}
	return nil
}

func newList(fs *flag.FlagSet, name, usage string) *listFlag {
	l := &listFlag{}
	fs.Var(l, name, usage)
	return l
}

// given returns the flags given on the command line.
func given(fs *flag.FlagSet) map[string]bool {
	out := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { out[f.Name] = true })
	return out
}

// objectFlags defines a kind's flags and returns the function that sets
// the fields of the flags that were given.
type objectFlags[T any] func(fs *flag.FlagSet) func(v *T, set map[string]bool) error

// commonFlags are the flags every client command has.
var commonFlags = map[string]bool{"server": true, "o": true}

// ---- commands of one kind

type kindCommands struct {
	name     string // "network"
	plural   string // "networks"
	usage    string
	register func(add func(string, clientCommand))
}

// cliKind is one kind of object on the command line.
type cliKind[T any] struct {
	name, plural string
	flags        objectFlags[T]
	setName      func(*T, string)
	// the client's methods, as method expressions
	list   func(cl *client.Client, ctx context.Context) ([]T, error)
	get    func(cl *client.Client, ctx context.Context, name string) (T, error)
	create func(cl *client.Client, ctx context.Context, v T) (T, error)
	update func(cl *client.Client, ctx context.Context, name string, v T) (T, error)
	del    func(cl *client.Client, ctx context.Context, name string) (T, error)
	// table writes the list; show writes one object. Both may ask the
	// server for more (s.cl) to say what uses the object.
	table   func(ctx context.Context, s *session, items []T) func(w io.Writer)
	show    func(ctx context.Context, s *session, v T) func(w io.Writer)
	summary func(v T) string // "(id 1, 10.1.0.0/24)"
	example string           // create flags, for usage
}

func (k *cliKind[T]) commands() kindCommands {
	usage := fmt.Sprintf("Usage: satellite %[1]s list                (also: satellite %[2]s)\n"+
		"       satellite %[1]s show NAME\n"+
		"       satellite %[1]s create NAME %[3]s\n"+
		"       satellite %[1]s update NAME [flags]   (only the flags given change)\n"+
		"       satellite %[1]s delete NAME\n", k.name, k.plural, k.example)
	switch k.name {
	case "network":
		usage += "       satellite network auto [--dns IP]...\n"
	case "router":
		usage += "       satellite router interface add|del|list ROUTER [NETWORK[=IP]]\n" +
			"       satellite router route add|del|list ROUTER [DEST via NEXTHOP]\n"
	case "secgroup":
		usage += "       satellite secgroup rule add GROUP --protocol tcp|udp|icmp|any [--port N[-M]] [--remote-cidr CIDR|--remote-group G]\n" +
			"       satellite secgroup rule del|list GROUP [N]\n"
	}
	return kindCommands{name: k.name, plural: k.plural, usage: usage, register: func(add func(string, clientCommand)) {
		add(k.plural, clientCommand{"[list]", 0, 1, k.plural + " of the virtual networks", k.setupList})
		add(k.name+" list", clientCommand{"", 0, 0, k.plural + " of the virtual networks", k.setupList})
		add(k.name+" show", clientCommand{"NAME", 1, 0, "one " + k.name + " and what uses it", k.setupShow})
		add(k.name+" create", clientCommand{"NAME", 1, 0, "create a " + k.name, k.setupCreate})
		add(k.name+" update", clientCommand{"NAME", 1, 0, "change the fields of a " + k.name + " given as flags", k.setupUpdate})
		add(k.name+" delete", clientCommand{"NAME", 1, 0, "delete a " + k.name + " (refused while something uses it)", k.setupDelete})
		add(k.name+" del", clientCommand{"NAME", 1, 0, "delete a " + k.name + " (refused while something uses it)", k.setupDelete})
		add(k.name, clientCommand{"list|show|create|update|delete ...", -1, 0, k.plural, nil})
	}}
}

func (k *cliKind[T]) setupList(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, args []string) error {
		if len(args) > 0 && args[0] != "list" {
			return fmt.Errorf("%q: want list or nothing (see satellite %s -h)", args[0], k.name)
		}
		items, err := k.list(s.cl, ctx)
		if err != nil {
			return err
		}
		return s.print(items, func(w io.Writer) {
			if len(items) == 0 {
				fmt.Fprintf(w, "no %s (satellite %s create NAME ... makes one)\n", k.plural, k.name)
				return
			}
			k.table(ctx, s, items)(w)
		})
	}
}

func (k *cliKind[T]) setupShow(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	var traffic *bool
	if k.name == "network" {
		traffic = fs.Bool("traffic", false, "the network on its own with its traffic: interfaces, switches, flows, tunnels (insights.go)")
	}
	return func(ctx context.Context, s *session, args []string) error {
		if traffic != nil && *traffic {
			return networkTraffic(ctx, s, args[0])
		}
		v, err := k.get(s.cl, ctx, args[0])
		if err != nil {
			return err
		}
		return s.print(v, k.show(ctx, s, v))
	}
}

func (k *cliKind[T]) setupCreate(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	apply := k.flags(fs)
	return func(ctx context.Context, s *session, args []string) error {
		var v T
		k.setName(&v, args[0])
		if err := apply(&v, given(fs)); err != nil {
			return err
		}
		out, err := k.create(s.cl, ctx, v)
		if err != nil {
			return err
		}
		return s.print(out, func(w io.Writer) { fmt.Fprintf(w, "created %s %s %s\n", k.name, args[0], k.summary(out)) })
	}
}

func (k *cliKind[T]) setupUpdate(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	apply := k.flags(fs)
	return func(ctx context.Context, s *session, args []string) error {
		set := given(fs)
		changes := 0
		for name := range set {
			if !commonFlags[name] {
				changes++
			}
		}
		if changes == 0 {
			return fmt.Errorf("nothing to change: give the fields to change as flags (satellite %s update -h)", k.name)
		}
		v, err := k.get(s.cl, ctx, args[0])
		if err != nil {
			return err
		}
		if err := apply(&v, set); err != nil {
			return err
		}
		out, err := k.update(s.cl, ctx, args[0], v)
		if err != nil {
			return err
		}
		return s.print(out, func(w io.Writer) { fmt.Fprintf(w, "updated %s %s %s\n", k.name, args[0], k.summary(out)) })
	}
}

func (k *cliKind[T]) setupDelete(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, args []string) error {
		out, err := k.del(s.cl, ctx, args[0])
		if err != nil {
			return err
		}
		return s.print(out, func(w io.Writer) { fmt.Fprintf(w, "deleted %s %s\n", k.name, args[0]) })
	}
}

// ---- datapaths

var datapathCLI = (&cliKind[vnet.Datapath]{
	name: "datapath", plural: "datapaths",
	example: "--dpid DPID [--segment S] [--tunnel-ip IP]...",
	flags: func(fs *flag.FlagSet) func(*vnet.Datapath, map[string]bool) error {
		dpid := fs.String("dpid", "", "the switch's datapath `id` (1-16 hex digits)")
		segment := fs.String("segment", "", "underlay `segment`: directly linked datapaths of one segment exchange traffic without tunnels")
		tips := newList(fs, "tunnel-ip", "tunnel endpoint `address` (repeatable; '' clears)")
		return func(d *vnet.Datapath, set map[string]bool) error {
			if set["dpid"] {
				d.DPID = *dpid
			}
			if set["segment"] {
				d.Segment = *segment
			}
			if tips.set {
				d.TunnelIPs = tips.v
			}
			return nil
		}
	},
	setName: func(d *vnet.Datapath, n string) { d.Name = n },
	list:    (*client.Client).Datapaths, get: (*client.Client).Datapath, create: (*client.Client).CreateDatapath,
	update: (*client.Client).UpdateDatapath, del: (*client.Client).DeleteDatapath,
	summary: func(d vnet.Datapath) string { return "(" + d.DPID + ")" },
	table: func(ctx context.Context, s *session, items []vnet.Datapath) func(io.Writer) {
		st, _ := s.cl.VNetStatus(ctx)
		connected := map[string]bool{}
		for _, d := range st.Datapaths {
			connected[d.Name] = d.Connected
		}
		return func(w io.Writer) {
			fmt.Fprintln(w, "NAME\tDPID\tSEGMENT\tTUNNEL_IPS\tCONNECTED")
			for _, d := range items {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", d.Name, d.DPID, orDash(d.Segment), orDash(strings.Join(d.TunnelIPs, ",")), yesNo(connected[d.Name]))
			}
		}
	},
	show: func(ctx context.Context, s *session, d vnet.Datapath) func(io.Writer) {
		st, _ := s.cl.VNetStatus(ctx)
		ifaces, _ := s.cl.Interfaces(ctx)
		return func(w io.Writer) {
			fmt.Fprintf(w, "name:\t%s\n", d.Name)
			fmt.Fprintf(w, "dpid:\t%s\n", d.DPID)
			fmt.Fprintf(w, "segment:\t%s\n", orDash(d.Segment))
			fmt.Fprintf(w, "tunnel ips:\t%s\n", orDash(strings.Join(d.TunnelIPs, ", ")))
			for _, ds := range st.Datapaths {
				if ds.Name == d.Name {
					fmt.Fprintf(w, "connected:\t%s\n", yesNo(ds.Connected))
					fmt.Fprintf(w, "reconciled:\t%s\n", reconciled(ds))
					if ds.Error != "" {
						fmt.Fprintf(w, "error:\t%s\n", ds.Error)
					}
				}
			}
			var names []string
			for _, in := range ifaces {
				if in.Datapath == d.Name {
					names = append(names, in.Name+" ("+in.Port+")")
				}
			}
			fmt.Fprintf(w, "interfaces:\t%s\n", orDash(strings.Join(names, ", ")))
		}
	},
}).commands()

// ---- networks

var networkCLI = (&cliKind[vnet.Network]{
	name: "network", plural: "networks",
	example: "--subnet CIDR [--gateway IP] [--dhcp] [--dns IP]...",
	flags: func(fs *flag.FlagSet) func(*vnet.Network, map[string]bool) error {
		id := newOpt(fs, "id", vnet.MaxNetworkID, "network `id` (the GRE key and the cookies' network; default: the smallest free one)")
		subnet := fs.String("subnet", "", "IPv4 subnet (`CIDR`, such as 10.1.0.0/24)")
		gateway := fs.String("gateway", "", "gateway `address` (a router interface takes it by default)")
		dns := newList(fs, "dns", "DNS server `address` that DHCP advertises (repeatable; '' clears)")
		dhcp := fs.Bool("dhcp", false, "answer DHCP in the network (--dhcp=false: off)")
		start := fs.String("dhcp-start", "", "first `address` DHCP leases (default: the middle of the subnet)")
		end := fs.String("dhcp-end", "", "last `address` DHCP leases (default: the one before the broadcast address)")
		lease := newOpt(fs, "lease-seconds", 1<<32-1, "DHCP lease `time` in seconds (default 3600)")
		kind := fs.String("kind", "", "`external` for a network outside (reached through --datapath's --port; routers join it with a gateway interface); '' for a tenant network")
		dp := fs.String("datapath", "", "an external network's gateway `datapath`")
		port := fs.String("port", "", "the `port` of the gateway datapath that leads outside")
		return func(n *vnet.Network, set map[string]bool) error {
			if set["kind"] {
				n.Kind = *kind
			}
			if set["datapath"] {
				n.Datapath = *dp
			}
			if set["port"] {
				n.Port = *port
			}
			if id.set {
				n.ID = uint32(id.v)
			}
			if set["subnet"] {
				n.Subnet = *subnet
			}
			if set["gateway"] {
				n.Gateway = *gateway
			}
			if dns.set {
				n.DNS = dns.v
			}
			if set["dhcp"] {
				n.DHCP = *dhcp
			}
			if set["dhcp-start"] {
				n.DHCPStart = *start
			}
			if set["dhcp-end"] {
				n.DHCPEnd = *end
			}
			if lease.set {
				n.LeaseSeconds = uint32(lease.v)
			}
			return nil
		}
	},
	setName: func(n *vnet.Network, name string) { n.Name = name },
	list:    (*client.Client).Networks, get: (*client.Client).Network, create: (*client.Client).CreateNetwork,
	update: (*client.Client).UpdateNetwork, del: (*client.Client).DeleteNetwork,
	summary: func(n vnet.Network) string { return fmt.Sprintf("(id %d, %s)", n.ID, n.Subnet) },
	table: func(_ context.Context, _ *session, items []vnet.Network) func(io.Writer) {
		return func(w io.Writer) {
			fmt.Fprintln(w, "NAME\tID\tSUBNET\tGATEWAY\tDHCP\tDNS\tKIND")
			for _, n := range items {
				kind := "tenant"
				if n.IsExternal() {
					kind = "external (" + n.Datapath + " " + n.Port + ")"
				}
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.ID, n.Subnet, orDash(n.Gateway), dhcpRange(n), orDash(strings.Join(n.DNS, ",")), kind)
			}
		}
	},
	show: func(ctx context.Context, s *session, n vnet.Network) func(io.Writer) {
		ifaces, _ := s.cl.Interfaces(ctx)
		routers, _ := s.cl.Routers(ctx)
		leases, _ := s.cl.Leases(ctx, n.Name)
		return func(w io.Writer) {
			fmt.Fprintf(w, "name:\t%s\n", n.Name)
			fmt.Fprintf(w, "id:\t%d\n", n.ID)
			fmt.Fprintf(w, "subnet:\t%s\n", n.Subnet)
			fmt.Fprintf(w, "gateway:\t%s\n", orDash(n.Gateway))
			if n.IsExternal() {
				fmt.Fprintf(w, "kind:\texternal, through port %s of %s\n", n.Port, n.Datapath)
			}
			fmt.Fprintf(w, "dhcp:\t%s\n", dhcpRange(n))
			if n.DHCP {
				fmt.Fprintf(w, "lease time:\t%s\n", time.Duration(n.LeaseSeconds)*time.Second)
			}
			fmt.Fprintf(w, "dns:\t%s\n", orDash(strings.Join(n.DNS, ", ")))
			var names []string
			for _, in := range ifaces {
				if in.Network == n.Name {
					names = append(names, in.Name)
				}
			}
			fmt.Fprintf(w, "interfaces:\t%s\n", orDash(strings.Join(names, ", ")))
			names = nil
			for _, r := range routers {
				for _, ri := range r.Interfaces {
					if ri.Network == n.Name {
						names = append(names, r.Name+" ("+ri.IP+")")
					}
				}
			}
			fmt.Fprintf(w, "routers:\t%s\n", orDash(strings.Join(names, ", ")))
			fmt.Fprintf(w, "leases:\t%s\n", leaseStates(leases))
		}
	},
}).commands()

func dhcpRange(n vnet.Network) string {
	if !n.DHCP {
		return "off"
	}
	return n.DHCPStart + "-" + n.DHCPEnd
}

func setupNetworkAuto(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	dns := newList(fs, "dns", "DNS server `address` DHCP advertises when the network is created (repeatable; default none: nothing in a virtual network answers DNS)")
	return func(ctx context.Context, s *session, _ []string) error {
		res, err := s.cl.AutoNetwork(ctx, dns.v)
		if err != nil {
			return err
		}
		return s.print(res, func(w io.Writer) {
			what := "using the existing"
			if res.Created {
				what = "created"
			}
			n := res.Network
			fmt.Fprintf(w, "%s network %s: %s, gateway %s, DHCP %s, DNS %s; router %s\n", what, n.Name, n.Subnet, orDash(n.Gateway), dhcpRange(n),
				orDash(strings.Join(n.DNS, ",")), res.Router.Name)
		})
	}
}

// ---- interfaces

var interfaceCLI = (&cliKind[vnet.Interface]{
	name: "interface", plural: "interfaces",
	example: "--network NET --datapath DP --port PORT [--mac MAC] [--ip IP] [--vlan N] [--secgroup G]...",
	flags: func(fs *flag.FlagSet) func(*vnet.Interface, map[string]bool) error {
		id := newOpt(fs, "id", 1<<32-1, "interface `id` (default: the smallest free one)")
		network := fs.String("network", "", "the `network` the interface is in")
		mode := fs.String("mode", "", "`mode`: vif (a switch port, the default) or simulated (an address the controller answers for)")
		datapath := fs.String("datapath", "", "the `datapath` of the port (vif)")
		port := fs.String("port", "", "the switch port `name` (vif), such as vm1")
		portNo := newOpt(fs, "port-no", 1<<32-1, "the switch port by OpenFlow `number` instead of by name")
		vlan := newOpt(fs, "vlan", 4094, "carry the network tagged with this VLAN `id` on the port (a trunk; 0: untagged)")
		mac := fs.String("mac", "", "the interface's `MAC` (default: generated)")
		ip := fs.String("ip", "", "static `address` (default: leased through DHCP)")
		groups := newList(fs, "secgroup", "security `group` (repeatable; '' clears)")
		return func(in *vnet.Interface, set map[string]bool) error {
			if id.set {
				in.ID = uint32(id.v)
			}
			if set["network"] {
				in.Network = *network
			}
			if set["mode"] {
				in.Mode = *mode
			}
			if set["datapath"] {
				in.Datapath = *datapath
			}
			if set["port"] {
				in.Port = *port
			}
			if portNo.set {
				in.PortNo = uint32(portNo.v)
			}
			if vlan.set {
				in.VLAN = uint16(vlan.v)
			}
			if set["mac"] {
				in.MAC = *mac
			}
			if set["ip"] {
				in.IP = *ip
			}
			if groups.set {
				in.SecurityGroups = groups.v
			}
			return nil
		}
	},
	setName: func(in *vnet.Interface, n string) { in.Name = n },
	list:    (*client.Client).Interfaces, get: (*client.Client).Interface, create: (*client.Client).CreateInterface,
	update: (*client.Client).UpdateInterface, del: (*client.Client).DeleteInterface,
	summary: func(in vnet.Interface) string {
		addr := in.IP
		if addr == "" {
			addr = "dhcp"
		}
		return fmt.Sprintf("(id %d, %s, %s in %s)", in.ID, in.MAC, addr, in.Network)
	},
	table: func(ctx context.Context, s *session, items []vnet.Interface) func(io.Writer) {
		leased := leasedIPs(ctx, s.cl)
		return func(w io.Writer) {
			fmt.Fprintln(w, "NAME\tID\tNETWORK\tDATAPATH\tPORT\tVLAN\tMAC\tIP\tSECGROUPS")
			for _, in := range items {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.Name, in.ID, in.Network, orDash(in.Datapath), where(in), vlanName(in.VLAN),
					in.MAC, address(in, leased), orDash(strings.Join(in.SecurityGroups, ",")))
			}
		}
	},
	show: func(ctx context.Context, s *session, in vnet.Interface) func(io.Writer) {
		leased := leasedIPs(ctx, s.cl)
		return func(w io.Writer) {
			fmt.Fprintf(w, "name:\t%s\n", in.Name)
			fmt.Fprintf(w, "id:\t%d\n", in.ID)
			fmt.Fprintf(w, "network:\t%s\n", in.Network)
			fmt.Fprintf(w, "mode:\t%s\n", in.Mode)
			if in.Mode != vnet.ModeSimulated {
				fmt.Fprintf(w, "datapath:\t%s\n", in.Datapath)
				fmt.Fprintf(w, "port:\t%s\n", in.Port)
				fmt.Fprintf(w, "vlan:\t%s\n", vlanName(in.VLAN))
			}
			fmt.Fprintf(w, "mac:\t%s\n", in.MAC)
			fmt.Fprintf(w, "ip:\t%s\n", address(in, leased))
			fmt.Fprintf(w, "security groups:\t%s\n", orDash(strings.Join(in.SecurityGroups, ", ")))
		}
	},
}).commands()

func where(in vnet.Interface) string {
	if in.Mode == vnet.ModeSimulated {
		return "(simulated)"
	}
	return in.Port
}

func vlanName(v uint16) string {
	if v == 0 {
		return "-"
	}
	return strconv.Itoa(int(v))
}

// leasedIPs maps network/MAC to the address the client has now (empty
// when the server cannot say).
func leasedIPs(ctx context.Context, cl *client.Client) map[string]string {
	out := map[string]string{}
	leases, _ := cl.Leases(ctx, "")
	for _, l := range leases {
		if vnet.LeaseState(l.State).Active() {
			out[l.Network+"/"+l.MAC] = l.IP
		}
	}
	return out
}

// leaseStates counts leases by state: "2 bound, 1 released" ("0" for none).
func leaseStates(leases []api.Lease) string {
	n := map[string]int{}
	for _, l := range leases {
		n[l.State]++
	}
	var parts []string
	for _, st := range []vnet.LeaseState{vnet.LeaseOffered, vnet.LeaseBound, vnet.LeaseGrace, vnet.LeaseExpired, vnet.LeaseReleased, vnet.LeaseDeclined} {
		if n[string(st)] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[string(st)], st))
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, ", ")
}

func address(in vnet.Interface, leased map[string]string) string {
	switch {
	case in.IP != "":
		return in.IP
	case leased[in.Network+"/"+in.MAC] != "":
		return leased[in.Network+"/"+in.MAC] + " (dhcp)"
	default:
		return "dhcp (no address held)"
	}
}

// ---- routers

var routerCLI = (&cliKind[vnet.Router]{
	name: "router", plural: "routers",
	example: "--interface NET[=IP]... [--route DEST=NEXTHOP]...",
	flags: func(fs *flag.FlagSet) func(*vnet.Router, map[string]bool) error {
		id := newOpt(fs, "id", 1<<32-1, "router `id` (default: the smallest free one)")
		ifaces := newList(fs, "interface", "an interface in `NET[=IP]` (IP default: the network's gateway; repeatable; '' clears)")
		routes := newList(fs, "route", "a static route `DEST=NEXTHOP` (such as 10.9.0.0/16=10.1.0.254; repeatable; '' clears)")
		return func(r *vnet.Router, set map[string]bool) error {
			if id.set {
				r.ID = uint32(id.v)
			}
			if ifaces.set {
				old := map[string]vnet.RouterInterface{}
				for _, ri := range r.Interfaces {
					old[ri.Network] = ri
				}
				r.Interfaces = []vnet.RouterInterface{}
				for _, v := range ifaces.v {
					net, ip, _ := strings.Cut(v, "=")
					ri := vnet.RouterInterface{Network: net, IP: ip}
					if o, ok := old[net]; ok && (ip == "" || ip == o.IP) {
						ri = o // unchanged: keeps its MAC
					}
					r.Interfaces = append(r.Interfaces, ri)
				}
			}
			if routes.set {
				r.Routes = []vnet.Route{}
				for _, v := range routes.v {
					dest, hop, ok := strings.Cut(v, "=")
					if !ok {
						return fmt.Errorf("--route %q: want DEST=NEXTHOP, such as 10.9.0.0/16=10.1.0.254", v)
					}
					r.Routes = append(r.Routes, vnet.Route{Destination: dest, NextHop: hop})
				}
			}
			return nil
		}
	},
	setName: func(r *vnet.Router, n string) { r.Name = n },
	list:    (*client.Client).Routers, get: (*client.Client).Router, create: (*client.Client).CreateRouter,
	update: (*client.Client).UpdateRouter, del: (*client.Client).DeleteRouter,
	summary: func(r vnet.Router) string { return fmt.Sprintf("(id %d, %s)", r.ID, orDash(routerIfaces(r))) },
	table: func(_ context.Context, _ *session, items []vnet.Router) func(io.Writer) {
		return func(w io.Writer) {
			fmt.Fprintln(w, "NAME\tID\tINTERFACES\tROUTES")
			for _, r := range items {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", r.Name, r.ID, orDash(routerIfaces(r)), orDash(routeList(r.Routes)))
			}
		}
	},
	show: func(_ context.Context, _ *session, r vnet.Router) func(io.Writer) {
		return func(w io.Writer) {
			fmt.Fprintf(w, "name:\t%s\n", r.Name)
			fmt.Fprintf(w, "id:\t%d\n", r.ID)
			fmt.Fprintln(w)
			routerInterfaceTable(w, r.Interfaces)
			fmt.Fprintln(w)
			routeTable(w, r.Routes)
		}
	},
}).commands()

func routerIfaces(r vnet.Router) string {
	var parts []string
	for _, ri := range r.Interfaces {
		parts = append(parts, ri.Network+"="+ri.IP)
	}
	return strings.Join(parts, ", ")
}

func routeList(rs []vnet.Route) string {
	var parts []string
	for _, rt := range rs {
		parts = append(parts, rt.Destination+" via "+rt.NextHop)
	}
	return strings.Join(parts, ", ")
}

func routerInterfaceTable(w io.Writer, ifaces []vnet.RouterInterface) {
	if len(ifaces) == 0 {
		fmt.Fprintln(w, "no interfaces")
		return
	}
	fmt.Fprintln(w, "NETWORK\tIP\tMAC")
	for _, ri := range ifaces {
		fmt.Fprintf(w, "%s\t%s\t%s\n", ri.Network, ri.IP, ri.MAC)
	}
}

func routeTable(w io.Writer, routes []vnet.Route) {
	if len(routes) == 0 {
		fmt.Fprintln(w, "no static routes")
		return
	}
	fmt.Fprintln(w, "DESTINATION\tNEXT_HOP")
	for _, rt := range routes {
		fmt.Fprintf(w, "%s\t%s\n", rt.Destination, rt.NextHop)
	}
}

func setupRouterInterface(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	ip := fs.String("ip", "", "the interface's `address` (default: the network's gateway)")
	mac := fs.String("mac", "", "the interface's `MAC` (default: generated)")
	return func(ctx context.Context, s *session, args []string) error {
		op, router := args[0], args[1]
		switch op {
		case "list":
			if len(args) > 2 {
				return fmt.Errorf("router interface list takes only the router")
			}
			r, err := s.cl.Router(ctx, router)
			if err != nil {
				return err
			}
			return s.print(r.Interfaces, func(w io.Writer) { routerInterfaceTable(w, r.Interfaces) })
		case "add", "del", "delete":
		default:
			return fmt.Errorf("%q: want add, del or list", op)
		}
		if len(args) < 3 {
			return fmt.Errorf("router interface %s: want the network (satellite router interface %s ROUTER NETWORK)", op, op)
		}
		network, addr, _ := strings.Cut(args[2], "=")
		if op != "add" {
			ri, err := s.cl.DeleteRouterInterface(ctx, router, network)
			if err != nil {
				return err
			}
			return s.print(ri, func(w io.Writer) {
				fmt.Fprintf(w, "removed router %s's interface in %s (%s)\n", router, network, ri.IP)
			})
		}
		if *ip != "" {
			addr = *ip
		}
		ri, err := s.cl.AddRouterInterface(ctx, router, vnet.RouterInterface{Network: network, IP: addr, MAC: *mac})
		if err != nil {
			return err
		}
		return s.print(ri, func(w io.Writer) {
			fmt.Fprintf(w, "router %s has an interface in %s: %s, %s\n", router, network, ri.IP, ri.MAC)
		})
	}
}

func setupRouterRoute(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, args []string) error {
		op, router, rest := args[0], args[1], args[2:]
		switch op {
		case "list":
			if len(rest) > 0 {
				return fmt.Errorf("router route list takes only the router")
			}
			r, err := s.cl.Router(ctx, router)
			if err != nil {
				return err
			}
			return s.print(append([]vnet.Route{}, r.Routes...), func(w io.Writer) { routeTable(w, r.Routes) })
		case "add":
			if len(rest) == 3 && rest[1] == "via" {
				rest = []string{rest[0], rest[2]}
			}
			if len(rest) != 2 {
				return errors.New("router route add: want ROUTER DEST via NEXTHOP, such as r1 10.9.0.0/16 via 10.1.0.254")
			}
			rt, err := s.cl.AddRoute(ctx, router, vnet.Route{Destination: rest[0], NextHop: rest[1]})
			if err != nil {
				return err
			}
			return s.print(rt, func(w io.Writer) { fmt.Fprintf(w, "router %s: %s via %s\n", router, rt.Destination, rt.NextHop) })
		case "del", "delete":
			if len(rest) != 1 {
				return errors.New("router route del: want ROUTER DEST, such as r1 10.9.0.0/16")
			}
			rt, err := s.cl.DeleteRoute(ctx, router, rest[0])
			if err != nil {
				return err
			}
			return s.print(rt, func(w io.Writer) {
				fmt.Fprintf(w, "router %s: removed %s via %s\n", router, rt.Destination, rt.NextHop)
			})
		default:
			return fmt.Errorf("%q: want add, del or list", op)
		}
	}
}

// ---- security groups

var groupCLI = (&cliKind[vnet.SecurityGroup]{
	name: "secgroup", plural: "secgroups",
	example: "",
	flags: func(fs *flag.FlagSet) func(*vnet.SecurityGroup, map[string]bool) error {
		id := newOpt(fs, "id", 1<<32-1, "group `id` (default: the smallest free one)")
		stateful := fs.Bool("stateful", true, "track connections: rules admit new ones, replies pass (--stateful=false: every packet against the rules)")
		return func(g *vnet.SecurityGroup, set map[string]bool) error {
			if id.set {
				g.ID = uint32(id.v)
			}
			if set["stateful"] {
				g.Stateful = stateful
			}
			return nil
		}
	},
	setName: func(g *vnet.SecurityGroup, n string) { g.Name = n },
	list:    (*client.Client).SecurityGroups, get: (*client.Client).SecurityGroup, create: (*client.Client).CreateSecurityGroup,
	update: (*client.Client).UpdateSecurityGroup, del: (*client.Client).DeleteSecurityGroup,
	summary: func(g vnet.SecurityGroup) string {
		return fmt.Sprintf("(id %d, %s, %d rules)", g.ID, statefulness(g), len(g.Rules))
	},
	table: func(ctx context.Context, s *session, items []vnet.SecurityGroup) func(io.Writer) {
		members := groupMembers(ctx, s.cl)
		return func(w io.Writer) {
			fmt.Fprintln(w, "NAME\tID\tMODE\tRULES\tMEMBERS")
			for _, g := range items {
				fmt.Fprintf(w, "%s\t%d\t%s\t%d\t%s\n", g.Name, g.ID, statefulness(g), len(g.Rules), orDash(strings.Join(members[g.Name], ",")))
			}
		}
	},
	show: func(ctx context.Context, s *session, g vnet.SecurityGroup) func(io.Writer) {
		members := groupMembers(ctx, s.cl)
		return func(w io.Writer) {
			fmt.Fprintf(w, "name:\t%s\n", g.Name)
			fmt.Fprintf(w, "id:\t%d\n", g.ID)
			fmt.Fprintf(w, "mode:\t%s\n", statefulness(g))
			fmt.Fprintf(w, "members:\t%s\n", orDash(strings.Join(members[g.Name], ", ")))
			fmt.Fprintln(w)
			ruleTable(w, g.Rules)
		}
	},
}).commands()

func statefulness(g vnet.SecurityGroup) string {
	if g.IsStateful() {
		return "stateful"
	}
	return "stateless"
}

func groupMembers(ctx context.Context, cl *client.Client) map[string][]string {
	out := map[string][]string{}
	ifaces, _ := cl.Interfaces(ctx)
	for _, in := range ifaces {
		for _, g := range in.SecurityGroups {
			out[g] = append(out[g], in.Name)
		}
	}
	return out
}

func ruleTable(w io.Writer, rules []vnet.Rule) {
	if len(rules) == 0 {
		fmt.Fprintln(w, "no rules: members accept traffic only from each other")
		return
	}
	fmt.Fprintln(w, "#\tDIRECTION\tPROTOCOL\tPORTS\tREMOTE")
	for i, r := range rules {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", i+1, r.Direction, r.Protocol, ports(r), remote(r))
	}
}

func ports(r vnet.Rule) string {
	switch {
	case r.PortMin == 0:
		return "-"
	case r.PortMin == r.PortMax:
		return strconv.Itoa(int(r.PortMin))
	default:
		return fmt.Sprintf("%d-%d", r.PortMin, r.PortMax)
	}
}

func remote(r vnet.Rule) string {
	switch {
	case r.RemoteCIDR != "":
		return r.RemoteCIDR
	case r.RemoteGroup != "":
		return "group " + r.RemoteGroup
	default:
		return "any"
	}
}

func setupRule(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	direction := fs.String("direction", "", "`direction`: ingress (default) or egress")
	protocol := fs.String("protocol", "", "`protocol`: tcp, udp, icmp or any")
	port := fs.String("port", "", "destination `port` or range N-M (tcp and udp; default: all)")
	cidr := fs.String("remote-cidr", "", "allow only sources in this `CIDR`")
	group := fs.String("remote-group", "", "allow only members of this security `group`")
	return func(ctx context.Context, s *session, args []string) error {
		op, name := args[0], args[1]
		switch op {
		case "list":
			if len(args) > 2 {
				return errors.New("secgroup rule list takes only the group")
			}
			g, err := s.cl.SecurityGroup(ctx, name)
			if err != nil {
				return err
			}
			return s.print(append([]vnet.Rule{}, g.Rules...), func(w io.Writer) { ruleTable(w, g.Rules) })
		case "del", "delete":
			if len(args) != 3 {
				return errors.New("secgroup rule del: want GROUP N (the rule's number in secgroup rule list)")
			}
			n, err := strconv.Atoi(args[2])
			if err != nil || n < 1 {
				return fmt.Errorf("rule %q: want a rule number (1 is the first)", args[2])
			}
			r, err := s.cl.DeleteRule(ctx, name, n)
			if err != nil {
				return err
			}
			return s.print(r, func(w io.Writer) {
				fmt.Fprintf(w, "removed rule %d of %s: %s from %s\n", n, name, strings.TrimSuffix(r.Protocol+" "+ports(r), " -"), remote(r))
			})
		case "add":
		default:
			return fmt.Errorf("%q: want add, del or list", op)
		}
		if len(args) > 2 {
			return errors.New("secgroup rule add: the rule is given with flags (--protocol, --port, --remote-cidr, --remote-group)")
		}
		r := vnet.Rule{Direction: *direction, Protocol: *protocol, RemoteCIDR: *cidr, RemoteGroup: *group}
		if r.Protocol == "" {
			return errors.New("secgroup rule add: --protocol is missing (tcp, udp, icmp or any)")
		}
		if *port != "" {
			lo, hi, isRange := strings.Cut(*port, "-")
			a, err1 := strconv.ParseUint(lo, 10, 16)
			b, err2 := a, error(nil)
			if isRange {
				b, err2 = strconv.ParseUint(hi, 10, 16)
			}
			if err1 != nil || err2 != nil {
				return fmt.Errorf("--port %q: want a port (22) or a range (8000-8080)", *port)
			}
			r.PortMin, r.PortMax = uint16(a), uint16(b)
		}
		out, err := s.cl.AddRule(ctx, name, r)
		if err != nil {
			return err
		}
		return s.print(out, func(w io.Writer) {
			fmt.Fprintf(w, "security group %s allows %s %s from %s\n", name, out.Direction, strings.TrimSuffix(out.Protocol+" "+ports(out), " -"), remote(out))
		})
	}
}

// ---- leases and trunks

func setupLeases(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	network := fs.String("network", "", "only the leases of this `network`")
	return func(ctx context.Context, s *session, args []string) error {
		if len(args) > 0 && args[0] != "list" {
			return fmt.Errorf("%q: want list or nothing", args[0])
		}
		leases, err := s.cl.Leases(ctx, *network)
		if err != nil {
			return err
		}
		return s.print(leases, func(w io.Writer) {
			if len(leases) == 0 {
				fmt.Fprintln(w, "no DHCP leases")
				return
			}
			fmt.Fprintln(w, "NETWORK\tIP\tMAC\tINTERFACE\tSTATE\tEXPIRES")
			for _, l := range leases {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Network, l.IP, l.MAC, orDash(l.Interface), l.State, leaseWhen(l))
			}
		})
	}
}

func expiry(t time.Time) string {
	if d := time.Until(t); d > 0 {
		return "in " + age(d)
	}
	return "expired " + age(time.Since(t)) + " ago"
}

// leaseWhen says what the time of a lease means in its state.
func leaseWhen(l api.Lease) string {
	switch vnet.LeaseState(l.State) {
	case vnet.LeaseReleased:
		return "released " + age(time.Since(l.Expires)) + " ago"
	case vnet.LeaseDeclined:
		return "quarantined, free in " + age(time.Until(l.Expires))
	}
	return expiry(l.Expires)
}

func setupTrunks(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	datapath := fs.String("datapath", "", "only the trunks of this `datapath`")
	return func(ctx context.Context, s *session, args []string) error {
		if len(args) > 0 && args[0] != "list" {
			return fmt.Errorf("%q: want list or nothing", args[0])
		}
		trunks, err := s.cl.Trunks(ctx, *datapath)
		if err != nil {
			return err
		}
		return s.print(trunks, func(w io.Writer) {
			if len(trunks) == 0 {
				fmt.Fprintln(w, "no trunks (an interface with --vlan makes its port one)")
				return
			}
			fmt.Fprintln(w, "DATAPATH\tPORT\tVLANS\tNATIVE")
			for _, t := range trunks {
				var vlans []string
				for _, v := range t.VLANs {
					vlans = append(vlans, fmt.Sprintf("%d=%s (%s)", v.VLAN, v.Network, v.Interface))
				}
				native := "-"
				if t.Native != nil {
					native = fmt.Sprintf("%s (%s)", t.Native.Network, t.Native.Interface)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.Datapath, t.Port, strings.Join(vlans, ", "), native)
			}
		})
	}
}

// ---- status and flows

// plural writes a count with its noun: 1 router, 2 routers.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func reconciled(d api.VNetSwitchStatus) string {
	if d.Reconciled == nil {
		return "never"
	}
	s := age(time.Since(*d.Reconciled)) + " ago"
	if d.LastChanges != "" {
		s += " (" + d.LastChanges + ")"
	}
	if d.Settling {
		s += ", settling: only missing flows added"
	}
	return s
}

func setupVNetStatus(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, _ []string) error {
		st, err := s.cl.VNetStatus(ctx)
		if err != nil {
			return err
		}
		return s.print(st, func(w io.Writer) {
			fmt.Fprintf(w, "revision %d: %s, %s, %s, %s, %s\n", st.Revision, plural(st.Networks, "network"), plural(st.Interfaces, "interface"),
				plural(st.Routers, "router"), plural(st.SecurityGroups, "security group"), plural(st.Leases, "lease"))
			if len(st.Datapaths) == 0 {
				fmt.Fprintln(w, "no datapaths configured (satellite datapath create NAME --dpid DPID)")
			} else {
				fmt.Fprintln(w)
				fmt.Fprintln(w, "DATAPATH\tDPID\tCONNECTED\tFLOWS\tGROUPS\tRECONCILED\tERROR")
				for _, d := range st.Datapaths {
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", d.Name, d.DPID, yesNo(d.Connected), d.Flows, d.Groups, reconciled(d), orDash(d.Error))
				}
			}
			if len(st.Notes) > 0 {
				fmt.Fprintln(w)
				fmt.Fprintln(w, "not realised (yet):")
				for _, n := range st.Notes {
					fmt.Fprintf(w, "  %s\n", n)
				}
			}
		})
	}
}

func setupVNetFlows(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	table := newOpt(fs, "table", 254, "only this flow `table`")
	return func(ctx context.Context, s *session, args []string) error {
		p, err := s.cl.VNetFlows(ctx, args[0])
		if err != nil {
			return err
		}
		if table.set {
			var keep []api.VNetFlow
			for _, f := range p.Flows {
				if uint64(f.Table) == table.v {
					keep = append(keep, f)
				}
			}
			p.Flows = keep
		}
		return s.print(p, func(w io.Writer) {
			connected := "connected"
			if !p.Connected {
				connected = "not connected"
			}
			fmt.Fprintf(w, "%s (%s, %s): %d flows, %d groups\n", p.Datapath, p.DPID, connected, len(p.Flows), len(p.Groups))
			if len(p.Flows) > 0 {
				fmt.Fprintln(w)
				fmt.Fprintln(w, "TABLE\tPRIORITY\tOWNER\tMATCH\tACTIONS")
				for _, f := range p.Flows {
					fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\n", f.Table, f.Priority, cookieOwner(f.Cookie, f.Owner.Kind), orStar(f.Match), f.Actions)
				}
			}
			if len(p.Groups) > 0 {
				fmt.Fprintln(w)
				fmt.Fprintln(w, "GROUP\tTYPE\tBUCKET\tWATCH\tACTIONS")
				for _, g := range p.Groups {
					for i, b := range g.Buckets {
						head := fmt.Sprintf("%d\t%s", g.ID, g.Type)
						if i > 0 {
							head = "\t"
						}
						fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", head, i, watch(api.Bucket{WatchPort: b.WatchPort}), b.Actions)
					}
				}
			}
		})
	}
}

// cookieOwner renders an owner the way cookies print ("interface:3@net:1").
func cookieOwner(cookie, kind string) string {
	c, err := strconv.ParseUint(strings.TrimPrefix(cookie, "0x"), 16, 64)
	if err != nil {
		return kind
	}
	return controller.Cookie(c).String()
}

// ---- the whole configuration

func setupApply(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	file := fs.String("f", "", "the configuration `FILE` (YAML or JSON; - reads stdin)")
	return func(ctx context.Context, s *session, _ []string) error {
		if *file == "" {
			return errors.New("apply: -f FILE is missing (satellite export writes one to start from)")
		}
		var b []byte
		var err error
		if *file == "-" {
			b, err = io.ReadAll(os.Stdin)
		} else {
			b, err = os.ReadFile(*file)
		}
		if err != nil {
			return err
		}
		format := ""
		switch strings.ToLower(filepath.Ext(*file)) {
		case ".json":
			format = vnet.FormatJSON
		case ".yaml", ".yml":
			format = vnet.FormatYAML
		}
		cfg, err := vnet.DecodeConfig(b, format)
		if err != nil {
			return fmt.Errorf("%s: %w", *file, err)
		}
		res, err := s.cl.ApplyVNetConfig(ctx, cfg)
		if err != nil {
			return err
		}
		return s.print(res, func(w io.Writer) {
			if !res.Changed {
				fmt.Fprintf(w, "no changes: %s is in effect (revision %d)\n", *file, res.Revision)
				return
			}
			fmt.Fprintf(w, "applied %s: revision %d\n", *file, res.Revision)
			for _, c := range res.Changes {
				fmt.Fprintln(w, c)
			}
		})
	}
}

func setupExport(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	file := fs.String("f", "", "write to `FILE` instead of stdout")
	return func(ctx context.Context, s *session, _ []string) error {
		cfg, err := s.cl.VNetConfig(ctx)
		if err != nil {
			return err
		}
		format := vnet.FormatYAML
		if s.json {
			format = vnet.FormatJSON
		}
		b, err := vnet.EncodeConfig(cfg, format)
		if err != nil {
			return err
		}
		if *file == "" {
			_, err = s.out.Write(b)
			return err
		}
		if err := os.WriteFile(*file, b, 0o644); err != nil {
			return err
		}
		_, err = fmt.Fprintf(s.out, "exported %s, %s, %s, %s, %s to %s\n", plural(len(cfg.Datapaths), "datapath"), plural(len(cfg.Networks), "network"),
			plural(len(cfg.Interfaces), "interface"), plural(len(cfg.Routers), "router"), plural(len(cfg.SecurityGroups), "security group"), *file)
		return err
	}
}
