// Package model keeps Stockpile's domains and repositories: their names,
// upstream links (by repository id, so that deleting and re-creating a
// repository can never silently splice it back into someone's graph) and
// external connections, persisted in storage and held in memory for the
// request path, and computes the walk order of a repository.
package model

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy/firewall"
	"github.com/stockpile-proxy/stockpile/proxy/iam"
	"github.com/stockpile-proxy/stockpile/storage"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// Tag is a key and value attached to a domain or repository.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Domain is a namespace that owns repositories and a blob store.
type Domain struct {
	Name        string    `json:"name"`
	CreatedTime time.Time `json:"createdTime"`
	Tags        []Tag     `json:"tags,omitempty"`
	// Policy is the domain's permissions policy, nil when none.
	Policy *PermissionsPolicy `json:"policy,omitempty"`
}

// Repository is a repository of a domain.
type Repository struct {
	ID                 string    `json:"id"`
	Domain             string    `json:"domain"`
	Name               string    `json:"name"`
	Description        string    `json:"description,omitempty"`
	Upstreams          []string  `json:"upstreams,omitempty"` // repository ids, in priority order
	ExternalConnection string    `json:"externalConnection,omitempty"`
	CreatedTime        time.Time `json:"createdTime"`
	Tags               []Tag     `json:"tags,omitempty"`
	// Policy is the repository's permissions policy, nil when none.
	Policy *PermissionsPolicy `json:"policy,omitempty"`
	// Cooldown is the release-age cooldown of versions arriving through
	// external connections, nil when none is set here.
	Cooldown *firewall.Cooldown `json:"cooldown,omitempty"`
}

type domainState struct {
	Domain
	byName map[string]*Repository
	byID   map[string]*Repository
	groups map[string]*Group // by pattern; the root group is always there
}

// Registry holds the domains and repositories. It is safe for concurrent use;
// reads never touch storage.
type Registry struct {
	store storage.Records
	now   func() time.Time

	mu      sync.RWMutex
	domains map[string]*domainState
	gen     uint64
	walks   map[string][]Step      // domain\x00repo → walk, for the current generation
	parsed  map[string]*iam.Policy // permissions policies by revision
}

