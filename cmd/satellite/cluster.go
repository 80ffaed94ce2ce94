package main

// satellite cluster import|export|status: moving the state between the
// state file and a cluster's etcd, and the cluster's state
// (docs/cluster.md). They read the cluster section of the configuration
// file and talk to etcd directly, not to a server.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/cluster"
	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/vnet"
)

type clusterFlags struct{ config, stateFile *string }

func addClusterFlags(fs *flag.FlagSet, stateUsage string) clusterFlags {
	return clusterFlags{
		config:    fs.String("config", "", "configuration `file` with the cluster section (default $"+config.EnvConfig+")"),
		stateFile: fs.String("state-file", "", stateUsage),
	}
}

// open loads the configuration, checks its cluster section and opens the
// cluster's store; close releases it.
func (f clusterFlags) open() (cfg config.Config, st *cluster.Store, closeFn func(), err error) {
	cfg, err = config.Load(*f.config)
	if err != nil {
		return cfg, nil, nil, err
	}
	if *f.stateFile != "" {
		cfg.StateFile = *f.stateFile
	}
	if !cfg.Cluster.Enabled() {
		if cfg.File() == "none" {
			return cfg, nil, nil, fmt.Errorf("no cluster configured: give the configuration file with its cluster section (--config FILE or $%s; docs/cluster.md)", config.EnvConfig)
		}
		return cfg, nil, nil, fmt.Errorf("no cluster configured in %s: add cluster: {name: NAME, etcd: [URL, ...]} (docs/cluster.md)", cfg.File())
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, nil, err
	}
	cli, err := cluster.Dial(cfg.Cluster)
	if err != nil {
		return cfg, nil, nil, err
	}
	st, err = cluster.OpenStore(cli, cfg.Cluster.Name, cluster.StoreOptions{})
	if err != nil {
		cli.Close()
		return cfg, nil, nil, err
	}
	return cfg, st, func() { st.Close(); cli.Close() }, nil
}

func printMoved(s *session, verb string, m cluster.Moved, from, to string) error {
	return s.print(m, func(w io.Writer) {
		fmt.Fprintf(w, "%s %s -> %s: revision %d, %d networks, %d leases\n", verb, from, to, m.Revision, m.Networks, m.Leases)
	})
}

func setupClusterImport(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	f := addClusterFlags(fs, "the state `file` to import (default $"+config.EnvStateFile+" or the config's state_file)")
	replace := fs.Bool("replace", false, "overwrite a configuration the cluster already has, and its leases")
	return func(ctx context.Context, s *session, args []string) error {
		cfg, st, closeStore, err := f.open()
		if err != nil {
			return err
		}
		defer closeStore()
		if _, err := os.Stat(cfg.StateFile); err != nil {
			return fmt.Errorf("state file: %w", err)
		}
		src, err := vnet.OpenBolt(cfg.StateFile)
		if err != nil {
			return fmt.Errorf("%w: stop the satellite that uses it before importing", err)
		}
		defer src.Close()
		m, err := st.Import(src, *replace)
		if err != nil {
			return err
		}
		return printMoved(s, "imported", m, cfg.StateFile, "etcd cluster "+cfg.Cluster.Name)
	}
}

func setupClusterExport(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	f := addClusterFlags(fs, "the state `file` to write (default $"+config.EnvStateFile+" or the config's state_file)")
	out := fs.String("f", "", "the state `file` to write (same as --state-file)")
	replace := fs.Bool("replace", false, "overwrite a state file that already holds a configuration")
	return func(ctx context.Context, s *session, args []string) error {
		if *out != "" {
			*f.stateFile = *out
		}
		cfg, st, closeStore, err := f.open()
		if err != nil {
			return err
		}
		defer closeStore()
		dst, err := vnet.OpenBolt(cfg.StateFile)
		if err != nil {
			return err
		}
		defer dst.Close()
		if _, rev, err := dst.Load(); err != nil {
			return err
		} else if rev > 0 && !*replace {
			return fmt.Errorf("%s already holds a configuration (revision %d); nothing exported: add --replace to overwrite it, or -f another file", cfg.StateFile, rev)
		}
		m, err := st.Export(dst)
		if err != nil {
			return err
		}
		return printMoved(s, "exported", m, "etcd cluster "+cfg.Cluster.Name, cfg.StateFile)
	}
}

func setupClusterStatus(fs *flag.FlagSet) func(context.Context, *session, []string) error {
	cfgFile := fs.String("config", "", "configuration `file` with the cluster section (default $"+config.EnvConfig+")")
	return func(ctx context.Context, s *session, args []string) error {
		cfg, err := config.Load(*cfgFile)
		if err != nil {
			return err
		}
		if !cfg.Cluster.Enabled() {
			return fmt.Errorf("no cluster configured: give the configuration file with its cluster section (--config FILE or $%s; docs/cluster.md)", config.EnvConfig)
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
		cli, err := cluster.Dial(cfg.Cluster)
		if err != nil {
			return err
		}
		defer cli.Close()
		st, err := cluster.ReadStatus(ctx, cli, cfg.Cluster.Name, cfg.Cluster.Etcd)
		if err != nil {
			return err
		}
		return s.print(st, func(w io.Writer) { printClusterStatus(w, st) })
	}
}

func printClusterStatus(w io.Writer, st cluster.Status) {
	fmt.Fprintf(w, "CLUSTER\t%s\t(etcd revision %d)\n\n", st.Cluster, st.Revision)
	fmt.Fprintln(w, "INSTANCE\tMASTERS\tCONNECTED\tLEASE LEFT\tSTARTED\tAPI")
	for _, i := range st.Instances {
		fmt.Fprintf(w, "%s\t%d\t%d\t%.0fs\t%s\t%s\n", i.Name, i.Masters, i.Connected, i.LeaseTTL, i.Started.Format(time.RFC3339), orDash(i.API))
	}
	if len(st.Instances) == 0 {
		fmt.Fprintln(w, "(no instance registered)")
	}
	fmt.Fprintln(w, "\nSWITCH\tMASTER\tGENERATION\tCONNECTED")
	for _, sw := range st.Switches {
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", sw.DPID, orDash(sw.Master), sw.Generation, strings.Join(sw.Connected, ","))
	}
	fmt.Fprintln(w, "\nETCD\tHEALTHY\tLEADER\tVERSION\tERROR")
	for _, e := range st.Etcd {
		fmt.Fprintf(w, "%s\t%v\t%v\t%s\t%s\n", e.Endpoint, e.Healthy, e.Leader, orDash(e.Version), orDash(e.Error))
	}
}
