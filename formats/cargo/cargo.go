// Package cargo serves Rust crates to cargo on top of Stockpile's engine: a
// sparse index (config.json and index files, merged across the repositories
// a repository reaches), .crate downloads, and the registry web API
// (publish, yank and unyank, search, owners). Upstreams are sparse indexes
// too (public:crates-io is https://index.crates.io/); Stockpile reads their
// config.json to find where the .crate files are.
//
// Routes, under /{domain}/cargo/{repository}/ (cargo's index URL, with the
// trailing slash, prefixed with "sparse+"):
//
//	GET    config.json                                 dl and api point back here
//	GET    1/{n}, 2/{n}, 3/{c}/{n}, {ab}/{cd}/{n}      index files (lower-cased names)
//	GET    api/v1/crates/{crate}/{version}/download    .crate files
//	PUT    api/v1/crates/new                           cargo publish
//	DELETE api/v1/crates/{crate}/{version}/yank        cargo yank
//	PUT    api/v1/crates/{crate}/{version}/unyank      cargo yank --undo
//	GET    api/v1/crates?q=&per_page=                  cargo search
//	GET    api/v1/crates/{crate}/owners                cargo owner --list
//	PUT    api/v1/crates/{crate}/owners                refused: repository permissions decide
//	DELETE api/v1/crates/{crate}/owners                refused: repository permissions decide
//	GET    me                                          where cargo login sends people
//
// Statuses: Published versions are in the index, Unlisted ones too with
// "yanked": true (existing lockfiles keep working and their .crate files
// stay downloadable); Archived, Disposed and Unfinished ones are left out.
//
// Protocol: Cargo's registry documentation, "Registry index" (sparse protocol)
// and "Registry web API" (publish, yank, owners, search), in The Cargo Book.
package cargo

import (
	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Default limits.
const (
	// DefaultMaxPublishBody bounds the body of a publish (metadata and
	// .crate together).
	DefaultMaxPublishBody = 128 << 20
	// DefaultMaxUnpackedSize bounds the bytes a published .crate unpacks to
	// (crates.io's limit).
	DefaultMaxUnpackedSize = 512 << 20
	// DefaultSearchMax is the largest per_page of a search.
	DefaultSearchMax = 100
)

// Options tune the cargo format. Zero fields take the defaults.
type Options struct {
	MaxPublishBody  int64
	MaxUnpackedSize int64
}

func (o Options) withDefaults() Options {
	o.MaxPublishBody = formats.OrDefault(o.MaxPublishBody, DefaultMaxPublishBody)
	o.MaxUnpackedSize = formats.OrDefault(o.MaxUnpackedSize, DefaultMaxUnpackedSize)
	return o
}

// Format is the cargo format. It implements formats.Format,
// formats.ErrorRenderer and formats.Normalizer.
type Format struct {
	opts Options
}

var (
	_ formats.Format        = (*Format)(nil)
	_ formats.ErrorRenderer = (*Format)(nil)
	_ formats.Normalizer    = (*Format)(nil)
)

// New returns the cargo format with the default limits.
func New() *Format { return NewWithOptions(Options{}) }

// NewWithOptions returns the cargo format with the given limits.
func NewWithOptions(o Options) *Format { return &Format{opts: o.withDefaults()} }

// Name implements formats.Format.
func (f *Format) Name() string { return "cargo" }

// CompareVersions implements formats.VersionOrderer: SemVer 2.0, as Cargo
// orders versions.
func (f *Format) CompareVersions(a, b string) int { return compareVersions(a, b) }

// Mount implements formats.Format. One catch-all route dispatches, so that
// index paths, whose first segment is any two letters, never collide with
// the API.
func (f *Format) Mount(g *echo.Group, r formats.Resolver) {
	formats.MountCatchAll(g, (&handler{f: f, res: r}).serve)
}

// RenderError implements formats.ErrorRenderer with the registry API's error
// shape, {"errors":[{"detail":"..."}]}, which cargo prints; HEAD answers
// carry no body.
func (f *Format) RenderError(c echo.Context, status int, message string) error {
	type detail struct {
		Detail string `json:"detail"`
	}
	return c.JSON(status, map[string][]detail{"errors": {{Detail: message}}})
}
