// Package npm serves the npm registry protocol (npm, pnpm, yarn v1) on top
// of Stockpile's engine: packuments in their full and abbreviated (corgi)
// forms, tarballs, publish, dist-tags, deprecate, unpublish, search, ping,
// whoami and the audit pass-through. It reads upstream registries through
// formats.Getter and never imports the engine.
//
// Protocol: the npm registry API (package documents, abbreviated metadata for
// installs, publish, dist-tags), as npm-registry-fetch and the npm CLI docs describe it.
package npm

import (
	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Default limits.
const (
	// DefaultMaxAuditBody bounds an audit request passed through upstream,
	// and the upstream's answer.
	DefaultMaxAuditBody = 32 << 20
)

// Options tune the npm format. Zero fields take the defaults.
type Options struct {
	// MaxPublishBody, when set, bounds the body of PUT /{package} below
	// what the server's intake limits allow; larger bodies are refused
	// with 413.
	MaxPublishBody int64
	// MaxAuditBody bounds audit requests and answers passed through.
	MaxAuditBody int64
}

func (o Options) withDefaults() Options {
	o.MaxAuditBody = formats.OrDefault(o.MaxAuditBody, DefaultMaxAuditBody)
	return o
}

// Format is the npm format. It implements formats.Format and
// formats.ErrorRenderer.
type Format struct {
	opts Options
}

var (
	_ formats.Format        = (*Format)(nil)
	_ formats.ErrorRenderer = (*Format)(nil)
)

// New returns the npm format with the default limits.
func New() *Format { return NewWithOptions(Options{}) }

// NewWithOptions returns the npm format with the given limits.
func NewWithOptions(o Options) *Format { return &Format{opts: o.withDefaults()} }

// Name implements formats.Format.
func (f *Format) Name() string { return "npm" }

// CompareVersions implements formats.VersionOrderer: SemVer 2.0, as npm
// orders versions.
func (f *Format) CompareVersions(a, b string) int { return compareVersions(a, b) }

// DisplayName implements formats.Displayer: @scope/name.
func (f *Format) DisplayName(p formats.Package) string { return displayName(p) }

// Mount implements formats.Format. Every request goes through one catch-all
// route: npm's scoped names arrive as @scope%2fname, @scope%2Fname or
// @scope/name, so the handler splits the escaped path itself.
func (f *Format) Mount(g *echo.Group, r formats.Resolver) {
	formats.MountCatchAll(g, (&handler{f: f, res: r}).serve)
}

// RenderError implements formats.ErrorRenderer with npm's error shape,
// {"error": "..."}; HEAD answers carry no body.
func (f *Format) RenderError(c echo.Context, status int, message string) error {
	c.Response().Header().Set("Content-Type", "application/json")
	return c.JSON(status, map[string]string{"error": message})
}
