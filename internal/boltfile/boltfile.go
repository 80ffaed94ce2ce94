// Package boltfile opens Satellite's bbolt files (the state file, the
// alert rule store, the token store) one way: the directory made, the
// file 0600, a bounded wait for another process holding it, the buckets
// created, and a schema version in a "meta" bucket checked or migrated.
package boltfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrLocked is returned when another process holds the file.
var ErrLocked = errors.New("the file is in use by another process (is another satellite running?)")

// Schema describes a file.
type Schema struct {
	What    string        // in errors: "state store", "alert rule store"
	Version int           // written into meta/schema; 0: no version kept
	Buckets []string      // created when missing ("meta" is added with a Version)
	Wait    time.Duration // for another process holding the file; 0 is 2 s
	// Migrate upgrades a file of an older version (the key) inside the
	// opening transaction; the new version is written after it.
	Migrate map[string]func(tx *bolt.Tx) error
}

var (
	bucketMeta = []byte("meta")
	keySchema  = []byte("schema")
)

// Open opens (or creates) the file at path as described by s. Errors name
// the file and what it is; a locked file wraps ErrLocked and
// bolt.ErrTimeout.
func Open(path string, s Schema) (*bolt.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("%s %s: %w", s.What, path, err)
	}
	wait := s.Wait
	if wait <= 0 {
		wait = 2 * time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: wait})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%s %s: %w", s.What, path, errors.Join(ErrLocked, err))
		}
		return nil, fmt.Errorf("%s %s: %w", s.What, path, err)
	}
	_ = os.Chmod(path, 0o600) // what is in it is nobody else's business
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range s.Buckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
				return err
			}
		}
		if s.Version == 0 {
			return nil
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		want := strconv.Itoa(s.Version)
		v := meta.Get(keySchema)
		switch {
		case v == nil:
		case string(v) == want:
			return nil
		case s.Migrate[string(v)] != nil:
			if err := s.Migrate[string(v)](tx); err != nil {
				return fmt.Errorf("migrating from schema version %s: %w", v, err)
			}
		default:
			return fmt.Errorf("schema version %s, this Satellite reads version %d: upgrade Satellite or move the file away", v, s.Version)
		}
		return meta.Put(keySchema, []byte(want))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s %s: %w", s.What, path, err)
	}
	return db, nil
}
