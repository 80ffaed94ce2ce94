package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"strings"
	"syscall"

	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/internal/app"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("satellite serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: satellite serve [flags]\n\nRuns the OpenFlow controller and the HTTP API until SIGINT or SIGTERM.\nFlags override $SATELLITE_* variables, which override the config file.\n\n")
		fs.PrintDefaults()
	}
	flags := config.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "satellite serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := flags.Load()
	if err != nil {
		fmt.Fprintf(stderr, "satellite: %s\n", strings.ReplaceAll(err.Error(), "\n", "\nsatellite: "))
		return 1
	}
	log := cfg.Logger(stderr)
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("satellite stopped", "err", err)
		return 1
	}
	return 0
}

// serve runs Satellite (internal/app) until ctx ends or SIGINT/SIGTERM
// arrives; a second signal kills the process the default way.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	ctx, stopSignals := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stopSignals()
	a, err := app.New(cfg, app.Options{Logger: log, Version: version})
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); stopSignals() }()
	return a.Run(ctx)
}
