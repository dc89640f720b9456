package model

import (
	"context"
	"fmt"

	"github.com/stockpile-proxy/stockpile/proxy/iam"
	"github.com/stockpile-proxy/stockpile/storage"
)

// PermissionsPolicy is the resource policy of a domain or a repository, as
// CodeArtifact's Put*PermissionsPolicy stores it: the document as given
// and an opaque revision that changes with every put, for optimistic
// concurrency. It is kept in the domain's or repository's record, so it
// lives and dies with it.
type PermissionsPolicy struct {
	Document string `json:"document"`
	Revision string `json:"revision"`
}

// parsePolicy parses a stored or offered resource policy document.
func parsePolicy(doc string) (*iam.Policy, error) {
	if len(doc) == 0 || len(doc) > iam.MaxDocumentSize {
		return nil, invalid(fmt.Sprintf("the policy document is %d characters; it must be 1 to %d", len(doc), iam.MaxDocumentSize))
	}
	p, err := iam.Parse([]byte(doc), iam.Resource)
	if err != nil {
		return nil, invalid("policy document: " + err.Error())
	}
	return p, nil
}

// loadPolicies parses the stored policies after Load.
func (r *Registry) loadPolicies() error {
	r.parsed = map[string]*iam.Policy{}
	for _, ds := range r.domains {
		if pp := ds.Domain.Policy; pp != nil {
			p, err := parsePolicy(pp.Document)
			if err != nil {
				return fmt.Errorf("model: domain %s: stored permissions policy: %w", ds.Name, err)
			}
			r.parsed[pp.Revision] = p
		}
		for _, repo := range ds.byName {
			if pp := repo.Policy; pp != nil {
				p, err := parsePolicy(pp.Document)
				if err != nil {
					return fmt.Errorf("model: repository %s/%s: stored permissions policy: %w", ds.Name, repo.Name, err)
				}
				r.parsed[pp.Revision] = p
			}
		}
	}
	return nil
}

// checkRevision refuses a stale expected revision (ConflictException), and
// one given when there is no policy at all.
func checkRevision(typ, id string, cur *PermissionsPolicy, want *string) error {
	switch {
	case want == nil:
		return nil
	case cur == nil:
		return conflict(typ, id, fmt.Sprintf("%s %s has no permissions policy, so revision %s is stale", typ, id, *want))
	case cur.Revision != *want:
		return conflict(typ, id, fmt.Sprintf("the permissions policy of %s %s is at revision %s, not %s: read it again before changing it", typ, id, cur.Revision, *want))
	}
	return nil
}

func noPolicy(typ, id string) error {
	return notFound(typ, id, fmt.Sprintf("%s %s has no permissions policy", typ, id))
}

// DomainPolicy returns a domain's permissions policy; ErrNotFound when the
// domain does not exist or has none.
func (r *Registry) DomainPolicy(domain string) (PermissionsPolicy, error) {
	d, err := r.Domain(domain)
	if err != nil {
		return PermissionsPolicy{}, err
	}
	if d.Policy == nil {
		return PermissionsPolicy{}, noPolicy("domain", domain)
	}
	return *d.Policy, nil
}

// PutDomainPolicy sets a domain's permissions policy. When revision is not
// nil it must be the current policy's revision (ErrConflict otherwise); a
// document that does not parse is ErrInvalid naming the problem.
func (r *Registry) PutDomainPolicy(ctx context.Context, domain, doc string, revision *string) (PermissionsPolicy, error) {
	return r.setDomainPolicy(ctx, domain, &doc, revision)
}

// DeleteDomainPolicy removes a domain's permissions policy and returns it.
func (r *Registry) DeleteDomainPolicy(ctx context.Context, domain string, revision *string) (PermissionsPolicy, error) {
	return r.setDomainPolicy(ctx, domain, nil, revision)
}

