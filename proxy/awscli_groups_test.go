package proxy_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
)

func TestAWSCLIPackageGroups(t *testing.T) {
	in, up, a := startLifecycle(t)
	up.Publish(t, "acme-lib", "1.0.0")
	up.Publish(t, "other", "1.0.0")
	dom := []string{"--domain", "acme"}
	with := func(extra ...string) []string { return append(append([]string{}, dom...), extra...) }

	g := a.ok(append([]string{"create-package-group"}, with("--package-group", "/cargo//acme~", "--description", "our crates")...)...)
	if pick(g, "packageGroup", "pattern") != "/cargo//acme~" || pick(g, "packageGroup", "parent", "pattern") != "/*" ||
		pick(g, "packageGroup", "originConfiguration", "restrictions", "PUBLISH", "mode") != "INHERIT" ||
		pick(g, "packageGroup", "originConfiguration", "restrictions", "PUBLISH", "effectiveMode") != "ALLOW" {
		t.Fatalf("create-package-group: %v", g)
	}
	a.fails("ConflictException", append([]string{"create-package-group"}, with("--package-group", "/cargo//acme~")...)...)
	a.fails("ValidationException", append([]string{"create-package-group"}, with("--package-group", "/cargo/acme")...)...)
	a.ok(append([]string{"create-package-group"}, with("--package-group", "/cargo//acme-lib$")...)...)

	// Block external versions of acme*: the public acme-lib disappears.
	r := a.ok(append([]string{"update-package-group-origin-configuration"}, with("--package-group", "/cargo//acme~", "--restrictions", "EXTERNAL_UPSTREAM=BLOCK")...)...)
	if pick(r, "packageGroup", "originConfiguration", "restrictions", "EXTERNAL_UPSTREAM", "mode") != "BLOCK" {
		t.Fatalf("update-package-group-origin-configuration: %v", r)
	}
	if code, _ := get(t, in.URL+"/acme/cargo/app/acme-lib"); code != 404 {
		t.Fatalf("a blocked external package: %d", code)
	}
	if code, _ := get(t, in.URL+"/acme/cargo/app/other"); code != 200 {
		t.Fatalf("a package outside the group: %d", code)
	}
	d := a.ok(append([]string{"describe-package-group"}, with("--package-group", "/cargo//acme-lib$")...)...)
	ext := pick(d, "packageGroup", "originConfiguration", "restrictions", "EXTERNAL_UPSTREAM")
	if pick(ext, "mode") != "INHERIT" || pick(ext, "effectiveMode") != "BLOCK" || pick(ext, "inheritedFrom", "pattern") != "/cargo//acme~" {
		t.Fatalf("inherited restriction: %v", ext)
	}
	assoc := a.ok(append([]string{"get-associated-package-group"}, with("--format", "cargo", "--package", "acme-lib")...)...)
	if pick(assoc, "packageGroup", "pattern") != "/cargo//acme-lib$" || assoc["associationType"] != "STRONG" {
		t.Fatalf("get-associated-package-group: %v", assoc)
	}
	assoc = a.ok(append([]string{"get-associated-package-group"}, with("--format", "cargo", "--package", "Acme_Lib")...)...)
	if assoc["associationType"] != "WEAK" {
		t.Fatalf("a look-alike name: %v", assoc)
	}
	l := a.ok(append([]string{"list-package-groups"}, dom...)...)
	if n := len(pick(l, "packageGroups").([]any)); n != 3 {
		t.Fatalf("list-package-groups: %v", l)
	}
	l = a.ok(append([]string{"list-sub-package-groups"}, with("--package-group", "/cargo//acme~")...)...)
	if n := len(pick(l, "packageGroups").([]any)); n != 1 || pick(l, "packageGroups", 0, "pattern") != "/cargo//acme-lib$" {
		t.Fatalf("list-sub-package-groups: %v", l)
	}

	// Let the store ingest them again, by name.
	r = a.ok(append([]string{"update-package-group-origin-configuration"}, with("--package-group", "/cargo//acme~",
		"--restrictions", "EXTERNAL_UPSTREAM=ALLOW_SPECIFIC_REPOSITORIES",
		"--add-allowed-repositories", "repositoryName=store,originRestrictionType=EXTERNAL_UPSTREAM")...)...)
	if added := pick(r, "allowedRepositoryUpdates", "EXTERNAL_UPSTREAM", "ADDED"); added == nil || len(added.([]any)) != 1 {
		t.Fatalf("allowedRepositoryUpdates: %v", r)
	}
	if code, _ := get(t, in.URL+"/acme/cargo/app/acme-lib/1.0.0/acme-lib-1.0.0.txt"); code != 200 {
		t.Fatalf("allowed through store: %d", code)
	}
	ar := a.ok(append([]string{"list-allowed-repositories-for-group"}, with("--package-group", "/cargo//acme~", "--origin-restriction-type", "EXTERNAL_UPSTREAM")...)...)
	if got := pick(ar, "allowedRepositories"); got == nil || len(got.([]any)) != 1 || pick(ar, "allowedRepositories", 0) != "store" {
		t.Fatalf("list-allowed-repositories-for-group: %v", ar)
	}
	lp := a.ok(append([]string{"list-associated-packages"}, with("--package-group", "/cargo//acme-lib$")...)...)
	if pick(lp, "packages", 0, "package") != "acme-lib" {
		t.Fatalf("list-associated-packages: %v", lp)
	}

	// Block publishing into the group.
	a.ok(append([]string{"update-package-group-origin-configuration"}, with("--package-group", "/cargo//acme~", "--restrictions", "PUBLISH=BLOCK")...)...)
	err := in.Server.Resolver().Publish(context.Background(), formats.RepoRef{Domain: "acme", Repository: "dest"},
		formats.Package{Format: "cargo", Name: "acme-new"}, formats.Publication{Version: formats.Version{Version: "1.0.0"},
			Content: func(string) (io.Reader, error) { return strings.NewReader(""), nil }})
	if !errors.Is(err, formats.ErrNotAllowed) {
		t.Fatalf("publish into a blocked group: %v", err)
	}

	u := a.ok(append([]string{"update-package-group"}, with("--package-group", "/cargo//acme~", "--contact-info", "platform@acme.test")...)...)
	if pick(u, "packageGroup", "contactInfo") != "platform@acme.test" {
		t.Fatalf("update-package-group: %v", u)
	}
	a.fails("ValidationException", append([]string{"delete-package-group"}, with("--package-group", "/*")...)...)
	a.ok(append([]string{"delete-package-group"}, with("--package-group", "/cargo//acme~")...)...)
	a.fails("ResourceNotFoundException", append([]string{"describe-package-group"}, with("--package-group", "/cargo//acme~")...)...)
	// The child falls to the root, which allows everything.
	d = a.ok(append([]string{"describe-package-group"}, with("--package-group", "/cargo//acme-lib$")...)...)
	if pick(d, "packageGroup", "parent", "pattern") != "/*" {
		t.Fatalf("after deleting the parent: %v", d)
	}
}
