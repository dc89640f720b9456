package rubygems

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// handler serves one mounted repository group.
type handler struct {
	f   *Format
	res formats.Resolver
	idx *indexes
}

// Content types of the answers.
const (
	textPlain   = "text/plain; charset=utf-8"
	octetStream = "application/octet-stream"
)

// indexCacheControl: compact index files are revalidated on every use (a
// 304, or a 206 of the bytes appended), so a push or a yank is seen at
// once; no shared cache keeps an answer given to an authenticated client.
const indexCacheControl = "no-cache"

// restPath returns the path below /{domain}/ruby/{repo}, without its
// leading slash, runs of slashes collapsed.
func restPath(ref formats.RepoRef, path string) string {
	p, _ := ref.Below(path)
	p = strings.TrimPrefix(p, "/")
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return strings.TrimPrefix(p, "/")
}

// serve dispatches every request of the group.
func (h *handler) serve(c echo.Context) error {
	req := c.Request()
	rest := restPath(formats.RepoFrom(c), req.URL.Path)
	m := req.Method
	get := m == http.MethodGet || m == http.MethodHead
	switch {
	case rest == "":
		// `gem install` sends HEAD to the source root to find the compact index.
		if !get {
			return formats.MethodNotAllowed(c, "rubygems", "GET", "HEAD")
		}
		c.Response().Header().Set("Cache-Control", indexCacheControl)
		return c.String(http.StatusOK, "Stockpile RubyGems source "+formats.RepoFrom(c).Repository+"\n")
	case rest == "versions":
		if !get {
			return formats.MethodNotAllowed(c, "rubygems", "GET", "HEAD")
		}
		return h.versions(c)
	case rest == "names":
		if !get {
			return formats.MethodNotAllowed(c, "rubygems", "GET", "HEAD")
		}
		return h.names(c)
	case strings.HasPrefix(rest, "info/"):
		if !get {
			return formats.MethodNotAllowed(c, "rubygems", "GET", "HEAD")
		}
		return h.info(c, strings.TrimPrefix(rest, "info/"))
	case strings.HasPrefix(rest, "gems/") && strings.HasSuffix(rest, ".gem"):
		if !get {
			return formats.MethodNotAllowed(c, "rubygems", "GET", "HEAD")
		}
		return h.gem(c, strings.TrimPrefix(rest, "gems/"))
	case strings.HasPrefix(rest, "quick/Marshal.4.8/") && strings.HasSuffix(rest, ".gemspec.rz"):
		if !get {
			return formats.MethodNotAllowed(c, "rubygems", "GET", "HEAD")
		}
		return h.quick(c, strings.TrimPrefix(rest, "quick/Marshal.4.8/"))
	case rest == specsAll || rest == specsLatest || rest == specsPrerelease:
		if !get {
			return formats.MethodNotAllowed(c, "rubygems", "GET", "HEAD")
		}
		return h.specs(c, rest)
	case rest == "api/v1/gems":
		if m != http.MethodPost {
			return formats.MethodNotAllowed(c, "rubygems", "POST")
		}
		return h.push(c)
	case rest == "api/v1/gems/yank":
		if m != http.MethodDelete {
			return formats.MethodNotAllowed(c, "rubygems", "DELETE")
		}
		return h.yank(c)
	case strings.HasPrefix(rest, "api/v1/dependencies"):
		// Retired on rubygems.org in 2023; a 404 sends Bundler to the
		// compact index.
		return notFound("the dependency API is not served: use the compact index (/versions, /info)")
	}
	return notFound("no such endpoint /%s", rest)
}

// indexFile is a compact index file with its validators.
type indexFile struct {
	body []byte
	md5  string // hex
	sha  [32]byte
}

func newIndexFile(b []byte) *indexFile {
	m := md5.Sum(b)
	return &indexFile{body: b, md5: hex.EncodeToString(m[:]), sha: sha256.Sum256(b)}
}

// serveIndex answers with a compact index file: ETag is the quoted MD5 of
// the whole file (Bundler 2.3 checks it, on 206 answers too), Repr-Digest
// its SHA-256 (later Bundlers check it); ranges and If-None-Match are
// honoured, a range past the end is 416.
func serveIndex(c echo.Context, f *indexFile, contentType string) error {
	h := c.Response().Header()
	h.Set("Content-Type", contentType)
	h.Set("ETag", `"`+f.md5+`"`)
	h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(f.sha[:])+":")
	h.Set("Accept-Ranges", "bytes")
	h.Set("Cache-Control", indexCacheControl)
	formats.ServeBytes(c, f.body)
	return nil
}

// GET /versions (the compact index).
func (h *handler) versions(c echo.Context) error {
	f, err := h.idx.versions(c.Request().Context(), formats.RepoFrom(c))
	if err != nil {
		return err
	}
	return serveIndex(c, f, textPlain)
}

// GET /names (the compact index).
func (h *handler) names(c echo.Context) error {
	f, err := h.idx.names(c.Request().Context(), formats.RepoFrom(c))
	if err != nil {
		return err
	}
	return serveIndex(c, f, textPlain)
}

// GET /specs.4.8.gz and the latest and prerelease variants (the legacy index).
func (h *handler) specs(c echo.Context, kind string) error {
	f, err := h.idx.specs(c.Request().Context(), formats.RepoFrom(c), kind)
	if err != nil {
		return err
	}
	return serveIndex(c, f, octetStream)
}

