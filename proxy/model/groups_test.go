package model

import (
	"context"
	"errors"
	"testing"
)

func TestParsePattern(t *testing.T) {
	tests := []struct {
		pattern string
		ok      bool
		matches [][3]string
		misses  [][3]string
	}{
		{"/*", true, [][3]string{{"npm", "", "react"}, {"maven", "org", "x"}}, nil},
		{"/npm/*", true, [][3]string{{"npm", "", "react"}}, [][3]string{{"pypi", "", "react"}}},
		{"/maven/com.anycompany~", true, [][3]string{{"maven", "com.anycompany.ui", "x"}}, [][3]string{{"maven", "org.anycompany", "x"}}},
		{"/npm/space/*", true, [][3]string{{"npm", "space", "ui"}}, [][3]string{{"npm", "spaces", "ui"}}},
		{"/npm/space/anycompany-ui~", true, [][3]string{{"npm", "space", "anycompany-ui-core"}}, [][3]string{{"npm", "space", "other"}}},
		{"/maven/org.apache.logging.log4j/log4j-core$", true, [][3]string{{"maven", "org.apache.logging.log4j", "log4j-core"}}, [][3]string{{"maven", "org.apache.logging.log4j", "log4j-core2"}}},
		{"/python//requests$", true, [][3]string{{"pypi", "", "requests"}}, nil},
		{"npm/*", false, nil, nil},
		{"/npm", false, nil, nil},
		{"/cobol/*", false, nil, nil},
		{"/npm/space/ui", false, nil, nil},
		{"/npm/a/b/c$", false, nil, nil},
		{"/npm/sp*ce/x$", false, nil, nil},
		{"/npm/has space/*", false, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			p, err := ParsePattern(tc.pattern)
			if (err == nil) != tc.ok {
				t.Fatalf("ParsePattern(%q) error %v, want ok=%v", tc.pattern, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			for _, m := range tc.matches {
				if !p.Matches(m[0], m[1], m[2]) {
					t.Errorf("%s does not match %v", tc.pattern, m)
				}
			}
			for _, m := range tc.misses {
				if p.Matches(m[0], m[1], m[2]) {
					t.Errorf("%s matches %v", tc.pattern, m)
				}
			}
		})
	}
}

func TestGroupAssociationAndInheritance(t *testing.T) {
	ctx := context.Background()
	r := newRegistry(t)
	r.CreateDomain(ctx, "acme", nil)
	mustRepo(t, r, "app")
	for _, p := range []string{"/npm/*", "/npm/acme/*", "/npm/acme/ui-kit$", "/maven/com.acme~"} {
		if _, err := r.CreateGroup(ctx, "acme", p, "", "", nil); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	tests := []struct {
		name                   string
		format, namespace, pkg string
		group                  string
		weak                   bool
	}{
		{"root", "pypi", "", "requests", "/*", false},
		{"format", "npm", "", "react", "/npm/*", false},
		{"namespace", "npm", "acme", "util", "/npm/acme/*", false},
		{"exact beats namespace", "npm", "acme", "ui-kit", "/npm/acme/ui-kit$", false},
		{"weak match of an exact name", "npm", "acme", "UI_Kit", "/npm/acme/ui-kit$", true},
		{"namespace prefix", "maven", "com.acme.tools", "lib", "/maven/com.acme~", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := r.Associate("acme", tc.format, tc.namespace, tc.pkg)
			if err != nil {
				t.Fatal(err)
			}
			if a.Group.Pattern != tc.group || a.Weak != tc.weak {
				t.Fatalf("got %s weak=%v, want %s weak=%v", a.Group.Pattern, a.Weak, tc.group, tc.weak)
			}
		})
	}
	if p := r.Parent("acme", "/npm/acme/ui-kit$"); p != "/npm/acme/*" {
		t.Fatalf("parent %q", p)
	}
	if p := r.Parent("acme", "/npm/*"); p != "/*" {
		t.Fatalf("parent %q", p)
	}

	// INHERIT resolves through the parents; ALLOW_SPECIFIC_REPOSITORIES lists repositories.
	if _, _, err := r.UpdateGroupOrigin(ctx, "acme", "/npm/*", map[string]string{RestrictExternalUpstream: ModeBlock}, nil, nil); err != nil {
		t.Fatal(err)
	}
	e := r.EffectiveRestriction("acme", "/npm/acme/ui-kit$", RestrictExternalUpstream)
	if e.Mode != ModeInherit || e.EffectiveMode != ModeBlock || e.InheritedFrom != "/npm/*" || e.Permits("app") {
		t.Fatalf("inherited %+v", e)
	}
	_, changes, err := r.UpdateGroupOrigin(ctx, "acme", "/npm/acme/*", map[string]string{RestrictPublish: ModeAllowSpecific},
		[]AllowedChange{{Repository: "app", Type: RestrictPublish}}, nil)
	if err != nil || len(changes[RestrictPublish]["ADDED"]) != 1 {
		t.Fatalf("allow specific: %v %v", changes, err)
	}
	if e := r.EffectiveRestriction("acme", "/npm/acme/ui-kit$", RestrictPublish); !e.Permits("app") || e.Permits("other") {
		t.Fatalf("allow specific: %+v", e)
	}
	if _, _, err := r.UpdateGroupOrigin(ctx, "acme", "/*", map[string]string{RestrictPublish: ModeInherit}, nil, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("root INHERIT: %v", err)
	}
	if _, err := r.DeleteGroup(ctx, "acme", "/*"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("delete root: %v", err)
	}
	// Deleting a group hands its packages to the parent.
	if _, err := r.DeleteGroup(ctx, "acme", "/npm/acme/ui-kit$"); err != nil {
		t.Fatal(err)
	}
	if a, _ := r.Associate("acme", "npm", "acme", "ui-kit"); a.Group.Pattern != "/npm/acme/*" {
		t.Fatalf("after delete: %s", a.Group.Pattern)
	}
	// Groups survive a reload.
	r2, err := Load(ctx, r.store)
	if err != nil {
		t.Fatal(err)
	}
	if e := r2.EffectiveRestriction("acme", "/npm/acme/*", RestrictExternalUpstream); e.EffectiveMode != ModeBlock {
		t.Fatalf("after reload: %+v", e)
	}
}
