package webui_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/maven"
	"github.com/stockpile-proxy/stockpile/formats/npm"
	"github.com/stockpile-proxy/stockpile/formats/pypi"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/proxy/resolver"
)

// plant writes versions of p into repository repo of acme through the
// engine's record writer, as a publish leaves them (origin internal).
func plant(t testing.TB, in *proxytest.Instance, repo string, p formats.Package, versions ...string) {
	t.Helper()
	r, err := in.Server.Registry().Repository("acme", repo)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = in.Server.Resolver().UpdateRecords(ctx, "acme", p, func(w *resolver.Records) error {
		for i, v := range versions {
			rec := &resolver.VersionRecord{Version: formats.Version{Version: v, Status: formats.StatusPublished,
				Published: time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC)},
				Origin: resolver.VersionOrigin{Type: resolver.OriginInternal, Repository: repo}}
			if err := w.PutVersion(ctx, r.ID, rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestActionsForEveryNameShape takes each action through the interface's
// forms for a PyPI project (the form names it as a user spells it, the
// records hold its PEP 503 normalized name), a Maven artifact (namespace =
// groupId) and a scoped npm package (namespace = scope), and checks `aws
// codeartifact describe-package-version` agrees after each step.
func TestActionsForEveryNameShape(t *testing.T) {
	cfg := testConfig()
	in := proxytest.Start(t, proxytest.Options{Config: cfg, Formats: []formats.Format{npm.New(), pypi.New(), maven.New()}})
	cli := proxytest.NewAWSCLI(t, in, "AKIAADMIN", "admin-secret")
	b := newBrowser(t, in)
	b.signIn(in.TokenFor("acme", "AKIAADMIN"))
	cases := []struct {
		name   string
		stored formats.Package // as the records hold it
		form   url.Values      // as the forms name it
		cli    proxytest.CLIPackage
	}{
		{"pypi, normalized name", formats.Package{Format: "pypi", Name: "my-package"},
			url.Values{"format": {"pypi"}, "name": {"My_Package"}},
			proxytest.CLIPackage{Domain: "acme", Format: "pypi", Package: "my-package"}},
		{"maven, groupId as namespace", formats.Package{Format: "maven", Namespace: "com.acme.tools", Name: "widget"},
			url.Values{"format": {"maven"}, "namespace": {"com.acme.tools"}, "name": {"widget"}},
			proxytest.CLIPackage{Domain: "acme", Format: "maven", Namespace: "com.acme.tools", Package: "widget"}},
		{"npm, scoped", formats.Package{Format: "npm", Namespace: "acme", Name: "util"},
			url.Values{"format": {"npm"}, "namespace": {"acme"}, "name": {"util"}},
			proxytest.CLIPackage{Domain: "acme", Format: "npm", Namespace: "acme", Package: "util"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plant(t, in, "internal", tc.stored, "1.0.0", "2.0.0")
			status := func(repo, version string) string {
				t.Helper()
				v := cli.OK(append([]string{"describe-package-version"}, tc.cli.Args(repo, "--package-version", version)...)...)
				s, _ := proxytest.Pick(v, "packageVersion", "status").(string)
				return s
			}
			pkgPage := "/-/ui/d/acme/r/internal/package?" + tc.form.Encode()
			if p := b.get(pkgPage); p.Status != http.StatusOK || !strings.Contains(p.Body, `id="act-status"`) {
				t.Fatalf("package page as the form names it: %d", p.Status)
			}
			steps := []struct {
				op, version string
				extra       []string
				check       func() string
				want        string
			}{
				{"status", "1.0.0", []string{"status", "Unlisted"}, func() string { return status("internal", "1.0.0") }, "Unlisted"},
				{"status", "1.0.0", []string{"status", "Archived"}, func() string { return status("internal", "1.0.0") }, "Archived"},
				{"copy", "2.0.0", []string{"to", "app"}, func() string { return status("app", "2.0.0") }, "Published"},
				{"dispose", "1.0.0", nil, func() string { return status("internal", "1.0.0") }, "Disposed"},
				{"delete", "2.0.0", nil, func() string {
					cli.Fails("ResourceNotFoundException", append([]string{"describe-package-version"}, tc.cli.Args("internal", "--package-version", "2.0.0")...)...)
					return "gone"
				}, "gone"},
			}
			for _, st := range steps {
				form := url.Values{"op": {st.op}, "version": {st.version}}
				for k, v := range tc.form {
					form[k] = v
				}
				for i := 0; i+1 < len(st.extra); i += 2 {
					form.Set(st.extra[i], st.extra[i+1])
				}
				confirm := b.get(actionPath + "?" + form.Encode())
				if confirm.Status != http.StatusOK || !strings.Contains(confirm.Body, `id="confirm"`) {
					t.Fatalf("%s %s: confirmation page %d %s", st.op, st.version, confirm.Status, confirm.Body)
				}
				form.Set("csrf", csrf(t, confirm.Body))
				if p := b.post(actionPath, form); p.Status != http.StatusSeeOther || !strings.Contains(p.Location, "done="+st.op) {
					t.Fatalf("%s %s: %d %q %s", st.op, st.version, p.Status, p.Location, p.Body)
				}
				if got := st.check(); got != st.want {
					t.Fatalf("after %s %s the control plane says %q, want %q", st.op, st.version, got, st.want)
				}
			}
			if p := b.get("/-/ui/d/acme/r/app/package?" + tc.form.Encode() + "&version=2.0.0"); p.Status != http.StatusOK {
				t.Errorf("the copy's page in app: %d", p.Status)
			}
		})
	}
}
