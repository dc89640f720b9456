package formattest

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/stockpile-proxy/stockpile/upstream/upstreamtest"
)

// Registry is a package of one format laid out as its public registry
// serves it, many versions listed and the newest one's artifact real:
// cmd/stockpile-bench's nginx serves Files from disk, a format test's fake
// upstream serves them with ServeOn.
type Registry struct {
	Files map[string][]byte // slash-separated paths below the registry's root
	// Types are the content types by file extension; a file without one
	// is Types[""], else text/plain, as registries serve index and info
	// files.
	Types map[string]string
	// Metadata and Artifact are the two documents a warm client reads.
	Metadata, Artifact Doc
	// Info describes the package (name, versions, sizes) for a report.
	Info map[string]any
}

// Doc is a document of a Registry: where the registry serves it and
// where Stockpile's repository endpoint does.
type Doc struct {
	Pair      string // what it is: "simple page", "wheel"
	Path      string // on the registry: "/simple/stockpile-bench-pypi/"
	ProxyPath string // below a Stockpile repository endpoint
	Accept    string
	Body      []byte
	// Contains, for a metadata document (which Stockpile renders anew),
	// is a string Stockpile's answer must contain; an artifact's answer
	// must be Body exactly.
	Contains string
}

// ServeOn serves r's files on a fake upstream: a path ending in / answers
// with its index.json, as a static file server does.
func (r *Registry) ServeOn(s *upstreamtest.Server) {
	for p, body := range r.Files {
		typ := r.Types[strings.TrimPrefix(path.Ext(p), ".")]
		if typ == "" && path.Ext(p) == "" {
			typ = "text/plain; charset=utf-8"
		}
		res := upstreamtest.Response{Body: body, ContentType: typ}
		s.Handle("/"+p, res)
		if dir, ok := strings.CutSuffix(p, "/index.json"); ok {
			s.Handle("/"+dir+"/", res)
		}
	}
}

// Sizes of a Registry: metadata as a mid-sized package has it, an artifact
// of a few hundred KB.
const (
	VersionCount = 48
	ArtifactSize = 256 << 10
)

// releases returns VersionCount versions in ascending order, as a
// package's history looks: 0.0.0 … 0.4.3, then 1.x.y and 2.x.y.
func releases() []string {
	out := make([]string, 0, VersionCount)
	for i := range VersionCount {
		out = append(out, fmt.Sprintf("%d.%d.%d", i/20, (i/4)%5, i%4))
	}
	return out
}

// publishedAt is the publication time of the i-th version.
func publishedAt(i int) time.Time {
	return time.Date(2021, 1, 4, 9, 30, 0, 0, time.UTC).Add(time.Duration(i) * 9 * 24 * time.Hour)
}

// placeholder is a well-formed digest for a listed version whose file the
// registry does not have.
func placeholder(what string) string { return SHA256([]byte(what)) }
