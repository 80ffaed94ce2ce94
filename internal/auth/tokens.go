package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/satellite-sdn/satellite/internal/boltfile"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TokenPrefix starts every token, so that a leaked one is recognisable
// (secret scanners, logs).
const TokenPrefix = "sat_"

// Token is a stored token: its name, role and the SHA-256 of its secret.
// The secret itself is shown once, when it is created, and never kept.
type Token struct {
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by,omitempty"`
	Hash      string    `json:"hash"` // hex SHA-256 of the secret
}

// Errors of the token store.
var (
	ErrTokenExists   = errors.New("a token with this name exists")
	ErrTokenNotFound = errors.New("no token with this name")
	// ErrStoreLocked: another process (a running `satellite serve`)
	// holds the store.
	ErrStoreLocked = boltfile.ErrLocked
)

var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// CheckName checks a token name: 1 to 64 letters, digits, '.', '_', '@'
// or '-', starting with a letter or digit.
func CheckName(name string) error {
	if !tokenName.MatchString(name) {
		return fmt.Errorf("token name %q: want 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name)
	}
	return nil
}

// NewSecret returns a new random token secret: TokenPrefix and 32 random
// bytes in unpadded base64url.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashSecret returns the hex SHA-256 of a secret.
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// TokenStore keeps tokens in a bbolt file (0600). It is safe for
// concurrent use; lookups are served from memory.
type TokenStore struct {
	path string
	db   *bolt.DB

	mu     sync.RWMutex
	tokens map[string]Token    // by name
	sums   map[string][32]byte // the decoded hashes, by name
}

var bucketTokens = []byte("tokens")

// OpenTokenStore opens (creating it and its directory when missing) the
// token store at path. It waits at most wait for another process holding
// the file, then fails with ErrStoreLocked.
func OpenTokenStore(path string, wait time.Duration) (*TokenStore, error) {
	db, err := boltfile.Open(path, boltfile.Schema{What: "token store", Buckets: []string{string(bucketTokens)}, Wait: wait})
	if err != nil {
		return nil, err
	}
	s := &TokenStore{path: path, db: db, tokens: map[string]Token{}, sums: map[string][32]byte{}}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTokens)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var t Token
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("token %q: %w", k, err)
			}
			sum, err := hex.DecodeString(t.Hash)
			if err != nil || len(sum) != sha256.Size {
				return fmt.Errorf("token %q: the stored hash is not a SHA-256", k)
			}
			s.tokens[t.Name], s.sums[t.Name] = t, [32]byte(sum)
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("token store %s: %w", path, err)
	}
	return s, nil
}

// Path returns the store's file.
func (s *TokenStore) Path() string { return s.path }

// Close closes the store.
func (s *TokenStore) Close() error { return s.db.Close() }

// Lookup returns the token whose secret this is. Every stored hash is
// compared in constant time.
func (s *TokenStore) Lookup(secret string) (Token, bool) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return Token{}, false
	}
	h := sha256.Sum256([]byte(secret))
	s.mu.RLock()
	defer s.mu.RUnlock()
	var found string
	for name, sum := range s.sums {
		if subtle.ConstantTimeCompare(sum[:], h[:]) == 1 {
			found = name
		}
	}
	if found == "" {
		return Token{}, false
	}
	return s.tokens[found], true
}

// Create stores a new token and returns its secret (the only time it is
// seen). replace overwrites a token of the same name.
func (s *TokenStore) Create(name string, role Role, by string, replace bool) (string, Token, error) {
	if err := CheckName(name); err != nil {
		return "", Token{}, err
	}
	if role < RoleViewer || role > RoleAdmin {
		return "", Token{}, fmt.Errorf("role %d: want viewer, operator or admin", role)
	}
	secret := NewSecret()
	t := Token{Name: name, Role: role, Created: time.Now().UTC().Truncate(time.Second), CreatedBy: by, Hash: HashSecret(secret)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.tokens[name]; exists && !replace {
		return "", Token{}, fmt.Errorf("token %q: %w; revoke it first or pick another name", name, ErrTokenExists)
	}
	b, _ := json.Marshal(t)
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketTokens).Put([]byte(name), b) }); err != nil {
		return "", Token{}, fmt.Errorf("token store %s: %w", s.path, err)
	}
	s.tokens[name] = t
	s.sums[name] = sha256.Sum256([]byte(secret))
	return secret, t, nil
}

// Revoke deletes a token: it stops working at once.
func (s *TokenStore) Revoke(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[name]; !ok {
		return fmt.Errorf("token %q: %w (see satellite token list)", name, ErrTokenNotFound)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketTokens).Delete([]byte(name)) }); err != nil {
		return fmt.Errorf("token store %s: %w", s.path, err)
	}
	delete(s.tokens, name)
	delete(s.sums, name)
	return nil
}

// List returns the tokens by name, without their hashes.
func (s *TokenStore) List() []Token {
	s.mu.RLock()
	out := make([]Token, 0, len(s.tokens))
	for _, t := range s.tokens {
		t.Hash = ""
		out = append(out, t)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Len returns how many tokens there are.
func (s *TokenStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.tokens)
}
