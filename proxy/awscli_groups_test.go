package proxy_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

func TestAWSCLIPackageGroups(t *testing.T) {
	in, up, a := startLifecycle(t)
	up.Publish(t, "acme-lib", "1.0.0")
	up.Publish(t, "other", "1.0.0")
	dom := []string{"--domain", "acme"}
	with := func(extra ...string) []string { return append(append([]string{}, dom...), extra...) }

	g := a.OK(append([]string{"create-package-group"}, with("--package-group", "/cargo//acme~", "--description", "our crates")...)...)
	if proxytest.Pick(g, "packageGroup", "pattern") != "/cargo//acme~" || proxytest.Pick(g, "packageGroup", "parent", "pattern") != "/*" ||
		proxytest.Pick(g, "packageGroup", "originConfiguration", "restrictions", "PUBLISH", "mode") != "INHERIT" ||
		proxytest.Pick(g, "packageGroup", "originConfiguration", "restrictions", "PUBLISH", "effectiveMode") != "ALLOW" {
		t.Fatalf("create-package-group: %v", g)
	}
	a.Fails("ConflictException", append([]string{"create-package-group"}, with("--package-group", "/cargo//acme~")...)...)
	a.Fails("ValidationException", append([]string{"create-package-group"}, with("--package-group", "/cargo/acme")...)...)
	a.OK(append([]string{"create-package-group"}, with("--package-group", "/cargo//acme-lib$")...)...)

	// Block external versions of acme*: the public acme-lib disappears.
	r := a.OK(append([]string{"update-package-group-origin-configuration"}, with("--package-group", "/cargo//acme~", "--restrictions", "EXTERNAL_UPSTREAM=BLOCK")...)...)
	if proxytest.Pick(r, "packageGroup", "originConfiguration", "restrictions", "EXTERNAL_UPSTREAM", "mode") != "BLOCK" {
		t.Fatalf("update-package-group-origin-configuration: %v", r)
	}
	if code, _ := get(t, in.URL+"/acme/cargo/app/acme-lib"); code != 404 {
		t.Fatalf("a blocked external package: %d", code)
	}
	if code, _ := get(t, in.URL+"/acme/cargo/app/other"); code != 200 {
		t.Fatalf("a package outside the group: %d", code)
	}
	d := a.OK(append([]string{"describe-package-group"}, with("--package-group", "/cargo//acme-lib$")...)...)
	ext := proxytest.Pick(d, "packageGroup", "originConfiguration", "restrictions", "EXTERNAL_UPSTREAM")
	if proxytest.Pick(ext, "mode") != "INHERIT" || proxytest.Pick(ext, "effectiveMode") != "BLOCK" || proxytest.Pick(ext, "inheritedFrom", "pattern") != "/cargo//acme~" {
		t.Fatalf("inherited restriction: %v", ext)
	}
	assoc := a.OK(append([]string{"get-associated-package-group"}, with("--format", "cargo", "--package", "acme-lib")...)...)
	if proxytest.Pick(assoc, "packageGroup", "pattern") != "/cargo//acme-lib$" || assoc["associationType"] != "STRONG" {
		t.Fatalf("get-associated-package-group: %v", assoc)
	}
	assoc = a.OK(append([]string{"get-associated-package-group"}, with("--format", "cargo", "--package", "Acme_Lib")...)...)
	if assoc["associationType"] != "WEAK" {
		t.Fatalf("a look-alike name: %v", assoc)
	}
	l := a.OK(append([]string{"list-package-groups"}, dom...)...)
	if n := len(proxytest.Pick(l, "packageGroups").([]any)); n != 3 {
		t.Fatalf("list-package-groups: %v", l)
	}
	l = a.OK(append([]string{"list-sub-package-groups"}, with("--package-group", "/cargo//acme~")...)...)
	if n := len(proxytest.Pick(l, "packageGroups").([]any)); n != 1 || proxytest.Pick(l, "packageGroups", 0, "pattern") != "/cargo//acme-lib$" {
		t.Fatalf("list-sub-package-groups: %v", l)
	}

	// Let the store ingest them again, by name.
	r = a.OK(append([]string{"update-package-group-origin-configuration"}, with("--package-group", "/cargo//acme~",
		"--restrictions", "EXTERNAL_UPSTREAM=ALLOW_SPECIFIC_REPOSITORIES",
		"--add-allowed-repositories", "repositoryName=store,originRestrictionType=EXTERNAL_UPSTREAM")...)...)
	if added := proxytest.Pick(r, "allowedRepositoryUpdates", "EXTERNAL_UPSTREAM", "ADDED"); added == nil || len(added.([]any)) != 1 {
		t.Fatalf("allowedRepositoryUpdates: %v", r)
	}
	if code, _ := get(t, in.URL+"/acme/cargo/app/acme-lib/1.0.0/acme-lib-1.0.0.txt"); code != 200 {
		t.Fatalf("allowed through store: %d", code)
	}
	ar := a.OK(append([]string{"list-allowed-repositories-for-group"}, with("--package-group", "/cargo//acme~", "--origin-restriction-type", "EXTERNAL_UPSTREAM")...)...)
	if got := proxytest.Pick(ar, "allowedRepositories"); got == nil || len(got.([]any)) != 1 || proxytest.Pick(ar, "allowedRepositories", 0) != "store" {
		t.Fatalf("list-allowed-repositories-for-group: %v", ar)
	}
	lp := a.OK(append([]string{"list-associated-packages"}, with("--package-group", "/cargo//acme-lib$")...)...)
	if proxytest.Pick(lp, "packages", 0, "package") != "acme-lib" {
		t.Fatalf("list-associated-packages: %v", lp)
	}

	// Block publishing into the group.
	a.OK(append([]string{"update-package-group-origin-configuration"}, with("--package-group", "/cargo//acme~", "--restrictions", "PUBLISH=BLOCK")...)...)
	err := in.Server.Resolver().Publish(context.Background(), formats.RepoRef{Domain: "acme", Repository: "dest"},
		formats.Package{Format: "cargo", Name: "acme-new"}, formats.Publication{Version: formats.Version{Version: "1.0.0"},
			Content: func(string) (io.Reader, error) { return strings.NewReader(""), nil }})
	if !errors.Is(err, formats.ErrNotAllowed) {
		t.Fatalf("publish into a blocked group: %v", err)
	}

	u := a.OK(append([]string{"update-package-group"}, with("--package-group", "/cargo//acme~", "--contact-info", "platform@acme.test")...)...)
	if proxytest.Pick(u, "packageGroup", "contactInfo") != "platform@acme.test" {
		t.Fatalf("update-package-group: %v", u)
	}
	a.Fails("ValidationException", append([]string{"delete-package-group"}, with("--package-group", "/*")...)...)
	a.OK(append([]string{"delete-package-group"}, with("--package-group", "/cargo//acme~")...)...)
	a.Fails("ResourceNotFoundException", append([]string{"describe-package-group"}, with("--package-group", "/cargo//acme~")...)...)
	// The child falls to the root, which allows everything.
	d = a.OK(append([]string{"describe-package-group"}, with("--package-group", "/cargo//acme-lib$")...)...)
	if proxytest.Pick(d, "packageGroup", "parent", "pattern") != "/*" {
		t.Fatalf("after deleting the parent: %v", d)
	}
}
