// Package cluster makes several Satellite instances one controller: their
// state shared in etcd, each switch mastered by one of them
// (docs/cluster.md).
package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/satellite-sdn/satellite/config"
	"github.com/satellite-sdn/satellite/vnet"
)

// Dial connects to the cluster's etcd and checks that it answers.
func Dial(c config.Cluster) (*clientv3.Client, error) {
	timeout := time.Duration(c.DialTimeout)
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Etcd, DialTimeout: timeout, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(c.Etcd, ","), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := cli.Get(ctx, "health-check", clientv3.WithSerializable()); err != nil {
		cli.Close()
		return nil, fmt.Errorf("etcd %s does not answer: %w (is it running and reachable from here? check cluster.etcd)", strings.Join(c.Etcd, ","), err)
	}
	return cli, nil
}

// Prefix is the root of a cluster's keys in etcd.
func Prefix(name string) string { return "/satellite/" + name + "/" }

// Store is vnet.Store on etcd: the virtual network configuration and the
// DHCP leases of one cluster, shared by its instances. Save is a
// compare-and-swap of the revision in one transaction; Changed says when
// another instance changed something (vnet.Watcher).
//
// Keys, under Prefix(name) + "vnet/":
//
//	schema          the layout version (vnet.SchemaVersion)
//	config          the configuration (JSON)
//	revision        its revision (decimal), the one Save compares
//	leases/NET/IP   one lease record (JSON)
type Store struct {
	cli     *clientv3.Client
	root    string
	timeout time.Duration
	log     *slog.Logger
	// MaxTxnOps is the most operations one transaction may hold (etcd's
	// --max-txn-ops, 128 by default): UpdateLeases of more is split.
	maxOps int

	changed chan struct{}
	stop    context.CancelFunc
	done    chan struct{}

	mu  sync.Mutex
	own map[int64]bool // etcd revisions of this store's own writes, not signalled as changes
}

// StoreOptions tunes a Store.
type StoreOptions struct {
	// Timeout bounds each request to etcd (default 5s).
	Timeout time.Duration
	// MaxTxnOps: see Store (default 128).
	MaxTxnOps int
	Logger    *slog.Logger
}

// OpenStore opens the store of cluster name: it writes the schema version
// when the cluster is new, refuses one written by a newer Satellite, and
// starts watching for changes.
func OpenStore(cli *clientv3.Client, name string, opt StoreOptions) (*Store, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = 5 * time.Second
	}
	if opt.MaxTxnOps <= 0 {
		opt.MaxTxnOps = 128
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	s := &Store{cli: cli, root: Prefix(name) + "vnet/", timeout: opt.Timeout, maxOps: opt.MaxTxnOps,
		log: opt.Logger.With("component", "cluster-store"), changed: make(chan struct{}, 1), own: map[int64]bool{}}
	ctx, cancel := s.ctx()
	defer cancel()
	schema := s.root + "schema"
	want := strconv.Itoa(vnet.SchemaVersion)
	resp, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(schema), "=", 0)).
		Then(clientv3.OpPut(schema, want)).Else(clientv3.OpGet(schema)).Commit()
	if err != nil {
		return nil, fmt.Errorf("cluster %s: reading the schema version: %w", name, err)
	}
	if !resp.Succeeded {
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 1 && string(kvs[0].Value) != want {
			return nil, fmt.Errorf("cluster %s: schema version %s in etcd, this Satellite reads version %s: upgrade Satellite", name, kvs[0].Value, want)
		}
	}
	wctx, stop := context.WithCancel(context.Background())
	s.stop, s.done = stop, make(chan struct{})
	go s.watch(wctx, resp.Header.Revision+1)
	return s, nil
}

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

// Load implements vnet.Store: the configuration and its revision, read
// together (0 and an empty configuration when none is stored).
func (s *Store) Load() (vnet.Config, uint64, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	resp, err := s.cli.Txn(ctx).Then(clientv3.OpGet(s.root+"config"), clientv3.OpGet(s.root+"revision")).Commit()
	if err != nil {
		return vnet.Config{}, 0, fmt.Errorf("etcd: %w", err)
	}
	var c vnet.Config
	var rev uint64
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 1 {
		if err := json.Unmarshal(kvs[0].Value, &c); err != nil {
			return vnet.Config{}, 0, fmt.Errorf("etcd %sconfig does not decode: %w", s.root, err)
		}
	}
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) == 1 {
		if rev, err = strconv.ParseUint(string(kvs[0].Value), 10, 64); err != nil {
			return vnet.Config{}, 0, fmt.Errorf("etcd %srevision %q is not a number", s.root, kvs[0].Value)
		}
	}
	return c, rev, nil
}

