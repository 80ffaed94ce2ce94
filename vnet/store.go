package vnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/satellite-sdn/satellite/internal/boltfile"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store keeps the intended configuration and the DHCP leases. The default
// is a single bbolt file; a distributed store (etcd, for controller
// clusters) implements the same interface with a compare-and-swap on the
// revision (see docs/vnet.md).
type Store interface {
	// Load returns the stored configuration and its revision (0 when empty).
	Load() (Config, uint64, error)
	// Save replaces the configuration if the stored revision is still
	// prev, and returns the new revision.
	Save(c Config, prev uint64) (uint64, error)
	// Leases returns every DHCP lease record. A record is one address of
	// a network: at most one per network and IP.
	Leases() ([]Lease, error)
	// UpdateLeases replaces the records of the addresses in save and
	// deletes those of the addresses in remove (by Network and IP), all
	// or nothing.
	UpdateLeases(save, remove []Lease) error
	Close() error
}

// Watcher is implemented by a Store that several controllers share
// (cluster.Store on etcd): Changed receives when another one changed the
// stored configuration or leases, and the Manager then reloads them and
// converges its switches. The bbolt store is not shared and has none.
type Watcher interface {
	Changed() <-chan struct{}
}

// Lease is the record of one address of a network's DHCP range: who has
// (or last had) it and in which state (see LeaseState and docs/vnet.md).
type Lease struct {
	Network string `json:"network"`
	// MAC is the client that has the address, or had it last (the
	// address is offered to it again first); for a declined address, the
	// client that declined it.
	MAC string `json:"mac"`
	IP  string `json:"ip"`
	// Expires is the end of the lease (offered, bound, expired), when it
	// was released (released), or the end of the quarantine (declined).
	Expires time.Time `json:"expires"`
	// State is what is stored: offered, bound, expired, released or
	// declined ("" in schema 1 files: bound). StateAt gives the state at a
	// given time (a bound lease past its end is in grace, then expired).
	State LeaseState `json:"state,omitempty"`
}

// ErrConflict means the configuration changed since it was read.
var ErrConflict = errors.New("the configuration changed meanwhile; reload and try again")

// SchemaVersion is the version of the stored layout. A file written by a
// newer Satellite is refused rather than misread; an older one is
// migrated when it is opened.
//
//	1: leases keyed "network/mac", every lease bound
//	2: leases keyed "network/ip" with a state (offered, bound, expired,
//	   released, declined): expired and released addresses are remembered
//	   for their last client, declined ones are quarantined
const SchemaVersion = 2

var (
	bucketMeta   = []byte("meta")
	bucketLeases = []byte("leases")
	keySchema    = []byte("schema")
	keyConfig    = []byte("config")
	keyRevision  = []byte("revision")
)

// BoltStore is the single-file store.
type BoltStore struct {
	db *bolt.DB
}

// OpenBolt opens (or creates) the store file.
func OpenBolt(path string) (*BoltStore, error) {
	db, err := boltfile.Open(path, boltfile.Schema{What: "state store", Version: SchemaVersion, Buckets: []string{string(bucketLeases)},
		Migrate: map[string]func(*bolt.Tx) error{"1": func(tx *bolt.Tx) error { return migrateLeasesV1(tx.Bucket(bucketLeases)) }}})
	if err != nil {
		return nil, err
	}
	return &BoltStore{db: db}, nil
}

// Load implements Store.
func (s *BoltStore) Load() (Config, uint64, error) {
	var c Config
	var rev uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if b := meta.Get(keyRevision); b != nil {
			fmt.Sscan(string(b), &rev)
		}
		if b := meta.Get(keyConfig); b != nil {
			return json.Unmarshal(b, &c)
		}
		return nil
	})
	return c, rev, err
}

// Save implements Store.
func (s *BoltStore) Save(c Config, prev uint64) (uint64, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return 0, err
	}
	var rev uint64
	err = s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyRevision); v != nil {
			fmt.Sscan(string(v), &rev)
		}
		if rev != prev {
			return ErrConflict
		}
		rev++
		if err := meta.Put(keyConfig, b); err != nil {
			return err
		}
		return meta.Put(keyRevision, []byte(fmt.Sprint(rev)))
	})
	return rev, err
}

func leaseKey(network, ip string) []byte { return []byte(network + "/" + ip) }

// migrateLeasesV1 rekeys schema 1 leases (network/mac, all bound) by
// address (network/ip) with the state bound. Two leases of one address
// (which schema 1 never wrote) keep the one that lasts longer. A record
// that does not decode stops the migration (the file stays as it was).
func migrateLeasesV1(b *bolt.Bucket) error {
	keep := map[string]Lease{}
	var old [][]byte
	err := b.ForEach(func(k, v []byte) error {
		old = append(old, append([]byte(nil), k...))
		var l Lease
		if err := json.Unmarshal(v, &l); err != nil || l.Network == "" || l.IP == "" {
			return fmt.Errorf("lease %q does not decode: %v", k, err)
		}
		if l.State == "" {
			l.State = LeaseBound
		}
		key := string(leaseKey(l.Network, l.IP))
		if prev, ok := keep[key]; !ok || l.Expires.After(prev.Expires) {
			keep[key] = l
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	for k, l := range keep {
		v, err := json.Marshal(l)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

// Leases implements Store.
func (s *BoltStore) Leases() ([]Lease, error) {
	var out []Lease
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLeases).ForEach(func(_, v []byte) error {
			var l Lease
			if err := json.Unmarshal(v, &l); err != nil {
				return err
			}
			out = append(out, l)
			return nil
		})
	})
	return out, err
}

// UpdateLeases implements Store: one transaction.
func (s *BoltStore) UpdateLeases(save, remove []Lease) error {
	vals := make([][]byte, len(save))
	for i, l := range save {
		b, err := json.Marshal(l)
		if err != nil {
			return err
		}
		vals[i] = b
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLeases)
		for _, l := range remove {
			if err := b.Delete(leaseKey(l.Network, l.IP)); err != nil {
				return err
			}
		}
		for i, l := range save {
			if err := b.Put(leaseKey(l.Network, l.IP), vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Restore replaces everything the file holds with c as revision rev and
// exactly the leases given, in one transaction (satellite cluster export
// writes a cluster's state this way, keeping its revision).
func (s *BoltStore) Restore(c Config, rev uint64, leases []Lease) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyConfig, b); err != nil {
			return err
		}
		if err := meta.Put(keyRevision, []byte(fmt.Sprint(rev))); err != nil {
			return err
		}
		if err := tx.DeleteBucket(bucketLeases); err != nil {
			return err
		}
		lb, err := tx.CreateBucket(bucketLeases)
		if err != nil {
			return err
		}
		for _, l := range leases {
			v, err := json.Marshal(l)
			if err != nil {
				return err
			}
			if err := lb.Put(leaseKey(l.Network, l.IP), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// SaveLease stores one lease record (replacing the one of its address).
func (s *BoltStore) SaveLease(l Lease) error { return s.UpdateLeases([]Lease{l}, nil) }

// DeleteLease deletes the record of an address.
func (s *BoltStore) DeleteLease(network, ip string) error {
	return s.UpdateLeases(nil, []Lease{{Network: network, IP: ip}})
}

// Close implements Store.
func (s *BoltStore) Close() error { return s.db.Close() }
