package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/satellite-sdn/satellite/vnet"
)

// Moved says what Import or Export moved.
type Moved struct {
	Revision uint64 `json:"revision"`
	Networks int    `json:"networks"`
	Leases   int    `json:"leases"`
}

// Import writes the configuration (keeping its revision) and the leases
// of src, a state file, into the cluster's store. A cluster that already
// has a configuration is left alone unless replace is set; with replace
// its leases are deleted first.
func (s *Store) Import(src vnet.Store, replace bool) (Moved, error) {
	c, rev, err := src.Load()
	if err != nil {
		return Moved{}, fmt.Errorf("reading the state file: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Moved{}, fmt.Errorf("the state file's configuration is invalid, not imported: %w", err)
	}
	leases, err := src.Leases()
	if err != nil {
		return Moved{}, fmt.Errorf("reading the state file's leases: %w", err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return Moved{}, err
	}
	revKey := s.root + "revision"
	ops := []clientv3.Op{clientv3.OpPut(s.root+"config", string(b)), clientv3.OpPut(revKey, strconv.FormatUint(rev, 10))}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	txn := s.cli.Txn(ctx)
	if !replace {
		txn = txn.If(clientv3.Compare(clientv3.CreateRevision(revKey), "=", 0))
	} else {
		ops = append([]clientv3.Op{clientv3.OpDelete(s.root+"leases/", clientv3.WithPrefix())}, ops...)
	}
	resp, err := txn.Then(ops...).Commit()
	if err != nil {
		return Moved{}, fmt.Errorf("etcd: %w", err)
	}
	if !resp.Succeeded {
		_, cur, _ := s.Load()
		return Moved{}, fmt.Errorf("the cluster already has a configuration (revision %d); nothing imported: add --replace to overwrite it and its leases", cur)
	}
	if err := s.UpdateLeases(leases, nil); err != nil {
		return Moved{}, fmt.Errorf("the configuration is imported, the leases are not (import again with --replace): %w", err)
	}
	return Moved{Revision: rev, Networks: len(c.Networks), Leases: len(leases)}, nil
}

// Export writes the cluster's configuration (keeping its revision) and
// leases into dst, a state file, replacing what it holds.
func (s *Store) Export(dst *vnet.BoltStore) (Moved, error) {
	c, rev, err := s.Load()
	if err != nil {
		return Moved{}, err
	}
	leases, err := s.Leases()
	if err != nil {
		return Moved{}, err
	}
	if err := dst.Restore(c, rev, leases); err != nil {
		return Moved{}, fmt.Errorf("writing the state file: %w", err)
	}
	return Moved{Revision: rev, Networks: len(c.Networks), Leases: len(leases)}, nil
}
