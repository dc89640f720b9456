// Package rubygems serves the RubyGems source protocol (gem, Bundler) on top
// of Stockpile's engine, at /{domain}/ruby/{repository}/: the compact index
// (/versions, /info/{gem}, /names) merged across the repository's upstream
// graph with its own ETag, Repr-Digest and byte ranges; .gem files verified
// against the index's SHA-256; quick Marshal gemspecs; the legacy
// specs.4.8.gz indexes, generated in Ruby's Marshal format; gem push and
// gem yank. It reads upstream sources through their compact index with
// formats.Getter and never imports the engine.
//
// A version of the model is one line of the compact index: "1.0.0" for the
// ruby platform, "1.0.0-x86_64-linux" for a platform gem (see names.go).
//
// Protocol: the compact index (https://guides.rubygems.org/rubygems-org-compact-index-api/)
// and the gem push API (https://guides.rubygems.org/rubygems-org-api/).
package rubygems

import (
	"io"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Default limits.
const (
	// DefaultMaxMetadataSize bounds the uncompressed gemspec of a .gem.
	DefaultMaxMetadataSize = 8 << 20
	// DefaultIndexConcurrency bounds the info files rendered at once while
	// a repository's /versions is built.
	DefaultIndexConcurrency = 8
)

// Options tune the RubyGems format. Zero fields take the defaults.
type Options struct {
	// MaxGemSize, when set, bounds the body of gem push below what the
	// server's intake limits allow (larger bodies get 413) and the .gem
	// read to describe a version.
	MaxGemSize int64
	// MaxMetadataSize bounds the uncompressed metadata.gz of a gem.
	MaxMetadataSize int64
	// IndexConcurrency bounds concurrent info renders for /versions.
	IndexConcurrency int
}

func (o Options) withDefaults() Options {
	o.MaxMetadataSize = formats.OrDefault(o.MaxMetadataSize, DefaultMaxMetadataSize)
	o.IndexConcurrency = formats.OrDefault(o.IndexConcurrency, DefaultIndexConcurrency)
	return o
}

// Format is the RubyGems format. It implements formats.Format,
// formats.ErrorRenderer and formats.Describer.
type Format struct {
	opts Options
}

var (
	_ formats.Format        = (*Format)(nil)
	_ formats.ErrorRenderer = (*Format)(nil)
	_ formats.Describer     = (*Format)(nil)
)

// New returns the RubyGems format with the default limits.
func New() *Format { return NewWithOptions(Options{}) }

// NewWithOptions returns the RubyGems format with the given limits.
func NewWithOptions(o Options) *Format {
	o = o.withDefaults()
	return &Format{opts: o}
}

// Name implements formats.Format.
func (f *Format) Name() string { return "ruby" }

// CompareVersions implements formats.VersionOrderer: Gem::Version's order.
func (f *Format) CompareVersions(a, b string) int { return compareVersions(a, b) }

// Mount implements formats.Format. One catch-all route dispatches every
// request: `gem push --host URL/` asks for //api/v1/gems, which the router
// would not match.
func (f *Format) Mount(g *echo.Group, r formats.Resolver) {
	formats.MountCatchAll(g, (&handler{f: f, res: r, idx: newIndexes(r, f.opts)}).serve)
}

// RenderError implements formats.ErrorRenderer: gem and Bundler print the
// body of a failed answer, so it is plain text; HEAD answers have none.
func (f *Format) RenderError(c echo.Context, status int, message string) error {
	return formats.RenderText(c, status, message)
}

// gemReader bounds a stored .gem read to describe it, when MaxGemSize is set.
func (f *Format) gemReader(r io.Reader) io.Reader {
	if f.opts.MaxGemSize > 0 {
		return io.LimitReader(r, f.opts.MaxGemSize)
	}
	return r
}
