package pypi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// Cache-Control of the mutable documents: clients revalidate every time (a
// 304 on the warm path is a map lookup), so uploads show at once.
const pageCacheControl = "no-cache"

// handler serves the routes of one Format.
type handler struct {
	f   *Format
	res formats.Resolver
}

// accept is the Accept header, or the ?format= override of PEP 691.
func accept(req *http.Request) string {
	if f := req.URL.Query().Get("format"); f != "" {
		return f
	}
	return req.Header.Get("Accept")
}

func notAcceptable() error {
	return fmt.Errorf("%w: pypi: the simple API is served as %s, %s or %s", formats.ErrNotAcceptable, mediaJSON, mediaHTMLv1, mediaHTML)
}

// redirect answers 301 to the canonical location, keeping the query.
func redirect(c echo.Context, location string) error {
	if q := c.Request().URL.RawQuery; q != "" {
		location += "?" + q
	}
	return c.Redirect(http.StatusMovedPermanently, location)
}

// rootRedirect: GET /simple → /simple/.
func (h *handler) rootRedirect(c echo.Context) error {
	return redirect(c, formats.RepoFrom(c).Base+"/simple/")
}

// root: GET /simple/, the project list (PEP 503 root, PEP 691). It lists
// the projects the repositories reached hold, not the upstream's.
func (h *handler) root(c echo.Context) error {
	ref := formats.RepoFrom(c)
	r := negotiate(accept(c.Request()))
	if r == reprNone {
		return notAcceptable()
	}
	pkgs, err := h.res.Packages(c.Request().Context(), ref, "pypi")
	if err != nil {
		return err
	}
	names := make([]string, 0, len(pkgs))
	for _, p := range pkgs {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	body := renderRoot(names, ref.Base, r)
	sum := sha256.Sum256(body)
	doc := &formats.Rendered{Body: body, ContentType: r.contentType(), ETag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	return formats.ServeRendered(c, doc, pageCacheControl, "Accept")
}

// projectRedirect: GET /simple/{project} → /simple/{normalized}/.
func (h *handler) projectRedirect(c echo.Context) error {
	name, err := projectFromParam(c.Param("project"))
	if err != nil {
		return err
	}
	return redirect(c, formats.RepoFrom(c).Base+"/simple/"+pathEscape(normalizeName(name))+"/")
}

// project: GET /simple/{project}/, PEP 503 HTML or PEP 691 JSON by Accept;
// other spellings of the name are redirected to the normalized one.
func (h *handler) project(c echo.Context) error {
	ref := formats.RepoFrom(c)
	project, normalized, err := projectOf(c)
	if err != nil {
		return err
	}
	if !normalized {
		return redirect(c, ref.Base+"/simple/"+pathEscape(project)+"/")
	}
	r := negotiate(accept(c.Request()))
	if r == reprNone {
		return notAcceptable()
	}
	variant := "simple\x00" + r.name() + "\x00" + ref.Base
	return h.serveDoc(c, ref, project, variant, "Accept", func(v *formats.View) (*formats.Rendered, error) {
		return renderProject(v, ref.Base, r)
	})
}

// projectOf reads the project of the path: its PEP 503 normalized name, and
// whether the path spells it so (other spellings are redirected to it).
func projectOf(c echo.Context) (project string, normalized bool, err error) {
	name, err := projectFromParam(c.Param("project"))
	if err != nil {
		return "", false, err
	}
	project = normalizeName(name)
	return project, project == name, nil
}

// serveDoc serves a project's document, rendered by render and kept by the
// engine under variant, revalidated on every use.
func (h *handler) serveDoc(c echo.Context, ref formats.RepoRef, project, variant, vary string, render func(*formats.View) (*formats.Rendered, error)) error {
	doc, err := h.res.Render(c.Request().Context(), ref, pkg(project), variant, render)
	if err != nil {
		return err
	}
	return formats.ServeRendered(c, doc, pageCacheControl, vary)
}

// fileParams reads project, version and file name of a file URL.
func fileParams(c echo.Context) (project, version, filename string, err error) {
	name, err := projectFromParam(c.Param("project"))
	if err != nil {
		return "", "", "", err
	}
	ver, err := url.PathUnescape(c.Param("version"))
	if err != nil || ver == "" || len(ver) > maxVersionLen {
		return "", "", "", fmt.Errorf("%w: %.100q is not a valid version", formats.ErrInvalid, c.Param("version"))
	}
	filename, err = url.PathUnescape(c.Param("file"))
	if err != nil || filename == "" || len(filename) > maxFilenameLen+len(".metadata") || strings.ContainsAny(filename, "/\\") {
		return "", "", "", fmt.Errorf("%w: %.100q is not a valid file name", formats.ErrInvalid, c.Param("file"))
	}
	return normalizeName(name), normalizeVersion(ver), filename, nil
}

// file: GET /simple/{project}/{version}/{file}, a distribution fetched
// through the walk (verified against the upstream's sha256, then retained),
// or its core metadata (PEP 658) when the name ends in .metadata.
func (h *handler) file(c echo.Context) error {
	ref := formats.RepoFrom(c)
	project, ver, filename, err := fileParams(c)
	if err != nil {
		return err
	}
	if dist, ok := isCoreMetadataName(filename); ok {
		if _, err := parseFilename(dist, project); err == nil {
			return h.coreMetadata(c, ref, project, ver, dist)
		}
	}
	c.Response().Header().Set("Content-Type", "application/octet-stream")
	return h.res.ServeAsset(c.Response(), c.Request(), ref, pkg(project), ver, filename)
}

// coreMetadata serves the core metadata of a distribution: the upstream's
// own .metadata file when it advertised one, else the METADATA file read
// from the wheel (fetched and retained like a download), checked against
// the advertised sha256 in both cases.
func (h *handler) coreMetadata(c echo.Context, ref formats.RepoRef, project, ver, dist string) error {
	ctx := c.Request().Context()
	p := pkg(project)
	src, err := h.metadataSource(ctx, ref, p, ver, dist)
	if errors.Is(err, formats.ErrNotFound) && !formats.IsFresh(ctx) {
		// A version newer than the cached page: revalidate once.
		src, err = h.metadataSource(formats.Fresh(ctx), ref, p, ver, dist)
	}
	if err != nil {
		return err
	}
	var body []byte
	if src.Upstream && src.URL != "" {
		body = h.upstreamMetadata(ctx, ref, src.URL, src.SHA256)
	}
	if body == nil {
		if !strings.HasSuffix(dist, ".whl") {
			return fmt.Errorf("%w: no core metadata is available for %s", formats.ErrNotFound, dist)
		}
		content, err := h.res.Open(ctx, ref, p, ver, dist)
		if err != nil {
			return err
		}
		body, err = wheelMetadata(content, content.Sums().Size, project, h.f.opts.MaxMetadataSize)
		content.Close()
		if err != nil {
			return fmt.Errorf("%w: core metadata of %s: %v", formats.ErrNotFound, dist, err)
		}
		if src.SHA256 != "" && sha256Hex(body) != src.SHA256 {
			return fmt.Errorf("%w: the METADATA of %s has sha256 %s, the index declares %s", formats.ErrIntegrity, dist, sha256Hex(body), src.SHA256)
		}
	}
	sum := sha256Hex(body)
	hd := c.Response().Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("ETag", `"`+sum+`"`)
	hd.Set("X-Checksum-Sha256", sum)
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(c.Response(), c.Request(), "", src.Published, bytes.NewReader(body))
	return nil
}

// metadataSource is where the core metadata of a file comes from.
type metadataSource struct {
	URL       string    `json:"url,omitempty"`      // the file's upstream URL
	Upstream  bool      `json:"upstream,omitempty"` // the upstream serves URL.metadata
	SHA256    string    `json:"sha256,omitempty"`   // as advertised, "" when unknown
	Published time.Time `json:"published"`
}

// metadataSource looks a file up in the view of its project. The answer is
// kept with the rendered documents (a warm lookup is a map read, not a
// merge of the walk).
func (h *handler) metadataSource(ctx context.Context, ref formats.RepoRef, p formats.Package, ver, dist string) (*metadataSource, error) {
	doc, err := h.res.Render(ctx, ref, p, "coremeta\x00"+ver+"\x00"+dist, func(v *formats.View) (*formats.Rendered, error) {
		vv := v.Versions[ver]
		if held := v.Held[ver]; vv == nil && held != nil {
			// Listed as a yanked file (buildPage): its metadata is served
			// as the file is, refused in deny mode.
			if held.Deny {
				return nil, &formats.RefusalError{Err: fmt.Errorf("%w: %s", formats.ErrNotAllowed, held.Reason)}
			}
			vv = held.ViewVersion
		}
		if vv == nil || !vv.Status.Downloadable() {
			return nil, fmt.Errorf("%w: version %s of %s is not available in repository %s", formats.ErrNotFound, ver, p.Name, ref.Repository)
		}
		a := vv.Asset(dist)
		if a == nil {
			return nil, fmt.Errorf("%w: version %s of %s has no file %s", formats.ErrNotFound, ver, p.Name, dist)
		}
		fm := decodeMeta(vv.Meta).file(dist)
		b, err := json.Marshal(metadataSource{URL: a.URL, Upstream: fm.CoreMetadataUpstream, SHA256: fm.CoreMetadata, Published: vv.Published})
		return &formats.Rendered{Body: b, ContentType: "application/json"}, err
	})
	if err != nil {
		return nil, err
	}
	var src metadataSource
	if err := json.Unmarshal(doc.Body, &src); err != nil {
		return nil, err
	}
	return &src, nil
}

// upstreamMetadata reads {file URL}.metadata from the first external
// connection the walk reaches (cached like any upstream document, served
// stale when the upstream fails). It returns nil when that fails or the
// bytes do not match want, so the caller falls back to the wheel.
func (h *handler) upstreamMetadata(ctx context.Context, ref formats.RepoRef, fileURL, want string) []byte {
	g, err := h.res.Upstream(ctx, ref, "pypi")
	if err != nil {
		return nil
	}
	u, err := url.Parse(fileURL)
	if err != nil {
		return nil
	}
	u.Fragment, u.RawFragment = "", ""
	u.Path += ".metadata"
	if u.RawPath != "" {
		u.RawPath += ".metadata"
	}
	doc, err := g.Get(ctx, u.String(), "*/*")
	if err != nil {
		return nil
	}
	if want != "" && sha256Hex(doc.Body) != want {
		return nil
	}
	return doc.Body
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// uploadTime formats t as PEP 700 does.
func uploadTime(t time.Time) string { return t.UTC().Format(uploadLayout) }
