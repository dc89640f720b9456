package webui_test

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

func actionForm(op, version string, extra ...string) url.Values {
	v := url.Values{"op": {op}, "format": {"npm"}, "name": {"left-pad"}, "version": {version}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

const actionPath = "/-/ui/d/acme/r/internal/action"

// TestActionsAgreeWithTheControlPlane takes each action through its
// confirmation page and checks `aws codeartifact describe-package-version`
// sees the result, and that the action is logged.
func TestActionsAgreeWithTheControlPlane(t *testing.T) {
	logs := &proxytest.LogBuffer{}
	in := startLog(t, nil, 0, slog.New(slog.NewJSONHandler(logs, nil)))
	cli := proxytest.NewAWSCLI(t, in, "AKIAADMIN", "admin-secret")
	describe := func(version string) string {
		t.Helper()
		v := cli.OK("describe-package-version", "--domain", "acme", "--repository", "internal", "--format", "npm",
			"--package", "left-pad", "--package-version", version)
		s, _ := proxytest.Pick(v, "packageVersion", "status").(string)
		return s
	}
	b := newBrowser(t, in)
	b.signIn(in.TokenFor("acme", "AKIAADMIN"))
	pg := b.get(leftPad + "&version=1.0.0")
	for _, id := range []string{`id="act-status"`, `id="act-dispose"`, `id="act-delete"`} {
		if !strings.Contains(pg.Body, id) {
			t.Errorf("the admin's package page lacks %s", id)
		}
	}
	steps := []struct {
		op, status, want string
	}{
		{"status", "Unlisted", "Unlisted"},
		{"status", "Archived", "Archived"},
		{"status", "Published", "Published"},
		{"dispose", "", "Disposed"},
	}
	for _, st := range steps {
		form := actionForm(st.op, "1.0.0", "status", st.status)
		confirm := b.get(actionPath + "?" + form.Encode())
		if confirm.Status != http.StatusOK || !strings.Contains(confirm.Body, `id="confirm"`) {
			t.Fatalf("%s %s: confirmation page %d %s", st.op, st.status, confirm.Status, confirm.Body)
		}
		if got := describe("1.0.0"); got == st.want && st.want != "Published" {
			t.Fatalf("%s: the confirmation page already changed the status", st.op)
		}
		form.Set("csrf", csrf(t, confirm.Body))
		p := b.post(actionPath, form)
		if p.Status != http.StatusSeeOther || !strings.Contains(p.Location, "done="+st.op) {
			t.Fatalf("%s %s: %d %q %s", st.op, st.status, p.Status, p.Location, p.Body)
		}
		if got := describe("1.0.0"); got != st.want {
			t.Fatalf("after %s %s the control plane says %s", st.op, st.status, got)
		}
		if page := b.get(p.Location); !strings.Contains(page.Body, `id="done"`) || !strings.Contains(page.Body, `<span class="status `+st.want+`">`) {
			t.Fatalf("the package page after %s does not show %s", st.op, st.want)
		}
	}
	// A Disposed version's status cannot change, as in UpdatePackageVersionsStatus.
	form := actionForm("status", "1.0.0", "status", "Published", "csrf", csrf(t, pg.Body))
	if p := b.post(actionPath, form); p.Status != http.StatusConflict {
		t.Fatalf("status change of a Disposed version: %d", p.Status)
	}
	form = actionForm("delete", "1.0.0", "csrf", csrf(t, pg.Body))
	if p := b.post(actionPath, form); p.Status != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", p.Status, p.Body)
	}
	cli.Fails("ResourceNotFoundException", "describe-package-version", "--domain", "acme", "--repository", "internal", "--format", "npm",
		"--package", "left-pad", "--package-version", "1.0.0")
	if got := describe("1.1.0"); got != "Published" {
		t.Fatalf("the other version is %s", got)
	}
	log := logs.String()
	for _, want := range []string{`"msg":"web interface action"`, `"operation":"codeartifact:UpdatePackageVersionsStatus"`,
		`"operation":"codeartifact:DisposePackageVersions"`, `"operation":"codeartifact:DeletePackageVersions"`,
		`"principal":"arn:aws:iam::111122223333:user/AKIAADMIN"`, `"version":"1.0.0"`} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %s", want)
		}
	}
	if n := strings.Count(log, `"msg":"audit"`); n < 6 {
		t.Errorf("%d audit lines, want one per action taken through the authorizer", n)
	}
}

