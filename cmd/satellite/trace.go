package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/satellite-sdn/satellite/diagnostics"
)

func init() {
	clientCommands["trace"] = clientCommand{"FROM TO", 1, 1, "trace a packet hop by hop through the switches' flow tables (why can't FROM reach TO?); " +
		"FROM: an interface name or SWITCH:PORT; TO: an interface name, an IP or a MAC (none for --proto dhcp)", setupTrace}
}

func setupTrace(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	proto := fs.String("proto", "icmp", "`protocol`: icmp, tcp, udp, arp or dhcp")
	dport := newOpt(fs, "dport", 65535, "destination `port` (tcp, udp)")
	sport := newOpt(fs, "sport", 65535, "source `port` (tcp, udp; default 40000)")
	vlan := newOpt(fs, "vlan", 4095, "VLAN `id` the packet is tagged with (picks the trunk interface of FROM)")
	ttl := newOpt(fs, "ttl", 255, "IP `TTL` (default 64)")
	srcMAC := fs.String("src-mac", "", "source `MAC` (default: the interface's)")
	srcIP := fs.String("src-ip", "", "source `IP` (default: the interface's)")
	live := fs.Bool("live", false, "also inject a marked packet and observe it (not supported by the server yet)")
	return func(ctx context.Context, s *session, args []string) error {
		req := diagnostics.Request{From: args[0], Proto: *proto, SrcMAC: *srcMAC, SrcIP: *srcIP, Live: *live}
		if len(args) > 1 {
			req.To = args[1]
		}
		if p := dport.u32(); p != nil {
			req.DPort = uint16(*p)
		}
		if p := sport.u32(); p != nil {
			req.SPort = uint16(*p)
		}
		if p := vlan.u32(); p != nil {
			req.VLAN = uint16(*p)
		}
		if p := ttl.u32(); p != nil {
			req.TTL = uint8(*p)
		}
		res, err := s.cl.Trace(ctx, req)
		if err != nil {
			return err
		}
		if s.json {
			return s.print(res, nil)
		}
		printTrace(s.out, res)
		return nil
	}
}

// printTrace writes a trace the way ovn-trace reads: one block per hop.
func printTrace(w io.Writer, r diagnostics.Result) {
	fmt.Fprintf(w, "from:    %s\n", r.From)
	fmt.Fprintf(w, "to:      %s\n", r.To)
	fmt.Fprintf(w, "packet:  %s\n", r.Packet)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note:    %s\n", n)
	}
	var tabs []string
	for _, t := range r.Tables {
		tabs = append(tabs, fmt.Sprintf("%s %d flows %d groups, read %d ms ago", t.Switch, t.Flows, t.Groups, t.AgeMs))
	}
	if len(tabs) > 0 {
		fmt.Fprintf(w, "tables:  %s\n", strings.Join(tabs, "; "))
	}
	if r.Trace == nil {
		return
	}
	last := ""
	for i, h := range r.Hops {
		sw := fmt.Sprintf("%s (%s)", h.Switch, h.DPID)
		if sw != last {
			in := fmt.Sprint(h.InPort)
			if h.InPortName != "" {
				in += " (" + h.InPortName + ")"
			}
			fmt.Fprintf(w, "\n%s, in_port %s\n", sw, in)
			last = sw
		}
		if h.Flow == nil {
			fmt.Fprintf(w, "  %2d. table %d: no flow matches (table miss)\n", i+1, h.Table)
		} else {
			m := h.Flow.Match
			if m == "" {
				m = "(any)"
			}
			owner := h.Flow.Owner.Kind
			if h.Flow.Owner.Name != "" {
				owner += " " + h.Flow.Owner.Name
			}
			if h.Flow.Owner.Network != "" {
				owner += " in " + h.Flow.Owner.Network
			}
			fmt.Fprintf(w, "  %2d. table %d, priority %d, %s  [%s]\n", i+1, h.Table, h.Flow.Priority, m, owner)
			fmt.Fprintf(w, "      actions: %s\n", h.Flow.Actions)
			fmt.Fprintf(w, "      cookie:  %s\n", h.Flow.Cookie)
		}
		fmt.Fprintf(w, "      headers: %s\n", h.Headers)
		fmt.Fprintf(w, "      next:    %s\n", h.Out)
		if h.Note != "" {
			fmt.Fprintf(w, "      note:    %s\n", h.Note)
		}
	}
	fmt.Fprintf(w, "\nverdict: %s: %s\n", r.Verdict, r.Summary)
	if r.Drop != nil {
		obj := ""
		if r.Drop.Object != "" {
			obj = " [" + r.Drop.Object + "]"
		}
		fmt.Fprintf(w, "drop:    %s table %d: %s%s\n", r.Drop.Switch, r.Drop.Table, r.Drop.Reason, obj)
	}
	if r.Intent != nil {
		if len(r.Intent.Differences) == 0 {
			fmt.Fprintf(w, "intent:  %s; the switches hold what Satellite intends on this path\n", r.Intent.Verdict)
		} else {
			fmt.Fprintf(w, "intent:  %s: %s\n", r.Intent.Verdict, r.Intent.Summary)
			for _, d := range r.Intent.Differences {
				fmt.Fprintf(w, "  - %s\n", d)
			}
		}
	}
}
