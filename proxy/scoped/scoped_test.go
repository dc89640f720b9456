package scoped

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/storage/badgerstore"
)

func TestRegistry(t *testing.T) {
	ctx := context.Background()
	store, err := badgerstore.Open(badgerstore.Options{InMemory: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	r, err := Load(ctx, store, clock)
	if err != nil {
		t.Fatal(err)
	}
	tok, secret, err := r.Create(ctx, "acme", "renovate", []string{"app", "app", "internal"}, Read, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, Prefix) || strings.Contains(tok.Hash, secret) || len(tok.Repositories) != 2 {
		t.Fatalf("Create = %+v, %q", tok, secret)
	}

	tests := []struct {
		name    string
		domain  string
		tname   string
		repos   []string
		access  string
		life    time.Duration
		wantErr error
	}{
		{"duplicate name", "acme", "renovate", []string{"app"}, Read, time.Hour, ErrExists},
		{"same name in another domain", "other", "renovate", []string{"app"}, Read, time.Hour, nil},
		{"bad name", "acme", "no spaces", []string{"app"}, Read, time.Hour, ErrInvalid},
		{"no repositories", "acme", "x", nil, Read, time.Hour, ErrInvalid},
		{"bad access", "acme", "x", []string{"app"}, "write", time.Hour, ErrInvalid},
		{"over a year", "acme", "x", []string{"app"}, Read, MaxLifetime + time.Hour, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := r.Create(ctx, tt.domain, tt.tname, tt.repos, tt.access, tt.life)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Create: %v, want %v", err, tt.wantErr)
			}
		})
	}

	if got, ok := r.Lookup(secret); !ok || got.Name != "renovate" {
		t.Fatalf("Lookup: %v %v", got, ok)
	}
	if _, ok := r.Lookup(secret + "x"); ok {
		t.Fatal("a wrong secret was found")
	}
	// Survives a reload, without its secret.
	r2, err := Load(ctx, store, clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r2.Lookup(secret); !ok || len(r2.List("acme")) != 1 {
		t.Fatalf("after reload: %v", r2.List("acme"))
	}
	// Expires.
	now = now.Add(30 * 24 * time.Hour)
	if _, ok := r2.Lookup(secret); ok {
		t.Fatal("an expired token was found")
	}
	now = now.Add(-time.Hour)
	// Revoked at once.
	if _, err := r2.Revoke(ctx, "acme", "renovate"); err != nil {
		t.Fatal(err)
	}
	if _, ok := r2.Lookup(secret); ok {
		t.Fatal("a revoked token was found")
	}
	if _, err := r2.Revoke(ctx, "acme", "renovate"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second revoke: %v", err)
	}
	r3, _ := Load(ctx, store, clock)
	if len(r3.List("acme")) != 0 {
		t.Fatal("revocation did not persist")
	}
}
