package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/alerts"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/web/client"
)

// Statistics and alert commands: satellite metrics ports|flows|series|stats,
// satellite alerts [history], satellite rules list|add|show|delete.
// si renders a rate with an SI suffix ("8.2M"); "-" when unknown.
func si(v *float64) string {
	if v == nil {
		return "-"
	}
	return siValue(*v)
}

func siValue(v float64) string {
	a := math.Abs(v)
	for _, u := range []struct {
		f float64
		s string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if a >= u.f {
			return strconv.FormatFloat(v/u.f, 'f', 1, 64) + u.s
		}
	}
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func pct(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', 1, 64) + "%"
}

func pair(a, b string) string { return a + "/" + b }

func optionalDPIDFlag(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	return canonicalDPID(v)
}

func setupMetricsPorts(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	dpidFlag := fs.String("dpid", "", "only ports of this switch (`DPID`)")
	port := fs.String("port", "", "only this port (a `number` or local)")
	return func(ctx context.Context, s *session, _ []string) error {
		dpid, err := optionalDPIDFlag(*dpidFlag)
		if err != nil {
			return err
		}
		ports, err := s.cl.MetricsPorts(ctx, client.PortMetricsQuery{DPID: dpid, Port: *port})
		if err != nil {
			return err
		}
		return s.print(ports, func(w io.Writer) {
			if len(ports) == 0 {
				fmt.Fprintln(w, "no port statistics yet (the collector polls every few seconds)")
				return
			}
			fmt.Fprintln(w, "DPID\tPORT\tNAME\tRX BPS\tTX BPS\tRX PPS\tTX PPS\tDROPS/S RX/TX\tERRORS/S RX/TX\tUTIL RX/TX\tKEY")
			for _, p := range ports {
				r := p.Rates
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.DPID, portName(p.Port, p.Reserved), orDash(p.Name),
					si(r.RxBps), si(r.TxBps), si(r.RxPps), si(r.TxPps), pair(si(r.RxDrops), si(r.TxDrops)),
					pair(si(r.RxErrors), si(r.TxErrors)), pair(pct(r.RxUtil), pct(r.TxUtil)), p.Key)
			}
		})
	}
}

func setupMetricsFlows(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	dpidFlag := fs.String("dpid", "", "only flows of this switch (`DPID`)")
	owner := fs.String("owner", "", "only flows of this owner `kind` (api, interface, router, probe, discovery, foreign, ...)")
	table := newOpt(fs, "table", 254, "only this flow `table` (0-254)")
	network := newOpt(fs, "network", controller.MaxScope, "only flows of this virtual `network`")
	id := newOpt(fs, "id", 1<<32-1, "only flows with this owner object `id`")
	sortBy := fs.String("sort", "", "`order`: key (default: switch, table, priority), bps or pps (busiest first)")
	limit := fs.Int("limit", 0, "at most `N` flows (default 1000)")
	return func(ctx context.Context, s *session, _ []string) error {
		dpid, err := optionalDPIDFlag(*dpidFlag)
		if err != nil {
			return err
		}
		flows, err := s.cl.MetricsFlows(ctx, client.FlowMetricsQuery{DPID: dpid, Owner: *owner, Table: table.u8(), Network: network.u32(),
			ID: id.u32(), Sort: *sortBy, Limit: *limit})
		if err != nil {
			return err
		}
		return s.print(flows, func(w io.Writer) {
			if len(flows) == 0 {
				fmt.Fprintln(w, "no flow statistics match")
				return
			}
			fmt.Fprintln(w, "DPID\tTABLE\tPRIORITY\tOWNER\tBPS\tPPS\tPACKETS\tBYTES\tMATCH\tKEY")
			for _, f := range flows {
				fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", f.DPID, f.Table, f.Priority, f.OwnerName, si(f.Bps), si(f.Pps),
					f.Packets, f.Bytes, orStar(f.Match), f.Key)
			}
		})
	}
}

