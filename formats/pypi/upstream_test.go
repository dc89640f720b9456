package pypi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stockpile-proxy/stockpile/formats"
	"github.com/stockpile-proxy/stockpile/upstream"
)

// docGetter serves fixed documents, as the engine's Getter would.
type docGetter struct {
	base string
	docs map[string]*formats.Document // by ref
	asks []string
}

func (g *docGetter) Get(_ context.Context, ref, accept string) (*formats.Document, error) {
	g.asks = append(g.asks, ref+" | "+accept)
	d, ok := g.docs[ref]
	if !ok {
		return nil, fmt.Errorf("%s: %w", ref, upstream.ErrNotFound)
	}
	if d.URL == "" {
		d.URL = g.base + ref
	}
	return d, nil
}

func (g *docGetter) Do(context.Context, string, string, http.Header, io.Reader) (*http.Response, error) {
	return nil, errors.New("not used")
}

// The reference's PyPI page (protocols-npm-pypi-cargo.md §2.7).
const refJSONPage = `{
  "meta": { "api-version": "1.1", "_last-serial": 123456 },
  "name": "demo-pkg",
  "versions": [ "1.0.0", "1.1.0", "1.2.0" ],
  "files": [
    {
      "filename": "demo_pkg-1.0.0-py3-none-any.whl",
      "url": "https://files.example/packages/61/ce/1253/demo_pkg-1.0.0-py3-none-any.whl",
      "hashes": { "sha256": "4888447CB84E57B84297BE5064C243C0A1B31C75B2D9580939617F3B9848EBDE" },
      "requires-python": ">=3.8",
      "core-metadata": { "sha256": "4dcf7ed733c26171056c8693bb96662d652ff0b1be08eced5eab5dba0ee59913" },
      "dist-info-metadata": { "sha256": "4dcf7ed733c26171056c8693bb96662d652ff0b1be08eced5eab5dba0ee59913" },
      "size": 45,
      "upload-time": "2024-01-01T00:00:00.000000Z",
      "yanked": false
    },
    {
      "filename": "demo_pkg-1.0.0.tar.gz",
      "url": "https://files.example/packages/0a/c8/17b5/demo_pkg-1.0.0.tar.gz",
      "hashes": { "sha256": "1487962d0b3fa2ee13c5079651a51e8c740e30ad9aa52c29577c8896ced258d4" },
      "requires-python": ">=3.8",
      "size": 35,
      "upload-time": "2024-01-01T00:00:05.000000Z",
      "yanked": false
    },
    {
      "filename": "demo_pkg-1.1.0-py3-none-any.whl",
      "url": "https://files.example/packages/04/f8/06a1/demo_pkg-1.1.0-py3-none-any.whl",
      "hashes": { "sha256": "e2376d2e7cc13c2b41e6a2eae9d5d39e6e2af97380bbedd287a3ceca9a68358d" },
      "requires-python": ">=3.9",
      "dist-info-metadata": true,
      "size": 45,
      "upload-time": "2024-02-01T00:00:00Z",
      "yanked": "broken build"
    },
    {
      "filename": "other_pkg-1.0.0-py3-none-any.whl",
      "url": "https://files.example/other_pkg-1.0.0-py3-none-any.whl",
      "hashes": {}
    },
    {
      "filename": "demo_pkg-setup.exe",
      "url": "https://files.example/demo_pkg-setup.exe",
      "hashes": {}
    }
  ]
}`

// The same page as PEP 503 HTML, with relative links and a <base>.
const refHTMLPage = `<!DOCTYPE html>
<html><head><meta name="pypi:repository-version" content="1.0"><base href="https://files.example/packages/"></head>
<body>
<a href="61/ce/1253/demo_pkg-1.0.0-py3-none-any.whl#sha256=4888447cb84e57b84297be5064c243c0a1b31c75b2d9580939617f3b9848ebde" data-requires-python="&gt;=3.8" data-dist-info-metadata="sha256=4dcf7ed733c26171056c8693bb96662d652ff0b1be08eced5eab5dba0ee59913">demo_pkg-1.0.0-py3-none-any.whl</a><br/>
<a href="0a/c8/17b5/demo_pkg-1.0.0.tar.gz#sha256=1487962d0b3fa2ee13c5079651a51e8c740e30ad9aa52c29577c8896ced258d4" data-requires-python="&gt;=3.8">demo_pkg-1.0.0.tar.gz</a>
<A HREF="04/f8/06a1/demo_pkg-1.1.0-py3-none-any.whl#sha256=e2376d2e7cc13c2b41e6a2eae9d5d39e6e2af97380bbedd287a3ceca9a68358d" data-requires-python="&gt;=3.9" data-core-metadata="true" data-yanked="broken build">demo_pkg-1.1.0-py3-none-any.whl</A>
<a href="mailto:someone@example.com">mail</a>
<a name="anchor-without-href">x</a>
</body></html>`

