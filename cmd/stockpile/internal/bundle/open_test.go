package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

type entry struct {
	name string
	body []byte
}

func makeBundle(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.body)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestOpen(t *testing.T) {
	a, b := []byte("asset a"), []byte("asset b")
	manifest := func(format string, assets ...[]byte) entry {
		m := Manifest{StockpileBundle: Version, Domain: "acme", Repositories: []Repo{{Name: "internal"}}}
		p := Package{Format: format, Name: "x", Versions: []PkgVersion{{Version: "1.0", Status: "Published"}}}
		for i, as := range assets {
			p.Versions[0].Assets = append(p.Versions[0].Assets, Asset{Name: string(rune('a' + i)), Size: int64(len(as)), SHA256: sum(as)})
		}
		m.Repositories[0].Packages = []Package{p}
		j, _ := json.Marshal(m)
		return entry{ManifestName, j}
	}
	blob := func(body []byte) entry { return entry{BlobName(sum(body)), body} }
	tests := []struct {
		name    string
		bundle  []byte
		wantErr string
	}{
		{"a good bundle", makeBundle(t, manifest("npm", a, b), blob(a), blob(b)), ""},
		{"an asset shared by two entries is stored once", makeBundle(t, manifest("npm", a, a), blob(a)), ""},
		{"a changed blob", makeBundle(t, manifest("npm", a), entry{BlobName(sum(a)), []byte("asset A")}), "blobs/sha256/" + sum(a) + " has 7 bytes with SHA-256 " + sum([]byte("asset A"))},
		{"a longer blob", makeBundle(t, manifest("npm", a), entry{BlobName(sum(a)), []byte("asset a, and more")}), "has 8 bytes"},
		{"a missing blob", makeBundle(t, manifest("npm", a, b), blob(a)), "blobs/sha256/" + sum(b) + " is missing"},
		{"an entry the manifest does not list", makeBundle(t, manifest("npm", a), blob(a), blob(b)), "blobs/sha256/" + sum(b) + " is not an asset of the manifest"},
		{"a path outside blobs", makeBundle(t, manifest("npm", a), blob(a), entry{"../etc/passwd", []byte("x")}), "../etc/passwd is not an asset"},
		{"no manifest first", makeBundle(t, blob(a), manifest("npm", a)), "does not begin with manifest.json"},
		{"a format bundles do not carry", makeBundle(t, manifest("swift", a), blob(a)), "bundles carry"},
		{"not zstd", []byte("plain text"), "magic number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			o, err := Open(bytes.NewReader(tt.bundle), dir)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range o.Manifest.Repositories {
					for _, as := range r.Packages[0].Versions[0].Assets {
						f, err := o.Blob(as.SHA256)
						if err != nil {
							t.Fatal(err)
						}
						got, err := io.ReadAll(f)
						f.Close()
						if err != nil || sum(got) != as.SHA256 {
							t.Errorf("blob %s: %v", as.SHA256, err)
						}
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want %q", err, tt.wantErr)
			}
			if strings.Contains(tt.wantErr, "blobs/") && !errors.Is(err, ErrTampered) {
				t.Errorf("%v is not ErrTampered", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "..", "etc", "passwd")); err == nil {
				t.Errorf("an entry was written outside the spool directory")
			}
		})
	}
}
