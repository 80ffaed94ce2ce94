package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Status is the state of a cluster as etcd holds it (satellite cluster
// status, GET /api/v1/cluster).
type Status struct {
	Cluster   string           `json:"cluster"`
	Instances []InstanceStatus `json:"instances"`
	Switches  []SwitchStatus   `json:"switches"`
	Etcd      []EtcdMember     `json:"etcd"`
	// Revision is the etcd revision the status was read at.
	Revision int64 `json:"revision"`
}

// InstanceStatus is one registered instance.
type InstanceStatus struct {
	Name    string    `json:"name"`
	API     string    `json:"api,omitempty"`
	Started time.Time `json:"started"`
	// LeaseTTL is what is left of the instance's lease (it is renewed
	// every third of it; an instance that stops answering is gone when
	// it reaches 0); LeaseID is the lease, in hex.
	LeaseTTL float64 `json:"lease_ttl_seconds"`
	LeaseID  string  `json:"lease_id"`
	// Masters counts the switches it masters, Connected those it is
	// connected to.
	Masters   int `json:"masters"`
	Connected int `json:"connected"`
}

// SwitchStatus is one switch connected to some instance.
type SwitchStatus struct {
	DPID string `json:"dpid"`
	// Master is the instance that masters it ("" when none does: a
	// switch being taken over).
	Master string `json:"master"`
	// Generation is the OpenFlow role generation id of the mastership.
	Generation uint64   `json:"generation,omitempty"`
	Connected  []string `json:"connected"`
}

// EtcdMember is the health of one etcd endpoint.
type EtcdMember struct {
	Endpoint string `json:"endpoint"`
	Healthy  bool   `json:"healthy"`
	Leader   bool   `json:"leader"`
	Version  string `json:"version,omitempty"`
	DBSize   int64  `json:"db_size,omitempty"`
	RaftTerm uint64 `json:"raft_term,omitempty"`
	Error    string `json:"error,omitempty"`
}

// ReadStatus reads the cluster's state from etcd, and the health of each
// endpoint given.
func ReadStatus(ctx context.Context, cli *clientv3.Client, name string, endpoints []string) (Status, error) {
	st := Status{Cluster: name, Instances: []InstanceStatus{}, Switches: []SwitchStatus{}, Etcd: []EtcdMember{}}
	for _, ep := range endpoints {
		em := EtcdMember{Endpoint: ep}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		r, err := cli.Status(sctx, ep)
		cancel()
		if err != nil {
			em.Error = err.Error()
		} else {
			em.Healthy = len(r.Errors) == 0
			em.Leader = r.Header.MemberId == r.Leader
			em.Version, em.DBSize, em.RaftTerm = r.Version, r.DbSize, r.RaftTerm
			if len(r.Errors) > 0 {
				em.Error = strings.Join(r.Errors, "; ")
			}
		}
		st.Etcd = append(st.Etcd, em)
	}
	root := Prefix(name)
	resp, err := cli.Get(ctx, root, clientv3.WithPrefix())
	if err != nil {
		return st, fmt.Errorf("etcd: %w", err)
	}
	st.Revision = resp.Header.Revision
	insts := map[string]*InstanceStatus{}
	sw := map[uint64]*SwitchStatus{}
	get := func(dpid uint64) *SwitchStatus {
		if sw[dpid] == nil {
			sw[dpid] = &SwitchStatus{DPID: fmt.Sprintf("%016x", dpid), Connected: []string{}}
		}
		return sw[dpid]
	}
	for _, kv := range resp.Kvs {
		k := strings.TrimPrefix(string(kv.Key), root)
		switch {
		case strings.HasPrefix(k, keyInstances):
			var info InstanceInfo
			_ = json.Unmarshal(kv.Value, &info)
			is := &InstanceStatus{Name: strings.TrimPrefix(k, keyInstances), API: info.API, Started: info.Started, LeaseID: strconv.FormatInt(kv.Lease, 16)}
			if kv.Lease != 0 {
				if ttl, err := cli.TimeToLive(ctx, clientv3.LeaseID(kv.Lease)); err == nil {
					is.LeaseTTL = float64(ttl.TTL)
				}
			}
			insts[is.Name] = is
		case strings.HasPrefix(k, keyConn):
			ds, inst, ok := strings.Cut(strings.TrimPrefix(k, keyConn), "/")
			if d, err := strconv.ParseUint(ds, 16, 64); ok && err == nil {
				s := get(d)
				s.Connected = append(s.Connected, inst)
			}
		case strings.HasPrefix(k, keyMasters):
			if d, err := strconv.ParseUint(strings.TrimPrefix(k, keyMasters), 16, 64); err == nil {
				s := get(d)
				s.Master, s.Generation = string(kv.Value), uint64(kv.CreateRevision)
			}
		}
	}
	for _, s := range sw {
		sort.Strings(s.Connected)
		if is := insts[s.Master]; is != nil {
			is.Masters++
		}
		for _, c := range s.Connected {
			if is := insts[c]; is != nil {
				is.Connected++
			}
		}
		st.Switches = append(st.Switches, *s)
	}
	sort.Slice(st.Switches, func(i, j int) bool { return st.Switches[i].DPID < st.Switches[j].DPID })
	for _, is := range insts {
		st.Instances = append(st.Instances, *is)
	}
	sort.Slice(st.Instances, func(i, j int) bool { return st.Instances[i].Name < st.Instances[j].Name })
	return st, nil
}

// Status reads the cluster's state as this member's cluster (for the
// API).
func (m *Member) Status(ctx context.Context, endpoints []string) (Status, error) {
	return ReadStatus(ctx, m.cli, m.opt.Cluster, endpoints)
}