func setupMetricsSeries(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	from := fs.String("from", "", "start `time`: RFC 3339, Unix seconds or relative such as -15m (default -1h)")
	to := fs.String("to", "", "end `time` (default now)")
	step := fs.String("step", "", "average points over this `duration` (such as 1m)")
	res := fs.String("resolution", "", "`tier`: raw or downsampled (default: raw for the last hour)")
	return func(ctx context.Context, s *session, args []string) error {
		d, err := s.cl.MetricsSeries(ctx, client.SeriesQuery{Key: args[0], From: *from, To: *to, Step: *step, Resolution: *res})
		if err != nil {
			return err
		}
		return s.print(d, func(w io.Writer) {
			var labels []string
			for k, v := range d.Labels {
				labels = append(labels, k+"="+v)
			}
			sort.Strings(labels)
			fmt.Fprintf(w, "%s (%s, %s points every %s; %s)\n", d.Key, strings.Join(labels, " "), d.Resolution,
				seconds(d.StepS), map[bool]string{true: "present", false: "gone"}[d.Present])
			if len(d.Points) == 0 {
				fmt.Fprintln(w, "no points in this range")
				return
			}
			fmt.Fprintln(w, "TIME\t"+strings.ToUpper(strings.Join(d.Metrics, "\t")))
			for _, p := range d.Points {
				cols := make([]string, len(p.V))
				for i, v := range p.V {
					cols[i] = si(v)
				}
				fmt.Fprintf(w, "%s\t%s\n", p.T.Local().Format("15:04:05.000"), strings.Join(cols, "\t"))
			}
		})
	}
}

func setupMetricsStats(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, _ []string) error {
		st, err := s.cl.MetricsStats(ctx)
		if err != nil {
			return err
		}
		return s.print(st, func(w io.Writer) {
			fmt.Fprintf(w, "interval:\t%s (timeout %s)\n", seconds(st.IntervalS), seconds(st.TimeoutS))
			fmt.Fprintf(w, "history:\t%s raw (%d points), %s in steps of %s (%d points)\n", seconds(st.RawRetentionS), st.RawPoints,
				seconds(st.DownsampledRetentionS), seconds(st.StepS), st.DownsampledPoints)
			for _, k := range []string{"port", "flow", "table", "group"} {
				if ks, ok := st.Kinds[k]; ok {
					fmt.Fprintf(w, "%s polls:\t%d (%d skipped: previous request still outstanding, %d failed)\n", k, ks.Polls, ks.Skipped, ks.Errors)
				}
			}
			if ks, ok := st.Kinds["probe"]; ok {
				fmt.Fprintf(w, "tunnel probes:\t%d paths, %d publications of the prober\n", st.SeriesByKind["probe"], ks.Polls)
			}
			fmt.Fprintf(w, "flow entries:\t%d processed, %d duplicates\n", st.FlowEntries, st.Duplicates)
			fmt.Fprintf(w, "counters:\t%d resets, %d 64-bit wraps, %d unbelievable rates dropped, %d port renames\n", st.Resets, st.Wraps, st.Absurd, st.Renames)
			fmt.Fprintf(w, "series:\t%d of at most %d (ports %d, flows %d, tables %d, groups %d, tunnel paths %d); %d refused, %d evicted\n", st.Series, st.MaxSeries,
				st.SeriesByKind["port"], st.SeriesByKind["flow"], st.SeriesByKind["table"], st.SeriesByKind["group"], st.SeriesByKind["probe"], st.SeriesRefused, st.SeriesEvicted)
			fmt.Fprintf(w, "memory:\t%.1f MiB (estimate)\n", float64(st.MemoryBytes)/(1<<20))
			fmt.Fprintf(w, "stream:\t%d subscribers, %d samples dropped for slow subscribers\n", st.StreamSubscribers, st.StreamDropped)
			for _, sw := range st.Switches {
				state := "connected"
				if !sw.Connected {
					state = "disconnected"
				}
				fmt.Fprintf(w, "switch %s:\t%s", sw.DPID, state)
				for _, k := range []string{"port", "flow", "table", "group"} {
					if ks, ok := sw.Kinds[k]; ok {
						fmt.Fprintf(w, "; %s %d series, last poll %.1f ms", k, ks.Series, ks.LastDurationMs)
						if ks.WithHistory != nil && ks.IntervalS != nil && ks.Deferred != nil {
							fmt.Fprintf(w, " (%d with a history; polled every %s, %d ticks yielded to the switch)", *ks.WithHistory, seconds(*ks.IntervalS), *ks.Deferred)
						}
						if ks.LastError != "" {
							fmt.Fprintf(w, " (last error: %s)", ks.LastError)
						}
					}
				}
				fmt.Fprintln(w)
			}
		})
	}
}

