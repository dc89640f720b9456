// Package maven serves Maven repositories (mvn, Gradle) on top of
// Stockpile's engine: the default layout's files and their checksum
// sidecars, artifact-level maven-metadata.xml generated from the union of
// the versions the walk reaches, version-level metadata of hosted snapshots,
// group-level plugin metadata, and deploys (one PUT per file, checksums and
// metadata after the files). It reads upstream repositories (Maven Central,
// Google, the Gradle plugin portal, Clojars, CommonsWare) through
// formats.Getter and never imports the engine.
//
// Model: a package is groupId (namespace) and artifactId (name); each file
// of a version is an asset named by its file name; checksums are never
// stored but computed from the stored bytes; a snapshot build
// (1.0-20240502.141207-3) is a version of its own whose Meta names its
// snapshot version (1.0-SNAPSHOT), the newest build Published and older
// ones Unlisted; group-level metadata is the pseudo-package whose name is
// empty, one "version" per plugin artifactId.
//
// Protocol: the Maven repository layout and maven-metadata.xml as documented by
// Apache Maven (https://maven.apache.org/repositories/layout.html and the
// repository metadata reference).
package maven

import (
	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Format is the Maven format. It implements formats.Format,
// formats.AssetLocator and formats.ErrorRenderer.
type Format struct{}

var (
	_ formats.Format        = (*Format)(nil)
	_ formats.ErrorRenderer = (*Format)(nil)
)

// New returns the Maven format.
func New() *Format { return &Format{} }

// Name implements formats.Format.
func (f *Format) Name() string { return "maven" }

// CompareVersions implements formats.VersionOrderer: Maven's
// ComparableVersion order.
func (f *Format) CompareVersions(a, b string) int { return CompareVersions(a, b) }

// Mount implements formats.Format: the layout is path-addressed, so one
// catch-all route dispatches on the parsed path.
func (f *Format) Mount(g *echo.Group, r formats.Resolver) {
	formats.MountCatchAll(g, (&handler{res: r}).serve)
}

// RenderError implements formats.ErrorRenderer: plain text, no body for
// HEAD, and none of the headers a handler may have set for the answer it
// meant to give.
func (f *Format) RenderError(c echo.Context, status int, message string) error {
	return formats.RenderText(c, status, message)
}
