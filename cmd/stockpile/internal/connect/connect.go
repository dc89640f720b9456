// Package connect does what CodeArtifact's console does when a
// repository is connected to a public repository: the domain's "-store"
// repository for that public repository is created with its external
// connection if the domain lacks it, and made an upstream of the
// repository (https://docs.aws.amazon.com/codeartifact/latest/ug/external-connection.html).
package connect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stockpile-proxy/stockpile/cmd/internal/cpclient"
)

// Public is one public repository: its external connection, the store
// repository the console names for it, and what it is.
type Public struct {
	Connection string
	Store      string
	Title      string
}

// Publics lists the ten public repositories in CodeArtifact's order. The
// console's store names are used where known; clojars-store,
// rubygems-store and crates-io-store are Stockpile's.
func Publics() []Public {
	return []Public{
		{"public:npmjs", "npm-store", "the public npm registry"},
		{"public:pypi", "pypi-store", "the Python Package Index"},
		{"public:maven-central", "maven-central-store", "Maven Central"},
		{"public:maven-googleandroid", "google-android-store", "Google's Android repository"},
		{"public:maven-gradleplugins", "gradle-plugins-store", "the Gradle plugin portal"},
		{"public:maven-commonsware", "commonsware-store", "the CommonsWare Android repository"},
		{"public:maven-clojars", "clojars-store", "Clojars"},
		{"public:nuget-org", "nuget-store", "the NuGet Gallery"},
		{"public:ruby-gems-org", "rubygems-store", "RubyGems.org"},
		{"public:crates-io", "crates-io-store", "crates.io"},
	}
}

// Find resolves NAME: an external connection or its store's name.
func Find(name string) (Public, bool) {
	for _, p := range Publics() {
		if p.Connection == name || p.Store == name {
			return p, true
		}
	}
	return Public{}, false
}

// API is the control plane connect needs.
type API interface {
	DescribeRepository(ctx context.Context, domain, repo string) (cpclient.Repository, error)
	CreateRepository(ctx context.Context, domain, repo, description string) error
	AssociateExternalConnection(ctx context.Context, domain, repo, conn string) error
	SetUpstreams(ctx context.Context, domain, repo string, upstreams []string) error
	ListRepositoriesInDomain(ctx context.Context, domain string) ([]string, error)
}

// Result says what Connect did.
type Result struct {
	Public       Public
	CreatedStore bool     // the store repository was created
	Associated   bool     // the external connection was associated to it
	Linked       bool     // it was added to the repository's upstreams
	Upstreams    []string // the repository's upstreams afterwards
}

// ErrInvalid is a request Connect refuses before changing anything.
var ErrInvalid = errors.New("invalid")

// Connect connects repo of domain to the public repository p: position is
// where the store goes in repo's upstreams, 1 for first, 0 for last.
func Connect(ctx context.Context, api API, domain, repo string, p Public, position int) (Result, error) {
	res := Result{Public: p}
	if repo == p.Store {
		return res, fmt.Errorf("%w: %s is the store repository itself", ErrInvalid, repo)
	}
	target, err := api.DescribeRepository(ctx, domain, repo)
	if err != nil {
		return res, fmt.Errorf("repository %s: %w", repo, err)
	}
	if position < 0 || position > len(target.Upstreams)+1 {
		return res, fmt.Errorf("%w: --position %d: %s has %d upstreams, so 1 to %d", ErrInvalid, position, repo, len(target.Upstreams), len(target.Upstreams)+1)
	}
	store, err := api.DescribeRepository(ctx, domain, p.Store)
	switch {
	case cpclient.IsNotFound(err):
		desc := "Provides " + strings.TrimPrefix(p.Title, "the ") + " packages from " + p.Connection
		if err := api.CreateRepository(ctx, domain, p.Store, desc); err != nil {
			return res, fmt.Errorf("create %s: %w", p.Store, err)
		}
		res.CreatedStore = true
	case err != nil:
		return res, fmt.Errorf("repository %s: %w", p.Store, err)
	case len(store.ExternalConnections) > 0 && !slices.Contains(store.ExternalConnections, p.Connection):
		return res, fmt.Errorf("%w: %s exists with the external connection %s, not %s", ErrInvalid, p.Store, store.ExternalConnections[0], p.Connection)
	}
	if !slices.Contains(store.ExternalConnections, p.Connection) {
		if err := api.AssociateExternalConnection(ctx, domain, p.Store, p.Connection); err != nil {
			return res, fmt.Errorf("associate %s with %s: %w", p.Connection, p.Store, err)
		}
		res.Associated = true
	}
	res.Upstreams = target.Upstreams
	if slices.Contains(target.Upstreams, p.Store) {
		return res, nil
	}
	at := len(target.Upstreams)
	if position > 0 {
		at = position - 1
	}
	ups := slices.Insert(slices.Clone(target.Upstreams), at, p.Store)
	if err := api.SetUpstreams(ctx, domain, repo, ups); err != nil {
		return res, fmt.Errorf("add %s to the upstreams of %s: %w", p.Store, repo, err)
	}
	res.Linked, res.Upstreams = true, ups
	return res, nil
}

// Row is one line of List.
type Row struct {
	Public
	Present bool // the domain has the store repository
}

// List tells which store repositories the domain has.
func List(ctx context.Context, api API, domain string) ([]Row, error) {
	names, err := api.ListRepositoriesInDomain(ctx, domain)
	if err != nil {
		return nil, err
	}
	var rows []Row
	for _, p := range Publics() {
		rows = append(rows, Row{Public: p, Present: slices.Contains(names, p.Store)})
	}
	return rows, nil
}