func setupAlerts(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	state := fs.String("state", "", "only alerts in this `state`: pending or firing")
	severity := fs.String("severity", "", "only alerts of this `severity`: info, warning or critical")
	rule := fs.String("rule", "", "only alerts of this rule (`NAME`)")
	limit := fs.Int("limit", 0, "history: the last `N` events only")
	return func(ctx context.Context, s *session, args []string) error {
		if len(args) == 1 {
			if args[0] != "history" {
				return fmt.Errorf("unknown argument %q; want satellite alerts [history]", args[0])
			}
			if *state != "" || *severity != "" {
				return errors.New("--state and --severity select active alerts, not the history")
			}
			events, err := s.cl.AlertHistory(ctx, *rule, *limit)
			if err != nil {
				return err
			}
			return s.print(events, func(w io.Writer) {
				if len(events) == 0 {
					fmt.Fprintln(w, "no alerts have fired")
					return
				}
				fmt.Fprintln(w, "TIME\tEVENT\tSEVERITY\tRULE\tSERIES\tVALUE\tDETAIL")
				for _, ev := range events {
					a := ev.Alert
					detail := a.Message
					if ev.Kind == alerts.StateResolved {
						detail = a.Reason
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.Local().Format(time.RFC3339), ev.Kind, a.Severity, a.Rule,
						a.Series, siValue(a.Value), detail)
				}
			})
		}
		if *limit != 0 {
			return errors.New("--limit applies to the history: satellite alerts history --limit N")
		}
		active, err := s.cl.Alerts(ctx, client.AlertQuery{State: *state, Severity: *severity, Rule: *rule})
		if err != nil {
			return err
		}
		return s.print(active, func(w io.Writer) {
			if len(active) == 0 {
				fmt.Fprintln(w, "no active alerts")
				return
			}
			fmt.Fprintln(w, "STATE\tSEVERITY\tRULE\tSERIES\tVALUE\tCONDITION\tSINCE\tLABELS")
			for _, a := range active {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s %s\t%s ago\t%s\n", a.State, a.Severity, a.Rule, a.Series, siValue(a.Value),
					a.Op, siValue(a.Threshold), age(time.Since(a.Since)), labelString(a.Labels))
			}
		})
	}
}

