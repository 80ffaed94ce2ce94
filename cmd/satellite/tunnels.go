package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/satellite-sdn/satellite/probes"
)

func setupTunnels(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	local := fs.String("local", "", "only paths from this `DPID`")
	remote := fs.String("remote", "", "only paths to this `DPID`")
	state := fs.String("state", "", "only paths in this `state` (up or down)")
	return func(ctx context.Context, s *session, _ []string) error {
		t, err := s.cl.Tunnels(ctx, *local, *remote, *state)
		if err != nil {
			return err
		}
		return s.print(t, func(w io.Writer) {
			if t.Load.Degraded != "" {
				fmt.Fprintf(w, "degraded: %s since %s: %s\n", t.Load.Degraded, t.Load.Since.Local().Format("15:04:05"), orDash(t.Load.Cause))
			}
			if !t.Guarded {
				fmt.Fprintln(w, "unguarded: probes.hold_on_overload is false; a slow host can fail paths over and drop traffic")
			}
			if len(t.Paths) == 0 {
				fmt.Fprintln(w, "no tunnel paths (no virtual network datapaths with tunnels yet)")
				return
			}
			fmt.Fprintln(w, "FROM\tTO\tPATH\tPORT\tSTATE\tLIVE\tACTIVE\tRTT AVG\tRTT P99\tJITTER\tLOSS\tEVERY\tCAUSE")
			for _, p := range t.Paths {
				active := ""
				if p.Active {
					active = "*"
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%v\t%s\t%.2f ms\t%.2f ms\t%.2f ms\t%.0f%%\t%.0f ms\t%s\n", p.LocalName, p.RemoteName, p.Path, p.Port,
					p.State, p.Live, active, p.RTTAvgMs, p.RTTP99Ms, p.JitterMs, 100*p.Loss, p.IntervalMs, orDash(p.Cause))
			}
			fmt.Fprintln(w, lateness(t.Load))
		})
	}
}

// lateness is one line of this host's and the datapaths' measured delays.
func lateness(l probes.Load) string {
	var b strings.Builder
	fmt.Fprintf(&b, "lateness (worst, last 10-20 s): prober tick %.0f ms, probe replies %.0f ms", l.TickLateMs, l.EventDelayMs)
	for _, d := range l.Datapaths {
		name := d.Name
		if name == "" {
			name = d.DPID
		}
		fmt.Fprintf(&b, ", echo %s %.0f ms", name, d.EchoWorstMs)
	}
	fmt.Fprintf(&b, "; limit %.0f ms, %d probes held", l.LateLimitMs, l.HeldProbes)
	return b.String()
}
