// Package formats is the seam between Stockpile's engine and the package
// ecosystems. Each ecosystem (npm, pypi, maven, nuget, ruby, cargo) is a
// package below this one that implements Format; the engine in proxy
// implements Resolver and Getter. A format package never imports proxy or
// storage: everything it needs from them passes through these interfaces.
package formats

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/upstream"
)

// Errors a format handler or the resolver returns. The server maps them to
// HTTP statuses in one place; the wrapped message is shown to the client for
// 4xx answers, so write it for a user ("npm: version 1.0.0 of foo exists").
//
// ErrNotFound is the only "not found" a format returns or tests: a
// Getter's error for an upstream's 404 or 410 (upstream.ErrNotFound)
// matches it too, which is why it is the upstream package's ErrAbsent
// (the upstream package cannot import this one). The server still answers
// an upstream's 404 with the upstream's public message.
var (
	ErrNotFound      = upstream.ErrAbsent            // 404: asked and absent
	ErrInvalid       = errors.New("invalid request") // 400: bad name, version, path or body
	ErrConflict      = errors.New("conflict")        // 409: exists already, different bytes
	ErrNotAllowed    = errors.New("not allowed")     // 403: origin controls, publish blocked
	ErrTooLarge      = errors.New("too large")       // 413: body or asset over its bound
	ErrIntegrity     = errors.New("integrity")       // 502: upstream bytes do not match their digest
	ErrNotAcceptable = errors.New("not acceptable")  // 406: no representation the client accepts
)

// RefusalError marks a refusal (an error wrapping ErrNotAllowed) that the
// supply-chain firewall decided about a version's file: held by a
// release-age cooldown in deny mode, or blocked. Besides the body, the
// server puts its message in the HTTP/1.1 reason phrase, the one part of a
// 403 that pip, Maven, NuGet and RubyGems print.
type RefusalError struct{ Err error }

func (e *RefusalError) Error() string { return e.Err.Error() }

// Unwrap makes errors.Is(err, ErrNotAllowed) true.
func (e *RefusalError) Unwrap() error { return e.Err }

// Format is one package ecosystem.
type Format interface {
	// Name is the format as it appears in URLs and the control plane:
	// "npm", "pypi", "maven", "nuget", "ruby", "cargo".
	Name() string
	// Mount adds the client-facing routes to g, which is rooted at
	// /{domain}/{format}/{repository}. Handlers find the repository with RepoFrom.
	Mount(g *echo.Group, r Resolver)
	// FetchMetadata reads what the external connection behind g knows of p and
	// returns it in the normalized model. It returns an error wrapping
	// ErrNotFound when the upstream says the package does not exist.
	FetchMetadata(ctx context.Context, g Getter, p Package) (*Metadata, error)
}

// AssetLocator is implemented by formats whose metadata does not list the
// files of a version (Maven): when a client asks for a file that the version
// found through an external connection does not list, the engine asks the
// format where that file is upstream and what digests to expect (for
// example by reading a .sha1 sidecar through g). It returns an error
// wrapping ErrNotFound when the upstream has no such file.
type AssetLocator interface {
	LocateAsset(ctx context.Context, g Getter, p Package, version, name string) (*AssetRef, error)
}

// Describer is implemented by formats that read a version's manifest for the
// control plane (DescribePackageVersion, GetPackageVersionReadme,
// ListPackageVersionDependencies). open reads one of the version's assets.
type Describer interface {
	Describe(ctx context.Context, v *Version, open func(asset string) (io.ReadCloser, error)) (*Description, error)
}

// Description is what a manifest says of a version.
type Description struct {
	Summary              string
	HomePage             string
	SourceCodeRepository string
	Readme               string
	Licenses             []License
	Dependencies         []Dependency
}

// License is a license a version declares.
type License struct {
	Name string `json:"name,omitempty"`
	URL  string `json:"url,omitempty"`
}

// Dependency is a direct dependency a version declares, in CodeArtifact's
// terms (dependencyType: npm regular/dev/peer/optional, Maven scopes, …).
type Dependency struct {
	Namespace          string `json:"namespace,omitempty"`
	Package            string `json:"package"`
	DependencyType     string `json:"dependencyType,omitempty"`
	VersionRequirement string `json:"versionRequirement,omitempty"`
}

// ErrorRenderer is implemented by formats whose clients expect errors in a
// particular body shape (npm's {"error": ...}, cargo's {"errors": [...]}).
// The server has reset the response headers (keeping Allow,
// WWW-Authenticate and Retry-After) and answered HEAD requests before
// calling it: RenderError writes only the body, with its Content-Type.
type ErrorRenderer interface {
	RenderError(c echo.Context, status int, message string) error
}

