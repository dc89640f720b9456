package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/stockpile-proxy/stockpile/cmd/internal/awscreds"
	"github.com/stockpile-proxy/stockpile/cmd/internal/cpclient"
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

func bundleServer(t *testing.T, repos ...string) (*proxytest.Instance, *cpclient.Client) {
	t.Helper()
	cfg := proxy.Defaults()
	cfg.Auth.AccessKeys = []proxy.AccessKey{{ID: "AKIAADMIN", Secret: "admin-secret", Admin: true}}
	if len(repos) > 0 {
		d := proxy.DomainConfig{Name: "acme"}
		for _, r := range repos {
			d.Repositories = append(d.Repositories, proxy.RepositoryConfig{Name: r})
		}
		cfg.Domains = []proxy.DomainConfig{d}
	}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: allFormats()})
	return in, &cpclient.Client{Endpoint: in.URL, MaxAnswer: 1 << 30,
		Creds: awscreds.Credentials{AccessKeyID: "AKIAADMIN", SecretAccessKey: "admin-secret", Region: "us-east-1"}}
}

// npmPublish publishes name@version as npm publish does.
func npmPublish(t *testing.T, in *proxytest.Instance, repo, name, version string) {
	t.Helper()
	tgz := formattest.TarGz(formattest.Text("package/package.json", `{"name":"`+name+`","version":"`+version+`","description":"bundle fixture"}`))
	s1, s512 := sha1.Sum(tgz), sha512.Sum512(tgz)
	file := name + "-" + version + ".tgz"
	body, _ := json.Marshal(map[string]any{"_id": name, "name": name, "dist-tags": map[string]string{"latest": version},
		"versions": map[string]any{version: map[string]any{"name": name, "version": version,
			"dist": map[string]string{"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]), "tarball": "http://client.invalid/" + file}}},
		"_attachments": map[string]any{file: map[string]any{"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(tgz), "length": len(tgz)}}})
	send(t, in, http.MethodPut, "/acme/npm/"+repo+"/"+name, "application/json", body)
}

func send(t *testing.T, in *proxytest.Instance, method, path, contentType string, body []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, in.URL+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+in.Token("acme"))
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
}

func pypiUpload(t *testing.T, in *proxytest.Instance, repo, name, version string) {
	t.Helper()
	mod := strings.ReplaceAll(name, "-", "_")
	distInfo := mod + "-" + version + ".dist-info"
	wheel := formattest.Wheel(distInfo, formattest.Text(mod+".py", "X = 1\n"),
		formattest.Text(distInfo+"/METADATA", "Metadata-Version: 2.1\nName: "+name+"\nVersion: "+version+"\n"),
		formattest.Text(distInfo+"/WHEEL", "Wheel-Version: 1.0\nGenerator: stockpile-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for _, kv := range [][2]string{{":action", "file_upload"}, {"protocol_version", "1"}, {"name", name}, {"version", version}} {
		mw.WriteField(kv[0], kv[1])
	}
	fw, _ := mw.CreateFormFile("content", mod+"-"+version+"-py3-none-any.whl")
	fw.Write(wheel)
	mw.Close()
	send(t, in, http.MethodPost, "/acme/pypi/"+repo+"/", mw.FormDataContentType(), form.Bytes())
}

func cp(t *testing.T, cl *cpclient.Client, method, path string, q url.Values, body []byte) []byte {
	t.Helper()
	out, err := cl.Call(context.Background(), method, path, q, body)
	if err != nil {
		t.Fatalf("%s %s %v: %v", method, path, q, err)
	}
	return out
}

func genericPublish(t *testing.T, cl *cpclient.Client, repo, version string, assets ...formattest.File) {
	t.Helper()
	for i, a := range assets {
		q := url.Values{"domain": {"acme"}, "repository": {repo}, "format": {"generic"}, "namespace": {"tools"}, "package": {"cli"}, "version": {version}, "asset": {a.Name}}
		if i < len(assets)-1 {
			q.Set("unfinished", "true")
		}
		cp(t, cl, http.MethodPost, "/v1/package/version/publish", q, a.Body)
	}
}

// repoView is what list-packages and list-package-versions say of a
// repository, with every asset's bytes.
func repoView(t *testing.T, cl *cpclient.Client, repo string) string {
	t.Helper()
	var b strings.Builder
	var pkgs struct {
		Packages []struct {
			Format, Namespace, Package string
			OriginConfiguration        any
		}
	}
	json.Unmarshal(cp(t, cl, http.MethodPost, "/v1/packages", url.Values{"domain": {"acme"}, "repository": {repo}}, nil), &pkgs)
	for _, p := range pkgs.Packages {
		oc, _ := json.Marshal(p.OriginConfiguration)
		b.WriteString(p.Format + " " + p.Namespace + " " + p.Package + " " + string(oc) + "\n")
		q := url.Values{"domain": {"acme"}, "repository": {repo}, "format": {p.Format}, "package": {p.Package}}
		if p.Namespace != "" {
			q.Set("namespace", p.Namespace)
		}
		var vs struct {
			Versions []struct {
				Version, Status string
				Origin          struct{ OriginType string }
			}
		}
		json.Unmarshal(cp(t, cl, http.MethodPost, "/v1/package/versions", q, nil), &vs)
		for _, v := range vs.Versions {
			b.WriteString("  " + v.Version + " " + v.Status + " " + v.Origin.OriginType + "\n")
			vq := url.Values{}
			for k, x := range q {
				vq[k] = x
			}
			vq.Set("version", v.Version)
			var as struct{ Assets []struct{ Name string } }
			json.Unmarshal(cp(t, cl, http.MethodPost, "/v1/package/version/assets", vq, nil), &as)
			for _, a := range as.Assets {
				vq.Set("asset", a.Name)
				body := cp(t, cl, http.MethodGet, "/v1/package/version/asset", vq, nil)
				b.WriteString("    " + a.Name + " " + formattest.SHA256(body) + "\n")
			}
		}
	}
	return b.String()
}

func TestExportImport(t *testing.T) {
	src, srcCP := bundleServer(t, "internal")
	npmPublish(t, src, "internal", "bundle-npm", "1.0.0")
	npmPublish(t, src, "internal", "bundle-npm", "1.1.0")
	pypiUpload(t, src, "internal", "bundle-py", "2.0")
	genericPublish(t, srcCP, "internal", "3.0", formattest.Text("cli-linux", "linux binary"), formattest.Text("cli-darwin", "darwin binary"))
	send(t, src, http.MethodPost, "/acme/ruby/internal/api/v1/gems", "application/octet-stream", formattest.Gem("--- !ruby/object:Gem::Specification\nname: bundle-gem\nversion: !ruby/object:Gem::Version\n  version: 4.0.0\n"+
		"platform: ruby\nauthors:\n- x\ndate: 2024-01-01 00:00:00.000000000 Z\ndependencies: []\nrubygems_version: 3.3.15\nspecification_version: 4\nsummary: bundle fixture\n", formattest.Text("lib/bundle_gem.rb", "")))
	send(t, src, http.MethodPut, "/acme/nuget/internal/api/v2/package", "application/octet-stream", formattest.Nupkg("Bundle.Pkg", []byte(`<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata><id>Bundle.Pkg</id><version>5.0.0</version><authors>x</authors><description>bundle fixture</description></metadata></package>`),
		formattest.Text("content/readme.txt", "bundle fixture\n")))
	for _, c := range []struct{ name, deps string }{
		{"bundle-dep", `[]`},
		{"bundle-crate", `[{"optional":false,"default_features":true,"name":"bundle-dep","features":["x"],"version_req":"^1.0","target":null,"kind":"normal","registry":null,"explicit_name_in_toml":"dep"}]`},
	} {
		crate := formattest.Crate(c.name, "1.0.0", formattest.Text("Cargo.toml", "[package]\nname = \""+c.name+"\"\nversion = \"1.0.0\"\n"), formattest.Text("src/lib.rs", ""))
		var deps []any
		json.Unmarshal([]byte(c.deps), &deps)
		meta, _ := json.Marshal(map[string]any{"name": c.name, "vers": "1.0.0", "deps": deps, "features": map[string][]string{"x": {}}, "authors": []string{},
			"description": "d", "license": "MIT", "keywords": []string{}, "categories": []string{}, "badges": map[string]any{}})
		body := appendU32(nil, len(meta))
		body = append(body, meta...)
		body = appendU32(body, len(crate))
		body = append(body, crate...)
		send(t, src, http.MethodPut, "/acme/cargo/internal/api/v1/crates/new", "application/octet-stream", body)
	}
	for _, f := range []formattest.File{
		formattest.Text("com/example/bundle-lib/1.0/bundle-lib-1.0.pom", "<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>bundle-lib</artifactId><version>1.0</version></project>"),
		{Name: "com/example/bundle-lib/1.0/bundle-lib-1.0.jar", Body: formattest.Zip(formattest.Text("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n"))},
		formattest.Text("com/example/bundle-lib/maven-metadata.xml", string(formattest.MavenMetadata("com.example", "bundle-lib", "20240101000000", "1.0"))),
	} {
		send(t, src, http.MethodPut, "/acme/maven/internal/"+f.Name, "application/octet-stream", f.Body)
	}
	q := url.Values{"domain": {"acme"}, "repository": {"internal"}, "format": {"npm"}, "package": {"bundle-npm"}}
	cp(t, srcCP, http.MethodPost, "/v1/package/versions/update_status", q, []byte(`{"versions":["1.0.0"],"targetStatus":"Unlisted"}`))
	q.Set("format", "pypi")
	q.Set("package", "bundle-py")
	cp(t, srcCP, http.MethodPost, "/v1/package", q, []byte(`{"restrictions":{"publish":"BLOCK","upstream":"ALLOW"}}`))
	want := repoView(t, srcCP, "internal")
	for _, w := range []string{"1.0.0 Unlisted INTERNAL", `"publish":"BLOCK"`, "cli-darwin", "bundle_py-2.0-py3-none-any.whl", "bundle-gem-4.0.0.gem", "5.0.0 Published INTERNAL", "bundle-crate-1.0.0.crate", "bundle-lib-1.0.jar"} {
		if !strings.Contains(want, w) {
			t.Fatalf("the source lacks %q:\n%s", w, want)
		}
	}

	env := func(in *proxytest.Instance) func(string) string {
		m := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAADMIN", "AWS_SECRET_ACCESS_KEY": "admin-secret", "STOCKPILE_ENDPOINT": in.URL}
		return func(k string) string { return m[k] }
	}
	file := filepath.Join(t.TempDir(), "internal.bundle")
	code, out, errOut := runCLI(t, env(src), "export", "--domain", "acme", "--repository", "internal", "-o", file)
	if code != 0 || out != "wrote "+file+": 1 repositories, 8 packages, 9 versions, 12 assets\n" || !strings.Contains(errOut, "export: 12/12\n") {
		t.Fatalf("export: exit %d\n%s\n%s", code, out, errOut)
	}

	// into an empty Stockpile: the domain and repository are created
	dst, dstCP := bundleServer(t)
	code, out, errOut = runCLI(t, env(dst), "import", file)
	if code != 0 || out != "created acme/internal\nacme: 9 versions imported, 0 already there, 0 refused\n" || !strings.Contains(errOut, "import: 9/9\n") {
		t.Fatalf("import: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := repoView(t, dstCP, "internal"); got != want {
		t.Fatalf("after import:\n%s\nwant:\n%s", got, want)
	}
	// the crate's index line (dependencies renamed, features) is the same
	indexLine := func(in *proxytest.Instance) string {
		req, _ := http.NewRequest(http.MethodGet, in.URL+"/acme/cargo/internal/bu/nd/bundle-crate", nil)
		req.Header.Set("Authorization", "Bearer "+in.Token("acme"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return regexp.MustCompile(`"pubtime":"[^"]*"`).ReplaceAllString(string(b), "")
	}
	if got, want := indexLine(dst), indexLine(src); got != want || !strings.Contains(want, `"package":"bundle-dep"`) {
		t.Fatalf("index line after import:\n%s\nwant:\n%s", got, want)
	}
	// again: nothing changes
	code, out, errOut = runCLI(t, env(dst), "import", file)
	if code != 0 || out != "acme: 0 versions imported, 9 already there, 0 refused\n" {
		t.Fatalf("second import: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := repoView(t, dstCP, "internal"); got != want {
		t.Fatalf("after a second import:\n%s\nwant:\n%s", got, want)
	}

	// a version held with other bytes is refused, the rest imported
	other, otherCP := bundleServer(t, "internal")
	genericPublish(t, otherCP, "internal", "3.0", formattest.Text("cli-linux", "another linux binary"))
	code, out, errOut = runCLI(t, env(other), "import", file)
	if code != 1 || !strings.Contains(out, "8 versions imported, 0 already there, 1 refused\n  refused: internal: generic tools/cli 3.0: the repository holds this version with other assets\n") {
		t.Fatalf("conflicting import: exit %d\n%s\n%s", code, out, errOut)
	}

	// a tampered bundle is refused, naming the entry, before any change
	tampered, name := tamper(t, file)
	empty, emptyCP := bundleServer(t, "internal")
	code, out, errOut = runCLI(t, env(empty), "import", tampered)
	if code != 1 || !strings.Contains(errOut, "the bundle does not match its manifest: "+name+" has ") {
		t.Fatalf("tampered import: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := repoView(t, emptyCP, "internal"); got != "" {
		t.Fatalf("a tampered import changed the repository:\n%s", got)
	}
}

// tamper rewrites a bundle with one byte of its first blob changed and
// returns it and the entry's name.
func tamper(t *testing.T, file string) (string, string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, _ := zstd.NewReader(f)
	defer zr.Close()
	tr := tar.NewReader(zr)
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	changed := ""
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if changed == "" && strings.HasPrefix(hdr.Name, "blobs/") {
			body[0] ^= 1
			changed = hdr.Name
		}
		tw.WriteHeader(hdr)
		tw.Write(body)
	}
	tw.Close()
	zw.Close()
	out := filepath.Join(t.TempDir(), "tampered.bundle")
	os.WriteFile(out, buf.Bytes(), 0o644)
	return out, changed
}

func TestStepProgress(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	p := &stepProgress{w: &buf, what: "import", terminal: true, now: func() time.Time { clock = clock.Add(60 * time.Millisecond); return clock }}
	for i := 1; i <= 4; i++ {
		p.Step(i, 4)
	}
	if got := buf.String(); !strings.HasPrefix(got, "\rimport [#######                       ] 1/4") || !strings.HasSuffix(got, "\rimport [##############################] 4/4\n") || strings.Count(got, "\r") != 3 {
		t.Errorf("terminal: %q", got)
	}
}

func TestExportDomainAndLockfile(t *testing.T) {
	src, srcCP := bundleServer(t, "internal", "app")
	cp(t, srcCP, http.MethodPut, "/v1/repository", url.Values{"domain": {"acme"}, "repository": {"app"}}, []byte(`{"upstreams":[{"repositoryName":"internal"}]}`))
	npmPublish(t, src, "internal", "lib-a", "1.0.0")
	npmPublish(t, src, "internal", "lib-a", "2.0.0")
	npmPublish(t, src, "app", "app-b", "1.0.0")
	env := func(in *proxytest.Instance) func(string) string {
		m := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAADMIN", "AWS_SECRET_ACCESS_KEY": "admin-secret", "STOCKPILE_ENDPOINT": in.URL}
		return func(k string) string { return m[k] }
	}
	dir := t.TempDir()

	t.Run("a whole domain", func(t *testing.T) {
		file := filepath.Join(dir, "acme.bundle")
		code, out, errOut := runCLI(t, env(src), "export", "--domain", "acme", "-o", file)
		if code != 0 || out != "wrote "+file+": 2 repositories, 2 packages, 3 versions, 3 assets\n" {
			t.Fatalf("export: exit %d\n%s\n%s", code, out, errOut)
		}
		dst, dstCP := bundleServer(t)
		code, out, errOut = runCLI(t, env(dst), "import", file)
		if code != 0 || out != "created acme/app\ncreated acme/internal\nacme: 3 versions imported, 0 already there, 0 refused\n" {
			t.Fatalf("import: exit %d\n%s\n%s", code, out, errOut)
		}
		for _, repo := range []string{"internal", "app"} {
			if got, want := repoView(t, dstCP, repo), repoView(t, srcCP, repo); got != want {
				t.Errorf("%s after import:\n%s\nwant:\n%s", repo, got, want)
			}
		}
		var desc struct {
			Repository struct {
				Upstreams []struct{ RepositoryName string }
			}
		}
		json.Unmarshal(cp(t, dstCP, http.MethodGet, "/v1/repository", url.Values{"domain": {"acme"}, "repository": {"app"}}, nil), &desc)
		if len(desc.Repository.Upstreams) != 1 || desc.Repository.Upstreams[0].RepositoryName != "internal" {
			t.Errorf("app's upstreams after import: %+v", desc)
		}
		code, _, errOut = runCLI(t, env(dst), "import", "--repository", "x", file)
		if code != 2 || !strings.Contains(errOut, "the bundle holds 2 repositories") {
			t.Errorf("--repository with a domain bundle: exit %d %s", code, errOut)
		}
	})
	t.Run("the versions a lockfile names, into another repository", func(t *testing.T) {
		lock := filepath.Join(dir, "package-lock.json")
		os.WriteFile(lock, []byte(`{"lockfileVersion":3,"packages":{"":{"name":"x"},"node_modules/lib-a":{"version":"2.0.0","resolved":"http://r.invalid/lib-a/-/lib-a-2.0.0.tgz"}}}`), 0o644)
		file := filepath.Join(dir, "ci.bundle")
		code, out, errOut := runCLI(t, env(src), "export", "--domain", "acme", "--repository", "internal", "--lockfile", lock, "-o", file)
		if code != 0 || out != "wrote "+file+": 1 repositories, 1 packages, 1 versions, 1 assets\n" {
			t.Fatalf("export: exit %d\n%s\n%s", code, out, errOut)
		}
		dst, dstCP := bundleServer(t)
		code, out, errOut = runCLI(t, env(dst), "import", "--domain", "ci", "--repository", "cache", file)
		if code != 0 || out != "created ci/cache\nci: 1 versions imported, 0 already there, 0 refused\n" {
			t.Fatalf("import: exit %d\n%s\n%s", code, out, errOut)
		}
		var vs struct{ Versions []struct{ Version string } }
		json.Unmarshal(cp(t, dstCP, http.MethodPost, "/v1/package/versions", url.Values{"domain": {"ci"}, "repository": {"cache"}, "format": {"npm"}, "package": {"lib-a"}}, nil), &vs)
		if len(vs.Versions) != 1 || vs.Versions[0].Version != "2.0.0" {
			t.Errorf("versions imported: %+v", vs)
		}
	})
}
