package main

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// results holds the samples: key (row) -> who (Satellite, os-ken, floor)
// -> values (seconds for times; percent, MB otherwise). A discovery that
// timed out is stored negative (-timeout).
type results struct {
	m     map[string]map[string][]float64
	pages int
}

func newResults() *results { return &results{m: map[string]map[string][]float64{}} }

func (r *results) add(key, who string, v any) {
	if r.m[key] == nil {
		r.m[key] = map[string][]float64{}
	}
	var f float64
	switch v := v.(type) {
	case time.Duration:
		f = v.Seconds()
	case float64:
		f = v
	}
	r.m[key][who] = append(r.m[key][who], f)
}

func fmtDur(d time.Duration) string {
	if d < 0 {
		return fmt.Sprintf(">%v", -d)
	}
	return fmtSec(d.Seconds())
}

func fmtSec(s float64) string {
	switch {
	case s < 0:
		return fmt.Sprintf(">%.0f s", -s)
	case s < 1:
		return fmt.Sprintf("%.0f ms", s*1000)
	default:
		return fmt.Sprintf("%.2f s", s)
	}
}

// median of the samples; a timed-out sample counts as +inf (sorted last).
func median(v []float64) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	s := slices.Clone(v)
	slices.SortFunc(s, func(a, b float64) int { return cmpF(key(a), key(b)) })
	return s[len(s)/2], true
}

func key(v float64) float64 {
	if v < 0 {
		return 1e18 - v
	}
	return v
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cell formats median (min-max, n) of one series.
func cell(v []float64, f func(float64) string) string {
	m, ok := median(v)
	if !ok {
		return ""
	}
	if len(v) == 1 {
		return f(m) + " (1)"
	}
	lo := slices.MinFunc(v, func(a, b float64) int { return cmpF(key(a), key(b)) })
	hi := slices.MaxFunc(v, func(a, b float64) int { return cmpF(key(a), key(b)) })
	return fmt.Sprintf("%s (%s to %s, %d)", f(m), f(lo), f(hi), len(v))
}

func ratio(a, b []float64) string {
	x, ok1 := median(a)
	y, ok2 := median(b)
	if !ok1 || !ok2 || y == 0 {
		return ""
	}
	if x < 0 || y < 0 {
		if x < 0 && y >= 0 {
			return fmt.Sprintf(">%.1fx", -x/y)
		}
		if y < 0 && x >= 0 {
			return fmt.Sprintf("<%.2fx", x/-y)
		}
		return "?"
	}
	return fmt.Sprintf("%.2fx", x/y)
}

func (r *results) print(w io.Writer, o options, sizes []int) {
	pct := func(v float64) string { return fmt.Sprintf("%.1f %%", v) }
	mb := func(v float64) string { return fmt.Sprintf("%.0f MB", v) }
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| measurement | Satellite | os-ken | ovs-ofctl / no controller | Satellite ÷ os-ken | Satellite ÷ floor |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	row := func(name, key string, f func(float64) string) {
		s := r.m[key]
		if s == nil {
			return
		}
		sat, osk, fl := s["Satellite"], s["os-ken"], s["floor"]
		if key == "pages" { // the same floor as the single request
			fl = r.m["flows"]["floor"]
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", name, cell(sat, f), cell(osk, f), cell(fl, f), ratio(sat, osk), ratio(sat, fl))
	}
	for _, n := range sizes {
		row(fmt.Sprintf("links discovered after attach, N=%d", n), fmt.Sprintf("discover/%d", n), fmtSec)
	}
	row("link down (veth down) -> gone from the API", "down", fmtSec)
	row("link back up -> rediscovered", "up", fmtSec)
	row(fmt.Sprintf("%d flows fetched through the API", o.flows), "flows", fmtSec)
	row(fmt.Sprintf("%d flows fetched page by page (%d pages of %d)", o.flows, r.pages, o.pageLimit), "pages", fmtSec)
	row(fmt.Sprintf("idle, %d bridges: controller CPU", o.idleN), "ctlcpu", pct)
	row(fmt.Sprintf("idle, %d bridges: ovs-vswitchd CPU", o.idleN), "vswitchd", pct)
	row(fmt.Sprintf("idle, %d bridges: controller RSS", o.idleN), "rss", mb)
	fmt.Fprintf(w, "\nmedian (min-max, samples); %d interleaved rounds (A/B order alternating, idle rows rotating with no controller); "+
		"link down/up: %d veth edges per round; idle window %v after %v settling; CPU in %% of one core from /proc/PID/stat; "+
		"a ratio below 1 means Satellite is faster or lighter.\n", o.rounds, len(usedVethEdges(o.idleN)), o.idle, settle)
}

func usedVethEdges(n int) []int {
	var out []int
	for _, e := range vethEdges {
		if e < n {
			out = append(out, e)
		}
	}
	return out
}
