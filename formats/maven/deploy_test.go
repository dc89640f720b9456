package maven_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
)

// deployRelease uploads a release as mvn deploy does: each file then its
// checksums, then the artifact-level metadata and its checksums.
func (e *env) deployRelease(t testing.TB, repo, group, artifact, version string, files map[string][]byte) {
	t.Helper()
	base := e.url(repo) + strings.ReplaceAll(group, ".", "/") + "/" + artifact + "/"
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		expect(t, "PUT "+n, e.put(t, base+version+"/"+n, files[n]), 201)
		for _, algo := range []string{"sha1", "md5"} {
			expect(t, "PUT "+n+"."+algo, e.put(t, base+version+"/"+n+"."+algo, []byte(hexSum(files[n], algo))), 201)
		}
	}
	md := clientMetadata(group, artifact, version)
	expect(t, "PUT metadata", e.put(t, base+"maven-metadata.xml", md), 201)
	expect(t, "PUT metadata sha1", e.put(t, base+"maven-metadata.xml.sha1", []byte(hexSum(md, "sha1"))), 201)
}

// clientMetadata is what a deploying client uploads.
func clientMetadata(group, artifact string, versions ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>%s</groupId>\n  <artifactId>%s</artifactId>\n  <versioning>\n    <versions>\n", group, artifact)
	for _, v := range versions {
		fmt.Fprintf(&b, "      <version>%s</version>\n", v)
	}
	b.WriteString("    </versions>\n    <lastUpdated>20240101000000</lastUpdated>\n  </versioning>\n</metadata>\n")
	return []byte(b.String())
}

func TestDeploy(t *testing.T) {
	e := startEnv(t, envOptions{auth: true})
	internal := e.url("internal")
	base := internal + "com/example/internal/tool/"
	jar := jarOf(t, "tool.txt", "tool 1.0\n")
	pomBytes := formattest.MavenPOM("com.example.internal", "tool", "1.0")

	t.Run("401 with a Basic challenge before credentials", func(t *testing.T) {
		r := e.call(t, http.MethodPut, base+"1.0/tool-1.0.jar", jar, "Authorization", "Bearer nope")
		if r.code != 401 || !strings.Contains(strings.Join(r.header.Values("WWW-Authenticate"), ","), "Basic") {
			t.Fatalf("%d %v", r.code, r.header)
		}
	})
	t.Run("files first: Unfinished, hidden and not downloadable", func(t *testing.T) {
		expect(t, "jar", e.put(t, base+"1.0/tool-1.0.jar", jar), 201)
		expect(t, "jar.sha1", e.put(t, base+"1.0/tool-1.0.jar.sha1", []byte(hexSum(jar, "sha1"))), 201)
		expect(t, "pom", e.put(t, base+"1.0/tool-1.0.pom", pomBytes), 201)
		if s := e.held(t, "internal", "com.example.internal", "tool", "1.0"); s != formats.StatusUnfinished {
			t.Fatalf("status %s", s)
		}
		expect(t, "metadata of an unfinished version", e.get(t, base+"maven-metadata.xml"), 404)
		expect(t, "file of an unfinished version", e.get(t, base+"1.0/tool-1.0.jar"), 404)
	})
	t.Run("checksums are checked against the stored bytes", func(t *testing.T) {
		expect(t, "wrong md5", e.put(t, base+"1.0/tool-1.0.pom.md5", []byte(strings.Repeat("0", 32))), 400)
		expect(t, "upper-case sha1", e.put(t, base+"1.0/tool-1.0.pom.sha1", []byte(strings.ToUpper(hexSum(pomBytes, "sha1")))), 400)
		expect(t, "checksum before its file", e.put(t, base+"1.1/tool-1.1.jar.sha1", []byte(hexSum(jar, "sha1"))), 404)
		expect(t, "metadata while a checksum mismatches", e.put(t, base+"maven-metadata.xml", clientMetadata("com.example.internal", "tool", "1.0")), 400)
		if s := e.held(t, "internal", "com.example.internal", "tool", "1.0"); s != formats.StatusUnfinished {
			t.Fatalf("status %s", s)
		}
		expect(t, "right md5", e.put(t, base+"1.0/tool-1.0.pom.md5", []byte(hexSum(pomBytes, "md5"))), 201)
		expect(t, "right sha1", e.put(t, base+"1.0/tool-1.0.pom.sha1", []byte(hexSum(pomBytes, "sha1")+"  tool-1.0.pom\n")), 201)
	})
	t.Run("metadata publishes", func(t *testing.T) {
		md := clientMetadata("com.example.internal", "tool", "1.0")
		expect(t, "metadata", e.put(t, base+"maven-metadata.xml", md), 201)
		expect(t, "metadata sha1", e.put(t, base+"maven-metadata.xml.sha1", []byte(hexSum(md, "sha1"))), 201)
		if s := e.held(t, "internal", "com.example.internal", "tool", "1.0"); s != formats.StatusPublished {
			t.Fatalf("status %s", s)
		}
		r := e.get(t, e.url("app")+"com/example/internal/tool/maven-metadata.xml")
		if r.code != 200 || !strings.Contains(string(r.body), "<release>1.0</release>") {
			t.Fatalf("%d %s", r.code, r.body)
		}
		if r := e.get(t, e.url("app")+"com/example/internal/tool/1.0/tool-1.0.jar"); r.code != 200 || !bytes.Equal(r.body, jar) {
			t.Fatalf("jar through app: %d", r.code)
		}
	})
	t.Run("redeploys", func(t *testing.T) {
		expect(t, "same bytes", e.put(t, base+"1.0/tool-1.0.jar", jar), 201)
		expect(t, "other bytes", e.put(t, base+"1.0/tool-1.0.jar", jarOf(t, "tool.txt", "evil\n")), 409)
		expect(t, "a new file of a published version", e.put(t, base+"1.0/tool-1.0-sources.jar", jarOf(t, "Tool.java", "class Tool {}\n")), 201)
		if s := e.held(t, "internal", "com.example.internal", "tool", "1.0"); s != formats.StatusPublished {
			t.Fatalf("status after adding a file: %s", s)
		}
		expect(t, "a path outside the layout", e.put(t, base+"1.0/other-1.0.jar", jar), 400)
		expect(t, "metadata of another artifact", e.put(t, base+"maven-metadata.xml", clientMetadata("com.example.internal", "other", "1.0")), 400)
		expect(t, "not metadata", e.put(t, base+"maven-metadata.xml", []byte("<html/>")), 400)
	})
	t.Run("publishing over a public version is refused", func(t *testing.T) {
		e.central.artifact("com.example.pub", "lib", "1.0", jarOf(t, "p.txt", "public\n"))
		r := e.put(t, e.url("team")+"com/example/pub/lib/1.0/lib-1.0.jar", jar)
		expect(t, "shadowing", r, 409)
	})
}

