package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// cliEnv is the environment of a CLI run against in with the admin key.
func cliEnv(in *proxytest.Instance) func(string) string {
	m := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAADMIN", "AWS_SECRET_ACCESS_KEY": "admin-secret", "STOCKPILE_ENDPOINT": in.URL}
	return func(k string) string { return m[k] }
}

// getRepo reads a repository endpoint of in with its token.
func getRepo(t *testing.T, in *proxytest.Instance, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, in.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+in.Token("acme"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// snapshotBuild is one build of com.example:snap-lib:1.0-SNAPSHOT.
type snapshotBuild struct {
	timestamp, number string
	jar               []byte
}

// deploySnapshot deploys a build as mvn deploy does with unique snapshot
// versions: its files in the snapshot directory, then the version-level
// metadata naming it.
func deploySnapshot(t *testing.T, in *proxytest.Instance, repo string, b snapshotBuild) {
	t.Helper()
	dir := "/acme/maven/" + repo + "/com/example/snap-lib/1.0-SNAPSHOT/"
	file := "snap-lib-1.0-" + b.timestamp + "-" + b.number
	send(t, in, http.MethodPut, dir+file+".jar", "application/octet-stream", b.jar)
	send(t, in, http.MethodPut, dir+file+".pom", "application/octet-stream",
		[]byte("<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>snap-lib</artifactId><version>1.0-SNAPSHOT</version></project>"))
	send(t, in, http.MethodPut, dir+"maven-metadata.xml", "application/xml", []byte(`<metadata><groupId>com.example</groupId><artifactId>snap-lib</artifactId><version>1.0-SNAPSHOT</version>
<versioning><snapshot><timestamp>`+b.timestamp+`</timestamp><buildNumber>`+b.number+`</buildNumber></snapshot><lastUpdated>20240101120000</lastUpdated></versioning></metadata>`))
	send(t, in, http.MethodPut, "/acme/maven/"+repo+"/com/example/snap-lib/maven-metadata.xml", "application/xml", formattest.MavenMetadata("com.example", "snap-lib", "20240101120000", "1.0-SNAPSHOT"))
}

var lastUpdatedRE = regexp.MustCompile(`<lastUpdated>[0-9]+</lastUpdated>`)

// TestExportImportMavenSnapshot carries two builds of a snapshot: both
// builds with their timestamped files, the newest Published, and the
// version-level metadata and the snapshot's files resolve on the
// importing Stockpile as on the exporting one.
func TestExportImportMavenSnapshot(t *testing.T) {
	src, srcCP := bundleServer(t, "internal")
	builds := []snapshotBuild{
		{"20240101.120000", "1", formattest.Zip(formattest.Text("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nBuild: 1\n"))},
		{"20240102.130000", "2", formattest.Zip(formattest.Text("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nBuild: 2\n"))},
	}
	for _, b := range builds {
		deploySnapshot(t, src, "internal", b)
	}
	want := repoView(t, srcCP, "internal")
	for _, w := range []string{"1.0-20240101.120000-1 Unlisted", "1.0-20240102.130000-2 Published", "snap-lib-1.0-20240101.120000-1.jar", "snap-lib-1.0-20240102.130000-2.pom"} {
		if !strings.Contains(want, w) {
			t.Fatalf("the source lacks %q:\n%s", w, want)
		}
	}
	const snapDir = "/acme/maven/internal/com/example/snap-lib/1.0-SNAPSHOT/"
	code, wantMeta := getRepo(t, src, snapDir+"maven-metadata.xml")
	if code != 200 || !strings.Contains(wantMeta, "<buildNumber>2</buildNumber>") {
		t.Fatalf("the source's snapshot metadata: %d %s", code, wantMeta)
	}
	file := filepath.Join(t.TempDir(), "snap.bundle")
	code, out, errOut := runCLI(t, cliEnv(src), "export", "--domain", "acme", "--repository", "internal", "-o", file)
	if code != 0 || out != "wrote "+file+": 1 repositories, 1 packages, 2 versions, 4 assets\n" {
		t.Fatalf("export: exit %d\n%s\n%s", code, out, errOut)
	}

	dst, dstCP := bundleServer(t)
	code, out, errOut = runCLI(t, cliEnv(dst), "import", file)
	if code != 0 || out != "created acme/internal\nacme: 2 versions imported, 0 already there, 0 refused\n" {
		t.Fatalf("import: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := repoView(t, dstCP, "internal"); got != want {
		t.Fatalf("after import:\n%s\nwant:\n%s", got, want)
	}
	code, gotMeta := getRepo(t, dst, snapDir+"maven-metadata.xml")
	if code != 200 || lastUpdatedRE.ReplaceAllString(gotMeta, "") != lastUpdatedRE.ReplaceAllString(wantMeta, "") {
		t.Fatalf("the snapshot metadata after import: %d\n%s\nwant:\n%s", code, gotMeta, wantMeta)
	}
	if code, jar := getRepo(t, dst, snapDir+"snap-lib-1.0-SNAPSHOT.jar"); code != 200 || jar != string(builds[1].jar) {
		t.Fatalf("the snapshot's jar after import: %d, the newest build's: %v", code, jar == string(builds[1].jar))
	}
	if code, md := getRepo(t, dst, "/acme/maven/internal/com/example/snap-lib/maven-metadata.xml"); code != 200 || !strings.Contains(md, "<version>1.0-SNAPSHOT</version>") {
		t.Fatalf("the artifact's metadata after import: %d %s", code, md)
	}
	// again: nothing changes, the newest build stays the snapshot's
	code, out, errOut = runCLI(t, cliEnv(dst), "import", file)
	if code != 0 || out != "acme: 0 versions imported, 2 already there, 0 refused\n" {
		t.Fatalf("second import: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := repoView(t, dstCP, "internal"); got != want {
		t.Fatalf("after a second import:\n%s\nwant:\n%s", got, want)
	}
	t.Run("mvn resolves the snapshot from the importing Stockpile", func(t *testing.T) {
		mvnResolvesSnapshot(t, file, builds[1])
	})
}

// mvnResolvesSnapshot imports the bundle into a Stockpile whose app
// repository reads internal and a fake Central, and builds a project
// depending on snap-lib 1.0-SNAPSHOT with the real mvn.
func mvnResolvesSnapshot(t *testing.T, file string, newest snapshotBuild) {
	mvn := proxytest.RequireTool(t, "mvn")
	central := debianCentral(t)
	cfg := proxy.Defaults()
	cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIAADMIN", Secret: "admin-secret", Admin: true}}
	cfg.Connections = map[string]upstream.Options{"public:maven-central": {URL: central.URL + "/maven2/", Retries: 1}}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{
		{Name: "internal"}, {Name: "maven-store", ExternalConnection: "public:maven-central"}, {Name: "app", Upstreams: []string{"internal", "maven-store"}}}}}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: allFormats()})
	if code, out, errOut := runCLI(t, cliEnv(in), "import", file); code != 0 || !strings.Contains(out, "2 versions imported") {
		t.Fatalf("import: exit %d\n%s\n%s", code, out, errOut)
	}
	work := t.TempDir()
	mkdir(t, work, map[string]string{
		"settings.xml": `<settings>
  <servers><server><id>stockpile</id><username>aws</username><password>` + in.Token("acme") + `</password></server></servers>
  <mirrors><mirror><id>stockpile</id><mirrorOf>*</mirrorOf><url>` + in.URL + `/acme/maven/app/</url></mirror></mirrors>
  <profiles><profile><id>snapshots</id>
    <repositories><repository><id>central</id><url>http://unused.invalid</url>
      <snapshots><enabled>true</enabled><updatePolicy>always</updatePolicy></snapshots></repository></repositories>
  </profile></profiles>
  <activeProfiles><activeProfile>snapshots</activeProfile></activeProfiles>
</settings>
`,
		"proj/pom.xml": `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example</groupId><artifactId>consumer</artifactId><version>1.0</version>
  <properties>
    <maven.compiler.source>11</maven.compiler.source><maven.compiler.target>11</maven.compiler.target>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency><groupId>com.example</groupId><artifactId>snap-lib</artifactId><version>1.0-SNAPSHOT</version></dependency>
  </dependencies>
  <build><pluginManagement><plugins>
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-compiler-plugin</artifactId><version>3.10.1</version></plugin>
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-resources-plugin</artifactId><version>3.3.0</version></plugin>
  </plugins></pluginManagement></build>
</project>
`,
		"proj/src/main/java/app/App.java": "package app;\npublic class App {}\n",
	})
	local := filepath.Join(work, "m2")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mvn, "-B", "-ntp", "-C", "-s", filepath.Join(work, "settings.xml"), "-Dmaven.repo.local="+local, "compile")
	cmd.Dir = filepath.Join(work, "proj")
	cmd.Env = append(cmd.Environ(), "MAVEN_OPTS=-Xshare:auto -XX:TieredStopAtLevel=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mvn compile: %v\n%s", err, out)
	}
	jar, err := readFile(filepath.Join(local, "com/example/snap-lib/1.0-SNAPSHOT/snap-lib-1.0-"+newest.timestamp+"-"+newest.number+".jar"))
	if err != nil || jar != string(newest.jar) {
		t.Fatalf("mvn did not resolve the newest build: %v", err)
	}
}

func readFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}

// TestExportImportSettings carries a repository's external connection and
// upstreams and a package's dist-tags, and shows that import fills in
// what the target lacks but keeps, and notes, what it has otherwise.
func TestExportImportSettings(t *testing.T) {
	src, srcCP := bundleServer(t, "internal", "app", "npm-store")
	repoQ := func(r string) url.Values { return url.Values{"domain": {"acme"}, "repository": {r}} }
	cp(t, srcCP, http.MethodPost, "/v1/repository/external-connection", url.Values{"domain": {"acme"}, "repository": {"npm-store"}, "external-connection": {"public:npmjs"}}, nil)
	cp(t, srcCP, http.MethodPut, "/v1/repository", repoQ("app"), []byte(`{"upstreams":[{"repositoryName":"internal"},{"repositoryName":"npm-store"}]}`))
	for _, v := range []string{"1.0.0", "2.0.0", "3.0.0-beta.1"} {
		npmPublish(t, src, "internal", "tagged", v)
	}
	npmPublish(t, src, "app", "app-only", "1.0.0")
	send(t, src, http.MethodPut, "/acme/npm/internal/-/package/tagged/dist-tags/latest", "application/json", []byte(`"2.0.0"`))
	send(t, src, http.MethodPut, "/acme/npm/internal/-/package/tagged/dist-tags/next", "application/json", []byte(`"3.0.0-beta.1"`))
	send(t, src, http.MethodPut, "/acme/npm/internal/-/package/tagged/dist-tags/legacy", "application/json", []byte(`"1.0.0"`))
	const wantTags = `{"latest":"2.0.0","legacy":"1.0.0","next":"3.0.0-beta.1"}`
	if _, tags := getRepo(t, src, "/acme/npm/internal/-/package/tagged/dist-tags"); tags != wantTags {
		t.Fatalf("the source's dist-tags: %s", tags)
	}
	describe := func(cl interface {
		Call(context.Context, string, string, url.Values, []byte) ([]byte, error)
	}, repo string) string {
		b, err := cl.Call(context.Background(), http.MethodGet, "/v1/repository", repoQ(repo), nil)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Repository struct {
				Upstreams           []struct{ RepositoryName string }
				ExternalConnections []struct{ ExternalConnectionName string }
			}
		}
		json.Unmarshal(b, &d)
		var s []string
		for _, u := range d.Repository.Upstreams {
			s = append(s, "up:"+u.RepositoryName)
		}
		for _, x := range d.Repository.ExternalConnections {
			s = append(s, "ext:"+x.ExternalConnectionName)
		}
		return strings.Join(s, " ")
	}
	file := filepath.Join(t.TempDir(), "acme.bundle")
	if code, out, errOut := runCLI(t, cliEnv(src), "export", "--domain", "acme", "-o", file); code != 0 {
		t.Fatalf("export: exit %d\n%s\n%s", code, out, errOut)
	}

	t.Run("into an empty Stockpile, everything is restored", func(t *testing.T) {
		dst, dstCP := bundleServer(t)
		code, out, errOut := runCLI(t, cliEnv(dst), "import", file)
		if code != 0 || out != "created acme/app\ncreated acme/internal\ncreated acme/npm-store\nacme: 4 versions imported, 0 already there, 0 refused\n" {
			t.Fatalf("import: exit %d\n%s\n%s", code, out, errOut)
		}
		for repo, want := range map[string]string{"app": "up:internal up:npm-store", "npm-store": "ext:public:npmjs", "internal": ""} {
			if got := describe(dstCP, repo); got != want {
				t.Errorf("%s after import: %q, want %q", repo, got, want)
			}
		}
		if _, tags := getRepo(t, dst, "/acme/npm/internal/-/package/tagged/dist-tags"); tags != wantTags {
			t.Errorf("dist-tags after import: %s, want %s", tags, wantTags)
		}
		code, out, errOut = runCLI(t, cliEnv(dst), "import", file)
		if code != 0 || out != "acme: 0 versions imported, 4 already there, 0 refused\n" {
			t.Fatalf("second import: exit %d\n%s\n%s", code, out, errOut)
		}
		if _, tags := getRepo(t, dst, "/acme/npm/internal/-/package/tagged/dist-tags"); tags != wantTags || describe(dstCP, "app") != "up:internal up:npm-store" {
			t.Errorf("after a second import: %s %s", tags, describe(dstCP, "app"))
		}
	})
	t.Run("a target configured otherwise keeps its settings, noted", func(t *testing.T) {
		dst, dstCP := bundleServer(t, "internal", "app", "npm-store", "other")
		cp(t, dstCP, http.MethodPost, "/v1/repository/external-connection", url.Values{"domain": {"acme"}, "repository": {"npm-store"}, "external-connection": {"public:pypi"}}, nil)
		cp(t, dstCP, http.MethodPut, "/v1/repository", repoQ("app"), []byte(`{"upstreams":[{"repositoryName":"other"}]}`))
		npmPublish(t, dst, "internal", "tagged", "0.9.0")
		npmPublish(t, dst, "internal", "tagged", "2.0.0")
		send(t, dst, http.MethodPut, "/acme/npm/internal/-/package/tagged/dist-tags/legacy", "application/json", []byte(`"0.9.0"`))
		code, out, errOut := runCLI(t, cliEnv(dst), "import", file)
		wantOut := "acme: 3 versions imported, 1 already there, 0 refused\n" +
			"  note: app: kept its upstreams other (the bundle's: internal, npm-store)\n" +
			"  note: npm-store: kept its external connection public:pypi (the bundle's: public:npmjs)\n" +
			"  note: internal: npm tagged: kept dist-tag legacy on 0.9.0 (the bundle's: 1.0.0)\n"
		if code != 0 || out != wantOut {
			t.Fatalf("import: exit %d\n%s\nwant:\n%s\n%s", code, out, wantOut, errOut)
		}
		// latest stays where the target had it (publishing 3.0.0-beta.1
		// moved it; import puts it back), next is added, legacy kept
		if _, tags := getRepo(t, dst, "/acme/npm/internal/-/package/tagged/dist-tags"); tags != `{"latest":"2.0.0","legacy":"0.9.0","next":"3.0.0-beta.1"}` {
			t.Errorf("dist-tags after import: %s", tags)
		}
		for repo, want := range map[string]string{"app": "up:other", "npm-store": "ext:public:pypi"} {
			if got := describe(dstCP, repo); got != want {
				t.Errorf("%s after import: %q, want %q", repo, got, want)
			}
		}
	})
	t.Run("an upstream outside the bundle and the domain is left out, noted", func(t *testing.T) {
		one := filepath.Join(t.TempDir(), "app.bundle")
		if code, out, errOut := runCLI(t, cliEnv(src), "export", "--domain", "acme", "--repository", "app", "-o", one); code != 0 {
			t.Fatalf("export: exit %d\n%s\n%s", code, out, errOut)
		}
		dst, dstCP := bundleServer(t, "npm-store")
		code, out, errOut := runCLI(t, cliEnv(dst), "import", one)
		if code != 0 || out != "created acme/app\nacme: 1 versions imported, 0 already there, 0 refused\n  note: app: upstream internal left out: it is neither in the bundle nor in domain acme\n" {
			t.Fatalf("import: exit %d\n%s\n%s", code, out, errOut)
		}
		if got := describe(dstCP, "app"); got != "up:npm-store" {
			t.Errorf("app after import: %q", got)
		}
	})
}