// infoVariant names the rendered info file in the engine's cache.
const infoVariant = "info"

// GET /info/{gem} (the compact index): 404 when no repository reached knows the gem.
func (h *handler) info(c echo.Context, name string) error {
	if !validName(name) {
		return formats.RefusedName(name, maxNameLen, fmt.Errorf("rubygems: %.64q is not a gem name", name))
	}
	ctx := c.Request().Context()
	ref := formats.RepoFrom(c)
	doc, err := h.res.Render(ctx, ref, formats.Package{Format: "ruby", Name: name}, infoVariant, h.idx.renderInfoFor(ref, name))
	if err != nil {
		return err
	}
	f := infoDigestOf(doc).file(doc)
	if doc.Gzip != nil {
		c.Response().Header().Set("Vary", "Accept-Encoding")
		req := c.Request()
		if req.Header.Get("Range") == "" && formats.AcceptsGzip(req.Header.Values("Accept-Encoding")) {
			return serveIndexGzip(c, f, doc.Gzip)
		}
	}
	return serveIndex(c, f, textPlain)
}

// serveIndexGzip answers a whole compact index file in its gzip coding,
// gz. Its validator is the file's MD5 made weak, which RFC 9110 §8.8.1
// allows for semantically equivalent representations: Bundler strips W/
// and compares the rest with the MD5 of the file it has decoded (Ruby's
// Net::HTTP decodes gzip), and sends it back in If-None-Match, which the
// weak comparison matches whatever the coding. Repr-Digest is left out:
// it would be of the gzip bytes (RFC 9530), which Bundler never sees. A
// Range request is answered from the identity bytes (serveIndex).
func serveIndexGzip(c echo.Context, f *indexFile, gz []byte) error {
	h := c.Response().Header()
	etag := `W/"` + f.md5 + `"`
	h.Set("ETag", etag)
	h.Set("Cache-Control", indexCacheControl)
	if inm := c.Request().Header.Get("If-None-Match"); inm != "" && formats.ETagMatch(inm, etag) {
		return c.NoContent(http.StatusNotModified)
	}
	h.Set("Content-Type", textPlain)
	h.Set("Content-Encoding", "gzip")
	h.Set("Content-Length", strconv.Itoa(len(gz)))
	c.Response().WriteHeader(http.StatusOK)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	_, err := c.Response().Write(gz)
	return err
}

// GET /gems/{name}-{version}[-{platform}].gem: the engine verifies the bytes
// against the info line's checksum before they are kept.
func (h *handler) gem(c echo.Context, file string) error {
	if strings.Contains(file, "/") {
		return notFound("no such gem file %s", file)
	}
	cands := splitFullName(strings.TrimSuffix(file, ".gem"))
	if len(cands) == 0 {
		return formats.RefusedName(file, maxNameLen+maxVersionLen+maxPlatformLen+len("--.gem"), fmt.Errorf("rubygems: %.64q is not a gem file name", file))
	}
	c.Response().Header().Set("Content-Type", octetStream)
	err := notFound("no gem file %s", file)
	for _, cand := range cands {
		err = h.res.ServeAsset(c.Response(), c.Request(), formats.RepoFrom(c), formats.Package{Format: "ruby", Name: cand.name}, cand.key, file)
		if !errors.Is(err, formats.ErrNotFound) {
			return err
		}
	}
	return err
}

// GET /quick/Marshal.4.8/{full name}.gemspec.rz: the stored or upstream
// file; when there is none (a mirror without quick files, or the upstream
// unreachable for a gem whose .gem is kept), one generated from the .gem.
func (h *handler) quick(c echo.Context, file string) error {
	if strings.Contains(file, "/") {
		return notFound("no such gemspec %s", file)
	}
	cands := splitFullName(strings.TrimSuffix(file, ".gemspec.rz"))
	if len(cands) == 0 {
		return notFound("%s is not a gemspec file name", file)
	}
	ref := formats.RepoFrom(c)
	ctx := c.Request().Context()
	c.Response().Header().Set("Content-Type", octetStream)
	err := notFound("no gemspec %s", file)
	for _, cand := range cands {
		p := formats.Package{Format: "ruby", Name: cand.name}
		err = h.res.ServeAsset(c.Response(), c.Request(), ref, p, cand.key, file)
		if err == nil {
			return nil
		}
		if c.Response().Committed {
			return err
		}
		spec, gerr := h.generateQuick(ctx, ref, p, cand.key)
		if gerr == nil {
			http.ServeContent(c.Response(), c.Request(), "", time.Time{}, bytes.NewReader(spec))
			return nil
		}
		if !errors.Is(err, formats.ErrNotFound) {
			return err
		}
	}
	return err
}

// generateQuick builds the quick gemspec of a version from its .gem.
func (h *handler) generateQuick(ctx context.Context, ref formats.RepoRef, p formats.Package, key string) ([]byte, error) {
	content, err := h.res.Open(ctx, ref, p, key, gemFile(p.Name, key))
	if err != nil {
		return nil, err
	}
	defer content.Close()
	spec, err := readGem(h.f.gemReader(content), h.f.opts.MaxMetadataSize)
	if err != nil {
		return nil, err
	}
	return spec.quickSpec()
}