func TestDependencyConfusionGuard(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.central.artifact("com.acme.secret", "core", "1.0", jarOf(t, "c.txt", "public 1.0\n"))
	e.central.artifact("com.acme.secret", "core", "99.0", jarOf(t, "c.txt", "attacker 99.0\n"))
	app := e.url("app") + "com/acme/secret/core/"
	if r := e.get(t, app+"maven-metadata.xml"); !strings.Contains(string(r.body), "<version>99.0</version>") {
		t.Fatalf("before: %s", r.body)
	}
	ours := jarOf(t, "c.txt", "internal 0.1.0\n")
	e.deployRelease(t, "internal", "com.acme.secret", "core", "0.1.0", map[string][]byte{
		"core-0.1.0.jar": ours, "core-0.1.0.pom": formattest.MavenPOM("com.acme.secret", "core", "0.1.0"),
	})
	r := e.get(t, app+"maven-metadata.xml")
	if r.code != 200 || strings.Contains(string(r.body), "99.0") || !strings.Contains(string(r.body), "<versions>\n      <version>0.1.0</version>\n    </versions>") {
		t.Fatalf("guarded metadata: %d %s", r.code, r.body)
	}
	expect(t, "public version of an internal name", e.get(t, app+"99.0/core-99.0.jar"), 404)
	if r := e.get(t, app+"0.1.0/core-0.1.0.jar"); r.code != 200 || !bytes.Equal(r.body, ours) {
		t.Fatalf("internal jar: %d", r.code)
	}
}

