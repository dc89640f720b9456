package maven_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// Package lifecycle and governance seen by the real mvn: the AWS CLI
// changes version statuses, disposes, copies and blocks a namespace, and
// Maven shows what each change lets it resolve.

const (
	lifecycleKeyID  = "AKIDMAVENLIFECYCLE"
	lifecycleSecret = "maven-lifecycle-secret"
)

// startLifecycleEnv is startEnv with access keys, an immediate blob
// collector and a repository dest that reaches nothing.
func startLifecycleEnv(t *testing.T) *env {
	t.Helper()
	e := startEnv(t, envOptions{configure: proxytest.LifecycleConfig(lifecycleKeyID, lifecycleSecret)})
	e.token = e.in.Token("acme")
	return e
}

// mvnProject is a consumer project whose one dependency is resolved from
// a given repository and whose plugins come through app (internal and dest
// hold none), both as "central", which settings.xml gives the token.
type mvnProject struct {
	t         *testing.T
	e         *env
	mvn, work string
	localRepo string // shared: the plugins are downloaded once
}

func newMvnProject(t *testing.T, e *env) *mvnProject {
	t.Helper()
	p := &mvnProject{t: t, e: e, mvn: proxytest.RequireTool(t, "mvn"), work: t.TempDir()}
	p.localRepo = filepath.Join(p.work, "m2")
	writeFiles(t, p.work, map[string]string{"settings.xml": `<settings>
  <servers><server><id>central</id><username>aws</username><password>` + e.token + `</password></server></servers>
</settings>
`})
	return p
}

// resolve runs mvn compile (no sources: it resolves the compile
// dependencies and stops) on a project depending on group:artifact:version
// resolved from repository repo. It returns the versions of the artifact
// the run downloaded (each run starts without any com.example artifact in
// the local repository), or mvn's output when it failed.
func (p *mvnProject) resolve(repo, group, artifact, version string) (got []string, failure string) {
	t := p.t
	t.Helper()
	dir := filepath.Join(p.work, "project")
	writeFiles(t, dir, map[string]string{"pom.xml": `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.consumer</groupId>
  <artifactId>consumer</artifactId>
  <version>1.0</version>
  <repositories><repository><id>central</id><url>` + p.e.url(repo) + `</url>
    <snapshots><enabled>false</enabled></snapshots></repository></repositories>
  <pluginRepositories><pluginRepository><id>central</id><url>` + p.e.url("app") + `</url>
    <snapshots><enabled>false</enabled></snapshots></pluginRepository></pluginRepositories>
  <dependencies>
    <dependency><groupId>` + group + `</groupId><artifactId>` + artifact + `</artifactId><version>` + version + `</version></dependency>
  </dependencies>` + pluginManagement + `
</project>
`})
	for _, g := range []string{"com/example", "org/other"} {
		if err := os.RemoveAll(filepath.Join(p.localRepo, g)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.mvn, "-B", "-ntp", "-C", "-s", filepath.Join(p.work, "settings.xml"), "-Dmaven.repo.local="+p.localRepo, "compile")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MAVEN_OPTS=-Xshare:auto -XX:TieredStopAtLevel=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, string(out)
	}
	jars, _ := filepath.Glob(filepath.Join(p.localRepo, strings.ReplaceAll(group, ".", "/"), artifact, "*", artifact+"-*.jar"))
	for _, j := range jars {
		got = append(got, filepath.Base(filepath.Dir(j)))
	}
	sort.Strings(got)
	return got, ""
}

// must checks a run resolved exactly want.
func (p *mvnProject) must(what string, want string, got []string, failure string) {
	p.t.Helper()
	if failure != "" {
		p.t.Fatalf("%s: mvn failed:\n%s", what, tail(failure))
	}
	if !cmp.Equal(got, []string{want}) {
		p.t.Fatalf("%s: resolved %v, want %s", what, got, want)
	}
}

// fails checks a run failed saying want.
func (p *mvnProject) fails(what, want string, got []string, failure string) {
	p.t.Helper()
	if failure == "" {
		p.t.Fatalf("%s: mvn succeeded (resolved %v), want a failure", what, got)
	}
	if !strings.Contains(failure, want) {
		p.t.Fatalf("%s: mvn failed without %q:\n%s", what, want, tail(failure))
	}
}