func TestFetchMetadata(t *testing.T) {
	wheel100 := formats.AssetRef{Name: "demo_pkg-1.0.0-py3-none-any.whl", URL: "https://files.example/packages/61/ce/1253/demo_pkg-1.0.0-py3-none-any.whl",
		Digests: formats.Digests{SHA256: "4888447cb84e57b84297be5064c243c0a1b31c75b2d9580939617f3b9848ebde"}}
	sdist100 := formats.AssetRef{Name: "demo_pkg-1.0.0.tar.gz", URL: "https://files.example/packages/0a/c8/17b5/demo_pkg-1.0.0.tar.gz",
		Digests: formats.Digests{SHA256: "1487962d0b3fa2ee13c5079651a51e8c740e30ad9aa52c29577c8896ced258d4"}}
	wheel110 := formats.AssetRef{Name: "demo_pkg-1.1.0-py3-none-any.whl", URL: "https://files.example/packages/04/f8/06a1/demo_pkg-1.1.0-py3-none-any.whl",
		Digests: formats.Digests{SHA256: "e2376d2e7cc13c2b41e6a2eae9d5d39e6e2af97380bbedd287a3ceca9a68358d"}}
	cm := "4dcf7ed733c26171056c8693bb96662d652ff0b1be08eced5eab5dba0ee59913"

	tests := []struct {
		name      string
		doc       *formats.Document
		sized     bool // the page declares sizes and times (JSON)
		wantFiles map[string]map[string]fileMeta
		wantVers  []string
	}{
		{name: "json", doc: &formats.Document{Body: []byte(refJSONPage), ContentType: "application/vnd.pypi.simple.v1+json"}, sized: true,
			wantFiles: map[string]map[string]fileMeta{
				"1.0.0": {
					wheel100.Name: {RequiresPython: ">=3.8", CoreMetadata: cm, CoreMetadataUpstream: true, UploadTime: "2024-01-01T00:00:00.000000Z", Kind: kindWheel, PyVersion: "py3"},
					sdist100.Name: {RequiresPython: ">=3.8", UploadTime: "2024-01-01T00:00:05.000000Z", Kind: kindSdist, PyVersion: "source"},
				},
				"1.1.0": {wheel110.Name: {RequiresPython: ">=3.9", CoreMetadataUpstream: true, Yanked: true, YankedReason: "broken build", UploadTime: "2024-02-01T00:00:00.000000Z", Kind: kindWheel, PyVersion: "py3"}},
			},
			wantVers: []string{"1.0.0", "1.1.0", "1.2.0"}},
		{name: "html", doc: &formats.Document{Body: []byte(refHTMLPage), ContentType: "text/html; charset=utf-8"},
			wantFiles: map[string]map[string]fileMeta{
				"1.0.0": {
					wheel100.Name: {RequiresPython: ">=3.8", CoreMetadata: cm, CoreMetadataUpstream: true, Kind: kindWheel, PyVersion: "py3"},
					sdist100.Name: {RequiresPython: ">=3.8", Kind: kindSdist, PyVersion: "source"},
				},
				"1.1.0": {wheel110.Name: {RequiresPython: ">=3.9", CoreMetadataUpstream: true, Yanked: true, YankedReason: "broken build", Kind: kindWheel, PyVersion: "py3"}},
			},
			wantVers: []string{"1.0.0", "1.1.0"}},
		{name: "json without content type", doc: &formats.Document{Body: []byte(refJSONPage)}, sized: true,
			wantVers: []string{"1.0.0", "1.1.0", "1.2.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &docGetter{base: "https://index.example/simple/", docs: map[string]*formats.Document{"demo-pkg/": tt.doc}}
			md, err := New().FetchMetadata(t.Context(), g, formats.Package{Format: "pypi", Name: "demo-pkg"})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"demo-pkg/ | " + upstreamAccept}, g.asks); diff != "" {
				t.Fatalf("requests (-want +got):\n%s", diff)
			}
			var vers []string
			for v := range md.Versions {
				vers = append(vers, v)
			}
			sortVersions(vers)
			if diff := cmp.Diff(tt.wantVers, vers); diff != "" {
				t.Fatalf("versions (-want +got):\n%s", diff)
			}
			size := func(n int64) int64 {
				if tt.sized {
					return n
				}
				return 0
			}
			a100, s100, a110 := wheel100, sdist100, wheel110
			a100.Size, s100.Size, a110.Size = size(45), size(35), size(45)
			if diff := cmp.Diff([]formats.AssetRef{a100, s100}, md.Versions["1.0.0"].Assets); diff != "" {
				t.Fatalf("1.0.0 assets (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]formats.AssetRef{a110}, md.Versions["1.1.0"].Assets); diff != "" {
				t.Fatalf("1.1.0 assets (-want +got):\n%s", diff)
			}
			if tt.sized && !md.Versions["1.0.0"].Published.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("published = %v", md.Versions["1.0.0"].Published)
			}
			for ver, want := range tt.wantFiles {
				got := map[string]fileMeta{}
				for name, fm := range decodeMeta(md.Versions[ver].Meta).Files {
					got[name] = *fm
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("%s meta (-want +got):\n%s", ver, diff)
				}
			}
			if v := md.Versions["1.0.0"]; v.Status != formats.StatusPublished {
				t.Fatalf("status %q", v.Status)
			}
		})
	}
}

func TestFetchMetadataErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  *formats.Document
		want error
	}{
		{"absent", nil, upstream.ErrNotFound},
		{"bad json", &formats.Document{Body: []byte(`{"files": 3}`), ContentType: "application/vnd.pypi.simple.v1+json"}, upstream.ErrUnavailable},
		{"future api", &formats.Document{Body: []byte(`{"meta":{"api-version":"2.0"},"files":[]}`), ContentType: "application/vnd.pypi.simple.v1+json"}, upstream.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &docGetter{base: "https://index.example/simple/", docs: map[string]*formats.Document{}}
			if tt.doc != nil {
				g.docs["demo-pkg/"] = tt.doc
			}
			_, err := New().FetchMetadata(t.Context(), g, formats.Package{Format: "pypi", Name: "demo-pkg"})
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestMetaRoundTrip(t *testing.T) {
	m := &versionMeta{Files: map[string]*fileMeta{"a.whl": {Yanked: true}}}
	got := decodeMeta(m.encode())
	if !got.file("a.whl").Yanked || got.file("missing").Yanked {
		t.Fatalf("decoded %+v", got)
	}
	if len(decodeMeta(json.RawMessage(`"not an object"`)).Files) != 0 {
		t.Fatal("unreadable meta should be empty")
	}
}
