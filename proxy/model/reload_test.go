package model

import (
	"context"
	"errors"
	"testing"
)

// TestReload checks that a registry sees, after Reload, what another
// registry on the same store (another replica) created and deleted, and
// that its generation moves on.
func TestReload(t *testing.T) {
	ctx := context.Background()
	a := newRegistry(t)
	b, err := Load(ctx, a.store)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateDomain(ctx, "acme", nil); err != nil {
		t.Fatal(err)
	}
	mustRepo(t, a, "store")
	mustRepo(t, a, "app", "store")
	tests := []struct {
		name   string
		change func(t *testing.T)
		check  func(t *testing.T)
	}{
		{"created", func(t *testing.T) {}, func(t *testing.T) {
			repo, err := b.Repository("acme", "app")
			if err != nil {
				t.Fatalf("b does not see the repository a created: %v", err)
			}
			if got := b.UpstreamNames(repo); len(got) != 1 || got[0] != "store" {
				t.Fatalf("upstreams %v", got)
			}
		}},
		{"deleted", func(t *testing.T) {
			if _, err := a.DeleteRepository(ctx, "acme", "app"); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T) {
			if _, err := b.Repository("acme", "app"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("b still sees the repository a deleted: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.change(t)
			gen := b.Generation()
			if err := b.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			if b.Generation() == gen {
				t.Fatal("Reload did not move the generation on")
			}
			tt.check(t)
		})
	}
}