func (r *Registry) setDomainPolicy(ctx context.Context, domain string, doc, revision *string) (PermissionsPolicy, error) {
	var parsed *iam.Policy
	if doc != nil {
		var err error
		if parsed, err = parsePolicy(*doc); err != nil {
			return PermissionsPolicy{}, err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ds, err := r.domain(domain)
	if err != nil {
		return PermissionsPolicy{}, err
	}
	cur := ds.Domain.Policy
	if err := checkRevision("domain", domain, cur, revision); err != nil {
		return PermissionsPolicy{}, err
	}
	d := ds.Domain
	out, err := swapPolicy(&d.Policy, doc, "domain", domain)
	if err != nil {
		return PermissionsPolicy{}, err
	}
	if err := r.putJSON(ctx, storage.DomainKey{Domain: domain}, d); err != nil {
		return PermissionsPolicy{}, err
	}
	r.commitPolicy(cur, d.Policy, parsed)
	ds.Domain = d
	return out, nil
}

// swapPolicy replaces *slot with a new policy for doc (nil: removes it) and
// returns what the operation answers: the new policy, or the removed one.
func swapPolicy(slot **PermissionsPolicy, doc *string, typ, id string) (PermissionsPolicy, error) {
	if doc == nil {
		if *slot == nil {
			return PermissionsPolicy{}, noPolicy(typ, id)
		}
		old := **slot
		*slot = nil
		return old, nil
	}
	*slot = &PermissionsPolicy{Document: *doc, Revision: newID()}
	return **slot, nil
}

// commitPolicy updates the parsed policies once the record is written.
func (r *Registry) commitPolicy(old, cur *PermissionsPolicy, parsed *iam.Policy) {
	if old != nil {
		delete(r.parsed, old.Revision)
	}
	if cur != nil {
		r.parsed[cur.Revision] = parsed
	}
}

// RepositoryPolicy returns a repository's permissions policy; ErrNotFound
// when the repository does not exist or has none.
func (r *Registry) RepositoryPolicy(domain, repo string) (PermissionsPolicy, error) {
	rp, err := r.Repository(domain, repo)
	if err != nil {
		return PermissionsPolicy{}, err
	}
	if rp.Policy == nil {
		return PermissionsPolicy{}, noPolicy("repository", repo)
	}
	return *rp.Policy, nil
}

// PutRepositoryPolicy sets a repository's permissions policy, like
// PutDomainPolicy.
func (r *Registry) PutRepositoryPolicy(ctx context.Context, domain, repo, doc string, revision *string) (PermissionsPolicy, error) {
	return r.setRepositoryPolicy(ctx, domain, repo, &doc, revision)
}

// DeleteRepositoryPolicy removes a repository's permissions policy and
// returns it.
func (r *Registry) DeleteRepositoryPolicy(ctx context.Context, domain, repo string, revision *string) (PermissionsPolicy, error) {
	return r.setRepositoryPolicy(ctx, domain, repo, nil, revision)
}

func (r *Registry) setRepositoryPolicy(ctx context.Context, domain, repo string, doc, revision *string) (PermissionsPolicy, error) {
	var parsed *iam.Policy
	if doc != nil {
		var err error
		if parsed, err = parsePolicy(*doc); err != nil {
			return PermissionsPolicy{}, err
		}
	}
	var out PermissionsPolicy
	var old *PermissionsPolicy
	_, err := r.modify(ctx, domain, repo, func(_ *domainState, rp *Repository) error {
		if err := checkRevision("repository", repo, rp.Policy, revision); err != nil {
			return err
		}
		old = rp.Policy
		var err error
		if out, err = swapPolicy(&rp.Policy, doc, "repository", repo); err != nil {
			return err
		}
		// Readers must never see the new record without its parsed
		// policy: add it now (harmless if the write fails, the
		// revision is new), drop the old one after the write.
		if rp.Policy != nil {
			r.parsed[rp.Policy.Revision] = parsed
		}
		return nil
	})
	if err != nil {
		return PermissionsPolicy{}, err
	}
	if old != nil {
		r.mu.Lock()
		delete(r.parsed, old.Revision)
		r.mu.Unlock()
	}
	return out, nil
}

// ResourcePolicy returns the parsed permissions policy of a domain (repo
// empty) or repository as it is now, nil when there is none.
func (r *Registry) ResourcePolicy(domain, repo string) *iam.Policy {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ds, ok := r.domains[domain]
	if !ok {
		return nil
	}
	pp := ds.Domain.Policy
	if repo != "" {
		rp, ok := ds.byName[repo]
		if !ok {
			return nil
		}
		pp = rp.Policy
	}
	if pp == nil {
		return nil
	}
	return r.parsed[pp.Revision]
}
