package formattest_test

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
	"github.com/stockpile-proxy/stockpile/formats/formattest"
	"github.com/stockpile-proxy/stockpile/formats/maven"
	"github.com/stockpile-proxy/stockpile/formats/nuget"
	"github.com/stockpile-proxy/stockpile/formats/pypi"
	"github.com/stockpile-proxy/stockpile/formats/rubygems"
	"github.com/stockpile-proxy/stockpile/upstream"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

const registryBase = "http://127.0.0.1:18081"

// registryCase is one registry builder and what reads it: the format, the
// connection URL's path, the package it holds and the artifact's kind.
type registryCase struct {
	name     string
	build    func() *formattest.Registry
	format   formats.Format
	connPath string
	pkg      func(*formattest.Registry) formats.Package
	kind     string // "zip", "tgz" or "tar"
	member   string // a member the artifact must have, by suffix
}

var registryCases = []registryCase{
	{"pypi", func() *formattest.Registry { return formattest.PyPIRegistry(registryBase, "demo-pkg") }, pypi.New(), "/simple/",
		func(r *formattest.Registry) formats.Package {
			return formats.Package{Format: "pypi", Name: r.Info["project"].(string)}
		}, "zip", ".dist-info/METADATA"},
	{"maven", func() *formattest.Registry { return formattest.MavenRegistry("org.acme", "demo-lib") }, maven.New(), "/maven2/",
		func(r *formattest.Registry) formats.Package {
			return formats.Package{Format: "maven", Namespace: r.Info["group"].(string), Name: r.Info["artifact"].(string)}
		}, "zip", "META-INF/MANIFEST.MF"},
	{"cargo", func() *formattest.Registry { return formattest.CargoRegistry(registryBase, "demo-crate") }, cargo.New(), "/index/",
		func(r *formattest.Registry) formats.Package {
			return formats.Package{Format: "cargo", Name: r.Info["crate"].(string)}
		}, "tgz", "/Cargo.toml"},
	{"nuget", func() *formattest.Registry { return formattest.NuGetRegistry(registryBase, "Acme.Demo") }, nuget.New(), "/v3/index.json",
		func(r *formattest.Registry) formats.Package {
			return formats.Package{Format: "nuget", Name: strings.ToLower(r.Info["id"].(string))}
		}, "zip", ".nuspec"},
	{"rubygems", func() *formattest.Registry { return formattest.RubyGemsRegistry("demo_gem") }, rubygems.New(), "/",
		func(r *formattest.Registry) formats.Package {
			return formats.Package{Format: "ruby", Name: r.Info["gem"].(string)}
		}, "tar", "metadata.gz"},
}

// registryGetter serves a Registry's files as a static file server does (a
// directory answers with its index.json) to the formats' own
// FetchMetadata: the layouts must be what Stockpile reads from a real
// registry.
type registryGetter struct {
	conn string // the connection URL
	reg  *formattest.Registry
}

// file returns the file an absolute URL on the registry names.
func (g registryGetter) file(ref string) (string, []byte, error) {
	cu, err := url.Parse(g.conn)
	if err != nil {
		return "", nil, err
	}
	u, err := cu.Parse(ref)
	if err != nil {
		return "", nil, err
	}
	p, ok := strings.CutPrefix(u.String(), registryBase+"/")
	if !ok {
		return "", nil, fmt.Errorf("%s is not on the registry: %w", u, upstream.ErrNotFound)
	}
	if p == "" || strings.HasSuffix(p, "/") {
		p += "index.json"
	}
	body, ok := g.reg.Files[p]
	if !ok {
		return "", nil, fmt.Errorf("no file %s: %w", p, upstream.ErrNotFound)
	}
	return u.String(), body, nil
}

func (g registryGetter) Get(ctx context.Context, ref, accept string) (*formats.Document, error) {
	u, body, err := g.file(ref)
	if err != nil {
		return nil, err
	}
	ct := "text/plain; charset=utf-8"
	if strings.HasSuffix(u, "/") {
		ct = g.reg.Types["json"] // its index.json
	} else if ext := path.Ext(u); ext != "" {
		ct = g.reg.Types[ext[1:]]
	}
	return &formats.Document{URL: u, Body: body, ContentType: ct}, nil
}

func (g registryGetter) Do(ctx context.Context, method, ref string, header http.Header, body io.Reader) (*http.Response, error) {
	_, b, err := g.file(ref)
	status := http.StatusOK
	if err != nil {
		status, b = http.StatusNotFound, nil
	}
	return &http.Response{StatusCode: status, Body: io.NopCloser(bytes.NewReader(b)), Header: http.Header{}}, nil
}

