package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/satellite-sdn/satellite/insights"
	"github.com/satellite-sdn/satellite/web/client"
)

func init() {
	clientCommands["top"] = clientCommand{"", 0, 0, "top talkers: flows, interfaces, hosts or virtual networks by bytes or packets over a window, at any time in the history", setupTop}
	clientCommands["insights"] = clientCommand{"", 0, 0, "what is wrong now: ports, flows, networks, tunnel paths and hosts that depart from their baselines, the highest score first", setupInsights}
}

func setupTop(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	what := fs.String("what", "interfaces", "what to rank: flows, interfaces, hosts or networks")
	by := fs.String("by", "bytes", "rank by bytes or packets")
	from := fs.String("from", "", "start of the window: RFC 3339, Unix seconds or -15m (default 15 minutes before --to)")
	to := fs.String("to", "", "end of the window (default now)")
	n := fs.Int("n", 10, "at most `N` talkers")
	return func(ctx context.Context, s *session, _ []string) error {
		res, err := s.cl.TopTalkers(ctx, client.TopQuery{What: *what, By: *by, From: *from, To: *to, Limit: *n})
		if err != nil {
			return err
		}
		return s.print(res, func(w io.Writer) {
			fmt.Fprintf(w, "top %s by %s from %s to %s\n", res.What, *by, res.From.Local().Format(time.RFC3339), res.To.Local().Format(time.RFC3339))
			if len(res.Talkers) == 0 {
				fmt.Fprintln(w, "no traffic recorded in the window")
				return
			}
			fmt.Fprintln(w, "BYTES\tPACKETS\tMEAN BPS\tOBJECT")
			for _, t := range res.Talkers {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", siValue(t.Bytes)+"B", siValue(t.Packets), insights.Bits(t.Bps), t.Object)
			}
		})
	}
}

func setupInsights(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	kind := fs.String("kind", "", "only these `detectors`, comma separated (errors, drops, traffic-down, traffic-rise, stopped-sending, asymmetric-link, rtt-drift, probe-loss, host-moves)")
	minScore := fs.Float64("min-score", 0, "only items scoring at least `N` (scores start at 1)")
	sw := fs.String("switch", "", "only items about this `switch` (a datapath id or name)")
	history := fs.Bool("history", false, "the findings raised and cleared instead, oldest first")
	return func(ctx context.Context, s *session, _ []string) error {
		if *history {
			evs, err := s.cl.InsightHistory(ctx)
			if err != nil {
				return err
			}
			return s.print(evs, func(w io.Writer) {
				if len(evs) == 0 {
					fmt.Fprintln(w, "no findings yet")
					return
				}
				fmt.Fprintln(w, "TIME\tEVENT\tSCORE\tOBJECT\tREASON")
				for _, e := range evs {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format(time.RFC3339), e.Kind, strconv.FormatFloat(e.Item.Score, 'f', 1, 64), e.Item.Object, e.Item.Reason)
				}
			})
		}
		res, err := s.cl.Insights(ctx, client.InsightQuery{Kind: *kind, MinScore: *minScore, Switch: *sw})
		if err != nil {
			return err
		}
		return s.print(res, func(w io.Writer) {
			if len(res.Items) == 0 {
				fmt.Fprintln(w, "nothing wrong now")
				return
			}
			fmt.Fprintln(w, "SCORE\tOBJECT\tREASON\tSINCE")
			for _, it := range res.Items {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", strconv.FormatFloat(it.Score, 'f', 1, 64), it.Object, it.Reason, it.Since.Local().Format("15:04:05"))
			}
		})
	}
}

// networkTraffic prints satellite network show NET --traffic.
func networkTraffic(ctx context.Context, s *session, name string) error {
	nt, err := s.cl.NetworkTraffic(ctx, name)
	if err != nil {
		return err
	}
	rate := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return insights.Bits(*v)
	}
	return s.print(nt, func(w io.Writer) {
		fmt.Fprintf(w, "network %s (id %d)\n\n", nt.Network, nt.ID)
		fmt.Fprintln(w, "INTERFACE\tSWITCH\tPORT\tRX\tTX")
		for _, in := range nt.Interfaces {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", in.Name, orDash(in.Switch), orDash(in.Port), rate(in.RxBps), rate(in.TxBps))
		}
		fmt.Fprintln(w, "\nSWITCH\tFLOWS\tFLOW TRAFFIC")
		for _, sw := range nt.Switches {
			fmt.Fprintf(w, "%s\t%d\t%s\n", orDash(sw.Switch), sw.Flows, insights.Bits(sw.Bps))
		}
		if len(nt.Tunnels) > 0 {
			fmt.Fprintln(w, "\nTUNNEL\tPATH\tUP\tACTIVE\tRTT")
			for _, tn := range nt.Tunnels {
				rtt := "-"
				if tn.RTTMs != nil {
					rtt = strconv.FormatFloat(*tn.RTTMs, 'f', 2, 64) + " ms"
				}
				fmt.Fprintf(w, "%s->%s\t%d\t%t\t%t\t%s\n", tn.From, tn.To, tn.Path, tn.Up, tn.Active, rtt)
			}
		}
	})
}
