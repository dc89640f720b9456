package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/proxy"
	"github.com/stockpile-proxy/stockpile/proxy/proxytest"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// TestFsck runs `stockpile fsck` on the data directory of a stopped server
// whose cached asset had a byte flipped: it reports the blob and the
// version (to be fetched again), fails, and a second run finds it clean;
// the server started again serves the asset right, fetched again.
func TestFsck(t *testing.T) {
	up := proxytest.NewToyUpstream(t)
	body := []byte(strings.Repeat("bytes that fsck rehashes\n", 100))
	up.PublishBody(t, "demo", "1.0.0", body)
	cfg := proxy.Defaults()
	cfg.Connections = map[string]upstream.Options{"public:crates-io": {URL: up.Fake.URL + "/"}}
	cfg.Domains = []proxy.DomainConfig{{Name: "acme", Repositories: []proxy.RepositoryConfig{{Name: "store", ExternalConnection: "public:crates-io"}}}}
	in := proxytest.Start(t, proxytest.Options{Config: &cfg, Formats: []formats.Format{proxytest.Toy{}}, OnDisk: true})
	url := in.URL + "/acme/cargo/store/demo/1.0.0/demo-1.0.0.txt"
	if code, got, err := get(url); err != nil || code != 200 || !bytes.Equal(got, body) {
		t.Fatalf("download: %d %v", code, err)
	}
	in.Stop()
	flipped := false
	filepath.WalkDir(in.DataDir(), func(path string, d fs.DirEntry, err error) error {
		if b, rerr := os.ReadFile(path); err == nil && !d.IsDir() && rerr == nil && bytes.Equal(b, body) {
			b[10] ^= 1
			flipped = os.WriteFile(path, b, 0o600) == nil
		}
		return nil
	})
	if !flipped {
		t.Fatal("the blob's file was not found")
	}

	var out, errOut bytes.Buffer
	err := run([]string{"fsck", "--data-dir", in.DataDir()}, func(string) string { return "" }, &out, &errOut)
	t.Logf("fsck: %v\n%s", err, out.String())
	if err == nil || !strings.Contains(out.String(), "1 corrupt") ||
		!strings.Contains(out.String(), "store: cargo demo 1.0.0, demo-1.0.0.txt: fetched again from its upstream") {
		t.Fatalf("first fsck: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run([]string{"fsck", "--data-dir", in.DataDir()}, func(string) string { return "" }, &out, &errOut); err != nil || !strings.Contains(out.String(), "0 corrupt") {
		t.Fatalf("second fsck: %v\n%s", err, out.String())
	}
	in.Restart()
	url = in.URL + "/acme/cargo/store/demo/1.0.0/demo-1.0.0.txt"
	if code, got, err := get(url); err != nil || code != 200 || !bytes.Equal(got, body) {
		t.Fatalf("download after fsck: %d %v", code, err)
	}
}