// TestRegistries builds every registry and reads it with the format's own
// FetchMetadata (and LocateAsset for Maven): the newest version is there,
// its artifact is at the registry's path, and the digest the metadata
// declares is the artifact's.
func TestRegistries(t *testing.T) {
	for _, c := range registryCases {
		t.Run(c.name, func(t *testing.T) {
			r, again := c.build(), c.build()
			if !bytes.Equal(r.Artifact.Body, again.Artifact.Body) || !bytes.Equal(r.Metadata.Body, again.Metadata.Body) {
				t.Error("the registry is not reproducible")
			}
			for _, d := range []formattest.Doc{r.Metadata, r.Artifact} {
				if got := r.Files[strings.TrimPrefix(d.Path, "/")]; got == nil && !strings.HasSuffix(d.Path, "/") {
					t.Errorf("%s: no file at %s", d.Pair, d.Path)
				} else if got != nil && !bytes.Equal(got, d.Body) {
					t.Errorf("%s: the file at %s is not the document", d.Pair, d.Path)
				}
				if d.Pair == "" || !strings.HasPrefix(d.ProxyPath, "/") {
					t.Errorf("%+v: no pair name or a relative proxy path", d.Pair)
				}
			}
			if n := len(r.Artifact.Body); n < formattest.ArtifactSize || n > formattest.ArtifactSize+64<<10 {
				t.Errorf("artifact of %d bytes, want about %d", n, formattest.ArtifactSize)
			}
			if n := len(r.Metadata.Body); n < 1<<10 || n > 1<<20 {
				t.Errorf("metadata of %d bytes", n)
			}
			if !bytes.Contains(r.Metadata.Body, []byte(r.Metadata.Contains)) {
				t.Errorf("metadata lacks %q", r.Metadata.Contains)
			}

			g := registryGetter{conn: registryBase + c.connPath, reg: r}
			p := c.pkg(r)
			md, err := c.format.FetchMetadata(context.Background(), g, p)
			if err != nil {
				t.Fatalf("FetchMetadata: %v", err)
			}
			newest := r.Info["version"].(string)
			if len(md.Versions) != formattest.VersionCount {
				t.Errorf("%d versions, want %d", len(md.Versions), formattest.VersionCount)
			}
			v := md.Versions[newest]
			if v == nil {
				t.Fatalf("version %s is missing", newest)
			}
			name := path.Base(r.Artifact.Path)
			a := v.Asset(name)
			if c.name == "maven" {
				loc, ok := c.format.(formats.AssetLocator)
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
			if err != nil || u != registryBase+r.Artifact.Path {
				t.Errorf("asset URL %s resolves to %s (%v), want %s", a.URL, u, err, registryBase+r.Artifact.Path)
			}
			body := r.Artifact.Body
			want := map[string]string{"sha256": formattest.SHA256(body), "sha1": formattest.SHA1(body), "sha512": hex.EncodeToString(formattest.SHA512(body))}
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
		})
	}
}

// The artifacts are real archives of their kind.
func TestRegistryArchives(t *testing.T) {
	for _, c := range registryCases {
		t.Run(c.name, func(t *testing.T) {
			names := members(t, c.build().Artifact.Body, c.kind)
			found := false
			for _, n := range names {
				found = found || strings.HasSuffix(n, c.member)
			}
			if !found {
				t.Errorf("members %v: none ends with %s", names, c.member)
			}
		})
	}
}

// members lists the members of a zip, a tar or a gzipped tar.
func members(t *testing.T, body []byte, kind string) []string {
	t.Helper()
	var names []string
	if kind == "zip" {
		zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		return names
	}
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
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

// TestServeOn: a fake upstream serving a registry answers both documents
// with their bytes and a content type for every file.
func TestServeOn(t *testing.T) {
	for _, c := range registryCases {
		t.Run(c.name, func(t *testing.T) {
			fake := upstreamtest.New(t)
			r := c.build()
			r.ServeOn(fake)
			for p := range r.Files {
				if ext := path.Ext(p); ext != "" && r.Types[ext[1:]] == "" {
					t.Errorf("%s: no content type for %s", p, ext)
				}
			}
			for _, d := range []formattest.Doc{r.Metadata, r.Artifact} {
				res, err := http.Get(fake.URL + d.Path)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != http.StatusOK || !bytes.Equal(got, d.Body) || res.Header.Get("Content-Type") == "" {
					t.Errorf("%s: %d, %d bytes, type %q (%v); want %d bytes", d.Path, res.StatusCode, len(got), res.Header.Get("Content-Type"), err, len(d.Body))
				}
			}
		})
	}
}
