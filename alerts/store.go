package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/satellite-sdn/satellite/internal/boltfile"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RuleStore keeps the rules created through the API (source "api") across
// restarts. The engine writes to it before it changes its own rules, under
// its lock, so a rule is active only once it is stored and a failed write
// changes nothing (see Engine.AddRule). Rules of the configuration file
// are never stored: the file keeps them.
type RuleStore interface {
	// LoadRules returns every stored rule, by name. A record that cannot
	// be decoded does not fail the load: it comes back with Err set (and
	// Rule.Name set to its key) so that the engine can report it.
	LoadRules() ([]StoredRule, error)
	// SaveRule creates or replaces the stored rule named r.Name.
	SaveRule(r Rule) error
	// DeleteRule removes the stored rule named name (a missing one is not
	// an error).
	DeleteRule(name string) error
}

// StoredRule is one record of a RuleStore.
type StoredRule struct {
	Rule  Rule
	Saved time.Time // when it was last written (zero if unknown)
	// Err says why the record could not be decoded; Rule then holds only
	// the name it is stored under.
	Err error
}

// RuleSchemaVersion is the version of the rule store's layout. A file
// written with a newer version is refused rather than misread.
const RuleSchemaVersion = 1

var (
	ruleBucketMeta  = []byte("meta")
	ruleBucketRules = []byte("rules")
	ruleKeySchema   = []byte("schema")
)

// ruleRecord is the JSON value of one rule in the "rules" bucket, keyed
// by the rule's name. Rule is the rule as it was sent (defaults not
// filled in), so that it is validated again, with the defaults of the
// Satellite that reads it, at every start.
type ruleRecord struct {
	Rule  json.RawMessage `json:"rule"`
	Saved time.Time       `json:"saved"`
}

// BoltRuleStore is a RuleStore in one bbolt file: a "meta" bucket with
// the schema version and a "rules" bucket of name -> ruleRecord. Every
// change is one bbolt transaction (written and synced before it returns).
type BoltRuleStore struct {
	db   *bolt.DB
	path string
}

// OpenRuleStore opens (or creates, with its directory) the rule store file.
func OpenRuleStore(path string) (*BoltRuleStore, error) {
	db, err := boltfile.Open(path, boltfile.Schema{What: "alert rule store", Version: RuleSchemaVersion, Buckets: []string{string(ruleBucketRules)}})
	if err != nil {
		return nil, err
	}
	return &BoltRuleStore{db: db, path: path}, nil
}

// Path returns the store's file.
func (s *BoltRuleStore) Path() string { return s.path }

// LoadRules implements RuleStore. Rules are decoded strictly (DecodeRule):
// a field this Satellite does not know is a record error, not silently
// dropped.
func (s *BoltRuleStore) LoadRules() ([]StoredRule, error) {
	var out []StoredRule
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(ruleBucketRules).ForEach(func(k, v []byte) error {
			out = append(out, decodeRecord(string(k), v))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("alert rule store %s: %w", s.path, err)
	}
	return out, nil
}

func decodeRecord(key string, v []byte) StoredRule {
	var rec ruleRecord
	if err := json.Unmarshal(v, &rec); err != nil || rec.Rule == nil {
		if err == nil {
			err = errors.New("no rule in the record")
		}
		return StoredRule{Rule: Rule{Name: key}, Err: fmt.Errorf("undecodable record: %v", err)}
	}
	r, err := DecodeRule(rec.Rule)
	if err != nil {
		return StoredRule{Rule: Rule{Name: key}, Saved: rec.Saved, Err: err}
	}
	if r.Name != key {
		return StoredRule{Rule: Rule{Name: key}, Saved: rec.Saved, Err: fmt.Errorf("stored under %q but named %q", key, r.Name)}
	}
	return StoredRule{Rule: r, Saved: rec.Saved}
}

// SaveRule implements RuleStore.
func (s *BoltRuleStore) SaveRule(r Rule) error {
	if r.Name == "" {
		return errors.New("alert rule store: a rule without a name")
	}
	rb, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("alert rule store: encoding rule %s: %w", r.Name, err)
	}
	b, err := json.Marshal(ruleRecord{Rule: rb, Saved: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("alert rule store: encoding rule %s: %w", r.Name, err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(ruleBucketRules).Put([]byte(r.Name), b) }); err != nil {
		return fmt.Errorf("alert rule store %s: saving rule %s: %w", s.path, r.Name, err)
	}
	return nil
}

// DeleteRule implements RuleStore.
func (s *BoltRuleStore) DeleteRule(name string) error {
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(ruleBucketRules).Delete([]byte(name)) }); err != nil {
		return fmt.Errorf("alert rule store %s: deleting rule %s: %w", s.path, name, err)
	}
	return nil
}

// Close closes the file.
func (s *BoltRuleStore) Close() error { return s.db.Close() }
