package access_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/npm"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// The real-client matrix: three principals — reader (read on app),
// publisher (read on app and internal, publish on internal only) and admin —
// drive real package managers; refusals must be 403s the client shows.

const (
	readerPolicy = `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["codeartifact:GetAuthorizationToken","sts:GetServiceBearerToken"],"Resource":"*"},
		{"Effect":"Allow","Action":"codeartifact:ReadFromRepository","Resource":"arn:aws:codeartifact:*:111122223333:repository/acme/app"}]}`
	publisherPolicy = `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["codeartifact:GetAuthorizationToken","sts:GetServiceBearerToken"],"Resource":"*"},
		{"Effect":"Allow","Action":"codeartifact:ReadFromRepository","Resource":["arn:aws:codeartifact:*:*:repository/acme/app","arn:aws:codeartifact:*:*:repository/acme/internal"]},
		{"Effect":"Allow","Action":["codeartifact:PublishPackageVersion","codeartifact:PutPackageMetadata"],"Resource":"arn:aws:codeartifact:*:*:package/acme/internal/*"}]}`
)

func matrixServer(t *testing.T, fs ...formats.Format) *proxytest.Instance {
	cfg := proxy.Defaults()
	cfg.Auth.Account = "111122223333"
	cfg.Auth.AccessKeys = []proxy.AccessKey{
		{ID: "AKIAADMIN", Secret: "admin-secret", Admin: true},
		{ID: "AKIAREADER", Secret: "reader-secret", Principal: "arn:aws:iam::111122223333:user/reader", Policy: readerPolicy},
		{ID: "AKIAPUB", Secret: "pub-secret", Principal: "arn:aws:iam::111122223333:role/publisher", Policy: publisherPolicy},
	}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{{Name: "app"}, {Name: "internal"}}}}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: fs})
	admin := proxytest.NewAWSCLI(t, in, "AKIAADMIN", "admin-secret")
	// An explicit Deny on one package beats the publisher's Allow.
	admin.OK("put-repository-permissions-policy", "--domain", "acme", "--repository", "internal", "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Sid":"Frozen","Effect":"Deny","Principal":"*","Action":"codeartifact:PublishPackageVersion","Resource":"arn:aws:codeartifact:*:*:package/acme/internal/*/*/mxfrozen"}]}`)
	return in
}

// npmAs runs npm as the principal of key in a private home, with a token
// for both repositories.
func npmAs(t *testing.T, in *proxytest.Instance, key string) func(ok bool, args ...string) string {
	bin := proxytest.RequireTool(t, "npm")
	dir := t.TempDir()
	tok := in.TokenFor("acme", key)
	host := strings.TrimPrefix(in.URL, "http:")
	rc := host + "/acme/npm/app/:_authToken=" + tok + "\n" + host + "/acme/npm/internal/:_authToken=" + tok + "\n"
	if err := os.WriteFile(filepath.Join(dir, "npmrc"), []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(ok bool, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "npm_config_userconfig=" + filepath.Join(dir, "npmrc"),
			"npm_config_cache=" + filepath.Join(dir, "cache"), "npm_config_update_notifier=false", "npm_config_fund=false",
			"npm_config_audit=false", "npm_config_registry=" + in.URL + "/acme/npm/app/"}
		out, err := cmd.CombinedOutput()
		if (err == nil) != ok {
			t.Fatalf("npm %s: err=%v, want success=%v\n%s", strings.Join(args, " "), err, ok, out)
		}
		return string(out)
	}
}

// npmPackage writes a package directory for name@version.
func npmPackage(t *testing.T, name, version string) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"`+name+`","version":"`+version+`","main":"index.js"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "index.js"), []byte("module.exports = 42;\n"), 0o644)
	return dir
}

func TestMatrixNpm(t *testing.T) {
	in := matrixServer(t, npm.New())
	admin, reader, publisher := npmAs(t, in, "AKIAADMIN"), npmAs(t, in, "AKIAREADER"), npmAs(t, in, "AKIAPUB")
	app, internal := in.URL+"/acme/npm/app/", in.URL+"/acme/npm/internal/"

	admin(true, "publish", npmPackage(t, "mxlib", "1.0.0"), "--registry", app)
	t.Run("reader installs through app", func(t *testing.T) {
		proj := t.TempDir()
		os.WriteFile(filepath.Join(proj, "package.json"), []byte(`{"name":"p","version":"1.0.0","private":true}`), 0o644)
		reader(true, "install", "--prefix", proj, "mxlib@1.0.0")
		if _, err := os.Stat(filepath.Join(proj, "node_modules", "mxlib", "index.js")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("reader publish is refused with a 403", func(t *testing.T) {
		out := reader(false, "publish", npmPackage(t, "mxreader", "1.0.0"), "--registry", app)
		if !strings.Contains(out, "403") || !strings.Contains(out, "codeartifact:PublishPackageVersion") {
			t.Fatalf("npm output does not show the 403:\n%s", out)
		}
	})
	t.Run("publisher publishes to internal", func(t *testing.T) {
		publisher(true, "publish", npmPackage(t, "mxpub", "1.0.0"), "--registry", internal)
	})
	t.Run("publisher is refused on app", func(t *testing.T) {
		out := publisher(false, "publish", npmPackage(t, "mxpub", "1.0.1"), "--registry", app)
		if !strings.Contains(out, "403") || !strings.Contains(out, "package/acme/app/npm//mxpub") {
			t.Fatalf("npm output does not show the 403:\n%s", out)
		}
	})
	t.Run("explicit deny on a package beats the identity allow", func(t *testing.T) {
		out := publisher(false, "publish", npmPackage(t, "mxfrozen", "1.0.0"), "--registry", internal)
		if !strings.Contains(out, "403") || !strings.Contains(out, "explicit deny") {
			t.Fatalf("npm output does not show the 403:\n%s", out)
		}
	})
}
