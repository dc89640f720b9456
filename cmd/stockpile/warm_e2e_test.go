package main

import (
	"bytes"
	"crypto/md5"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// fakeNPM is a public npm registry of n packages warm-000…, each one
// version 1.0.0 whose tarball is a real package.
type fakeNPM struct {
	*httptest.Server
	tarballs    map[string][]byte
	tarballHits atomic.Int64
}

func newFakeNPM(t *testing.T, n int) *fakeNPM {
	t.Helper()
	f := &fakeNPM{tarballs: map[string][]byte{}}
	for i := range n {
		name := fmt.Sprintf("warm-%03d", i)
		f.tarballs[name] = formattest.TarGz(formattest.Text("package/package.json", `{"name":"`+name+`","version":"1.0.0"}`),
			formattest.Text("package/index.js", "module.exports = "+fmt.Sprint(i)+"\n"))
	}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if pkg, _, ok := strings.Cut(name, "/-/"); ok {
			if tgz := f.tarballs[pkg]; tgz != nil {
				f.tarballHits.Add(1)
				w.Write(tgz)
				return
			}
		}
		tgz := f.tarballs[name]
		if tgz == nil {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"Not found"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"name": name, "dist-tags": map[string]string{"latest": "1.0.0"},
			"versions": map[string]any{"1.0.0": map[string]any{"name": name, "version": "1.0.0",
				"dist": map[string]string{"tarball": f.URL + "/" + name + "/-/" + name + "-1.0.0.tgz", "integrity": integrity(tgz)}}}})
	}))
	t.Cleanup(f.Close)
	return f
}

func integrity(b []byte) string {
	s := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(s[:])
}