func TestSnapshotDeploy(t *testing.T) {
	e := startEnv(t, envOptions{})
	const group, artifact = "com.example.snap", "lib"
	dir := e.url("internal") + "com/example/snap/lib/"
	builds := []struct {
		version string
		jar     []byte
	}{
		{"1.0-20240101.120000-1", jarOf(t, "b.txt", "build 1\n")},
		{"1.0-20240102.120000-2", jarOf(t, "b.txt", "build 2\n")},
	}
	for i, b := range builds {
		ts, n := b.version[len("1.0-"):len("1.0-")+15], b.version[len(b.version)-1:]
		expect(t, "jar", e.put(t, dir+"1.0-SNAPSHOT/lib-"+b.version+".jar", b.jar), 201)
		expect(t, "jar.sha1", e.put(t, dir+"1.0-SNAPSHOT/lib-"+b.version+".jar.sha1", []byte(hexSum(b.jar, "sha1"))), 201)
		expect(t, "pom", e.put(t, dir+"1.0-SNAPSHOT/lib-"+b.version+".pom", formattest.MavenPOM(group, artifact, "1.0-SNAPSHOT")), 201)
		if i == 0 {
			expect(t, "version metadata before any build", e.get(t, dir+"1.0-SNAPSHOT/maven-metadata.xml"), 404)
		}
		vmd := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<metadata modelVersion="1.1.0"><groupId>%s</groupId><artifactId>%s</artifactId><version>1.0-SNAPSHOT</version>
<versioning><snapshot><timestamp>%s</timestamp><buildNumber>%s</buildNumber></snapshot><lastUpdated>20240101120000</lastUpdated></versioning></metadata>`, group, artifact, ts, n)
		expect(t, "version metadata", e.put(t, dir+"1.0-SNAPSHOT/maven-metadata.xml", []byte(vmd)), 201)
		expect(t, "artifact metadata", e.put(t, dir+"maven-metadata.xml", clientMetadata(group, artifact, "1.0-SNAPSHOT")), 201)
	}
	app := e.url("app") + "com/example/snap/lib/"

	t.Run("version-level metadata names the newest build", func(t *testing.T) {
		r := e.get(t, app+"1.0-SNAPSHOT/maven-metadata.xml")
		want := `<?xml version="1.0" encoding="UTF-8"?>
<metadata modelVersion="1.1.0">
  <groupId>com.example.snap</groupId>
  <artifactId>lib</artifactId>
  <version>1.0-SNAPSHOT</version>
  <versioning>
    <snapshot>
      <timestamp>20240102.120000</timestamp>
      <buildNumber>2</buildNumber>
    </snapshot>
    <lastUpdated>20240102120000</lastUpdated>
    <snapshotVersions>
      <snapshotVersion>
        <extension>jar</extension>
        <value>1.0-20240102.120000-2</value>
        <updated>20240102120000</updated>
      </snapshotVersion>
      <snapshotVersion>
        <extension>pom</extension>
        <value>1.0-20240102.120000-2</value>
        <updated>20240102120000</updated>
      </snapshotVersion>
    </snapshotVersions>
  </versioning>
</metadata>
`
		if diff := cmp.Diff(want, string(r.body)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		if s := e.get(t, app+"1.0-SNAPSHOT/maven-metadata.xml.sha1"); string(s.body) != hexSum(r.body, "sha1") {
			t.Fatalf("sha1 %q", s.body)
		}
		a := e.get(t, app+"maven-metadata.xml")
		if !strings.Contains(string(a.body), "<latest>1.0-SNAPSHOT</latest>") || strings.Contains(string(a.body), "20240101") || strings.Contains(string(a.body), "<release>") {
			t.Fatalf("artifact metadata: %s", a.body)
		}
	})
	t.Run("newest build Published, older Unlisted yet downloadable", func(t *testing.T) {
		got := map[string]formats.Status{}
		for _, b := range builds {
			got[b.version] = e.held(t, "internal", group, artifact, b.version)
		}
		if diff := cmp.Diff(map[string]formats.Status{"1.0-20240101.120000-1": "Unlisted", "1.0-20240102.120000-2": "Published"}, got); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		if r := e.get(t, app+"1.0-SNAPSHOT/lib-1.0-20240101.120000-1.jar"); r.code != 200 || !bytes.Equal(r.body, builds[0].jar) {
			t.Fatalf("old build: %d", r.code)
		}
	})
	t.Run("the non-unique name is the newest build", func(t *testing.T) {
		if r := e.get(t, app+"1.0-SNAPSHOT/lib-1.0-SNAPSHOT.jar"); r.code != 200 || !bytes.Equal(r.body, builds[1].jar) {
			t.Fatalf("%d", r.code)
		}
		if r := e.get(t, app+"1.0-SNAPSHOT/lib-1.0-SNAPSHOT.jar.sha1"); string(r.body) != hexSum(builds[1].jar, "sha1") {
			t.Fatalf("sha1 %q", r.body)
		}
	})
	t.Run("control plane with --format maven --namespace", func(t *testing.T) {
		var out struct {
			Versions []struct {
				Version string `json:"version"`
				Status  string `json:"status"`
				Origin  struct {
					OriginType string `json:"originType"`
				} `json:"origin"`
			} `json:"versions"`
		}
		r := e.call(t, http.MethodPost, e.in.URL+"/v1/package/versions?domain=acme&repository=internal&format=maven&namespace=com.example.snap&package=lib", nil)
		expect(t, "ListPackageVersions", r, 200)
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, v := range out.Versions {
			got[v.Version] = v.Status + " " + v.Origin.OriginType
		}
		if diff := cmp.Diff(map[string]string{"1.0-20240101.120000-1": "Unlisted INTERNAL", "1.0-20240102.120000-2": "Published INTERNAL"}, got); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		r = e.call(t, http.MethodPost, e.in.URL+"/v1/packages?domain=acme&repository=internal&format=maven&namespace=com.example.snap", nil)
		if r.code != 200 || !strings.Contains(string(r.body), `"namespace":"com.example.snap"`) || !strings.Contains(string(r.body), `"package":"lib"`) {
			t.Fatalf("ListPackages: %d %s", r.code, r.body)
		}
		r = e.call(t, http.MethodPost, e.in.URL+"/v1/package/version/assets?domain=acme&repository=internal&format=maven&namespace=com.example.snap&package=lib&version=1.0-20240102.120000-2", nil)
		if r.code != 200 || !strings.Contains(string(r.body), "lib-1.0-20240102.120000-2.jar") || strings.Contains(string(r.body), ".sha1") {
			t.Fatalf("ListPackageVersionAssets: %d %s", r.code, r.body)
		}
	})
	t.Run("a non-unique snapshot deploy is refused", func(t *testing.T) {
		expect(t, "non-unique", e.put(t, dir+"1.0-SNAPSHOT/lib-1.0-SNAPSHOT.jar", builds[0].jar), 400)
	})
}

func TestHostedPluginGroupMetadata(t *testing.T) {
	e := startEnv(t, envOptions{})
	e.central.plugins("org.example.plugins", map[string]string{"alpha": "alpha-maven-plugin"})
	e.deployRelease(t, "internal", "org.example.plugins", "ours-maven-plugin", "1.0", map[string][]byte{
		"ours-maven-plugin-1.0.jar": jarOf(t, "META-INF/maven/plugin.xml", "<plugin/>"),
		"ours-maven-plugin-1.0.pom": formattest.MavenPOM("org.example.plugins", "ours-maven-plugin", "1.0"),
	})
	group := `<?xml version="1.0" encoding="UTF-8"?>
<metadata><plugins><plugin><name>Ours</name><prefix>ours</prefix><artifactId>ours-maven-plugin</artifactId></plugin>
<plugin><name>alpha plugin</name><prefix>alpha</prefix><artifactId>alpha-maven-plugin</artifactId></plugin></plugins></metadata>`
	expect(t, "group metadata", e.put(t, e.url("internal")+"org/example/plugins/maven-metadata.xml", []byte(group)), 201)
	r := e.get(t, e.url("app")+"org/example/plugins/maven-metadata.xml")
	if r.code != 200 || !strings.Contains(string(r.body), "<prefix>ours</prefix>") || !strings.Contains(string(r.body), "<prefix>alpha</prefix>") {
		t.Fatalf("%d %s", r.code, r.body)
	}
	// The alpha plugin is not held here: its entry stays the upstream's.
	if strings.Contains(string(r.body), "<name>Ours</name>\n      <prefix>alpha") {
		t.Fatal("mixed entries")
	}
}
