package proxytest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// Toy is the smallest format that uses the whole seam. It stands in for a
// format bound to the public:crates-io connection (the catalog binds every
// connection to a real format), with a made-up wire protocol:
//
//	GET /{pkg}                  {"versions": [...listed...], "tags": {...}}
//	GET /{pkg}/{version}/{file} the file
//
// Its upstream serves {pkg}.json: {"versions": {"1.0.0": {"file", "url", "sha256"}}, "tags": {}}.
type Toy struct{}

// Name implements formats.Format.
func (Toy) Name() string { return "cargo" }

// Mount implements formats.Format.
func (Toy) Mount(g *echo.Group, r formats.Resolver) {
	g.GET("/:pkg", func(c echo.Context) error {
		ref := formats.RepoFrom(c)
		p := formats.Package{Format: "cargo", Name: c.Param("pkg")}
		doc, err := r.Render(c.Request().Context(), ref, p, "json", func(v *formats.View) (*formats.Rendered, error) {
			out := struct {
				Versions []string          `json:"versions"`
				Tags     map[string]string `json:"tags"`
			}{Versions: []string{}, Tags: v.Tags}
			for ver, vv := range v.Versions {
				if vv.Status.Listed() {
					out.Versions = append(out.Versions, ver)
				}
			}
			sort.Strings(out.Versions)
			b, err := json.Marshal(out)
			return &formats.Rendered{Body: b, ContentType: "application/json"}, err
		})
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, doc.ContentType, doc.Body)
	})
	file := func(c echo.Context) error {
		p := formats.Package{Format: "cargo", Name: c.Param("pkg")}
		return r.ServeAsset(c.Response(), c.Request(), formats.RepoFrom(c), p, c.Param("version"), c.Param("file"))
	}
	g.GET("/:pkg/:version/:file", file)
	g.HEAD("/:pkg/:version/:file", file)
}

// FetchMetadata implements formats.Format.
func (Toy) FetchMetadata(ctx context.Context, g formats.Getter, p formats.Package) (*formats.Metadata, error) {
	doc, err := g.Get(ctx, p.Name+".json", "application/json")
	if err != nil {
		return nil, err
	}
	var in struct {
		Versions map[string]struct{ File, URL, SHA256 string }
		Tags     map[string]string
	}
	if err := json.Unmarshal(doc.Body, &in); err != nil {
		return nil, fmt.Errorf("toy: %w", err)
	}
	md := &formats.Metadata{Versions: map[string]*formats.Version{}, Tags: in.Tags}
	for ver, f := range in.Versions {
		md.Versions[ver] = &formats.Version{Version: ver, Status: formats.StatusPublished,
			Assets: []formats.AssetRef{{Name: f.File, URL: f.URL, Digests: formats.Digests{SHA256: f.SHA256}}}}
	}
	return md, nil
}

// ToyUpstream is a fake upstream for Toy.
type ToyUpstream struct {
	Fake *upstreamtest.Server
}

// NewToyUpstream starts one.
func NewToyUpstream(t testing.TB) *ToyUpstream { return &ToyUpstream{Fake: upstreamtest.New(t)} }

// Publish makes the upstream offer pkg at exactly these versions, the last
// one tagged latest; file contents are "the bytes of {pkg}-{version}.txt\n".
func (u *ToyUpstream) Publish(t testing.TB, pkg string, versions ...string) {
	t.Helper()
	bodies := make([][]byte, len(versions))
	for i, v := range versions {
		bodies[i] = []byte("the bytes of " + pkg + "-" + v + ".txt\n")
	}
	u.publish(pkg, versions, bodies)
}

// PublishBody makes the upstream offer pkg at one version whose file,
// {pkg}-{version}.txt, holds body.
func (u *ToyUpstream) PublishBody(t testing.TB, pkg, version string, body []byte) {
	t.Helper()
	u.publish(pkg, []string{version}, [][]byte{body})
}

func (u *ToyUpstream) publish(pkg string, versions []string, bodies [][]byte) {
	type entry struct{ File, URL, SHA256 string }
	doc := struct {
		Versions map[string]entry  `json:"versions"`
		Tags     map[string]string `json:"tags"`
	}{Versions: map[string]entry{}, Tags: map[string]string{"latest": versions[len(versions)-1]}}
	for i, v := range versions {
		file := pkg + "-" + v + ".txt"
		body := bodies[i]
		sum := sha256.Sum256(body)
		path := "/files/" + file
		u.Fake.Handle(path, upstreamtest.Response{Body: body, ContentType: "text/plain"})
		doc.Versions[v] = entry{File: file, URL: u.Fake.URL + path, SHA256: hex.EncodeToString(sum[:])}
	}
	b, _ := json.Marshal(doc)
	u.Fake.Handle("/"+pkg+".json", upstreamtest.Response{Body: b, ContentType: "application/json"})
}
