package diagnostics

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes the trace the way ovn-trace reads: one block per hop.
func (r *Result) WriteText(w io.Writer) {
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
	if r.Live != nil {
		fmt.Fprintf(w, "live:    agrees=%v: %s\n", r.Live.Agrees, r.Live.Note)
		for _, o := range r.Live.Observed {
			fmt.Fprintf(w, "  - seen entering %s\n", o)
		}
	}
}
