package formattest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

func TestNPMPackage(t *testing.T) {
	const base = "http://127.0.0.1:12345"
	f, err := GenerateNPM(NPMOptions{Name: "bench-pkg", Upstream: base + "/"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("digests", func(t *testing.T) {
		s512 := sha512.Sum512(f.Tarball)
		s1 := sha1.Sum(f.Tarball)
		if want := "sha512-" + base64.StdEncoding.EncodeToString(s512[:]); f.Integrity != want {
			t.Errorf("Integrity = %s, want %s", f.Integrity, want)
		}
		if want := hex.EncodeToString(s1[:]); f.Shasum != want {
			t.Errorf("Shasum = %s, want %s", f.Shasum, want)
		}
	})

	t.Run("sizes", func(t *testing.T) {
		near := func(what string, got, want int) {
			if d := float64(got-want) / float64(want); d < -0.05 || d > 0.05 {
				t.Errorf("%s is %d bytes, want within 5 %% of %d", what, got, want)
			}
		}
		near("packument", len(f.Packument), 160<<10)
		near("tarball", len(f.Tarball), 300<<10)
		if f.Versions < 50 {
			t.Errorf("%d versions, want many", f.Versions)
		}
	})

	t.Run("packument", func(t *testing.T) {
		var doc struct {
			ID       string            `json:"_id"`
			Name     string            `json:"name"`
			DistTags map[string]string `json:"dist-tags"`
			Readme   string            `json:"readme"`
			Time     map[string]string `json:"time"`
			Versions map[string]struct {
				Name    string            `json:"name"`
				Version string            `json:"version"`
				ID      string            `json:"_id"`
				Deps    map[string]string `json:"dependencies"`
				Dist    struct {
					Tarball   string `json:"tarball"`
					Integrity string `json:"integrity"`
					Shasum    string `json:"shasum"`
				} `json:"dist"`
			} `json:"versions"`
		}
		if err := json.Unmarshal(f.Packument, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Name != "bench-pkg" || doc.ID != "bench-pkg" || doc.DistTags["latest"] != f.Version || doc.Readme == "" {
			t.Errorf("name %q, _id %q, latest %q (want %s), readme %d bytes", doc.Name, doc.ID, doc.DistTags["latest"], f.Version, len(doc.Readme))
		}
		if len(doc.Versions) != f.Versions || len(doc.Time) != f.Versions+2 {
			t.Errorf("%d versions and %d times, want %d and %d", len(doc.Versions), len(doc.Time), f.Versions, f.Versions+2)
		}
		for v, vd := range doc.Versions {
			if vd.Name != "bench-pkg" || vd.Version != v || vd.ID != "bench-pkg@"+v || len(vd.Deps) == 0 {
				t.Errorf("version %s: name %q, version %q, _id %q, %d dependencies", v, vd.Name, vd.Version, vd.ID, len(vd.Deps))
			}
			if want := base + "/bench-pkg/-/bench-pkg-" + v + ".tgz"; vd.Dist.Tarball != want {
				t.Errorf("version %s: dist.tarball %s, want %s", v, vd.Dist.Tarball, want)
			}
			if !strings.HasPrefix(vd.Dist.Integrity, "sha512-") || len(vd.Dist.Shasum) != 40 {
				t.Errorf("version %s: dist %q %q not well formed", v, vd.Dist.Integrity, vd.Dist.Shasum)
			}
		}
		newest := doc.Versions[f.Version]
		if newest.Dist.Integrity != f.Integrity || newest.Dist.Shasum != f.Shasum {
			t.Errorf("newest version's digests %s %s, want the tarball's %s %s", newest.Dist.Integrity, newest.Dist.Shasum, f.Integrity, f.Shasum)
		}
	})

	t.Run("tarball is a real package", func(t *testing.T) {
		zr, err := gzip.NewReader(bytes.NewReader(f.Tarball))
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(zr)
		var names []string
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, h.Name)
			if h.Name == "package/package.json" {
				var pj struct{ Name, Version string }
				raw, _ := io.ReadAll(tr)
				if err := json.Unmarshal(raw, &pj); err != nil || pj.Name != "bench-pkg" || pj.Version != f.Version {
					t.Errorf("package.json %s: %v", raw, err)
				}
			}
		}
		if len(names) != 3 || names[0] != "package/package.json" {
			t.Errorf("files %v, want package/package.json first of 3", names)
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		g, err := GenerateNPM(NPMOptions{Name: "bench-pkg", Upstream: base})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g.Packument, f.Packument) || !bytes.Equal(g.Tarball, f.Tarball) {
			t.Error("two fixtures of the same options differ")
		}
	})

}

func TestNPMPackageSizesAndNames(t *testing.T) {
	f, err := GenerateNPM(NPMOptions{Name: "small", Upstream: "http://127.0.0.1:1", PackumentSize: 20 << 10, TarballSize: 50 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.Packument); n < 18<<10 || n > 22<<10 {
		t.Errorf("packument %d bytes, want about 20 KiB", n)
	}
	if n := len(f.Tarball); n < 47<<10 || n > 53<<10 {
		t.Errorf("tarball %d bytes, want about 50 KiB", n)
	}
	for _, bad := range []string{"", "@scope/x", "Upper", "../x", "a/b"} {
		if _, err := GenerateNPM(NPMOptions{Name: bad, Upstream: "http://127.0.0.1:1"}); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	if _, err := GenerateNPM(NPMOptions{Name: "x", Upstream: "http://192.0.2.1/"}); err != nil {
		t.Errorf("an upstream URL is only written into documents, any host will do: %v", err)
	}
}

// CheckPackument accepts the packument of p and refuses one with other
// digests.
func TestCheckPackument(t *testing.T) {
	f, err := GenerateNPM(NPMOptions{Name: "bench-pkg", Upstream: "http://127.0.0.1:12345/"})
	if err != nil {
		t.Fatal(err)
	}
	if tarball, err := f.CheckPackument(f.Packument); err != nil || tarball != "http://127.0.0.1:12345"+f.TarballPath() {
		t.Errorf("CheckPackument: %s, %v", tarball, err)
	}
	other := *f
	other.Shasum = SHA1([]byte("other"))
	if _, err := other.CheckPackument(f.Packument); err == nil {
		t.Error("CheckPackument accepted a packument with other digests")
	}
	other = *f
	other.Versions++
	if _, err := other.CheckPackument(f.Packument); err == nil {
		t.Error("CheckPackument accepted a packument with fewer versions")
	}
}
