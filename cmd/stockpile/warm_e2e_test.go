package main

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
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
