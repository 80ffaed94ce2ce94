package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/satellite-sdn/satellite/audit"
)

func init() {
	clientCommands["audit"] = clientCommand{"[SWITCH]", 0, 1, "the flow audit: what every switch (or SWITCH, a name or a dpid) holds that differs from what Satellite intends " +
		"(missing, modified, extra, foreign), what cannot work (shadowed, dead) and the networks' black holes and loops; exit status 1 when anything is found", setupAudit}
}

func setupAudit(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	fix := fs.Bool("fix", false, "ask the reconciler to converge every switch now (operator role), then audit")
	last := fs.Bool("last", false, "show the last audit (made at each reconciliation) instead of reading the switches now")
	return func(ctx context.Context, s *session, args []string) error {
		var reports []audit.Report
		var nets *audit.NetworkReport
		switch {
		case *fix:
			o, err := s.cl.AuditFix(ctx)
			if err != nil {
				return err
			}
			reports, nets = o.Switches, &o.Networks
		case len(args) == 1:
			dpid, err := canonicalDPID(args[0])
			if err != nil {
				return err
			}
			r, err := s.cl.SwitchAudit(ctx, dpid, !*last)
			if err != nil {
				return err
			}
			reports = []audit.Report{r}
		default:
			o, err := s.cl.Audit(ctx, !*last)
			if err != nil {
				return err
			}
			reports, nets = o.Switches, &o.Networks
		}
		var entries []audit.Entry
		for _, r := range reports {
			entries = append(entries, r.Entries...)
		}
		if nets != nil { // those on no switch of the list (the rest are in the reports)
			on := map[string]bool{}
			for _, r := range reports {
				on[r.DPID] = true
			}
			for _, e := range nets.Entries {
				if !on[e.DPID] {
					entries = append(entries, e)
				}
			}
		}
		if entries == nil {
			entries = []audit.Entry{}
		}
		var out any = entries
		err := s.print(out, func(w io.Writer) {
			auditTable(w, reports, entries, *fix)
			if nets != nil && len(nets.Skipped) > 0 {
				fmt.Fprintf(w, "\nnote: %d of the networks' traces could not run (first: %s)\n", len(nets.Skipped), nets.Skipped[0])
			}
		})
		if err != nil {
			return err
		}
		return auditStatus(reports, entries)
	}
}

func auditTable(w io.Writer, reports []audit.Report, entries []audit.Entry, fixed bool) {
	for _, r := range reports {
		state := "ok"
		if !r.OK {
			var parts []string
			for _, k := range audit.Kinds {
				if n := r.Counts[k]; n > 0 {
					parts = append(parts, fmt.Sprintf("%d %s", n, k))
				}
			}
			state = strings.Join(parts, ", ")
			if r.Error != "" {
				state = strings.TrimPrefix(state+", ", ", ") + r.Error
			}
		}
		fmt.Fprintf(w, "%s (%s): %d flows, %d intended, read %s (%s): %s\n", r.Switch, r.DPID, r.Flows, r.Intended, r.At.Local().Format("15:04:05"), r.Source, state)
	}
	if len(entries) == 0 {
		if len(reports) == 0 {
			fmt.Fprintln(w, "no switch audited yet (is any connected? see satellite switches)")
		}
		return
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Switch < entries[j].Switch })
	fmt.Fprintln(w, "\nKIND\tSWITCH\tTABLE\tPRIORITY\tMATCH\tOWNER\tPACKETS\tDETAIL")
	for _, e := range entries {
		kind := e.Kind
		if e.Repaired {
			kind += " (repaired)"
		}
		match := e.Match
		if e.What == "group" || e.What == "meter" {
			match = fmt.Sprintf("%s %d", e.What, e.ID)
		}
		if match == "" {
			match = "any"
		}
		if e.What == "path" {
			match = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\t%d\t%s\n", kind, orDash(e.Switch), e.Table, e.Priority, match, orDash(e.Owner), e.Packets, e.Detail)
	}
	if fixed {
		fmt.Fprintln(w, "\nthe reconciler converged every switch; what is left above is not its to repair (foreign flows under audit.foreign: report, shadowed and dead flows, faults in the network)")
	}
}

// auditStatus fails (exit status 1) when anything is found that is not
// repaired.
func auditStatus(reports []audit.Report, entries []audit.Entry) error {
	counts := map[string]int{}
	n := 0
	for _, e := range entries {
		if !e.Repaired {
			counts[e.Kind]++
			n++
		}
	}
	for _, r := range reports {
		if r.Error != "" {
			return fmt.Errorf("%s: %s", r.Switch, r.Error)
		}
	}
	if n == 0 {
		return nil
	}
	var parts []string
	for _, k := range audit.Kinds {
		if c := counts[k]; c > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c, k))
		}
	}
	return &silentExit{fmt.Sprintf("audit: %s", strings.Join(parts, ", "))}
}

// silentExit is an error whose message is the whole story (exit status 1).
type silentExit struct{ msg string }

func (e *silentExit) Error() string { return e.msg }
