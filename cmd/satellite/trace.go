package main

import (
	"context"
	"flag"

	"github.com/satellite-sdn/satellite/diagnostics"
)

func setupTrace(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	proto := fs.String("proto", "icmp", "`protocol`: icmp, tcp, udp, arp or dhcp")
	dport := newOpt(fs, "dport", 65535, "destination `port` (tcp, udp)")
	sport := newOpt(fs, "sport", 65535, "source `port` (tcp, udp; default 40000)")
	vlan := newOpt(fs, "vlan", 4095, "VLAN `id` the packet is tagged with (picks the trunk interface of FROM)")
	ttl := newOpt(fs, "ttl", 255, "IP `TTL` (default 64)")
	srcMAC := fs.String("src-mac", "", "source `MAC` (default: the interface's)")
	srcIP := fs.String("src-ip", "", "source `IP` (default: the interface's)")
	live := fs.Bool("live", false, "also inject a marked packet at FROM and report the switch ports it really entered (icmp, tcp, udp)")
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
		res.WriteText(s.out)
		return nil
	}
}