// Save implements vnet.Store: the configuration is replaced only if the
// stored revision is still prev (vnet.ErrConflict otherwise), in one
// transaction with the new revision.
func (s *Store) Save(c vnet.Config, prev uint64) (uint64, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return 0, err
	}
	revKey := s.root + "revision"
	cmp := clientv3.Compare(clientv3.Value(revKey), "=", strconv.FormatUint(prev, 10))
	if prev == 0 {
		cmp = clientv3.Compare(clientv3.CreateRevision(revKey), "=", 0)
	}
	next := prev + 1
	ctx, cancel := s.ctx()
	defer cancel()
	s.mu.Lock() // the watch must not see this write before it is known as ours
	defer s.mu.Unlock()
	resp, err := s.cli.Txn(ctx).If(cmp).Then(clientv3.OpPut(s.root+"config", string(b)), clientv3.OpPut(revKey, strconv.FormatUint(next, 10))).Commit()
	if err != nil {
		return 0, fmt.Errorf("etcd: %w", err)
	}
	if !resp.Succeeded {
		return 0, vnet.ErrConflict
	}
	s.own[resp.Header.Revision] = true
	return next, nil
}

func (s *Store) leaseKey(network, ip string) string { return s.root + "leases/" + network + "/" + ip }

// Leases implements vnet.Store.
func (s *Store) Leases() ([]vnet.Lease, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	resp, err := s.cli.Get(ctx, s.root+"leases/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	out := make([]vnet.Lease, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var l vnet.Lease
		if err := json.Unmarshal(kv.Value, &l); err != nil {
			return nil, fmt.Errorf("etcd %s does not decode: %w", kv.Key, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// UpdateLeases implements vnet.Store in one transaction. More than
// MaxTxnOps records are written in several, each all or nothing: a
// failure leaves the earlier ones written (every instance then reloads
// what is stored).
func (s *Store) UpdateLeases(save, remove []Lease) error {
	saved := map[string]bool{}
	var ops []clientv3.Op
	for _, l := range save {
		b, err := json.Marshal(l)
		if err != nil {
			return err
		}
		k := s.leaseKey(l.Network, l.IP)
		if saved[k] {
			continue // the first one wins, as in one bbolt transaction the last would: callers give each address once
		}
		saved[k] = true
		ops = append(ops, clientv3.OpPut(k, string(b)))
	}
	for _, l := range remove {
		if k := s.leaseKey(l.Network, l.IP); !saved[k] { // saved again: the put replaces it (etcd refuses both in one transaction)
			saved[k] = true
			ops = append(ops, clientv3.OpDelete(k))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(ops) > 0 {
		n := min(len(ops), s.maxOps)
		ctx, cancel := s.ctx()
		resp, err := s.cli.Txn(ctx).Then(ops[:n]...).Commit()
		cancel()
		if err != nil {
			return fmt.Errorf("etcd: %w", err)
		}
		s.own[resp.Header.Revision] = true
		ops = ops[n:]
	}
	return nil
}

// Lease is vnet.Lease.
type Lease = vnet.Lease

// Changed implements vnet.Watcher: it receives when another instance
// changed the configuration or a lease (several changes may come as one).
func (s *Store) Changed() <-chan struct{} { return s.changed }

// watch signals Changed for every write under the store's keys that is
// not its own, from etcd revision from on, until ctx ends. A watch that
// breaks (lost its leader, etcd unreachable) starts again where it was; one
// that etcd compacted past starts from now and signals once, since changes
// were missed.
func (s *Store) watch(ctx context.Context, from int64) {
	defer close(s.done)
	for ctx.Err() == nil {
		wc := s.cli.Watch(clientv3.WithRequireLeader(ctx), s.root, clientv3.WithPrefix(), clientv3.WithRev(from))
		compacted := false
		for resp := range wc {
			if err := resp.Err(); err != nil {
				compacted = resp.CompactRevision > 0
				s.log.Warn("watching the shared state broke; watching again", "err", err, "compacted", compacted)
				break
			}
			from = resp.Header.Revision + 1
			foreign := false
			s.mu.Lock()
			for _, ev := range resp.Events { // one write (one revision) may be several events
				if !s.own[ev.Kv.ModRevision] {
					foreign = true
				}
			}
			for _, ev := range resp.Events {
				delete(s.own, ev.Kv.ModRevision)
			}
			if len(s.own) > 4096 { // writes whose events never came (a request that timed out): at worst a reload
				clear(s.own)
			}
			s.mu.Unlock()
			if foreign {
				s.signal()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
		if compacted {
			rctx, cancel := context.WithTimeout(ctx, s.timeout)
			resp, err := s.cli.Get(rctx, s.root+"schema")
			cancel()
			if err != nil {
				continue // compacted stays true: try again
			}
			from = resp.Header.Revision + 1
			s.mu.Lock()
			clear(s.own)
			s.mu.Unlock()
			s.signal() // what changed before from is reloaded whole
		}
	}
}

func (s *Store) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Close implements vnet.Store: it stops watching (the etcd client stays
// open: its owner closes it).
func (s *Store) Close() error {
	s.stop()
	<-s.done
	return nil
}
