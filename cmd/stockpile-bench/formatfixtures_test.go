package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/formats/cargo"
	"github.com/stockpile-proxy/stockpile/formats/maven"
	"github.com/stockpile-proxy/stockpile/formats/nuget"
	"github.com/stockpile-proxy/stockpile/formats/pypi"
	"github.com/stockpile-proxy/stockpile/formats/rubygems"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// fixtureGetter serves a FormatFixture's files as nginx would (a directory
// answers with its index.json), to the formats' own FetchMetadata: the
// fixtures must be what Stockpile reads from a real registry.
type fixtureGetter struct {
	base, conn string // nginx's base and the connection URL
	spec       formatFixtureSpec
	files      map[string][]byte
}

// file returns the file an absolute URL on nginx names.
func (g fixtureGetter) file(ref string) (string, []byte, error) {
	cu, err := url.Parse(g.conn)
	if err != nil {
		return "", nil, err
	}
	u, err := cu.Parse(ref)
	if err != nil {
		return "", nil, err
	}
	p, ok := strings.CutPrefix(u.String(), g.base+"/")
	if !ok {
		return "", nil, fmt.Errorf("%s is not on nginx (%s): %w", u, g.base, upstream.ErrNotFound)
	}
	if p == "" || strings.HasSuffix(p, "/") {
		p += "index.json"
	}
	body, ok := g.files[p]
	if !ok {
		return "", nil, fmt.Errorf("no file %s: %w", p, upstream.ErrNotFound)
	}
	return u.String(), body, nil
}

func (g fixtureGetter) Get(ctx context.Context, ref, accept string) (*formats.Document, error) {
	u, body, err := g.file(ref)
	if err != nil {
		return nil, err
	}
	ct := "application/octet-stream"
	if t := g.spec.types[strings.TrimPrefix(path.Ext(u), ".")]; t != "" {
		ct = t
	} else if strings.HasSuffix(u, ".json") || strings.HasSuffix(u, "/") {
		ct = "application/json"
	}
	return &formats.Document{URL: u, Body: body, ContentType: ct}, nil
}

func (g fixtureGetter) Do(ctx context.Context, method, ref string, header http.Header, body io.Reader) (*http.Response, error) {
	_, b, err := g.file(ref)
	status := http.StatusOK
	if err != nil {
		status, b = http.StatusNotFound, nil
	}
	return &http.Response{StatusCode: status, Body: io.NopCloser(bytes.NewReader(b)), Header: http.Header{}}, nil
}

// artifactFormat is what the test needs of each format package.
var formatUnderTest = map[string]struct {
	f   formats.Format
	pkg func(*FormatFixture) formats.Package
}{
	"pypi": {pypi.New(), func(f *FormatFixture) formats.Package {
		return formats.Package{Format: "pypi", Name: f.Info["project"].(string)}
	}},
	"maven": {maven.New(), func(f *FormatFixture) formats.Package {
		return formats.Package{Format: "maven", Namespace: f.Info["group"].(string), Name: f.Info["artifact"].(string)}
	}},
	"cargo": {cargo.New(), func(f *FormatFixture) formats.Package {
		return formats.Package{Format: "cargo", Name: f.Info["crate"].(string)}
	}},
	"nuget": {nuget.New(), func(f *FormatFixture) formats.Package {
		return formats.Package{Format: "nuget", Name: strings.ToLower(f.Info["id"].(string))}
	}},
	"ruby": {rubygems.New(), func(f *FormatFixture) formats.Package {
		return formats.Package{Format: "ruby", Name: f.Info["gem"].(string)}
	}},
}

