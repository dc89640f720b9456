// Package nuget serves the NuGet V3 protocol (nuget.exe, dotnet, Visual
// Studio) on top of Stockpile's engine: the service index, the flat
// container (version lists, .nupkg and .nuspec), registrations (index,
// pages, leaves) in a SemVer 1.0 and a SemVer 2.0 hive, a catalog entry per
// version, search and autocomplete, push, delete (unlist) and relist. It
// reads upstream feeds by following the resources their service index
// names, through formats.Getter, and never imports the engine.
//
// Names and versions: ids are case-insensitive and stored lower-cased (the
// original spelling is kept in the catalog entry); versions are stored under
// their normalised, lower-cased form without build metadata, which is how
// the flat container addresses them, while the catalog entry keeps the full
// version.
//
// Protocol: the NuGet V3 server API (service index, package content, registrations,
// search, push and delete), as documented at https://learn.microsoft.com/nuget/api/overview.
package nuget

import (
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

const formatName = "nuget"

// Default limits.
const (
	// DefaultMaxReadPackage bounds a stored .nupkg read into memory to
	// describe it when the engine does not hand it as seekable content.
	DefaultMaxReadPackage = 256 << 20
	// DefaultMaxEntries bounds the files in a pushed .nupkg.
	DefaultMaxEntries = 20_000
	// DefaultMaxUncompressed bounds the declared uncompressed size of a
	// pushed .nupkg, against zip bombs handed on to clients.
	DefaultMaxUncompressed = 8 << 30
	// DefaultMaxNuspec bounds the bytes read from a .nuspec (and a readme).
	DefaultMaxNuspec = 1 << 20
	// DefaultPageSize is the number of versions in a registration page,
	// and DefaultInlineLimit the number of versions up to which pages are
	// inlined in the registration index, as nuget.org does.
	DefaultPageSize    = 64
	DefaultInlineLimit = 128
)

// Options tune the NuGet format. Zero fields take the defaults.
type Options struct {
	// MaxPackageSize, when set, bounds a pushed .nupkg below what the
	// server's intake limits (max_publish_size) allow.
	MaxPackageSize  int64
	MaxEntries      int
	MaxUncompressed int64
	MaxNuspec       int64
	PageSize        int
	InlineLimit     int
}

func (o Options) withDefaults() Options {
	o.MaxEntries = formats.OrDefault(o.MaxEntries, DefaultMaxEntries)
	o.MaxUncompressed = formats.OrDefault(o.MaxUncompressed, DefaultMaxUncompressed)
	o.MaxNuspec = formats.OrDefault(o.MaxNuspec, DefaultMaxNuspec)
	o.PageSize = formats.OrDefault(o.PageSize, DefaultPageSize)
	o.InlineLimit = formats.OrDefault(o.InlineLimit, DefaultInlineLimit)
	return o
}

// Format is the NuGet format. It implements formats.Format,
// formats.ErrorRenderer, formats.Normalizer and formats.Describer.
type Format struct {
	opts Options
}

var (
	_ formats.Format        = (*Format)(nil)
	_ formats.ErrorRenderer = (*Format)(nil)
	_ formats.Normalizer    = (*Format)(nil)
	_ formats.Describer     = (*Format)(nil)
)

// New returns the NuGet format with the default limits.
func New() *Format { return NewWithOptions(Options{}) }

// NewWithOptions returns the NuGet format with the given limits.
func NewWithOptions(o Options) *Format { return &Format{opts: o.withDefaults()} }

// Name implements formats.Format.
func (f *Format) Name() string { return formatName }

// CompareVersions implements formats.VersionOrderer: NuGet's version
// precedence; a version NuGet cannot parse sorts before every valid one.
func (f *Format) CompareVersions(a, b string) int {
	return formats.CompareParsed(a, b, func(s string) (version, bool) {
		v, err := parseVersion(s)
		return v, err == nil
	}, version.compare)
}

// Normalize implements formats.Normalizer: NuGet ids are case-insensitive.
func (f *Format) Normalize(p formats.Package) formats.Package {
	p.Name = strings.ToLower(p.Name)
	p.Namespace = ""
	return p
}

// NormalizeVersion returns the form a version is stored under (lower-cased,
// normalised, without build metadata: "1.01.0.0+b" gives "1.1.0"), or v
// itself when it is not a NuGet version. The control plane does not call it
// yet: it is ready for a version counterpart of formats.Normalizer, as
// CodeArtifact normalises NuGet versions given to its API.
func (f *Format) NormalizeVersion(p formats.Package, v string) string {
	key, err := normalizeVersion(v)
	if err != nil {
		return v
	}
	return key
}

// Mount implements formats.Format. One catch-all route dispatches on the
// path, so ids and versions with dots and '+' need no escaping rules of
// the router's.
func (f *Format) Mount(g *echo.Group, r formats.Resolver) {
	formats.MountCatchAll(g, (&handler{f: f, res: r}).serve)
}

// RenderError implements formats.ErrorRenderer: a plain-text message (NuGet
// clients show the status; people using curl read the text). HEAD answers
// carry no body.
func (f *Format) RenderError(c echo.Context, status int, message string) error {
	return formats.RenderText(c, status, message)
}
