package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/satellite-sdn/satellite/vnet"
)

// Floating IPs: an external network's address given 1:1 to an interface.
// They are named by their address, which the server chooses when --ip is
// left out, so create takes flags only.

func init() {
	add := func(name string, c clientCommand) { clientCommands[name] = c }
	about := "floating IPs: addresses of external networks given 1:1 to interfaces (DNAT in, SNAT out)"
	add("floatingips", clientCommand{"[list]", 0, 1, about, setupFloatingIPList})
	add("floatingip list", clientCommand{"", 0, 0, about, setupFloatingIPList})
	add("floatingip show", clientCommand{"IP", 1, 0, "one floating IP", setupFloatingIPShow})
	add("floatingip create", clientCommand{"", 0, 0, "give an interface an address of an external network (--ip, or the lowest free one)", setupFloatingIPCreate})
	add("floatingip move", clientCommand{"IP", 1, 0, "move a floating IP to another interface (--interface)", setupFloatingIPMove})
	add("floatingip delete", clientCommand{"IP", 1, 0, "delete a floating IP (its connections are cut)", setupFloatingIPDelete})
	add("floatingip del", clientCommand{"IP", 1, 0, "delete a floating IP (its connections are cut)", setupFloatingIPDelete})
	add("floatingip", clientCommand{"list|show|create|move|delete ...", -1, 0, "floating IPs", nil})
	commandGroups["floatingip"] = "Usage: satellite floatingip list                (also: satellite floatingips)\n" +
		"       satellite floatingip show IP\n" +
		"       satellite floatingip create --network EXT [--ip A.B.C.D] --interface NAME\n" +
		"       satellite floatingip move IP --interface NAME\n" +
		"       satellite floatingip delete IP\n"
}

func floatingIPTable(w io.Writer, items []vnet.FloatingIP) {
	fmt.Fprintln(w, "IP\tNETWORK\tINTERFACE")
	for _, f := range items {
		fmt.Fprintf(w, "%s\t%s\t%s\n", f.IP, f.Network, f.Interface)
	}
}

func setupFloatingIPList(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, args []string) error {
		if len(args) > 0 && args[0] != "list" {
			return fmt.Errorf("%q: want list or nothing (see satellite floatingip -h)", args[0])
		}
		items, err := s.cl.FloatingIPs(ctx)
		if err != nil {
			return err
		}
		return s.print(items, func(w io.Writer) {
			if len(items) == 0 {
				fmt.Fprintln(w, "no floating IPs (satellite floatingip create --network EXT --interface NAME makes one)")
				return
			}
			floatingIPTable(w, items)
		})
	}
}

func setupFloatingIPShow(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, args []string) error {
		f, err := s.cl.FloatingIP(ctx, args[0])
		if err != nil {
			return err
		}
		st, serr := s.cl.FloatingIPStats(ctx, f.IP)
		return s.print(f, func(w io.Writer) {
			fmt.Fprintf(w, "ip:\t%s\nnetwork:\t%s\ninterface:\t%s\n", f.IP, f.Network, f.Interface)
			if serr != nil {
				fmt.Fprintf(w, "counters:\t- (%v)\n", serr)
				return
			}
			fmt.Fprintf(w, "in:\t%d packets, %d bytes\nout:\t%d packets, %d bytes\n", st.InPackets, st.InBytes, st.OutPackets, st.OutBytes)
		})
	}
}

func setupFloatingIPCreate(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	network := fs.String("network", "", "the external `network` to take the address from")
	ip := fs.String("ip", "", "the `address` (default: the lowest free one of the network's subnet)")
	iface := fs.String("interface", "", "the `interface` the address leads to (a vif behind a router with a gateway on the network)")
	return func(ctx context.Context, s *session, args []string) error {
		if *network == "" || *iface == "" {
			return fmt.Errorf("want --network EXT and --interface NAME (satellite floatingip create -h)")
		}
		f, err := s.cl.CreateFloatingIP(ctx, vnet.FloatingIP{Network: *network, IP: *ip, Interface: *iface})
		if err != nil {
			return err
		}
		return s.print(f, func(w io.Writer) {
			fmt.Fprintf(w, "created floating IP %s (network %s) for interface %s\n", f.IP, f.Network, f.Interface)
		})
	}
}

func setupFloatingIPMove(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	iface := fs.String("interface", "", "the `interface` the address leads to from now on")
	return func(ctx context.Context, s *session, args []string) error {
		if *iface == "" {
			return fmt.Errorf("want --interface NAME: the interface to move the floating IP to")
		}
		f, err := s.cl.FloatingIP(ctx, args[0])
		if err != nil {
			return err
		}
		f.Interface = *iface
		out, err := s.cl.UpdateFloatingIP(ctx, args[0], f)
		if err != nil {
			return err
		}
		return s.print(out, func(w io.Writer) { fmt.Fprintf(w, "floating IP %s now leads to interface %s\n", out.IP, out.Interface) })
	}
}

func setupFloatingIPDelete(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, args []string) error {
		f, err := s.cl.DeleteFloatingIP(ctx, args[0])
		if err != nil {
			return err
		}
		return s.print(f, func(w io.Writer) { fmt.Fprintf(w, "deleted floating IP %s (was interface %s's)\n", f.IP, f.Interface) })
	}
}