func labelString(l map[string]string) string {
	var out []string
	for k, v := range l {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return orDash(strings.Join(out, ","))
}

func selectorString(s alerts.Selector) string {
	var parts []string
	if s.DPID != "" {
		parts = append(parts, "dpid="+s.DPID)
	}
	if s.Port != nil {
		parts = append(parts, fmt.Sprintf("port=%d", *s.Port))
	}
	if s.Network != nil {
		parts = append(parts, fmt.Sprintf("network=%d", *s.Network))
	}
	if s.Owner != "" {
		parts = append(parts, "owner="+s.Owner)
	}
	if s.Event != "" {
		parts = append(parts, "event="+s.Event)
	}
	if s.Remote != "" {
		parts = append(parts, "remote="+s.Remote)
	}
	if s.Path != nil {
		parts = append(parts, fmt.Sprintf("path=%d", *s.Path))
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ",")
}

func threshold(t *alerts.Threshold) string {
	if t == nil {
		return "-"
	}
	return siValue(float64(*t))
}

func setupRulesList(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, _ []string) error {
		rules, err := s.cl.AlertRules(ctx)
		if err != nil {
			return err
		}
		return s.print(rules, func(w io.Writer) {
			if len(rules) == 0 {
				fmt.Fprintln(w, "no rules (satellite rules add, or alerts.rules in the config file)")
				return
			}
			fmt.Fprintln(w, "NAME\tMETRIC\tSELECTOR\tCONDITION\tFOR\tCLEAR\tSEVERITY\tSOURCE\tSTATUS")
			var skipped []alerts.RuleInfo
			for _, r := range rules {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s %s\t%s\t%s\t%s\t%s\t%s\n", r.Name, orDash(r.Metric), selectorString(r.Selector), orDash(r.Op), threshold(r.Value),
					time.Duration(r.For), threshold(r.Clear), orDash(r.Severity), r.Source, orDash(r.Status))
				if r.Status == alerts.StatusSkipped {
					skipped = append(skipped, r)
				}
			}
			for _, r := range skipped {
				fmt.Fprintf(w, "\nstored rule %s is skipped: %s\n  satellite rules delete %s removes it; satellite rules add --replace replaces it\n", r.Name, r.Problem, r.Name)
			}
		})
	}
}

func printRule(w io.Writer, r alerts.RuleInfo) {
	fmt.Fprintf(w, "name:\t%s\n", r.Name)
	fmt.Fprintf(w, "metric:\t%s\n", r.Metric)
	fmt.Fprintf(w, "selector:\t%s\n", selectorString(r.Selector))
	fmt.Fprintf(w, "fires when:\t%s %s %s for %s\n", r.Metric, r.Op, threshold(r.Value), time.Duration(r.For))
	fmt.Fprintf(w, "clears when:\tno longer %s %s\n", r.Op, threshold(r.Clear))
	fmt.Fprintf(w, "severity:\t%s\n", r.Severity)
	fmt.Fprintf(w, "labels:\t%s\n", labelString(r.Labels))
	if r.Description != "" {
		fmt.Fprintf(w, "description:\t%s\n", r.Description)
	}
	fmt.Fprintf(w, "source:\t%s\n", r.Source)
	fmt.Fprintf(w, "status:\t%s\n", orDash(r.Status))
	if r.Problem != "" {
		fmt.Fprintf(w, "problem:\t%s\n", r.Problem)
	}
}

func setupRulesShow(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, args []string) error {
		r, err := s.cl.AlertRule(ctx, args[0])
		if err != nil {
			return err
		}
		return s.print(r, func(w io.Writer) { printRule(w, r) })
	}
}

func setupRulesDelete(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, args []string) error {
		r, err := s.cl.DeleteAlertRule(ctx, args[0])
		if err != nil {
			return err
		}
		return s.print(r, func(w io.Writer) { fmt.Fprintf(w, "deleted rule %s\n", r.Name) })
	}
}

// labelsFlag collects repeated --label k=v.
type labelsFlag map[string]string

func (l labelsFlag) String() string { return labelString(l) }

func (l labelsFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return errors.New("want KEY=VALUE")
	}
	l[k] = v
	return nil
}

