// Package scoped keeps Stockpile's scoped long-lived tokens: named
// data-plane credentials for bots (Renovate, Dependabot, CI) that cannot
// refresh a GetAuthorizationToken token every 12 hours. Each is limited to
// one domain, a list of its repositories and read or read+publish access,
// expires within a year, and can be revoked at once. Only a SHA-256 of the
// secret is stored; the secret is shown once, when the token is created.
package scoped

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stockpile-proxy/stockpile/storage"
)

// Prefix starts every scoped token secret, so that the server tells them
// from GetAuthorizationToken tokens without a lookup.
const Prefix = "stkpl_"

// MaxLifetime bounds a token's lifetime.
const MaxLifetime = 366 * 24 * time.Hour

// Access levels.
const (
	Read        = "read"
	ReadPublish = "read+publish"
)

// Errors, matched with errors.Is.
var (
	ErrInvalid  = errors.New("invalid scoped token request")
	ErrExists   = errors.New("scoped token exists")
	ErrNotFound = errors.New("no such scoped token")
)

// Token is a scoped token as stored and listed (never with its secret).
type Token struct {
	Name         string    `json:"name"`
	Domain       string    `json:"domain"`
	Repositories []string  `json:"repositories"`
	Access       string    `json:"access"`
	Created      time.Time `json:"createdTime"`
	Expires      time.Time `json:"expiration"`
	Hash         string    `json:"hash"` // hex SHA-256 of the secret
}

// Publish reports whether the token may publish.
func (t *Token) Publish() bool { return t.Access == ReadPublish }

// Registry holds the scoped tokens, persisted under the "k" key space and
// held in memory for the request path. It is safe for concurrent use.
type Registry struct {
	store storage.Records
	now   func() time.Time

	mu     sync.RWMutex
	byHash map[string]*Token
	byName map[string]*Token // domain \x00 name
}

func key(domain, name string) ([]byte, error) {
	return storage.ScopedTokenKey{Domain: domain, Name: name}.Bytes()
}

// Load reads every stored token. now is the clock (nil: time.Now).
func Load(ctx context.Context, store storage.Records, now func() time.Time) (*Registry, error) {
	if now == nil {
		now = time.Now
	}
	r := &Registry{store: store, now: now, byHash: map[string]*Token{}, byName: map[string]*Token{}}
	err := store.Scan(ctx, storage.ScopedTokensPrefix(), func(_, v []byte) error {
		var t Token
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("scoped: token record: %w", err)
		}
		r.byHash[t.Hash] = &t
		r.byName[t.Domain+"\x00"+t.Name] = &t
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads every stored token again, replacing what the registry
// holds: a token another replica created becomes usable here, one it
// revoked stops being.
func (r *Registry) Reload(ctx context.Context) error {
	fresh, err := Load(ctx, r.store, r.now)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byHash, r.byName = fresh.byHash, fresh.byName
	return nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Create makes a token and returns it with its secret, which is not kept.
// The caller checks the domain and repositories exist.
func (r *Registry) Create(ctx context.Context, domain, name string, repos []string, access string, lifetime time.Duration) (Token, string, error) {
	switch {
	case !nameRE.MatchString(name):
		return Token{}, "", fmt.Errorf("%w: name %q must be 1 to 64 letters, digits, '.', '_' or '-'", ErrInvalid, name)
	case len(repos) == 0 || len(repos) > 100:
		return Token{}, "", fmt.Errorf("%w: a token names 1 to 100 repositories", ErrInvalid)
	case access != Read && access != ReadPublish:
		return Token{}, "", fmt.Errorf("%w: access %q must be %s or %s", ErrInvalid, access, Read, ReadPublish)
	case lifetime <= 0 || lifetime > MaxLifetime:
		return Token{}, "", fmt.Errorf("%w: the lifetime must be positive and at most a year", ErrInvalid)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Token{}, "", err
	}
	secret := Prefix + base64.RawURLEncoding.EncodeToString(raw[:])
	now := r.now().UTC().Truncate(time.Second)
	repos = slices.Clone(repos)
	sort.Strings(repos)
	t := &Token{Name: name, Domain: domain, Repositories: slices.Compact(repos), Access: access,
		Created: now, Expires: now.Add(lifetime), Hash: hash(secret)}
	b, err := json.Marshal(t)
	if err != nil {
		return Token{}, "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byName[domain+"\x00"+name]; ok {
		return Token{}, "", fmt.Errorf("%w: domain %s already has a scoped token named %s", ErrExists, domain, name)
	}
	k, err := key(domain, name)
	if err != nil {
		return Token{}, "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := r.store.Put(ctx, k, b, 0); err != nil {
		return Token{}, "", err
	}
	r.byHash[t.Hash] = t
	r.byName[domain+"\x00"+name] = t
	return *t, secret, nil
}

// List returns the tokens of a domain, by name.
func (r *Registry) List(domain string) []Token {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Token
	for _, t := range r.byName {
		if t.Domain == domain {
			out = append(out, *t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Revoke deletes a token; it is refused from the next request on.
func (r *Registry) Revoke(ctx context.Context, domain, name string) (Token, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.byName[domain+"\x00"+name]
	if !ok {
		return Token{}, fmt.Errorf("%w: domain %s has no scoped token named %s", ErrNotFound, domain, name)
	}
	k, err := key(domain, name)
	if err != nil {
		return Token{}, err
	}
	if err := r.store.Delete(ctx, k); err != nil {
		return Token{}, err
	}
	delete(r.byName, domain+"\x00"+name)
	delete(r.byHash, t.Hash)
	return *t, nil
}

// Lookup returns the live token whose secret this is.
func (r *Registry) Lookup(secret string) (*Token, bool) {
	if !strings.HasPrefix(secret, Prefix) || len(secret) > 256 {
		return nil, false
	}
	r.mu.RLock()
	t, ok := r.byHash[hash(secret)]
	r.mu.RUnlock()
	if !ok || !r.now().Before(t.Expires) {
		return nil, false
	}
	return t, true
}

func hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
