package core

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/controller"
	"github.com/satellite-sdn/satellite/lldp"
	"github.com/satellite-sdn/satellite/topology"
)

// DisplayAddr turns a wildcard listen address into one a client can use.
func DisplayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// logOpenFlowListener logs where an OpenFlow listener really listens, and
// warns when plain TCP is reachable from other machines with no source
// list: any host that reaches it can then claim a switch's datapath.
func logOpenFlowListener(log *slog.Logger, target string, ln net.Listener, sources bool) {
	addr, scope := controller.DescribeListener(ln)
	log.Info("openflow listening", "target", target, "addr", addr, "on", scope)
	n, path, _ := strings.Cut(target, ":")
	if (n == "tcp" || n == "ptcp") && scope != "loopback only" && !sources {
		log.Warn("openflow: plain TCP reachable from other machines: any host that reaches it can speak for a switch; use an ssl: target with openflow_tls, or openflow_access.sources", "target", target, "addr", addr)
	}
	if n == "unix" || n == "punix" {
		if dir, outside := outsideOVSRunDir(path); outside {
			log.Warn("openflow: this machine's Open vSwitch connects only to unix sockets in its run directory and refuses this one (\"possibility for remote exploit\"): its bridges will not appear. Put the socket there, or a symbolic link to it, and point the bridges at that (an OVS with its own run directory, like satlab's, needs the link in its directory)",
				"socket", path, "ovs_rundir", dir, "example", "ln -s "+path+" "+filepath.Join(dir, "satellite.sock")+"; ovs-vsctl set-controller BRIDGE unix:"+filepath.Join(dir, "satellite.sock"))
		}
	}
}

// outsideOVSRunDir reports whether a unix socket path lies outside the
// run directory of the system's Open vSwitch ($OVS_RUNDIR, else
// /var/run/openvswitch, which is /run/openvswitch on Debian), where
// ovs-vswitchd refuses to connect to it.
func outsideOVSRunDir(path string) (string, bool) {
	dir := os.Getenv("OVS_RUNDIR")
	if dir == "" {
		dir = "/var/run/openvswitch"
	}
	if _, err := os.Stat(filepath.Join(dir, "db.sock")); err != nil {
		return dir, false // no Open vSwitch runs from there
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return dir, false
	}
	for _, d := range []string{dir, "/run/openvswitch"} {
		if rel, err := filepath.Rel(d, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return dir, false
		}
	}
	return dir, true
}

// recordSecurityEvents puts the controller's security events (refused
// switch connections, datapath conflicts) into the topology's event log,
// where the API, `satellite events` and the security_events alert metric
// see them.
func recordSecurityEvents(ctx context.Context, ctl *controller.Controller, model *topology.Model) {
	sub := ctl.Bus().Subscribe(256, controller.Security)
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.C:
			if !ok {
				return
			}
			model.AddEvent(topology.Event{Kind: e.Security.Kind, Time: e.Time, DPID: topology.DPID(e.DPID),
				Message: e.Security.Message + " (from " + e.Security.Remote + ")"})
		}
	}
}

// lldpSigner returns the LLDP signer: the key of discovery.secret_file,
// else in a cluster the cluster's key in etcd (shared by its instances,
// docs/cluster.md), else a random one.
func (a *Core) lldpSigner(cfg config.Config) (*lldp.Signer, error) {
	file := cfg.Discovery.SecretFile
	if file == "" && a.etcd != nil {
		return clusterSigner(a.etcd, cfg.Cluster)
	}
	if file == "" {
		return lldp.NewRandomSigner(), nil
	}
	key, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("discovery.secret_file: %w", err)
	}
	s, err := lldp.NewSigner([]byte(strings.TrimSpace(string(key))))
	if err != nil {
		return nil, fmt.Errorf("discovery.secret_file %s: %w", file, err)
	}
	return s, nil
}

// traceMaxAge converts vnet.trace_max_age: 0s means always read the tables.
func traceMaxAge(d config.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return time.Duration(d)
}