// VersionOrderer is implemented by formats that order versions (all six):
// CompareVersions returns -1, 0 or 1 as a sorts before, with or after b in
// the ecosystem's own order. Known-malicious advisories' version ranges are
// evaluated with it.
type VersionOrderer interface {
	CompareVersions(a, b string) int
}

// Displayer is implemented by formats that spell a package's full name
// their own way in messages (npm's @scope/name); others are shown as
// namespace:name.
type Displayer interface {
	DisplayName(p Package) string
}

// Normalizer is implemented by formats whose package names have a canonical
// form (PyPI, NuGet, Cargo): the control plane normalizes the names it is
// given with it, so `--package Foo_Bar` finds `foo-bar`.
type Normalizer interface {
	Normalize(p Package) Package
}

// NameChecker is implemented by formats whose registries have rules for
// package names (npm's scope and name, PEP 508 project names, Maven's
// groupId and artifactId, NuGet ids, gem and crate names): the control
// plane refuses a package its format could never serve with 400 before it
// looks the package up. p is normalized (Normalizer) first. The error wraps
// ErrInvalid.
type NameChecker interface {
	CheckName(p Package) error
}

// VersionNormalizer is implemented by formats whose versions have a
// canonical form (NuGet: 1.01.0 is 1.1.0): the control plane normalizes the
// versions it is given with it.
type VersionNormalizer interface {
	NormalizeVersion(p Package, version string) string
}

// Package names a package: format, namespace (npm scope without '@', Maven
// groupId, empty for formats without one) and name, already normalized the
// way the format requires.
type Package struct {
	Format    string
	Namespace string
	Name      string
}

// Status is the status of a package version, as CodeArtifact names it.
type Status string

// Version statuses.
const (
	StatusPublished  Status = "Published"
	StatusUnfinished Status = "Unfinished"
	StatusUnlisted   Status = "Unlisted"
	StatusArchived   Status = "Archived"
	StatusDisposed   Status = "Disposed"
)

// Listed reports whether clients are offered versions with status s.
func (s Status) Listed() bool { return s == StatusPublished }

// Downloadable reports whether assets of versions with status s can be fetched.
func (s Status) Downloadable() bool { return s == StatusPublished || s == StatusUnlisted }