// packageLock is the package-lock.json (v3) npm writes for a project
// depending on every package, installed through endpoint.
func (f *fakeNPM) packageLock(endpoint string, tamper string) (lock, manifest []byte) {
	deps := map[string]string{}
	pkgs := map[string]any{}
	for name, tgz := range f.tarballs {
		deps[name] = "1.0.0"
		in := integrity(tgz)
		if name == tamper {
			in = integrity([]byte("something else"))
		}
		pkgs["node_modules/"+name] = map[string]any{"version": "1.0.0", "resolved": endpoint + name + "/-/" + name + "-1.0.0.tgz", "integrity": in}
	}
	pkgs[""] = map[string]any{"name": "proj", "version": "1.0.0", "dependencies": deps}
	lock, _ = json.MarshalIndent(map[string]any{"name": "proj", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": pkgs}, "", "  ")
	manifest, _ = json.Marshal(map[string]any{"name": "proj", "version": "1.0.0", "private": true, "dependencies": deps})
	return lock, manifest
}

// TestWarmNPMThenOffline warms a repository from the lockfile of a
// project of 320 packages, stops the public registry, and installs the
// project with the real npm through Stockpile alone.
func TestWarmNPMThenOffline(t *testing.T) {
	const n = 320
	up := newFakeNPM(t, n)
	e := startLoginEnv(t, map[string]upstream.Options{"public:npmjs": {URL: up.URL + "/", Retries: 1}},
		proxy.RepositoryConfig{Name: "npm-store", ExternalConnection: "public:npmjs"})
	endpoint := e.in.URL + "/acme/npm/app/"
	proj := t.TempDir()
	lock, manifest := up.packageLock(endpoint, "")
	mkdir(t, proj, map[string]string{"package-lock.json": string(lock), "package.json": string(manifest)})
	env := map[string]string{"HOME": e.home, "AWS_ACCESS_KEY_ID": "AKIAADMIN", "AWS_SECRET_ACCESS_KEY": "admin-secret", "STOCKPILE_ENDPOINT": e.in.URL}
	getenv := func(k string) string { return env[k] }

	code, out, errOut := runCLI(t, getenv, "warm", "--domain", "acme", "--repository", "app", filepath.Join(proj, "package-lock.json"))
	if code != 0 || !strings.Contains(out, fmt.Sprintf("%d artifacts (%d files", n, n)) || !strings.Contains(out, fmt.Sprintf("%d fetched and verified, 0 already cached, 0 failed", n)) {
		t.Fatalf("warm: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, fmt.Sprintf("warm: %d artifacts to fetch", n)) || !strings.Contains(errOut, fmt.Sprintf("warm: %d/%d done, 0 failed", n, n)) {
		t.Errorf("progress lines (not a terminal):\n%s", errOut)
	}
	if got := up.tarballHits.Load(); got != n {
		t.Errorf("the upstream served %d tarballs, want %d", got, n)
	}

	// A lockfile whose integrity does not match is refused, naming the
	// package; one naming a package nobody has fails with the reason.
	bad := t.TempDir()
	badLock, _ := up.packageLock(endpoint, "warm-007")
	var doc map[string]any
	json.Unmarshal(badLock, &doc)
	doc["packages"].(map[string]any)["node_modules/warm-missing"] = map[string]any{"version": "1.0.0", "resolved": endpoint + "warm-missing/-/warm-missing-1.0.0.tgz"}
	badLock, _ = json.Marshal(doc)
	mkdir(t, bad, map[string]string{"package-lock.json": string(badLock)})
	code, out, errOut = runCLI(t, getenv, "warm", "--domain", "acme", "--repository", "app", filepath.Join(bad, "package-lock.json"))
	if code != 1 || !strings.Contains(out, fmt.Sprintf("0 fetched and verified, %d already cached, 2 failed", n-1)) ||
		!strings.Contains(out, "failed: npm warm-007@1.0.0 ("+filepath.Join(bad, "package-lock.json")+"): "+endpoint+"warm-007/-/warm-007-1.0.0.tgz: integrity check failed") ||
		!strings.Contains(out, "failed: npm warm-missing@1.0.0") || !strings.Contains(errOut, "2 of 321 artifacts failed") {
		t.Fatalf("a bad lockfile: exit %d\n%s\n%s", code, out, errOut)
	}

	// Again: everything is held already, nothing is downloaded.
	code, out, errOut = runCLI(t, getenv, "warm", "--domain", "acme", "--repository", "app", filepath.Join(proj, "package-lock.json"))
	if code != 0 || !strings.Contains(out, fmt.Sprintf("%d artifacts (0 files, 0.0 MiB fetched): 0 fetched and verified, %d already cached, 0 failed", n, n)) {
		t.Fatalf("warm again: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := up.tarballHits.Load(); got != n {
		t.Errorf("the upstream served %d tarballs after a second warm, want %d", got, n)
	}

	// Offline: the public registry is gone; npm ci installs every package
	// from Stockpile's cache.
	up.Close()
	e.login("npm")
	e.client(proj, e.clientEnv(), "npm", "ci", "--no-audit", "--no-fund", "--no-update-notifier")
	entries, _ := os.ReadDir(filepath.Join(proj, "node_modules"))
	installed := 0
	for _, en := range entries {
		if _, err := os.Stat(filepath.Join(proj, "node_modules", en.Name(), "package.json")); err == nil {
			installed++
		}
	}
	if installed != n {
		t.Fatalf("npm ci installed %d packages, want %d", installed, n)
	}
}

// TestWarmPyPICargoGems warms a repository from a requirements file, a
// Cargo.lock and a Gemfile.lock naming packages published to it, checking
// each file against the lockfile's hashes.
func TestWarmPyPICargoGems(t *testing.T) {
	e := startLoginEnv(t, nil)
	// a wheel, uploaded as twine does
	const distInfo = "warm_wheel-1.0.dist-info"
	wheel := formattest.Wheel(distInfo,
		formattest.Text("warm_wheel.py", "X = 1\n"),
		formattest.Text(distInfo+"/METADATA", "Metadata-Version: 2.1\nName: warm-wheel\nVersion: 1.0\n"),
		formattest.Text(distInfo+"/WHEEL", "Wheel-Version: 1.0\nGenerator: stockpile-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for k, v := range map[string]string{":action": "file_upload", "protocol_version": "1", "name": "warm-wheel", "version": "1.0", "filetype": "bdist_wheel", "pyversion": "py3", "metadata_version": "2.1"} {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("content", "warm_wheel-1.0-py3-none-any.whl")
	fw.Write(wheel)
	mw.Close()
	e.put(http.MethodPost, "/acme/pypi/app/", mw.FormDataContentType(), form.Bytes())
	// a crate
	crate := formattest.Crate("warm-crate", "1.0.0",
		formattest.Text("Cargo.toml", "[package]\nname = \"warm-crate\"\nversion = \"1.0.0\"\nedition = \"2021\"\n"), formattest.Text("src/lib.rs", ""))
	meta := map[string]any{"name": "warm-crate", "vers": "1.0.0", "deps": []any{}, "features": map[string]any{}, "authors": []string{},
		"description": "warm fixture", "license": "MIT", "keywords": []string{}, "categories": []string{}, "badges": map[string]any{}}
	e.put(http.MethodPut, "/acme/cargo/app/api/v1/crates/new", "application/octet-stream", cargoPublishBody(t, meta, crate))
	// a gem
	spec := "--- !ruby/object:Gem::Specification\nname: warm-gem\nversion: !ruby/object:Gem::Version\n  version: 1.0.0\n" +
		"platform: ruby\nauthors:\n- x\ndate: 2024-01-01 00:00:00.000000000 Z\ndependencies: []\nrubygems_version: 3.3.15\nspecification_version: 4\nsummary: warm fixture\n"
	gem := formattest.Gem(spec, formattest.Text("lib/warm_gem.rb", ""))
	e.put(http.MethodPost, "/acme/ruby/app/api/v1/gems", "application/octet-stream", gem)
	// a NuGet package
	nupkg := formattest.Nupkg("Warm.Pkg", []byte(`<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata><id>Warm.Pkg</id><version>1.0.0</version><authors>x</authors><description>warm fixture</description></metadata></package>`),
		formattest.Text("content/readme.txt", "warm fixture\n"))
	e.put(http.MethodPut, "/acme/nuget/app/api/v2/package", "application/octet-stream", nupkg)
	nupkgSum := sha512.Sum512(nupkg)

	lockfiles := func(wheelSum, crateSum, gemSum, nupkgSum string) []string {
		dir := t.TempDir()
		mkdir(t, dir, map[string]string{
			"requirements.txt":   "warm-wheel==1.0 \\\n    --hash=sha256:" + wheelSum + "\n",
			"Cargo.lock":         "version = 3\n\n[[package]]\nname = \"warm-crate\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"" + crateSum + "\"\n",
			"Gemfile.lock":       "GEM\n  remote: https://gems.invalid/\n  specs:\n    warm-gem (1.0.0)\n\nCHECKSUMS\n  warm-gem (1.0.0) sha256=" + gemSum + "\n",
			"packages.lock.json": `{"version":1,"dependencies":{"net8.0":{"Warm.Pkg":{"type":"Direct","requested":"[1.0.0, )","resolved":"1.0.0","contentHash":"` + nupkgSum + `"}}}}`,
		})
		return []string{filepath.Join(dir, "requirements.txt"), filepath.Join(dir, "Cargo.lock"), filepath.Join(dir, "Gemfile.lock"), filepath.Join(dir, "packages.lock.json")}
	}
	// A scoped token (no AWS credentials) cannot ask what the repository
	// holds: every file is downloaded and verified.
	env := map[string]string{"STOCKPILE_TOKEN": e.token, "STOCKPILE_ENDPOINT": e.in.URL}
	getenv := func(k string) string { return env[k] }
	warmArgs := func(files []string) []string {
		return append([]string{"warm", "--domain", "acme", "--repository", "app"}, files...)
	}

	good := lockfiles(formattest.SHA256(wheel), formattest.SHA256(crate), formattest.SHA256(gem), base64.StdEncoding.EncodeToString(nupkgSum[:]))
	code, out, errOut := runCLI(t, getenv, warmArgs(good)...)
	want := fmt.Sprintf("4 artifacts (4 files, %.1f MiB fetched): 4 fetched and verified, 0 already cached, 0 failed\n", float64(len(wheel)+len(crate)+len(gem)+len(nupkg))/(1<<20))
	if code != 0 || out != want {
		t.Fatalf("warm: exit %d\n%s\n%s\nwant %s", code, out, errOut, want)
	}
	// With AWS credentials, what the repository holds (published here) is
	// not downloaded again.
	keys := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAADMIN", "AWS_SECRET_ACCESS_KEY": "admin-secret", "STOCKPILE_ENDPOINT": e.in.URL}
	code, out, errOut = runCLI(t, func(k string) string { return keys[k] }, warmArgs(good)...)
	if code != 0 || out != "4 artifacts (0 files, 0.0 MiB fetched): 0 fetched and verified, 4 already cached, 0 failed\n" {
		t.Fatalf("warm with AWS credentials: exit %d\n%s\n%s", code, out, errOut)
	}

	zero := strings.Repeat("0", 64)
	bad := lockfiles(zero, zero, zero, base64.StdEncoding.EncodeToString(make([]byte, 64)))
	code, out, errOut = runCLI(t, getenv, warmArgs(bad)...)
	for _, w := range []string{"0 fetched and verified, 0 already cached, 4 failed",
		"failed: nuget Warm.Pkg@1.0.0 (" + bad[3] + "): " + e.in.URL + "/acme/nuget/app/",
		"failed: pypi warm-wheel@1.0 (" + bad[0] + "): warm-wheel==1.0: not found: no file with the lockfile's hashes in the repository",
		"failed: cargo warm-crate@1.0.0 (" + bad[1] + "): ",
		"failed: ruby warm-gem@1.0.0 (" + bad[2] + "): " + e.in.URL + "/acme/ruby/app/gems/warm-gem-1.0.0.gem: integrity check failed"} {
		if !strings.Contains(out, w) {
			t.Errorf("bad hashes: stdout lacks %q", w)
		}
	}
	if code != 1 || !strings.Contains(out, "integrity check failed: the file's sha256 is "+formattest.SHA256(crate)) {
		t.Fatalf("bad hashes: exit %d\n%s\n%s", code, out, errOut)
	}
}

// fakePyPI is a public simple index (PEP 691 JSON) of pure-Python wheels.
type fakePyPI struct {
	*httptest.Server
	wheels   map[string][]byte // file name → bytes
	fileHits atomic.Int64
}

func newFakePyPI(t *testing.T, projects map[string]string) *fakePyPI {
	t.Helper()
	f := &fakePyPI{wheels: map[string][]byte{}}
	for name, version := range projects {
		mod := strings.ReplaceAll(name, "-", "_")
		distInfo := mod + "-" + version + ".dist-info"
		f.wheels[mod+"-"+version+"-py3-none-any.whl"] = formattest.Wheel(distInfo,
			formattest.Text(mod+".py", "VERSION = '"+version+"'\n"),
			formattest.Text(distInfo+"/METADATA", "Metadata-Version: 2.1\nName: "+name+"\nVersion: "+version+"\n"),
			formattest.Text(distInfo+"/WHEEL", "Wheel-Version: 1.0\nGenerator: stockpile-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
	}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if file, ok := strings.CutPrefix(r.URL.Path, "/files/"); ok && f.wheels[file] != nil {
			f.fileHits.Add(1)
			w.Write(f.wheels[file])
			return
		}
		project := strings.Trim(strings.TrimPrefix(r.URL.Path, "/simple/"), "/")
		var files []map[string]any
		for file, body := range f.wheels {
			if strings.HasPrefix(file, strings.ReplaceAll(project, "-", "_")+"-") {
				files = append(files, map[string]any{"filename": file, "url": f.URL + "/files/" + file, "hashes": map[string]string{"sha256": formattest.SHA256(body)}})
			}
		}
		if files == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
		json.NewEncoder(w).Encode(map[string]any{"meta": map[string]string{"api-version": "1.0"}, "name": project, "files": files})
	}))
	t.Cleanup(f.Close)
	return f
}

// TestWarmPipThenOffline warms a repository from a hashed requirements
// file through a fake PyPI, stops it, and installs the requirements with
// the real pip through Stockpile alone.
func TestWarmPipThenOffline(t *testing.T) {
	up := newFakePyPI(t, map[string]string{"warm-alpha": "1.0", "warm-beta": "2.0.1", "warm-gamma": "0.3"})
	e := startLoginEnv(t, map[string]upstream.Options{"public:pypi": {URL: up.URL + "/simple/", Retries: 1}},
		proxy.RepositoryConfig{Name: "pypi-store", ExternalConnection: "public:pypi"})
	var req strings.Builder
	for file, body := range up.wheels {
		name, rest, _ := strings.Cut(file, "-")
		version, _, _ := strings.Cut(rest, "-")
		fmt.Fprintf(&req, "%s==%s \\\n    --hash=sha256:%s\n", strings.ReplaceAll(name, "_", "-"), version, formattest.SHA256(body))
	}
	proj := mkdir(t, t.TempDir(), map[string]string{"requirements.txt": req.String()})
	env := map[string]string{"HOME": e.home, "AWS_ACCESS_KEY_ID": "AKIAADMIN", "AWS_SECRET_ACCESS_KEY": "admin-secret", "STOCKPILE_ENDPOINT": e.in.URL}
	code, out, errOut := runCLI(t, func(k string) string { return env[k] }, "warm", "--domain", "acme", "--repository", "app", filepath.Join(proj, "requirements.txt"))
	if code != 0 || !strings.Contains(out, "3 artifacts (3 files") || !strings.Contains(out, "3 fetched and verified, 0 already cached, 0 failed") {
		t.Fatalf("warm: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := up.fileHits.Load(); got != 3 {
		t.Errorf("the upstream served %d files, want 3", got)
	}
	up.Close()
	e.login("pip")
	target := t.TempDir()
	e.client(proj, e.clientEnv("PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_INPUT=1"), "pip", "install", "--no-cache-dir", "--target", target, "-r", "requirements.txt")
	for _, mod := range []string{"warm_alpha.py", "warm_beta.py", "warm_gamma.py"} {
		mustExist(t, filepath.Join(target, mod))
	}
}

// fakeCrates is a public sparse index (config.json, index files, and
// downloads by its dl template) of library crates.
type fakeCrates struct {
	*httptest.Server
	crates map[string][]byte // name → .crate of version 1.0.0
	dlHits atomic.Int64
}

func newFakeCrates(t *testing.T, names ...string) *fakeCrates {
	t.Helper()
	f := &fakeCrates{crates: map[string][]byte{}}
	for _, n := range names {
		f.crates[n] = formattest.Crate(n, "1.0.0",
			formattest.Text("Cargo.toml", "[package]\nname = \""+n+"\"\nversion = \"1.0.0\"\nedition = \"2021\"\n"), formattest.Text("src/lib.rs", "pub fn f() {}\n"))
	}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/")
		if p == "config.json" {
			w.Write([]byte(`{"dl":"` + f.URL + `/dl/{crate}/{version}"}`))
			return
		}
		if rest, ok := strings.CutPrefix(p, "dl/"); ok {
			name, _, _ := strings.Cut(rest, "/")
			if c := f.crates[name]; c != nil {
				f.dlHits.Add(1)
				w.Write(c)
				return
			}
		}
		name := p[strings.LastIndex(p, "/")+1:]
		if c := f.crates[name]; c != nil && p == formattest.CargoIndexDir(name)+"/"+name {
			fmt.Fprintf(w, `{"name":%q,"vers":"1.0.0","deps":[],"cksum":%q,"features":{},"yanked":false}`+"\n", name, formattest.SHA256(c))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// TestWarmCargoThenOffline warms a repository from a Cargo.lock through a
// fake crates.io index, stops it, and fetches the project with the real
// cargo through Stockpile alone.
func TestWarmCargoThenOffline(t *testing.T) {
	up := newFakeCrates(t, "warm-one", "warm-two", "wt")
	e := startLoginEnv(t, map[string]upstream.Options{"public:crates-io": {URL: up.URL + "/", Retries: 1}},
		proxy.RepositoryConfig{Name: "crates-io-store", ExternalConnection: "public:crates-io"})
	lock := "version = 3\n\n[[package]]\nname = \"proj\"\nversion = \"0.1.0\"\ndependencies = [\n \"warm-one\",\n \"warm-two\",\n \"wt\",\n]\n"
	deps := ""
	for _, n := range []string{"warm-one", "warm-two", "wt"} {
		lock += "\n[[package]]\nname = \"" + n + "\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"" + formattest.SHA256(up.crates[n]) + "\"\n"
		deps += n + " = \"1.0\"\n"
	}
	proj := mkdir(t, t.TempDir(), map[string]string{
		"Cargo.toml": "[package]\nname = \"proj\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n" + deps,
		"Cargo.lock": lock,
		"src/lib.rs": "",
	})
	env := map[string]string{"HOME": e.home, "AWS_ACCESS_KEY_ID": "AKIAADMIN", "AWS_SECRET_ACCESS_KEY": "admin-secret", "STOCKPILE_ENDPOINT": e.in.URL}
	code, out, errOut := runCLI(t, func(k string) string { return env[k] }, "warm", "--domain", "acme", "--repository", "app", filepath.Join(proj, "Cargo.lock"))
	if code != 0 || !strings.Contains(out, "3 artifacts (3 files") || !strings.Contains(out, "3 fetched and verified, 0 already cached, 0 failed") {
		t.Fatalf("warm: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := up.dlHits.Load(); got != 3 {
		t.Errorf("the upstream served %d crates, want 3", got)
	}
	up.Close()
	e.login("cargo")
	cargoEnv := e.clientEnv("CARGO_TERM_COLOR=never", "CARGO_NET_RETRY=0")
	if h, _ := os.UserHomeDir(); os.Getenv("RUSTUP_HOME") == "" && h != "" {
		cargoEnv = append(cargoEnv, "RUSTUP_HOME="+filepath.Join(h, ".rustup"))
	} else {
		cargoEnv = append(cargoEnv, "RUSTUP_HOME="+os.Getenv("RUSTUP_HOME"))
	}
	e.client(proj, cargoEnv, "cargo", "fetch", "--locked")
	for _, n := range []string{"warm-one", "warm-two", "wt"} {
		if got, _ := filepath.Glob(filepath.Join(e.home, ".cargo", "registry", "cache", "*", n+"-1.0.0.crate")); len(got) != 1 {
			t.Errorf("cargo fetch did not download %s", n)
		}
	}
}

// fakeRubyGems is a public compact index (/versions, /info/{gem}) with
// its .gem files.
type fakeRubyGems struct {
	*httptest.Server
	gems    map[string][]byte // name → .gem of version 1.0.0
	gemHits atomic.Int64
}

func newFakeRubyGems(t *testing.T, names ...string) *fakeRubyGems {
	t.Helper()
	f := &fakeRubyGems{gems: map[string][]byte{}}
	info := func(name string) string { return "---\n1.0.0 |checksum:" + formattest.SHA256(f.gems[name]) + "\n" }
	for _, n := range names {
		f.gems[n] = formattest.Gem("--- !ruby/object:Gem::Specification\nname: "+n+"\nversion: !ruby/object:Gem::Version\n  version: 1.0.0\n"+
			"platform: ruby\nauthors:\n- x\ndate: 2024-01-01 00:00:00.000000000 Z\ndependencies: []\nfiles:\n- lib/"+n+".rb\nrequire_paths:\n- lib\n"+
			"rubygems_version: 3.3.15\nspecification_version: 4\nsummary: warm fixture\n", formattest.Text("lib/"+n+".rb", ""))
	}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/")
		switch {
		case p == "versions":
			var b strings.Builder
			b.WriteString("created_at: 2024-01-01T00:00:00Z\n---\n")
			for _, n := range names {
				fmt.Fprintf(&b, "%s 1.0.0 %x\n", n, md5.Sum([]byte(info(n))))
			}
			w.Write([]byte(b.String()))
		case strings.HasPrefix(p, "info/") && f.gems[p[5:]] != nil:
			w.Write([]byte(info(p[5:])))
		case strings.HasPrefix(p, "gems/") && strings.HasSuffix(p, "-1.0.0.gem") && f.gems[strings.TrimSuffix(p[5:], "-1.0.0.gem")] != nil:
			f.gemHits.Add(1)
			w.Write(f.gems[strings.TrimSuffix(p[5:], "-1.0.0.gem")])
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

// TestWarmBundlerThenOffline warms a repository from a Gemfile.lock
// through a fake rubygems.org, stops it, and installs the bundle with the
// real Bundler through Stockpile alone.
func TestWarmBundlerThenOffline(t *testing.T) {
	up := newFakeRubyGems(t, "warm-ruby-one", "warm-ruby-two")
	e := startLoginEnv(t, map[string]upstream.Options{"public:ruby-gems-org": {URL: up.URL + "/", Retries: 1}},
		proxy.RepositoryConfig{Name: "rubygems-store", ExternalConnection: "public:ruby-gems-org"})
	proj := mkdir(t, t.TempDir(), map[string]string{
		"Gemfile": "source \"https://rubygems.org\"\ngem \"warm-ruby-one\"\ngem \"warm-ruby-two\"\n",
		"Gemfile.lock": "GEM\n  remote: https://rubygems.org/\n  specs:\n    warm-ruby-one (1.0.0)\n    warm-ruby-two (1.0.0)\n\nPLATFORMS\n  ruby\n\n" +
			"DEPENDENCIES\n  warm-ruby-one\n  warm-ruby-two\n\nCHECKSUMS\n  warm-ruby-one (1.0.0) sha256=" + formattest.SHA256(up.gems["warm-ruby-one"]) +
			"\n  warm-ruby-two (1.0.0) sha256=" + formattest.SHA256(up.gems["warm-ruby-two"]) + "\n",
	})
	env := map[string]string{"HOME": e.home, "AWS_ACCESS_KEY_ID": "AKIAADMIN", "AWS_SECRET_ACCESS_KEY": "admin-secret", "STOCKPILE_ENDPOINT": e.in.URL}
	code, out, errOut := runCLI(t, func(k string) string { return env[k] }, "warm", "--domain", "acme", "--repository", "app", filepath.Join(proj, "Gemfile.lock"))
	if code != 0 || !strings.Contains(out, "2 artifacts (2 files") || !strings.Contains(out, "2 fetched and verified, 0 already cached, 0 failed") {
		t.Fatalf("warm: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := up.gemHits.Load(); got != 2 {
		t.Errorf("the upstream served %d gems, want 2", got)
	}
	up.Close()
	e.login("bundler")
	vendor := t.TempDir()
	e.client(proj, e.clientEnv("BUNDLE_PATH="+vendor, "BUNDLE_SILENCE_ROOT_WARNING=true", "BUNDLE_RETRY=0", "BUNDLE_FROZEN=true"), "bundle", "install")
	for _, n := range []string{"warm-ruby-one", "warm-ruby-two"} {
		if got, _ := filepath.Glob(filepath.Join(vendor, "ruby", "*", "gems", n+"-1.0.0", "lib", n+".rb")); len(got) != 1 {
			t.Errorf("bundle install did not install %s", n)
		}
	}
}

// TestWarmMavenList warms a repository from the output of mvn
// dependency:list through a fake Maven Central, each file checked against
// the repository's .sha1.
func TestWarmMavenList(t *testing.T) {
	central := debianCentral(t)
	e := startLoginEnv(t, map[string]upstream.Options{"public:maven-central": {URL: central.URL + "/maven2/", Retries: 1}},
		proxy.RepositoryConfig{Name: "maven-store", ExternalConnection: "public:maven-central"})
	list := "[INFO] The following files have been resolved:\n[INFO]    commons-io:commons-io:jar:2.11.0:compile -- module org.apache.commons.io\n" +
		"[INFO]    org.apache.maven.plugins:maven-compiler-plugin:maven-plugin:3.10.1:runtime\n[INFO]    com.example:nowhere:jar:1.0:compile\n[INFO] \n"
	proj := mkdir(t, t.TempDir(), map[string]string{"deps.txt": list})
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAADMIN", "AWS_SECRET_ACCESS_KEY": "admin-secret", "STOCKPILE_ENDPOINT": e.in.URL}
	code, out, errOut := runCLI(t, func(k string) string { return env[k] }, "warm", "--domain", "acme", "--repository", "app", filepath.Join(proj, "deps.txt"))
	if code != 1 || !strings.Contains(out, "3 artifacts (4 files") || !strings.Contains(out, "2 fetched and verified, 0 already cached, 1 failed") ||
		!strings.Contains(out, "failed: maven com.example:nowhere@1.0-jar") {
		t.Fatalf("warm: exit %d\n%s\n%s", code, out, errOut)
	}
	jar, _ := os.ReadFile("/usr/share/maven-repo/commons-io/commons-io/2.11.0/commons-io-2.11.0.jar")
	req, _ := http.NewRequest(http.MethodGet, e.in.URL+"/acme/maven/app/commons-io/commons-io/2.11.0/commons-io-2.11.0.jar", nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	central.Close() // from the cache only
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, jar) {
		t.Fatalf("the cached jar: %d, %d bytes, want %d", resp.StatusCode, len(got), len(jar))
	}
}
