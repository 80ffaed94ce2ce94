package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
)

func setupWatch(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	topics := fs.String("topics", "", "comma separated `topics`: topology, metrics, flows, alerts (default: the server's)")
	since := fs.Uint64("since", 0, "resume after this `version` (with --epoch)")
	epoch := fs.String("epoch", "", "the server run (`epoch`) the version belongs to, from the stream's hello")
	count := fs.Int("count", 0, "stop after `N` messages (0: follow until interrupted)")
	return func(ctx context.Context, s *session, _ []string) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		n := 0
		return s.cl.Watch(ctx, *topics, *since, *epoch, func(msg json.RawMessage) error {
			if _, err := fmt.Fprintf(s.out, "%s\n", msg); err != nil {
				return err
			}
			if n++; *count > 0 && n >= *count {
				cancel()
			}
			return nil
		})
	}
}

func setupOpenAPI(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	return func(ctx context.Context, s *session, _ []string) error {
		doc, err := s.cl.OpenAPI(ctx)
		if err != nil {
			return err
		}
		return s.print(doc, func(w io.Writer) { fmt.Fprintf(w, "%s\n", doc) })
	}
}
