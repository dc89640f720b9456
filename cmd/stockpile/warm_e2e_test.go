package main

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
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
	if code != 0 || !strings.Contains(out, fmt.Sprintf("%d artifacts (%d files", n, n)) || !strings.Contains(out, fmt.Sprintf("%d fetched and verified, 0 failed", n)) {
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
	if code != 1 || !strings.Contains(out, fmt.Sprintf("%d fetched and verified, 2 failed", n-1)) ||
		!strings.Contains(out, "failed: npm warm-007@1.0.0 ("+filepath.Join(bad, "package-lock.json")+"): "+endpoint+"warm-007/-/warm-007-1.0.0.tgz: integrity check failed") ||
		!strings.Contains(out, "failed: npm warm-missing@1.0.0") || !strings.Contains(errOut, "2 of 321 artifacts failed") {
		t.Fatalf("a bad lockfile: exit %d\n%s\n%s", code, out, errOut)
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
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAADMIN", "AWS_SECRET_ACCESS_KEY": "admin-secret", "STOCKPILE_ENDPOINT": e.in.URL}
	getenv := func(k string) string { return env[k] }
	warmArgs := func(files []string) []string {
		return append([]string{"warm", "--domain", "acme", "--repository", "app"}, files...)
	}

	good := lockfiles(formattest.SHA256(wheel), formattest.SHA256(crate), formattest.SHA256(gem), base64.StdEncoding.EncodeToString(nupkgSum[:]))
	code, out, errOut := runCLI(t, getenv, warmArgs(good)...)
	want := fmt.Sprintf("4 artifacts (4 files, %.1f MiB): 4 fetched and verified, 0 failed\n", float64(len(wheel)+len(crate)+len(gem)+len(nupkg))/(1<<20))
	if code != 0 || out != want {
		t.Fatalf("warm: exit %d\n%s\n%s\nwant %s", code, out, errOut, want)
	}

	zero := strings.Repeat("0", 64)
	bad := lockfiles(zero, zero, zero, base64.StdEncoding.EncodeToString(make([]byte, 64)))
	code, out, errOut = runCLI(t, getenv, warmArgs(bad)...)
	for _, w := range []string{"0 fetched and verified, 4 failed",
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
