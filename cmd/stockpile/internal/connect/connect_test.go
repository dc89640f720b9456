package connect

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/cmd/internal/cpclient"
)

// fakeAPI is a domain's repositories in memory.
type fakeAPI struct {
	repos map[string]*cpclient.Repository
	calls []string
}

func (f *fakeAPI) DescribeRepository(_ context.Context, _, repo string) (cpclient.Repository, error) {
	r, ok := f.repos[repo]
	if !ok {
		return cpclient.Repository{}, &cpclient.APIError{Status: 404, Type: "ResourceNotFoundException", Message: repo}
	}
	return *r, nil
}

func (f *fakeAPI) CreateRepository(_ context.Context, _, repo, _ string) error {
	f.calls = append(f.calls, "create "+repo)
	f.repos[repo] = &cpclient.Repository{Name: repo}
	return nil
}

func (f *fakeAPI) AssociateExternalConnection(_ context.Context, _, repo, conn string) error {
	f.calls = append(f.calls, "associate "+repo+" "+conn)
	f.repos[repo].ExternalConnections = []string{conn}
	return nil
}

func (f *fakeAPI) SetUpstreams(_ context.Context, _, repo string, ups []string) error {
	f.calls = append(f.calls, "upstreams "+repo+" "+strings.Join(ups, ","))
	f.repos[repo].Upstreams = slices.Clone(ups)
	return nil
}

func (f *fakeAPI) ListRepositoriesInDomain(context.Context, string) ([]string, error) {
	var out []string
	for n := range f.repos {
		out = append(out, n)
	}
	return out, nil
}

func TestConnect(t *testing.T) {
	npm, _ := Find("public:npmjs")
	tests := []struct {
		name      string
		repos     map[string]*cpclient.Repository
		repo      string
		public    Public
		position  int
		wantCalls string
		wantErr   error
	}{
		{name: "the store is created, associated and linked last",
			repos: map[string]*cpclient.Repository{"app": {Name: "app", Upstreams: []string{"internal"}}}, repo: "app", public: npm,
			wantCalls: "create npm-store; associate npm-store public:npmjs; upstreams app internal,npm-store"},
		{name: "an existing store is only linked, at --position 1",
			repos: map[string]*cpclient.Repository{"app": {Name: "app", Upstreams: []string{"internal"}}, "npm-store": {Name: "npm-store", ExternalConnections: []string{"public:npmjs"}}},
			repo:  "app", public: npm, position: 1, wantCalls: "upstreams app npm-store,internal"},
		{name: "a store without its connection gets it",
			repos: map[string]*cpclient.Repository{"app": {Name: "app"}, "npm-store": {Name: "npm-store"}}, repo: "app", public: npm,
			wantCalls: "associate npm-store public:npmjs; upstreams app npm-store"},
		{name: "already linked: nothing changes",
			repos: map[string]*cpclient.Repository{"app": {Name: "app", Upstreams: []string{"npm-store"}}, "npm-store": {Name: "npm-store", ExternalConnections: []string{"public:npmjs"}}},
			repo:  "app", public: npm, wantCalls: ""},
		{name: "a store of another connection is refused",
			repos: map[string]*cpclient.Repository{"app": {Name: "app"}, "npm-store": {Name: "npm-store", ExternalConnections: []string{"public:pypi"}}},
			repo:  "app", public: npm, wantErr: ErrInvalid},
		{name: "a position past the end is refused before any change",
			repos: map[string]*cpclient.Repository{"app": {Name: "app"}}, repo: "app", public: npm, position: 3, wantErr: ErrInvalid},
		{name: "the store itself is refused",
			repos: map[string]*cpclient.Repository{"npm-store": {Name: "npm-store"}}, repo: "npm-store", public: npm, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{repos: tt.repos}
			_, err := Connect(context.Background(), api, "acme", tt.repo, tt.public, tt.position)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if got := strings.Join(api.calls, "; "); got != tt.wantCalls {
				t.Errorf("calls %q, want %q", got, tt.wantCalls)
			}
		})
	}
}

func TestPublics(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Publics() {
		for _, name := range []string{p.Connection, p.Store} {
			if seen[name] {
				t.Errorf("%s twice", name)
			}
			seen[name] = true
			if got, ok := Find(name); !ok || got != p {
				t.Errorf("Find(%s) = %v", name, got)
			}
		}
	}
	if len(Publics()) != 10 {
		t.Errorf("%d public repositories, want CodeArtifact's 10", len(Publics()))
	}
}
