package nuget

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/stockpile-proxy/stockpile/formats"
)

// handler serves one mounted repository group.
type handler struct {
	f   *Format
	res formats.Resolver
}

// docCacheControl: documents are revalidated on every use (cheap: the
// engine keeps them rendered and a matching If-None-Match gets a 304), so a
// push or an unlisting is seen at once; no-cache also keeps shared caches
// from reusing answers given to authenticated requests.
const docCacheControl = "no-cache"

var errNoRoute = fmt.Errorf("%w: nuget: no such endpoint (the service index is at v3/index.json)", formats.ErrNotFound)

// segments splits the path below the repository into unescaped segments,
// dropping empty ones (duplicate and trailing slashes).
func segments(rest string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(rest, "/") {
		if s == "" {
			continue
		}
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, fmt.Errorf("%w: nuget: bad path segment %q", formats.ErrInvalid, formats.Clip(s))
		}
		out = append(out, u)
	}
	return out, nil
}

// serve dispatches every request of the group:
//
//	v3/index.json                                 service index
//	v3/flatcontainer/{id}/index.json              version list
//	v3/flatcontainer/{id}/{ver}/{id}.{ver}.nupkg  package
//	v3/flatcontainer/{id}/{ver}/{id}.nuspec       manifest
//	v3/registration[-semver2]/{id}/index.json     registration index
//	v3/registration[-semver2]/{id}/page/{lower}/{upper}.json
//	v3/registration[-semver2]/{id}/{ver}.json     registration leaf
//	v3/catalog/{id}/{ver}.json                    catalog entry
//	v3/query, v3/autocomplete                     search
//	v3/package[/{id}/{ver}], api/v2/package[/{id}/{ver}]  push, delete, relist
func (h *handler) serve(c echo.Context) error {
	segs, err := segments(c.Param("*"))
	if err != nil {
		return err
	}
	m := c.Request().Method
	get := m == http.MethodGet || m == http.MethodHead
	if len(segs) >= 3 && segs[0] == "api" && segs[1] == "v2" && segs[2] == "package" {
		return h.publish(c, segs[3:])
	}
	if len(segs) < 2 || segs[0] != "v3" {
		return errNoRoute
	}
	rest := segs[2:]
	switch segs[1] {
	case "package":
		return h.publish(c, rest)
	}
	if !get {
		return formats.MethodNotAllowed(c, "nuget", "GET", "HEAD")
	}
	switch segs[1] {
	case "index.json":
		if len(rest) == 0 {
			return h.serviceIndex(c)
		}
	case "flatcontainer":
		return h.flat(c, rest)
	case hiveSemVer1.path:
		return h.registration(c, hiveSemVer1, rest)
	case hiveSemVer2.path:
		return h.registration(c, hiveSemVer2, rest)
	case "catalog":
		return h.catalog(c, rest)
	case "query":
		if len(rest) == 0 {
			return h.search(c)
		}
	case "autocomplete":
		if len(rest) == 0 {
			return h.autocomplete(c)
		}
	}
	return errNoRoute
}

// serviceIndex serves v3/index.json.
func (h *handler) serviceIndex(c echo.Context) error {
	body, err := renderServiceIndex(formats.RepoFrom(c).Base)
	if err != nil {
		return err
	}
	return formats.ServeRendered(c, withETag(&formats.Rendered{Body: body, ContentType: mediaJSON}), docCacheControl, "")
}

// packageOf checks an id from a path.
func packageOf(id string) (formats.Package, error) {
	if err := validID(id); err != nil {
		return formats.Package{}, formats.RefusedName(id, maxIDLen, fmt.Errorf("nuget: %v", err))
	}
	return pkg(id), nil
}

// packageRoute reads the package id that starts a path naming more below
// it ({id}/...), and returns it with the request and its repository.
func packageRoute(c echo.Context, rest []string) (formats.Package, *http.Request, formats.RepoRef, error) {
	if len(rest) < 2 {
		return formats.Package{}, nil, formats.RepoRef{}, errNoRoute
	}
	p, err := packageOf(rest[0])
	return p, c.Request(), formats.RepoFrom(c), err
}

// keyOf normalises a version from a path.
func keyOf(s string) (string, error) {
	key, err := normalizeVersion(s)
	if err != nil {
		return "", fmt.Errorf("%w: nuget: %v", formats.ErrNotFound, err)
	}
	return key, nil
}

// flat serves the flat container (PackageBaseAddress).
func (h *handler) flat(c echo.Context, rest []string) error {
	p, req, ref, err := packageRoute(c, rest)
	if err != nil {
		return err
	}
	if len(rest) == 2 && rest[1] == "index.json" {
		doc, err := h.res.Render(req.Context(), ref, p, "flat\x00"+ref.Base, renderFlatIndex)
		if err != nil {
			return err
		}
		return formats.ServeRendered(c, doc, docCacheControl, "")
	}
	if len(rest) != 3 {
		return errNoRoute
	}
	key, err := keyOf(rest[1])
	if err != nil {
		return err
	}
	file := strings.ToLower(rest[2])
	switch file {
	case nupkgName(p.Name, key), nupkgName(p.Name, strings.ToLower(rest[1])):
		c.Response().Header().Set("Content-Type", "application/octet-stream")
		return h.res.ServeAsset(c.Response(), req, ref, p, key, nupkgName(p.Name, key))
	case p.Name + ".nuspec":
		return h.nuspec(c, p, key)
	}
	return errNoRoute
}

