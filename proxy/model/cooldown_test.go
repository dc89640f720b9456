package model

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy/firewall"
)

func TestCooldownForMostSpecificWins(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	r.CreateDomain(ctx, "acme", nil)
	mustRepo(t, r, "app")
	mustRepo(t, r, "other")
	for _, p := range []string{"/npm/*", "/npm/acme/*", "/npm/acme/ui-kit$"} {
		if _, err := r.CreateGroup(ctx, "acme", p, "", "", nil); err != nil {
			t.Fatal(err)
		}
	}
	day := firewall.Duration(24 * time.Hour)
	set := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := r.SetRepositoryCooldown(ctx, "acme", "app", &firewall.Cooldown{MinAge: 7 * day, Mode: firewall.ModeDeny, Exempt: []string{"/pypi//requests$"}})
	set(err)
	_, err = r.SetGroupCooldown(ctx, "acme", "/npm/acme/*", &firewall.Cooldown{MinAge: 2 * day})
	set(err)
	_, err = r.SetGroupCooldown(ctx, "acme", "/npm/acme/ui-kit$", &firewall.Cooldown{}) // exempt by a zero min_age
	set(err)
	_, err = r.SetGroupCooldown(ctx, "acme", RootPattern, &firewall.Cooldown{MinAge: day})
	set(err)

	tests := []struct {
		name                  string
		repo, format, ns, pkg string
		wantOK                bool
		wantAge               firewall.Duration
		wantMode, wantSource  string
	}{
		{"a group on the package's chain beats the repository", "app", "npm", "acme", "core", true, 2 * day, firewall.ModeHide, "package group /npm/acme/*"},
		{"a group's zero min_age turns it off", "app", "npm", "acme", "ui-kit", false, 0, "", ""},
		{"the repository beats the root group", "app", "npm", "", "left-pad", true, 7 * day, firewall.ModeDeny, "repository app"},
		{"the repository's exempt patterns", "app", "pypi", "", "requests", false, 0, "", ""},
		{"the root group is the domain default", "other", "cargo", "", "serde", true, day, firewall.ModeHide, "package group /*"},
		{"unknown domain", "app", "npm", "", "x", false, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			domain := "acme"
			if tt.name == "unknown domain" {
				domain = "nope"
			}
			got, ok := r.CooldownFor(domain, tt.repo, tt.format, tt.ns, tt.pkg)
			if ok != tt.wantOK {
				t.Fatalf("CooldownFor ok = %v (%+v), want %v", ok, got, tt.wantOK)
			}
			if ok && (got.MinAge != tt.wantAge || got.Mode != tt.wantMode || got.Source != tt.wantSource || got.MissingTime != firewall.MissingAllow) {
				t.Errorf("CooldownFor = %+v, want min_age %s mode %s from %s", got, tt.wantAge, tt.wantMode, tt.wantSource)
			}
		})
	}
}

func TestCooldownPersistsAndValidates(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	r.CreateDomain(ctx, "acme", nil)
	mustRepo(t, r, "app")
	if _, err := r.SetRepositoryCooldown(ctx, "acme", "app", &firewall.Cooldown{MinAge: 1, Mode: "block"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad mode: %v, want ErrInvalid", err)
	}
	if _, err := r.SetGroupCooldown(ctx, "acme", RootPattern, &firewall.Cooldown{MinAge: 1, Exempt: []string{"npm/*"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad exempt pattern: %v, want ErrInvalid", err)
	}
	gen := r.Generation()
	if _, err := r.SetRepositoryCooldown(ctx, "acme", "app", &firewall.Cooldown{MinAge: firewall.Duration(time.Hour), Exempt: []string{"/npm/*"}}); err != nil {
		t.Fatal(err)
	}
	if r.Generation() == gen {
		t.Errorf("setting a cooldown did not change the registry generation (rendered documents would stay)")
	}
	again, err := Load(ctx, r.store)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := again.Repository("acme", "app")
	if err != nil || repo.Cooldown == nil || repo.Cooldown.MinAge != firewall.Duration(time.Hour) || len(repo.Cooldown.Exempt) != 1 {
		t.Fatalf("reloaded repository cooldown = %+v, %v", repo.Cooldown, err)
	}
	if _, err := r.SetRepositoryCooldown(ctx, "acme", "app", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.CooldownFor("acme", "app", "pypi", "", "x"); ok {
		t.Errorf("a removed cooldown still applies")
	}
}
