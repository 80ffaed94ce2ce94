package core

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/satellite-sdn/satellite/cluster"
	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/vnet"
)

// openState opens where the virtual networks and the DHCP leases are
// kept: the state file (the default), or with a cluster section the
// cluster's etcd, shared with the other instances; then a's Cluster is
// this instance's part in the switch mastership (docs/cluster.md).
func (a *Core) openState(cfg config.Config, log *slog.Logger, ctl *controller.Controller) (vnet.Store, string, error) {
	if !cfg.Cluster.Enabled() {
		store, err := vnet.OpenBolt(cfg.StateFile)
		if err != nil {
			return nil, "", fmt.Errorf("state_file: %w", err)
		}
		a.Add("state file", nil, store.Close) // after the Manager has stopped: it may be storing a lease
		return store, cfg.StateFile, nil
	}
	cli, err := cluster.Dial(cfg.Cluster)
	if err != nil {
		return nil, "", fmt.Errorf("cluster.etcd: %w", err)
	}
	a.Add("etcd client", nil, cli.Close)
	store, err := cluster.OpenStore(cli, cfg.Cluster.Name, cluster.StoreOptions{Logger: log})
	if err != nil {
		return nil, "", err
	}
	a.Add("cluster state", nil, store.Close)
	a.Cluster = cluster.NewMember(cli, ctl, cluster.MemberOptions{Cluster: cfg.Cluster.Name, Instance: cfg.Cluster.InstanceName(),
		Lease: time.Duration(cfg.Cluster.Lease), API: cfg.HTTP.Addr, Logger: log})
	a.Add("cluster mastership", until(a.Cluster.Run), nil)
	log.Info("cluster", "name", cfg.Cluster.Name, "instance", a.Cluster.Name(), "etcd", cfg.Cluster.Etcd, "lease", cfg.Cluster.Lease)
	return store, "none (etcd cluster " + cfg.Cluster.Name + ")", nil
}
