// Package pypi serves the Python package index protocols (pip, uv, poetry,
// twine) on top of Stockpile's engine: the simple repository API as PEP 503
// HTML and PEP 691 JSON (with PEP 592 yanking, PEP 658/714 core metadata and
// PEP 700 fields), file downloads, the legacy upload API twine uses, and the
// PyPI JSON API. It reads upstream simple indexes through formats.Getter and
// never imports the engine.
//
// Routes, under /{domain}/pypi/{repository}:
//
//	GET  /simple/                                   project list
//	GET  /simple/{project}/                         project page (HTML or JSON by Accept)
//	GET  /simple/{project}/{version}/{file}         a wheel or sdist
//	GET  /simple/{project}/{version}/{file}.metadata  its core metadata
//	POST /                                          upload (twine)
//	GET  /pypi/{project}/json, /pypi/{project}/{version}/json
//
// Protocol: the simple repository API (PEP 503, PEP 691 JSON, PEP 592 yanking,
// PEP 658/714 core metadata, PEP 700 upload times) and the legacy upload API
// twine uses.
package pypi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Default limits.
const (
	// DefaultMaxUploadSize bounds the multipart body of an upload.
	DefaultMaxUploadSize = 2<<30 + 16<<20
	// DefaultMaxMetadataSize bounds a wheel's METADATA file.
	DefaultMaxMetadataSize = 16 << 20
	// maxFormFields bounds the metadata fields of an upload, together.
	maxFormFields = 16 << 20
)

// Options tune the PyPI format. Zero fields take the defaults.
type Options struct {
	// MaxUploadSize bounds the body of an upload; larger ones get 413.
	MaxUploadSize int64
	// MaxMetadataSize bounds the core metadata read from a wheel.
	MaxMetadataSize int64
}

func (o Options) withDefaults() Options {
	o.MaxUploadSize = formats.OrDefault(o.MaxUploadSize, DefaultMaxUploadSize)
	o.MaxMetadataSize = formats.OrDefault(o.MaxMetadataSize, DefaultMaxMetadataSize)
	return o
}

// Format is the PyPI format. It implements formats.Format,
// formats.ErrorRenderer and formats.Normalizer.
type Format struct {
	opts Options
}

var (
	_ formats.Format        = (*Format)(nil)
	_ formats.ErrorRenderer = (*Format)(nil)
	_ formats.Normalizer    = (*Format)(nil)
)

// New returns the PyPI format with the default limits.
func New() *Format { return NewWithOptions(Options{}) }

// NewWithOptions returns the PyPI format with the given limits.
func NewWithOptions(o Options) *Format { return &Format{opts: o.withDefaults()} }

// Name implements formats.Format.
func (f *Format) Name() string { return "pypi" }

// CompareVersions implements formats.VersionOrderer: PEP 440's order.
func (f *Format) CompareVersions(a, b string) int { return compareVersions(a, b) }

// Normalize implements formats.Normalizer: PEP 503 names.
func (f *Format) Normalize(p formats.Package) formats.Package {
	p.Namespace = ""
	p.Name = normalizeName(p.Name)
	return p
}

// Mount implements formats.Format.
func (f *Format) Mount(g *echo.Group, r formats.Resolver) {
	h := &handler{f: f, res: r}
	read := []string{http.MethodGet, http.MethodHead}
	g.Match(read, "/simple", h.rootRedirect)
	g.Match(read, "/simple/", h.root)
	g.Match(read, "/simple/:project", h.projectRedirect)
	g.Match(read, "/simple/:project/", h.project)
	g.Match(read, "/simple/:project/:version/:file", h.file)
	g.Match(read, "/pypi/:project/json", h.jsonProject)
	g.Match(read, "/pypi/:project/:version/json", h.jsonVersion)
	// twine posts to the URL it is given, with or without the slash, and
	// treats any redirect as an error: both answer directly.
	g.POST("", h.upload)
	g.POST("/", h.upload)
}

// RenderError implements formats.ErrorRenderer: pip and twine show plain
// text; HEAD answers carry no body.
func (f *Format) RenderError(c echo.Context, status int, message string) error {
	return c.Blob(status, "text/plain; charset=utf-8", []byte(message+"\n"))
}