// nuspec serves the .nuspec entry of a package, byte for byte.
func (h *handler) nuspec(c echo.Context, p formats.Package, key string) error {
	ctx := c.Request().Context()
	content, err := h.res.Open(ctx, formats.RepoFrom(c), p, key, nupkgName(p.Name, key))
	if err != nil {
		return err
	}
	defer content.Close()
	raw, err := readStoredEntry(content, func(zr *zip.Reader) *zip.File { return findNuspec(zr) }, h.f.opts.MaxNuspec)
	if err != nil {
		return err
	}
	doc := withETag(&formats.Rendered{Body: raw, ContentType: "text/xml"})
	return formats.ServeRendered(c, doc, "public, max-age=31536000, immutable", "")
}

// readStoredEntry reads one entry of a stored package.
func readStoredEntry(content formats.Content, pick func(*zip.Reader) *zip.File, limit int64) ([]byte, error) {
	if err := formats.CheckZipDirectory(content, content.Sums().Size, formats.MaxArchiveEntries, formats.MaxZipDirectory); err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(content, content.Sums().Size)
	if err != nil {
		return nil, fmt.Errorf("%w: nuget: the stored package is not a zip archive: %v", formats.ErrIntegrity, err)
	}
	zf := pick(zr)
	if zf == nil {
		return nil, fmt.Errorf("%w: nuget: the package has no such entry", formats.ErrNotFound)
	}
	return readEntry(zf, limit)
}

// registration serves a registration hive.
func (h *handler) registration(c echo.Context, hv hive, rest []string) error {
	p, req, ref, err := packageRoute(c, rest)
	if err != nil {
		return err
	}
	var variant string
	var render func(*formats.View) (*formats.Rendered, error)
	switch {
	case len(rest) == 2 && rest[1] == "index.json":
		variant = "reg-index\x00" + hv.path
		render = func(v *formats.View) (*formats.Rendered, error) { return h.f.renderRegIndex(ref.Base, hv, v) }
	case len(rest) == 4 && rest[1] == "page" && strings.HasSuffix(rest[3], ".json"):
		lower, err := parseVersion(rest[2])
		if err != nil {
			return fmt.Errorf("%w: nuget: %v", formats.ErrNotFound, err)
		}
		upper, err := parseVersion(strings.TrimSuffix(rest[3], ".json"))
		if err != nil {
			return fmt.Errorf("%w: nuget: %v", formats.ErrNotFound, err)
		}
		variant = "reg-page\x00" + hv.path + "\x00" + lower.Key() + "\x00" + upper.Key()
		render = func(v *formats.View) (*formats.Rendered, error) {
			return h.f.renderRegPage(ref.Base, hv, lower, upper, v)
		}
	case len(rest) == 2 && strings.HasSuffix(rest[1], ".json"):
		key, err := keyOf(strings.TrimSuffix(rest[1], ".json"))
		if err != nil {
			return err
		}
		variant = "reg-leaf\x00" + hv.path + "\x00" + key
		render = func(v *formats.View) (*formats.Rendered, error) { return renderRegLeaf(ref.Base, hv, key, v) }
	default:
		return errNoRoute
	}
	doc, err := h.res.Render(req.Context(), ref, p, variant+"\x00"+ref.Base, render)
	if err != nil {
		return err
	}
	return formats.ServeRendered(c, doc, docCacheControl, "")
}

// catalog serves v3/catalog/{id}/{ver}.json.
func (h *handler) catalog(c echo.Context, rest []string) error {
	if len(rest) != 2 || !strings.HasSuffix(rest[1], ".json") {
		return errNoRoute
	}
	p, err := packageOf(rest[0])
	if err != nil {
		return err
	}
	key, err := keyOf(strings.TrimSuffix(rest[1], ".json"))
	if err != nil {
		return err
	}
	ref := formats.RepoFrom(c)
	doc, err := h.res.Render(c.Request().Context(), ref, p, "catalog\x00"+key+"\x00"+ref.Base, func(v *formats.View) (*formats.Rendered, error) {
		return renderCatalogEntry(ref.Base, key, v)
	})
	if err != nil {
		return err
	}
	return formats.ServeRendered(c, doc, docCacheControl, "")
}

// withETag gives a document built outside the engine its validator.
func withETag(doc *formats.Rendered) *formats.Rendered {
	sum := sha256.Sum256(doc.Body)
	doc.ETag = `"` + hex.EncodeToString(sum[:16]) + `"`
	return doc
}

// acceptsGzip reports whether Accept-Encoding allows gzip.
func acceptsGzip(header []string) bool {
	ok := false
	for _, h := range header {
		for _, part := range strings.Split(h, ",") {
			enc, q := codingQ(part)
			switch enc {
			case "gzip", "x-gzip":
				return q > 0
			case "*":
				ok = q > 0
			}
		}
	}
	return ok
}

// codingQ returns the lower-cased coding of one Accept-Encoding element and
// its q (1 when absent or malformed).
func codingQ(s string) (string, float64) {
	parts := strings.Split(s, ";")
	enc := strings.ToLower(strings.TrimSpace(parts[0]))
	q := 1.0
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
				q = f
			}
		}
	}
	return enc, q
}