// TestFormatFixtures generates every warm-* fixture and reads it with the
// format's own FetchMetadata (and LocateAsset for Maven): the newest
// version is there, its artifact is at the fixture's nginx path, and the
// digest the metadata declares is the artifact's.
func TestFormatFixtures(t *testing.T) {
	const base = "http://127.0.0.1:18081"
	for _, spec := range []formatFixtureSpec{pypiFixtureSpec, mavenFixtureSpec, cargoFixtureSpec, nugetFixtureSpec, rubyFixtureSpec} {
		t.Run(spec.scenario, func(t *testing.T) {
			f, err := spec.generate(base)
			if err != nil {
				t.Fatal(err)
			}
			again, err := spec.generate(base)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f.Artifact.Body, again.Artifact.Body) || !bytes.Equal(f.Metadata.Body, again.Metadata.Body) {
				t.Error("the fixture is not reproducible")
			}
			for _, d := range []FixtureDoc{f.Metadata, f.Artifact} {
				if got := f.Files[strings.TrimPrefix(d.NginxPath, "/")]; got == nil && !strings.HasSuffix(d.NginxPath, "/") {
					t.Errorf("%s: no file at %s", d.Pair, d.NginxPath)
				} else if got != nil && !bytes.Equal(got, d.Body) {
					t.Errorf("%s: the file at %s is not the document", d.Pair, d.NginxPath)
				}
				if d.Pair == "" || !strings.HasPrefix(d.StockpilePath, "/") {
					t.Errorf("%+v: no pair name or a relative Stockpile path", d.Pair)
				}
			}
			if n := len(f.Artifact.Body); n < formatArtifactSize || n > formatArtifactSize+64<<10 {
				t.Errorf("artifact of %d bytes, want about %d", n, formatArtifactSize)
			}
			if n := len(f.Metadata.Body); n < 1<<10 || n > 1<<20 {
				t.Errorf("metadata of %d bytes", n)
			}
			if !bytes.Contains(f.Metadata.Body, []byte(f.Metadata.Contains)) {
				t.Errorf("metadata lacks %q", f.Metadata.Contains)
			}

			ft := formatUnderTest[spec.format]
			g := fixtureGetter{base: base, conn: base + spec.connPath, spec: spec, files: f.Files}
			p := ft.pkg(f)
			md, err := ft.f.FetchMetadata(context.Background(), g, p)
			if err != nil {
				t.Fatalf("FetchMetadata: %v", err)
			}
			newest := f.Info["version"].(string)
			if len(md.Versions) != formatVersions {
				t.Errorf("%d versions, want %d", len(md.Versions), formatVersions)
			}
			v := md.Versions[newest]
			if v == nil {
				t.Fatalf("version %s is missing", newest)
			}
			name := path.Base(f.Artifact.NginxPath)
			a := v.Asset(name)
			if spec.format == "maven" {
				loc, ok := ft.f.(formats.AssetLocator)
				if !ok {
					t.Fatal("maven is no AssetLocator")
				}
				a, err = loc.LocateAsset(context.Background(), g, p, newest, name)
				if err != nil {
					t.Fatalf("LocateAsset: %v", err)
				}
			}
			if a == nil {
				t.Fatalf("version %s has no asset %s: %+v", newest, name, v.Assets)
			}
			u, _, err := g.file(a.URL)
			if err != nil || u != base+f.Artifact.NginxPath {
				t.Errorf("asset URL %s resolves to %s (%v), want %s", a.URL, u, err, base+f.Artifact.NginxPath)
			}
			body := f.Artifact.Body
			want := map[string]string{"sha256": fxSHA256(body), "sha1": fxSHA1(body), "sha512": hex.EncodeToString(fxSHA512(body))}
			checked := 0
			for algo, got := range map[string]string{"sha256": a.Digests.SHA256, "sha1": a.Digests.SHA1, "sha512": a.Digests.SHA512} {
				if got == "" {
					continue
				}
				checked++
				if got != want[algo] {
					t.Errorf("declared %s %s, the artifact's is %s", algo, got, want[algo])
				}
			}
			if checked == 0 {
				t.Errorf("the metadata declares no digest of the artifact: %+v", a.Digests)
			}

			cfg := NginxConfig{Prefix: "/tmp/b/nginx", Root: "/tmp/b/www", Listen: "127.0.0.1:18081", Types: spec.types, Locations: spec.locations}
			conf, err := cfg.Render()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(conf, packumentDir) || !strings.Contains(conf, spec.locations) {
				t.Errorf("nginx config keeps the npm layout or lacks the format's:\n%s", conf)
			}
		})
	}
}

// The artifacts are real archives of their kind.
func TestFormatFixtureArchives(t *testing.T) {
	const base = "http://127.0.0.1:18081"
	members := func(t *testing.T, body []byte, kind string) []string {
		t.Helper()
		var names []string
		switch kind {
		case "zip":
			zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range zr.File {
				names = append(names, f.Name)
			}
		case "tgz", "tar":
			var r io.Reader = bytes.NewReader(body)
			if kind == "tgz" {
				zr, err := gzip.NewReader(r)
				if err != nil {
					t.Fatal(err)
				}
				r = zr
			}
			tr := tar.NewReader(r)
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, h.Name)
			}
		}
		return names
	}
	for _, c := range []struct {
		spec formatFixtureSpec
		kind string
		want string
	}{
		{pypiFixtureSpec, "zip", ".dist-info/METADATA"},
		{mavenFixtureSpec, "zip", "META-INF/MANIFEST.MF"},
		{cargoFixtureSpec, "tgz", "/Cargo.toml"},
		{nugetFixtureSpec, "zip", ".nuspec"},
		{rubyFixtureSpec, "tar", "metadata.gz"},
	} {
		t.Run(c.spec.scenario, func(t *testing.T) {
			f, err := c.spec.generate(base)
			if err != nil {
				t.Fatal(err)
			}
			names := members(t, f.Artifact.Body, c.kind)
			found := false
			for _, n := range names {
				found = found || strings.HasSuffix(n, c.want)
			}
			if !found {
				t.Errorf("members %v: none ends with %s", names, c.want)
			}
		})
	}
}