// opWords lets operators be written without shell quoting.
var opWords = map[string]string{"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "==", "ne": "!="}

func setupRulesAdd(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	file := fs.String("f", "", "read rules from `FILE` (YAML or JSON: one rule, a list, or {rules: [...]}); - is stdin")
	replace := fs.Bool("replace", false, "replace rules that exist instead of failing")
	name := fs.String("name", "", "rule `name`")
	metric := fs.String("metric", "", "`metric` to watch (port_tx_bps, flow_bps, switch_down, ...; GET /api/v1/alerts/metrics lists them)")
	op := fs.String("op", "", "`operator`: > >= < <= == != (or gt ge lt le eq ne)")
	value := fs.String("value", "", "threshold `V` (800M, 1.5G, 10k, 90)")
	clear := fs.String("clear", "", "clear threshold `V` (default: the value)")
	forDur := fs.Duration("for", 0, "how long the condition must hold before the alert fires (`duration`)")
	severity := fs.String("severity", "", "`severity`: info, warning (default) or critical")
	dpid := fs.String("dpid", "", "only this switch (`DPID`)")
	port := newOpt(fs, "port", 1<<32-1, "only this `port`")
	network := newOpt(fs, "network", controller.MaxScope, "only flows of this virtual `network`")
	owner := fs.String("owner", "", "only flows of this owner `kind`")
	event := fs.String("event", "", "security_events: only this event `kind` (lldp-forged, ...)")
	remote := fs.String("remote", "", "probe metrics: only tunnel paths to this host (`DPID`; --dpid selects the near host)")
	path := newOpt(fs, "path", 255, "probe metrics: only this underlay `path` (1, 2)")
	description := fs.String("description", "", "free `text`")
	labels := labelsFlag{}
	fs.Var(labels, "label", "`KEY=VALUE` added to the rule's alerts (repeatable)")
	return func(ctx context.Context, s *session, _ []string) error {
		var rules []alerts.Rule
		if *file != "" {
			if *name != "" || *metric != "" {
				return errors.New("give rules either with -f FILE or with flags, not both")
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
			if rules, err = alerts.ParseRules(b); err != nil {
				return fmt.Errorf("%s: %v", *file, err)
			}
		} else {
			r := alerts.Rule{Name: *name, Metric: *metric, Op: *op, For: alerts.Duration(*forDur), Severity: *severity, Description: *description,
				Selector: alerts.Selector{DPID: *dpid, Port: port.u32(), Network: network.u32(), Owner: *owner, Event: *event, Remote: *remote}}
			if path.set {
				p := int(path.v)
				r.Selector.Path = &p
			}
			if sym, ok := opWords[r.Op]; ok {
				r.Op = sym
			}
			for _, th := range []struct {
				flag, text string
				dst        **alerts.Threshold
			}{{"--value", *value, &r.Value}, {"--clear", *clear, &r.Clear}} {
				if th.text == "" {
					continue
				}
				t, err := alerts.ParseThreshold(th.text)
				if err != nil {
					return fmt.Errorf("%s: %v", th.flag, err)
				}
				*th.dst = &t
			}
			if len(labels) > 0 {
				r.Labels = labels
			}
			rules = []alerts.Rule{r}
		}
		// Check every rule locally first (the same errors as the server),
		// so a file with a bad rule adds none.
		for i, r := range rules {
			if err := r.Validate(); err != nil {
				if len(rules) > 1 {
					return fmt.Errorf("rule %d (%s): %v", i+1, orDash(r.Name), err)
				}
				return err
			}
		}
		var added []alerts.RuleInfo
		for _, r := range rules {
			var ri alerts.RuleInfo
			var err error
			if *replace {
				ri, err = s.cl.PutAlertRule(ctx, r)
			} else {
				ri, err = s.cl.AddAlertRule(ctx, r)
			}
			var ae *client.APIError
			if errors.As(err, &ae) && ae.Status == 409 && !*replace && !strings.Contains(ae.Message, "configuration file") {
				err = fmt.Errorf("%v (use --replace to replace it)", err)
			}
			if err != nil {
				if len(added) > 0 {
					return fmt.Errorf("rule %s: %v (%d rule(s) before it were added)", r.Name, err, len(added))
				}
				return err
			}
			added = append(added, ri)
		}
		return s.print(added, func(w io.Writer) {
			for _, r := range added {
				fmt.Fprintf(w, "added rule %s: %s %s %s for %s\n", r.Name, r.Metric, r.Op, threshold(r.Value), time.Duration(r.For))
			}
		})
	}
}
