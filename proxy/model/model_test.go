package model

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
)

func newRegistry(t *testing.T) *Registry {
	t.Helper()
	st, err := badgerstore.Open(badgerstore.Options{InMemory: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r, err := Load(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustRepo(t *testing.T, r *Registry, name string, ups ...string) {
	t.Helper()
	if _, err := r.CreateRepository(context.Background(), "acme", name, "", ups, nil); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
}

func stepNames(steps []Step) []string {
	var out []string
	for _, s := range steps {
		n := s.Repo.Name
		if s.External {
			n += "+" + s.Repo.ExternalConnection
		}
		out = append(out, n)
	}
	return out
}

func TestWalkOrder(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	if _, err := r.CreateDomain(ctx, "acme", nil); err != nil {
		t.Fatal(err)
	}
	// CodeArtifact's documented example: R has [A, B]; A has [C, D]; D has [E]
	// (names doubled: a repository name has at least two characters).
	for _, n := range []string{"ee", "cc", "bb"} {
		mustRepo(t, r, n)
	}
	mustRepo(t, r, "dd", "ee")
	mustRepo(t, r, "aa", "cc", "dd")
	mustRepo(t, r, "rr", "aa", "bb")
	if _, err := r.AssociateExternalConnection(ctx, "acme", "ee", "public:pypi"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AssociateExternalConnection(ctx, "acme", "rr", "public:npmjs"); err != nil {
		t.Fatal(err)
	}
	// Diamond: bb also reaches ee, which must be visited once.
	if _, err := r.UpdateRepository(ctx, "acme", "bb", nil, &[]string{"ee"}); err != nil {
		t.Fatal(err)
	}
	steps, err := r.Walk("acme", "rr")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"rr", "aa", "cc", "dd", "ee", "ee+public:pypi", "bb", "rr+public:npmjs"}
	if diff := cmp.Diff(want, stepNames(steps)); diff != "" {
		t.Fatalf("walk (-want +got):\n%s", diff)
	}
	// End of aa's subtree is bb; end of rr's is past the end.
	if steps[1].End != 6 || steps[0].End != len(steps) {
		t.Errorf("ends: A=%d R=%d", steps[1].End, steps[0].End)
	}
}

func TestWalkLimit(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	r.CreateDomain(ctx, "acme", nil)
	prev := ""
	for i := 0; i < 30; i++ {
		name := "r" + strings.Repeat("x", i+1)
		if prev == "" {
			mustRepo(t, r, name)
		} else {
			mustRepo(t, r, name, prev)
		}
		prev = name
	}
	steps, err := r.Walk("acme", prev)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != MaxWalk {
		t.Fatalf("walk visits %d repositories, want %d", len(steps), MaxWalk)
	}
}

func TestRefusals(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	r.CreateDomain(ctx, "acme", nil)
	mustRepo(t, r, "store")
	mustRepo(t, r, "team", "store")
	mustRepo(t, r, "app", "team")
	many := make([]string, 11)
	for i := range many {
		many[i] = "u" + strings.Repeat("1", i+1)
		mustRepo(t, r, many[i])
	}
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"bad domain name", func() error { _, err := r.CreateDomain(ctx, "Acme", nil); return err }, ErrInvalid},
		{"reserved domain", func() error { _, err := r.CreateDomain(ctx, "v1", nil); return err }, ErrInvalid},
		{"existing domain", func() error { _, err := r.CreateDomain(ctx, "acme", nil); return err }, ErrConflict},
		{"bad repository name", func() error { _, err := r.CreateRepository(ctx, "acme", "-x", "", nil, nil); return err }, ErrInvalid},
		{"missing domain", func() error { _, err := r.CreateRepository(ctx, "nope", "x1", "", nil, nil); return err }, ErrNotFound},
		{"missing upstream", func() error { _, err := r.CreateRepository(ctx, "acme", "x1", "", []string{"ghost"}, nil); return err }, ErrNotFound},
		{"cycle", func() error { _, err := r.UpdateRepository(ctx, "acme", "store", nil, &[]string{"app"}); return err }, ErrInvalid},
		{"self", func() error { _, err := r.UpdateRepository(ctx, "acme", "store", nil, &[]string{"store"}); return err }, ErrInvalid},
		{"eleven upstreams", func() error { _, err := r.UpdateRepository(ctx, "acme", "app", nil, &many); return err }, ErrQuota},
		{"unknown connection", func() error { _, err := r.AssociateExternalConnection(ctx, "acme", "store", "public:nope"); return err }, ErrInvalid},
		{"second connection", func() error {
			if _, err := r.AssociateExternalConnection(ctx, "acme", "store", "public:pypi"); err != nil {
				return err
			}
			_, err := r.AssociateExternalConnection(ctx, "acme", "store", "public:crates-io")
			return err
		}, ErrQuota},
		{"delete an upstream in use", func() error { _, err := r.DeleteRepository(ctx, "acme", "team"); return err }, ErrConflict},
		{"delete a domain with repositories", func() error { _, err := r.DeleteDomain(ctx, "acme"); return err }, ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestIdentityAndReload(t *testing.T) {
	ctx := context.Background()
	st, err := badgerstore.Open(badgerstore.Options{InMemory: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, _ := Load(ctx, st)
	r.CreateDomain(ctx, "acme", nil)
	r.CreateRepository(ctx, "acme", "store", "", nil, nil)
	r.CreateRepository(ctx, "acme", "app", "the app", []string{"store"}, nil)
	first, _ := r.Repository("acme", "store")

	r2, err := Load(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	app, err := r2.Repository("acme", "app")
	if err != nil {
		t.Fatal(err)
	}
	if app.Description != "the app" || len(app.Upstreams) != 1 || app.Upstreams[0] != first.ID {
		t.Fatalf("reloaded app = %+v", app)
	}
	if got := r2.UpstreamNames(app); !cmp.Equal(got, []string{"store"}) {
		t.Fatalf("upstream names %v", got)
	}
	// Unlink, delete and re-create "store": app must not pick up the new one.
	r2.UpdateRepository(ctx, "acme", "app", nil, &[]string{})
	if _, err := r2.DeleteRepository(ctx, "acme", "store"); err != nil {
		t.Fatal(err)
	}
	again, _ := r2.CreateRepository(ctx, "acme", "store", "", nil, nil)
	if again.ID == first.ID {
		t.Fatal("re-created repository reused its id")
	}
	steps, _ := r2.Walk("acme", "app")
	if diff := cmp.Diff([]string{"app"}, stepNames(steps)); diff != "" {
		t.Fatal(diff)
	}
}

func TestCheckRepository(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	if _, err := r.CreateDomain(ctx, "acme", nil); err != nil {
		t.Fatal(err)
	}
	mustRepo(t, r, "app")
	for _, tc := range []struct {
		name, domain, repo string
		found              bool
	}{
		{"present", "acme", "app", true},
		{"missing repository", "acme", "nope", false},
		{"missing domain", "other", "app", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.CheckRepository(tc.domain, tc.repo)
			_, want := r.Repository(tc.domain, tc.repo)
			if (err == nil) != tc.found || (err == nil) != (want == nil) {
				t.Fatalf("CheckRepository = %v, Repository's error = %v, want found=%v", err, want, tc.found)
			}
			if err != nil && (!errors.Is(err, ErrNotFound) || err.Error() != want.Error()) {
				t.Fatalf("CheckRepository = %v, want the same ErrNotFound as Repository (%v)", err, want)
			}
		})
	}
}