// Load reads every domain and repository from store.
func Load(ctx context.Context, store storage.Records) (*Registry, error) {
	r := &Registry{store: store, now: time.Now, domains: map[string]*domainState{}, walks: map[string][]Step{}}
	err := store.Scan(ctx, storage.DomainsPrefix(), func(_, v []byte) error {
		var d Domain
		if err := json.Unmarshal(v, &d); err != nil {
			return fmt.Errorf("model: domain record: %w", err)
		}
		r.domains[d.Name] = &domainState{Domain: d, byName: map[string]*Repository{}, byID: map[string]*Repository{}}
		// The root group exists from the start, so readers holding only
		// the read lock never create it (ensureRoot writes the map).
		r.domains[d.Name].ensureRoot()
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = store.Scan(ctx, storage.RepositoriesPrefix(), func(_, v []byte) error {
		var repo Repository
		if err := json.Unmarshal(v, &repo); err != nil {
			return fmt.Errorf("model: repository record: %w", err)
		}
		ds := r.domains[repo.Domain]
		if ds == nil {
			return fmt.Errorf("model: repository %s/%s has no domain record", repo.Domain, repo.Name)
		}
		ds.byName[repo.Name] = &repo
		ds.byID[repo.ID] = &repo
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := r.loadGroups(ctx); err != nil {
		return nil, err
	}
	if err := r.loadPolicies(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the domains, repositories, package groups and policies from
// the store again, replacing what the registry holds, and moves the
// generation on, so that everything derived from the old state (walks, and
// the engine's views keyed by the generation) is rebuilt. Replicas sharing
// a store call it when another replica may have changed records.
func (r *Registry) Reload(ctx context.Context) error {
	fresh, err := Load(ctx, r.store)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.domains, r.parsed = fresh.domains, fresh.parsed
	r.changed()
	return nil
}

// Generation changes whenever a domain or repository changes.
func (r *Registry) Generation() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.gen
}

// changed must be called with mu held for writing.
func (r *Registry) changed() {
	r.gen++
	clear(r.walks)
}

// CreateDomain creates a domain. ErrConflict when it exists.
func (r *Registry) CreateDomain(ctx context.Context, name string, tags []Tag) (Domain, error) {
	if err := ValidateDomainName(name); err != nil {
		return Domain{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.domains[name]; ok {
		return Domain{}, conflict("domain", name, fmt.Sprintf("domain %s already exists", name))
	}
	d := Domain{Name: name, CreatedTime: r.now().UTC().Truncate(time.Millisecond), Tags: tags}
	if err := r.putJSON(ctx, storage.DomainKey{Domain: name}, d); err != nil {
		return Domain{}, err
	}
	r.domains[name] = &domainState{Domain: d, byName: map[string]*Repository{}, byID: map[string]*Repository{}}
	r.domains[name].ensureRoot() // see Load: never created under the read lock
	r.changed()
	return d, nil
}

// DomainInfo is a domain with its repository count.
type DomainInfo struct {
	Domain
	RepositoryCount int
}

// Domain returns the named domain, or ErrNotFound.
func (r *Registry) Domain(name string) (DomainInfo, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ds, ok := r.domains[name]
	if !ok {
		return DomainInfo{}, notFound("domain", name, fmt.Sprintf("domain %s does not exist", name))
	}
	return DomainInfo{Domain: ds.Domain, RepositoryCount: len(ds.byName)}, nil
}

// Domains lists every domain, by name.
func (r *Registry) Domains() []DomainInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]DomainInfo, 0, len(r.domains))
	for _, ds := range r.domains {
		out = append(out, DomainInfo{Domain: ds.Domain, RepositoryCount: len(ds.byName)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DeleteDomain deletes an empty domain. ErrConflict while it has repositories.
func (r *Registry) DeleteDomain(ctx context.Context, name string) (DomainInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ds, ok := r.domains[name]
	if !ok {
		return DomainInfo{}, notFound("domain", name, fmt.Sprintf("domain %s does not exist", name))
	}
	if len(ds.byName) > 0 {
		return DomainInfo{}, conflict("domain", name, fmt.Sprintf("domain %s still has %d repositories: delete them first", name, len(ds.byName)))
	}
	if err := r.delete(ctx, storage.DomainKey{Domain: name}); err != nil {
		return DomainInfo{}, err
	}
	for pattern := range ds.groups {
		if err := r.delete(ctx, groupKey(name, pattern)); err != nil {
			return DomainInfo{}, err
		}
	}
	delete(r.domains, name)
	if ds.Domain.Policy != nil {
		delete(r.parsed, ds.Domain.Policy.Revision)
	}
	r.changed()
	return DomainInfo{Domain: ds.Domain}, nil
}

// domainRepository is repository with the domain's state; the caller holds
// r.mu.
func (r *Registry) domainRepository(domain, name string) (*domainState, *Repository, error) {
	ds, err := r.domain(domain)
	if err != nil {
		return nil, nil, err
	}
	repo, ok := ds.byName[name]
	if !ok {
		return nil, nil, notFound("repository", name, fmt.Sprintf("repository %s does not exist in domain %s", name, domain))
	}
	return ds, repo, nil
}

// Repository returns a copy of the named repository, or ErrNotFound (for the
// domain or the repository).
func (r *Registry) Repository(domain, name string) (Repository, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	repo, err := r.repository(domain, name)
	if err != nil {
		return Repository{}, err
	}
	return repo.clone(), nil
}

// CheckRepository returns the error Repository would for a missing domain
// or repository, without copying the repository: the data plane asks it on
// every request.
func (r *Registry) CheckRepository(domain, name string) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, err := r.repository(domain, name)
	return err
}

// repository finds a repository; the caller holds r.mu.
func (r *Registry) repository(domain, name string) (*Repository, error) {
	_, repo, err := r.domainRepository(domain, name)
	return repo, err
}

// UpstreamNames returns the names of repo's upstreams in priority order.
func (r *Registry) UpstreamNames(repo Repository) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ds := r.domains[repo.Domain]
	names := make([]string, 0, len(repo.Upstreams))
	for _, id := range repo.Upstreams {
		if ds != nil {
			if u, ok := ds.byID[id]; ok {
				names = append(names, u.Name)
			}
		}
	}
	return names
}

// Repositories lists the repositories of a domain by name, or of every domain
// when domain is empty.
func (r *Registry) Repositories(domain string) ([]Repository, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var states []*domainState
	if domain != "" {
		ds, err := r.domain(domain)
		if err != nil {
			return nil, err
		}
		states = append(states, ds)
	} else {
		for _, ds := range r.domains {
			states = append(states, ds)
		}
	}
	var out []Repository
	for _, ds := range states {
		for _, repo := range ds.byName {
			out = append(out, repo.clone())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Domain != out[j].Domain {
			return out[i].Domain < out[j].Domain
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// CreateRepository creates a repository with the given upstreams (names in
// the same domain). ErrConflict when it exists, ErrNotFound for a missing
// domain or upstream, ErrInvalid for a bad name, too many upstreams or a cycle.
func (r *Registry) CreateRepository(ctx context.Context, domain, name, description string, upstreams []string, tags []Tag) (Repository, error) {
	if err := ValidateRepositoryName(name); err != nil {
		return Repository{}, err
	}
	if err := ValidateDescription(description); err != nil {
		return Repository{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ds, err := r.domain(domain)
	if err != nil {
		return Repository{}, err
	}
	if _, ok := ds.byName[name]; ok {
		return Repository{}, conflict("repository", name, fmt.Sprintf("repository %s already exists in domain %s", name, domain))
	}
	repo := &Repository{ID: newID(), Domain: domain, Name: name, Description: description, CreatedTime: r.now().UTC().Truncate(time.Millisecond), Tags: tags}
	ids, err := r.upstreamIDs(ds, repo, upstreams)
	if err != nil {
		return Repository{}, err
	}
	repo.Upstreams = ids
	if err := r.putJSON(ctx, storage.RepositoryKey{Domain: domain, Name: name}, repo); err != nil {
		return Repository{}, err
	}
	ds.byName[name] = repo
	ds.byID[repo.ID] = repo
	r.changed()
	return repo.clone(), nil
}

// UpdateRepository changes the description and, when upstreams is not nil,
// replaces the whole upstream list.
func (r *Registry) UpdateRepository(ctx context.Context, domain, name string, description *string, upstreams *[]string) (Repository, error) {
	if description != nil {
		if err := ValidateDescription(*description); err != nil {
			return Repository{}, err
		}
	}
	return r.modify(ctx, domain, name, func(ds *domainState, repo *Repository) error {
		if description != nil {
			repo.Description = *description
		}
		if upstreams != nil {
			ids, err := r.upstreamIDs(ds, repo, *upstreams)
			if err != nil {
				return err
			}
			repo.Upstreams = ids
		}
		return nil
	})
}

// SetDomainTags replaces the tags of a domain.
func (r *Registry) SetDomainTags(ctx context.Context, name string, tags []Tag) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ds, err := r.domain(name)
	if err != nil {
		return err
	}
	d := ds.Domain
	d.Tags = tags
	if err := r.putJSON(ctx, storage.DomainKey{Domain: name}, d); err != nil {
		return err
	}
	ds.Domain = d
	return nil
}

// SetRepositoryTags replaces the tags of a repository.
func (r *Registry) SetRepositoryTags(ctx context.Context, domain, name string, tags []Tag) (Repository, error) {
	return r.modify(ctx, domain, name, func(_ *domainState, repo *Repository) error {
		repo.Tags = tags
		return nil
	})
}

// AssociateExternalConnection gives a repository its external connection.
// ErrQuota when it has one already, ErrInvalid for an unknown name.
func (r *Registry) AssociateExternalConnection(ctx context.Context, domain, name, conn string) (Repository, error) {
	if _, ok := upstream.Lookup(conn); !ok {
		return Repository{}, invalid(fmt.Sprintf("external connection %q is not supported; supported: %s", conn, strings.Join(ConnectionNames(), ", ")))
	}
	return r.modify(ctx, domain, name, func(_ *domainState, repo *Repository) error {
		if repo.ExternalConnection == conn {
			return conflict("repository", repo.Name, fmt.Sprintf("repository %s already has external connection %s", repo.Name, conn))
		}
		if repo.ExternalConnection != "" {
			return quota("repository", repo.Name, fmt.Sprintf("repository %s already has external connection %s: a repository can have only one", repo.Name, repo.ExternalConnection))
		}
		repo.ExternalConnection = conn
		return nil
	})
}

// DisassociateExternalConnection removes a repository's external connection.
func (r *Registry) DisassociateExternalConnection(ctx context.Context, domain, name, conn string) (Repository, error) {
	return r.modify(ctx, domain, name, func(_ *domainState, repo *Repository) error {
		if repo.ExternalConnection != conn {
			return notFound("repository", repo.Name, fmt.Sprintf("repository %s has no external connection %s", repo.Name, conn))
		}
		repo.ExternalConnection = ""
		return nil
	})
}

// DeleteRepository deletes a repository. It refuses (ErrConflict) while other
// repositories list it as an upstream, so a graph is never broken silently.
// The caller removes the repository's packages.
func (r *Registry) DeleteRepository(ctx context.Context, domain, name string) (Repository, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ds, repo, err := r.domainRepository(domain, name)
	if err != nil {
		return Repository{}, err
	}
	var users []string
	for _, other := range ds.byName {
		if slices.Contains(other.Upstreams, repo.ID) {
			users = append(users, other.Name)
		}
	}
	if len(users) > 0 {
		sort.Strings(users)
		return Repository{}, conflict("repository", name, fmt.Sprintf("repository %s is an upstream of %s: remove it from their upstreams first", name, strings.Join(users, ", ")))
	}
	if err := r.delete(ctx, storage.RepositoryKey{Domain: domain, Name: name}); err != nil {
		return Repository{}, err
	}
	delete(ds.byName, name)
	delete(ds.byID, repo.ID)
	if repo.Policy != nil {
		delete(r.parsed, repo.Policy.Revision)
	}
	r.changed()
	return repo.clone(), nil
}

func (r *Registry) modify(ctx context.Context, domain, name string, fn func(*domainState, *Repository) error) (Repository, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ds, cur, err := r.domainRepository(domain, name)
	if err != nil {
		return Repository{}, err
	}
	next := cur.clone()
	if err := fn(ds, &next); err != nil {
		return Repository{}, err
	}
	if err := r.putJSON(ctx, storage.RepositoryKey{Domain: domain, Name: name}, next); err != nil {
		return Repository{}, err
	}
	*cur = next
	r.changed()
	return next.clone(), nil
}

// upstreamIDs resolves names to ids and refuses self links, duplicates,
// unknown names, more than MaxUpstreams and cycles.
func (r *Registry) upstreamIDs(ds *domainState, repo *Repository, names []string) ([]string, error) {
	if len(names) > MaxUpstreams {
		return nil, quota("repository", repo.Name, fmt.Sprintf("repository %s lists %d upstreams; at most %d are allowed", repo.Name, len(names), MaxUpstreams))
	}
	ids := make([]string, 0, len(names))
	for _, n := range names {
		if n == repo.Name {
			return nil, invalid(fmt.Sprintf("repository %s cannot be its own upstream", repo.Name))
		}
		u, ok := ds.byName[n]
		if !ok {
			return nil, notFound("repository", n, fmt.Sprintf("upstream repository %s does not exist in domain %s", n, ds.Name))
		}
		if slices.Contains(ids, u.ID) {
			return nil, invalid(fmt.Sprintf("upstream repository %s is listed twice", n))
		}
		ids = append(ids, u.ID)
	}
	// A cycle through repo exists when repo is reachable from one of the new upstreams.
	seen := map[string]bool{}
	var reaches func(id string) bool
	reaches = func(id string) bool {
		if id == repo.ID {
			return true
		}
		if seen[id] {
			return false
		}
		seen[id] = true
		if u := ds.byID[id]; u != nil {
			for _, next := range u.Upstreams {
				if reaches(next) {
					return true
				}
			}
		}
		return false
	}
	for i, id := range ids {
		if reaches(id) {
			return nil, invalid(fmt.Sprintf("upstream repository %s would create a cycle: it already reaches %s", names[i], repo.Name))
		}
	}
	return ids, nil
}

func (r *Registry) domain(name string) (*domainState, error) {
	ds, ok := r.domains[name]
	if !ok {
		return nil, notFound("domain", name, fmt.Sprintf("domain %s does not exist", name))
	}
	return ds, nil
}

// recordKey is a record's key builder (storage's DomainKey, RepositoryKey,
// GroupKey).
type recordKey interface{ Bytes() ([]byte, error) }

func (r *Registry) putJSON(ctx context.Context, k recordKey, v any) error {
	key, err := k.Bytes()
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("model: encode: %w", err)
	}
	if err := r.store.Put(ctx, key, b, 0); err != nil {
		return fmt.Errorf("model: write: %w", err)
	}
	return nil
}

// delete removes the record k names.
func (r *Registry) delete(ctx context.Context, k recordKey) error {
	key, err := k.Bytes()
	if err != nil {
		return err
	}
	return r.store.Delete(ctx, key)
}

func (repo *Repository) clone() Repository {
	c := *repo
	c.Upstreams = slices.Clone(repo.Upstreams)
	c.Tags = slices.Clone(repo.Tags)
	c.Cooldown = cloneCooldown(repo.Cooldown)
	return c
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ConnectionNames lists the supported external connection names.
func ConnectionNames() []string {
	var names []string
	for _, c := range upstream.Catalog() {
		names = append(names, c.Name)
	}
	return names
}
