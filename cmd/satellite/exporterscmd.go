package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

func setupExporters(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, _ []string) error {
		st, err := s.cl.Exporters(ctx)
		if err != nil {
			return err
		}
		return s.print(st, func(w io.Writer) {
			if len(st.Exporters) == 0 {
				fmt.Fprintln(w, "no push exporters configured")
			} else {
				fmt.Fprintln(w, "NAME\tKIND\tTARGET\tSTATE\tQUEUED\tDELIVERED\tDROPPED\tREJECTED\tERROR")
				for _, e := range st.Exporters {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", e.Name, e.Kind, e.Target, e.State, e.Queued, e.Delivered, e.Dropped, e.Rejected, orDash(e.Error))
				}
			}
			if st.Metrics != nil {
				fmt.Fprintf(w, "prometheus:\t%s (%d series)\n", st.Metrics.Path, st.Metrics.Series)
			}
		})
	}
}