// Digests are what a metadata document declares about an asset's bytes, as
// lower-case hex. Empty fields are unknown. The engine refuses to commit bytes
// that disagree with any non-empty field.
type Digests struct {
	SHA512 string `json:"sha512,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	SHA1   string `json:"sha1,omitempty"`
	MD5    string `json:"md5,omitempty"`
}

// AssetRef is one file of a version.
type AssetRef struct {
	Name    string  `json:"name"`
	URL     string  `json:"url,omitempty"` // upstream location, absolute or relative to the connection URL
	Digests Digests `json:"digests"`
	Size    int64   `json:"size,omitempty"` // declared size, 0 when unknown
}

// Version is one version of a package.
type Version struct {
	Version   string          `json:"version"`
	Status    Status          `json:"status"`
	Meta      json.RawMessage `json:"meta,omitempty"` // the format's own per-version document, relayed as is
	Assets    []AssetRef      `json:"assets,omitempty"`
	Published time.Time       `json:"published"`
}

// Asset returns the asset called name, or nil.
func (v *Version) Asset(name string) *AssetRef {
	for i := range v.Assets {
		if v.Assets[i].Name == name {
			return &v.Assets[i]
		}
	}
	return nil
}

// AssetWithSuffix returns the first asset whose name ends with suffix (a
// version's one .nupkg or .gem), or nil.
func (v *Version) AssetWithSuffix(suffix string) *AssetRef {
	for i := range v.Assets {
		if strings.HasSuffix(v.Assets[i].Name, suffix) {
			return &v.Assets[i]
		}
	}
	return nil
}

// Metadata is what a format reads from an upstream document.
type Metadata struct {
	Versions map[string]*Version
	Tags     map[string]string
	// Extra holds the format's package-level fields (npm's readme,
	// description, ...) for faithful re-rendering.
	Extra json.RawMessage
}

// View is a package as a client of one repository sees it: the merge of every
// repository reached by the walk and of the external connections among them,
// after origin controls. It holds versions of every status; renderers offer
// only Listed ones.
type View struct {
	Package  Package
	Versions map[string]*ViewVersion
	Tags     map[string]string
	Extra    json.RawMessage
	// Held are the versions a release-age cooldown keeps from this
	// repository's clients, left out of Versions and Tags. A format whose
	// clients take a version they are offered only when it is pinned
	// exactly (PEP 592's yanked files, Cargo's yanked index lines, NuGet's
	// unlisted versions) may offer held versions so; one whose clients can
	// be told a version is refused before they fetch it (npm's
	// policyRestrictions) may say so for deny-mode ones. Others ignore it.
	Held map[string]*HeldVersion
}

// HeldVersion is a version the release-age cooldown holds back.
type HeldVersion struct {
	*ViewVersion
	// Deny is true when its files are refused (mode deny); in hide mode a
	// client that names it exactly still gets them.
	Deny bool
	// Reason says why it is held and until when, for a client's output.
	Reason string
}

// ViewVersion is a Version and where the walk found it.
type ViewVersion struct {
	Version
	// Repository is the repository that holds the version, or the one whose
	// external connection offers it.
	Repository string
	// Connection is set when the version has not been stored yet and would be
	// fetched through that external connection.
	Connection string
}

// RepoRef identifies the repository a request addresses.
type RepoRef struct {
	Domain     string
	Repository string
	// Base is the public URL of the repository endpoint for this format,
	// without a trailing slash: http://host:port/{domain}/{format}/{repository}.
	Base string
	// Path is the URL path of the repository endpoint for this format,
	// without a trailing slash: /{domain}/{format}/{repository}.
	Path string
	// User names the caller for whoami-style answers.
	User string
	// AuthRequired is true when reads of this repository need credentials
	// (cargo's config.json says so with "auth-required").
	AuthRequired bool
}

// Below returns the part of a request path (escaped or not, as the caller
// reads it) below the repository endpoint, with its leading slash: "" for
// the endpoint itself. ok is false for a path outside the endpoint.
func (ref RepoRef) Below(path string) (rest string, ok bool) {
	rest, ok = strings.CutPrefix(path, ref.Path)
	if !ok || (rest != "" && rest[0] != '/') {
		return "", false
	}
	return rest, true
}

// WithRepo stores ref in c for the format handlers.
func WithRepo(c echo.Context, ref RepoRef) { c.Set("stockpile.repo", ref) }

// RepoFrom returns the repository the request addresses.
func RepoFrom(c echo.Context) RepoRef {
	ref, _ := c.Get("stockpile.repo").(RepoRef)
	return ref
}

type freshKey struct{}

// Fresh returns a context under which the engine revalidates cached upstream
// documents before using them, whatever their age, and bypasses rendered
// documents: for npm's ?write=true, or a client asking for an exact version
// the cached metadata lacks.
func Fresh(ctx context.Context) context.Context { return context.WithValue(ctx, freshKey{}, true) }

// IsFresh reports whether ctx came from Fresh.
func IsFresh(ctx context.Context) bool { v, _ := ctx.Value(freshKey{}).(bool); return v }

// Rendered is a client-facing document kept ready by the engine.
type Rendered struct {
	Body        []byte
	Gzip        []byte // Body gzip-compressed, filled by the engine's Render
	ContentType string
	ETag        string // strong validator, filled by the engine

	derivedMu sync.Mutex
	derived   map[string]any
	hdrs      atomic.Pointer[renderedHeaders]
}

// Derived returns what fn computes from the document (a checksum, an index
// of its lines), computing it once per document: the value lives exactly
// as long as the engine keeps the document, so formats need no caches of
// their own. key names the value; fn runs at most once per key unless two
// callers race, and must not call Derived on the same document.
func (r *Rendered) Derived(key string, fn func() any) any {
	r.derivedMu.Lock()
	v, ok := r.derived[key]
	r.derivedMu.Unlock()
	if ok {
		return v
	}
	v = fn()
	r.derivedMu.Lock()
	defer r.derivedMu.Unlock()
	if old, ok := r.derived[key]; ok {
		return old
	}
	if r.derived == nil {
		r.derived = map[string]any{}
	}
	r.derived[key] = v
	return v
}

// Publication is a new version published into a repository.
type Publication struct {
	Version Version
	// Content returns the bytes of the named asset; the engine hashes and
	// checks them against the asset's Digests before anything is stored.
	Content func(name string) (io.Reader, error)
	// Tags to set on the package with the version (npm dist-tags).
	Tags map[string]string
	// Extra replaces the package-level fields when not nil.
	Extra json.RawMessage
	// Merge adds the assets to the version when the repository already
	// holds it (formats whose versions have many files: PyPI, Maven): an
	// asset of the same name and bytes is an idempotent success, one with
	// other bytes ErrConflict. Version.Meta replaces the stored one when set.
	Merge bool
}

// Content is an open asset. ReadAt may be used concurrently with itself
// (archive/zip does), not with Read or Seek.
type Content interface {
	io.ReadSeekCloser
	io.ReaderAt
	Sums() Sums
}

// Sums are the size and digests of stored bytes, as lower-case hex.
type Sums struct {
	Size   int64  `json:"size"`
	MD5    string `json:"md5"`
	SHA1   string `json:"sha1"`
	SHA256 string `json:"sha256"`
	SHA512 string `json:"sha512"`
}

// PackageState is what a repository keeps about a package besides versions.
type PackageState struct {
	Tags  map[string]string
	Extra json.RawMessage
}

// Resolver is the engine as the formats see it. Every method works on the
// repository named by ref and walks its upstream graph where the operation
// reads. Methods return errors wrapping the sentinels of this package.
type Resolver interface {
	// View returns the merged view of p. It returns ErrNotFound when no
	// repository reached knows the package, and an upstream error (never
	// ErrNotFound) when an external connection failed and nothing is cached.
	View(ctx context.Context, ref RepoRef, p Package) (*View, error)
	// Render returns the document that render builds from the view of p,
	// cached under variant until any input of the view changes.
	Render(ctx context.Context, ref RepoRef, p Package, variant string, render func(*View) (*Rendered, error)) (*Rendered, error)
	// RenderRepository returns a document that covers a whole repository
	// (RubyGems' /versions), named variant. Concurrent callers share one
	// build, detached from each of them; inputs runs in it on every call,
	// reads what the document is made of and returns their fingerprint
	// with the function that builds the document from them, which runs
	// only when the fingerprint differs from the kept document's. So the
	// document is byte-stable while its inputs are. The engine fills the
	// ETag, not Gzip.
	RenderRepository(ctx context.Context, ref RepoRef, variant string, inputs RepositoryInputs) (*Rendered, error)
	// ServeAsset writes the named asset of version to w (GET or HEAD, ranges,
	// conditional requests), fetching it through the walk when it is not
	// stored in the repository yet, and retaining it. It returns ErrNotFound
	// when no repository has it; nothing has been written then.
	ServeAsset(w http.ResponseWriter, r *http.Request, ref RepoRef, p Package, version, asset string) error
	// Open returns the named asset of version, fetching and retaining it
	// like ServeAsset when it is not stored in the repository yet.
	Open(ctx context.Context, ref RepoRef, p Package, version, asset string) (Content, error)
	// Publish stores a new version in the repository, subject to origin
	// controls; ErrConflict when the version exists there or upstream
	// (unless pub.Merge adds assets to a version of this repository).
	Publish(ctx context.Context, ref RepoRef, p Package, pub Publication) error
	// UpdatePackage changes what the repository keeps about p (tags, extra).
	// fn sees the current state (empty when none) and may change it.
	UpdatePackage(ctx context.Context, ref RepoRef, p Package, fn func(*PackageState) error) error
	// UpdateVersion changes a version stored in the repository: its status
	// or its format document. ErrNotFound when the repository does not hold it.
	UpdateVersion(ctx context.Context, ref RepoRef, p Package, version string, fn func(*Version) error) error
	// DeleteVersion removes a version stored in the repository.
	DeleteVersion(ctx context.Context, ref RepoRef, p Package, version string) error
	// Packages lists the packages of format that the repositories reached
	// hold, without asking external connections.
	Packages(ctx context.Context, ref RepoRef, format string) ([]Package, error)
	// Upstream returns the external connection the walk from ref reaches
	// first for format, for requests passed through as they are (npm audit).
	// ErrNotFound when the walk reaches none.
	Upstream(ctx context.Context, ref RepoRef, format string) (Getter, error)
}

// RepositoryInputs reads the inputs of a repository-wide document under
// ctx and returns a fingerprint of them (equal inputs, equal fingerprints)
// and the function that builds the document from them.
type RepositoryInputs func(ctx context.Context) (fingerprint string, build func() (*Rendered, error), err error)

// Getter reads documents from one external connection.
type Getter interface {
	// Get returns the document at ref (an absolute URL, or a path relative to
	// the connection URL), asked for with the given Accept header. The engine
	// caches documents with the connection's TTL, revalidates them, and
	// serves a stale copy when the upstream fails. Errors wrap
	// upstream.ErrNotFound (which matches ErrNotFound: test that),
	// upstream.ErrUnavailable or upstream.ErrUnauthorized.
	Get(ctx context.Context, ref, accept string) (*Document, error)
	// Do sends a request as it is, uncached (npm audit), and returns the response.
	Do(ctx context.Context, method, ref string, header http.Header, body io.Reader) (*http.Response, error)
}

// Document is an upstream document.
type Document struct {
	URL         string // final URL, after redirects
	Body        []byte
	ContentType string
	// LastModified is the upstream's Last-Modified, zero when it sent none.
	LastModified time.Time
}

// Publish-time sources of an external connection (its publish_times key).
const (
	// PublishTimesMetadata reads publish times from the package's metadata
	// document alone (the default).
	PublishTimesMetadata = "metadata"
	// PublishTimesLastModified also dates each version by the upstream's
	// Last-Modified of a file of that version, where the metadata has no
	// time per version (Maven: the version's POM).
	PublishTimesLastModified = "last_modified"
)

// PublishTimer is implemented by a Getter whose connection says where
// publish times come from (PublishTimesMetadata or
// PublishTimesLastModified).
type PublishTimer interface {
	PublishTimes() string
}
