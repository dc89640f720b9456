package bundle

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ensureRepositories creates the domain and the missing repositories and
// returns the names of those it created.
func ensureRepositories(ctx context.Context, t Target, m Manifest) ([]string, error) {
	q := url.Values{"domain": {t.Domain}}
	if err := call(ctx, t.CP, http.MethodGet, "/v1/domain", q, nil, nil); isNotFound(err) {
		if err := call(ctx, t.CP, http.MethodPost, "/v1/domain", q, map[string]any{}, nil); err != nil {
			return nil, fmt.Errorf("create domain %s: %w", t.Domain, err)
		}
	} else if err != nil {
		return nil, err
	}
	var created []string
	for _, r := range m.Repositories {
		q := url.Values{"domain": {t.Domain}, "repository": {t.repo(r.Name)}}
		err := call(ctx, t.CP, http.MethodGet, "/v1/repository", q, nil, nil)
		if isNotFound(err) {
			if err := call(ctx, t.CP, http.MethodPost, "/v1/repository", q, map[string]any{}, nil); err != nil {
				return nil, fmt.Errorf("create repository %s: %w", t.repo(r.Name), err)
			}
			created = append(created, t.repo(r.Name))
		} else if err != nil {
			return nil, err
		}
	}
	return created, nil
}

// configure gives each repository of the bundle its external connection
// and its upstreams, without clobbering what the target has: a setting
// the target repository lacks (no external connection, no upstreams) is
// set as in the bundle; one it has otherwise is left alone and noted. An
// upstream names a repository of the bundle (renamed as the bundle's
// repositories are) or one the target domain already has; any other is
// left out and noted. Importing twice changes nothing the second time.
func configure(ctx context.Context, t Target, m Manifest) ([]string, error) {
	inBundle := map[string]bool{}
	for _, r := range m.Repositories {
		inBundle[r.Name] = true
	}
	var notes []string
	for _, r := range m.Repositories {
		repo := t.repo(r.Name)
		ups, conns, err := describeRepository(ctx, t.CP, t.Domain, repo)
		if err != nil {
			return nil, err
		}
		switch {
		case len(r.ExternalConnections) == 0 || slices.Equal(conns, r.ExternalConnections):
		case len(conns) == 0:
			for _, c := range r.ExternalConnections {
				q := url.Values{"domain": {t.Domain}, "repository": {repo}, "external-connection": {c}}
				if err := call(ctx, t.CP, http.MethodPost, "/v1/repository/external-connection", q, nil, nil); err != nil {
					return nil, fmt.Errorf("external connection %s of %s: %w", c, repo, err)
				}
			}
		default:
			notes = append(notes, fmt.Sprintf("%s: kept its external connection %s (the bundle's: %s)", repo, strings.Join(conns, ", "), strings.Join(r.ExternalConnections, ", ")))
		}
		var want []string
		for _, u := range r.Upstreams {
			if inBundle[u] {
				want = append(want, t.repo(u))
				continue
			}
			err := call(ctx, t.CP, http.MethodGet, "/v1/repository", url.Values{"domain": {t.Domain}, "repository": {u}}, nil, nil)
			switch {
			case err == nil:
				want = append(want, u)
			case isNotFound(err):
				notes = append(notes, fmt.Sprintf("%s: upstream %s left out: it is neither in the bundle nor in domain %s", repo, u, t.Domain))
			default:
				return nil, err
			}
		}
		switch {
		case len(want) == 0 || slices.Equal(ups, want):
		case len(ups) == 0:
			list := make([]map[string]string, 0, len(want))
			for _, u := range want {
				list = append(list, map[string]string{"repositoryName": u})
			}
			q := url.Values{"domain": {t.Domain}, "repository": {repo}}
			if err := call(ctx, t.CP, http.MethodPut, "/v1/repository", q, map[string]any{"upstreams": list}, nil); err != nil {
				return nil, fmt.Errorf("upstreams of %s: %w", repo, err)
			}
		default:
			notes = append(notes, fmt.Sprintf("%s: kept its upstreams %s (the bundle's: %s)", repo, strings.Join(ups, ", "), strings.Join(want, ", ")))
		}
	}
	return notes, nil
}

// isNotFound reports a ResourceNotFoundException, told by its text so
// that this package needs no client type.
func isNotFound(err error) bool {
	return err != nil && strings.Contains(err.Error(), "ResourceNotFoundException")
}
