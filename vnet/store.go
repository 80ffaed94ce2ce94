package vnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	// Leases returns every DHCP lease; SaveLease and DeleteLease change one.
	Leases() ([]Lease, error)
	SaveLease(l Lease) error
	DeleteLease(network, mac string) error
	Close() error
}

// Lease is a DHCP lease.
type Lease struct {
	Network string    `json:"network"`
	MAC     string    `json:"mac"`
	IP      string    `json:"ip"`
	Expires time.Time `json:"expires"`
}

// ErrConflict means the configuration changed since it was read.
var ErrConflict = errors.New("the configuration changed meanwhile; reload and try again")

// SchemaVersion is the version of the stored layout. A file written by a
// newer Satellite is refused rather than misread.
const SchemaVersion = 1

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
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("state store %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("state store %s: %w (is another satellite using it?)", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketLeases); err != nil {
			return err
		}
		switch v := meta.Get(keySchema); {
		case v == nil:
			return meta.Put(keySchema, []byte(fmt.Sprint(SchemaVersion)))
		case string(v) != fmt.Sprint(SchemaVersion):
			return fmt.Errorf("schema version %s, this Satellite reads version %d: upgrade Satellite or move the file away", v, SchemaVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("state store %s: %w", path, err)
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

func leaseKey(network, mac string) []byte { return []byte(network + "/" + mac) }

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

// SaveLease implements Store.
func (s *BoltStore) SaveLease(l Lease) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketLeases).Put(leaseKey(l.Network, l.MAC), b) })
}

// DeleteLease implements Store.
func (s *BoltStore) DeleteLease(network, mac string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketLeases).Delete(leaseKey(network, mac)) })
}

// Close implements Store.
func (s *BoltStore) Close() error { return s.db.Close() }