func tail(out string) string {
	lines := strings.Split(out, "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

func TestMvnLifecycleWithAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("real-client test")
	}
	proxytest.RequireTool(t, "mvn")
	e := startLifecycleEnv(t)
	e.central.debian(t)
	// External artifacts: one in the namespace the group blocks, one not.
	e.central.artifact("com.example", "ext-lib", "1.0", jarOf(t, "ext/Lib.txt", "public ext-lib 1.0\n"))
	e.central.artifact("org.other", "free-lib", "1.0", jarOf(t, "free/Lib.txt", "public free-lib 1.0\n"))
	a := proxytest.NewAWSCLI(t, e.in, lifecycleKeyID, lifecycleSecret)
	const group, artifact = "com.example.internal", "life-lib"
	for _, v := range []string{"1.0", "1.1", "1.2", "1.3"} {
		e.deployRelease(t, "internal", group, artifact, v, map[string][]byte{
			artifact + "-" + v + ".jar": jarOf(t, "life/Lib.txt", "life-lib "+v+"\n"),
			artifact + "-" + v + ".pom": formattest.MavenPOM(group, artifact, v),
		})
	}
	lp := proxytest.CLIPackage{Domain: "acme", Format: "maven", Namespace: group, Package: artifact}
	pkg := lp.Args
	status := func(t *testing.T, v, target string) { a.SetStatus(t, lp, "internal", v, target) }
	// The checks resolve from internal, the repository whose versions
	// change: a repository that fetched a version through its upstreams
	// keeps a copy with a status of its own.
	p := newMvnProject(t, e)
	const lifeRange = "[1.0,2.0)"

	t.Run("copy", func(t *testing.T) {
		r := a.OK("copy-package-versions", "--domain", "acme", "--source-repository", "internal", "--destination-repository", "dest",
			"--format", "maven", "--namespace", group, "--package", artifact, "--versions", "1.1")
		if proxytest.Pick(r, "successfulVersions", "1.1", "status") != "Published" {
			t.Fatalf("copy-package-versions: %v", r)
		}
		got, failure := p.resolve("dest", group, artifact, lifeRange)
		p.must("a range from dest", "1.1", got, failure)
		got, failure = p.resolve("dest", group, artifact, "1.1")
		p.must("1.1 from dest", "1.1", got, failure)
	})

	t.Run("unlisted", func(t *testing.T) {
		status(t, "1.3", "Unlisted")
		got, failure := p.resolve("internal", group, artifact, lifeRange)
		p.must("a range with 1.3 Unlisted", "1.2", got, failure)
		got, failure = p.resolve("internal", group, artifact, "1.3")
		p.must("the Unlisted 1.3 by exact version", "1.3", got, failure)
	})

	t.Run("archived", func(t *testing.T) {
		status(t, "1.2", "Archived")
		got, failure := p.resolve("internal", group, artifact, "1.2")
		p.fails("the Archived 1.2 by exact version", "Could not find artifact com.example.internal:life-lib:jar:1.2", got, failure)
		got, failure = p.resolve("internal", group, artifact, lifeRange)
		p.must("a range with 1.2 Archived", "1.1", got, failure)
	})

	t.Run("disposed", func(t *testing.T) {
		assets := a.OK(append([]string{"list-package-version-assets"}, pkg("internal", "--package-version", "1.0")...)...)
		var sums []string
		list, _ := proxytest.Pick(assets, "assets").([]any)
		for i := range list {
			if s, _ := proxytest.Pick(assets, "assets", i, "hashes", "SHA-256").(string); s != "" {
				sums = append(sums, s)
			}
		}
		if len(sums) != 2 || len(list) != 2 {
			t.Fatalf("list-package-version-assets (a jar and a pom): %v", assets)
		}
		r := a.OK(append([]string{"dispose-package-versions"}, pkg("internal", "--versions", "1.0")...)...)
		if proxytest.Pick(r, "successfulVersions", "1.0", "status") != "Disposed" {
			t.Fatalf("dispose-package-versions: %v", r)
		}
		got, failure := p.resolve("internal", group, artifact, "1.0")
		p.fails("the Disposed 1.0 by exact version", "Could not find artifact com.example.internal:life-lib:jar:1.0", got, failure)
		e.in.WaitReclaimed(t, "acme", sums...)
	})

	t.Run("package group blocks the namespace's external versions", func(t *testing.T) {
		a.BlockExternal(t, "acme", "/maven/com.example/*")
		got, failure := p.resolve("app", "com.example", "ext-lib", "1.0")
		p.fails("the blocked com.example:ext-lib through app", "Could not find artifact com.example:ext-lib:jar:1.0", got, failure)
		got, failure = p.resolve("app", "org.other", "free-lib", "1.0")
		p.must("org.other:free-lib through app", "1.0", got, failure)
		if n := e.central.Fake.Hits(e.central.path("com/example/ext-lib/1.0/ext-lib-1.0.jar")); n != 0 {
			t.Fatalf("the blocked jar was fetched from the upstream %d times", n)
		}
	})
}