// TestActionsNeedTheirPermission: a principal that may read but not change
// the package is offered no action and is refused each one, and so is a
// form without the CSRF token and an anonymous visitor.
func TestActionsNeedTheirPermission(t *testing.T) {
	cfg := testConfig()
	cfg.Auth.AnonymousRead = true
	in := start(t, cfg, 0)
	cli := proxytest.NewAWSCLI(t, in, "AKIAADMIN", "admin-secret")
	status := func() string {
		v := cli.OK("describe-package-version", "--domain", "acme", "--repository", "internal", "--format", "npm",
			"--package", "left-pad", "--package-version", "1.0.0")
		s, _ := proxytest.Pick(v, "packageVersion", "status").(string)
		return s
	}
	viewer := newBrowser(t, in)
	viewer.signIn(in.TokenFor("acme", "AKIAVIEWER"))
	anonymous := newBrowser(t, in)
	admin := newBrowser(t, in)
	admin.signIn(in.TokenFor("acme", "AKIAADMIN"))
	cases := []struct {
		name   string
		b      *browser
		noCSRF bool
		want   int
	}{
		{"viewer", viewer, false, http.StatusForbidden},
		{"anonymous", anonymous, false, http.StatusForbidden},
		{"admin without CSRF token", admin, true, http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pg := tc.b.get(leftPad)
			if pg.Status != http.StatusOK {
				t.Fatalf("package page: %d", pg.Status)
			}
			if !tc.noCSRF && strings.Contains(pg.Body, `id="act-`) {
				t.Errorf("the package page offers an action")
			}
			for _, op := range []string{"status", "dispose", "delete"} {
				form := actionForm(op, "1.0.0", "status", "Unlisted")
				if !tc.noCSRF {
					if p := tc.b.get(actionPath + "?" + form.Encode()); p.Status != http.StatusForbidden {
						t.Errorf("%s confirmation page: %d", op, p.Status)
					}
					form.Set("csrf", csrf(t, tc.b.get("/-/ui/signin").Body))
				}
				if p := tc.b.post(actionPath, form); p.Status != tc.want {
					t.Errorf("%s: %d, want %d", op, p.Status, tc.want)
				}
			}
			if s := status(); s != "Published" {
				t.Fatalf("the refused actions changed the status to %s", s)
			}
		})
	}
}

func TestCopyVersionToAnotherRepository(t *testing.T) {
	in := start(t, nil, 0)
	cli := proxytest.NewAWSCLI(t, in, "AKIAADMIN", "admin-secret")
	b := newBrowser(t, in)
	b.signIn(in.TokenFor("acme", "AKIAADMIN"))
	pg := b.get(leftPad + "&version=1.1.0")
	if !strings.Contains(pg.Body, `id="act-copy"`) || !strings.Contains(pg.Body, "<option>app</option>") {
		t.Fatal("the admin is not offered to copy to app")
	}
	form := actionForm("copy", "1.1.0", "to", "app")
	confirm := b.get(actionPath + "?" + form.Encode())
	if confirm.Status != http.StatusOK || !strings.Contains(confirm.Body, `name="to" value="app"`) {
		t.Fatalf("confirmation: %d %s", confirm.Status, confirm.Body)
	}
	form.Set("csrf", csrf(t, confirm.Body))
	if p := b.post(actionPath, form); p.Status != http.StatusSeeOther {
		t.Fatalf("copy: %d %s", p.Status, p.Body)
	}
	v := cli.OK("describe-package-version", "--domain", "acme", "--repository", "app", "--format", "npm",
		"--package", "left-pad", "--package-version", "1.1.0")
	if st := proxytest.Pick(v, "packageVersion", "status"); st != "Published" {
		t.Fatalf("the copy in app: %v", st)
	}
	if p := b.get("/-/ui/d/acme/r/app"); !strings.Contains(p.Body, ">left-pad<") {
		t.Error("app's package list does not show the copy")
	}
	if p := b.post(actionPath, form); p.Status != http.StatusConflict || !strings.Contains(p.Body, "already exists") {
		t.Fatalf("second copy: %d", p.Status)
	}
	// The viewer may read both repositories but copy to neither.
	viewer := newBrowser(t, in)
	viewer.signIn(in.TokenFor("acme", "AKIAVIEWER"))
	if p := viewer.get(leftPad); strings.Contains(p.Body, `id="act-copy"`) {
		t.Error("the viewer is offered to copy")
	}
	form.Set("csrf", csrf(t, viewer.get("/-/ui/signin").Body))
	form.Set("version", "1.0.0")
	if p := viewer.post(actionPath, form); p.Status != http.StatusForbidden {
		t.Errorf("viewer's copy: %d", p.Status)
	}
	cli.Fails("ResourceNotFoundException", "describe-package-version", "--domain", "acme", "--repository", "app", "--format", "npm",
		"--package", "left-pad", "--package-version", "1.0.0")
}
