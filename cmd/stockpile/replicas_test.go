package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
)

// npmPackage is a real npm package tarball: package/package.json and a
// file of padding, so that a transfer takes a while.
func npmPackage(t *testing.T, name string, pad int) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	junk := make([]byte, pad)
	rand.Read(junk)
	for _, f := range []struct {
		name string
		body []byte
	}{
		{"package/package.json", []byte(fmt.Sprintf(`{"name":%q,"version":"1.0.0","main":"index.js"}`, name))},
		{"package/index.js", []byte("module.exports = " + hex.EncodeToString(junk[:16]) + ";\n")},
		{"package/pad.bin", junk},
	} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: time.Unix(1e9, 0)})
		tw.Write(f.body)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// realNPM is a fake npm registry of real packages whose tarballs are sent
// in pieces with a pause between them.
func realNPM(t *testing.T, n, pad int, pause time.Duration) (srv *httptest.Server, names []string, tarballHits *atomic.Int64) {
	tarballHits = &atomic.Int64{}
	tarballs := map[string][]byte{}
	for i := range n {
		name := fmt.Sprintf("pkg-%03d", i)
		names = append(names, name)
		tarballs[name] = npmPackage(t, name, pad)
	}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if i := strings.Index(name, "/-/"); i >= 0 {
			tgz := tarballs[name[:i]]
			if tgz == nil {
				http.NotFound(w, r)
				return
			}
			tarballHits.Add(1)
			w.Header().Set("Content-Length", fmt.Sprint(len(tgz)))
			for off := 0; off < len(tgz); off += 32 << 10 {
				if _, err := w.Write(tgz[off:min(off+32<<10, len(tgz))]); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				time.Sleep(pause) // a slow upstream: the tarball trickles in
			}
			return
		}
		tgz := tarballs[name]
		if tgz == nil {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"Not found"}`)
			return
		}
		s512, s1 := sha512.Sum512(tgz), sha1.Sum(tgz)
		doc := map[string]any{"name": name, "dist-tags": map[string]string{"latest": "1.0.0"},
			"versions": map[string]any{"1.0.0": map[string]any{"name": name, "version": "1.0.0", "dist": map[string]any{
				"tarball":   srv.URL + "/" + name + "/-/" + name + "-1.0.0.tgz",
				"integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
				"shasum":    hex.EncodeToString(s1[:]),
			}}}}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(srv.Close)
	return srv, names, tarballHits
}

// loadBalancer is a round-robin load balancer on loopback over addrs that
// keeps the client's Host and retries, as load balancers' retry policies
// do: a GET or HEAD whose backend fails before its whole answer is in
// (refused, reset, cut mid-body) goes to the next backend, the answer being
// read in full before it is passed on; other requests go to one backend.
func loadBalancer(t *testing.T, addrs []string) *httptest.Server {
	var next atomic.Uint64
	client := &http.Client{
		Transport:     &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 32},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		tries := 1
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			tries = len(addrs)
		}
		var lastErr error
		// Each try goes to another backend, as load balancers' retries do.
		first := next.Add(1)
		for i := range uint64(tries) {
			addr := addrs[(first+i)%uint64(len(addrs))]
			req, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+addr+r.URL.RequestURI(), bytes.NewReader(body))
			req.Header = r.Header.Clone()
			req.Host = r.Host
			resp, err := client.Do(req)
			if err != nil {
				lastErr = err
				continue
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				lastErr = err
				continue
			}
			for k, v := range resp.Header {
				w.Header()[k] = v
			}
			w.WriteHeader(resp.StatusCode)
			w.Write(b)
			return
		}
		http.Error(w, "no backend answered: "+lastErr.Error(), http.StatusBadGateway)
	}))
	t.Cleanup(lb.Close)
	return lb
}

// replicaConfigs writes one configuration per replica: the same PostgreSQL
// database and bucket, each its own cache directory.
func replicaConfigs(t *testing.T, upstreamURL string, n int) []string {
	t.Helper()
	return faultConfigs(t, upstreamURL, engines.Postgres(t).NewDatabase(t), engines.S3(t).NewBucket(t), n)
}

// TestReplicaKilledDuringNpmInstall runs a real npm install of a project of
// 40 packages through a load balancer in front of three replicas on
// PostgreSQL and SeaweedFS, kills one replica with SIGKILL while tarballs
// are on their way, and checks that the install succeeds (npm retries,
// the load balancer sends the retries to the living replicas) with every
// package in place.
func TestReplicaKilledDuringNpmInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	proxytest.RequireTool(t, "npm")
	bin := stockpileBinary(t)
	up, names, tarballHits := realNPM(t, 40, 256<<10, 20*time.Millisecond)
	configs := replicaConfigs(t, up.URL, 3)
	var procs []*proc
	var addrs []string
	for _, c := range configs {
		addr := freeAddr(t)
		procs = append(procs, startProcess(t, bin, c, t.TempDir(), addr))
		addrs = append(addrs, addr)
	}
	lb := loadBalancer(t, addrs)

	dir := t.TempDir()
	project := filepath.Join(dir, "project")
	os.MkdirAll(project, 0o755)
	deps := map[string]string{}
	for _, n := range names {
		deps[n] = "1.0.0"
	}
	pj, _ := json.Marshal(map[string]any{"name": "project", "version": "1.0.0", "private": true, "dependencies": deps})
	os.WriteFile(filepath.Join(project, "package.json"), pj, 0o644)
	for _, f := range []string{"npmrc", "globalrc"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o600)
	}
	cmd := exec.Command("npm", "install", "--ignore-scripts", "--no-audit", "--no-fund")
	cmd.Dir = project
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"),
		"npm_config_userconfig=" + filepath.Join(dir, "npmrc"), "npm_config_globalconfig=" + filepath.Join(dir, "globalrc"),
		"npm_config_cache=" + filepath.Join(dir, "cache"), "npm_config_update_notifier=false",
		"npm_config_registry=" + lb.URL + "/acme/npm/app/", "npm_config_fetch_retries=5",
		"npm_config_fetch_retry_mintimeout=200", "npm_config_fetch_retry_maxtimeout=2000", "npm_config_maxsockets=8"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Kill once the install is fetching tarballs (the upstream drips each
	// over about 200ms): some fetched, most not.
	deadline := time.Now().Add(2 * time.Minute)
	for tarballHits.Load() < 8 {
		select {
		case err := <-done:
			t.Fatalf("npm finished before a replica could be killed (%v):\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("npm fetched no tarball within 2 minutes:\n%s", out.String())
		}
	}
	procs[1].kill()
	t.Logf("replica 1 killed after %d of %d tarballs started upstream", tarballHits.Load(), len(names))
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Minute):
		cmd.Process.Kill()
		err = errors.New("npm install took over 5 minutes")
	}
	if err != nil {
		t.Fatalf("npm install with a replica killed: %v\n%s", err, out.String())
	}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(project, "node_modules", n, "package.json")); err != nil {
			t.Errorf("%s not installed: %v", n, err)
		}
	}
}
