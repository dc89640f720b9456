package scoped

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
)

// TestReload checks that a registry sees, after Reload, a token another
// registry on the same store (another replica) created, and stops honouring
// it once that one revoked it.
func TestReload(t *testing.T) {
	ctx := context.Background()
	store, err := badgerstore.Open(badgerstore.Options{InMemory: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	a, err := Load(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := a.Create(ctx, "acme", "ci", []string{"app"}, Read, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Lookup(secret); ok {
		t.Fatal("b knows the token before reloading")
	}
	if err := b.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Lookup(secret); !ok {
		t.Fatal("b does not know the token a created after reloading")
	}
	if _, err := a.Revoke(ctx, "acme", "ci"); err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Lookup(secret); ok {
		t.Fatal("b still honours the token a revoked after reloading")
	}
}
