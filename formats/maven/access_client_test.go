package maven_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// The real-client access matrix for Maven: three principals — reader (read
// on app), publisher (read on app and internal, publish on internal only)
// and admin — drive mvn; every refusal is a 403 mvn reports, and nothing
// refused is stored.

const (
	mxReaderPolicy = `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["codeartifact:GetAuthorizationToken","sts:GetServiceBearerToken"],"Resource":"*"},
		{"Effect":"Allow","Action":"codeartifact:ReadFromRepository","Resource":"arn:aws:codeartifact:*:111122223333:repository/acme/app"}]}`
	mxPublisherPolicy = `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["codeartifact:GetAuthorizationToken","sts:GetServiceBearerToken"],"Resource":"*"},
		{"Effect":"Allow","Action":"codeartifact:ReadFromRepository","Resource":["arn:aws:codeartifact:*:*:repository/acme/app","arn:aws:codeartifact:*:*:repository/acme/internal"]},
		{"Effect":"Allow","Action":["codeartifact:PublishPackageVersion","codeartifact:PutPackageMetadata"],"Resource":"arn:aws:codeartifact:*:*:package/acme/internal/*"}]}`
)

// mxProject is a jar project com.example.mx:NAME:VERSION; with dep, it
// depends on com.example.mx:mxlib:1.0 and uses it.
func mxProject(t *testing.T, name, version string, dep bool) string {
	dir := t.TempDir()
	deps, src := "", "package mx;\npublic class "+strings.ToUpper(name[:1])+name[1:]+" { public static int v() { return 1; } }\n"
	if dep {
		deps = `<dependencies><dependency><groupId>com.example.mx</groupId><artifactId>mxlib</artifactId><version>1.0</version></dependency></dependencies>`
		src = "package mx;\npublic class " + strings.ToUpper(name[:1]) + name[1:] + " { public static int v() { return Mxlib.v() + 1; } }\n"
	}
	writeFiles(t, dir, map[string]string{
		"pom.xml": `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example.mx</groupId>
  <artifactId>` + name + `</artifactId>
  <version>` + version + `</version>` + deps + pluginManagement + `
</project>
`,
		"src/main/java/mx/" + strings.ToUpper(name[:1]) + name[1:] + ".java": src,
	})
	return dir
}

func TestMatrixMvn(t *testing.T) {
	mvn := proxytest.RequireTool(t, "mvn")
	e := startEnv(t, envOptions{configure: func(cfg *proxy.Config) {
		cfg.Auth.Account = "111122223333"
		cfg.Auth.AccessKeys = []proxy.AccessKey{
			{ID: "AKIAADMIN", Secret: "admin-secret", Admin: true},
			{ID: "AKIAREADER", Secret: "reader-secret", Principal: "arn:aws:iam::111122223333:user/reader", Policy: mxReaderPolicy},
			{ID: "AKIAPUB", Secret: "pub-secret", Principal: "arn:aws:iam::111122223333:role/publisher", Policy: mxPublisherPolicy},
		}
	}})
	e.central.debian(t)
	admin := proxytest.NewAWSCLI(t, e.in, "AKIAADMIN", "admin-secret")
	// An explicit Deny on one package beats the publisher's Allow.
	admin.OK("put-repository-permissions-policy", "--domain", "acme", "--repository", "internal", "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Sid":"Frozen","Effect":"Deny","Principal":"*","Action":"codeartifact:PublishPackageVersion","Resource":"arn:aws:codeartifact:*:*:package/acme/internal/maven/com.example.mx/mxfrozen"}]}`)

	// mvnAs runs mvn in dir as the principal of key: every repository is
	// mirrored to app, and deploys go to repo, with key's token for both.
	mvnAs := func(key string) func(ok bool, dir, repo string, goals ...string) string {
		settings := filepath.Join(t.TempDir(), "settings.xml")
		if err := os.WriteFile(settings, []byte(settingsXML(e.url("app"), e.in.TokenFor("acme", key))), 0o600); err != nil {
			t.Fatal(err)
		}
		return func(ok bool, dir, repo string, goals ...string) string {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			args := append([]string{"-B", "-ntp", "-C", "-s", settings, "-Dmaven.repo.local=" + t.TempDir(),
				"-DaltDeploymentRepository=stockpile::" + e.url(repo)}, goals...)
			cmd := exec.CommandContext(ctx, mvn, args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "MAVEN_OPTS=-Xshare:auto -XX:TieredStopAtLevel=1")
			out, err := cmd.CombinedOutput()
			if (err == nil) != ok {
				t.Fatalf("mvn %s in %s: err=%v, want success=%v\n%s", strings.Join(goals, " "), repo, err, ok, tail(string(out)))
			}
			return string(out)
		}
	}
	adminMvn, reader, publisher := mvnAs("AKIAADMIN"), mvnAs("AKIAREADER"), mvnAs("AKIAPUB")
	absent := func(t *testing.T, repo, artifact, version string) {
		t.Helper()
		if s := e.held(t, repo, "com.example.mx", artifact, version); s != "" {
			t.Fatalf("a refused deploy stored %s %s in %s: %q", artifact, version, repo, s)
		}
	}
	refused := func(t *testing.T, out string) {
		t.Helper()
		if !strings.Contains(out, "403") {
			t.Fatalf("mvn does not show the 403:\n%s", tail(out))
		}
	}

	adminMvn(true, mxProject(t, "mxlib", "1.0", false), "app", "deploy")
	t.Run("reader builds against app", func(t *testing.T) {
		reader(true, mxProject(t, "mxconsumer", "1.0", true), "app", "package")
	})
	t.Run("reader deploy is refused with a 403", func(t *testing.T) {
		refused(t, reader(false, mxProject(t, "mxreader", "1.0", false), "app", "deploy"))
		absent(t, "app", "mxreader", "1.0")
	})
	t.Run("publisher deploys to internal", func(t *testing.T) {
		publisher(true, mxProject(t, "mxpub", "1.0", true), "internal", "deploy")
		if s := e.held(t, "internal", "com.example.mx", "mxpub", "1.0"); s != formats.StatusPublished {
			t.Fatalf("mxpub 1.0 in internal: %q", s)
		}
	})
	t.Run("publisher is refused on app", func(t *testing.T) {
		refused(t, publisher(false, mxProject(t, "mxpub", "1.1", true), "app", "deploy"))
		absent(t, "app", "mxpub", "1.1")
	})
	t.Run("explicit deny on a package beats the identity allow", func(t *testing.T) {
		refused(t, publisher(false, mxProject(t, "mxfrozen", "1.0", false), "internal", "deploy"))
		absent(t, "internal", "mxfrozen", "1.0")
	})
}
